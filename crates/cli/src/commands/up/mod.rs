//! `ferry up`: registry, revisions and orchestrator in one process on one port, with the
//! embedded defaults (SQLite and local blobs under the data directory), and `--agents N`
//! local agents registered as on-premises instances `local-1` … `local-N` with the tag
//! `ferry-up=local`. Everything lives under the data directory, so a second start picks up
//! where the first stopped: the databases, the blobs, the agents' roots and credentials.
//!
//! Start-up: lock the data directory, bind, open the three services with their endpoints
//! pointed at the bound address, register (or re-authenticate) the local agents, serve, start
//! the agents and wait for their sessions, then print the endpoint and what to run next.
//! Shutdown on SIGINT/SIGTERM: the agents stop first (their sessions would otherwise hold the
//! server's drain open), then the server drains, then the orchestrator's background work
//! stops. A second signal exits at once.

mod agents;
mod banner;
mod services;

use std::fs::File;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use ferry_runtime::config::{LogConfig, TelemetryConfig};
use ferry_runtime::server::shutdown_signal;
use tokio_util::sync::CancellationToken;

use super::EXIT_OK;
use agents::LocalAgents;
use services::Services;

/// Where `ferry up` listens by default: the address the other `ferry` commands talk to.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// Exit status when a second signal cuts the shutdown short (128 + SIGINT, as shells report).
const EXIT_FORCED: u8 = 130;

/// How long the local agents get to connect before the next steps are printed anyway.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// How long stopping agents may take: each gives its running hooks 10 s to record results.
const AGENTS_STOP_WAIT: Duration = Duration::from_secs(15);

/// How long tasks still running after shutdown (open streams, hooks) may hold up the exit.
const RUNTIME_STOP_WAIT: Duration = Duration::from_secs(5);

/// Logs on stderr: warnings from everything, progress from `ferry up` itself, so the printed
/// endpoint and next steps stand out. `RUST_LOG` replaces it.
const LOG_FILTER: &str = "warn,ferry::commands::up=info";

#[derive(Args)]
pub struct UpArgs {
    /// Where to listen, HOST:PORT; port 0 picks a free port (the printed
    /// "ferry is up at" line says which).
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// Where the databases, the bundle blobs and the local agents' directories live; a
    /// later start with the same directory reuses them.
    #[arg(long, value_name = "DIR", default_value = "./ferry-data")]
    data_dir: PathBuf,
    /// Run N local agents, registered as on-premises instances local-1 … local-N with the
    /// tag ferry-up=local; their hooks run as the current user.
    #[arg(long, value_name = "N", default_value_t = 0)]
    agents: u32,
}

/// Serves until SIGINT or SIGTERM; exit 0 after a clean stop.
pub fn run(args: UpArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferry-up")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(up(args));
    // Streams the drain left open and hooks that ignored their cancellation end here.
    runtime.shutdown_timeout(RUNTIME_STOP_WAIT);
    result
}

async fn up(args: UpArgs) -> anyhow::Result<u8> {
    let log = LogConfig {
        filter: LOG_FILTER.to_owned(),
        ..LogConfig::default()
    };
    let telemetry = ferry_runtime::telemetry::init("ferry-up", &log, &TelemetryConfig::default())?;
    let signals = Signals::listen();
    let result = tokio::select! {
        result = serve(&args, &signals) => result,
        () = signals.forced.cancelled() => {
            eprintln!("ferry up: second signal, exiting without waiting");
            Ok(EXIT_FORCED)
        }
    };
    telemetry.shutdown();
    result
}

/// The first SIGINT/SIGTERM cancels `stop`, the second `forced`.
struct Signals {
    stop: CancellationToken,
    forced: CancellationToken,
}

