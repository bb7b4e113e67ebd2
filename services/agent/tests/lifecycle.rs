//! Whole deployments through the agent's lifecycle code with real scripts, in temporary
//! deployment and install roots (the local source path, as `ferry-agent local` uses it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferry_agent::config::AgentConfig;
use ferry_agent::lifecycle::{Deployment, Host, Source};
use ferry_agent::local::DEFAULT_EVENTS;
use ferry_agent::outcome::ErrorCode;
use ferry_agent::output::Discard;
use ferry_appspec::FileExistsBehavior;
use tokio_util::sync::CancellationToken;

struct Fixture {
    dir: tempfile::TempDir,
    host: Host,
}

impl Fixture {
    fn new(max_revisions: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = AgentConfig {
            deployment_root: dir.path().join("root"),
            install_root: Some(dir.path().join("install")),
            log_dir: dir.path().join("logs"),
            max_revisions,
            ..AgentConfig::default()
        };
        fs::create_dir_all(dir.path().join("install")).unwrap();
        let host = Host::from_config(&config, None);
        Self { dir, host }
    }

    fn install(&self) -> PathBuf {
        self.dir.path().join("install")
    }

    /// Writes a revision directory `name` with `appspec` and executable `scripts`.
    fn revision(&self, name: &str, appspec: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = self.dir.path().join("src").join(name);
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("appspec.yml"), appspec).unwrap();
        for (path, content) in files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, content).unwrap();
            if content.starts_with("#!") {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        root
    }

    fn deployment(&self, id: &str, source: &Path, behavior: FileExistsBehavior) -> Deployment {
        Deployment {
            deployment_id: id.to_owned(),
            deployment_group_id: "g-1".into(),
            deployment_group_name: "web".into(),
            application_name: "shop".into(),
            source: Source::Local(source.to_owned()),
            app_spec_file_name: String::new(),
            file_exists_behavior: behavior,
        }
    }

    /// Runs every in-place event; the first failure, with its event.
    async fn deploy(
        &self,
        deployment: &Deployment,
    ) -> Result<(), (String, ferry_agent::outcome::Failure)> {
        for event in DEFAULT_EVENTS {
            let outcome = self
                .host
                .run_event(deployment, event, &Discard, &CancellationToken::new())
                .await;
            outcome.result.map_err(|f| (event.to_owned(), f))?;
        }
        Ok(())
    }
}

/// Appends `$LIFECYCLE_EVENT` and the deployment's variables to `$FERRY_INSTALL_ROOT/events`.
const RECORD: &str = "#!/bin/sh
echo \"$LIFECYCLE_EVENT $DEPLOYMENT_ID $APPLICATION_NAME $DEPLOYMENT_GROUP_NAME $DEPLOYMENT_GROUP_ID $1\" >> \"$FERRY_INSTALL_ROOT/events\"
";

fn appspec_recording_every_event(version: &str) -> String {
    let mut spec = String::from(
        "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv/app\nhooks:\n",
    );
    for event in [
        "ApplicationStop",
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ] {
        spec.push_str(&format!(
            "  {event}:\n    - location: scripts/record-{version}.sh\n"
        ));
    }
    spec
}

fn recording_revision(fixture: &Fixture, version: &str) -> PathBuf {
    let script = RECORD.replace("$1", version);
    fixture.revision(
        version,
        &appspec_recording_every_event(version),
        &[
            (&format!("scripts/record-{version}.sh"), &script),
            ("app/version", version),
        ],
    )
}

#[tokio::test]
async fn every_event_runs_in_order_and_application_stop_uses_the_previous_revision() {
    let fixture = Fixture::new(5);
    let v1 = recording_revision(&fixture, "v1");
    fixture
        .deploy(&fixture.deployment("d-1", &v1, FileExistsBehavior::Disallow))
        .await
        .unwrap();
    let events = fs::read_to_string(fixture.install().join("events")).unwrap();
    // No previous revision: ApplicationStop has nothing to run.
    assert_eq!(
        events,
        "BeforeInstall d-1 shop web g-1 v1\nAfterInstall d-1 shop web g-1 v1\n\
         ApplicationStart d-1 shop web g-1 v1\nValidateService d-1 shop web g-1 v1\n"
    );
    assert_eq!(
        fs::read_to_string(fixture.install().join("srv/app/version")).unwrap(),
        "v1"
    );

    fs::remove_file(fixture.install().join("events")).unwrap();
    let v2 = recording_revision(&fixture, "v2");
    fixture
        .deploy(&fixture.deployment("d-2", &v2, FileExistsBehavior::Disallow))
        .await
        .unwrap();
    let events = fs::read_to_string(fixture.install().join("events")).unwrap();
    let lines: Vec<&str> = events.lines().collect();
    // ApplicationStop is v1's script (what was running), with this deployment's variables.
    assert_eq!(lines[0], "ApplicationStop d-2 shop web g-1 v1");
    assert_eq!(lines[1], "BeforeInstall d-2 shop web g-1 v2");
    assert_eq!(lines.len(), 5);
    // v1's files were removed first, so DISALLOW did not trip over them.
    assert_eq!(
        fs::read_to_string(fixture.install().join("srv/app/version")).unwrap(),
        "v2"
    );

    let log = fs::read_to_string(fixture.dir.path().join("root/g-1/d-2/logs/scripts.log")).unwrap();
    assert!(log.contains("LifecycleEvent - ValidateService"), "{log}");
    let aggregate =
        fs::read_to_string(fixture.dir.path().join("logs/ferry-agent-deployments.log")).unwrap();
    assert!(
        aggregate.contains("[d-1]") && aggregate.contains("[d-2]"),
        "{aggregate}"
    );
}

