//! Scenario 2, `simulated-agents`: N simulated agents (100, 1,000 and 10,000; 100 with
//! `--quick`) on real gRPC connections, one HTTP/2 connection each, all in this process.
//!
//! For each N, two servers run in child processes (this binary re-executed, see [`child`]) so
//! that their memory is their own:
//!
//! - the baseline, a bare tonic `AgentService` that holds N idle streams and broadcasts one
//!   command to all of them ([`bare`]);
//! - the real orchestrator (SQLite under a temporary directory, or PostgreSQL when
//!   `FERRY_BENCH_POSTGRES_URL` names a server: a fresh database is created there and dropped
//!   at the end), with the registry and revisions services in this process; the N agents
//!   connect, then one AllAtOnce deployment runs over them ([`ferry`]).
//!
//! Figures: time to connect all; resident memory per connected idle agent (RSS with N
//! sessions minus RSS before any, over N) against the bare server's per stream; the first
//! command's latency (CreateDeployment sent → each agent's first command) against the bare
//! broadcast's (trigger written → each client's receipt); the per-event dispatch latency
//! (result sent → next command received); the deployment's time and lifecycle events per
//! second. Goals are reported, not asserted: memory per idle agent ≤ 1.2× bare tonic, first
//! command p99 ≤ 1.5× the bare broadcast p99.
//!
//! `FERRY_BENCH_AGENT_COUNTS=100,2000` runs other fleet sizes.

mod agent;
mod bare;
pub mod child;
mod ferry;

use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use crate::stats::{Row, millis, percentile, print_table};
use crate::system;

const GOAL_MEMORY_RATIO: f64 = 1.2;
const GOAL_LATENCY_RATIO: f64 = 1.5;
/// The longest the bench waits for the sessions to open, or a deployment to end.
const WAIT: Duration = Duration::from_secs(600);

