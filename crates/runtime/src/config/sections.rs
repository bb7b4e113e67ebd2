//! Config sections every service embeds as fields of its own config struct.

use serde::{Deserialize, Serialize};

use super::Validate;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event, for terminals.
    #[default]
    Human,
    /// One JSON object per event, for log shippers.
    Json,
}

/// Logging: `log.format` and `log.filter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// An `EnvFilter` directive; `RUST_LOG` overrides it when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            // sqlx logs every statement at info, and the http/2 stack is chatty at debug.
            filter: "info,sqlx=warn,sea_orm=warn,h2=warn,tower=warn".to_owned(),
        }
    }
}

impl Validate for LogConfig {
    fn validate(&self) -> Result<(), String> {
        tracing_subscriber::EnvFilter::builder()
            .parse(&self.filter)
            .map(drop)
            .map_err(|e| format!("log.filter {:?} is not a valid filter: {e}", self.filter))
    }
}

/// OpenTelemetry export: spans go over OTLP/gRPC when `otlp_endpoint` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// For example `http://localhost:4317`; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute; defaults to the binary's service name.
    pub service_name: Option<String>,
}

impl Validate for TelemetryConfig {
    fn validate(&self) -> Result<(), String> {
        match &self.otlp_endpoint {
            Some(endpoint) if endpoint.trim().is_empty() => {
                Err("telemetry.otlp_endpoint is empty; leave it out to disable export".to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// The gRPC server's limits and timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Longest a unary call may take to answer; streaming calls are exempt.
    pub request_timeout_secs: u64,
    /// Requests handled at once across all connections.
    pub concurrency_limit: usize,
    /// Answer UNAVAILABLE at once when the concurrency limit is reached, instead of queueing.
    pub load_shed: bool,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace_secs: u64,
    /// HTTP/2 streams per connection; `None` keeps hyper's default.
    pub max_concurrent_streams: Option<u32>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: 30,
            concurrency_limit: 1024,
            load_shed: true,
            shutdown_grace_secs: 10,
            max_concurrent_streams: None,
        }
    }
}

impl Validate for ServerConfig {
    fn validate(&self) -> Result<(), String> {
        if self.request_timeout_secs == 0 {
            return Err("server.request_timeout_secs must be at least 1".to_owned());
        }
        if self.concurrency_limit == 0 {
            return Err("server.concurrency_limit must be at least 1".to_owned());
        }
        if self.max_concurrent_streams == Some(0) {
            return Err("server.max_concurrent_streams must be at least 1".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(LogConfig::default().validate(), Ok(()));
        assert_eq!(TelemetryConfig::default().validate(), Ok(()));
        assert_eq!(ServerConfig::default().validate(), Ok(()));
    }

    #[test]
    fn a_bad_filter_is_rejected() {
        let log = LogConfig {
            filter: "info,=[".to_owned(),
            ..LogConfig::default()
        };
        assert!(log.validate().is_err());
    }
}
