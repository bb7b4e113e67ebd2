//! What an install does, decided before anything is touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ferry_appspec::{FileExistsBehavior, FileMapping, ObjectType};

use super::perms::{self, PermissionPlan};
use super::record::{CleanupRecord, RECORD_VERSION};
use super::{InstallRequest, Tools, io_failure, reroot};
use crate::outcome::Failure;

/// What a bundle entry is copied as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    /// Copied as a symlink with the same target, never followed.
    Symlink,
}

/// One file or symlink to copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCopy {
    /// In the bundle.
    pub source: PathBuf,
    /// On the host (re-rooted).
    pub destination: PathBuf,
    pub kind: EntryKind,
    /// An existing file is replaced (`OVERWRITE`).
    pub replaces: bool,
    /// The `files` entry (index) it comes from; the last one when several write it.
    pub mapping: usize,
}

/// What an install does, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub bundle_root: PathBuf,
    pub file_exists_behavior: FileExistsBehavior,
    /// What removing the previous install deletes (files, then directories).
    pub previous: Vec<PathBuf>,
    /// Directories to create, parents first.
    pub directories: Vec<PathBuf>,
    /// Directories earlier installs of the group created that outlive the previous
    /// install's removal (they hold other files): recorded again, so they go once empty.
    pub adopted: Vec<PathBuf>,
    pub copies: Vec<FileCopy>,
    /// Existing files kept by `RETAIN`.
    pub retained: Vec<PathBuf>,
    pub permissions: Vec<PermissionPlan>,
}

impl Plan {
    /// The cleanup record of this install.
    pub fn record(&self) -> CleanupRecord {
        CleanupRecord {
            version: RECORD_VERSION,
            files: self.copies.iter().map(|c| c.destination.clone()).collect(),
            directories: self
                .adopted
                .iter()
                .chain(&self.directories)
                .cloned()
                .collect(),
        }
    }
}

/// The plan of `req`. With `simulate_removal`, paths the previous install's removal would
/// delete count as absent (for [`super::plan`] and the check before anything is removed).
pub(super) fn build(
    req: &InstallRequest,
    tools: &Tools,
    previous: Option<&CleanupRecord>,
    simulate_removal: bool,
) -> Result<Plan, Failure> {
    let removal = match (previous, simulate_removal) {
        (Some(record), true) => record.would_remove(),
        _ => Vec::new(),
    };
    let mut planner = Planner {
        behavior: req.file_exists_behavior(),
        gone: removal.iter().cloned().collect(),
        nodes: BTreeMap::new(),
        plan: Plan {
            bundle_root: req.bundle_root.to_path_buf(),
            file_exists_behavior: req.file_exists_behavior(),
            previous: removal,
            directories: Vec::new(),
            adopted: Vec::new(),
            copies: Vec::new(),
            retained: Vec::new(),
            permissions: Vec::new(),
        },
    };
    for (i, mapping) in req.spec.files.iter().enumerate() {
        planner.mapping(i, mapping, req)?;
    }
    let Planner {
        mut plan,
        nodes,
        gone,
        ..
    } = planner;
    for dir in previous.iter().flat_map(|r| &r.directories) {
        let survives = dir.is_absolute()
            && !gone.contains(dir)
            && fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
        if survives && !plan.adopted.contains(dir) && !plan.directories.contains(dir) {
            plan.adopted.push(dir.clone());
        }
    }
    // What permissions apply to: everything this install copies or creates (symlinks have
    // no permissions of their own), and the adopted directories it puts files in.
    let used = plan
        .adopted
        .iter()
        .filter(|d| matches!(nodes.get(*d), Some(Node::Dir)));
    let files = plan.copies.iter().filter(|c| c.kind == EntryKind::File);
    let installed: BTreeMap<PathBuf, ObjectType> = plan
        .directories
        .iter()
        .chain(used)
        .map(|d| (d.clone(), ObjectType::Directory))
        .chain(files.map(|c| (c.destination.clone(), ObjectType::File)))
        .collect();
    plan.permissions = perms::plan(req, tools, &installed)?;
    Ok(plan)
}

/// What a path is, in the plan so far.
enum Node {
    Dir,
    /// Index in `copies`.
    File(usize),
    Retained,
}

/// What a path is on the host, with the previous install's removal simulated.
enum OnDisk {
    Missing,
    Dir,
    Other,
}

struct Planner {
    behavior: FileExistsBehavior,
    gone: BTreeSet<PathBuf>,
    nodes: BTreeMap<PathBuf, Node>,
    plan: Plan,
}