impl Signals {
    /// Listens from now on, so a Ctrl-C during start-up also stops cleanly.
    fn listen() -> Self {
        let signals = Self {
            stop: CancellationToken::new(),
            forced: CancellationToken::new(),
        };
        let (stop, forced) = (signals.stop.clone(), signals.forced.clone());
        tokio::spawn(async move {
            shutdown_signal().await;
            stop.cancel();
            shutdown_signal().await;
            forced.cancel();
        });
        signals
    }
}

async fn serve(args: &UpArgs, signals: &Signals) -> anyhow::Result<u8> {
    let data_dir = prepare_data_dir(&args.data_dir)?;
    let _lock = lock_data_dir(&data_dir)?;
    let listener = ferry_runtime::server::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = reachable(listener.local_addr().context("the bound address")?);
    let endpoint = format!("http://{address}");

    let services = Services::open(&data_dir, &endpoint).await?;
    // The orchestrator's background work (webhook deliveries); stopped when this returns,
    // after the server has drained.
    let background = CancellationToken::new();
    services.orchestrator.start(background.clone()).await?;
    let _background = background.drop_guard();
    let agents = LocalAgents::prepare(&services.registry, &data_dir, args.agents).await?;

    let server_stop = CancellationToken::new();
    let _server_guard = server_stop.clone().drop_guard();
    let mut server = tokio::spawn(
        services
            .server()
            .serve(listener, server_stop.clone().cancelled_owned()),
    );
    let agents = agents.start(&endpoint)?;

    let connected = tokio::select! {
        connected = agents.wait_connected(&services.orchestrator, CONNECT_WAIT) => connected,
        () = signals.stop.cancelled() => false,
    };
    if !signals.stop.is_cancelled() {
        if !connected {
            tracing::warn!(
                waited = ?CONNECT_WAIT,
                "not every local agent has connected yet; they keep trying"
            );
        }
        let text = banner::Banner {
            endpoint: &endpoint,
            data_dir: &data_dir,
            agents: agents.names(),
        }
        .to_string();
        // A closed stdout (`ferry up | head -1`) is no reason to stop serving.
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            tracing::warn!(%error, "cannot print the endpoint and next steps");
        }
    }

    let ended_early = tokio::select! {
        () = signals.stop.cancelled() => None,
        result = &mut server => Some(result),
    };
    tracing::info!("stopping: the local agents first, then the server");
    agents.stop(AGENTS_STOP_WAIT).await;
    server_stop.cancel();
    let early = ended_early.is_some();
    let result = match ended_early {
        Some(result) => result,
        None => server.await,
    };
    result
        .context("the server task failed")?
        .context("the server stopped with an error")?;
    if early {
        anyhow::bail!("the server stopped on its own");
    }
    tracing::info!(data_dir = %data_dir.display(), "stopped; the data directory is kept");
    Ok(EXIT_OK)
}

/// Creates the data directory and returns its absolute path (the agents' install roots must
/// be absolute).
fn prepare_data_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    std::fs::canonicalize(dir)
        .with_context(|| format!("cannot resolve the data directory {}", dir.display()))
}

/// One `ferry up` per data directory: two would share SQLite files and agent roots. The lock
/// is held while the returned file is open, and the OS releases it however the process ends.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join("ferry-up.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `ferry up` is running with the data directory {}",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The address clients and the local agents connect to: a wildcard listen address
/// (0.0.0.0, ::) is reached on loopback.
fn reachable(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_reached_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        assert_eq!(reachable(v4).to_string(), "127.0.0.1:50051");
        let v6: SocketAddr = "[::]:7".parse().unwrap();
        assert_eq!(reachable(v6).to_string(), "[::1]:7");
        let own: SocketAddr = "10.1.2.3:9".parse().unwrap();
        assert_eq!(reachable(own), own);
    }

    #[test]
    fn a_data_directory_is_locked_once() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_data_dir(dir.path()).unwrap();
        let err = lock_data_dir(dir.path()).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("another `ferry up`")),
            "{err:?}"
        );
        drop(held);
        assert!(lock_data_dir(dir.path()).is_ok());
    }
}
