//! The real `ferry` binary on files, bundle directories and archives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VALID: &str = "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv/app\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 60\n";

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("run ferry")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(root: &Path, rel: &str, body: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
}

/// A bundle directory with `appspec` as its appspec.yml.
fn bundle(appspec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "appspec.yml", appspec, 0o644);
    write(dir.path(), "app/index.html", "<p>hi</p>", 0o644);
    write(dir.path(), "scripts/start.sh", "#!/bin/sh\n", 0o755);
    dir
}

fn tgz(dir: &Path, out: &Path) {
    let file = fs::File::create(out).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    tar.append_dir_all(".", dir).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

fn zip(dir: &Path, out: &Path) {
    let mut zip = zip::ZipWriter::new(fs::File::create(out).unwrap());
    let files = [
        ("appspec.yml", 0o644),
        ("app/index.html", 0o644),
        ("scripts/start.sh", 0o755),
    ];
    for (name, mode) in files {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        zip.start_file(name, options).unwrap();
        zip.write_all(&fs::read(dir.join(name)).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_valid_bundle_directory_exits_0() {
    let dir = bundle(VALID);
    let out = ferry(&["appspec", "validate", arg(dir.path())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("valid EC2/on-premises AppSpec (linux, 1 file"),
        "{text}"
    );
    assert!(text.contains("hooks: ApplicationStart 1"), "{text}");
}

#[test]
fn an_invalid_file_exits_1_with_every_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("appspec.yml");
    fs::write(&file, "version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: a.sh\n  AfterInstall:\n    - location: b.sh\n      timeout: 7200\n").unwrap();
    let out = ferry(&["appspec", "validate", arg(&file)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let shown = file.display();
    assert!(
        text.contains(&format!(
            "{shown}:4: error: hooks.Install: `Install` is run by CodeDeploy itself"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{shown}:8: error: hooks.AfterInstall[0].timeout: timeout 7200"
        )),
        "{text}"
    );
    assert!(
        text.contains("invalid AppSpec: 2 errors, 0 warnings"),
        "{text}"
    );
}

#[test]
fn a_bundle_missing_a_script_exits_1() {
    let dir = bundle(&VALID.replace("scripts/start.sh", "scripts/run.sh"));
    let out = ferry(&["appspec", "validate", arg(dir.path())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "appspec.yml:8: error: hooks.ApplicationStart[0].location: script `scripts/run.sh`"
        ),
        "{text}"
    );
}

#[test]
fn a_directory_without_an_appspec_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "appspec.json", "{}", 0o644);
    let out = ferry(&["appspec", "validate", arg(dir.path())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no appspec.yml or appspec.yaml at the bundle root"),
        "{text}"
    );
    assert!(text.contains("rename it appspec.yml"), "{text}");
}

#[test]
fn a_missing_path_exits_2() {
    let missing: PathBuf = tempfile::tempdir().unwrap().path().join("nope.yml");
    let out = ferry(&["appspec", "validate", arg(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ferry(&["appspec", "validate"]).status.code(), Some(2));
    assert_eq!(
        ferry(&["appspec", "frobnicate", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(
        ferry(&["appspec", "validate", "--output", "xml", "x"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn json_output_for_machines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lambda.json");
    fs::write(&file, r#"{"version": "0.0", "Resources": [{"fn": {"Type": "AWS::Lambda::Function", "Properties": {"Name": "fn", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}], "Hooks": [{"BeforeAllowTraffic": "check"}, {"AfterTraffic": "x"}]}"#).unwrap();
    let out = ferry(&["appspec", "validate", "--output", "json", arg(&file)]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"], 1);
    assert_eq!(json["problems"][0]["path"], "Hooks[1].AfterTraffic");
    assert_eq!(json["problems"][0]["line"], 1);
    assert_eq!(json["problems"][0]["severity"], "error");

    fs::write(&file, r#"{"version": "0.0", "Resources": [{"fn": {"Type": "AWS::Lambda::Function", "Properties": {"Name": "fn", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}]}"#).unwrap();
    let out = ferry(&["appspec", "validate", "--output", "json", arg(&file)]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["kind"], "lambda");
}

#[test]
fn archives_are_unpacked_and_checked() {
    let work = tempfile::tempdir().unwrap();
    let good = bundle(VALID);
    let good_tgz = work.path().join("good.tgz");
    tgz(good.path(), &good_tgz);
    let out = ferry(&["appspec", "validate", arg(&good_tgz)]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("good.tgz!appspec.yml: valid"),
        "{}",
        stdout(&out)
    );

    let good_zip = work.path().join("good.zip");
    zip(good.path(), &good_zip);
    let out = ferry(&["appspec", "validate", arg(&good_zip)]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let bad = bundle(&VALID.replace("source: app", "source: dist"));
    let bad_tgz = work.path().join("bad.tgz");
    tgz(bad.path(), &bad_tgz);
    let out = ferry(&["appspec", "validate", arg(&bad_tgz)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(
            "bad.tgz!appspec.yml:4: error: files[0].source: source `dist` is not in the bundle"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_binary_file_that_is_no_archive_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.bin");
    fs::write(&file, [0xff, 0xfe, 0x00, 0x01]).unwrap();
    let out = ferry(&["appspec", "validate", arg(&file)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("neither a UTF-8 AppSpec nor"),
        "{out:?}"
    );
}
