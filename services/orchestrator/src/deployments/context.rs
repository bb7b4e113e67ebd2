//! What every part of the deployment engine shares: the database, the event log, the agents'
//! sessions, the trigger deliveries, the clients of the other services and the time limits.

use std::time::Duration;

use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_runtime::telemetry::TracedChannel;

use crate::agents::session::AgentSessions;
use crate::events::EventLog;
use crate::store::Pools;
use crate::triggers::{Deliveries, Identity};

use super::drivers::Drivers;

/// The time limits of deployments (the orchestrator's configuration).
#[derive(Clone, Debug)]
pub struct Limits {
    /// A lifecycle event whose command the agent has not taken within this fails.
    pub event_start_timeout: Duration,
    /// A deployment still running this long after its creation fails with TIMEOUT.
    pub deployment_timeout: Duration,
    /// A running event whose agent has been disconnected this long fails with AGENT_ISSUE.
    pub agent_grace: Duration,
    /// An event with no hooks (DownloadBundle, Install) may run this long.
    pub default_event_timeout: Duration,
    /// How often a deployment checks its time limits when nothing else happens.
    pub tick: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            event_start_timeout: Duration::from_secs(5 * 60),
            deployment_timeout: Duration::from_secs(8 * 60 * 60),
            agent_grace: Duration::from_secs(60),
            default_event_timeout: Duration::from_secs(60 * 60),
            tick: Duration::from_secs(1),
        }
    }
}

pub type Registry = RegistryServiceClient<TracedChannel>;
pub type Revisions = RevisionServiceClient<TracedChannel>;

/// The engine's shared parts; cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub pools: Pools,
    pub events: EventLog,
    pub sessions: AgentSessions,
    pub deliveries: Deliveries,
    pub identity: Identity,
    pub limits: Limits,
    pub registry: Registry,
    pub revisions: Revisions,
    pub drivers: Drivers,
    /// The revisions service address agents download from; empty means the address their
    /// session is connected to (one process serving both, as `ferry up` does).
    pub download_endpoint: String,
}
