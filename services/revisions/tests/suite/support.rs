//! A registry and a revisions service per test, in-process on ephemeral ports, over a fresh
//! SQLite directory or a fresh PostgreSQL database (which both services share, each with its
//! own migration table); a moto S3 server for the tests that fetch from S3.

use std::net::SocketAddr;
use std::time::Duration;

use ferry_proto::registry::v1::CreateApplicationRequest;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::registry_service_server::RegistryServiceServer;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_registry::{Registry, RegistryApi, RegistryConfig};
use ferry_revisions::{Revisions, RevisionsConfig};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Server};

pub use ferry_runtime::error::error_reason;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A registry, a revisions service and clients for both (the servers end with the test's runtime).
pub struct Env {
    pub client: RevisionServiceClient<Channel>,
    pub registry: RegistryServiceClient<Channel>,
    /// The service itself, for what has no RPC (usage times, origin reads).
    pub revisions: Revisions,
    pub config: RevisionsConfig,
    pub addr: SocketAddr,
    pub moto: Option<Moto>,
    _dir: tempfile::TempDir,
}

async fn serve(routes: Routes) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("server runs");
    });
    addr
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

impl Env {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, false, |_| {}).await
    }

    /// With a moto S3 server, which the fetchers are pointed at.
    pub async fn start_with_s3(backend: Backend) -> Self {
        Self::start_with(backend, true, |_| {}).await
    }

    pub async fn start_with(
        backend: Backend,
        s3: bool,
        tweak: impl FnOnce(&mut RevisionsConfig),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(ferry_store::testing::fresh_postgres().await),
        };
        let registry_config = RegistryConfig {
            data_dir: dir.path().join("registry"),
            database_url: database_url.clone(),
            ..RegistryConfig::default()
        };
        let registry = Registry::open(&registry_config)
            .await
            .expect("registry opens");
        let registry_addr = serve(Routes::new(RegistryServiceServer::new(RegistryApi::new(
            registry,
        ))))
        .await;

        let moto = if s3 { Some(Moto::start().await) } else { None };
        let mut config = RevisionsConfig {
            data_dir: dir.path().join("revisions"),
            database_url,
            registry_endpoint: format!("http://{registry_addr}"),
            ..RevisionsConfig::default()
        };
        if let Some(moto) = &moto {
            let s3 = &mut config.fetch.s3;
            s3.endpoint = Some(moto.endpoint.clone());
            s3.path_style = true;
            s3.allow_http = true;
            s3.access_key_id = Some("testing".into());
            s3.secret_access_key = Some("testing".into());
        }
        tweak(&mut config);
        let revisions = Revisions::open(&config).await.expect("revisions opens");
        let addr = serve(Routes::new(revisions.service())).await;
        let client = RevisionServiceClient::new(channel(addr).await)
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        Self {
            client,
            registry: RegistryServiceClient::new(channel(registry_addr).await),
            revisions,
            config,
            addr,
            moto,
            _dir: dir,
        }
    }

    /// Another client on its own connection, for concurrent callers.
    pub async fn another_client(&self) -> RevisionServiceClient<Channel> {
        RevisionServiceClient::new(channel(self.addr).await).max_decoding_message_size(16 << 20)
    }

    pub async fn create_app(&mut self, name: &str) {
        self.registry
            .create_application(CreateApplicationRequest {
                application_name: name.into(),
                ..Default::default()
            })
            .await
            .expect("application created");
    }
}

/// A moto S3 server on a free port, killed when dropped.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Moto {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/moto_server");
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(&moto.endpoint).send().await.is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto did not answer on {}", moto.endpoint);
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let url = format!("{}/{bucket}", self.endpoint);
        let response = reqwest::Client::new().put(url).send().await.unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }

    /// Stores an object and returns its ETag (without quotes).
    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> String {
        let url = format!("{}/{bucket}/{key}", self.endpoint);
        let response = reqwest::Client::new()
            .put(url)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
        let etag = response.headers().get("etag").unwrap().to_str().unwrap();
        etag.trim_matches('"').to_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A tgz of `(path, bytes, mode)` entries.
pub fn tgz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (path, bytes, mode) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

pub const APPSPEC: &str = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 60\n      runas: root\n";

/// A valid server bundle of about `padding` bytes more than its AppSpec and script.
pub fn sample_bundle(padding: usize) -> Vec<u8> {
    // xorshift: incompressible, so the bundle is as large as asked.
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ padding as u64;
    let filler: Vec<u8> = (0..padding)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    tgz(&[
        ("appspec.yml", APPSPEC.as_bytes(), 0o644),
        ("scripts/start.sh", b"#!/bin/sh\necho started\n", 0o755),
        ("data.bin", &filler, 0o644),
    ])
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
