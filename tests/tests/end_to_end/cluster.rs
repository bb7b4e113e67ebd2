//! The cluster under test: `ferry-registry`, `ferry-revisions` and `ferry-orchestrator` as
//! processes on one fresh PostgreSQL database, three `ferry-agent` processes, and, when asked,
//! a moto server standing in for S3.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{DeploymentInfo, InstanceTarget};
use ferry_tests::Service;
use ferry_tests::deploy;
pub use ferry_tests::deploy::{ALL_EVENTS, get, is_terminal, status};
use ferry_tests::processes::free_address;
pub use ferry_tests::processes::{Cluster, Host, ferry_command};
use serde_json::json;
use tokio::time::Instant;
use tonic::transport::Channel;

pub const APP: &str = "shop";
pub const GROUP: &str = "web";
pub const INSTANCES: [&str; 3] = ["web-1", "web-2", "web-3"];

/// A moto S3 server on a free port, killed when dropped.
pub struct Moto {
    pub endpoint: String,
    _process: Service,
}

impl Moto {
    /// `$FERRY_VENV/bin/moto_server`, else the repository's `.venv` (scripts/install-tools.sh).
    async fn start() -> Self {
        let venv = std::env::var_os("FERRY_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
        let server = venv.join("bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run scripts/install-tools.sh (or set FERRY_VENV)",
            server.display()
        );
        let port = free_address().port();
        let mut command = Command::new(server);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null());
        let mut process = Service::start(command);
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // Python takes a few seconds to start on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.get(&endpoint).send().await.is_err() {
            assert!(
                process.child.try_wait().unwrap().is_none(),
                "moto_server exited"
            );
            assert!(Instant::now() < deadline, "moto did not answer within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            endpoint,
            _process: process,
        }
    }

    /// Creates `bucket` and puts `bytes` at `key`, as plain path-style requests (moto does not
    /// check signatures).
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let http = reqwest::Client::new();
        let url = format!("{}/{bucket}", self.endpoint);
        let created = http.put(&url).send().await.unwrap();
        assert!(created.status().is_success(), "create bucket: {created:?}");
        let put = http
            .put(format!("{url}/{key}"))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "put object: {put:?}");
    }
}

/// Registry, revisions and orchestrator as processes on one fresh PostgreSQL database (the
/// library's `Cluster`), and the moto the revisions service fetches S3 from, when asked.
pub struct Ferry {
    cluster: Cluster,
    pub moto: Option<Moto>,
}

impl std::ops::Deref for Ferry {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl Ferry {
    /// Starts the registry and the revisions service (fetching S3 from a moto of its own when
    /// `with_s3`) on a fresh database, and writes the orchestrator's configuration.
    pub async fn start(with_s3: bool) -> Self {
        let database_url = ferry_store::testing::fresh_postgres().await;
        let moto = if with_s3 {
            Some(Moto::start().await)
        } else {
            None
        };
        let fetch = moto.as_ref().map(|moto| {
            json!({ "s3": {
                "endpoint": moto.endpoint,
                "path_style": true,
                "allow_http": true,
                "access_key_id": "testing",
                "secret_access_key": "testing",
            }})
        });
        Self {
            cluster: Cluster::start(Some(&database_url), fetch),
            moto,
        }
    }

    /// The application and a group of the on-premises instances tagged group=web, with
    /// `config` and, when `rollback`, automatic rollback on DEPLOYMENT_FAILURE.
    pub async fn create_group(&self, config: &str, rollback: bool) {
        deploy::create_group(self.registry, APP, GROUP, config, rollback).await;
    }

    /// Registers the three instances in the group and starts their agents.
    pub async fn hosts(&self) -> Vec<Host> {
        self.cluster.hosts(&INSTANCES, GROUP).await
    }
}

/// The hook lines a deployment of the bundle writes: ApplicationStop only when an earlier
/// revision was installed (its script runs).
pub fn hook_lines(id: &str, after_earlier: bool) -> Vec<String> {
    let events: &[&str] = if after_earlier {
        &[
            "ApplicationStop",
            "BeforeInstall",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
        ]
    } else {
        &[
            "BeforeInstall",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
        ]
    };
    events.iter().map(|e| format!("{e} {id}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Reads.

/// Polls (up to 120 s) until the deployment has ended; returns it.
pub async fn ended(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    deploy::ended(deployments, id, Duration::from_secs(120)).await
}

/// Polls until the deployment has ended, and checks that it succeeded on every instance.
pub async fn succeeded(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
) -> DeploymentInfo {
    let info = ended(deployments, id).await;
    assert_eq!(status(&info), DeploymentStatus::Succeeded, "{info:?}");
    let overview = info.deployment_overview.unwrap_or_default();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (INSTANCES.len() as i64, 0, 0),
        "{overview:?}"
    );
    info
}

/// The deployment's three instance targets, in instance-name order.
pub async fn targets(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
) -> Vec<InstanceTarget> {
    deploy::targets(deployments, id, &INSTANCES).await
}

/// Every lifecycle event of every target of `id`, with its status, as the orchestrator reports.
pub async fn events(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
) -> Vec<(String, Vec<(String, i32)>)> {
    targets(deployments, id)
        .await
        .into_iter()
        .map(|t| {
            let events = t
                .lifecycle_events
                .iter()
                .map(|e| (e.lifecycle_event_name.clone(), e.status))
                .collect();
            (t.target_id, events)
        })
        .collect()
}
