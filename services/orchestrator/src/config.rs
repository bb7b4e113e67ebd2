//! The orchestrator's configuration: defaults → YAML file → `FERRY_…` variables → flags.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use ferry_runtime::config::{LogConfig, ServerConfig, TelemetryConfig, Validate};
use ferry_runtime::service::ServiceConfig;

use crate::agents::session::SessionSettings;
use crate::deployments::Limits;
use crate::triggers::{DeliverySettings, Identity};

/// Where the orchestrator listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50053";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorConfig {
    /// gRPC address, HOST:PORT (port 0 picks a free one): DeploymentService and the agents'
    /// AgentService.
    pub listen: String,
    /// Where the embedded SQLite database lives when `database_url` is not set.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; unset means a SQLite file under `data_dir`.
    pub database_url: Option<String>,
    /// The registry service (groups, configurations, instances, agent credentials).
    pub registry_endpoint: String,
    /// The revisions service (ResolveRevision).
    pub revisions_endpoint: String,
    /// The revisions address agents download bundles from, as the hosts reach it; unset means
    /// `revisions_endpoint`, empty means the address of the agent's own session.
    pub download_endpoint: Option<String>,
    pub limits: LimitsConfig,
    pub agents: AgentsConfig,
    pub triggers: TriggersConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub server: ServerConfig,
}

/// Time limits of deployments, in seconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// A lifecycle event whose agent has not taken it within this fails (CodeDeploy: 5 minutes).
    pub event_start_timeout_secs: u64,
    /// A deployment running longer than this fails with TIMEOUT (CodeDeploy: 8 hours).
    pub deployment_timeout_secs: u64,
    /// A running event whose agent dropped its stream and is not back within this fails with
    /// AGENT_ISSUE.
    pub agent_grace_secs: u64,
    /// How long an event without hooks (DownloadBundle, Install) may run.
    pub default_event_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            event_start_timeout_secs: limits.event_start_timeout.as_secs(),
            deployment_timeout_secs: limits.deployment_timeout.as_secs(),
            agent_grace_secs: limits.agent_grace.as_secs(),
            default_event_timeout_secs: limits.default_event_timeout.as_secs(),
        }
    }
}

/// The agents' sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    pub heartbeat_interval_secs: u64,
    /// A session silent this long is closed.
    pub heartbeat_timeout_secs: u64,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        let settings = SessionSettings::default();
        Self {
            heartbeat_interval_secs: settings.heartbeat_interval.as_secs(),
            heartbeat_timeout_secs: settings.heartbeat_timeout.as_secs(),
        }
    }
}

/// Trigger webhooks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggersConfig {
    /// The `region` and `accountId` the notifications carry.
    pub region: String,
    pub account_id: String,
    pub request_timeout_secs: u64,
    pub max_attempts: u32,
    /// The first retry waits this long, each later one twice as long, up to `max_retry_secs`.
    pub first_retry_millis: u64,
    pub max_retry_secs: u64,
}

impl Default for TriggersConfig {
    fn default() -> Self {
        let settings = DeliverySettings::default();
        Self {
            region: "local".into(),
            account_id: "000000000000".into(),
            request_timeout_secs: settings.request_timeout.as_secs(),
            max_attempts: settings.max_attempts,
            first_retry_millis: u64::try_from(settings.first_retry.as_millis()).unwrap_or(1000),
            max_retry_secs: settings.max_retry.as_secs(),
        }
    }
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            data_dir: PathBuf::from("ferry-data"),
            database_url: None,
            registry_endpoint: "http://127.0.0.1:50051".into(),
            revisions_endpoint: "http://127.0.0.1:50052".into(),
            download_endpoint: None,
            limits: LimitsConfig::default(),
            agents: AgentsConfig::default(),
            triggers: TriggersConfig::default(),
            log: LogConfig::default(),
            telemetry: TelemetryConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

impl OrchestratorConfig {
    pub fn limits(&self) -> Limits {
        let l = &self.limits;
        Limits {
            event_start_timeout: Duration::from_secs(l.event_start_timeout_secs),
            deployment_timeout: Duration::from_secs(l.deployment_timeout_secs),
            agent_grace: Duration::from_secs(l.agent_grace_secs),
            default_event_timeout: Duration::from_secs(l.default_event_timeout_secs),
            ..Limits::default()
        }
    }

    pub fn sessions(&self) -> SessionSettings {
        SessionSettings {
            heartbeat_interval: Duration::from_secs(self.agents.heartbeat_interval_secs),
            heartbeat_timeout: Duration::from_secs(self.agents.heartbeat_timeout_secs),
        }
    }

    pub fn deliveries(&self) -> DeliverySettings {
        let t = &self.triggers;
        DeliverySettings {
            request_timeout: Duration::from_secs(t.request_timeout_secs),
            first_retry: Duration::from_millis(t.first_retry_millis),
            max_retry: Duration::from_secs(t.max_retry_secs),
            max_attempts: t.max_attempts,
            ..DeliverySettings::default()
        }
    }

    pub fn identity(&self) -> Identity {
        Identity {
            region: self.triggers.region.clone(),
            account_id: self.triggers.account_id.clone(),
        }
    }

    /// The address agents download from.
    pub fn download_endpoint(&self) -> String {
        self.download_endpoint
            .clone()
            .unwrap_or_else(|| self.revisions_endpoint.clone())
    }
}

impl Validate for OrchestratorConfig {
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
            ("registry_endpoint", &self.registry_endpoint),
            ("revisions_endpoint", &self.revisions_endpoint),
        ] {
            if value.is_empty() {
                return Err(format!("{key}: must name the service's address"));
            }
        }
        for (key, value) in [
            (
                "limits.event_start_timeout_secs",
                self.limits.event_start_timeout_secs,
            ),
            (
                "limits.deployment_timeout_secs",
                self.limits.deployment_timeout_secs,
            ),
            (
                "limits.default_event_timeout_secs",
                self.limits.default_event_timeout_secs,
            ),
            (
                "agents.heartbeat_interval_secs",
                self.agents.heartbeat_interval_secs,
            ),
        ] {
            if value == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        if self.agents.heartbeat_timeout_secs <= self.agents.heartbeat_interval_secs {
            return Err(
                "agents.heartbeat_timeout_secs: must be longer than heartbeat_interval_secs"
                    .to_owned(),
            );
        }
        if self.triggers.max_attempts == 0 {
            return Err("triggers.max_attempts: must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl ServiceConfig for OrchestratorConfig {
    fn log(&self) -> &LogConfig {
        &self.log
    }
    fn telemetry(&self) -> &TelemetryConfig {
        &self.telemetry
    }
}
