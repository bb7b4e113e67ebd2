//! `grpc.health.v1` driven by the service's readiness check.
//!
//! Every name starts NOT_SERVING. The check is retried with backoff (100 ms doubling to 1 s)
//! until it passes, then every name turns SERVING and the check is repeated every
//! [`RECHECK_INTERVAL`]; a failure turns them NOT_SERVING again until it passes. When shutdown
//! begins the loop stops and writes NOT_SERVING, before the server stops accepting, so load
//! balancers move traffic away while in-flight requests drain.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// An async readiness check, such as a database ping. `Err` holds a lowercase reason.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How often a passing check is repeated.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Longest wait between attempts while the check fails.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A check that has not answered in this long has failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn set_all(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}

/// Runs until `draining` turns true (or its sender is gone), then leaves every name NOT_SERVING.
pub(crate) async fn run(
    reporter: HealthReporter,
    names: Vec<String>,
    check: Option<ReadinessCheck>,
    mut draining: watch::Receiver<bool>,
) {
    let mut serving = false;
    let mut backoff = FIRST_BACKOFF;
    while !*draining.borrow() {
        let outcome = match &check {
            None => Ok(()),
            Some(check) => tokio::select! {
                outcome = tokio::time::timeout(CHECK_TIMEOUT, check()) => {
                    outcome.unwrap_or_else(|_| Err(format!("no answer in {CHECK_TIMEOUT:?}")))
                }
                _ = draining.changed() => break,
            },
        };
        let delay = match outcome {
            Ok(()) => {
                if !serving {
                    set_all(&reporter, &names, ServingStatus::Serving).await;
                    tracing::info!("ready: serving");
                    serving = true;
                }
                backoff = FIRST_BACKOFF;
                RECHECK_INTERVAL
            }
            Err(reason) => {
                if serving {
                    set_all(&reporter, &names, ServingStatus::NotServing).await;
                    tracing::warn!(%reason, "readiness check failed: not serving");
                    serving = false;
                } else {
                    tracing::info!(%reason, retry_in = ?backoff, "not ready yet");
                }
                let delay = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                delay
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = draining.changed() => break,
        }
    }
    set_all(&reporter, &names, ServingStatus::NotServing).await;
}
