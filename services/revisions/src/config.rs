//! The revisions service's configuration: defaults → YAML file → `FERRY_…` variables → flags.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use ferry_runtime::config::{LogConfig, ServerConfig, TelemetryConfig, Validate};
use ferry_runtime::service::ServiceConfig;

use crate::fetch::{FetchConfig, S3Config};

/// Where the revisions service listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50052";
/// Where the registry answers when nothing says otherwise.
pub const DEFAULT_REGISTRY_ENDPOINT: &str = "http://127.0.0.1:50051";
/// The largest bundle stored when nothing says otherwise: 4 GiB.
pub const DEFAULT_MAX_BUNDLE_BYTES: u64 = 4 << 30;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevisionsConfig {
    /// gRPC address, HOST:PORT (port 0 picks a free one).
    pub listen: String,
    /// Where the embedded SQLite database (and, by default, the blobs) live.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; unset means a SQLite file under `data_dir`.
    pub database_url: Option<String>,
    /// The registry, asked whether an application exists.
    pub registry_endpoint: String,
    pub blobs: BlobsConfig,
    pub fetch: FetchConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub server: ServerConfig,
}

impl Default for RevisionsConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            data_dir: PathBuf::from("ferry-data"),
            database_url: None,
            registry_endpoint: DEFAULT_REGISTRY_ENDPOINT.into(),
            blobs: BlobsConfig::default(),
            fetch: FetchConfig::default(),
            limits: LimitsConfig::default(),
            log: LogConfig::default(),
            telemetry: TelemetryConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

/// Where bundle blobs are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobsKind {
    /// A directory on the local file system (`blobs.path`).
    #[default]
    Local,
    /// An S3 bucket, or any S3-compatible store (`blobs.bucket`, `blobs.prefix`, `blobs.s3`).
    S3,
}

/// The blob store: content-addressed bundles, `sha256/<2 hex>/<digest>`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsConfig {
    pub kind: BlobsKind,
    /// For `local`: the directory; unset means `<data_dir>/blobs`.
    pub path: Option<PathBuf>,
    /// For `s3`: the bucket.
    pub bucket: Option<String>,
    /// For `s3`: a key prefix under which every blob is kept (`ferry/` → `ferry/sha256/…`).
    pub prefix: String,
    /// For `s3`: where the store is and which credentials to use (the fetchers' S3 settings).
    pub s3: S3Config,
}

impl BlobsConfig {
    /// The local directory: `path`, else `<data_dir>/blobs`.
    pub fn local_path(&self, data_dir: &std::path::Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| data_dir.join("blobs"))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// The largest bundle uploaded or fetched, in bytes.
    pub max_bundle_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_bundle_bytes: DEFAULT_MAX_BUNDLE_BYTES,
        }
    }
}

impl Validate for RevisionsConfig {
    fn validate(&self) -> Result<(), String> {
        self.log.validate()?;
        self.telemetry.validate()?;
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
        if !(self.registry_endpoint.starts_with("http://")
            || self.registry_endpoint.starts_with("https://"))
        {
            return Err(format!(
                "registry_endpoint: {:?} is not an http:// or https:// url",
                self.registry_endpoint
            ));
        }
        match self.blobs.kind {
            BlobsKind::Local if self.blobs.bucket.is_some() => {
                return Err("blobs.bucket is only for blobs.kind: s3".to_owned());
            }
            BlobsKind::S3 if self.blobs.bucket.as_deref().is_none_or(str::is_empty) => {
                return Err("blobs.bucket is required when blobs.kind is s3".to_owned());
            }
            BlobsKind::S3 if self.blobs.path.is_some() => {
                return Err("blobs.path is only for blobs.kind: local".to_owned());
            }
            _ => {}
        }
        if self.blobs.prefix.starts_with('/') || self.blobs.prefix.contains("//") {
            return Err(format!(
                "blobs.prefix: {:?} must be relative, without empty segments",
                self.blobs.prefix
            ));
        }
        if self.limits.max_bundle_bytes == 0 {
            return Err("limits.max_bundle_bytes must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl ServiceConfig for RevisionsConfig {
    fn log(&self) -> &LogConfig {
        &self.log
    }
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
