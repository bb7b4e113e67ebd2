//! The blob store in S3 (moto): upload, a resumed download, and a resolve that reads the blob
//! back for extraction all work as they do on the local file system.

use ferry_proto::common::v1::*;
use ferry_proto::revision::v1::*;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::backend_tests;
use crate::bundles::upload_messages;
use crate::support::{Backend, Env, Moto, assert_error, sample_bundle};
use ferry_revisions::config::BlobsKind;

backend_tests!(blobs_in_s3);

async fn blobs_in_s3(backend: Backend) {
    let moto = Moto::start().await;
    moto.create_bucket("ferry-blobs").await;
    let endpoint = moto.endpoint.clone();
    let mut env = Env::start_with(backend, false, |config| {
        let blobs = &mut config.blobs;
        blobs.kind = BlobsKind::S3;
        blobs.bucket = Some("ferry-blobs".into());
        blobs.prefix = "bundles".into();
        blobs.s3.endpoint = Some(endpoint);
        blobs.s3.path_style = true;
        blobs.s3.allow_http = true;
        blobs.s3.access_key_id = Some("testing".into());
        blobs.s3.secret_access_key = Some("testing".into());
    })
    .await;
    let bundle = sample_bundle(2 << 20);
    let sha = hex::encode(Sha256::digest(&bundle));
    let c = &mut env.client;

    let wrong = UploadBundleHeader {
        expected_sha256: "1".repeat(64),
        ..Default::default()
    };
    assert_error(
        c.upload_bundle(futures::stream::iter(upload_messages(
            wrong,
            &bundle,
            1 << 20,
        )))
        .await,
        Code::InvalidArgument,
        "InvalidRevisionException",
    );
    assert_eq!(env.revisions.blobs().exists(&sha).await.unwrap(), None);

    let header = UploadBundleHeader {
        expected_sha256: sha.clone(),
        ..Default::default()
    };
    let uploaded = c
        .upload_bundle(futures::stream::iter(upload_messages(
            header, &bundle, 300_000,
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(uploaded.sha256, sha);
    assert_eq!(
        env.revisions.blobs().exists(&sha).await.unwrap(),
        Some(bundle.len() as u64)
    );

    // Resume from an offset that is not a chunk boundary.
    let offset = 300_001u64;
    let messages: Vec<_> = c
        .download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset,
        })
        .await
        .unwrap()
        .into_inner()
        .map(|m| m.unwrap())
        .collect()
        .await;
    assert_eq!(messages[0].total_size, bundle.len() as u64);
    assert!(
        messages
            .iter()
            .rev()
            .skip(1)
            .all(|m| m.chunk.len() == 256 * 1024)
    );
    assert_eq!(messages.last().unwrap().sha256, sha);
    let tail: Vec<u8> = messages.into_iter().flat_map(|m| m.chunk).collect();
    assert!(tail == bundle[offset as usize..]);

    let resolved = c
        .resolve_revision(ResolveRevisionRequest {
            application_name: String::new(),
            revision: uploaded.location,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.bundle_type, BundleType::Tgz as i32);
    assert_eq!(
        resolved.app_spec.unwrap().compute_platform,
        ComputePlatform::Server as i32
    );
}
