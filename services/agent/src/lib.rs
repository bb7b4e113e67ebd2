//! `ferry-agent`: the host agent. It holds one gRPC stream to the orchestrator, runs each
//! lifecycle event it is sent (download, install, hooks) under its deployment root, streams
//! hook output as it is produced, and reports CodeDeploy's diagnostics. `ferry-agent local`
//! runs the same lifecycle with no server.

pub mod atomic;
pub mod channel;
pub mod config;
pub mod download;
pub mod hooks;
pub mod install;
pub mod layout;
pub mod lifecycle;
pub mod local;
pub mod logs;
pub mod outcome;
pub mod output;
pub mod redact;
pub mod revision_env;
pub mod session;
pub mod users;
