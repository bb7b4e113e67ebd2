//! `ferry-revisions`: the revisions service as its own process.

use std::process::ExitCode;

use clap::Parser;

use ferry_revisions::RevisionsConfig;
use ferry_runtime::config::CommonArgs;

/// ferry's revisions: registered application revisions, content-addressed bundles and
/// AppSpec validation, over gRPC.
#[derive(Parser)]
#[command(name = "ferry-revisions", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    ferry_runtime::service::run::<RevisionsConfig, _, _>(
        "ferry-revisions",
        &args.common,
        ferry_revisions::serve,
    )
    .await
}