pub async fn run(quick: bool) -> anyhow::Result<serde_json::Value> {
    let sizes = match std::env::var("FERRY_BENCH_AGENT_COUNTS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|n| n.trim().parse::<usize>().ok().filter(|n| *n > 0))
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("FERRY_BENCH_AGENT_COUNTS={list:?}: not a list of counts"))?,
        _ if quick => vec![100],
        _ => vec![100, 1_000, 10_000],
    };
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let file_limit = system::raise_file_limit(largest)?;
    let postgres = std::env::var("FERRY_BENCH_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty());
    let backend = if postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for &n in &sizes {
        match measure(n, postgres.as_deref(), backend).await {
            Ok(figures) => runs.push(figures),
            Err(error) => {
                eprintln!("ferry-bench: simulated-agents, N = {n}: {error:#}");
                failures.push(format!("N = {n}: {error:#}"));
            }
        }
    }
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("; "));
    Ok(json!({
        "backend": backend,
        "events_per_target": ferry::EVENTS.len(),
        "open_files_limit": file_limit,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "goal_memory_ratio": GOAL_MEMORY_RATIO,
        "goal_latency_ratio": GOAL_LATENCY_RATIO,
        "runs": runs,
    }))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", millis(d))
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The baseline, then ferry, for `n` agents: prints the table, returns the figures.
async fn measure(
    n: usize,
    postgres: Option<&str>,
    backend: &str,
) -> anyhow::Result<serde_json::Value> {
    let bare = bare::measure(n, WAIT)
        .await
        .context("the bare tonic baseline")?;
    let ferry = ferry::measure(n, postgres, WAIT)
        .await
        .context("the orchestrator")?;

    let bare_kib = bare.per_stream_kib(n);
    let ferry_kib = ferry.per_session_kib(n);
    let memory_ratio = ferry_kib / bare_kib.max(f64::EPSILON);
    let memory_met = memory_ratio <= GOAL_MEMORY_RATIO;
    let p = |samples: &[Duration], q: f64| percentile(samples, q);
    let bare_p50 = p(&bare.broadcast, 50.0);
    let bare_p99 = p(&bare.broadcast, 99.0);
    let first_p50 = p(&ferry.first_command, 50.0);
    let first_p99 = p(&ferry.first_command, 99.0);
    let dispatch_p50 = p(&ferry.dispatch, 50.0);
    let dispatch_p99 = p(&ferry.dispatch, 99.0);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(f64::EPSILON);
    let latency_ratio = ratio(first_p99, bare_p99);
    let latency_met = latency_ratio <= GOAL_LATENCY_RATIO;
    let dispatch_ratio = ratio(dispatch_p99, bare_p99);
    let events = n * ferry::EVENTS.len();
    let events_per_second = events as f64 / ferry.end_to_end.as_secs_f64();
    let cpu_share = |d: Duration| {
        format!(
            "{:.2} s ({:.0}%)",
            d.as_secs_f64(),
            100.0 * d.as_secs_f64() / ferry.end_to_end.as_secs_f64()
        )
    };

    let mut rows = vec![
        Row::figure(
            "set-up: register, tag, upload (registry in bench)",
            seconds(ferry.setup),
        ),
        Row::figure("time to connect all: orchestrator", seconds(ferry.connect)),
        Row::figure("time to connect all: bare tonic", seconds(bare.connect)),
        Row::figure(
            "orchestrator RSS: before sessions / with N",
            format!(
                "{} / {}",
                mib(ferry.rss_idle_kib),
                mib(ferry.rss_connected_kib)
            ),
        ),
        Row::figure(
            "bare tonic RSS: before streams / with N",
            format!(
                "{} / {}",
                mib(bare.rss_idle_kib),
                mib(bare.rss_connected_kib)
            ),
        ),
        Row::figure(
            "memory per idle agent: orchestrator",
            format!("{ferry_kib:.1} KiB"),
        ),
        Row::figure(
            "memory per idle stream: bare tonic",
            format!("{bare_kib:.1} KiB"),
        ),
        Row::goal(
            "memory ratio orchestrator/bare",
            format!("{memory_ratio:.2}x"),
            &format!("<= {GOAL_MEMORY_RATIO}x"),
            memory_met,
        ),
        Row::figure(
            "bare broadcast p50 / p99 (trigger -> received)",
            format!("{} / {}", ms(bare_p50), ms(bare_p99)),
        ),
        Row::figure(
            "first command p50 / p99 (CreateDeployment sent -> received)",
            format!("{} / {}", ms(first_p50), ms(first_p99)),
        ),
        Row::goal(
            "ratio first-command p99 / bare broadcast p99",
            format!("{latency_ratio:.2}x"),
            &format!("<= {GOAL_LATENCY_RATIO}x"),
            latency_met,
        ),
        Row::figure(
            "dispatch latency p50 / p99 (result sent -> next command)",
            format!("{} / {}", ms(dispatch_p50), ms(dispatch_p99)),
        ),
        Row::figure(
            "ratio dispatch p99 / bare broadcast p99 (not the goal)",
            format!("{dispatch_ratio:.2}x"),
        ),
        Row::figure("CreateDeployment call", ms(ferry.create_call)),
        Row::figure(
            "AllAtOnce deployment (create -> Succeeded seen)",
            seconds(ferry.end_to_end),
        ),
        Row::figure(
            "  server-side create -> complete",
            seconds(ferry.server_side),
        ),
        Row::figure(
            &format!("lifecycle events / s ({events} events)"),
            format!("{events_per_second:.0}"),
        ),
        Row::figure(
            "orchestrator peak RSS while deploying",
            mib(ferry.peak_deploy_kib),
        ),
        Row::figure(
            "orchestrator CPU while deploying",
            cpu_share(ferry.cpu_orchestrator),
        ),
        Row::figure(
            "bench process CPU while deploying",
            cpu_share(ferry.cpu_bench),
        ),
    ];
    if let Some(cpu) = ferry.cpu_postgres {
        rows.push(Row::figure("postgres CPU while deploying", cpu_share(cpu)));
    }
    rows.push(Row::figure(
        "sessions refused (orchestrator / bare) / dropped",
        format!("{} / {} / {}", ferry.refused, bare.refused, ferry.dropped),
    ));
    rows.push(Row::figure(
        "duplicate commands / cancels",
        format!("{} / {}", ferry.duplicates, ferry.cancels),
    ));
    print_table(
        &format!(
            "simulated-agents: N = {n}, one HTTP/2 connection each, AllAtOnce, {} events per \
             target (no hooks), orchestrator on {backend}",
            ferry::EVENTS.len()
        ),
        &rows,
    );
    if let Some(refusal) = &ferry.first_refusal {
        println!("  first refused session: {refusal}");
    }
    println!("  per event, after CreateDeployment was sent (first / last command):");
    for (name, (first, last)) in ferry::EVENTS.iter().zip(&ferry.events) {
        println!("    {name:<17} {:>10} {:>10}", ms(*first), ms(*last));
    }

    let events: Vec<serde_json::Value> = ferry::EVENTS
        .iter()
        .zip(&ferry.events)
        .map(|(name, (first, last))| {
            json!({
                "event": name,
                "first_command_ms": millis(*first),
                "last_command_ms": millis(*last),
            })
        })
        .collect();
    Ok(json!({
        "agents": n,
        "setup_s": round2(ferry.setup.as_secs_f64()),
        "connect_all_s": round2(ferry.connect.as_secs_f64()),
        "bare_connect_all_s": round2(bare.connect.as_secs_f64()),
        "orchestrator_rss_idle_kib": ferry.rss_idle_kib,
        "orchestrator_rss_connected_kib": ferry.rss_connected_kib,
        "bare_rss_idle_kib": bare.rss_idle_kib,
        "bare_rss_connected_kib": bare.rss_connected_kib,
        "memory_per_agent_kib": round2(ferry_kib),
        "bare_memory_per_stream_kib": round2(bare_kib),
        "memory_ratio": round2(memory_ratio),
        "memory_goal_met": memory_met,
        "bare_broadcast_p50_ms": millis(bare_p50),
        "bare_broadcast_p99_ms": millis(bare_p99),
        "first_command_p50_ms": millis(first_p50),
        "first_command_p99_ms": millis(first_p99),
        "latency_ratio": round2(latency_ratio),
        "latency_ratio_is": "first-command p99 / bare broadcast p99",
        "latency_goal_met": latency_met,
        "dispatch_p50_ms": millis(dispatch_p50),
        "dispatch_p99_ms": millis(dispatch_p99),
        "dispatch_max_ms": millis(p(&ferry.dispatch, 100.0)),
        "dispatch_p99_over_bare_broadcast_p99": round2(dispatch_ratio),
        "create_deployment_call_ms": millis(ferry.create_call),
        "deployment_s": round2(ferry.end_to_end.as_secs_f64()),
        "server_side_deployment_s": round2(ferry.server_side.as_secs_f64()),
        "lifecycle_events": events,
        "lifecycle_events_per_s": events_per_second.round(),
        "orchestrator_peak_rss_deploying_kib": ferry.peak_deploy_kib,
        "orchestrator_cpu_deploying_s": round2(ferry.cpu_orchestrator.as_secs_f64()),
        "bench_cpu_deploying_s": round2(ferry.cpu_bench.as_secs_f64()),
        "postgres_cpu_deploying_s": ferry.cpu_postgres.map(|d| round2(d.as_secs_f64())),
        "sessions_refused": ferry.refused,
        "bare_sessions_refused": bare.refused,
        "sessions_dropped": ferry.dropped,
        "duplicate_commands": ferry.duplicates,
        "cancels": ferry.cancels,
        "events": events,
    }))
}
