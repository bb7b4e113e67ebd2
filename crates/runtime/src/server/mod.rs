//! The one gRPC server builder every ferry service uses.
//!
//! ```no_run
//! # use ferry_runtime::{config::ServerConfig, server::{GrpcServer, shutdown_signal}};
//! # async fn run(config: ServerConfig, listener: tokio::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
//! GrpcServer::builder(&config)
//!     // .add_service(RegistryServiceServer::new(registry))
//!     // .add_file_descriptor_set(ferry_proto::registry::v1::FILE_DESCRIPTOR_SET)
//!     .readiness_fn(|| async { Ok(()) /* e.g. ping the database */ })
//!     .serve(listener, shutdown_signal())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Besides the services added, every server answers `grpc.health.v1.Health` (see [`health`]
//! for how the status moves) and `grpc.reflection.v1` and `v1alpha` over every registered
//! descriptor set plus the health and reflection ones, so `grpcurl list` shows everything.
//! Requests pass the tower stack described in [`layers::stack`].
//!
//! Shutdown: when the `shutdown` future resolves, health turns NOT_SERVING, the listener is
//! closed, and in-flight requests get `shutdown_grace_secs` to finish (HTTP/2 GOAWAY tells
//! clients to go elsewhere). Then `serve` returns even if some streams are still open; their
//! connection tasks end with the runtime when `main` returns.

mod descriptors;
pub mod health;
pub mod layers;
mod listen;
mod shutdown;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tonic::body::Body;
use tonic::server::NamedService;

pub use listen::{LISTEN_BACKLOG, bind};
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::config::ServerConfig;

pub use health::ReadinessCheck;
pub use shutdown::shutdown_signal;

/// HTTP/2 PING interval on idle connections: finds dead peers under long-lived streams and
/// keeps NAT and load-balancer state alive.
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// A connection whose PING is not answered in this long is closed.
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive, for peers that vanish without a FIN.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid file descriptor set: {0}")]
    Descriptor(#[from] prost::DecodeError),
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("grpc server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Entry point: [`GrpcServer::builder`].
#[derive(Debug)]
pub struct GrpcServer;

impl GrpcServer {
    /// A builder with the limits and timeouts of `config`.
    pub fn builder(config: &ServerConfig) -> GrpcServerBuilder {
        GrpcServerBuilder {
            config: config.clone(),
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            descriptor_sets: Vec::new(),
            readiness: None,
        }
    }
}

/// Collects services, descriptor sets and the readiness check, then serves.
#[must_use = "a builder does nothing until `serve`"]
pub struct GrpcServerBuilder {
    config: ServerConfig,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    readiness: Option<ReadinessCheck>,
}

impl GrpcServerBuilder {
    /// Adds a generated tonic server (`FooServiceServer::new(handler)`); its name gets a
    /// health status of its own.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Registers an encoded `prost_types::FileDescriptorSet` for reflection. Its streaming
    /// methods are also exempt from the request timeout, so register the set of every service
    /// added. A set already registered (services sharing one server, as `ferry up` does) is
    /// registered once.
    pub fn add_file_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        if !self.descriptor_sets.contains(&encoded) {
            self.descriptor_sets.push(encoded);
        }
        self
    }

    /// The check that must pass before health reports SERVING; without one the server is
    /// SERVING as soon as it starts.
    pub fn readiness(mut self, check: ReadinessCheck) -> Self {
        self.readiness = Some(check);
        self
    }

    /// [`GrpcServerBuilder::readiness`] from an async closure.
    pub fn readiness_fn<F, Fut>(self, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.readiness(Arc::new(move || -> BoxFuture<'static, _> {
            Box::pin(check())
        }))
    }

    /// Binds `addr`, logs the address and serves until `shutdown` resolves.
    pub async fn serve_addr(
        self,
        addr: SocketAddr,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let listener = bind(&addr.to_string())
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        self.serve(listener, shutdown).await
    }

    /// Serves on an already bound listener (bind port 0 to learn the port first) until
    /// `shutdown` resolves, then drains for at most `shutdown_grace_secs`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let Self {
            config,
            mut routes,
            service_names,
            descriptor_sets,
            readiness,
        } = self;

        let mut sets = descriptor_sets;
        sets.extend(descriptors::BUILTIN);
        let streaming = Arc::new(descriptors::streaming_methods(&sets)?);
        routes
            .add_service(descriptors::reflection_v1(&sets)?)
            .add_service(descriptors::reflection_v1alpha(&sets)?);

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let names: Vec<String> = std::iter::once("")
            .chain(service_names)
            .map(str::to_owned)
            .collect();
        health::set_all(&reporter, &names, ServingStatus::NotServing).await;
        routes.add_service(health_service);

        let (draining_tx, draining_rx) = watch::channel(false);
        let health_task = tokio::spawn(health::run(reporter, names, readiness, draining_rx));
        let health_abort = health_task.abort_handle();
        let (drain_began, drain_begun) = oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            // NOT_SERVING first, while still accepting, so health checkers see it before
            // connections are refused.
            let _ = draining_tx.send(true);
            let _ = health_task.await;
            tracing::info!("shutting down: not serving, draining in-flight requests");
            let _ = drain_began.send(());
        };

        let local_addr = listener.local_addr().ok();
        // `serve_with_incoming` ignores the builder's TCP settings, so they go on the incoming.
        let incoming = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(TCP_KEEPALIVE));
        match local_addr {
            Some(address) => tracing::info!(%address, "listening for grpc"),
            None => tracing::info!("listening for grpc"),
        }

        let server = Server::builder()
            .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
            .max_concurrent_streams(config.max_concurrent_streams)
            .layer(layers::stack(&config, streaming))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, signal);

        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let grace_over = async move {
            if drain_begun.await.is_err() {
                // The server ended on its own; it wins the select below.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };

        let result = tokio::select! {
            result = server => result.map_err(ServeError::from),
            () = grace_over => {
                tracing::warn!(grace_secs = grace.as_secs(), "grace period over; leaving open streams behind");
                Ok(())
            }
        };
        health_abort.abort();
        tracing::info!("grpc server stopped");
        result
    }
}

#[cfg(test)]
mod tests;