#[tokio::test]
async fn a_failing_stop_script_fails_the_next_deployment_at_application_stop() {
    let fixture = Fixture::new(5);
    let spec = "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: stop.sh\n";
    let v1 = fixture.revision(
        "v1",
        spec,
        &[("stop.sh", "#!/bin/sh\necho cannot stop >&2\nexit 7\n")],
    );
    fixture
        .deploy(&fixture.deployment("d-1", &v1, FileExistsBehavior::Disallow))
        .await
        .unwrap();
    let v2 = fixture.revision("v2", "version: 0.0\nos: linux\n", &[]);
    let (event, failure) = fixture
        .deploy(&fixture.deployment("d-2", &v2, FileExistsBehavior::Disallow))
        .await
        .unwrap_err();
    assert_eq!(event, "ApplicationStop");
    assert_eq!(failure.code, ErrorCode::ScriptFailed);
    assert_eq!(failure.script.as_deref(), Some("stop.sh"));
    assert!(failure.message.contains("exit code 7"), "{failure}");
}

#[tokio::test]
async fn file_exists_behaviours_apply_to_files_the_agent_did_not_write() {
    let fixture = Fixture::new(5);
    let spec = "version: 0.0\nos: linux\nfiles:\n  - source: conf\n    destination: /etc/shop\n";
    let v1 = fixture.revision("v1", spec, &[("conf/shop.conf", "new\n")]);
    let foreign = fixture.install().join("etc/shop/shop.conf");
    fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    fs::write(&foreign, "mine\n").unwrap();

    let (event, failure) = fixture
        .deploy(&fixture.deployment("d-1", &v1, FileExistsBehavior::Disallow))
        .await
        .unwrap_err();
    assert_eq!(event, "Install");
    assert!(failure.message.contains("already exists"), "{failure}");
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "mine\n");

    fixture
        .deploy(&fixture.deployment("d-2", &v1, FileExistsBehavior::Retain))
        .await
        .unwrap();
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "mine\n");

    fixture
        .deploy(&fixture.deployment("d-3", &v1, FileExistsBehavior::Overwrite))
        .await
        .unwrap();
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "new\n");
}

#[tokio::test]
async fn old_revisions_are_pruned_but_never_the_last_successful() {
    let fixture = Fixture::new(2);
    let good = fixture.revision("good", "version: 0.0\nos: linux\n", &[]);
    let spec = "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: fail.sh\n";
    let bad = fixture.revision("bad", spec, &[("fail.sh", "#!/bin/sh\nexit 1\n")]);
    fixture
        .deploy(&fixture.deployment("d-1", &good, FileExistsBehavior::Disallow))
        .await
        .unwrap();
    for id in ["d-2", "d-3", "d-4"] {
        let (event, _) = fixture
            .deploy(&fixture.deployment(id, &bad, FileExistsBehavior::Disallow))
            .await
            .unwrap_err();
        assert_eq!(event, "BeforeInstall");
    }
    let mut kept: Vec<String> = fs::read_dir(fixture.dir.path().join("root/g-1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    // The newest two, and d-1: the last successful install.
    assert_eq!(kept, vec!["d-1", "d-3", "d-4"]);
}

#[tokio::test]
async fn a_bundle_whose_appspec_is_invalid_fails_with_its_problems() {
    let fixture = Fixture::new(5);
    let bad = fixture.revision(
        "bad",
        "version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: x.sh\n",
        &[],
    );
    let (event, failure) = fixture
        .deploy(&fixture.deployment("d-1", &bad, FileExistsBehavior::Disallow))
        .await
        .unwrap_err();
    assert_eq!(event, "BeforeInstall");
    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert!(failure.message.contains("hooks.Install"), "{failure}");
}

#[tokio::test]
async fn a_hostile_deployment_id_is_refused_before_touching_the_disk() {
    let fixture = Fixture::new(5);
    let good = fixture.revision("good", "version: 0.0\nos: linux\n", &[]);
    let outcome = fixture
        .host
        .run_event(
            &fixture.deployment("../../escape", &good, FileExistsBehavior::Disallow),
            "DownloadBundle",
            &Discard,
            &CancellationToken::new(),
        )
        .await;
    let failure = outcome.result.unwrap_err();
    assert!(failure.message.contains("not a valid id"), "{failure}");
    assert!(!fixture.dir.path().join("escape").exists());
}

#[tokio::test]
async fn secrets_in_hook_output_are_masked_everywhere() {
    let fixture = Fixture::new(5);
    let spec = "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: leak.sh\n";
    let script = "#!/bin/sh\necho \"connecting with DB_PASSWORD=hunter2\"\necho token: abc.def >&2\nexit 1\n";
    let src = fixture.revision("v1", spec, &[("leak.sh", script)]);
    let (event, failure) = fixture
        .deploy(&fixture.deployment("d-1", &src, FileExistsBehavior::Disallow))
        .await
        .unwrap_err();
    assert_eq!(event, "BeforeInstall");
    assert_eq!(failure.code, ErrorCode::ScriptFailed);
    let log_path = fixture.dir.path().join("root/g-1/d-1/logs/scripts.log");
    let log = fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("DB_PASSWORD=****"), "{log}");
    assert!(log.contains("token: ****"), "{log}");
    assert!(
        !log.contains("hunter2") && !log.contains("abc.def"),
        "{log}"
    );
    assert_eq!(
        fs::metadata(&log_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
