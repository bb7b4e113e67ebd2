//! Row types, private to the service. A revision's location is stored whole as JSON (CodeDeploy's
//! member names); what is looked up, filtered or sorted on has its own column. Times are
//! microseconds since the epoch.

pub mod blob;
pub mod resolution;
pub mod revision;
