//! Checks against unpacked bundles in temporary directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use ferry_appspec::{
    AppSpec, Problem, ServerSpec, Severity, find_in_dir, validate, validate_against_bundle,
};

fn spec(text: &str) -> ServerSpec {
    match validate(text).spec {
        Some(AppSpec::Server(spec)) => spec,
        other => panic!(
            "not a valid server spec: {other:?}\n{:#?}",
            validate(text).problems
        ),
    }
}

fn write(root: &Path, rel: &str, body: &str, executable: bool) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// A bundle with an app directory, a config file and two executable scripts.
fn bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app/index.html", "<p>hi</p>", false);
    write(dir.path(), "app/lib/util.js", "", false);
    write(dir.path(), "config/app.conf", "x=1", false);
    write(dir.path(), "scripts/start.sh", "#!/bin/sh\n", true);
    write(dir.path(), "scripts/stop.sh", "#!/bin/sh\n", true);
    write(dir.path(), "notes.txt", "", false);
    dir
}

fn has(problems: &[Problem], severity: Severity, path: &str, fragment: &str) -> bool {
    problems
        .iter()
        .any(|p| p.severity == severity && p.path == path && p.message.contains(fragment))
}

const HEAD: &str = "version: 0.0\nos: linux\n";

#[test]
fn a_consistent_bundle_has_no_problem() {
    let dir = bundle();
    let text = format!(
        "{HEAD}files:\n  - source: app\n    destination: /srv/app\n  - source: config/app.conf\n    destination: /etc/app\npermissions:\n  - object: /srv/app\n    pattern: \"*.html\"\n    type: [file]\n  - object: /srv/app/lib\n    mode: 755\n    type: [directory, file]\n  - object: /etc/app/app.conf\n    mode: 600\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n  ApplicationStop:\n    - location: /scripts/stop.sh\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn missing_and_misplaced_scripts() {
    let dir = bundle();
    let text = format!(
        "{HEAD}hooks:\n  AfterInstall:\n    - location: scripts/missing.sh\n    - location: scripts\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Error,
            "hooks.AfterInstall[0].location",
            "ScriptMissing"
        ),
        "{problems:#?}"
    );
    assert!(
        has(
            &problems,
            Severity::Error,
            "hooks.AfterInstall[1].location",
            "is a directory"
        ),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), 2);
}

#[cfg(unix)]
#[test]
fn a_script_that_is_not_executable_is_a_warning() {
    let dir = bundle();
    write(dir.path(), "scripts/plain.sh", "#!/bin/sh\n", false);
    let text = format!("{HEAD}hooks:\n  AfterInstall:\n    - location: scripts/plain.sh\n");
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Warning,
            "hooks.AfterInstall[0].location",
            "not executable"
        ),
        "{problems:#?}"
    );
    // Windows runs scripts through their interpreter: no executable bit to check.
    let windows =
        "version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n    - location: scripts/plain.sh\n";
    assert!(validate_against_bundle(&spec(windows), dir.path()).is_empty());
}

#[test]
fn missing_source() {
    let dir = bundle();
    let text = format!(
        "{HEAD}files:\n  - source: dist\n    destination: /srv\n  - source: /\n    destination: /opt/all\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Error,
            "files[0].source",
            "`dist` is not in the bundle"
        ),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn two_files_to_one_path() {
    let dir = bundle();
    // The whole bundle goes to /srv, so /srv/notes.txt comes from both entries.
    let text = format!(
        "{HEAD}files:\n  - source: /\n    destination: /srv\n  - source: notes.txt\n    destination: /srv\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(&problems, Severity::Error, "files[1]", "/srv/notes.txt"),
        "{problems:#?}"
    );
    assert_eq!(
        problems.len(),
        1,
        "one problem per pair of entries: {problems:#?}"
    );
}

#[test]
fn a_file_where_a_directory_is_made() {
    let dir = bundle();
    write(dir.path(), "lib", "a file named like the directory", false);
    let text = format!(
        "{HEAD}files:\n  - source: app\n    destination: /srv\n  - source: lib\n    destination: /srv\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Error,
            "files[1]",
            "a directory that files[0] creates"
        ),
        "{problems:#?}"
    );
}

#[test]
fn pattern_and_except_only_on_directories() {
    let dir = bundle();
    let text = format!(
        "{HEAD}files:\n  - source: config/app.conf\n    destination: /etc/app\npermissions:\n  - object: /etc/app/app.conf\n    pattern: \"*.conf\"\n    except: [x]\n    acls: [\"d:u:bob:rw\"]\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Error,
            "permissions[0].pattern",
            "is a file"
        ),
        "{problems:#?}"
    );
    assert!(
        has(
            &problems,
            Severity::Error,
            "permissions[0].except",
            "is a file"
        ),
        "{problems:#?}"
    );
    assert!(
        has(
            &problems,
            Severity::Error,
            "permissions[0].acls",
            "default (d:) ACL"
        ),
        "{problems:#?}"
    );
    // On a directory the same pattern is fine.
    let text = format!(
        "{HEAD}files:\n  - source: config\n    destination: /etc/app\npermissions:\n  - object: /etc/app\n    pattern: \"*.conf\"\n    except: [x]\n"
    );
    assert!(validate_against_bundle(&spec(&text), dir.path()).is_empty());
}

#[test]
fn permissions_set_twice_on_one_object() {
    let dir = bundle();
    let text = format!(
        "{HEAD}files:\n  - source: app\n    destination: /srv/app\npermissions:\n  - object: /srv/app\n    mode: 644\n    type: [file]\n  - object: /srv/app/lib\n    mode: 600\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Error,
            "permissions[1]",
            "/srv/app/lib/util.js"
        ),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn a_permission_on_nothing_installed_is_a_warning() {
    let dir = bundle();
    let text = format!(
        "{HEAD}files:\n  - source: app\n    destination: /srv/app\npermissions:\n  - object: /var/log/app\n    mode: 755\n"
    );
    let problems = validate_against_bundle(&spec(&text), dir.path());
    assert!(
        has(
            &problems,
            Severity::Warning,
            "permissions[0].object",
            "changes nothing"
        ),
        "{problems:#?}"
    );
}

#[test]
fn finds_the_appspec_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(find_in_dir(dir.path()), None);
    write(dir.path(), "appspec.json", "{}", false);
    assert_eq!(
        find_in_dir(dir.path()),
        None,
        "CodeDeploy reads no appspec.json from a bundle"
    );
    write(dir.path(), "appspec.yaml", HEAD, false);
    assert_eq!(
        find_in_dir(dir.path()),
        Some(dir.path().join("appspec.yaml"))
    );
    write(dir.path(), "appspec.yml", HEAD, false);
    assert_eq!(
        find_in_dir(dir.path()),
        Some(dir.path().join("appspec.yml"))
    );
    fs::create_dir(dir.path().join("sub")).unwrap();
    write(dir.path(), "sub/appspec.yml", HEAD, false);
    assert_eq!(
        find_in_dir(&dir.path().join("sub")),
        Some(dir.path().join("sub/appspec.yml"))
    );
}
