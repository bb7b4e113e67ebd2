//! The cleanup record: what an install wrote, so the next install of the group can remove it.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::io_failure;
use crate::atomic;
use crate::outcome::Failure;

/// The `version` of the records this agent writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// The JSON of `<group-id>-cleanup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRecord {
    pub version: u32,
    /// Files and symlinks the install writes; the next install deletes them.
    pub files: Vec<PathBuf>,
    /// Directories the install creates (or keeps from the install before it); the next
    /// install removes them, deepest first, when they are empty.
    pub directories: Vec<PathBuf>,
}

impl CleanupRecord {
    /// The record at `path`, `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, Failure> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_failure("cannot read the cleanup record", path, &e)),
        };
        let unusable = |why: String| {
            Failure::unknown(format!(
                "the cleanup record {} is unusable ({why}): delete it to install anyway (what it \
                 lists is then left in place)",
                path.display()
            ))
        };
        let record: Self = serde_json::from_slice(&bytes)
            .map_err(|e| unusable(format!("not ferry's JSON: {e}")))?;
        if record.version != RECORD_VERSION {
            return Err(unusable(format!(
                "version {}, this agent knows {RECORD_VERSION}",
                record.version
            )));
        }
        Ok(Some(record))
    }

    /// Writes the record atomically (creating its directory).
    pub fn write(&self, path: &Path) -> Result<(), Failure> {
        atomic::write_json(path, self)
            .map_err(|e| io_failure("cannot write the cleanup record", path, &e))
    }

    fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.iter().rev().filter(|p| absolute(p))
    }

    /// Deepest first, so children go before their parents whatever the recorded order.
    fn directories(&self) -> Vec<&PathBuf> {
        let mut dirs: Vec<&PathBuf> = self.directories.iter().filter(|p| absolute(p)).collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs
    }

    /// What [`Self::remove`] would delete now, in order, without deleting anything.
    pub fn would_remove(&self) -> Vec<PathBuf> {
        let mut gone: Vec<PathBuf> = Vec::new();
        let mut set: BTreeSet<PathBuf> = BTreeSet::new();
        for file in self.files() {
            if fs::symlink_metadata(file).is_ok_and(|m| !m.is_dir()) && set.insert(file.clone()) {
                gone.push(file.clone());
            }
        }
        for dir in self.directories() {
            let is_dir = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
            let empties = is_dir
                && fs::read_dir(dir).is_ok_and(|entries| {
                    entries
                        .into_iter()
                        .all(|e| e.is_ok_and(|e| set.contains(&e.path())))
                });
            if empties && set.insert(dir.clone()) {
                gone.push(dir.clone());
            }
        }
        gone
    }

    /// Deletes the recorded files and symlinks, then removes the recorded directories that
    /// are empty. Entries already gone are ignored. Returns how many entries were removed.
    pub fn remove(&self) -> Result<usize, Failure> {
        let mut removed = 0;
        for file in self.files() {
            match fs::symlink_metadata(file) {
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    continue;
                }
                Err(e) => return Err(io_failure("cannot look at", file, &e)),
                Ok(meta) if meta.is_dir() => {
                    tracing::warn!(path = %file.display(), "an installed file is now a directory; left in place");
                    continue;
                }
                Ok(_) => {}
            }
            match fs::remove_file(file) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(io_failure(
                        "cannot delete the previous install's file",
                        file,
                        &e,
                    ));
                }
            }
        }
        for dir in self.directories() {
            match fs::remove_dir(dir) {
                Ok(()) => removed += 1,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::NotFound
                            | ErrorKind::DirectoryNotEmpty
                            | ErrorKind::NotADirectory
                    ) =>
                {
                    tracing::debug!(path = %dir.display(), "previous install's directory kept: {e}");
                }
                Err(e) => {
                    return Err(io_failure(
                        "cannot remove the previous install's directory",
                        dir,
                        &e,
                    ));
                }
            }
        }
        Ok(removed)
    }
}

/// Deletes the record file; a missing one is fine.
pub(super) fn delete(path: &Path) -> Result<(), Failure> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(io_failure("cannot delete the cleanup record", path, &e))
        }
        _ => Ok(()),
    }
}

/// A record is only trusted with absolute paths: a relative one would be resolved against
/// the agent's working directory.
fn absolute(path: &Path) -> bool {
    let ok = path.is_absolute();
    if !ok {
        tracing::warn!(path = %path.display(), "cleanup record entry is not absolute; ignored");
    }
    ok
}
