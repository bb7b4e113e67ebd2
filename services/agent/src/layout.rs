//! The deployment root, laid out as CodeDeploy's agent lays it out, so operators find things
//! where they expect them:
//!
//! ```text
//! <root>/deployment-instructions/<group-id>_last_successful_install   which revision Install last put in place
//! <root>/deployment-instructions/<group-id>_most_recent_install       which revision was last downloaded
//! <root>/deployment-instructions/<group-id>-cleanup                   what that Install wrote (removed by the next)
//! <root>/<group-id>/<deployment-id>/deployment-archive/               the unpacked revision
//! <root>/<group-id>/<deployment-id>/logs/scripts.log                  this deployment's hook output
//! <root>/ferry/commands/<command-id>.json                             command results, kept until acknowledged
//! ```
//!
//! Ids come from the server and become path components, so each is checked first: a
//! server (or a man in the middle) must not be able to name `../../etc`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::outcome::Failure;

/// Checks that `id` is safe as one path component: 1–128 of `A-Z a-z 0-9 - _ .`, not `.`/`..`.
pub fn check_id(kind: &str, id: &str) -> Result<(), Failure> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Failure::unknown(format!(
            "{kind} {id:?} is not a valid id (1-128 letters, digits, '-', '_' or '.')"
        )))
    }
}

#[derive(Clone, Debug)]
pub struct DeploymentRoot {
    root: PathBuf,
}

/// Which revision a deployment group has in place (the contents of the instruction files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    pub deployment_id: String,
    /// The AppSpec's file name in that revision.
    pub app_spec_file_name: String,
}

impl DeploymentRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn instructions_dir(&self) -> PathBuf {
        self.root.join("deployment-instructions")
    }

    pub fn cleanup_record(&self, group_id: &str) -> PathBuf {
        self.instructions_dir().join(format!("{group_id}-cleanup"))
    }

    fn last_successful_file(&self, group_id: &str) -> PathBuf {
        self.instructions_dir()
            .join(format!("{group_id}_last_successful_install"))
    }

    fn most_recent_file(&self, group_id: &str) -> PathBuf {
        self.instructions_dir()
            .join(format!("{group_id}_most_recent_install"))
    }

    pub fn group_dir(&self, group_id: &str) -> PathBuf {
        self.root.join(group_id)
    }

    pub fn deployment_dir(&self, group_id: &str, deployment_id: &str) -> PathBuf {
        self.group_dir(group_id).join(deployment_id)
    }

    pub fn archive_dir(&self, group_id: &str, deployment_id: &str) -> PathBuf {
        self.deployment_dir(group_id, deployment_id)
            .join("deployment-archive")
    }

    pub fn script_log(&self, group_id: &str, deployment_id: &str) -> PathBuf {
        self.deployment_dir(group_id, deployment_id)
            .join("logs")
            .join("scripts.log")
    }

    pub fn commands_dir(&self) -> PathBuf {
        self.root.join("ferry").join("commands")
    }

    pub fn last_successful(&self, group_id: &str) -> io::Result<Option<InstallRecord>> {
        read_record(&self.last_successful_file(group_id))
    }

    pub fn set_last_successful(&self, group_id: &str, record: &InstallRecord) -> io::Result<()> {
        atomic::write_json(&self.last_successful_file(group_id), record)
    }

    pub fn most_recent(&self, group_id: &str) -> io::Result<Option<InstallRecord>> {
        read_record(&self.most_recent_file(group_id))
    }

    pub fn set_most_recent(&self, group_id: &str, record: &InstallRecord) -> io::Result<()> {
        atomic::write_json(&self.most_recent_file(group_id), record)
    }

    /// Removes the group's oldest revisions so that at most `keep` remain, counting `current`
    /// (about to be downloaded). The last successful revision and `current` are never removed.
    /// Returns the deployment ids removed.
    pub fn prune(&self, group_id: &str, current: &str, keep: usize) -> io::Result<Vec<String>> {
        let protected = self.last_successful(group_id)?.map(|r| r.deployment_id);
        let mut revisions = Vec::new();
        let entries = match fs::read_dir(self.group_dir(group_id)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == current || !entry.file_type()?.is_dir() {
                continue;
            }
            revisions.push((entry.metadata()?.modified()?, name));
        }
        // Newest first; the current revision takes one of the `keep` places.
        revisions.sort_by(|a, b| b.cmp(a));
        let mut removed = Vec::new();
        for (_, name) in revisions.into_iter().skip(keep.saturating_sub(1)) {
            if Some(&name) == protected.as_ref() {
                continue;
            }
            fs::remove_dir_all(self.group_dir(group_id).join(&name))?;
            removed.push(name);
        }
        Ok(removed)
    }
}

fn read_record(path: &Path) -> io::Result<Option<InstallRecord>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_leave_the_root_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "d-1\0",
            &"x".repeat(129),
        ] {
            assert!(check_id("deployment id", bad).is_err(), "{bad:?}");
        }
        for good in ["d-ABC123", "0f7e9d1c-2b3a", "group_1.v2"] {
            assert!(check_id("deployment id", good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn prune_keeps_the_newest_and_the_last_successful() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeploymentRoot::new(dir.path());
        for (i, id) in ["d-1", "d-2", "d-3", "d-4", "d-5"].iter().enumerate() {
            let path = root.archive_dir("g", id);
            fs::create_dir_all(&path).unwrap();
            let time = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_000_000 + i as u64);
            fs::File::open(root.deployment_dir("g", id))
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
        let record = InstallRecord {
            deployment_id: "d-1".into(),
            app_spec_file_name: "appspec.yml".into(),
        };
        root.set_last_successful("g", &record).unwrap();
        let mut removed = root.prune("g", "d-6", 3).unwrap();
        removed.sort();
        assert_eq!(removed, vec!["d-2", "d-3"]);
        for kept in ["d-1", "d-4", "d-5"] {
            assert!(root.deployment_dir("g", kept).exists(), "{kept}");
        }
        assert_eq!(root.last_successful("g").unwrap(), Some(record));
    }
}
