//! A registry per test: a fresh SQLite file or PostgreSQL database, served on 127.0.0.1:0.

use std::net::SocketAddr;

use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::registry_service_server::RegistryServiceServer;
use ferry_registry::{Registry, RegistryApi, RegistryConfig};
use sea_orm::{ConnectionTrait, Database};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

pub use ferry_runtime::error::error_reason;

/// The PostgreSQL server the suite creates its databases on; the machine's local one unless
/// `FERRY_TEST_POSTGRES_URL` says otherwise. A PostgreSQL test fails, never skips, when it is down.
fn postgres_admin_url() -> String {
    std::env::var("FERRY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

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
            config.database_url = Some(fresh_postgres().await);
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

/// Creates an empty PostgreSQL database with a unique name and returns its URL. The name
/// carries this process's id, so databases left by test processes that have exited are
/// dropped here (tests run in parallel processes, so a live process's databases are kept).
async fn fresh_postgres() -> String {
    let admin_url = postgres_admin_url();
    let admin = Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("postgres at {admin_url}: {e}"));
    sweep_stale_databases(&admin).await;
    let name = format!(
        "ferry_test_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base.to_owned())
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

async fn sweep_stale_databases(admin: &sea_orm::DatabaseConnection) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let rows = admin
                .query_all_raw(sea_orm::Statement::from_string(
                    admin.get_database_backend(),
                    "SELECT datname FROM pg_database WHERE datname LIKE 'ferry\\_test\\_%'",
                ))
                .await
                .unwrap_or_default();
            for row in rows {
                let Ok(name) = row.try_get::<String>("", "datname") else {
                    continue;
                };
                let pid = name.split('_').nth(2).unwrap_or_default();
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    // Another process may be sweeping the same database: either drop wins.
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            }
        })
        .await;
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
