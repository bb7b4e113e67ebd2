//! A whole ferry in one test process: registry, revisions and orchestrator serving on one
//! port, and real agents (the ferry-agent library, each with its own temporary deployment
//! root) holding real sessions to it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ferry_agent::config::{AgentConfig, Identity};
use ferry_agent::download::Downloader;
use ferry_agent::lifecycle::Host;
use ferry_agent::session::Agent;
use ferry_orchestrator::config::OrchestratorConfig;
use ferry_orchestrator::serve::Orchestrator;
use ferry_proto::common::v1::{
    ComputePlatform, DeploymentStatus, RevisionLocation, Tag, TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{
    CreateDeploymentRequest, DeploymentInfo, GetDeploymentRequest, WatchDeploymentRequest,
    WatchDeploymentResponse,
};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, AutoRollbackConfiguration, CreateApplicationRequest,
    CreateDeploymentGroupRequest, RegisterOnPremisesInstanceRequest, TriggerConfig,
};
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use ferry_registry::{Registry, RegistryConfig};
use ferry_revisions::{Revisions, RevisionsConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::GrpcServer;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// The longest any test waits for a condition.
pub const WAIT: Duration = Duration::from_secs(60);

pub const APP: &str = "shop";

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub registry: RegistryServiceClient<Channel>,
    pub revisions: RevisionServiceClient<Channel>,
    pub deployments: DeploymentServiceClient<Channel>,
    pub orchestrator: Orchestrator,
    stop: CancellationToken,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Settings a test may change before the cluster starts.
pub fn config() -> OrchestratorConfig {
    let mut config = OrchestratorConfig::default();
    config.limits.agent_grace_secs = 2;
    config.agents.heartbeat_interval_secs = 1;
    config.agents.heartbeat_timeout_secs = 5;
    config.triggers.first_retry_millis = 50;
    config.triggers.request_timeout_secs = 2;
    config
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(config()).await
    }

    /// The same cluster with every service's state in one fresh PostgreSQL database.
    pub async fn start_on_postgres() -> Self {
        let url = ferry_store::testing::fresh_postgres().await;
        let mut config = config();
        config.database_url = Some(url);
        Self::start_with(config).await
    }

    pub async fn start_with(mut config: OrchestratorConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let registry = Registry::open(&RegistryConfig {
            data_dir: dir.path().join("registry"),
            database_url: config.database_url.clone(),
            ..RegistryConfig::default()
        })
        .await
        .unwrap();
        let revisions = Revisions::open(&RevisionsConfig {
            data_dir: dir.path().join("revisions"),
            database_url: config.database_url.clone(),
            registry_endpoint: endpoint.clone(),
            ..RevisionsConfig::default()
        })
        .await
        .unwrap();
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
        let cluster = Self {
            dir,
            registry: RegistryServiceClient::new(channel.clone()),
            revisions: RevisionServiceClient::new(channel.clone()),
            deployments: DeploymentServiceClient::new(channel),
            endpoint,
            orchestrator,
            stop,
        };
        cluster
            .registry
            .clone()
            .create_application(CreateApplicationRequest {
                application_name: APP.into(),
                compute_platform: ComputePlatform::Server as i32,
                ..Default::default()
            })
            .await
            .unwrap();
        cluster
    }

    /// A deployment group whose instances carry the tag `group=<name>`.
    pub async fn group(
        &self,
        name: &str,
        config_name: &str,
        triggers: Vec<TriggerConfig>,
        auto_rollback: Option<AutoRollbackConfiguration>,
    ) {
        self.registry
            .clone()
            .create_deployment_group(CreateDeploymentGroupRequest {
                application_name: APP.into(),
                deployment_group_name: name.into(),
                deployment_config_name: config_name.into(),
                service_role_arn: "arn:aws:iam::000000000000:role/ferry".into(),
                on_premises_instance_tag_filters: vec![TagFilter {
                    key: "group".into(),
                    value: name.into(),
                    r#type: TagFilterType::KeyAndValue as i32,
                }],
                trigger_configurations: triggers,
                auto_rollback_configuration: auto_rollback,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Registers `name` in `group` and starts a real agent for it.
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
        let mut agent = TestAgent {
            name: name.to_owned(),
            credential,
            endpoint: self.endpoint.clone(),
            dir,
            stop: CancellationToken::new(),
        };
        agent.start();
        agent
    }

    /// Uploads a tar bundle of `files` (path, content, mode) and returns its location.
    pub async fn upload(&self, files: &[(&str, &str, u32)]) -> RevisionLocation {
        let bundle = tar(files);
        let mut messages = vec![UploadBundleRequest {
            part: Some(Part::Header(UploadBundleHeader {
                application_name: APP.into(),
                ..Default::default()
            })),
        }];
        messages.push(UploadBundleRequest {
            part: Some(Part::Chunk(bundle)),
        });
        self.revisions
            .clone()
            .upload_bundle(futures::stream::iter(messages))
            .await
            .unwrap()
            .into_inner()
            .location
            .unwrap()
    }

    pub async fn deploy(&self, group: &str, revision: &RevisionLocation) -> String {
        self.create(CreateDeploymentRequest {
            application_name: APP.into(),
            deployment_group_name: group.into(),
            revision: Some(revision.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
    }

    pub async fn create(&self, request: CreateDeploymentRequest) -> Result<String, tonic::Status> {
        self.deployments
            .clone()
            .create_deployment(request)
            .await
            .map(|r| r.into_inner().deployment_id)
    }

    pub async fn get(&self, id: &str) -> DeploymentInfo {
        self.deployments
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
    pub async fn finished(&self, id: &str) -> DeploymentInfo {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let info = self.get(id).await;
            if [
                DeploymentStatus::Succeeded,
                DeploymentStatus::Failed,
                DeploymentStatus::Stopped,
            ]
            .iter()
            .any(|s| *s as i32 == info.status)
            {
                return info;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deployment {id} did not end: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every event of the deployment's log, from the start to its end.
    pub async fn events(&self, id: &str, exclude_output: bool) -> Vec<WatchDeploymentResponse> {
        let mut stream = self
            .deployments
            .clone()
            .watch_deployment(WatchDeploymentRequest {
                deployment_id: id.into(),
                from_sequence: 0,
                exclude_output,
            })
            .await
            .unwrap()
            .into_inner();
        let mut events = Vec::new();
        while let Some(event) = tokio::time::timeout(WAIT, stream.message())
            .await
            .expect("the watch stream stalled")
            .unwrap()
        {
            events.push(event);
        }
        events
    }
}

/// A real agent for one registered instance; stopping it drops its session (and stops its
/// hooks), starting it again reconnects with the same deployment root.
pub struct TestAgent {
    pub name: String,
    credential: String,
    endpoint: String,
    pub dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl TestAgent {
    pub fn start(&mut self) {
        let mut config = AgentConfig {
            orchestrator_endpoint: self.endpoint.clone(),
            deployment_root: self.dir.path().join("root"),
            install_root: Some(self.dir.path().join("install")),
            log_dir: self.dir.path().join("logs"),
            ..AgentConfig::default()
        };
        config.reconnect.initial_backoff_ms = 20;
        config.reconnect.max_backoff_ms = 200;
        let downloader = Downloader::new(config.orchestrator_endpoint.clone(), config.tls.clone());
        let host = Host::from_config(&config, Some(downloader));
        let identity = Identity {
            instance_name: self.name.clone(),
            credential: self.credential.clone(),
        };
        let agent = Arc::new(Agent::new(config, identity, host).unwrap());
        self.stop = CancellationToken::new();
        let stopped = self.stop.clone();
        tokio::spawn(async move { agent.run(stopped).await });
    }

    /// Drops the session and stops the agent's hooks.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// The install root (where the AppSpec's `files` go).
    pub fn install_root(&self) -> std::path::PathBuf {
        self.dir.path().join("install")
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn tar(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// Polls an async condition until it holds or [`WAIT`] passes.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
