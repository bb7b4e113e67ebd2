//! ferry's registry: applications, deployment configurations (the predefined
//! `CodeDeployDefault.*` ones seeded and read-only), deployment groups, on-premises instances
//! with their tags and credentials, and resource tags — with CodeDeploy's names and semantics.
//!
//! [`Registry`] holds the logic, one `impl` block per aggregate in its own module; [`RegistryApi`]
//! is the thin tonic adapter. The same value serves as its own process (`ferry-registry`) or
//! shares a server with the other services (`ferry up`, tests).

mod applications;
pub mod arn;
pub mod config;
mod convert;
mod deployment_configs;
mod deployment_groups;
mod grpc;
mod instances;
mod names;
mod resource_tags;
mod serve;
pub mod store;
mod tag_filters;

use sea_orm::DatabaseConnection;

use crate::arn::ArnConfig;
pub use crate::config::RegistryConfig;
pub use crate::grpc::RegistryApi;
pub use crate::serve::serve;

/// The registry's state and operations.
#[derive(Clone)]
pub struct Registry {
    /// For queries.
    db: DatabaseConnection,
    /// For write transactions (`store::begin_write(&self.writer)`); one connection on SQLite.
    writer: DatabaseConnection,
    arns: ArnConfig,
}

impl Registry {
    /// Connects to the configured database, migrates it and seeds the predefined deployment
    /// configurations.
    pub async fn open(config: &RegistryConfig) -> anyhow::Result<Self> {
        let url = store::database_url(config.database_url.as_deref(), &config.data_dir)?;
        let pools = store::connect(&url).await?;
        deployment_configs::seed_predefined(&pools.write).await?;
        Ok(Self {
            db: pools.read,
            writer: pools.write,
            arns: config.arn.clone(),
        })
    }

    /// The database connection, for readiness checks.
    pub fn database(&self) -> &DatabaseConnection {
        &self.db
    }
}
