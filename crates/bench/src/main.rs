//! `ferry-bench`: end-to-end benchmarks of a whole ferry in one process (registry, revisions
//! and orchestrator on one port, SQLite under a temporary directory, real agents on real
//! connections). Prints a table per scenario and writes every figure as JSON.

mod cluster;
mod fan_out;
mod one_host;
mod peers;
mod setup;
mod simulated_agents;
mod stats;
mod system;
mod true_hooks;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ferry-bench",
    about = "End-to-end deployment benchmarks of ferry"
)]
struct Args {
    /// Fewer deployments and agents: each scenario runs in seconds.
    #[arg(long)]
    quick: bool,
    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Where to write the figures as JSON.
    #[arg(long, value_name = "PATH", default_value = "target/ferry-bench.json")]
    json: PathBuf,
    /// Internal: run as a server of a scenario (`orchestrator:<config>` or `bare`).
    #[arg(long, hide = true)]
    child: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// 1. One host, every hook an empty script, real agent: deployment p50/p99.
    OneHost,
    /// 2. 100, 1,000, 10,000 simulated agents against a bare tonic server.
    SimulatedAgents,
    /// 3. Real agents whose hooks exec `/bin/true` against raw spawns.
    TrueHooks,
    /// 4. 100 agents download one 128 MiB bundle: origin reads, against copy + sha256.
    FanOut,
    /// 5. The same rolling deployment with ferry, pyinfra and Ansible.
    Peers,
    All,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(spec) = &args.child {
        return simulated_agents::child::main(spec);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ferry-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&args));
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferry-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let mut scenarios = serde_json::Map::new();
    if matches!(args.scenario, Scenario::OneHost | Scenario::All) {
        let figures = one_host::run(args.quick)
            .await
            .context("scenario one-host")?;
        scenarios.insert("one-host".into(), figures);
    }
    if matches!(args.scenario, Scenario::SimulatedAgents | Scenario::All) {
        let figures = simulated_agents::run(args.quick)
            .await
            .context("scenario simulated-agents")?;
        scenarios.insert("simulated-agents".into(), figures);
    }
    if matches!(args.scenario, Scenario::TrueHooks | Scenario::All) {
        let figures = true_hooks::run(args.quick)
            .await
            .context("scenario true-hooks")?;
        scenarios.insert("true-hooks".into(), figures);
    }
    if matches!(args.scenario, Scenario::FanOut | Scenario::All) {
        let figures = fan_out::run(args.quick).await.context("scenario fan-out")?;
        scenarios.insert("fan-out".into(), figures);
    }
    if matches!(args.scenario, Scenario::Peers | Scenario::All) {
        let figures = peers::run(args.quick).await.context("scenario peers")?;
        scenarios.insert("peers".into(), figures);
    }
    let report = serde_json::json!({
        "quick": args.quick,
        "profile": if cfg!(debug_assertions) { "dev" } else { "release" },
        "scenarios": scenarios,
    });
    if let Some(parent) = args.json.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", args.json.display()))?;
    println!("\nfigures written to {}", args.json.display());
    Ok(())
}
