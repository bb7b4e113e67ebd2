//! The cluster under test: `ferry-registry`, `ferry-revisions` and `ferry-orchestrator` as
//! processes on one fresh PostgreSQL database, three `ferry-agent` processes, and, when asked,
//! a moto server standing in for S3.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_proto::common::v1::{ComputePlatform, DeploymentStatus, Tag, TagFilter, TagFilterType};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{
    BatchGetDeploymentTargetsRequest, DeploymentInfo, GetDeploymentRequest, InstanceTarget,
};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, AutoRollbackConfiguration, AutoRollbackEvent,
    CreateApplicationRequest, CreateDeploymentGroupRequest, RegisterOnPremisesInstanceRequest,
};
use ferry_tests::{Service, binary, channel, wait_serving};
use serde_json::json;
use tokio::time::Instant;
use tonic::transport::Channel;

pub const APP: &str = "shop";
pub const GROUP: &str = "web";
pub const INSTANCES: [&str; 3] = ["web-1", "web-2", "web-3"];
pub const DEPLOYMENT_SERVICE: &str = "ferry.deploy.v1.DeploymentService";

/// An in-place deployment's lifecycle events, in CodeDeploy's order.
pub const ALL_EVENTS: [&str; 7] = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// A free port on 127.0.0.1: bound, then released for a server to take.
pub fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A command for a workspace binary that ignores `FERRY_…` settings of the test's environment.
pub fn ferry_command(name: &str) -> Command {
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

/// A moto S3 server on a free port, killed when dropped.
pub struct Moto {
    pub endpoint: String,
    _process: Service,
}

impl Moto {
    /// `$FERRY_VENV/bin/moto_server`, else the repository's `.venv` (scripts/install-tools.sh).
    async fn start() -> Self {
        let venv = std::env::var_os("FERRY_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
        let server = venv.join("bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run scripts/install-tools.sh (or set FERRY_VENV)",
            server.display()
        );
        let port = free_address().port();
        let mut command = Command::new(server);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null());
        let mut process = Service::start(command);
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // Python takes a few seconds to start on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.get(&endpoint).send().await.is_err() {
            assert!(
                process.child.try_wait().unwrap().is_none(),
                "moto_server exited"
            );
            assert!(Instant::now() < deadline, "moto did not answer within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            endpoint,
            _process: process,
        }
    }

    /// Creates `bucket` and puts `bytes` at `key`, as plain path-style requests (moto does not
    /// check signatures).
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let http = reqwest::Client::new();
        let url = format!("{}/{bucket}", self.endpoint);
        let created = http.put(&url).send().await.unwrap();
        assert!(created.status().is_success(), "create bucket: {created:?}");
        let put = http
            .put(format!("{url}/{key}"))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "put object: {put:?}");
    }
}

/// Registry, revisions and orchestrator as processes on one PostgreSQL database, each with its
/// own data directory; the orchestrator on a fixed address so that it can be started again where
/// the agents look.
pub struct Ferry {
    pub dir: tempfile::TempDir,
    pub registry: SocketAddr,
    pub revisions: SocketAddr,
    pub orchestrator: SocketAddr,
    orchestrator_config: PathBuf,
    pub moto: Option<Moto>,
    _processes: Vec<Service>,
}

