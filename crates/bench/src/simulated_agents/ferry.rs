//! Ferry's side: the registry and revisions services in this process (set-up, the agents'
//! credential checks and ResolveRevision), the orchestrator in a child process, simulated
//! agents holding sessions to it, one AllAtOnce deployment.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferry_orchestrator::config::OrchestratorConfig;
use ferry_orchestrator::serve::Orchestrator;
use ferry_proto::common::v1::{DeploymentStatus, RevisionLocation};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{CreateDeploymentRequest, DeploymentInfo, GetDeploymentRequest};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_registry::{Registry, RegistryConfig};
use ferry_revisions::{Revisions, RevisionsConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::GrpcServer;
use sea_orm::{ConnectionTrait as _, Database, DatabaseConnection};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

use super::agent::{Fleet, Signal, Trace};
use super::child::{self, Server};
use crate::setup::{self, APP};
use crate::system::{self, Process};

const GROUP: &str = "bench";
/// The events of an in-place deployment without traffic control, in order.
pub const EVENTS: &[&str] = ferry_orchestrator::deployments::lifecycle::IN_PLACE;

/// In the child: the orchestrator of the configuration (JSON) at `path`, served as
/// `ferry-orchestrator` serves it, until stdin closes.
pub async fn serve_child(path: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let config: OrchestratorConfig = serde_json::from_str(&text)?;
    let orchestrator = Orchestrator::open(&config).await?;
    let listener = ferry_runtime::server::bind(&config.listen).await?;
    let address = listener.local_addr()?;
    let stop = CancellationToken::new();
    orchestrator.start(stop.clone()).await?;
    let builder = orchestrator.register(GrpcServer::builder(&config.server));
    let server = tokio::spawn(builder.serve(listener, stop.clone().cancelled_owned()));
    child::announce(address);
    let mut commands = child::commands();
    while let Ok(Some(_)) = commands.next_line().await {}
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    Ok(())
}

/// Registry and revisions in this process, on one port, with fresh SQLite files.
async fn services(dir: &Path, stop: &CancellationToken) -> anyhow::Result<String> {
    let listener = ferry_runtime::server::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let registry = Registry::open(&RegistryConfig {
        data_dir: dir.join("registry"),
        ..RegistryConfig::default()
    })
    .await
    .context("cannot open the registry")?;
    let revisions = Revisions::open(&RevisionsConfig {
        data_dir: dir.join("revisions"),
        registry_endpoint: endpoint.clone(),
        ..RevisionsConfig::default()
    })
    .await
    .context("cannot open the revisions service")?;
    let builder =
        revisions.register(registry.register(GrpcServer::builder(&ServerConfig::default())));
    let stopped = stop.clone();
    tokio::spawn(async move {
        if let Err(error) = builder.serve(listener, stopped.cancelled_owned()).await {
            eprintln!("ferry-bench: the registry and revisions server stopped: {error}");
        }
    });
    Ok(endpoint)
}

/// The application, the AllAtOnce group, `agents` registered and tagged instances (name and
/// credential each) and an uploaded revision whose AppSpec has no hooks.
async fn set_up(
    channel: Channel,
    agents: usize,
) -> anyhow::Result<(Vec<(String, String)>, RevisionLocation)> {
    let mut registry = RegistryServiceClient::new(channel.clone());
    setup::create_application(&mut registry).await?;
    setup::create_group(&mut registry, GROUP, "CodeDeployDefault.AllAtOnce").await?;
    let names = (0..agents).map(|i| format!("bench-{i:05}")).collect();
    let instances = setup::register_instances(&registry, names, GROUP).await?;
    let bundle = setup::tar(&[("appspec.yml", "version: 0.0\nos: linux\n", 0o644)])?;
    let revision = setup::upload(&mut RevisionServiceClient::new(channel), bundle).await?;
    Ok((instances, revision))
}

/// A PostgreSQL database of this run's own, when FERRY_BENCH_POSTGRES_URL names a server:
/// created on that (admin) connection, dropped by [`Postgres::drop_database`].
pub struct Postgres {
    admin: DatabaseConnection,
    name: String,
    pub url: String,
}

impl Postgres {
    pub async fn create(admin_url: &str, n: usize) -> anyhow::Result<Self> {
        let admin = Database::connect(admin_url)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {admin_url}"))?;
        let name = format!("ferry_bench_agents_{}_{n}", std::process::id());
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.execute_unprepared(&sql).await?;
        }
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Ok(Self {
            admin,
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub async fn drop_database(self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = self.admin.execute_unprepared(&sql).await {
            eprintln!(
                "ferry-bench: cannot drop the database {}: {error}",
                self.name
            );
        }
    }
}

/// What ferry measured for `n` agents.
pub struct Figures {
    pub setup: Duration,
    pub connect: Duration,
    pub rss_idle_kib: u64,
    pub rss_connected_kib: u64,
    pub peak_deploy_kib: u64,
    pub create_call: Duration,
    pub end_to_end: Duration,
    pub server_side: Duration,
    /// CreateDeployment sent → each agent's first command.
    pub first_command: Vec<Duration>,
    /// A result handed to the stream → that agent's next command, every event but the first.
    pub dispatch: Vec<Duration>,
    /// Per event: first and last command after CreateDeployment was sent.
    pub events: Vec<(Duration, Duration)>,
    pub cpu_orchestrator: Duration,
    pub cpu_bench: Duration,
    pub cpu_postgres: Option<Duration>,
    pub refused: usize,
    pub first_refusal: Option<String>,
    pub dropped: usize,
    pub duplicates: usize,
    pub cancels: usize,
}

impl Figures {
    pub fn per_session_kib(&self, n: usize) -> f64 {
        self.rss_connected_kib.saturating_sub(self.rss_idle_kib) as f64 / n as f64
    }
}

/// Runs ferry with `n` simulated agents; `postgres` is the admin URL of a PostgreSQL server
/// to run the orchestrator on instead of SQLite.
pub async fn measure(n: usize, postgres: Option<&str>, wait: Duration) -> anyhow::Result<Figures> {
    let dir = tempfile::Builder::new()
        .prefix("ferry-bench-agents-")
        .tempdir()
        .context("cannot create the temporary directory")?;
    let stop_services = CancellationToken::new();
    let database = match postgres {
        Some(url) => Some(Postgres::create(url, n).await?),
        None => None,
    };
    let result = measure_in(
        dir.path(),
        n,
        database.as_ref().map(|d| d.url.as_str()),
        &stop_services,
        wait,
    )
    .await;
    stop_services.cancel();
    if let Some(database) = database {
        database.drop_database().await;
    }
    if let Err(error) = dir.close() {
        eprintln!("ferry-bench: cannot remove the temporary directory: {error}");
    }
    result
}

async fn measure_in(
    dir: &Path,
    n: usize,
    database_url: Option<&str>,
    stop_services: &CancellationToken,
    wait: Duration,
) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let services_endpoint = services(dir, stop_services).await?;
    let channel = Endpoint::from_shared(services_endpoint.clone())?
        .connect()
        .await
        .context("cannot reach the registry")?;
    let (instances, revision) = set_up(channel, n).await?;
    let setup = started.elapsed();

    let config = OrchestratorConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("orchestrator"),
        database_url: database_url.map(str::to_owned),
        registry_endpoint: services_endpoint.clone(),
        revisions_endpoint: services_endpoint,
        download_endpoint: Some(String::new()),
        ..OrchestratorConfig::default()
    };
    let path = dir.join("orchestrator.json");
    std::fs::write(&path, serde_json::to_string(&config)?)?;
    let mut server = Server::start(&format!("orchestrator:{}", path.display())).await?;
    let result = deploy(
        &mut server,
        instances,
        revision,
        database_url.is_some(),
        wait,
    )
    .await;
    server.stop().await;
    let mut figures = result?;
    figures.setup = setup;
    Ok(figures)
}

async fn deploy(
    server: &mut Server,
    instances: Vec<(String, String)>,
    revision: RevisionLocation,
    postgres: bool,
    wait: Duration,
) -> anyhow::Result<Figures> {
    let n = instances.len();
    let pid = server.pid;
    let rss_idle_kib = system::settled_rss(Process::Pid(pid)).await;

    let connecting = Instant::now();
    let mut fleet = Fleet::start(&server.endpoint, instances)?;
    if let Err(error) = fleet.wait_for(Signal::Welcomed, n, wait).await {
        let traces = fleet.stop().await?;
        let refusal = traces.iter().find_map(|t| t.first_refusal.clone());
        return Err(error.context(format!("connecting (first refusal: {refusal:?})")));
    }
    let connect = connecting.elapsed();
    let rss_connected_kib = system::settled_rss(Process::Pid(pid)).await;
    system::reset_peak(Process::Pid(pid));

    let mut deployments = DeploymentServiceClient::new(
        Endpoint::from_shared(server.endpoint.clone())?
            .connect()
            .await?,
    );
    let cpu_before = (
        system::cpu(Process::Pid(pid)),
        system::cpu(Process::Current),
        system::cpu_of_command("postgres"),
    );
    let created = Instant::now();
    let deployed = async {
        let id = deployments
            .create_deployment(CreateDeploymentRequest {
                application_name: APP.into(),
                deployment_group_name: GROUP.into(),
                revision: Some(revision),
                ..Default::default()
            })
            .await
            .context("CreateDeployment")?
            .into_inner()
            .deployment_id;
        let returned = Instant::now();
        let info = finished(&mut deployments, &id, wait).await?;
        anyhow::Ok((returned, info))
    }
    .await;
    let end_to_end = created.elapsed();
    let cpu_orchestrator = system::cpu(Process::Pid(pid)).saturating_sub(cpu_before.0);
    let cpu_bench = system::cpu(Process::Current).saturating_sub(cpu_before.1);
    let cpu_postgres = system::cpu_of_command("postgres").saturating_sub(cpu_before.2);
    let peak_deploy_kib = system::status_kib(Process::Pid(pid), "VmHWM:").unwrap_or(0);
    let traces = fleet.stop().await?;
    let (returned, info) = deployed?;

    anyhow::ensure!(
        info.status == DeploymentStatus::Succeeded as i32,
        "deployment {} did not succeed: {info:?}",
        info.deployment_id
    );
    let overview = info.deployment_overview.unwrap_or_default();
    anyhow::ensure!(
        (overview.succeeded, overview.failed, overview.skipped) == (n as i64, 0, 0),
        "{overview:?}"
    );
    let micros = |t: Option<(i64, i32)>| t.map_or(0, |(s, n)| s * 1_000_000 + i64::from(n / 1000));
    let created_at = micros(info.create_time.as_ref().map(|t| (t.seconds, t.nanos)));
    let completed_at = micros(info.complete_time.as_ref().map(|t| (t.seconds, t.nanos)));
    let server_side = Duration::from_micros(u64::try_from(completed_at - created_at).unwrap_or(0));
    let (first_command, dispatch, events) = timeline(&traces, created)?;
    let count = |f: fn(&Trace) -> usize| traces.iter().map(f).sum::<usize>();
    Ok(Figures {
        setup: Duration::ZERO,
        connect,
        rss_idle_kib,
        rss_connected_kib,
        peak_deploy_kib,
        create_call: returned - created,
        end_to_end,
        server_side,
        first_command,
        dispatch,
        events,
        cpu_orchestrator,
        cpu_bench,
        cpu_postgres: postgres.then_some(cpu_postgres),
        refused: count(|t| t.refused),
        first_refusal: traces.iter().find_map(|t| t.first_refusal.clone()),
        dropped: count(|t| t.dropped),
        duplicates: count(|t| t.duplicates),
        cancels: count(|t| t.cancels),
    })
}

/// Polls GetDeployment every 20 ms until the deployment has ended.
async fn finished(
    client: &mut DeploymentServiceClient<Channel>,
    id: &str,
    wait: Duration,
) -> anyhow::Result<DeploymentInfo> {
    let deadline = Instant::now() + wait;
    loop {
        let info = client
            .get_deployment(GetDeploymentRequest {
                deployment_id: id.into(),
            })
            .await
            .context("GetDeployment")?
            .into_inner()
            .deployment_info
            .context("GetDeployment returned no deployment")?;
        let terminal = [
            DeploymentStatus::Succeeded,
            DeploymentStatus::Failed,
            DeploymentStatus::Stopped,
        ];
        if terminal.iter().any(|s| *s as i32 == info.status) {
            return Ok(info);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "deployment {id} did not end within {wait:?}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Timeline = (Vec<Duration>, Vec<Duration>, Vec<(Duration, Duration)>);

/// Each agent's first command after `created`, every other command's dispatch latency, and
/// per event the first and last command after `created`.
fn timeline(traces: &[Trace], created: Instant) -> anyhow::Result<Timeline> {
    let since = |t: Instant| t.saturating_duration_since(created);
    let mut events = vec![(Duration::MAX, Duration::ZERO); EVENTS.len()];
    let mut first = Vec::with_capacity(traces.len());
    let mut dispatch = Vec::with_capacity(traces.len() * (EVENTS.len() - 1));
    for trace in traces {
        let names: Vec<&str> = trace.arrivals.iter().map(|(e, _)| e.as_str()).collect();
        anyhow::ensure!(
            names == EVENTS,
            "an agent's commands were {names:?}, not {EVENTS:?}"
        );
        first.push(since(trace.arrivals[0].1));
        for (k, (_, arrived)) in trace.arrivals.iter().enumerate() {
            events[k].0 = events[k].0.min(since(*arrived));
            events[k].1 = events[k].1.max(since(*arrived));
            if k > 0 {
                dispatch.push(arrived.saturating_duration_since(trace.results[k - 1]));
            }
        }
    }
    Ok((first, dispatch, events))
}
