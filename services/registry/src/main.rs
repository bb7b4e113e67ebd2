//! `ferry-registry`: the registry service as its own process.

use std::process::ExitCode;

use clap::Parser;

use ferry_registry::RegistryConfig;
use ferry_runtime::config::CommonArgs;

/// ferry's registry: applications, deployment groups, deployment configurations and
/// on-premises instances, over gRPC.
#[derive(Parser)]
#[command(name = "ferry-registry", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    ferry_runtime::service::run::<RegistryConfig, _, _>(
        "ferry-registry",
        &args.common,
        ferry_registry::serve,
    )
    .await
}
