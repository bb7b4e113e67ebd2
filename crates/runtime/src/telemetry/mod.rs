//! Logs and traces: `tracing` with an `EnvFilter`, human or JSON lines on stderr, and
//! OpenTelemetry spans exported over OTLP/gRPC when an endpoint is configured.
//!
//! W3C trace context crosses every gRPC hop: servers extract it in
//! [`crate::server::layers::TraceLayer`], clients inject it with [`TraceContextInterceptor`]
//! (or [`connect`], which wires it in).

mod propagation;

use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

pub use propagation::{
    HeaderExtractor, HeaderInjector, TraceContextInterceptor, TracedChannel, connect,
    current_trace_context, endpoint, set_parent_from,
};

/// How long [`TelemetryGuard::shutdown`] waits for the last spans to leave.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one OTLP export may take before the batch is dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the global subscriber and, when `telemetry.otlp_endpoint` is set, the OTLP
/// exporter. Keep the guard until the end of `main` and call [`TelemetryGuard::shutdown`].
///
/// `RUST_LOG`, when set, replaces `log.filter`. Exporting needs a running tokio runtime (the
/// exporter is a tonic client), so call this inside `#[tokio::main]`. Calling it again (as
/// tests do) keeps the first subscriber and does not panic.
pub fn init(
    service_name: &str,
    log: &LogConfig,
    telemetry: &TelemetryConfig,
) -> anyhow::Result<TelemetryGuard> {
    install_propagator();

    let directive = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| log.filter.clone());
    let filter = EnvFilter::builder()
        .parse(&directive)
        .with_context(|| format!("invalid log filter {directive:?}"))?;

    let name = telemetry.service_name.as_deref().unwrap_or(service_name);
    let provider = telemetry
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| otlp_provider(endpoint, name))
        .transpose()?;
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(name.to_owned()))
    });

    // Exactly one of the two format layers is `Some`; `Option<Layer>` is a no-op when `None`.
    let (human, json) = match log.format {
        LogFormat::Human => (
            // Colours only for a person at a terminal, never into files or pipes.
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            ),
        ),
    };

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(human)
        .with(json)
        .with(otel)
        .try_init();
    if let Err(error) = installed {
        tracing::debug!(%error, "a global subscriber is already installed; keeping it");
    }
    tracing::info!(
        service = name,
        otlp_endpoint = telemetry.otlp_endpoint.as_deref(),
        "telemetry initialised"
    );
    Ok(TelemetryGuard { provider })
}

/// Sets the global text-map propagator to W3C TraceContext (`traceparent`/`tracestate`).
/// [`init`] calls it; tests that do not call `init` call this. Idempotent.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

fn otlp_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    // The tonic exporter spawns its connection on the current runtime; without one it would
    // panic deep inside tonic instead of failing here with a readable message.
    tokio::runtime::Handle::try_current()
        .context("otlp export needs a running tokio runtime: call telemetry::init inside it")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .with_context(|| format!("cannot build the otlp exporter for {endpoint}"))?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Flushes and stops the span exporter; see [`TelemetryGuard::shutdown`].
#[must_use = "dropping the guard at once stops span export"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Sends the spans still buffered, waiting at most [`FLUSH_TIMEOUT`]. Call it at the end
    /// of `main`, while the tokio runtime is still running (the export rides on it).
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        // The SDK's own timeout should bound this, but shutdown must never hang on a
        // collector that is down, so the wait is also bounded from outside on a helper thread.
        let (done, wait) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("otel-shutdown".to_owned())
            .spawn(move || {
                let _ = done.send(provider.shutdown_with_timeout(FLUSH_TIMEOUT));
            });
        if let Err(error) = spawned {
            eprintln!("cannot flush telemetry: {error}");
            return;
        }
        match wait.recv_timeout(FLUSH_TIMEOUT + Duration::from_secs(1)) {
            Ok(Ok(())) => {}
            // The subscriber may be gone by now, so stderr rather than tracing.
            Ok(Err(error)) => eprintln!("telemetry flush failed: {error}"),
            Err(_) => eprintln!("telemetry flush timed out after {FLUSH_TIMEOUT:?}"),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_filter_is_an_error() {
        let log = LogConfig {
            filter: "info,sqlx=loud".to_owned(),
            ..LogConfig::default()
        };
        // RUST_LOG would win over log.filter; only assert when the test runner has none.
        if std::env::var_os("RUST_LOG").is_none() {
            assert!(init("test", &log, &TelemetryConfig::default()).is_err());
        }
    }

    #[test]
    fn otlp_without_a_runtime_is_an_error() {
        let telemetry = TelemetryConfig {
            otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
            service_name: None,
        };
        let err = init("test", &LogConfig::default(), &telemetry).expect_err("no runtime");
        assert!(err.to_string().contains("tokio runtime"), "{err}");
    }
}
