//! `ferry-orchestrator`: deployments, deployment targets and lifecycle events, driven over agent
//! streams (issue 5, being built). So far: the server side of agent sessions ([`agents`]: commands as rows pushed the moment they
//! exist, results applied once), the deployment event log WatchDeployment reads ([`events`]), the health-constraint planner ([`health`],
//! CodeDeploy's minimum-healthy-hosts rules as pure arithmetic) and the database schema
//! ([`store`]); the README's design section says what comes next.

pub mod agents;
pub mod config;
pub mod deployments;
pub mod events;
pub mod health;
pub mod serve;
pub mod store;
pub mod triggers;
