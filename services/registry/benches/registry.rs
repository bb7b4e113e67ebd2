//! CreateApplication and GetApplication throughput and latency over real gRPC, with 1 and 32
//! concurrent callers, on SQLite and on PostgreSQL. Prints a table; asserts nothing about speed.
//!
//! cargo bench -p ferry-registry --bench registry [-- --seconds 5 --backends sqlite,postgres]
//!
//! PostgreSQL: FERRY_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
//! the bench creates a database of its own there and drops it at the end.

// Test and benchmark code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::registry_service_server::RegistryServiceServer;
use ferry_proto::registry::v1::{CreateApplicationRequest, GetApplicationRequest};
use ferry_registry::{Registry, RegistryApi, RegistryConfig};
use sea_orm::{ConnectionTrait, Database};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

const CONCURRENCY: [usize; 2] = [1, 32];

struct Options {
    seconds: f64,
    backends: Vec<String>,
}

fn options() -> Options {
    let mut opts = Options {
        seconds: 3.0,
        backends: vec!["sqlite".into(), "postgres".into()],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                opts.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            "--backends" => {
                opts.backends = args
                    .next()
                    .expect("--backends LIST")
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            "--quick" => opts.seconds = 0.5,
            _ => {} // cargo bench passes --bench
        }
    }
    opts
}

struct Row {
    backend: String,
    op: &'static str,
    callers: usize,
    calls: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = options();
    let mut rows = Vec::new();
    for backend in &opts.backends {
        let dir = tempfile::tempdir()?;
        let mut config = RegistryConfig {
            data_dir: dir.path().to_owned(),
            ..RegistryConfig::default()
        };
        let mut pg = None;
        if backend == "postgres" {
            let (admin, url, name) = create_postgres_database().await?;
            config.database_url = Some(url);
            pg = Some((admin, name));
        }
        let addr = serve(&config).await?;
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        let client = RegistryServiceClient::new(channel);
        for callers in CONCURRENCY {
            let created = Arc::new(AtomicUsize::new(0));
            let prefix = format!("bench-{callers}");
            let create = {
                let (created, prefix) = (created.clone(), prefix.clone());
                measure(&client, callers, opts.seconds, move |mut client| {
                    let name = format!("{prefix}-{}", created.fetch_add(1, Ordering::Relaxed));
                    async move {
                        let req = CreateApplicationRequest {
                            application_name: name,
                            ..Default::default()
                        };
                        client.create_application(req).await.map(drop)
                    }
                })
                .await?
            };
            rows.push(row(backend, "CreateApplication", callers, create));
            let existing = created.load(Ordering::Relaxed).max(1);
            let next = Arc::new(AtomicUsize::new(0));
            let get = measure(&client, callers, opts.seconds, move |mut client| {
                let name = format!(
                    "{prefix}-{}",
                    next.fetch_add(1, Ordering::Relaxed) % existing
                );
                async move {
                    client
                        .get_application(GetApplicationRequest {
                            application_name: name,
                        })
                        .await
                        .map(drop)
                }
            })
            .await?;
            rows.push(row(backend, "GetApplication", callers, get));
        }
        if let Some((admin, name)) = pg {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
    print_table(&rows);
    Ok(())
}

async fn serve(config: &RegistryConfig) -> anyhow::Result<std::net::SocketAddr> {
    let registry = Registry::open(config).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RegistryServiceServer::new(RegistryApi::new(registry)))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    Ok(addr)
}

async fn create_postgres_database() -> anyhow::Result<(sea_orm::DatabaseConnection, String, String)>
{
    let admin_url = std::env::var("FERRY_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = Database::connect(&admin_url).await?;
    let name = format!("ferry_bench_{}", std::process::id());
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin_url);
    Ok((admin, format!("{base}/{name}"), name))
}

/// Runs `callers` loops of `call` for `seconds`, each on a clone of one HTTP/2 connection (as a
/// real client shares a channel), and returns every call's latency and the wall time taken.
async fn measure<F, Fut>(
    client: &RegistryServiceClient<Channel>,
    callers: usize,
    seconds: f64,
    call: F,
) -> anyhow::Result<(Vec<Duration>, Duration)>
where
    F: Fn(RegistryServiceClient<Channel>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (client, call) = (client.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                call(client.clone()).await?;
                latencies.push(start.elapsed());
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all, started.elapsed()))
}

fn row(
    backend: &str,
    op: &'static str,
    callers: usize,
    (mut latencies, wall): (Vec<Duration>, Duration),
) -> Row {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
    };
    Row {
        backend: backend.to_owned(),
        op,
        callers,
        calls: latencies.len(),
        per_sec: latencies.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50).unwrap_or_default(),
        p99: at(0.99).unwrap_or_default(),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<9} {:<18} {:>7} {:>8} {:>10} {:>10} {:>10}",
        "backend", "operation", "callers", "calls", "calls/s", "p50 ms", "p99 ms"
    );
    for r in rows {
        println!(
            "{:<9} {:<18} {:>7} {:>8} {:>10.0} {:>10.2} {:>10.2}",
            r.backend,
            r.op,
            r.callers,
            r.calls,
            r.per_sec,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
    }
}
