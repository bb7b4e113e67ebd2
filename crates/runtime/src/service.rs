//! The body of every service binary's `main`: config (exit 2 with the key on a bad one),
//! `--dump-config`, telemetry, serve until a signal, flush telemetry.

use std::future::Future;
use std::process::ExitCode;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{self, CommonArgs, LogConfig, TelemetryConfig, Validate};
use crate::telemetry;

/// A service's configuration, as far as its `main` needs to know it.
pub trait ServiceConfig: Serialize + DeserializeOwned + Default + Validate {
    fn log(&self) -> &LogConfig;
    fn telemetry(&self) -> &TelemetryConfig;
}

/// Loads `C` from the flags, files and environment, then runs `serve` with it. `name` is the
/// binary's name, used in messages and as the telemetry service name.
pub async fn run<C, F, Fut>(name: &str, common: &CommonArgs, serve: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config: C = match common.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{name}: {err}");
            return ExitCode::from(2);
        }
    };
    if common.dump_config {
        return match config::dump(&config) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{name}: {err}");
                ExitCode::from(2)
            }
        };
    }
    let guard = match telemetry::init(name, config.log(), config.telemetry()) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("{name}: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = serve(config).await;
    if let Err(err) = &result {
        tracing::error!(error = format!("{err:#}"), "{name} stopped");
    }
    guard.shutdown();
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
