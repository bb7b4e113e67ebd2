//! `ferry-registry` and `ferry-revisions` as two real processes: the revisions service finds
//! the registry by its configured endpoint, takes an upload for a registered application and
//! streams it back byte for byte.

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use ferry_proto::common::v1::{BundleType, RevisionLocationType};
use ferry_proto::registry::v1::CreateApplicationRequest;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{DownloadBundleRequest, UploadBundleHeader, UploadBundleRequest};
use ferry_runtime::error::error_reason;
use ferry_tests::{Service, binary, channel, wait_serving};

fn upload(header: UploadBundleHeader, bytes: &[u8]) -> Vec<UploadBundleRequest> {
    let mut parts = vec![UploadBundleRequest {
        part: Some(Part::Header(header)),
    }];
    parts.extend(bytes.chunks(1000).map(|c| UploadBundleRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    parts
}

#[tokio::test]
async fn revisions_talks_to_the_registry_and_round_trips_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary("ferry-registry"));
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("registry"));
    let mut registry = Service::start(command);
    let registry_addr = registry.wait_for_address();

    let mut command = Command::new(binary("ferry-revisions"));
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("revisions"))
        .env("FERRY_REGISTRY_ENDPOINT", format!("http://{registry_addr}"));
    let mut revisions = Service::start(command);
    let revisions_addr = revisions.wait_for_address();
    wait_serving(
        channel(revisions_addr).await,
        "ferry.revision.v1.RevisionService",
    )
    .await;

    let mut apps = RegistryServiceClient::new(channel(registry_addr).await);
    apps.create_application(CreateApplicationRequest {
        application_name: "web".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // A YAML bundle (an AppSpec on its own) of a few KiB, uploaded in 1000-byte chunks.
    let appspec = format!("version: 0.0\nos: linux\n# {}\n", "x".repeat(5000));
    let header = |application: &str| UploadBundleHeader {
        application_name: application.into(),
        bundle_type: BundleType::Yaml as i32,
        ..Default::default()
    };
    let mut client = RevisionServiceClient::new(channel(revisions_addr).await);
    let unknown = client
        .upload_bundle(tokio_stream::iter(upload(
            header("ghost"),
            appspec.as_bytes(),
        )))
        .await;
    let status = unknown.expect_err("the registry knows no application ghost");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("ApplicationDoesNotExistException")
    );

    let uploaded = client
        .upload_bundle(tokio_stream::iter(upload(
            header("web"),
            appspec.as_bytes(),
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(uploaded.size, appspec.len() as u64);
    let location = uploaded.location.unwrap();
    assert_eq!(
        location.revision_type,
        RevisionLocationType::Uploaded as i32
    );

    let mut stream = client
        .download_bundle(DownloadBundleRequest {
            sha256: uploaded.sha256.clone(),
            offset: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let (mut bytes, mut digest) = (Vec::new(), String::new());
    while let Some(message) = stream.message().await.unwrap() {
        bytes.extend(message.chunk);
        if !message.sha256.is_empty() {
            digest = message.sha256;
        }
    }
    assert_eq!(bytes, appspec.as_bytes());
    assert_eq!(digest, uploaded.sha256);

    assert!(revisions.terminate(Duration::from_secs(5)).await.success());
    assert!(registry.terminate(Duration::from_secs(5)).await.success());
}
