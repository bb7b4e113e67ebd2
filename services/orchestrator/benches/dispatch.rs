//! An AllAtOnce deployment to many simulated agents (`cargo bench -p ferry-orchestrator --bench
//! dispatch`): end-to-end time, lifecycle events per second, command dispatch latency and the
//! orchestrator's peak memory, on SQLite and (when reachable) PostgreSQL.
//!
//! - The orchestrator is the real `ferry-orchestrator` binary in its own process, so its memory
//!   and CPU can be read from /proc. The registry and revisions services run in this process on
//!   one port (each back end gets fresh ones, always on SQLite): they only answer the set-up, the
//!   agents' credential checks and CreateDeployment.
//! - Each simulated agent holds a real `AgentService/Session` stream: Hello with its credential,
//!   then for each command a CommandAck and at once a CommandResult (Succeeded; no hooks run). It
//!   answers every heartbeat. By default each agent has its own HTTP/2 connection, as real hosts
//!   do; `--channels K` spreads them over K shared connections instead.
//! - Dispatch latency: from an agent handing a result to its stream to that agent receiving its
//!   next command, i.e. the orchestrator's reaction time per lifecycle event.
//!
//! Options: `--agents N` (or FERRY_BENCH_AGENTS, default 1000), `--channels K` (or
//! FERRY_BENCH_CHANNELS; 0, the default, is one connection per agent), `--backends
//! sqlite,postgres`, `--quick` (100 agents). PostgreSQL runs when FERRY_BENCH_POSTGRES is set (it
//! must then be reachable) or when the server at FERRY_BENCH_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres) answers; the bench creates a database there and
//! drops it at the end.

// Benchmark code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::{
    CommandAck, CommandResult, Heartbeat, Hello, SessionRequest, session_request, session_response,
};
use ferry_proto::common::v1::{
    ComputePlatform, DeploymentStatus, Diagnostics, LifecycleErrorCode, LifecycleEventStatus, Tag,
    TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{CreateDeploymentRequest, DeploymentInfo, GetDeploymentRequest};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, CreateApplicationRequest, CreateDeploymentGroupRequest,
    RegisterOnPremisesInstanceRequest,
};
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use ferry_registry::{Registry, RegistryConfig};
use ferry_revisions::{Revisions, RevisionsConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::GrpcServer;
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

const APP: &str = "bench";
const GROUP: &str = "bench";
/// The events of an in-place deployment without traffic control, in order.
const EVENTS: [&str; 7] = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];
/// The longest the bench waits for the sessions, or for the deployment to end.
const WAIT: Duration = Duration::from_secs(600);

struct Options {
    agents: usize,
    channels: usize,
    backends: Vec<String>,
    postgres_required: bool,
    postgres_admin: String,
}

fn options() -> Options {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut opts = Options {
        agents: env("FERRY_BENCH_AGENTS").map_or(1000, |v| v.parse().expect("FERRY_BENCH_AGENTS")),
        channels: env("FERRY_BENCH_CHANNELS")
            .map_or(0, |v| v.parse().expect("FERRY_BENCH_CHANNELS")),
        backends: vec!["sqlite".into(), "postgres".into()],
        postgres_required: env("FERRY_BENCH_POSTGRES").is_some(),
        postgres_admin: env("FERRY_BENCH_POSTGRES_URL")
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().unwrap_or_else(|| panic!("{arg} {what}"));
        match arg.as_str() {
            "--agents" => opts.agents = value("N").parse().expect("--agents N"),
            "--channels" => opts.channels = value("K").parse().expect("--channels K"),
            "--backends" => {
                opts.backends = value("LIST").split(',').map(str::to_owned).collect();
                opts.postgres_required |= opts.backends.iter().any(|b| b == "postgres");
            }
            "--quick" => opts.agents = 100,
            _ => {} // cargo bench passes --bench
        }
    }
    assert!(opts.agents > 0, "at least one agent");
    opts
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut runs = Vec::new();
        for backend in &opts.backends {
            let admin = if backend == "postgres" {
                match Database::connect(&opts.postgres_admin).await {
                    Ok(admin) => Some(admin),
                    Err(error) if !opts.postgres_required => {
                        println!(
                            "postgres: skipped ({} does not answer: {error})",
                            opts.postgres_admin
                        );
                        continue;
                    }
                    Err(error) => panic!("postgres at {}: {error}", opts.postgres_admin),
                }
            } else {
                None
            };
            runs.push(run(&opts, backend, admin.as_ref()).await);
        }
        print_summary(&opts, &runs);
    });
}

