//! `telemetry::init` installs a global subscriber, so it runs in its own test binary where
//! that global state cannot leak into other tests.

use ferry_runtime::config::{LogConfig, TelemetryConfig};
use ferry_runtime::telemetry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_twice_does_not_panic_and_shutdown_is_bounded() {
    let log = LogConfig::default();
    let first = telemetry::init("test", &log, &TelemetryConfig::default()).expect("first init");
    // An endpoint nobody listens on: the export fails, shutdown still returns.
    let unreachable = TelemetryConfig {
        otlp_endpoint: Some("http://127.0.0.1:9".to_owned()),
        service_name: Some("test-export".to_owned()),
    };
    let second = telemetry::init("test", &log, &unreachable).expect("second init");
    tracing::info_span!("work").in_scope(|| tracing::info!("a span to export"));
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || {
        second.shutdown();
        first.shutdown();
    })
    .await
    .expect("shutdown thread");
    assert!(started.elapsed() < telemetry::FLUSH_TIMEOUT + std::time::Duration::from_secs(2));
}
