//! A moto S3 server of the test's own, on a free port, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry_revisions::fetch::{FetchConfig, S3Config};
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStoreExt, PutPayload};

use super::{eventually, free_port};

pub struct Moto {
    child: Child,
    pub endpoint: String,
    http: reqwest::Client,
}

/// `$FERRY_VENV/bin/moto_server`, else the repository's `.venv` (scripts/install-tools.sh).
fn moto_server() -> PathBuf {
    let venv = std::env::var_os("FERRY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let binary = venv.join("bin/moto_server");
    assert!(
        binary.exists(),
        "{} is missing: run scripts/install-tools.sh (or set FERRY_VENV)",
        binary.display()
    );
    binary
}

impl Moto {
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let url = moto.endpoint.clone();
        let http = moto.http.clone();
        // Python takes a few seconds to start on a busy machine.
        eventually(Duration::from_secs(60), "moto answers", || {
            let (url, http) = (url.clone(), http.clone());
            async move { http.get(url).send().await.ok().map(|_| ()) }
        })
        .await;
        assert!(
            moto.child.try_wait().expect("moto status").is_none(),
            "moto exited"
        );
        moto
    }

    /// Path-style, plain HTTP, static credentials: what a self-hosted S3 needs.
    pub fn config(&self) -> FetchConfig {
        FetchConfig {
            s3: S3Config {
                endpoint: Some(self.endpoint.clone()),
                path_style: true,
                allow_http: true,
                access_key_id: Some("testing".into()),
                secret_access_key: Some("testing".into()),
                ..S3Config::default()
            },
            ..FetchConfig::default()
        }
    }

    /// Creates a bucket through the S3 API, with versioning when asked.
    pub async fn bucket(&self, bucket: &str, versioned: bool) {
        let url = format!("{}/{bucket}", self.endpoint);
        let created = self.http.put(&url).send().await.expect("create bucket");
        assert!(created.status().is_success(), "create bucket: {created:?}");
        if versioned {
            let body = concat!(
                r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
                "<Status>Enabled</Status></VersioningConfiguration>"
            );
            let enabled = self
                .http
                .put(format!("{url}?versioning"))
                .header("content-type", "application/xml")
                .body(body)
                .send()
                .await
                .expect("enable versioning");
            assert!(enabled.status().is_success(), "versioning: {enabled:?}");
        }
    }

    /// Puts an object with object_store (signed, as a real client does): its ETag (without
    /// quotes) and version.
    pub async fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> (String, Option<String>) {
        let store = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .expect("s3 store");
        let put = store
            .put(&key.into(), PutPayload::from(bytes.to_vec()))
            .await
            .expect("put object");
        let e_tag = put.e_tag.expect("an etag").trim_matches('"').to_owned();
        (e_tag, put.version)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
