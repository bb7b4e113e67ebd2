//! `ferry-orchestrator`: deployments, deployment targets and lifecycle events, driven over agent
//! streams (issue 5, being built). So far: the health-constraint planner ([`health`],
//! CodeDeploy's minimum-healthy-hosts rules as pure arithmetic) and the database schema
//! ([`store`]); the README's design section says what comes next.

pub mod health;
pub mod store;
