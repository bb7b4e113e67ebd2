//! Runs the registry as its own gRPC server: reflection, health (SERVING once the database
//! answers), the shared tower layers, and a graceful drain on SIGINT/SIGTERM.

use ferry_proto::registry::v1::registry_service_server::RegistryServiceServer;
use ferry_runtime::server::{GrpcServer, GrpcServerBuilder, shutdown_signal};

use crate::{Registry, RegistryApi, RegistryConfig, store};

impl Registry {
    /// Adds the registry's service, descriptors and readiness check to a server, so it can
    /// share one server with other services (`ferry up`) or run alone.
    pub fn register(&self, builder: GrpcServerBuilder) -> GrpcServerBuilder {
        let db = self.database().clone();
        builder
            .add_service(RegistryServiceServer::new(RegistryApi::new(self.clone())))
            .add_file_descriptor_set(ferry_proto::FILE_DESCRIPTOR_SET)
            .readiness_fn(move || {
                let db = db.clone();
                async move { store::ping(&db).await }
            })
    }
}

/// Opens the database, binds `config.listen`, and serves until a shutdown signal.
pub async fn serve(config: RegistryConfig) -> anyhow::Result<()> {
    let registry = Registry::open(&config).await?;
    let listener = ferry_runtime::server::bind(&config.listen).await?;
    registry
        .register(GrpcServer::builder(&config.server))
        .serve(listener, shutdown_signal())
        .await?;
    Ok(())
}
