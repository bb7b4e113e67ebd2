//! The revision every scenario deploys, in each form a user gives it: a directory (for
//! `ferry push` and a git commit), a tar (UploadBundle) and a tgz (S3).

use std::path::Path;

pub use ferry_tests::bundle::{tar, tgz, write_dir};

/// The bundle's files (path, content, mode): app.txt (holding `version`) to /srv/app, and one
/// script for every hook, which appends `"<event> <deployment id>"` to the host's events.log
/// (beside the install root), takes a second in AfterInstall so that a deployment can be caught
/// half-way, and, when `failing`, fails ValidateService.
pub fn files(version: &str, failing: bool) -> Vec<(String, String, u32)> {
    let mut appspec = String::from(
        "version: 0.0\nos: linux\nfiles:\n  - source: app.txt\n    destination: /srv/app\nhooks:\n",
    );
    for event in [
        "ApplicationStop",
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ] {
        appspec.push_str(&format!(
            "  {event}:\n    - location: scripts/record.sh\n      timeout: 60\n"
        ));
    }
    let mut record = String::from(
        "#!/bin/sh\n\
         echo \"$LIFECYCLE_EVENT $DEPLOYMENT_ID\" >> \"$FERRY_INSTALL_ROOT/../events.log\"\n\
         if [ \"$LIFECYCLE_EVENT\" = AfterInstall ]; then sleep 1; fi\n",
    );
    if failing {
        record.push_str(
            "if [ \"$LIFECYCLE_EVENT\" = ValidateService ]; then echo unhealthy >&2; exit 1; fi\n",
        );
    }
    vec![
        ("appspec.yml".into(), appspec, 0o644),
        ("app.txt".into(), format!("{version}\n"), 0o644),
        ("scripts/record.sh".into(), record, 0o755),
    ]
}

/// Runs git in `dir`, failing with its stderr; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
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
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bare repository under `dir` holding one commit of the files at its root, pushed from a
/// work tree as a developer would: its `file://` URL and the full commit id.
pub fn git_remote(dir: &Path, files: &[(String, String, u32)]) -> (String, String) {
    let bare = dir.join("remote.git");
    let work = dir.join("work");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    git(&bare, &["init", "-q", "--bare"]);
    git(&work, &["init", "-q"]);
    write_dir(&work, files);
    git(&work, &["add", "--all"]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);
    let url = format!("file://{}", bare.display());
    git(&work, &["push", "-q", &url, "HEAD:refs/heads/main"]);
    (url, commit)
}
