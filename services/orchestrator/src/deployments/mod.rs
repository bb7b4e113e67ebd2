//! Deployments: CreateDeployment and the rest of `ferry.deploy.v1.DeploymentService`, and the
//! task that drives each deployment over its agents' streams.

pub mod api;
pub mod context;
pub mod create;
pub mod driver;
pub mod drivers;
pub mod lifecycle;
pub mod outbox;
pub mod read;
pub mod rows;
pub mod stored;
pub mod view;
pub mod watch;

pub use context::{Context, Limits, Registry, Revisions};
