//! The real `ferry-agent` binary: `local` deployments, `--plan`, and configuration errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn agent(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry-agent"))
        .args(args)
        .arg("--deployment-root")
        .arg(dir.join("root"))
        .arg("--install-root")
        .arg(dir.join("install"))
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .env_remove("FERRY_CONFIG")
        .output()
        .unwrap()
}

fn source(dir: &Path, start_script: &str) -> std::path::PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("scripts")).unwrap();
    fs::create_dir_all(src.join("site")).unwrap();
    fs::create_dir_all(dir.join("install")).unwrap();
    fs::write(
        src.join("appspec.yml"),
        "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /var/www\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 30\n",
    )
    .unwrap();
    fs::write(src.join("site/index.html"), "hi\n").unwrap();
    let script = src.join("scripts/start.sh");
    fs::write(&script, start_script).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    src
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn local_deploys_a_directory_and_prints_events_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(
        dir.path(),
        "#!/bin/sh\necho \"started in $LIFECYCLE_EVENT\"\n",
    );
    let out = agent(dir.path(), &["local", "--source", src.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let start = stdout.find("ApplicationStart\n").expect("event printed");
    let line = stdout
        .find("[scripts/start.sh] [stdout] started in ApplicationStart")
        .expect("hook output printed");
    assert!(start < line);
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert_eq!(
        fs::read_to_string(dir.path().join("install/var/www/index.html")).unwrap(),
        "hi\n"
    );
}

#[test]
fn local_exits_1_when_a_hook_fails() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), "#!/bin/sh\necho broken >&2\nexit 4\n");
    let out = agent(dir.path(), &["local", "--source", src.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("[scripts/start.sh] [stderr] broken"),
        "{stdout}"
    );
    assert!(stdout.contains("ApplicationStart failed"), "{stdout}");
    assert!(stdout.contains("ScriptFailed"), "{stdout}");
    assert!(
        !stdout.contains("ValidateService"),
        "stops at the failure: {stdout}"
    );
}

#[test]
fn local_deploys_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), "#!/bin/sh\necho from-archive\n");
    let archive = dir.path().join("bundle.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let out = agent(
        dir.path(),
        &["local", "--source", archive.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("from-archive"));
}

#[test]
fn plan_prints_what_would_run_without_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), "#!/bin/sh\ntouch \"$FERRY_INSTALL_ROOT/ran\"\n");
    let out = agent(
        dir.path(),
        &["local", "--source", src.to_str().unwrap(), "--plan"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let order: Vec<usize> = [
        "ApplicationStop",
        "DownloadBundle",
        "BeforeInstall",
        "Install",
        "ApplicationStart",
        "ValidateService",
    ]
    .iter()
    .map(|event| {
        stdout
            .find(&format!("{event}\n"))
            .unwrap_or_else(|| panic!("{event} in {stdout}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    assert!(
        stdout.contains("scripts/start.sh (timeout 30 s"),
        "{stdout}"
    );
    assert!(stdout.contains("index.html"), "{stdout}");
    assert!(!dir.path().join("install/ran").exists());
    assert!(!dir.path().join("install/var").exists());
    assert!(
        !dir.path().join("root").exists(),
        "nothing under the deployment root"
    );
}

#[test]
fn run_without_an_identity_names_the_missing_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent(dir.path(), &["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("instance_name is not set"),
        "{}",
        text(&out.stderr)
    );

    let out = agent(dir.path(), &["run", "--instance-name", "web-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("credential_file is not set"),
        "{}",
        text(&out.stderr)
    );

    let config = dir.path().join("agent.yaml");
    fs::write(&config, "max_revisions: 0\n").unwrap();
    let out = agent(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "local",
            "--source",
            ".",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("max_revisions"),
        "{}",
        text(&out.stderr)
    );

    fs::write(&config, "max_revison: 3\n").unwrap();
    let out = agent(dir.path(), &["--config", config.to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("max_revison"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_example_config_loads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/agent.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_ferry-agent"))
        .arg("--config")
        .arg(&example)
        .arg("--dump-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("max_revisions: 5"),
        "{}",
        text(&out.stdout)
    );
}
