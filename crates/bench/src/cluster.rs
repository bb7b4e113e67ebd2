//! A whole ferry in one process, as `ferry up` starts it: registry, revisions and orchestrator
//! serving on one port with SQLite under a temporary directory, and real agents (the
//! ferry-agent library) holding real sessions to it, each registered and tagged with its
//! deployment group.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferry_agent::config::{AgentConfig, Identity};
use ferry_agent::download::Downloader;
use ferry_agent::lifecycle::Host;
use ferry_agent::session::Agent;
use ferry_orchestrator::config::OrchestratorConfig;
use ferry_orchestrator::serve::Orchestrator;
use ferry_proto::common::v1::{DeploymentStatus, LifecycleEventStatus, RevisionLocation};
use ferry_proto::deploy::v1::CreateDeploymentRequest;
use ferry_proto::deploy::v1::WatchDeploymentRequest;
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_registry::{Registry, RegistryConfig};
use ferry_revisions::fetch::FetchConfig;
use ferry_revisions::{Revisions, RevisionsConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::GrpcServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::setup;

pub use crate::setup::APP;

/// The longest a deployment may take, and agents to connect, before the run is abandoned.
const WAIT: Duration = Duration::from_secs(120);

/// How often presence is looked at while waiting for agents to connect.
const CONNECT_POLL: Duration = Duration::from_millis(10);

pub struct Cluster {
    registry: RegistryServiceClient<Channel>,
    revisions: RevisionServiceClient<Channel>,
    deployments: DeploymentServiceClient<Channel>,
    orchestrator: Orchestrator,
    /// The revisions service itself, for its counters.
    revisions_service: Revisions,
    /// How long a deployment may go without an event before it is abandoned.
    deploy_wait: Duration,
    endpoint: String,
    agents: Vec<Arc<Agent>>,
    agent_names: Vec<String>,
    agents_stop: CancellationToken,
    agent_tasks: Vec<JoinHandle<()>>,
    server_stop: CancellationToken,
    server: JoinHandle<()>,
    /// Dropped last: every database, blob and agent root lives under it.
    dir: tempfile::TempDir,
}

/// What a scenario changes about the cluster it starts.
#[derive(Default)]
pub struct ClusterOptions {
    /// How the revisions service reaches revisions' origins (S3 endpoint and credentials).
    pub fetch: FetchConfig,
}

impl Cluster {
    /// Opens the three services under a fresh temporary directory and serves them on an
    /// ephemeral loopback port; creates the application.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(ClusterOptions::default()).await
    }

    /// [`Cluster::start`] with `options`.
    pub async fn start_with(options: ClusterOptions) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("ferry-bench-")
            .tempdir()
            .context("cannot create the temporary directory")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on loopback")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let registry = Registry::open(&RegistryConfig {
            data_dir: dir.path().join("registry"),
            ..RegistryConfig::default()
        })
        .await
        .context("cannot open the registry")?;
        let revisions = Revisions::open(&RevisionsConfig {
            data_dir: dir.path().join("revisions"),
            registry_endpoint: endpoint.clone(),
            fetch: options.fetch,
            ..RevisionsConfig::default()
        })
        .await
        .context("cannot open the revisions service")?;
        let orchestrator = Orchestrator::open(&OrchestratorConfig {
            data_dir: dir.path().join("orchestrator"),
            registry_endpoint: endpoint.clone(),
            revisions_endpoint: endpoint.clone(),
            // Empty: agents download bundles from the address of their own session.
            download_endpoint: Some(String::new()),
            ..OrchestratorConfig::default()
        })
        .await
        .context("cannot open the orchestrator")?;
        let server_stop = CancellationToken::new();
        orchestrator.start(server_stop.clone()).await?;
        let builder = registry.register(GrpcServer::builder(&ServerConfig::default()));
        let builder = orchestrator.register(revisions.register(builder));
        let stopped = server_stop.clone();
        let server = tokio::spawn(async move {
            if let Err(error) = builder.serve(listener, stopped.cancelled_owned()).await {
                eprintln!("ferry-bench: the server stopped: {error}");
            }
        });
        let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())?.connect_lazy();
        let mut cluster = Self {
            registry: RegistryServiceClient::new(channel.clone()),
            revisions: RevisionServiceClient::new(channel.clone()),
            deployments: DeploymentServiceClient::new(channel),
            orchestrator,
            revisions_service: revisions,
            deploy_wait: WAIT,
            endpoint,
            agents: Vec::new(),
            agent_names: Vec::new(),
            agents_stop: CancellationToken::new(),
            agent_tasks: Vec::new(),
            server_stop,
            server,
            dir,
        };
        setup::create_application(&mut cluster.registry).await?;
        Ok(cluster)
    }

    /// An AllAtOnce deployment group whose instances carry the tag `group=<name>`.
    pub async fn group(&mut self, name: &str) -> anyhow::Result<()> {
        self.group_with_config(name, "CodeDeployDefault.AllAtOnce")
            .await
    }

    /// A deployment group with the deployment configuration `config` whose instances carry
    /// the tag `group=<name>`.
    pub async fn group_with_config(&mut self, name: &str, config: &str) -> anyhow::Result<()> {
        setup::create_group(&mut self.registry, name, config).await
    }

    /// Registers `count` instances `<group>-1` … tagged `group=<group>`, starts an agent for
    /// each, and waits until every one holds a session.
    pub async fn agents(&mut self, group: &str, count: usize) -> anyhow::Result<()> {
        let names: Vec<String> = (1..=count).map(|i| format!("{group}-{i}")).collect();
        let instances = setup::register_instances(&self.registry, names.clone(), group).await?;
        for (name, credential) in instances {
            self.agent(name, credential)?;
        }
        let presence = &self.orchestrator.context().sessions.presence;
        let deadline = Instant::now() + WAIT;
        while !names.iter().all(|name| presence.is_connected(name)) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "agents of {group} did not connect"
            );
            tokio::time::sleep(CONNECT_POLL).await;
        }
        Ok(())
    }

    fn agent(&mut self, name: String, credential: String) -> anyhow::Result<()> {
        let root = self.dir.path().join("agents").join(&name);
        let config = AgentConfig {
            orchestrator_endpoint: self.endpoint.clone(),
            deployment_root: root.join("root"),
            install_root: Some(self.install_root(&name)),
            log_dir: root.join("logs"),
            ..AgentConfig::default()
        };
        let downloader = Downloader::new(config.orchestrator_endpoint.clone(), config.tls.clone());
        let host = Host::from_config(&config, Some(downloader));
        let identity = Identity {
            instance_name: name.clone(),
            credential,
        };
        let agent = Arc::new(
            Agent::new(config, identity, host)
                .with_context(|| format!("cannot open the deployment root of {name}"))?,
        );
        let (running, stopped) = (agent.clone(), self.agents_stop.clone());
        self.agent_tasks
            .push(tokio::spawn(async move { running.run(stopped).await }));
        self.agents.push(agent);
        self.agent_names.push(name);
        Ok(())
    }

    /// The directory the agent of `instance` re-roots AppSpec destinations under (`/srv/x`
    /// installs to `<install root>/srv/x`); its hooks get it as `FERRY_INSTALL_ROOT`.
    pub fn install_root(&self, instance: &str) -> std::path::PathBuf {
        self.dir
            .path()
            .join("agents")
            .join(instance)
            .join("install")
    }

    /// Uploads a tar bundle of `files` (path, content, mode) and returns its location.
    pub async fn upload(
        &mut self,
        files: &[(&str, &str, u32)],
    ) -> anyhow::Result<RevisionLocation> {
        setup::upload(&mut self.revisions, setup::tar(files)?).await
    }

    /// Creates a deployment of `revision` to `group` and watches it from sequence 0 until it
    /// ends; returns the time from CreateDeployment to the Succeeded event. Fails unless every
    /// target ran each of the [`HOOK_EVENTS`] to success (so a deployment that skipped its
    /// hooks is not timed as one that ran them).
    pub async fn deploy(
        &mut self,
        group: &str,
        revision: &RevisionLocation,
        targets: usize,
    ) -> anyhow::Result<Duration> {
        self.deploy_expecting(group, revision, targets, &HOOK_EVENTS)
            .await
    }

    /// [`Cluster::deploy`] of a revision whose AppSpec has scripts for the lifecycle events
    /// `hooks` only: fails unless every target ran each of them to success.
    pub async fn deploy_expecting(
        &mut self,
        group: &str,
        revision: &RevisionLocation,
        targets: usize,
        hooks: &[&str],
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let id = self
            .deployments
            .create_deployment(CreateDeploymentRequest {
                application_name: APP.into(),
                deployment_group_name: group.into(),
                revision: Some(revision.clone()),
                ..Default::default()
            })
            .await
            .context("CreateDeployment")?
            .into_inner()
            .deployment_id;
        let mut stream = self
            .deployments
            .watch_deployment(WatchDeploymentRequest {
                deployment_id: id.clone(),
                from_sequence: 0,
                exclude_output: true,
            })
            .await
            .context("WatchDeployment")?
            .into_inner();
        let mut hooks_succeeded = 0;
        loop {
            let wait = self.deploy_wait;
            let message = tokio::time::timeout(wait, stream.message())
                .await
                .with_context(|| format!("deployment {id} did not end within {wait:?}"))?
                .context("WatchDeployment stream")?;
            let Some(message) = message else {
                anyhow::bail!("the watch of {id} ended before the deployment did");
            };
            let change = match message.event {
                Some(Event::DeploymentStatusChanged(change)) => change,
                Some(Event::LifecycleEventChanged(event)) => {
                    if event.status == LifecycleEventStatus::Succeeded as i32
                        && hooks.contains(&event.lifecycle_event_name.as_str())
                    {
                        hooks_succeeded += 1;
                    }
                    continue;
                }
                _ => continue,
            };
            match DeploymentStatus::try_from(change.status) {
                Ok(DeploymentStatus::Succeeded) => {
                    let elapsed = started.elapsed();
                    let expected = targets * hooks.len();
                    anyhow::ensure!(
                        hooks_succeeded == expected,
                        "deployment {id} succeeded with {hooks_succeeded} hook events succeeded, not {expected}"
                    );
                    return Ok(elapsed);
                }
                Ok(status @ (DeploymentStatus::Failed | DeploymentStatus::Stopped)) => {
                    anyhow::bail!(
                        "deployment {id} ended {}: {} {:?}",
                        status.as_str_name(),
                        change.message,
                        change.error_information
                    )
                }
                _ => {}
            }
        }
    }

    /// How long a deployment may go without an event before [`Cluster::deploy`] abandons it
    /// (two minutes unless set).
    pub fn set_deploy_wait(&mut self, wait: Duration) {
        self.deploy_wait = wait;
    }

    /// A client of the deployment service, to read targets and their lifecycle events.
    pub fn deployments(&self) -> DeploymentServiceClient<Channel> {
        self.deployments.clone()
    }

    /// How many times the revisions service started reading a revision from its origin.
    pub fn origin_reads(&self) -> u64 {
        self.revisions_service.origin_reads()
    }

    /// Stops the agents, then the server, and removes the temporary directory.
    pub async fn stop(self) {
        self.agents_stop.cancel();
        for task in self.agent_tasks {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
        drop(self.agents);
        self.server_stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        drop(self.orchestrator);
        drop(self.revisions_service);
        if let Err(error) = self.dir.close() {
            eprintln!("ferry-bench: cannot remove the temporary directory: {error}");
        }
    }
}

/// A bundle whose five hook events (ApplicationStop, BeforeInstall, AfterInstall,
/// ApplicationStart, ValidateService) each run `script`.
pub fn hooks_bundle(script: &str) -> Vec<(&'static str, String, u32)> {
    let mut appspec = String::from("version: 0.0\nos: linux\nhooks:\n");
    for event in HOOK_EVENTS {
        appspec.push_str(&format!("  {event}:\n    - location: scripts/hook.sh\n"));
    }
    vec![
        ("appspec.yml", appspec, 0o644),
        ("scripts/hook.sh", script.to_owned(), 0o755),
    ]
}

/// The lifecycle events of an in-place deployment that run AppSpec hooks.
pub const HOOK_EVENTS: [&str; 5] = [
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];
