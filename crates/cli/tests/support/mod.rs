//! What the tests of the `ferry` binary share: the binary itself, and a whole ferry served in
//! the test process (registry, revisions and orchestrator on one port, as `ferry up` serves
//! them) with real agents (the ferry-agent library, each with its own deployment root)
//! running real hook scripts. Crates cannot share test modules, so this is the CLI's copy of
//! what services/orchestrator/tests/support does for the orchestrator's tests.

// Each test file uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_agent::config::{AgentConfig, Identity};
use ferry_agent::download::Downloader;
use ferry_agent::lifecycle::Host;
use ferry_agent::session::Agent;
use ferry_orchestrator::config::OrchestratorConfig;
use ferry_orchestrator::serve::Orchestrator;
use ferry_proto::common::v1::{
    ComputePlatform, DeploymentStatus, LifecycleEventStatus, Tag, TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    DeploymentInfo, GetDeploymentRequest, GetDeploymentTargetRequest, WatchDeploymentRequest,
};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, CreateApplicationRequest, CreateDeploymentGroupRequest,
    RegisterOnPremisesInstanceRequest,
};
use ferry_registry::{Registry, RegistryConfig};
use ferry_revisions::{Revisions, RevisionsConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::GrpcServer;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// The longest any test waits for a condition or a command.
pub const WAIT: Duration = Duration::from_secs(90);

/// The `ferry` binary with `args`, and none of the `FERRY_…` variables of the test's
/// environment (so the endpoint and the output format are the test's).
pub fn ferry(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    command.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FERRY_") {
            command.env_remove(key);
        }
    }
    command
}

