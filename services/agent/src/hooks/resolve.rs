//! Finding a hook script in the revision, and making it executable.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::outcome::{ErrorCode, Failure};

/// The path of the script at `location` in the revision unpacked at `bundle_root`, without
/// looking at the filesystem. A leading `/` is still relative to the bundle root, as in
/// CodeDeploy. A location with `..` is refused (CodeDeploy would follow it out of the
/// revision), as is an empty one. The path is absolute when `bundle_root` can be made so.
pub fn resolve(bundle_root: &Path, location: &str) -> Result<PathBuf, Failure> {
    let root = std::path::absolute(bundle_root).unwrap_or_else(|_| bundle_root.to_path_buf());
    let mut path = root.clone();
    for component in Path::new(location).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Failure::new(
                    ErrorCode::ScriptMissing,
                    format!(
                        "Script location {location} is outside the deployment archive: \
                         `..` is not allowed in a hook's location"
                    ),
                )
                .script(location));
            }
        }
    }
    if path == root {
        return Err(Failure::new(
            ErrorCode::ScriptMissing,
            format!("Script location {location:?} names no file in the deployment archive"),
        )
        .script(location));
    }
    Ok(path)
}

/// [`resolve`], then checks that something exists there: `ScriptMissing` with CodeDeploy's
/// message when nothing does.
pub fn locate(bundle_root: &Path, location: &str) -> Result<PathBuf, Failure> {
    let path = resolve(bundle_root, location)?;
    match std::fs::metadata(&path) {
        Ok(_) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing(&path, location)),
        Err(e) => Err(Failure::unknown(format!(
            "Script at specified location: {location} cannot be read ({}): {e}",
            path.display()
        ))
        .script(location)),
    }
}

fn missing(path: &Path, location: &str) -> Failure {
    Failure::new(
        ErrorCode::ScriptMissing,
        format!(
            "Script does not exist at specified location: {}",
            path.display()
        ),
    )
    .script(location)
}

/// Makes the script at `path` executable when it has no execute bit at all, as CodeDeploy's
/// agent does (`chmod +x`). Anything but a regular file, or a failed chmod, is
/// `ScriptNotExecutable`.
pub(super) fn ensure_executable(path: &Path, location: &str) -> Result<(), Failure> {
    let not_executable = |why: String| {
        Failure::new(
            ErrorCode::ScriptNotExecutable,
            format!("Script at specified location: {location} is not executable ({why})"),
        )
        .script(location)
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(path, location)),
        Err(e) => return Err(not_executable(format!("cannot read it: {e}"))),
    };
    if meta.is_dir() {
        return Err(not_executable("it is a directory".into()));
    }
    if !meta.is_file() {
        return Err(not_executable("it is not a regular file".into()));
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 != 0 {
        return Ok(());
    }
    tracing::info!(path = %path.display(), "hook script is not executable; adding the execute bits");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o111))
        .map_err(|e| not_executable(format!("chmod +x failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_under_the_bundle_root() {
        let root = Path::new("/srv/bundle");
        assert_eq!(
            resolve(root, "scripts/start.sh").unwrap(),
            Path::new("/srv/bundle/scripts/start.sh")
        );
        assert_eq!(
            resolve(root, "/scripts/./start.sh").unwrap(),
            Path::new("/srv/bundle/scripts/start.sh")
        );
    }

    #[test]
    fn refuses_escapes_and_empty_locations() {
        let root = Path::new("/srv/bundle");
        for location in ["../etc/passwd", "scripts/../../x", "", "/", "./"] {
            let failure = resolve(root, location).unwrap_err();
            assert_eq!(failure.code, ErrorCode::ScriptMissing, "{location}");
            assert_eq!(failure.script.as_deref(), Some(location));
        }
    }

    #[test]
    fn a_relative_root_becomes_absolute() {
        let path = resolve(Path::new("bundle"), "run.sh").unwrap();
        assert!(path.is_absolute(), "{}", path.display());
        assert!(path.ends_with("bundle/run.sh"));
    }

    #[test]
    fn locate_reports_missing_scripts_with_the_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let failure = locate(dir.path(), "nope.sh").unwrap_err();
        assert_eq!(failure.code, ErrorCode::ScriptMissing);
        assert_eq!(
            failure.message,
            format!(
                "Script does not exist at specified location: {}",
                dir.path().join("nope.sh").display()
            )
        );
    }
}
