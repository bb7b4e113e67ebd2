//! The Install lifecycle event: copy the revision's `files` onto the host and apply its
//! `permissions`, as CodeDeploy's agent does.
//!
//! # What CodeDeploy does
//!
//! 1. It first undoes the previous Install of the same deployment group, from the cleanup
//!    file it wrote then (`deployment-instructions/<group-id>-cleanup`): every file and
//!    symlink it installed is deleted, every directory it created is removed if empty, and
//!    entries already gone are ignored. The file is then deleted.
//! 2. Each `files` entry is copied in order. A `source` of `/` is the whole revision
//!    (`appspec.yml` included); a directory source has its *contents* copied into
//!    `destination`; a file source lands at `destination/<file name>`. Directories are
//!    created as needed, symlinks are copied as symlinks.
//! 3. A destination file that already exists is handled by `file_exists_behavior`, the
//!    AppSpec's value winning over the deployment's: `DISALLOW` fails the deployment,
//!    `OVERWRITE` replaces the file, `RETAIN` keeps it (and leaves it out of the cleanup
//!    record, so no later deployment deletes it).
//! 4. `permissions` are then applied to the objects the install copied or created: `object`
//!    itself when it is a file, else everything below it matching `pattern` and no `except`
//!    pattern, of the listed `type`s; `owner`/`group` (chown), `mode`, `acls` (setfacl) and
//!    the SELinux `context` (chcon).
//!
//! Every failure is reported as `UnknownError`, as CodeDeploy does for Install.
//!
//! # What ferry adds
//!
//! - `install_root`: every destination and permissions `object` can be re-rooted under a
//!   directory, so `ferry-agent local` and tests install without touching `/`.
//! - The new cleanup record (JSON, versioned) is written atomically *before* anything is
//!   copied and lists everything the install is about to create, so an install that crashes
//!   or fails half-way is still cleaned up by the next one.
//! - Everything that can be known in advance (a `DISALLOW` conflict, a missing source, an
//!   unknown owner, a missing `setfacl`) fails the event *before* the previous install is
//!   removed, so a failed Install leaves the host as it was.
//! - A directory an earlier install created that the removal keeps (someone else put a file
//!   in it) stays in the record, so a later install removes it once it is empty.
//! - [`plan`] shows what an install would do without touching anything.
//!
//! Patterns are matched against the path relative to `object`: `*` and `?` stay within one
//! path segment (so `*.sh` matches the files directly in `object`, as CodeDeploy's simple
//! globs do) and `**` spans any number of segments (`**/*.sh`). Permissions are not applied
//! to symlinks, which have none of their own.

mod display;
mod execute;
mod glob;
mod perms;
mod plan;
mod record;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use ferry_appspec::{FileExistsBehavior, ServerSpec};

use crate::outcome::Failure;
use crate::users::Accounts;

pub use glob::matches as glob_matches;
pub use perms::{PermissionPlan, selinux_range};
pub use plan::{EntryKind, FileCopy, Plan};
pub use record::{CleanupRecord, RECORD_VERSION};

/// One Install event on this host.
#[derive(Clone, Copy, Debug)]
pub struct InstallRequest<'a> {
    pub spec: &'a ServerSpec,
    /// The unpacked revision (deployment-archive dir).
    pub bundle_root: &'a Path,
    /// Every absolute `destination` (and permissions `object`) is re-rooted under this
    /// directory; `None` = `/`. E.g. install_root=/tmp/x, destination=/var/www → /tmp/x/var/www.
    pub install_root: Option<&'a Path>,
    /// The deployment's choice; the AppSpec's own `file_exists_behavior` wins over it.
    pub deployment_file_exists_behavior: FileExistsBehavior,
    /// The group's cleanup record: what the previous Install of this deployment group wrote
    /// (CodeDeploy keeps `<root>/deployment-instructions/<group-id>-cleanup`).
    pub cleanup_record: &'a Path,
    pub accounts: &'a Accounts,
}

/// Where the external tools permissions need (`setfacl`, `chcon`) are looked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tools {
    /// Directories in `PATH` syntax; `None` = the agent's own `PATH`. Tests point this at
    /// their own directories instead of changing the process environment.
    pub search_path: Option<OsString>,
}

impl InstallRequest<'_> {
    /// The behavior in force: the AppSpec's, else the deployment's.
    pub fn file_exists_behavior(&self) -> FileExistsBehavior {
        self.spec
            .file_exists_behavior
            .unwrap_or(self.deployment_file_exists_behavior)
    }
}

