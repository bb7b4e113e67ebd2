//! `ferry-registry`: the registry service as its own process.

use std::process::ExitCode;

use clap::Parser;

use ferry_registry::RegistryConfig;
use ferry_runtime::config::{self, CommonArgs};
use ferry_runtime::telemetry;

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
    let config: RegistryConfig = match args.common.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ferry-registry: {err}");
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
                eprintln!("ferry-registry: {err}");
                ExitCode::from(2)
            }
        };
    }
    let telemetry = match telemetry::init("ferry-registry", &config.log, &config.telemetry) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("ferry-registry: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = ferry_registry::serve(config).await;
    if let Err(err) = &result {
        tracing::error!(error = format!("{err:#}"), "ferry-registry stopped");
    }
    telemetry.shutdown();
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
