//! The orchestrator as a real process, killed with SIGKILL in the middle of a deployment to three
//! real agents and started again on the same address and data directory: it resumes the
//! deployment, which succeeds with every lifecycle event run exactly once on every host.

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

use ferry_proto::common::v1::{
    BundleType, ComputePlatform, DeploymentStatus, LifecycleEventStatus, RevisionLocation, Tag,
    TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{
    BatchGetDeploymentTargetsRequest, CreateDeploymentRequest, DeploymentInfo,
    GetDeploymentRequest, InstanceTarget, TargetStatus,
};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, CreateApplicationRequest, CreateDeploymentGroupRequest,
    RegisterOnPremisesInstanceRequest,
};
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use ferry_tests::{Service, binary, channel, wait_serving};
use serde_json::json;
use tokio::time::Instant;
use tonic::transport::Channel;

const APP: &str = "shop";
const GROUP: &str = "web";
const INSTANCES: [&str; 3] = ["web-1", "web-2", "web-3"];
const DEPLOYMENT_SERVICE: &str = "ferry.deploy.v1.DeploymentService";

/// An in-place deployment's lifecycle events, in CodeDeploy's order.
const ALL_EVENTS: [&str; 7] = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// The events the revision has scripts for (there is no earlier revision to stop).
const HOOK_EVENTS: [&str; 4] = [
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// A free port on 127.0.0.1: bound, then released for the orchestrator to take (twice).
fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A command for a workspace binary that ignores `FERRY_…` settings of the test's environment.
fn ferry_command(name: &str) -> Command {
    let mut command = Command::new(binary(name));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FERRY_") {
            command.env_remove(key);
        }
    }
    command
}

/// Writes `config` (JSON, which is YAML) to `path` and returns the path.
fn write_config(path: PathBuf, config: &serde_json::Value) -> PathBuf {
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    path
}

/// Registry, revisions and orchestrator as processes, each with its own data directory; the
/// orchestrator on a fixed address so that it can be started again where the agents look.
struct Ferry {
    dir: tempfile::TempDir,
    registry: SocketAddr,
    revisions: SocketAddr,
    orchestrator: SocketAddr,
    orchestrator_config: PathBuf,
    _processes: Vec<Service>,
}

