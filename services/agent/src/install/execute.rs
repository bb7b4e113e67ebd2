//! Carrying out a plan: directories, copies, permissions.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::symlink;

use super::plan::{EntryKind, FileCopy, Plan};
use super::{Installed, io_failure, perms};
use crate::outcome::Failure;

/// Runs `plan`, whose cleanup record is already written.
pub(super) fn run(plan: &Plan) -> Result<Installed, Failure> {
    let mut done = Installed::default();
    for dir in &plan.directories {
        match fs::create_dir(dir) {
            Ok(()) => done.directories_created += 1,
            Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(io_failure("cannot create the directory", dir, &e)),
        }
    }
    for copy in &plan.copies {
        copy_one(copy)?;
        done.files_copied += 1;
    }
    done.files_retained = plan.retained.len();
    for permission in &plan.permissions {
        done.permissions_applied += perms::apply(permission)?;
    }
    Ok(done)
}

/// Writes a sibling temporary file (or symlink) and renames it over the destination, so a
/// replaced file is never seen half-written.
fn copy_one(copy: &FileCopy) -> Result<(), Failure> {
    let fail = |e: io::Error| {
        Failure::unknown(format!(
            "cannot copy {} to {}: {e}",
            copy.source.display(),
            copy.destination.display()
        ))
    };
    let (Some(dir), Some(name)) = (copy.destination.parent(), copy.destination.file_name()) else {
        return Err(fail(io::Error::new(
            ErrorKind::InvalidInput,
            "the destination has no file name",
        )));
    };
    let tmp = dir.join(format!(
        ".{}.ferry-{}",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = match copy.kind {
        // Copies the mode bits too.
        EntryKind::File => fs::copy(&copy.source, &tmp).map(drop),
        EntryKind::Symlink => fs::read_link(&copy.source).and_then(|target| symlink(target, &tmp)),
    };
    let result = written.and_then(|()| fs::rename(&tmp, &copy.destination));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    tracing::debug!(
        source = %copy.source.display(),
        destination = %copy.destination.display(),
        "copied"
    );
    Ok(())
}