/// A whole ferry on an ephemeral port, served until dropped.
pub struct Cluster {
    pub endpoint: String,
    pub registry: RegistryServiceClient<Channel>,
    pub deployments: DeploymentServiceClient<Channel>,
    _orchestrator: Orchestrator,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Cluster {
    /// Serves ferry, with nothing in it yet. Agents are given a short grace and heartbeat so
    /// that tests do not wait on them.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let registry = Registry::open(&RegistryConfig {
            data_dir: dir.path().join("registry"),
            ..RegistryConfig::default()
        })
        .await
        .unwrap();
        let revisions = Revisions::open(&RevisionsConfig {
            data_dir: dir.path().join("revisions"),
            registry_endpoint: endpoint.clone(),
            ..RevisionsConfig::default()
        })
        .await
        .unwrap();
        let mut config = OrchestratorConfig::default();
        config.limits.agent_grace_secs = 2;
        config.agents.heartbeat_interval_secs = 1;
        config.agents.heartbeat_timeout_secs = 5;
        config.data_dir = dir.path().join("orchestrator");
        config.registry_endpoint = endpoint.clone();
        config.revisions_endpoint = endpoint.clone();
        let orchestrator = Orchestrator::open(&config).await.unwrap();
        let stop = CancellationToken::new();
        orchestrator.start(stop.clone()).await.unwrap();
        let builder = registry.register(GrpcServer::builder(&ServerConfig::default()));
        let builder = orchestrator.register(revisions.register(builder));
        let stopped = stop.clone();
        tokio::spawn(async move { builder.serve(listener, stopped.cancelled_owned()).await });
        let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())
            .unwrap()
            .connect_lazy();
        Self {
            endpoint,
            registry: RegistryServiceClient::new(channel.clone()),
            deployments: DeploymentServiceClient::new(channel),
            _orchestrator: orchestrator,
            stop,
            _dir: dir,
        }
    }

    /// Registers `name`, tagged `group=<group>`, and starts a real agent for it.
    pub async fn agent(&self, name: &str, group: &str) -> TestAgent {
        let credential = self
            .registry
            .clone()
            .register_on_premises_instance(RegisterOnPremisesInstanceRequest {
                instance_name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .instance_credential;
        self.registry
            .clone()
            .add_tags_to_on_premises_instances(AddTagsToOnPremisesInstancesRequest {
                tags: vec![Tag {
                    key: "group".into(),
                    value: group.into(),
                }],
                instance_names: vec![name.into()],
            })
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig {
            orchestrator_endpoint: self.endpoint.clone(),
            deployment_root: dir.path().join("root"),
            install_root: Some(dir.path().join("install")),
            log_dir: dir.path().join("logs"),
            ..AgentConfig::default()
        };
        config.reconnect.initial_backoff_ms = 20;
        config.reconnect.max_backoff_ms = 200;
        let downloader = Downloader::new(config.orchestrator_endpoint.clone(), config.tls.clone());
        let host = Host::from_config(&config, Some(downloader));
        let identity = Identity {
            instance_name: name.to_owned(),
            credential,
        };
        let agent = Arc::new(Agent::new(config, identity, host).unwrap());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move { agent.run(stopped).await });
        TestAgent { dir, stop }
    }

    pub async fn get(&self, id: &str) -> DeploymentInfo {
        get(&self.deployments, id).await
    }

    /// Polls until the deployment has ended; returns it.
    pub async fn finished(&self, id: &str) -> DeploymentInfo {
        finished(&self.deployments, id).await
    }

    /// Polls until `target`'s `event` is running.
    pub async fn running(&self, id: &str, target: &str, event: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let answer = self
                .deployments
                .clone()
                .get_deployment_target(GetDeploymentTargetRequest {
                    deployment_id: id.into(),
                    target_id: target.into(),
                })
                .await;
            let running = answer.ok().is_some_and(|r| {
                r.into_inner()
                    .deployment_target
                    .and_then(|t| t.instance_target)
                    .is_some_and(|t| {
                        t.lifecycle_events.iter().any(|e| {
                            e.lifecycle_event_name == event
                                && e.status == LifecycleEventStatus::InProgress as i32
                        })
                    })
            });
            if running {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{event} of {target} did not start"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Reads the deployment's events until a hook has printed `text`.
    pub async fn printed(&self, id: &str, text: &str) {
        let mut stream = self
            .deployments
            .clone()
            .watch_deployment(WatchDeploymentRequest {
                deployment_id: id.into(),
                from_sequence: 0,
                exclude_output: false,
            })
            .await
            .unwrap()
            .into_inner();
        loop {
            let event = tokio::time::timeout(WAIT, stream.message())
                .await
                .expect("the watch stream stalled")
                .unwrap()
                .unwrap_or_else(|| panic!("{text:?} was never printed"));
            if let Some(Event::HookOutput(output)) = event.event
                && output.lines.iter().any(|l| l.text == text)
            {
                return;
            }
        }
    }
}

/// A real agent; dropping it stops it.
pub struct TestAgent {
    dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestAgent {
    /// The install root (where the AppSpec's `files` go, and the hooks' `$FERRY_INSTALL_ROOT`).
    pub fn install_root(&self) -> PathBuf {
        self.dir.path().join("install")
    }

    /// Creates `file` in the install root, for hooks that look for it.
    pub fn mark(&self, file: &str) {
        let root = self.install_root();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(file), "").unwrap();
    }

    pub fn unmark(&self, file: &str) {
        std::fs::remove_file(self.install_root().join(file)).unwrap();
    }

    /// The content of `path` under the install root; empty when it is not there.
    pub fn installed(&self, path: &str) -> String {
        std::fs::read_to_string(self.install_root().join(path)).unwrap_or_default()
    }
}

/// Creates the application `app` (Server) and its group `group` (AllAtOnce), whose instances
/// are those tagged `key=value`.
pub async fn create_group(
    registry: &RegistryServiceClient<Channel>,
    app: &str,
    group: &str,
    (key, value): (&str, &str),
) {
    let mut registry = registry.clone();
    registry
        .create_application(CreateApplicationRequest {
            application_name: app.into(),
            compute_platform: ComputePlatform::Server as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: app.into(),
            deployment_group_name: group.into(),
            deployment_config_name: "CodeDeployDefault.AllAtOnce".into(),
            service_role_arn: "arn:aws:iam::000000000000:role/ferry".into(),
            on_premises_instance_tag_filters: vec![TagFilter {
                key: key.into(),
                value: value.into(),
                r#type: TagFilterType::KeyAndValue as i32,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
}

pub async fn get(deployments: &DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    deployments
        .clone()
        .get_deployment(GetDeploymentRequest {
            deployment_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_info
        .unwrap()
}

/// Polls until the deployment has ended; returns it.
pub async fn finished(deployments: &DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    let ended = [
        DeploymentStatus::Succeeded,
        DeploymentStatus::Failed,
        DeploymentStatus::Stopped,
    ]
    .map(|status| status as i32);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let info = get(deployments, id).await;
        if ended.contains(&info.status) {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deployment {id} did not end: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