impl Ferry {
    /// Starts the registry and revisions services and writes the orchestrator's configuration.
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = ferry_command("ferry-registry");
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("registry"));
        let mut registry = Service::start(command);
        let registry_addr = registry.wait_for_address();

        let config = write_config(
            dir.path().join("revisions.yaml"),
            &json!({ "registry_endpoint": format!("http://{registry_addr}") }),
        );
        let mut command = ferry_command("ferry-revisions");
        command
            .arg("--config")
            .arg(config)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("revisions"));
        let mut revisions = Service::start(command);
        let revisions_addr = revisions.wait_for_address();

        let orchestrator_config = write_config(
            dir.path().join("orchestrator.yaml"),
            &json!({
                "registry_endpoint": format!("http://{registry_addr}"),
                "revisions_endpoint": format!("http://{revisions_addr}"),
                // Generous: the agents' sessions drop with the orchestrator, and the events
                // they are running must not fail for it.
                "limits": { "agent_grace_secs": 30 },
                "agents": { "heartbeat_interval_secs": 1, "heartbeat_timeout_secs": 5 },
            }),
        );
        Self {
            dir,
            registry: registry_addr,
            revisions: revisions_addr,
            orchestrator: free_address(),
            orchestrator_config,
            _processes: vec![registry, revisions],
        }
    }

    /// Starts the orchestrator on its address and data directory (the same every time).
    fn start_orchestrator(&self) -> Service {
        let mut command = ferry_command("ferry-orchestrator");
        command
            .arg("--config")
            .arg(&self.orchestrator_config)
            .args(["--listen", &self.orchestrator.to_string(), "--data-dir"])
            .arg(self.dir.path().join("orchestrator"));
        Service::start(command)
    }

    async fn deployments(&self) -> DeploymentServiceClient<Channel> {
        DeploymentServiceClient::new(channel(self.orchestrator).await)
    }

    /// The application and a one-at-a-time group of on-premises instances tagged group=web.
    async fn create_group(&self) {
        let mut registry = RegistryServiceClient::new(channel(self.registry).await);
        registry
            .create_application(CreateApplicationRequest {
                application_name: APP.into(),
                compute_platform: ComputePlatform::Server as i32,
                ..Default::default()
            })
            .await
            .unwrap();
        registry
            .create_deployment_group(CreateDeploymentGroupRequest {
                application_name: APP.into(),
                deployment_group_name: GROUP.into(),
                deployment_config_name: "CodeDeployDefault.OneAtATime".into(),
                service_role_arn: "arn:aws:iam::000000000000:role/ferry".into(),
                on_premises_instance_tag_filters: vec![TagFilter {
                    key: "group".into(),
                    value: GROUP.into(),
                    r#type: TagFilterType::KeyAndValue as i32,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Registers `name` in the group and starts its agent, with its own directories.
    async fn host(&self, name: &'static str) -> Host {
        let mut registry = RegistryServiceClient::new(channel(self.registry).await);
        let credential = registry
            .register_on_premises_instance(RegisterOnPremisesInstanceRequest {
                instance_name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .instance_credential;
        registry
            .add_tags_to_on_premises_instances(AddTagsToOnPremisesInstancesRequest {
                tags: vec![Tag {
                    key: "group".into(),
                    value: GROUP.into(),
                }],
                instance_names: vec![name.into()],
            })
            .await
            .unwrap();
        let dir = self.dir.path().join(name);
        let install_root = dir.join("install");
        // The install root exists before the first hook resolves `$FERRY_INSTALL_ROOT/..`.
        std::fs::create_dir_all(&install_root).unwrap();
        let credential_file = dir.join("credential");
        std::fs::write(&credential_file, credential).unwrap();
        let config = write_config(
            dir.join("agent.yaml"),
            &json!({
                "orchestrator_endpoint": format!("http://{}", self.orchestrator),
                "instance_name": name,
                "credential_file": credential_file,
                "deployment_root": dir.join("root"),
                "install_root": install_root,
                "log_dir": dir.join("logs"),
                "reconnect": { "initial_backoff_ms": 100, "max_backoff_ms": 1000 },
            }),
        );
        let mut command = ferry_command("ferry-agent");
        command.arg("run").arg("--config").arg(config);
        Host {
            name,
            dir,
            _agent: Service::start(command),
        }
    }
}

/// One host: its agent and the agent's directories.
struct Host {
    name: &'static str,
    dir: PathBuf,
    _agent: Service,
}

impl Host {
    fn install_root(&self) -> PathBuf {
        self.dir.join("install")
    }

    /// What the hooks appended, one `"<event> <deployment id>"` line each; outside the install
    /// root, so no Install touches it.
    fn hook_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("events.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The commands the agent accepted (`<deployment_root>/ferry/commands/<command-id>.json`).
    fn command_records(&self) -> usize {
        std::fs::read_dir(self.dir.join("root/ferry/commands"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|ext| ext == "json"))
                    .count()
            })
            .unwrap_or(0)
    }
}

/// A tar bundle: app.txt to /srv/app and one script for the four hooks, which records the event
/// and, in AfterInstall, takes a second so the deployment can be caught half-way.
fn bundle() -> Vec<u8> {
    let appspec = [
        "version: 0.0",
        "os: linux",
        "files:",
        "  - source: app.txt",
        "    destination: /srv/app",
        "hooks:",
        "  BeforeInstall:",
        "    - location: scripts/record.sh",
        "  AfterInstall:",
        "    - location: scripts/record.sh",
        "  ApplicationStart:",
        "    - location: scripts/record.sh",
        "  ValidateService:",
        "    - location: scripts/record.sh",
        "",
    ]
    .join("\n");
    let record = "#!/bin/sh\n\
        echo \"$LIFECYCLE_EVENT $DEPLOYMENT_ID\" >> \"$FERRY_INSTALL_ROOT/../events.log\"\n\
        if [ \"$LIFECYCLE_EVENT\" = AfterInstall ]; then sleep 1; fi\n";
    let files = [
        ("appspec.yml", appspec.as_str(), 0o644),
        ("app.txt", "v1\n", 0o644),
        ("scripts/record.sh", record, 0o755),
    ];
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

async fn upload(revisions: SocketAddr) -> RevisionLocation {
    let messages = vec![
        UploadBundleRequest {
            part: Some(Part::Header(UploadBundleHeader {
                application_name: APP.into(),
                bundle_type: BundleType::Tar as i32,
                ..Default::default()
            })),
        },
        UploadBundleRequest {
            part: Some(Part::Chunk(bundle())),
        },
    ];
    RevisionServiceClient::new(channel(revisions).await)
        .upload_bundle(tokio_stream::iter(messages))
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
}

async fn get(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    deployments
        .get_deployment(GetDeploymentRequest {
            deployment_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_info
        .unwrap()
}

fn status(info: &DeploymentInfo) -> DeploymentStatus {
    DeploymentStatus::try_from(info.status).unwrap()
}

fn is_terminal(info: &DeploymentInfo) -> bool {
    matches!(
        status(info),
        DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped
    )
}

/// When, once one target has succeeded, the orchestrator is killed.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// At once: the next target has just been started, its first commands stored or sent.
    NextTarget,
    /// While a hook of the next target runs on its host (AfterInstall's second): the result is
    /// produced while the orchestrator is down and must reach the new process.
    RunningHook,
}

#[tokio::test]
async fn a_deployment_resumes_after_a_kill_between_targets() {
    killed_half_way(KillAt::NextTarget).await;
}

#[tokio::test]
async fn a_deployment_resumes_after_a_kill_while_a_hook_runs() {
    killed_half_way(KillAt::RunningHook).await;
}

/// The lifecycle events (`"<target> <event>"`) that were running on the orchestrator's clock
/// when it was killed.
fn running_at(targets: &[InstanceTarget], at: SystemTime) -> Vec<String> {
    let time = |t: Option<&prost_types::Timestamp>| t.and_then(|t| SystemTime::try_from(*t).ok());
    let mut running = Vec::new();
    for target in targets {
        for event in &target.lifecycle_events {
            let start = time(event.start_time.as_ref());
            let end = time(event.end_time.as_ref());
            if start.is_some_and(|s| s <= at) && end.is_none_or(|e| e > at) {
                running.push(format!(
                    "{} {}",
                    target.target_id, event.lifecycle_event_name
                ));
            }
        }
    }
    running
}

/// A deployment of three targets, one at a time; the orchestrator is killed with SIGKILL after
/// the first target succeeded (`kill_at` says exactly when) and started again.
async fn killed_half_way(kill_at: KillAt) {
    let ferry = Ferry::start();
    let mut orchestrator = ferry.start_orchestrator();
    assert_eq!(orchestrator.wait_for_address(), ferry.orchestrator);
    wait_serving(
        channel(ferry.revisions).await,
        "ferry.revision.v1.RevisionService",
    )
    .await;
    wait_serving(channel(ferry.orchestrator).await, DEPLOYMENT_SERVICE).await;

    ferry.create_group().await;
    let mut hosts = Vec::new();
    for name in INSTANCES {
        hosts.push(ferry.host(name).await);
    }
    let revision = upload(ferry.revisions).await;
    let mut deployments = ferry.deployments().await;
    let started = Instant::now();
    let id = deployments
        .create_deployment(CreateDeploymentRequest {
            application_name: APP.into(),
            deployment_group_name: GROUP.into(),
            revision: Some(revision),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_id;

    let at_kill = half_way(&mut deployments, &id, &hosts, kill_at).await;
    orchestrator.child.kill().unwrap();
    let killed_at = SystemTime::now();
    let exit = orchestrator.child.wait().unwrap();
    assert_eq!(exit.signal(), Some(9), "{exit:?}");
    let overview = at_kill.deployment_overview.unwrap();
    assert!(
        overview.succeeded < 3 && overview.pending + overview.in_progress > 0,
        "the deployment had finished at the kill: {overview:?}"
    );
    eprintln!(
        "{kill_at:?}: killed the orchestrator {:?} into the deployment: {overview:?}",
        started.elapsed()
    );
    drop(deployments);

    // The same address, configuration and data: the deployment is picked up where it was.
    // Nothing else listens there now, so SERVING on it is the new process.
    let mut orchestrator = ferry.start_orchestrator();
    let resumed = orchestrator.wait_for_line("resuming deployment", Duration::from_secs(30));
    assert!(
        resumed.contains(&format!("deployment_id={id}")),
        "{resumed}"
    );
    wait_serving(channel(ferry.orchestrator).await, DEPLOYMENT_SERVICE).await;

    let mut deployments = ferry.deployments().await;
    let info = succeeded(&mut deployments, &id).await;
    eprintln!(
        "{kill_at:?}: the deployment succeeded {:?} after it was created",
        started.elapsed()
    );
    let overview = info.deployment_overview.unwrap();
    assert_eq!(
        (
            overview.succeeded,
            overview.failed,
            overview.skipped,
            overview.pending,
            overview.in_progress
        ),
        (3, 0, 0, 0, 0),
        "{overview:?}"
    );

    let targets: Vec<InstanceTarget> = deployments
        .batch_get_deployment_targets(BatchGetDeploymentTargetsRequest {
            deployment_id: id.clone(),
            target_ids: INSTANCES.iter().map(|&n| n.to_owned()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_targets
        .into_iter()
        .map(|t| t.instance_target.unwrap())
        .collect();
    assert_eq!(targets.len(), INSTANCES.len());
    eprintln!(
        "{kill_at:?}: running at the kill: {:?}",
        running_at(&targets, killed_at)
    );
    let expected: Vec<_> = ALL_EVENTS
        .iter()
        .map(|&e| (e, LifecycleEventStatus::Succeeded))
        .collect();
    for target in &targets {
        assert_eq!(
            target.status,
            TargetStatus::Succeeded as i32,
            "{}: {target:?}",
            target.target_id
        );
        let events: Vec<(&str, LifecycleEventStatus)> = target
            .lifecycle_events
            .iter()
            .map(|e| {
                (
                    e.lifecycle_event_name.as_str(),
                    LifecycleEventStatus::try_from(e.status).unwrap(),
                )
            })
            .collect();
        assert_eq!(events, expected, "{}", target.target_id);
    }

    let hook_lines: Vec<String> = HOOK_EVENTS.iter().map(|e| format!("{e} {id}")).collect();
    for host in &hosts {
        // Each hook ran once: none lost to the kill, none run again after the restart.
        assert_eq!(host.hook_lines(), hook_lines, "{}", host.name);
        // And each lifecycle event was one command: none sent again under a new id.
        assert_eq!(
            host.command_records(),
            ALL_EVENTS.len(),
            "{}: commands the agent accepted",
            host.name
        );
        let installed =
            std::fs::read_to_string(host.install_root().join("srv/app/app.txt")).unwrap();
        assert_eq!(installed, "v1\n", "{}", host.name);
    }
}

/// Polls until a target has succeeded and another has got as far as `kill_at` says, the
/// deployment still in progress; returns the deployment as last seen.
async fn half_way(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
    hosts: &[Host],
    kill_at: KillAt,
) -> DeploymentInfo {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = get(deployments, id).await;
        let overview = info.deployment_overview.unwrap_or_default();
        assert!(
            !is_terminal(&info),
            "the deployment ended before it could be interrupted: {info:?}"
        );
        let ready = overview.succeeded >= 1
            && status(&info) == DeploymentStatus::InProgress
            && match kill_at {
                KillAt::NextTarget => true,
                // A host's AfterInstall has written its line and is sleeping: its last line.
                KillAt::RunningHook => hosts.iter().any(|h| {
                    h.hook_lines()
                        .last()
                        .is_some_and(|l| l.starts_with("AfterInstall "))
                }),
            };
        if ready {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "never got to {kill_at:?} within 60 s: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls (up to 90 s) until the deployment has succeeded; fails at once if it ends otherwise.
async fn succeeded(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let info = get(deployments, id).await;
        if status(&info) == DeploymentStatus::Succeeded {
            return info;
        }
        assert!(
            !is_terminal(&info),
            "the resumed deployment ended without succeeding: {info:?}"
        );
        assert!(
            Instant::now() < deadline,
            "the resumed deployment did not succeed within 90 s: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
