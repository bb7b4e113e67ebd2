//! Row types. Structured CodeDeploy values are JSON text with CodeDeploy's member names; what is
//! looked up, filtered or sorted on has its own column. Times are microseconds since the epoch.

pub mod agent_command;
pub mod deployment;
pub mod deployment_event;
pub mod deployment_target;
pub mod lifecycle_event;
pub mod trigger_delivery;
