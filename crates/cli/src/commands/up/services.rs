//! The three services opened under one data directory and served by one server, each
//! calling the others through the server's own address.

use std::path::Path;

use anyhow::Context as _;
use ferry_orchestrator::config::OrchestratorConfig;
use ferry_orchestrator::serve::Orchestrator;
use ferry_registry::{Registry, RegistryConfig};
use ferry_revisions::{Revisions, RevisionsConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::{GrpcServer, GrpcServerBuilder};

pub struct Services {
    pub registry: Registry,
    pub revisions: Revisions,
    pub orchestrator: Orchestrator,
}

impl Services {
    /// Opens (creating or migrating) each service's SQLite database, and the blob store,
    /// under its own subdirectory of `data_dir`. `endpoint` is the address this process
    /// serves on: the revisions service asks the registry there, the orchestrator both.
    pub async fn open(data_dir: &Path, endpoint: &str) -> anyhow::Result<Self> {
        let registry = Registry::open(&RegistryConfig {
            data_dir: data_dir.join("registry"),
            ..RegistryConfig::default()
        })
        .await
        .context("cannot open the registry")?;
        let revisions = Revisions::open(&RevisionsConfig {
            data_dir: data_dir.join("revisions"),
            registry_endpoint: endpoint.to_owned(),
            ..RevisionsConfig::default()
        })
        .await
        .context("cannot open the revisions service")?;
        let orchestrator = Orchestrator::open(&OrchestratorConfig {
            data_dir: data_dir.join("orchestrator"),
            registry_endpoint: endpoint.to_owned(),
            revisions_endpoint: endpoint.to_owned(),
            // Empty: agents download bundles from the address of their own session, which
            // is this server.
            download_endpoint: Some(String::new()),
            ..OrchestratorConfig::default()
        })
        .await
        .context("cannot open the orchestrator")?;
        Ok(Self {
            registry,
            revisions,
            orchestrator,
        })
    }

    /// One server with every service, reflection over all of them, and health SERVING
    /// while all three databases answer.
    pub fn server(&self) -> GrpcServerBuilder {
        let builder = GrpcServer::builder(&ServerConfig::default());
        let builder = self.registry.register(builder);
        let builder = self.revisions.register(builder);
        let builder = self.orchestrator.register(builder);
        // Each `register` sets its own database's check, the last one winning; this one,
        // set last, replaces them with all three.
        let registry = self.registry.database().clone();
        let revisions = self.revisions.database().clone();
        let orchestrator = self.orchestrator.context().pools.write.clone();
        builder.readiness_fn(move || {
            let (registry, revisions, orchestrator) =
                (registry.clone(), revisions.clone(), orchestrator.clone());
            async move {
                ferry_registry::store::ping(&registry)
                    .await
                    .map_err(|e| format!("registry database: {e}"))?;
                ferry_revisions::store::ping(&revisions)
                    .await
                    .map_err(|e| format!("revisions database: {e}"))?;
                ferry_orchestrator::store::ping(&orchestrator)
                    .await
                    .map_err(|e| format!("orchestrator database: {e}"))
            }
        })
    }
}
