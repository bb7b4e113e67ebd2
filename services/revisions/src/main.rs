//! `ferry-revisions`: the revisions service as its own process.

use std::process::ExitCode;

use clap::Parser;

use ferry_revisions::RevisionsConfig;
use ferry_runtime::config::{self, CommonArgs};
use ferry_runtime::telemetry;

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
    let config: RevisionsConfig = match args.common.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ferry-revisions: {err}");
            return ExitCode::from(2);
        }
    };
    if args.common.dump_config {
        return match config::dump(&config) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("ferry-revisions: {err}");
                ExitCode::from(2)
            }
        };
    }
    let telemetry = match telemetry::init("ferry-revisions", &config.log, &config.telemetry) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("ferry-revisions: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = ferry_revisions::serve(config).await;
    if let Err(err) = &result {
        tracing::error!(error = format!("{err:#}"), "ferry-revisions stopped");
    }
    telemetry.shutdown();
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
