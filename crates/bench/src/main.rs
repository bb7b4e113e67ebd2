//! `ferry-bench`: end-to-end benchmarks of a whole ferry in one process (registry, revisions
//! and orchestrator on one port, SQLite under a temporary directory, real agents on real
//! connections). Prints a table per scenario and writes every figure as JSON.

mod cluster;
mod one_host;
mod stats;
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
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    OneHost,
    TrueHooks,
    All,
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    if matches!(args.scenario, Scenario::TrueHooks | Scenario::All) {
        let figures = true_hooks::run(args.quick)
            .await
            .context("scenario true-hooks")?;
        scenarios.insert("true-hooks".into(), figures);
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
