//! Runs the revisions service as its own gRPC server: reflection, health (SERVING once the
//! database answers), the shared tower layers, and a graceful drain on SIGINT/SIGTERM.

use ferry_proto::revision::v1::revision_service_server::RevisionServiceServer;
use ferry_runtime::server::{GrpcServer, GrpcServerBuilder, shutdown_signal};

use crate::{Revisions, RevisionsApi, RevisionsConfig, store};

/// Largest message accepted or sent: a download chunk is 256 KiB, an upload chunk is the
/// client's choice, an inline AppSpec may be large.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

impl Revisions {
    /// The tonic service, for servers built by hand (tests, benchmarks).
    pub fn service(&self) -> RevisionServiceServer<RevisionsApi> {
        RevisionServiceServer::new(RevisionsApi::new(self.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Adds the service, its descriptors and readiness check to a server, so it can share one
    /// server with other services (`ferry up`) or run alone.
    pub fn register(&self, builder: GrpcServerBuilder) -> GrpcServerBuilder {
        let db = self.database().clone();
        builder
            .add_service(self.service())
            .add_file_descriptor_set(ferry_proto::FILE_DESCRIPTOR_SET)
            .readiness_fn(move || {
                let db = db.clone();
                async move { store::ping(&db).await }
            })
    }
}

/// Opens the database and blob store, binds `config.listen`, and serves until a shutdown
/// signal.
pub async fn serve(config: RevisionsConfig) -> anyhow::Result<()> {
    let revisions = Revisions::open(&config).await?;
    let listener = ferry_runtime::server::bind(&config.listen).await?;
    revisions
        .register(GrpcServer::builder(&config.server))
        .serve(listener, shutdown_signal())
        .await?;
    Ok(())
}
