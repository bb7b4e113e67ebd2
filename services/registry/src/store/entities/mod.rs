//! Row types, private to the registry. Nested CodeDeploy structures that are only ever read
//! and written whole (a group's triggers, alarms, load-balancer info, …) are stored as one JSON
//! document per row; what is looked up or constrained (names, ids, tags) has its own column.

pub mod application;
pub mod deployment_config;
pub mod deployment_group;
pub mod instance;
pub mod instance_tag;
pub mod resource_tag;