/// What an install did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Installed {
    /// Files and symlinks written.
    pub files_copied: usize,
    pub directories_created: usize,
    /// Existing files kept in place by `RETAIN`.
    pub files_retained: usize,
    /// (permissions entry, object) pairs applied.
    pub permissions_applied: usize,
    /// Files, symlinks and directories of the previous install removed.
    pub previous_removed: usize,
}

impl fmt::Display for Installed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {} file(s), created {} directory(ies), retained {} file(s), applied \
             permissions {} time(s), removed {} entry(ies) of the previous install",
            self.files_copied,
            self.directories_created,
            self.files_retained,
            self.permissions_applied,
            self.previous_removed
        )
    }
}

/// What [`install`] would do, computed without changing anything: the previous install's
/// removal is simulated, not done.
pub fn plan(req: &InstallRequest) -> Result<Plan, Failure> {
    plan_with(req, &Tools::default())
}

/// [`plan`], looking for tools where `tools` says.
pub fn plan_with(req: &InstallRequest, tools: &Tools) -> Result<Plan, Failure> {
    let previous = CleanupRecord::read(req.cleanup_record)?;
    plan::build(req, tools, previous.as_ref(), true)
}

/// Runs the Install event: removes the previous install of the group, records and copies
/// the new files, applies the permissions.
pub fn install(req: &InstallRequest) -> Result<Installed, Failure> {
    install_with(req, &Tools::default())
}

/// [`install`], looking for tools where `tools` says.
pub fn install_with(req: &InstallRequest, tools: &Tools) -> Result<Installed, Failure> {
    let previous = CleanupRecord::read(req.cleanup_record)?;
    // Everything that can fail before the host is touched fails here.
    plan::build(req, tools, previous.as_ref(), true)?;
    let previous_removed = match &previous {
        Some(record) => {
            let removed = record.remove()?;
            record::delete(req.cleanup_record)?;
            removed
        }
        None => 0,
    };
    let plan = plan::build(req, tools, previous.as_ref(), false)?;
    plan.record().write(req.cleanup_record)?;
    let mut done = execute::run(&plan)?;
    done.previous_removed = previous_removed;
    tracing::info!(
        bundle = %req.bundle_root.display(),
        record = %req.cleanup_record.display(),
        "install done: {done}"
    );
    Ok(done)
}

/// Removes what the previous install recorded in `cleanup_record` (files and symlinks
/// deleted, created directories removed deepest first when empty, missing entries
/// ignored), then the record itself. No record: nothing to do.
pub fn remove_previous(cleanup_record: &Path) -> Result<(), Failure> {
    if let Some(record) = CleanupRecord::read(cleanup_record)? {
        record.remove()?;
        record::delete(cleanup_record)?;
    }
    Ok(())
}

/// `abs` (an absolute path on the instance) under `root`, with `.` and `..` resolved
/// lexically so that it cannot leave `root`.
pub(crate) fn reroot(root: Option<&Path>, abs: &str, what: &str) -> Result<PathBuf, Failure> {
    if !abs.starts_with('/') {
        return Err(Failure::unknown(format!(
            "{what} `{abs}` is not an absolute path on this host"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in abs.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut path = root.unwrap_or(Path::new("/")).to_path_buf();
    path.extend(parts);
    Ok(path)
}

/// A failure about `path`, with the I/O error.
pub(crate) fn io_failure(doing: &str, path: &Path, e: &io::Error) -> Failure {
    Failure::unknown(format!("{doing} {}: {e}", path.display()))
}

pub(crate) fn behavior_name(b: FileExistsBehavior) -> &'static str {
    match b {
        FileExistsBehavior::Disallow => "DISALLOW",
        FileExistsBehavior::Overwrite => "OVERWRITE",
        FileExistsBehavior::Retain => "RETAIN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reroot_resolves_dots_without_leaving_the_root() {
        let root = Path::new("/tmp/x");
        let r = |p| reroot(Some(root), p, "destination").ok();
        assert_eq!(r("/var/www/"), Some(PathBuf::from("/tmp/x/var/www")));
        assert_eq!(r("/var/./a/../www"), Some(PathBuf::from("/tmp/x/var/www")));
        assert_eq!(r("/../../etc"), Some(PathBuf::from("/tmp/x/etc")));
        assert_eq!(r("/"), Some(PathBuf::from("/tmp/x")));
        assert_eq!(
            reroot(None, "/var/www", "destination").ok(),
            Some(PathBuf::from("/var/www"))
        );
        assert!(r("C:\\inetpub").is_none());
    }
}