impl Planner {
    fn mapping(&mut self, i: usize, m: &FileMapping, req: &InstallRequest) -> Result<(), Failure> {
        let relative = bundle_relative(&m.source).ok_or_else(|| {
            Failure::unknown(format!(
                "files[{i}]: source `{}` leaves the bundle",
                m.source
            ))
        })?;
        let source = req.bundle_root.join(&relative);
        let destination = reroot(req.install_root, &m.destination, "destination")?;
        // The bundle root may itself be a symlink; what is inside it is never followed.
        let meta = if relative.as_os_str().is_empty() {
            fs::metadata(&source)
        } else {
            fs::symlink_metadata(&source)
        };
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Err(Failure::unknown(format!(
                    "files[{i}]: source `{}` is not in the bundle ({} does not exist)",
                    m.source,
                    source.display()
                )));
            }
            Err(e) => return Err(io_failure("cannot read the bundle's", &source, &e)),
        };
        if meta.is_dir() {
            self.ensure_dir(&destination, i)?;
            return self.walk(&source, &destination, i);
        }
        let name = source.file_name().ok_or_else(|| {
            Failure::unknown(format!(
                "files[{i}]: source `{}` has no file name",
                m.source
            ))
        })?;
        let kind = entry_kind(&source, meta.file_type())?;
        self.place(source.clone(), destination.join(name), kind, i)
    }

    fn walk(&mut self, dir: &Path, destination: &Path, i: usize) -> Result<(), Failure> {
        let mut entries = fs::read_dir(dir)
            .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
            .map_err(|e| io_failure("cannot list the bundle's directory", dir, &e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let target = destination.join(entry.file_name());
            let file_type = entry
                .file_type()
                .map_err(|e| io_failure("cannot read the bundle's", &path, &e))?;
            if file_type.is_dir() {
                self.ensure_dir(&target, i)?;
                self.walk(&path, &target, i)?;
            } else {
                let kind = entry_kind(&path, file_type)?;
                self.place(path, target, kind, i)?;
            }
        }
        Ok(())
    }

    fn ensure_dir(&mut self, path: &Path, i: usize) -> Result<(), Failure> {
        match self.nodes.get(path) {
            Some(Node::Dir) => return Ok(()),
            Some(_) => {
                return Err(Failure::unknown(format!(
                    "files[{i}] needs a directory at {}, where an earlier files entry puts a file",
                    path.display()
                )));
            }
            None => {}
        }
        match self.on_disk(path, true)? {
            OnDisk::Dir => {}
            OnDisk::Other => {
                return Err(Failure::unknown(format!(
                    "files[{i}] needs a directory at {}, but a file is there",
                    path.display()
                )));
            }
            OnDisk::Missing => {
                if let Some(parent) = path.parent() {
                    self.ensure_dir(parent, i)?;
                }
                self.plan.directories.push(path.to_path_buf());
            }
        }
        self.nodes.insert(path.to_path_buf(), Node::Dir);
        Ok(())
    }

    fn place(
        &mut self,
        source: PathBuf,
        destination: PathBuf,
        kind: EntryKind,
        i: usize,
    ) -> Result<(), Failure> {
        if let Some(parent) = destination.parent() {
            self.ensure_dir(parent, i)?;
        }
        match self.nodes.get(&destination) {
            Some(Node::Dir) => {
                return Err(Failure::unknown(format!(
                    "files[{i}] puts a file at {}, where an earlier files entry puts a directory",
                    destination.display()
                )));
            }
            // Two entries writing the same file: the later one wins.
            Some(Node::File(at)) => {
                let copy = &mut self.plan.copies[*at];
                copy.source = source;
                copy.kind = kind;
                copy.mapping = i;
                return Ok(());
            }
            Some(Node::Retained) => return Ok(()),
            None => {}
        }
        let replaces = match self.on_disk(&destination, false)? {
            OnDisk::Missing => false,
            OnDisk::Dir => {
                return Err(Failure::unknown(format!(
                    "files[{i}] puts the file {} at {}, but a directory is there",
                    source.display(),
                    destination.display()
                )));
            }
            OnDisk::Other => match self.behavior {
                FileExistsBehavior::Disallow => {
                    return Err(Failure::unknown(format!(
                        "The deployment failed because a specified file already exists at this \
                         location: {}",
                        destination.display()
                    )));
                }
                FileExistsBehavior::Overwrite => true,
                FileExistsBehavior::Retain => {
                    self.plan.retained.push(destination.clone());
                    self.nodes.insert(destination, Node::Retained);
                    return Ok(());
                }
            },
        };
        self.nodes
            .insert(destination.clone(), Node::File(self.plan.copies.len()));
        self.plan.copies.push(FileCopy {
            source,
            destination,
            kind,
            replaces,
            mapping: i,
        });
        Ok(())
    }

    /// What `path` is; `follow` follows a symlink (a symlink to a directory is a directory
    /// to put files in, but a file to replace).
    fn on_disk(&self, path: &Path, follow: bool) -> Result<OnDisk, Failure> {
        if path.ancestors().any(|a| self.gone.contains(a)) {
            return Ok(OnDisk::Missing);
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            // An ancestor that is a file is reported when that ancestor is checked.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(OnDisk::Missing);
            }
            Err(e) => return Err(io_failure("cannot look at", path, &e)),
        };
        if meta.is_dir() {
            return Ok(OnDisk::Dir);
        }
        if follow && meta.file_type().is_symlink() && fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return Ok(OnDisk::Dir);
        }
        Ok(OnDisk::Other)
    }
}

fn entry_kind(path: &Path, file_type: fs::FileType) -> Result<EntryKind, Failure> {
    if file_type.is_symlink() {
        Ok(EntryKind::Symlink)
    } else if file_type.is_file() {
        Ok(EntryKind::File)
    } else {
        Err(Failure::unknown(format!(
            "{} in the bundle is neither a file, a directory nor a symlink",
            path.display()
        )))
    }
}

/// A `source` relative to the bundle root (empty for `/`), or `None` if it leaves it.
fn bundle_relative(source: &str) -> Option<PathBuf> {
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.iter().collect())
}
