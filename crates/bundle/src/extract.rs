//! Extraction: a staging tree inside the destination, then one move into place.
//!
//! Layout while extracting (`dest` was empty or did not exist):
//!
//! ```text
//! dest/.ferry-staging/root/    the archive's tree, exactly as the archive lays it out
//! dest/.ferry-staging/blobs/   zip only: entry data, numbered, until the central directory
//!                              says what each entry is
//! ```
//!
//! Every entry is admitted by the [`Index`] before it touches the disk, so nothing is ever
//! created through a symlink or outside `root`; files are opened with `O_CREAT|O_EXCL`, which
//! also refuses a symlink in the last component. Once the whole archive has been read, the
//! index decides whether a single top-level folder is stripped, and the children of `root`
//! (or of `root/<folder>`) are renamed into `dest` — renames within one directory tree, so
//! nothing is copied twice. Staging inside `dest` (rather than beside it) keeps every write,
//! even a temporary one, inside the destination and on its file system. A bundle that has a
//! `.ferry-staging` of its own still extracts: the staging directory is renamed aside first.
//! On any error, everything inside `dest` is removed, and `dest` itself too if this call
//! created it.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::index::{Index, Item, Kind};
use crate::limits::Budget;
use crate::path::MAX_NAME_BYTES;
use crate::zip_walk::{self, ZipItem, ZipKind};
use crate::{BundleError, BundleType, Extracted, Limits, LinkProblem, tar_walk};

const STAGING: &str = ".ferry-staging";

/// Default modes when the archive has none (zips made on Windows).
const DEFAULT_FILE_MODE: u32 = 0o644;
const DEFAULT_DIR_MODE: u32 = 0o755;

pub(crate) fn extract(
    reader: impl Read,
    kind: BundleType,
    dest: &Path,
    limits: &Limits,
) -> Result<Extracted, BundleError> {
    let created = prepare_dest(dest)?;
    let result = extract_into(reader, kind, dest, limits);
    if result.is_err() {
        clear(dest, created);
    }
    result
}

/// Checks `dest` is an empty directory, or creates it. Returns whether it was created.
fn prepare_dest(dest: &Path) -> Result<bool, BundleError> {
    let bad = |reason| BundleError::BadDestination {
        path: dest.to_path_buf(),
        reason,
    };
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => {
            let mut entries = fs::read_dir(dest).map_err(BundleError::io(dest))?;
            match entries.next() {
                None => Ok(false),
                Some(_) => Err(bad("is not empty")),
            }
        }
        Ok(_) => Err(bad("is not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir(dest).map_err(BundleError::io(dest))?;
            Ok(true)
        }
        Err(e) => Err(BundleError::io(dest)(e)),
    }
}

/// Best-effort removal of everything this call put into `dest`, which was empty before.
fn clear(dest: &Path, created: bool) {
    if let Ok(entries) = fs::read_dir(dest) {
        for entry in entries.flatten() {
            let path = entry.path();
            // `file_type` does not follow symlinks, and neither does `remove_dir_all`.
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            };
        }
    }
    if created {
        let _ = fs::remove_dir(dest);
    }
}

fn extract_into(
    reader: impl Read,
    kind: BundleType,
    dest: &Path,
    limits: &Limits,
) -> Result<Extracted, BundleError> {
    let staging = dest.join(STAGING);
    let mut tree = Tree::new(&staging, limits)?;
    let mut budget = Budget::new(limits, kind);
    let reader = budget.wrap(reader);
    match kind {
        BundleType::Tar => tar_walk::walk(reader, &mut budget, &mut |item, data, budget| {
            tree.apply(&item, Source::Stream(data), budget)
        })?,
        BundleType::Tgz => {
            let reader = MultiGzDecoder::new(reader);
            tar_walk::walk(reader, &mut budget, &mut |item, data, budget| {
                tree.apply(&item, Source::Stream(data), budget)
            })?;
        }
        BundleType::Zip => {
            let items =
                zip_walk::walk(reader, &mut budget, &mut |i, raw, _, dir, data, budget| {
                    if dir {
                        Ok(())
                    } else {
                        tree.stage(i, raw, data, budget)
                    }
                })?;
            for (i, item) in items.into_iter().enumerate() {
                tree.apply_zip(i, item, &mut budget)?;
            }
        }
    }
    let strip = tree.index.finish()?;
    publish(dest, &staging, strip.as_deref())?;
    Ok(Extracted {
        files: tree.files,
        bytes: tree.bytes,
        stripped_prefix: strip,
    })
}

/// Where a file's data comes from.
enum Source<'a> {
    Stream(&'a mut dyn Read),
    Staged(PathBuf),
}

struct Tree {
    root: PathBuf,
    blobs: PathBuf,
    index: Index,
    files: u64,
    bytes: u64,
}

impl Tree {
    fn new(staging: &Path, limits: &Limits) -> Result<Self, BundleError> {
        let root = staging.join("root");
        let blobs = staging.join("blobs");
        for dir in [staging, &root, &blobs] {
            fs::create_dir(dir).map_err(BundleError::io(dir))?;
        }
        Ok(Self {
            root,
            blobs,
            index: Index::new(limits.max_entries),
            files: 0,
            bytes: 0,
        })
    }