/// Registry and revisions in this process, on one port, with fresh SQLite files.
async fn services(dir: &Path, stop: &CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let registry = Registry::open(&RegistryConfig {
        data_dir: dir.join("registry"),
        ..RegistryConfig::default()
    })
    .await
    .unwrap();
    let revisions = Revisions::open(&RevisionsConfig {
        data_dir: dir.join("revisions"),
        registry_endpoint: endpoint.clone(),
        ..RevisionsConfig::default()
    })
    .await
    .unwrap();
    let builder =
        revisions.register(registry.register(GrpcServer::builder(&ServerConfig::default())));
    tokio::spawn(builder.serve(listener, stop.clone().cancelled_owned()));
    endpoint
}

/// The orchestrator process, its log lines (stderr) collected as they come.
struct Orchestrator {
    child: Child,
    endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Orchestrator {
    fn start(dir: &Path, services: &str, database_url: Option<&str>) -> Self {
        let quote = |s: &str| serde_json::to_string(s).unwrap();
        let mut yaml = format!(
            "listen: 127.0.0.1:0\ndata_dir: {}\nregistry_endpoint: {}\nrevisions_endpoint: {}\n",
            quote(&dir.join("orchestrator").to_string_lossy()),
            quote(services),
            quote(services),
        );
        if let Some(url) = database_url {
            yaml.push_str(&format!("database_url: {}\n", quote(url)));
        }
        let config = dir.join("orchestrator.yaml");
        std::fs::write(&config, yaml).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry-orchestrator"));
        command.arg("--config").arg(&config);
        // The binary reads FERRY_* as settings: none of the bench's own may reach it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FERRY_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening for grpc")
                    && let Some(address) = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("address="))
                {
                    let _ = address_tx.send(address.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(address) = address_rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "the orchestrator did not start; its log:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        Self {
            child,
            endpoint: format!("http://{address}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines at WARN or ERROR.
    fn problems(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .cloned()
            .collect()
    }
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of a process (`self` for this one), from /proc/<pid>/stat.
fn cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14, stime 15; USER_HZ is 100 on Linux.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time of every `postgres` process (the server's backends), for the PostgreSQL runs.
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|e| cpu(&e.file_name().to_string_lossy()))
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A bundle whose AppSpec has no hooks.
fn bundle() -> Vec<u8> {
    let appspec = b"version: 0.0\nos: linux\n";
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(appspec.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, "appspec.yml", &appspec[..])
        .unwrap();
    builder.into_inner().unwrap()
}

/// The application, the AllAtOnce group, `agents` registered and tagged instances (name and
/// credential each) and an uploaded revision.
async fn set_up(
    channel: Channel,
    agents: usize,
) -> (
    Vec<(String, String)>,
    ferry_proto::common::v1::RevisionLocation,
) {
    let registry = RegistryServiceClient::new(channel.clone());
    registry
        .clone()
        .create_application(CreateApplicationRequest {
            application_name: APP.into(),
            compute_platform: ComputePlatform::Server as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .clone()
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: APP.into(),
            deployment_group_name: GROUP.into(),
            deployment_config_name: "CodeDeployDefault.AllAtOnce".into(),
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
    let instances: Vec<(String, String)> = futures::stream::iter(0..agents)
        .map(|i| {
            let mut registry = registry.clone();
            async move {
                let name = format!("bench-{i:05}");
                let credential = registry
                    .register_on_premises_instance(RegisterOnPremisesInstanceRequest {
                        instance_name: name.clone(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .instance_credential;
                (name, credential)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // The registry changes at most 100 instances per call.
    for chunk in instances.chunks(100) {
        registry
            .clone()
            .add_tags_to_on_premises_instances(AddTagsToOnPremisesInstancesRequest {
                tags: vec![Tag {
                    key: "group".into(),
                    value: GROUP.into(),
                }],
                instance_names: chunk.iter().map(|(name, _)| name.clone()).collect(),
            })
            .await
            .unwrap();
    }
    let header = UploadBundleRequest {
        part: Some(Part::Header(UploadBundleHeader {
            application_name: APP.into(),
            ..Default::default()
        })),
    };
    let chunk = UploadBundleRequest {
        part: Some(Part::Chunk(bundle())),
    };
    let revision = RevisionServiceClient::new(channel)
        .upload_bundle(futures::stream::iter([header, chunk]))
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap();
    (instances, revision)
}

/// What one simulated agent saw.
#[derive(Default)]
struct Trace {
    /// Each new command's event and arrival, in order.
    arrivals: Vec<(String, Instant)>,
    /// When each of those commands' result was handed to the stream.
    results: Vec<Instant>,
    duplicates: usize,
    /// Session attempts answered with an error (e.g. UNAVAILABLE when the server sheds load).
    refused: usize,
    first_refusal: Option<String>,
    /// Streams that ended after the Welcome.
    dropped: usize,
    cancels: usize,
}

fn request(message: session_request::Message) -> SessionRequest {
    SessionRequest {
        message: Some(message),
    }
}

/// One simulated agent: holds its session (reconnecting if it fails) until `stop`.
async fn agent(
    channel: Channel,
    name: String,
    credential: String,
    welcomed: mpsc::UnboundedSender<()>,
    stop: CancellationToken,
) -> Trace {
    use session_request::Message as Out;
    use session_response::Message as In;
    let mut trace = Trace::default();
    let mut seen = HashSet::new();
    let mut unacknowledged: HashMap<String, CommandResult> = HashMap::new();
    let mut backoff = Duration::from_millis(50);
    let mut welcome_told = false;
    while !stop.is_cancelled() {
        let (tx, rx) = mpsc::channel(32);
        let hello = Hello {
            instance_name: name.clone(),
            instance_credential: credential.clone(),
            agent_version: "bench".into(),
            unacknowledged_results: unacknowledged.values().cloned().collect(),
            ..Default::default()
        };
        tx.send(request(Out::Hello(hello))).await.unwrap();
        let mut client = AgentServiceClient::new(channel.clone());
        let opened = tokio::select! {
            opened = client.session(ReceiverStream::new(rx)) => opened,
            () = stop.cancelled() => break,
        };
        let mut inbound = match opened {
            Ok(response) => response.into_inner(),
            Err(status) => {
                trace.refused += 1;
                trace
                    .first_refusal
                    .get_or_insert_with(|| status.to_string());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        loop {
            let message = tokio::select! {
                message = inbound.message() => message,
                () = stop.cancelled() => return trace,
            };
            let Ok(Some(response)) = message else {
                trace.dropped += 1;
                break;
            };
            let sent = match response.message {
                Some(In::Welcome(_)) => {
                    backoff = Duration::from_millis(50);
                    if !welcome_told {
                        welcome_told = true;
                        let _ = welcomed.send(());
                    }
                    Ok(())
                }
                Some(In::Command(command)) => {
                    let arrived = Instant::now();
                    let duplicate = !seen.insert(command.command_id.clone());
                    if duplicate {
                        trace.duplicates += 1;
                    } else {
                        trace
                            .arrivals
                            .push((command.lifecycle_event.clone(), arrived));
                    }
                    let now = std::time::SystemTime::now();
                    let result = CommandResult {
                        command_id: command.command_id.clone(),
                        status: LifecycleEventStatus::Succeeded as i32,
                        diagnostics: Some(Diagnostics {
                            error_code: LifecycleErrorCode::Success as i32,
                            message: "Succeeded".into(),
                            ..Default::default()
                        }),
                        start_time: Some(now.into()),
                        end_time: Some(now.into()),
                    };
                    unacknowledged.insert(command.command_id.clone(), result.clone());
                    let ack = CommandAck {
                        command_id: command.command_id,
                        duplicate,
                    };
                    let sent = match tx.send(request(Out::Ack(ack))).await {
                        Ok(()) => tx.send(request(Out::Result(result))).await,
                        Err(e) => Err(e),
                    };
                    if !duplicate {
                        trace.results.push(Instant::now());
                    }
                    sent
                }
                Some(In::Heartbeat(beat)) => {
                    let beat = Heartbeat {
                        sequence: beat.sequence,
                        sent_at: Some(std::time::SystemTime::now().into()),
                    };
                    tx.send(request(Out::Heartbeat(beat))).await
                }
                Some(In::ResultAck(ack)) => {
                    unacknowledged.remove(&ack.command_id);
                    Ok(())
                }
                Some(In::Cancel(_)) => {
                    trace.cancels += 1;
                    Ok(())
                }
                None => Ok(()),
            };
            if sent.is_err() {
                trace.dropped += 1;
                break;
            }
        }
    }
    trace
}

/// A PostgreSQL database of this run's own (URL and name), created on the admin connection.
async fn create_database(admin: &sea_orm::DatabaseConnection, admin_url: &str) -> (String, String) {
    let name = format!("ferry_bench_dispatch_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.execute_unprepared(&sql).await.unwrap();
    }
    let base = admin_url.rsplit_once('/').unwrap().0;
    (format!("{base}/{name}"), name)
}

/// One back end's figures, as rows of the summary table.
struct Figures {
    backend: String,
    rows: Vec<(&'static str, String)>,
}

async fn run(
    opts: &Options,
    backend: &str,
    admin: Option<&sea_orm::DatabaseConnection>,
) -> Figures {
    let n = opts.agents;
    let dir = tempfile::tempdir().unwrap();
    let stop_services = CancellationToken::new();
    let started = Instant::now();
    let services_endpoint = services(dir.path(), &stop_services).await;
    let services_channel = Endpoint::from_shared(services_endpoint.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (instances, revision) = set_up(services_channel, n).await;
    let setup = started.elapsed();
    let database = match admin {
        Some(admin) => Some(create_database(admin, &opts.postgres_admin).await),
        None => None,
    };
    let orchestrator = Orchestrator::start(
        dir.path(),
        &services_endpoint,
        database.as_ref().map(|(url, _)| url.as_str()),
    );
    let pid = orchestrator.pid();
    let rss_idle = status_kib(pid, "VmRSS:");
    let endpoint = Endpoint::from_shared(orchestrator.endpoint.clone()).unwrap();
    let shared: Vec<Channel> = (0..opts.channels)
        .map(|_| endpoint.connect_lazy())
        .collect();

    // Every session at once, as after an orchestrator restart.
    let connecting = Instant::now();
    let stop = CancellationToken::new();
    let (welcomed_tx, mut welcomed) = mpsc::unbounded_channel();
    let agents: Vec<_> = instances
        .into_iter()
        .enumerate()
        .map(|(i, (name, credential))| {
            let channel = match shared.len() {
                0 => endpoint.connect_lazy(),
                k => shared[i % k].clone(),
            };
            tokio::spawn(agent(
                channel,
                name,
                credential,
                welcomed_tx.clone(),
                stop.clone(),
            ))
        })
        .collect();
    for _ in 0..n {
        tokio::time::timeout(WAIT, welcomed.recv())
            .await
            .expect("the sessions did not all open")
            .unwrap();
    }
    let connect = connecting.elapsed();
    let rss_connected = status_kib(pid, "VmRSS:");
    let peak_connect = status_kib(pid, "VmHWM:");
    // From here on VmHWM is the deployment's peak: clear_refs 5 resets it to the current RSS.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");

    let mut deployments = DeploymentServiceClient::new(endpoint.connect().await.unwrap());
    let cpu_before = (cpu(&pid.to_string()), cpu("self"), postgres_cpu());
    let created = Instant::now();
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
    let returned = Instant::now();
    let info = finished(&mut deployments, &id, &orchestrator).await;
    let end_to_end = created.elapsed();
    let cpu_orchestrator = cpu(&pid.to_string()) - cpu_before.0;
    let cpu_bench = cpu("self") - cpu_before.1;
    let cpu_postgres = postgres_cpu().saturating_sub(cpu_before.2);
    let peak_deploy = status_kib(pid, "VmHWM:");

    assert_eq!(
        info.status,
        DeploymentStatus::Succeeded as i32,
        "deployment {id} did not succeed: {info:?}"
    );
    let overview = info.deployment_overview.unwrap_or_default();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (n as i64, 0, 0),
        "{overview:?}"
    );
    let at = |seconds: i64, nanos: i32| seconds * 1_000_000 + i64::from(nanos / 1000);
    let created_at = info
        .create_time
        .as_ref()
        .map_or(0, |t| at(t.seconds, t.nanos));
    let completed_at = info
        .complete_time
        .as_ref()
        .map_or(0, |t| at(t.seconds, t.nanos));
    let server_side = Duration::from_micros(u64::try_from(completed_at - created_at).unwrap_or(0));

    stop.cancel();
    let mut traces = Vec::with_capacity(n);
    for agent in agents {
        traces.push(agent.await.unwrap());
    }
    let problems = orchestrator.problems();
    drop(orchestrator);
    stop_services.cancel();
    if let (Some(admin), Some((_, name))) = (admin, &database) {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }

    let timeline = Timeline::of(&traces, created, returned);
    println!(
        "\n{backend}: each lifecycle event across the fleet (ms after the CreateDeployment call)"
    );
    timeline.print();
    if !problems.is_empty() {
        println!(
            "  orchestrator log: {} WARN/ERROR lines; the first:",
            problems.len()
        );
        for line in problems.iter().take(10) {
            println!("    {line}");
        }
    }
    let count = |f: fn(&Trace) -> usize| traces.iter().map(f).sum::<usize>();
    if let Some(refusal) = traces.iter().find_map(|t| t.first_refusal.as_ref()) {
        println!("  first refused session: {refusal}");
    }

    let seconds = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let millis = |d: Duration| format!("{:.1} ms", ms(d));
    let memory = |kib: u64| format!("{:.1} MiB", mib(kib));
    let d = &timeline.dispatch;
    let rows = vec![
        ("set-up (register, tag, upload)", seconds(setup)),
        ("all sessions open", seconds(connect)),
        ("CreateDeployment call", millis(returned - created)),
        ("end to end (create → Succeeded seen)", seconds(end_to_end)),
        ("server-side create → complete", seconds(server_side)),
        (
            "lifecycle events / s",
            format!(
                "{:.0}",
                (n * EVENTS.len()) as f64 / end_to_end.as_secs_f64()
            ),
        ),
        ("dispatch latency p50", millis(percentile(d, 0.5))),
        ("dispatch latency p99", millis(percentile(d, 0.99))),
        ("dispatch latency max", millis(percentile(d, 1.0))),
        (
            "first command after create returned p50/p99",
            format!(
                "{:.0} / {:.0} ms",
                ms(percentile(&timeline.first, 0.5)),
                ms(percentile(&timeline.first, 0.99))
            ),
        ),
        (
            "orchestrator peak RSS (VmHWM)",
            memory(peak_connect.max(peak_deploy)),
        ),
        ("  RSS idle, before the sessions", memory(rss_idle)),
        ("  RSS with the sessions open", memory(rss_connected)),
        ("  peak while deploying", memory(peak_deploy)),
        (
            "orchestrator CPU while deploying",
            format!(
                "{:.2} s ({:.0}%)",
                cpu_orchestrator.as_secs_f64(),
                100.0 * cpu_orchestrator.as_secs_f64() / end_to_end.as_secs_f64()
            ),
        ),
        ("bench process CPU while deploying", seconds(cpu_bench)),
        (
            "postgres CPU while deploying",
            if database.is_some() {
                seconds(cpu_postgres)
            } else {
                "-".into()
            },
        ),
        (
            "session attempts refused / dropped",
            format!("{} / {}", count(|t| t.refused), count(|t| t.dropped)),
        ),
        (
            "duplicate commands / cancels",
            format!("{} / {}", count(|t| t.duplicates), count(|t| t.cancels)),
        ),
        ("orchestrator WARN/ERROR lines", problems.len().to_string()),
    ];
    Figures {
        backend: backend.to_owned(),
        rows,
    }
}

/// Polls GetDeployment every 20 ms until the deployment has ended.
async fn finished(
    client: &mut DeploymentServiceClient<Channel>,
    id: &str,
    orchestrator: &Orchestrator,
) -> DeploymentInfo {
    let deadline = Instant::now() + WAIT;
    loop {
        let request = GetDeploymentRequest {
            deployment_id: id.into(),
        };
        let info = client
            .get_deployment(request)
            .await
            .unwrap()
            .into_inner()
            .deployment_info
            .unwrap();
        let terminal = [
            DeploymentStatus::Succeeded,
            DeploymentStatus::Failed,
            DeploymentStatus::Stopped,
        ];
        if terminal.iter().any(|s| *s as i32 == info.status) {
            return info;
        }
        if Instant::now() > deadline {
            let log = orchestrator.log.lock().unwrap();
            let tail = log[log.len().saturating_sub(40)..].join("\n");
            panic!("deployment {id} did not end within {WAIT:?}: {info:?}\nlog tail:\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fleet's commands and results, put together from every agent's trace.
struct Timeline {
    /// Every command's dispatch latency but each agent's first, sorted.
    dispatch: Vec<Duration>,
    /// Each agent's first command after CreateDeployment returned, sorted.
    first: Vec<Duration>,
    /// Per event, after the CreateDeployment call: first and last command, last result, and
    /// the event's dispatch latencies (sorted).
    events: Vec<(Duration, Duration, Duration, Vec<Duration>)>,
}

impl Timeline {
    fn of(traces: &[Trace], created: Instant, returned: Instant) -> Self {
        let since = |t: Instant| t.saturating_duration_since(created);
        let mut events =
            vec![(Duration::MAX, Duration::ZERO, Duration::ZERO, Vec::new()); EVENTS.len()];
        let mut first = Vec::with_capacity(traces.len());
        for trace in traces {
            let names: Vec<&str> = trace.arrivals.iter().map(|(e, _)| e.as_str()).collect();
            assert_eq!(names, EVENTS, "an agent's commands, in order");
            first.push(trace.arrivals[0].1.saturating_duration_since(returned));
            for (k, (_, arrived)) in trace.arrivals.iter().enumerate() {
                let event = &mut events[k];
                event.0 = event.0.min(since(*arrived));
                event.1 = event.1.max(since(*arrived));
                event.2 = event.2.max(since(trace.results[k]));
                if k > 0 {
                    event
                        .3
                        .push(arrived.saturating_duration_since(trace.results[k - 1]));
                }
            }
        }
        let mut dispatch = Vec::new();
        for event in &mut events {
            event.3.sort();
            dispatch.extend_from_slice(&event.3);
        }
        dispatch.sort();
        first.sort();
        Self {
            dispatch,
            first,
            events,
        }
    }

    fn print(&self) {
        println!(
            "  {:<17} {:>10} {:>10} {:>12} {:>13} {:>13}",
            "event", "first cmd", "last cmd", "last result", "dispatch p50", "dispatch p99"
        );
        for (name, (first, last, result, latencies)) in EVENTS.iter().zip(&self.events) {
            let at = |p: f64| match latencies.is_empty() {
                true => "-".to_owned(),
                false => format!("{:.1}", ms(percentile(latencies, p))),
            };
            println!(
                "  {name:<17} {:>10.0} {:>10.0} {:>12.0} {:>13} {:>13}",
                ms(*first),
                ms(*last),
                ms(*result),
                at(0.5),
                at(0.99)
            );
        }
    }
}

fn print_summary(opts: &Options, runs: &[Figures]) {
    let n = opts.agents;
    let connections = match opts.channels {
        0 => format!("{n} HTTP/2 connections (one per agent)"),
        k => format!("{k} shared HTTP/2 connections"),
    };
    println!(
        "\nAllAtOnce to {n} simulated agents, {} lifecycle events each (no hooks), over \
         {connections}; {} cores",
        EVENTS.len(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    print!("{:<44}", "figure");
    for run in runs {
        print!(" {:>18}", run.backend);
    }
    println!();
    for (i, (label, _)) in runs
        .first()
        .map_or(&[][..], |r| &r.rows[..])
        .iter()
        .enumerate()
    {
        print!("{label:<44}");
        for run in runs {
            print!(" {:>18}", run.rows[i].1);
        }
        println!();
    }
}
