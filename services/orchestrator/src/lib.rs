//! `ferry-orchestrator`: runs deployments — picks deployment targets, drives their lifecycle
//! events over the agents' streams and decides each deployment's outcome. The service is being
//! built (issue 5); so far this crate holds the health-constraint planner, [`health`]: the
//! CodeDeploy minimum-healthy-hosts rules that say how many targets may be deployed to at once
//! and when a deployment has succeeded or failed.

pub mod health;