    /// Zip phase 1: keeps a non-directory entry's data as blob number `i`.
    fn stage(
        &mut self,
        i: usize,
        raw: &str,
        data: &mut dyn Read,
        budget: &mut Budget,
    ) -> Result<(), BundleError> {
        let blob = self.blobs.join(i.to_string());
        let mut file = create_file(&blob)?;
        let limit = budget.limits().max_file_bytes;
        budget.copy(raw, data, &mut file, &blob, limit)?;
        Ok(())
    }

    /// Zip phase 2: replays entry `i` now that its kind and mode are known.
    fn apply_zip(
        &mut self,
        i: usize,
        item: ZipItem,
        budget: &mut Budget,
    ) -> Result<(), BundleError> {
        let blob = self.blobs.join(i.to_string());
        let kind = match item.kind {
            ZipKind::Dir => Kind::Dir,
            ZipKind::File => Kind::File,
            ZipKind::Symlink => Kind::Symlink(read_link_blob(&blob, &item.raw)?),
        };
        let item = Item {
            raw: item.raw,
            path: item.path,
            kind,
            mode: item.mode,
        };
        self.apply(&item, Source::Staged(blob), budget)
    }

    fn apply(
        &mut self,
        item: &Item,
        source: Source<'_>,
        budget: &mut Budget,
    ) -> Result<(), BundleError> {
        let Some(admitted) = self.index.admit(item)? else {
            return Ok(());
        };
        for &n in &admitted.new_parents {
            let dir = item.path.prefix_under(&self.root, n);
            fs::create_dir(&dir).map_err(BundleError::io(&dir))?;
            set_mode(&dir, DEFAULT_DIR_MODE)?;
        }
        let dst = item.path.under(&self.root);
        match &item.kind {
            Kind::Dir => {
                if !admitted.existed {
                    fs::create_dir(&dst).map_err(BundleError::io(&dst))?;
                }
                // Owner keeps rwx on every directory, so the tree can always be cleaned up.
                set_mode(
                    &dst,
                    item.mode.map_or(DEFAULT_DIR_MODE, |m| m & 0o777 | 0o700),
                )?;
            }
            Kind::File => {
                // Permission bits only: never setuid, setgid or sticky.
                let mode =
                    Permissions::from_mode(item.mode.map_or(DEFAULT_FILE_MODE, |m| m & 0o777));
                match source {
                    Source::Stream(data) => {
                        let mut file = create_file(&dst)?;
                        let limit = budget.limits().max_file_bytes;
                        self.bytes += budget.copy(&item.raw, data, &mut file, &dst, limit)?;
                        file.set_permissions(mode).map_err(BundleError::io(&dst))?;
                    }
                    Source::Staged(blob) => {
                        let file = File::open(&blob).map_err(BundleError::io(&blob))?;
                        self.bytes += file.metadata().map_err(BundleError::io(&blob))?.len();
                        file.set_permissions(mode).map_err(BundleError::io(&blob))?;
                        fs::rename(&blob, &dst).map_err(BundleError::io(&dst))?;
                    }
                }
                self.files += 1;
            }
            Kind::Symlink(target) => {
                std::os::unix::fs::symlink(target, &dst).map_err(BundleError::io(&dst))?;
            }
            Kind::HardLink(_) => {
                if let Some(to) = &admitted.link_to {
                    let src = to.under(&self.root);
                    fs::hard_link(&src, &dst).map_err(BundleError::io(&dst))?;
                    self.files += 1;
                }
            }
        }
        Ok(())
    }
}

fn create_file(path: &Path) -> Result<File, BundleError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(BundleError::io(path))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), BundleError> {
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(BundleError::io(path))
}

/// A zip symlink's target is its data.
fn read_link_blob(blob: &Path, raw: &str) -> Result<String, BundleError> {
    let file = File::open(blob).map_err(BundleError::io(blob))?;
    let mut bytes = Vec::new();
    file.take(MAX_NAME_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(BundleError::io(blob))?;
    let refuse = |target: &[u8], problem| BundleError::UnsafeSymlink {
        entry: raw.to_owned(),
        target: String::from_utf8_lossy(target).into_owned(),
        problem,
    };
    if bytes.len() > MAX_NAME_BYTES {
        return Err(refuse(&bytes[..64], LinkProblem::TooLong));
    }
    String::from_utf8(bytes).map_err(|e| {
        refuse(
            e.as_bytes(),
            LinkProblem::BadTarget(crate::PathProblem::NotUtf8),
        )
    })
}

/// Moves the content root's children into `dest` and removes the staging directory.
fn publish(dest: &Path, staging: &Path, strip: Option<&str>) -> Result<(), BundleError> {
    let content_of = |staging: &Path| {
        let root = staging.join("root");
        strip.map_or_else(|| root.clone(), |top| root.join(top))
    };
    let names = child_names(&content_of(staging))?;
    // The bundle may itself contain a `.ferry-staging`: move the staging directory aside.
    let mut staging = staging.to_path_buf();
    let mut n = 0;
    while names
        .iter()
        .any(|c| Some(c.as_os_str()) == staging.file_name())
    {
        n += 1;
        let aside = dest.join(format!("{STAGING}.{n}"));
        fs::rename(&staging, &aside).map_err(BundleError::io(&aside))?;
        staging = aside;
    }
    let content = content_of(&staging);
    for name in names {
        let to = dest.join(&name);
        fs::rename(content.join(&name), &to).map_err(BundleError::io(&to))?;
    }
    fs::remove_dir_all(&staging).map_err(BundleError::io(&staging))
}

fn child_names(dir: &Path) -> Result<Vec<OsString>, BundleError> {
    fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
        .map_err(BundleError::io(dir))
}
