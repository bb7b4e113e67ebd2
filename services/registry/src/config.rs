//! The registry's configuration: defaults → YAML file → `FERRY_…` variables → flags.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use ferry_runtime::config::{LogConfig, ServerConfig, TelemetryConfig, Validate};
use ferry_runtime::service::ServiceConfig;

use crate::arn::ArnConfig;

/// Where the registry listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// gRPC address, HOST:PORT (port 0 picks a free one).
    pub listen: String,
    /// Where the embedded SQLite database lives when `database_url` is not set.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; unset means a SQLite file under `data_dir`.
    pub database_url: Option<String>,
    /// The partition, region and account in resource ARNs.
    pub arn: ArnConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub server: ServerConfig,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            data_dir: PathBuf::from("ferry-data"),
            database_url: None,
            arn: ArnConfig::default(),
            log: LogConfig::default(),
            telemetry: TelemetryConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

impl Validate for RegistryConfig {
    fn validate(&self) -> Result<(), String> {
        self.log.validate()?;
        self.server.validate()?;
        if self.listen.parse::<std::net::SocketAddr>().is_err() && !self.listen.contains(':') {
            return Err(format!("listen: {:?} is not HOST:PORT", self.listen));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(format!(
                "database_url: {url:?} is neither sqlite: nor postgres://"
            ));
        }
        for (key, value) in [
            ("arn.partition", &self.arn.partition),
            ("arn.region", &self.arn.region),
            ("arn.account", &self.arn.account),
        ] {
            if value.is_empty() || value.contains(':') {
                return Err(format!(
                    "{key}: {value:?} must be non-empty and contain no ':'"
                ));
            }
        }
        Ok(())
    }
}

impl ServiceConfig for RegistryConfig {
    fn log(&self) -> &LogConfig {
        &self.log
    }
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
