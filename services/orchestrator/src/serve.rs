//! The orchestrator assembled: database, clients of the registry and revisions services, agent
//! sessions, deployment tasks and trigger deliveries; and the process that serves them.

use std::path::Path;

use anyhow::Context as _;
use ferry_proto::agent::v1::agent_service_server::AgentServiceServer;
use ferry_proto::deploy::v1::deployment_service_server::DeploymentServiceServer;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_runtime::server::{GrpcServer, GrpcServerBuilder, shutdown_signal};
use ferry_runtime::telemetry::{TraceContextInterceptor, TracedChannel, endpoint};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

use crate::agents::commands::Commands;
use crate::agents::session::AgentSessions;
use crate::config::OrchestratorConfig;
use crate::deployments::api::DeploymentApi;
use crate::deployments::drivers::Drivers;
use crate::deployments::{Context, driver};
use crate::events::EventLog;
use crate::store;
use crate::triggers::Deliveries;

/// Largest message accepted or sent: hook output batches are at most 1 MiB.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// A channel to `address` that connects on first use (the other services may start after
/// this one) and carries the caller's trace context.
fn lazy_channel(address: &str) -> anyhow::Result<TracedChannel> {
    let channel = endpoint(address)
        .with_context(|| format!("bad service address {address:?}"))?
        .connect_lazy();
    Ok(InterceptedService::new(channel, TraceContextInterceptor))
}

#[derive(Clone)]
pub struct Orchestrator {
    ctx: Context,
}

impl Orchestrator {
    /// Opens the database (migrating it) and builds every part; nothing runs until
    /// [`start`](Self::start).
    pub async fn open(config: &OrchestratorConfig) -> anyhow::Result<Self> {
        let url = store::database_url(config.database_url.as_deref(), Path::new(&config.data_dir))
            .context("preparing the data directory")?;
        let pools = store::connect(&url)
            .await
            .context("opening the orchestrator's database")?;
        let registry = RegistryServiceClient::new(lazy_channel(&config.registry_endpoint)?);
        let revisions = RevisionServiceClient::new(lazy_channel(&config.revisions_endpoint)?)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let events = EventLog::new(pools.clone());
        let drivers = Drivers::default();
        let sessions = AgentSessions::new(
            Commands::new(pools.clone()),
            events.clone(),
            drivers.clone(),
            registry.clone(),
            config.sessions(),
        );
        let ctx = Context {
            deliveries: Deliveries::new(pools.clone(), config.deliveries()),
            pools,
            events,
            sessions,
            identity: config.identity(),
            limits: config.limits(),
            registry,
            revisions,
            drivers,
            download_endpoint: config.download_endpoint(),
        };
        Ok(Self { ctx })
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Resumes every deployment that had not ended and starts delivering notifications.
    pub async fn start(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tokio::spawn(self.ctx.deliveries.clone().run(shutdown));
        let resumed = driver::resume_all(&self.ctx)
            .await
            .context("resuming deployments")?;
        if resumed > 0 {
            tracing::info!(resumed, "resumed the deployments that had not ended");
        }
        Ok(())
    }

    pub fn deployment_service(&self) -> DeploymentServiceServer<DeploymentApi> {
        DeploymentServiceServer::new(DeploymentApi::new(self.ctx.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn agent_service(&self) -> AgentServiceServer<AgentSessions> {
        AgentServiceServer::new(self.ctx.sessions.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Adds both services, their descriptors and the readiness check to a server.
    pub fn register(&self, builder: GrpcServerBuilder) -> GrpcServerBuilder {
        let db = self.ctx.pools.write.clone();
        builder
            .add_service(self.deployment_service())
            .add_service(self.agent_service())
            .add_file_descriptor_set(ferry_proto::FILE_DESCRIPTOR_SET)
            .readiness_fn(move || {
                let db = db.clone();
                async move { store::ping(&db).await }
            })
    }
}

/// Opens everything, binds `config.listen`, resumes unfinished deployments and serves until a
/// shutdown signal.
pub async fn serve(config: OrchestratorConfig) -> anyhow::Result<()> {
    let orchestrator = Orchestrator::open(&config).await?;
    let listener = ferry_runtime::server::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "ferry-orchestrator listening");
    let background = CancellationToken::new();
    orchestrator.start(background.clone()).await?;
    let result = orchestrator
        .register(GrpcServer::builder(&config.server))
        .serve(listener, shutdown_signal())
        .await;
    background.cancel();
    result?;
    Ok(())
}
