#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real `ferry` binary's deployment commands against a whole ferry served in the test
//! process: registry, revisions and orchestrator on one port, and real agents (the ferry-agent
//! library, each with its own deployment root) running real hook scripts. The application,
//! group and instances are created with the gRPC clients; everything else goes through the
//! binary, as a user would type it.

mod support;

use std::path::Path;
use std::process::{Output, Stdio};

use ferry_orchestrator::deployments::lifecycle;
use ferry_proto::common::v1::DeploymentStatus;
use serde_json::Value;
use support::{Cluster, WAIT, create_group};

const APP: &str = "shop";
const GROUP: &str = "web";

// ---------------------------------------------------------------------------------------------
// ferry in the test process (`support`), with the application and group deployed to.

/// Serves ferry, with the application `shop` and its group `web` (instances tagged
/// `group=web`, AllAtOnce).
async fn start() -> Cluster {
    let cluster = Cluster::start().await;
    create_group(&cluster.registry, APP, GROUP, ("group", GROUP)).await;
    cluster
}

/// The binary against this test's ferry.
impl Cluster {
    /// Runs `ferry ARGS --endpoint <this ferry>` to its end.
    async fn ferry(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--endpoint", &self.endpoint]);
        ferry(&all).await
    }

    /// Starts `ferry ARGS --endpoint <this ferry>`; `Running::finish` waits for it.
    fn spawn(&self, args: &[&str]) -> Running {
        let child = command(args)
            .args(["--endpoint", &self.endpoint])
            .spawn()
            .unwrap();
        Running { child }
    }
}

// ---------------------------------------------------------------------------------------------
// The binary.

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(support::ferry(args));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn ferry(args: &[&str]) -> Run {
    let output = tokio::time::timeout(WAIT, command(args).output())
        .await
        .unwrap_or_else(|_| panic!("ferry {args:?} did not end"))
        .unwrap();
    output.into()
}

struct Running {
    child: tokio::process::Child,
}

impl Running {
    async fn finish(self) -> Run {
        tokio::time::timeout(WAIT, self.child.wait_with_output())
            .await
            .expect("ferry did not end")
            .unwrap()
            .into()
    }
}

// ---------------------------------------------------------------------------------------------
// The bundle a user would push.

const APPSPEC: &str = "version: 0.0
os: linux
files:
  - source: app.txt
    destination: /srv/app
hooks:
  AfterInstall:
    - location: scripts/after_install.sh
      timeout: 120
  ValidateService:
    - location: scripts/validate.sh
";

/// A bundle directory: AfterInstall prints two lines, then holds while the install root
/// holds `hold`; ValidateService fails when it holds `fail`.
fn bundle(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "appspec.yml", APPSPEC, 0o644);
    write(dir.path(), "app.txt", &format!("{version}\n"), 0o644);
    write(
        dir.path(),
        "scripts/after_install.sh",
        "#!/bin/sh\necho \"hello from $LIFECYCLE_EVENT\"\necho \"deployment $DEPLOYMENT_ID\"\n\
         while [ -e \"$FERRY_INSTALL_ROOT/hold\" ]; do sleep 0.05; done\n",
        0o755,
    );
    write(
        dir.path(),
        "scripts/validate.sh",
        "#!/bin/sh\nif [ -e \"$FERRY_INSTALL_ROOT/fail\" ]; then echo unhealthy >&2; exit 1; fi\necho healthy\n",
        0o755,
    );
    dir
}

