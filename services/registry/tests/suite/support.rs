//! A registry per test: a fresh SQLite file or PostgreSQL database, served on 127.0.0.1:0.

use std::net::SocketAddr;

use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::registry_service_server::RegistryServiceServer;
use ferry_registry::{Registry, RegistryApi, RegistryConfig};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

pub use ferry_runtime::error::error_reason;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running registry and a client for it. Dropping it stops the server and removes the SQLite
/// directory; a PostgreSQL database is dropped by a later run's sweep.
pub struct TestRegistry {
    pub client: RegistryServiceClient<Channel>,
    pub addr: SocketAddr,
    pub config: RegistryConfig,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

impl TestRegistry {
    pub async fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = RegistryConfig {
            data_dir: dir.path().to_owned(),
            ..RegistryConfig::default()
        };
        if let Backend::Postgres = backend {
            config.database_url = Some(ferry_store::testing::fresh_postgres().await);
        }
        Self::start_with(config, dir).await
    }

    /// Starts another registry on the same database (a second replica, or a restart).
    pub async fn restart(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = self.config.clone();
        if config.database_url.is_none() {
            config.database_url =
                Some(ferry_registry::store::database_url(None, &self.config.data_dir).unwrap());
        }
        Self::start_with(config, dir).await
    }

    async fn start_with(config: RegistryConfig, dir: tempfile::TempDir) -> Self {
        let registry = Registry::open(&config).await.expect("registry opens");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(RegistryServiceServer::new(RegistryApi::new(registry)))
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await
                .expect("server runs");
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        Self {
            client: RegistryServiceClient::new(channel),
            addr,
            config,
            _dir: dir,
            _server: server,
        }
    }

    /// A second client on its own connection, for concurrent callers.
    pub async fn another_client(&self) -> RegistryServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        RegistryServiceClient::new(channel)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self._server.abort();
    }
}

/// Asserts that a call failed with this gRPC code and CodeDeploy exception name.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    reason: &str,
) {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "code of {status:?}");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some(reason),
        "reason of {status:?}"
    );
}

/// Declares each listed `async fn name(backend: Backend)` as a SQLite and a PostgreSQL test.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )+
        }
    };
}