impl Ferry {
    /// Starts the registry and the revisions service (fetching S3 from a moto of its own when
    /// `with_s3`) on a fresh database, and writes the orchestrator's configuration.
    pub async fn start(with_s3: bool) -> Self {
        let database_url = ferry_store::testing::fresh_postgres().await;
        let dir = tempfile::tempdir().unwrap();
        let moto = if with_s3 {
            Some(Moto::start().await)
        } else {
            None
        };

        let mut command = ferry_command("ferry-registry");
        command
            .args(["--listen", "127.0.0.1:0", "--database-url", &database_url])
            .arg("--data-dir")
            .arg(dir.path().join("registry"));
        let mut registry = Service::start(command);
        let registry_addr = registry.wait_for_address();

        let mut config = json!({
            "registry_endpoint": format!("http://{registry_addr}"),
            "database_url": database_url,
        });
        if let Some(moto) = &moto {
            config["fetch"] = json!({ "s3": {
                "endpoint": moto.endpoint,
                "path_style": true,
                "allow_http": true,
                "access_key_id": "testing",
                "secret_access_key": "testing",
            }});
        }
        let config = write_config(dir.path().join("revisions.yaml"), &config);
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
                "database_url": database_url,
                // Generous: an agent (or the orchestrator) may be down for a while, and the
                // events it holds must not fail for it.
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
            moto,
            _processes: vec![registry, revisions],
        }
    }

    /// Starts the orchestrator on its address and data directory (the same every time).
    pub fn start_orchestrator(&self) -> Service {
        let mut command = ferry_command("ferry-orchestrator");
        command
            .arg("--config")
            .arg(&self.orchestrator_config)
            .args(["--listen", &self.orchestrator.to_string(), "--data-dir"])
            .arg(self.dir.path().join("orchestrator"));
        Service::start(command)
    }

    /// Everything serving: the orchestrator started, its address checked.
    pub async fn serve(&self) -> Service {
        let mut orchestrator = self.start_orchestrator();
        assert_eq!(orchestrator.wait_for_address(), self.orchestrator);
        wait_serving(
            channel(self.revisions).await,
            "ferry.revision.v1.RevisionService",
        )
        .await;
        wait_serving(channel(self.orchestrator).await, DEPLOYMENT_SERVICE).await;
        orchestrator
    }

    pub async fn deployments(&self) -> DeploymentServiceClient<Channel> {
        DeploymentServiceClient::new(channel(self.orchestrator).await)
    }

    /// The application and a group of the on-premises instances tagged group=web, with
    /// `config` and, when `rollback`, automatic rollback on DEPLOYMENT_FAILURE.
    pub async fn create_group(&self, config: &str, rollback: bool) {
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
                deployment_config_name: config.into(),
                service_role_arn: "arn:aws:iam::000000000000:role/ferry".into(),
                on_premises_instance_tag_filters: vec![TagFilter {
                    key: "group".into(),
                    value: GROUP.into(),
                    r#type: TagFilterType::KeyAndValue as i32,
                }],
                auto_rollback_configuration: rollback.then(|| AutoRollbackConfiguration {
                    enabled: true,
                    events: vec![AutoRollbackEvent::DeploymentFailure as i32],
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Registers the three instances in the group and starts their agents.
    pub async fn hosts(&self) -> Vec<Host> {
        let mut hosts = Vec::new();
        for name in INSTANCES {
            hosts.push(self.host(name).await);
        }
        hosts
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
        let mut host = Host {
            name,
            dir,
            config,
            agent: None,
        };
        host.start_agent();
        host
    }
}

/// One host: its agent process and the agent's directories.
pub struct Host {
    pub name: &'static str,
    pub dir: PathBuf,
    config: PathBuf,
    pub agent: Option<Service>,
}

impl Host {
    /// Starts the agent with the host's configuration (and so its deployment root).
    pub fn start_agent(&mut self) {
        let mut command = ferry_command("ferry-agent");
        command.arg("run").arg("--config").arg(&self.config);
        self.agent = Some(Service::start(command));
    }

    /// SIGKILLs the agent and waits for it to be gone.
    pub fn kill_agent(&mut self) {
        use std::os::unix::process::ExitStatusExt as _;
        let mut agent = self.agent.take().expect("a running agent");
        agent.child.kill().unwrap();
        let exit = agent.child.wait().unwrap();
        assert_eq!(exit.signal(), Some(9), "{}: {exit:?}", self.name);
    }

    /// The file the revision installed.
    pub fn installed(&self) -> String {
        std::fs::read_to_string(self.dir.join("install/srv/app/app.txt")).unwrap_or_default()
    }

    /// What the hooks appended, one `"<event> <deployment id>"` line each; outside the install
    /// root, so no Install touches it.
    pub fn hook_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("events.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The commands the agent accepted (`<deployment_root>/ferry/commands/<command-id>.json`).
    pub fn command_records(&self) -> usize {
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

/// The hook lines a deployment of the bundle writes: ApplicationStop only when an earlier
/// revision was installed (its script runs).
pub fn hook_lines(id: &str, after_earlier: bool) -> Vec<String> {
    let events: &[&str] = if after_earlier {
        &[
            "ApplicationStop",
            "BeforeInstall",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
        ]
    } else {
        &[
            "BeforeInstall",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
        ]
    };
    events.iter().map(|e| format!("{e} {id}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Reads.

pub async fn get(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
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

pub fn status(info: &DeploymentInfo) -> DeploymentStatus {
    DeploymentStatus::try_from(info.status).unwrap()
}

pub fn is_terminal(info: &DeploymentInfo) -> bool {
    matches!(
        status(info),
        DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped
    )
}

/// Polls (up to 120 s) until the deployment has ended; returns it.
pub async fn ended(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = get(deployments, id).await;
        if is_terminal(&info) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not end within 120 s: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until the deployment has ended, and checks that it succeeded on every instance.
pub async fn succeeded(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
) -> DeploymentInfo {
    let info = ended(deployments, id).await;
    assert_eq!(status(&info), DeploymentStatus::Succeeded, "{info:?}");
    let overview = info.deployment_overview.unwrap_or_default();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (INSTANCES.len() as i64, 0, 0),
        "{overview:?}"
    );
    info
}

/// The deployment's three instance targets, in instance-name order.
pub async fn targets(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
) -> Vec<InstanceTarget> {
    let mut targets: Vec<InstanceTarget> = deployments
        .batch_get_deployment_targets(BatchGetDeploymentTargetsRequest {
            deployment_id: id.into(),
            target_ids: INSTANCES.iter().map(|&n| n.to_owned()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_targets
        .into_iter()
        .map(|t| t.instance_target.unwrap())
        .collect();
    assert_eq!(targets.len(), INSTANCES.len(), "{targets:?}");
    targets.sort_by(|a, b| a.target_id.cmp(&b.target_id));
    targets
}

/// Every lifecycle event of every target of `id`, with its status, as the orchestrator reports.
pub async fn events(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
) -> Vec<(String, Vec<(String, i32)>)> {
    targets(deployments, id)
        .await
        .into_iter()
        .map(|t| {
            let events = t
                .lifecycle_events
                .iter()
                .map(|e| (e.lifecycle_event_name.clone(), e.status))
                .collect();
            (t.target_id, events)
        })
        .collect()
}
