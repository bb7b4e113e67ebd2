//! git repositories made with the git CLI, as a developer would.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// A repository with a work tree, in a temporary directory.
pub struct Repo {
    pub dir: TempDir,
}

/// Runs git in `dir`, panicking with its stderr when it fails; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=ferry",
            "-c",
            "user.email=ferry@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl Repo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        git(dir.path(), &["init", "-q"]);
        Self { dir }
    }

    /// Writes the files and commits them: the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let path = self.dir.path().join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("directories");
            }
            std::fs::write(path, content).expect("write file");
        }
        git(self.dir.path(), &["add", "--all"]);
        git(self.dir.path(), &["commit", "-q", "-m", message]);
        git(self.dir.path(), &["rev-parse", "HEAD"])
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// A bare clone ready for dumb HTTP (`info/refs` and `objects/info/packs` written).
    pub fn bare_for_dumb_http(&self) -> TempDir {
        let bare = tempfile::tempdir().expect("temporary directory");
        let source = self.dir.path().display().to_string();
        let target = bare.path().display().to_string();
        git(
            self.dir.path(),
            &["clone", "-q", "--bare", &source, &target],
        );
        git(bare.path(), &["update-server-info"]);
        bare
    }
}