fn write(root: &Path, rel: &str, body: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `ferry push` of a fresh bundle; returns its output (the JSON object).
async fn push(cluster: &Cluster, version: &str) -> Value {
    let dir = bundle(version);
    let run = cluster
        .ferry(&[
            "push",
            "--application-name",
            APP,
            "--source",
            dir.path().to_str().unwrap(),
            "--description",
            version,
        ])
        .await;
    run.assert_code(0);
    run.json()
}

/// `ferry create-deployment --revision '<revision JSON>' --output json`; returns the id.
async fn create(cluster: &Cluster, revision: &Value) -> String {
    let revision = revision.to_string();
    let run = cluster
        .ferry(&[
            "create-deployment",
            "--application-name",
            APP,
            "--deployment-group-name",
            GROUP,
            "--revision",
            &revision,
            "--output",
            "json",
        ])
        .await;
    run.assert_code(0);
    let id = run.json()["deploymentId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("d-"), "{id}");
    id
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_create_deployment_then_wait_get_list_and_targets() {
    let cluster = start().await;
    let agents = [
        cluster.agent("local-1", GROUP).await,
        cluster.agent("local-2", GROUP).await,
    ];

    let dir = bundle("v1");
    let source = dir.path().to_str().unwrap();
    let pushed = cluster
        .ferry(&["push", "--application-name", APP, "--source", source])
        .await;
    pushed.assert_code(0);
    let output = pushed.json();
    let revision = &output["revision"];
    assert_eq!(revision["revisionType"], "REVISION_LOCATION_TYPE_UPLOADED");
    assert_eq!(
        revision["uploadedLocation"]["bundleType"],
        "BUNDLE_TYPE_TGZ"
    );
    let sha256 = output["sha256"].as_str().unwrap();
    assert_eq!(revision["uploadedLocation"]["digest"], sha256);
    assert!(output["size"].as_u64().unwrap() > 0);
    assert!(
        pushed.stderr.contains("To deploy with this revision, run:")
            && pushed
                .stderr
                .contains("ferry create-deployment --application-name shop --revision '{"),
        "{}",
        pushed.stderr
    );
    // The same directory pushed again is the same bundle.
    let again = cluster
        .ferry(&["push", "--application-name", APP, "--source", source])
        .await;
    again.assert_code(0);
    assert_eq!(again.json()["sha256"], sha256);

    // Exactly as a user pipes push's revision into create-deployment.
    let id = create(&cluster, revision).await;
    cluster
        .ferry(&["wait", "deployment-successful", "--deployment-id", &id])
        .await
        .assert_code(0);
    for agent in &agents {
        assert_eq!(agent.installed("srv/app/app.txt"), "v1\n");
    }

    let got = cluster
        .ferry(&["get-deployment", "--deployment-id", &id])
        .await;
    got.assert_code(0);
    let info = &got.json()["deploymentInfo"];
    assert_eq!(info["status"], "DEPLOYMENT_STATUS_SUCCEEDED");
    assert_eq!(info["deploymentId"], id.as_str());
    assert_eq!(info["deploymentOverview"]["succeeded"], "2");
    assert_eq!(info["revision"], *revision);

    let batch = cluster
        .ferry(&[
            "batch-get-deployments",
            "--deployment-ids",
            &id,
            "d-AAAAAAAAA",
        ])
        .await;
    batch.assert_code(0);
    assert_eq!(
        batch.json()["deploymentsInfo"][0]["deploymentId"],
        id.as_str()
    );

    let listed = cluster
        .ferry(&[
            "list-deployments",
            "--application-name",
            APP,
            "--deployment-group-name",
            GROUP,
            "--include-only-statuses",
            "Succeeded",
            "InProgress",
        ])
        .await;
    listed.assert_code(0);
    assert_eq!(listed.json()["deployments"], serde_json::json!([id]));
    let none = cluster
        .ferry(&["list-deployments", "--include-only-statuses", "Failed"])
        .await;
    none.assert_code(0);
    assert!(none.json().get("deployments").is_none(), "{}", none.stdout);

    let targets = cluster
        .ferry(&["list-deployment-targets", "--deployment-id", &id])
        .await;
    targets.assert_code(0);
    assert_eq!(
        targets.json()["targetIds"],
        serde_json::json!(["local-1", "local-2"])
    );
    let failed = cluster
        .ferry(&[
            "list-deployment-targets",
            "--deployment-id",
            &id,
            "--target-filters",
            "TargetStatus=Failed,Skipped",
        ])
        .await;
    failed.assert_code(0);
    assert!(
        failed.json().get("targetIds").is_none(),
        "{}",
        failed.stdout
    );

    let target = cluster
        .ferry(&[
            "get-deployment-target",
            "--deployment-id",
            &id,
            "--target-id",
            "local-1",
        ])
        .await;
    target.assert_code(0);
    let instance = &target.json()["deploymentTarget"]["instanceTarget"];
    assert_eq!(instance["status"], "TARGET_STATUS_SUCCEEDED");
    let events = instance["lifecycleEvents"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["lifecycleEventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, lifecycle::IN_PLACE);
    assert!(
        events
            .iter()
            .all(|e| e["status"] == "LIFECYCLE_EVENT_STATUS_SUCCEEDED"),
        "{events:?}"
    );

    let both = cluster
        .ferry(&[
            "batch-get-deployment-targets",
            "--deployment-id",
            &id,
            "--target-ids",
            "local-1",
            "local-2",
            "--output",
            "table",
        ])
        .await;
    both.assert_code(0);
    assert!(
        both.stdout
            .contains("deploymentTargets[1].instanceTarget.targetId"),
        "{}",
        both.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_watch_shows_hook_output_and_the_outcome() {
    let cluster = start().await;
    let _agent = cluster.agent("local-1", GROUP).await;
    let pushed = push(&cluster, "v1").await;
    let id = create(&cluster, &pushed["revision"]).await;

    let watched = cluster.ferry(&["deployment", "watch", &id]).await;
    watched.assert_code(0);
    let out = &watched.stdout;
    for expected in [
        format!(
            "Deployment {id}: application shop, deployment group web, CodeDeployDefault.AllAtOnce"
        ),
        "[local-1 AfterInstall] hello from AfterInstall".to_owned(),
        format!("[local-1 AfterInstall] deployment {id}"),
        "[local-1 ValidateService] healthy".to_owned(),
        "local-1 AfterInstall Succeeded".to_owned(),
        "[####################] 1/1  pending 0, in progress 0, succeeded 1, failed 0, skipped 0"
            .to_owned(),
        format!(
            "Deployment {id} Succeeded: pending 0, in progress 0, succeeded 1, failed 0, skipped 0"
        ),
    ] {
        assert!(out.contains(&expected), "{expected:?} not in:\n{out}");
    }
    // Lines come in the order they happened.
    let hello = out.find("hello from AfterInstall").unwrap();
    assert!(out.find("local-1 AfterInstall InProgress").unwrap() < hello);
    assert!(hello < out.find("local-1 AfterInstall Succeeded").unwrap());

    // As JSON: one event per line, the last the terminal status.
    let json = cluster
        .ferry(&["deployment", "watch", &id, "--output", "json"])
        .await;
    json.assert_code(0);
    let events: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["hookOutput"]["lines"][0]["text"] == "hello from AfterInstall")
    );
    let last = events.last().unwrap();
    assert_eq!(
        last["deploymentStatusChanged"]["status"],
        "DEPLOYMENT_STATUS_SUCCEEDED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_fails_watch_with_1_and_wait_with_255() {
    let cluster = start().await;
    let agent = cluster.agent("local-1", GROUP).await;
    agent.mark("fail");
    let pushed = push(&cluster, "v1").await;
    let id = create(&cluster, &pushed["revision"]).await;

    let watched = cluster.ferry(&["deployment", "watch", &id]).await;
    watched.assert_code(1);
    let out = &watched.stdout;
    for expected in [
        "[local-1 ValidateService] unhealthy".to_owned(),
        "local-1 ValidateService Failed: ScriptFailed".to_owned(),
        format!(
            "Deployment {id} Failed: pending 0, in progress 0, succeeded 0, failed 1, skipped 0"
        ),
        "Error HEALTH_CONSTRAINTS: ".to_owned(),
    ] {
        assert!(out.contains(&expected), "{expected:?} not in:\n{out}");
    }

    let waited = cluster
        .ferry(&["wait", "deployment-successful", "--deployment-id", &id])
        .await;
    waited.assert_code(255);
    assert!(
        waited
            .stderr
            .contains("Waiter DeploymentSuccessful failed: Waiter encountered a terminal failure state: For expression \"deploymentInfo.status\" we matched expected path: \"Failed\""),
        "{}",
        waited.stderr
    );
    assert!(
        waited
            .stderr
            .contains(&format!("Deployment {id} Failed: HEALTH_CONSTRAINTS")),
        "{}",
        waited.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_deployment_stops_a_held_deployment() {
    let cluster = start().await;
    let agent = cluster.agent("local-1", GROUP).await;
    agent.mark("hold");
    let pushed = push(&cluster, "v1").await;
    let id = create(&cluster, &pushed["revision"]).await;
    let watcher = cluster.spawn(&["deployment", "watch", &id]);
    let waiter = cluster.spawn(&[
        "wait",
        "deployment-successful",
        "--deployment-id",
        &id,
        "--delay",
        "0.2",
    ]);
    cluster.running(&id, "local-1", "AfterInstall").await;
    cluster.printed(&id, "hello from AfterInstall").await;

    let stopped = cluster
        .ferry(&[
            "stop-deployment",
            "--deployment-id",
            &id,
            "--no-auto-rollback-enabled",
        ])
        .await;
    stopped.assert_code(0);
    let status = stopped.json()["status"].as_str().unwrap().to_owned();
    assert!(
        status == "STOP_STATUS_PENDING" || status == "STOP_STATUS_SUCCEEDED",
        "{}",
        stopped.stdout
    );
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Stopped as i32);

    let watched = watcher.finish().await;
    watched.assert_code(1);
    assert!(
        watched
            .stdout
            .contains("[local-1 AfterInstall] hello from AfterInstall")
            && watched.stdout.contains(&format!("Deployment {id} Stopped"))
            && watched.stdout.contains("Error MANUAL_STOP: "),
        "{}",
        watched.stdout
    );
    let waited = waiter.finish().await;
    waited.assert_code(255);
    assert!(waited.stderr.contains("\"Stopped\""), "{}", waited.stderr);
    agent.unmark("hold");

    let got = cluster
        .ferry(&["get-deployment", "--deployment-id", &id])
        .await;
    got.assert_code(0);
    assert_eq!(
        got.json()["deploymentInfo"]["status"],
        "DEPLOYMENT_STATUS_STOPPED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_deployment_with_watch_exits_by_the_outcome() {
    let cluster = start().await;
    let agent = cluster.agent("local-1", GROUP).await;
    let pushed = push(&cluster, "v1").await;
    // AWS's shorthand, with CodeDeploy's enum names.
    let shorthand = format!(
        "revisionType=Uploaded,uploadedLocation={{digest={},bundleType=tgz}}",
        pushed["sha256"].as_str().unwrap()
    );
    let args = [
        "create-deployment",
        "--application-name",
        APP,
        "--deployment-group-name",
        GROUP,
        "--revision",
        &shorthand,
        "--file-exists-behavior",
        "OVERWRITE",
        "--description",
        "watched",
        "--watch",
    ];
    let succeeded = cluster.ferry(&args).await;
    succeeded.assert_code(0);
    let id = succeeded.json()["deploymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        succeeded
            .stderr
            .contains("[local-1 AfterInstall] hello from AfterInstall")
            && succeeded
                .stderr
                .contains(&format!("Deployment {id} Succeeded")),
        "{}",
        succeeded.stderr
    );
    assert_eq!(cluster.get(&id).await.description, "watched");

    agent.mark("fail");
    let failed = cluster.ferry(&args).await;
    failed.assert_code(1);
    let second = failed.json()["deploymentId"].as_str().unwrap().to_owned();
    assert_ne!(second, id);
    assert!(
        failed
            .stderr
            .contains(&format!("Deployment {second} Failed")),
        "{}",
        failed.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_calls_name_the_codedeploy_exception() {
    let cluster = start().await;
    let unknown = "d-AAAAAAAAA";
    let got = cluster
        .ferry(&["get-deployment", "--deployment-id", unknown])
        .await;
    got.assert_code(1);
    assert!(got.stdout.is_empty(), "{}", got.stdout);
    assert!(
        got.stderr.starts_with(
            "An error occurred (DeploymentDoesNotExistException) when calling the GetDeployment operation: "
        ),
        "{}",
        got.stderr
    );

    let watched = cluster.ferry(&["deployment", "watch", unknown]).await;
    watched.assert_code(1);
    assert!(
        watched.stderr.contains("(DeploymentDoesNotExistException)"),
        "{}",
        watched.stderr
    );
    let waited = cluster
        .ferry(&["wait", "deployment-successful", "--deployment-id", unknown])
        .await;
    waited.assert_code(255);
    assert!(
        waited.stderr.contains("(DeploymentDoesNotExistException)"),
        "{}",
        waited.stderr
    );
    let stopped = cluster
        .ferry(&["stop-deployment", "--deployment-id", unknown])
        .await;
    stopped.assert_code(1);
    assert!(
        stopped
            .stderr
            .contains("when calling the StopDeployment operation"),
        "{}",
        stopped.stderr
    );
    // A push to an application that does not exist.
    let dir = bundle("v1");
    let pushed = cluster
        .ferry(&[
            "push",
            "--application-name",
            "nope",
            "--source",
            dir.path().to_str().unwrap(),
        ])
        .await;
    pushed.assert_code(1);
    assert!(
        pushed
            .stderr
            .contains("(ApplicationDoesNotExistException) when calling the UploadBundle operation"),
        "{}",
        pushed.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flag_values_exit_2_naming_the_flag() {
    let create = |flag: &'static str, value: &'static str| {
        let mut args = vec![
            "create-deployment",
            "--application-name",
            APP,
            "--deployment-group-name",
            GROUP,
        ];
        if flag != "--revision" {
            args.extend([
                "--revision",
                "revisionType=S3,s3Location={bucket=b,key=k,bundleType=zip}",
            ]);
        }
        args.extend([flag, value]);
        args
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (create("--revision", "{not json"), "--revision"),
        (create("--revision", "revisionType=S4"), "--revision"),
        (
            create("--file-exists-behavior", "REPLACE"),
            "--file-exists-behavior",
        ),
        (
            create("--auto-rollback-configuration", "enabled=maybe"),
            "--auto-rollback-configuration",
        ),
        (
            vec!["list-deployments", "--include-only-statuses", "Done"],
            "--include-only-statuses",
        ),
        (
            vec!["list-deployments", "--create-time-range", "start=yesterday"],
            "--create-time-range",
        ),
        (
            vec![
                "list-deployment-targets",
                "--deployment-id",
                "d-AAAAAAAAA",
                "--target-filters",
                "TargetStatus=Gone",
            ],
            "--target-filters",
        ),
        (
            vec!["continue-deployment", "--deployment-wait-type", "SOON"],
            "--deployment-wait-type",
        ),
        (
            vec![
                "wait",
                "deployment-successful",
                "--deployment-id",
                "d-AAAAAAAAA",
                "--max-attempts",
                "0",
            ],
            "--max-attempts",
        ),
    ];
    for (args, flag) in cases {
        let run = ferry(&args).await;
        run.assert_code(2);
        assert!(run.stderr.contains(flag), "{args:?}: {}", run.stderr);
    }
    let missing = ferry(&[
        "create-deployment",
        "--application-name",
        APP,
        "--deployment-group-name",
        GROUP,
    ])
    .await;
    missing.assert_code(2);
    assert!(missing.stderr.contains("--revision"), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_checks_the_directory_before_uploading() {
    // Nothing listens here: each refusal comes before any call.
    let endpoint = ["--endpoint", "http://127.0.0.1:9"];
    let empty = tempfile::tempdir().unwrap();
    let mut args = vec!["push", "--application-name", APP, "--source"];
    args.push(empty.path().to_str().unwrap());
    args.extend(endpoint);
    let run = ferry(&args).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("--source") && run.stderr.contains("no appspec.yml or appspec.yaml"),
        "{}",
        run.stderr
    );

    let json_only = tempfile::tempdir().unwrap();
    write(json_only.path(), "appspec.json", "{}", 0o644);
    let mut args = vec!["push", "--application-name", APP, "--source"];
    args.push(json_only.path().to_str().unwrap());
    args.extend(endpoint);
    let run = ferry(&args).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("rename it appspec.yml"),
        "{}",
        run.stderr
    );

    let invalid = bundle("v1");
    std::fs::remove_file(invalid.path().join("scripts/validate.sh")).unwrap();
    let mut args = vec!["push", "--application-name", APP, "--source"];
    args.push(invalid.path().to_str().unwrap());
    args.extend(endpoint);
    let run = ferry(&args).await;
    run.assert_code(1);
    assert!(
        run.stderr.contains("appspec.yml:") && run.stderr.contains("scripts/validate.sh"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was uploaded"),
        "{}",
        run.stderr
    );
}
