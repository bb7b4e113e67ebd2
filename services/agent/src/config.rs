//! The agent's configuration: defaults → YAML file → `FERRY_…` variables → flags, loaded by
//! ferry-runtime's one loader. Settings only `ferry-agent run` needs (instance name,
//! credential) are checked when it starts, so `ferry-agent local` works without them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ferry_runtime::config::{LogConfig, TelemetryConfig, Validate};

use crate::redact::RedactConfig;

/// Where the orchestrator answers when nothing says otherwise.
pub const DEFAULT_ORCHESTRATOR_ENDPOINT: &str = "http://127.0.0.1:50053";
/// CodeDeploy's default number of revisions kept per deployment group.
pub const DEFAULT_MAX_REVISIONS: usize = 5;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The orchestrator's AgentService, `http://` or `https://`.
    pub orchestrator_endpoint: String,
    /// The on-premises instance name this host was registered under.
    pub instance_name: Option<String>,
    /// A file holding the credential RegisterOnPremisesInstance returned.
    pub credential_file: Option<PathBuf>,
    /// Unpacked revisions, install records and command results live here.
    pub deployment_root: PathBuf,
    /// Every absolute `destination` is re-rooted under this directory, and hooks see it as
    /// `FERRY_INSTALL_ROOT`. Unset means `/`. Lets several agents share a machine in tests.
    pub install_root: Option<PathBuf>,
    /// Revisions kept per deployment group, the newest and the last successful included.
    pub max_revisions: usize,
    /// The aggregate deployment log (every deployment's hook output) is written here.
    pub log_dir: PathBuf,
    pub log_rotation: LogRotation,
    pub tls: TlsConfig,
    pub reconnect: ReconnectConfig,
    /// Secrets masked in hook output before it is logged or sent.
    pub redact: RedactConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            orchestrator_endpoint: DEFAULT_ORCHESTRATOR_ENDPOINT.to_owned(),
            instance_name: None,
            credential_file: None,
            deployment_root: PathBuf::from("/opt/ferry-agent/deployment-root"),
            install_root: None,
            max_revisions: DEFAULT_MAX_REVISIONS,
            log_dir: PathBuf::from("/var/log/ferry-agent"),
            log_rotation: LogRotation::default(),
            tls: TlsConfig::default(),
            reconnect: ReconnectConfig::default(),
            redact: RedactConfig::default(),
            log: LogConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

/// Size-based rotation of the deployment logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogRotation {
    /// A log file is rotated once it reaches this size.
    pub max_file_bytes: u64,
    /// Rotated files kept (`.1` is the newest).
    pub max_files: u32,
}

impl Default for LogRotation {
    fn default() -> Self {
        Self {
            max_file_bytes: 16 << 20,
            max_files: 4,
        }
    }
}

/// TLS towards the orchestrator and the revisions service (used with `https://` endpoints).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM CA bundle to trust; unset means the host's trust store.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The name to verify the server's certificate against, when it differs from the host.
    pub domain_name: Option<String>,
}

/// Reconnection after the stream drops: jittered exponential backoff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconnectConfig {
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            initial_backoff_ms: 200,
            max_backoff_ms: 30_000,
        }
    }
}

impl Validate for AgentConfig {
    fn validate(&self) -> Result<(), String> {
        self.log.validate()?;
        self.telemetry.validate()?;
        self.redact.validate()?;
        if !(self.orchestrator_endpoint.starts_with("http://")
            || self.orchestrator_endpoint.starts_with("https://"))
        {
            return Err(format!(
                "orchestrator_endpoint {:?} must start with http:// or https://",
                self.orchestrator_endpoint
            ));
        }
        if self.max_revisions == 0 {
            return Err("max_revisions must be at least 1".to_owned());
        }
        if self.deployment_root.as_os_str().is_empty() {
            return Err("deployment_root is empty".to_owned());
        }
        if let Some(root) = &self.install_root
            && !root.as_os_str().is_empty()
            && !root.is_absolute()
        {
            return Err(format!(
                "install_root {} must be an absolute path",
                root.display()
            ));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err("tls.cert_file and tls.key_file must be given together".to_owned());
        }
        if self.reconnect.initial_backoff_ms == 0
            || self.reconnect.max_backoff_ms < self.reconnect.initial_backoff_ms
        {
            return Err(
                "reconnect.initial_backoff_ms must be positive and at most reconnect.max_backoff_ms"
                    .to_owned(),
            );
        }
        if self.log_rotation.max_file_bytes < 4096 {
            return Err("log_rotation.max_file_bytes must be at least 4096".to_owned());
        }
        Ok(())
    }
}

impl AgentConfig {
    /// The install root as hooks and Install see it: `None` for `/` or unset.
    pub fn install_root(&self) -> Option<&Path> {
        self.install_root
            .as_deref()
            .filter(|root| !root.as_os_str().is_empty() && *root != Path::new("/"))
    }

    /// The instance name and credential `ferry-agent run` needs, or a message naming the
    /// missing setting.
    pub fn identity(&self) -> Result<Identity, String> {
        let instance_name = self
            .instance_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .ok_or("instance_name is not set (--instance-name, FERRY_INSTANCE_NAME or instance_name in the config file)")?;
        let file = self.credential_file.as_ref().ok_or(
            "credential_file is not set (--credential-file, FERRY_CREDENTIAL_FILE or credential_file in the config file)",
        )?;
        let credential = std::fs::read_to_string(file)
            .map_err(|e| format!("credential_file {}: {e}", file.display()))?
            .trim()
            .to_owned();
        if credential.is_empty() {
            return Err(format!("credential_file {} is empty", file.display()));
        }
        Ok(Identity {
            instance_name,
            credential,
        })
    }
}

/// Who this agent is to the orchestrator.
#[derive(Clone)]
pub struct Identity {
    pub instance_name: String,
    pub credential: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("instance_name", &self.instance_name)
            .field("credential", &"<redacted>")
            .finish()
    }
}
