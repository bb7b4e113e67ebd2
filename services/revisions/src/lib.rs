//! ferry's revisions service: registered application revisions, bundles stored once by their
//! sha256, the fetchers that bring revisions from S3, GitHub, Bitbucket and git remotes, and
//! AppSpec validation.
//!
//! [`Revisions`] holds the logic, one `impl` block per concern in its own module;
//! [`RevisionsApi`] is the thin tonic adapter. The same value serves as its own process
//! (`ferry-revisions`) or shares a server with the other services (`ferry up`, tests).

mod apps;
mod blob_rows;
pub mod blobs;
mod bundles;
pub mod config;
pub mod fetch;
mod grpc;
mod inspect;
mod list;
pub mod location;
mod resolve;
mod revisions;
mod serve;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use crate::blobs::BlobStore;
pub use crate::config::RevisionsConfig;
pub use crate::grpc::RevisionsApi;
pub use crate::resolve::Resolved;
pub use crate::serve::serve;

/// The revisions service's state and operations. Cheap to clone.
#[derive(Clone)]
pub struct Revisions {
    inner: Arc<Inner>,
}

struct Inner {
    /// For queries.
    db: DatabaseConnection,
    /// For writes; one connection on SQLite.
    writer: DatabaseConnection,
    blobs: BlobStore,
    fetchers: fetch::Fetchers,
    apps: apps::Applications,
    max_bundle_bytes: u64,
    /// Where bundles are extracted for inspection.
    scratch: PathBuf,
    flights: resolve::Flights,
}

impl Revisions {
    /// Connects to the configured database and migrates it, opens the blob store and builds
    /// the fetchers and the registry client (which connects on first use).
    pub async fn open(config: &RevisionsConfig) -> anyhow::Result<Self> {
        let url = store::database_url(config.database_url.as_deref(), &config.data_dir)?;
        let pools = store::connect(&url).await?;
        let blobs = BlobStore::open(&config.blobs, &config.data_dir)?;
        let fetchers = fetch::Fetchers::new(&config.fetch)?;
        let apps = apps::Applications::new(&config.registry_endpoint)?;
        let scratch = config.data_dir.join("scratch");
        // Left over by a crash: nothing in it is needed.
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db: pools.read,
                writer: pools.write,
                blobs,
                fetchers,
                apps,
                max_bundle_bytes: config.limits.max_bundle_bytes,
                scratch,
                flights: resolve::Flights::default(),
            }),
        })
    }

    /// The database connection, for readiness checks.
    pub fn database(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// How many times a revision's bytes were read from its origin (S3, GitHub, …).
    pub fn origin_reads(&self) -> u64 {
        self.inner.fetchers.origin_reads()
    }
}
