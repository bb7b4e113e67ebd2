//! `ferry-orchestrator`: the orchestrator as its own process.

use std::process::ExitCode;

use clap::Parser;

use ferry_orchestrator::config::OrchestratorConfig;
use ferry_runtime::config::CommonArgs;

/// ferry's orchestrator: deployments over the host agents' streams, over gRPC.
#[derive(Parser)]
#[command(name = "ferry-orchestrator", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    ferry_runtime::service::run::<OrchestratorConfig, _, _>(
        "ferry-orchestrator",
        &args.common,
        ferry_orchestrator::serve::serve,
    )
    .await
}
