//! [`Plan`] as readable lines, for `ferry-agent local --plan`.

use std::fmt;
use std::path::Path;

use super::behavior_name;
use super::plan::{EntryKind, Plan};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "file_exists_behavior: {}",
            behavior_name(self.file_exists_behavior)
        )?;
        for path in &self.previous {
            writeln!(f, "remove {} (previous install)", path.display())?;
        }
        for dir in &self.adopted {
            writeln!(
                f,
                "keep {} (created by an earlier install, not empty)",
                dir.display()
            )?;
        }
        for dir in &self.directories {
            writeln!(f, "mkdir {}", dir.display())?;
        }
        for copy in &self.copies {
            let source = copy
                .source
                .strip_prefix(&self.bundle_root)
                .unwrap_or(&copy.source);
            let source = if source.as_os_str().is_empty() {
                Path::new(".")
            } else {
                source
            };
            write!(
                f,
                "copy {} -> {}",
                source.display(),
                copy.destination.display()
            )?;
            if copy.kind == EntryKind::Symlink {
                f.write_str(" (symlink)")?;
            }
            if copy.replaces {
                f.write_str(" (replaces the existing file)")?;
            }
            writeln!(f)?;
        }
        for path in &self.retained {
            writeln!(f, "retain {} (already there)", path.display())?;
        }
        for permission in &self.permissions {
            fmt::Display::fmt(permission, f)?;
        }
        Ok(())
    }
}
