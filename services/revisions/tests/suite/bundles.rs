//! UploadBundle and DownloadBundle: a resumed download reassembles to the uploaded bytes, a
//! wrong expected digest stores nothing, and each refusal has its exception.

use ferry_proto::common::v1::*;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::*;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::backend_tests;
use crate::support::{Backend, Env, assert_error, sample_bundle};

backend_tests!(
    upload_then_download_with_a_resume,
    a_wrong_expected_sha256_stores_nothing,
    uploads_refused,
    downloads_refused_and_the_empty_tail,
);

pub fn upload_messages(
    header: UploadBundleHeader,
    bytes: &[u8],
    chunk: usize,
) -> Vec<UploadBundleRequest> {
    let mut messages = vec![UploadBundleRequest {
        part: Some(Part::Header(header)),
    }];
    messages.extend(bytes.chunks(chunk).map(|c| UploadBundleRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    messages
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn upload_then_download_with_a_resume(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let bundle = sample_bundle(3 << 20);
    let sha = hex_sha(&bundle);
    let header = UploadBundleHeader {
        application_name: "web".into(),
        description: "pushed".into(),
        bundle_type: BundleType::Unspecified as i32,
        expected_sha256: sha.to_uppercase(),
    };
    let c = &mut env.client;
    let uploaded = c
        .upload_bundle(futures::stream::iter(upload_messages(
            header, &bundle, 100_000,
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (uploaded.sha256.as_str(), uploaded.size),
        (sha.as_str(), bundle.len() as u64)
    );
    let location = uploaded.location.unwrap();
    let up = location.uploaded_location.as_ref().unwrap();
    assert_eq!(
        (up.digest.as_str(), up.bundle_type),
        (sha.as_str(), BundleType::Tgz as i32),
        "detected as tgz"
    );
    let got = c
        .get_application_revision(GetApplicationRevisionRequest {
            application_name: "web".into(),
            revision: Some(location),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.revision_info.unwrap().description, "pushed");

    // Download three messages, drop the stream, resume where it stopped.
    let mut assembled = Vec::new();
    let mut stream = c
        .download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset: 0,
        })
        .await
        .unwrap()
        .into_inner();
    for i in 0..3 {
        let message = stream.next().await.unwrap().unwrap();
        assert_eq!(message.offset, assembled.len() as u64);
        assert_eq!(
            message.total_size,
            if i == 0 { bundle.len() as u64 } else { 0 }
        );
        assert!(message.sha256.is_empty());
        assert_eq!(message.chunk.len(), 256 * 1024);
        assembled.extend_from_slice(&message.chunk);
    }
    drop(stream);
    let resume_at = assembled.len() as u64;
    let mut stream = c
        .download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset: resume_at,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last_sha = String::new();
    let mut first = true;
    while let Some(message) = stream.next().await {
        let message = message.unwrap();
        assert_eq!(message.offset, assembled.len() as u64);
        if first {
            assert_eq!(message.total_size, bundle.len() as u64);
            first = false;
        }
        assert!(
            last_sha.is_empty(),
            "the digest comes on the last message only"
        );
        last_sha = message.sha256;
        assembled.extend_from_slice(&message.chunk);
    }
    assert_eq!(assembled.len(), bundle.len());
    assert_eq!(hex_sha(&assembled), sha);
    assert_eq!(last_sha, sha);

    // The same bytes again are the same blob.
    let again = UploadBundleHeader {
        bundle_type: BundleType::Tgz as i32,
        ..Default::default()
    };
    let second = c
        .upload_bundle(futures::stream::iter(upload_messages(
            again,
            &bundle,
            1 << 20,
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.sha256, sha);
}

async fn a_wrong_expected_sha256_stores_nothing(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create_app("web").await;
    let bundle = sample_bundle(10_000);
    let header = UploadBundleHeader {
        application_name: "web".into(),
        expected_sha256: "0".repeat(64),
        ..Default::default()
    };
    assert_error(
        env.client
            .upload_bundle(futures::stream::iter(upload_messages(
                header, &bundle, 4096,
            )))
            .await,
        Code::InvalidArgument,
        "InvalidRevisionException",
    );
    assert_eq!(
        env.revisions
            .blobs()
            .exists(&hex_sha(&bundle))
            .await
            .unwrap(),
        None
    );
    assert_error(
        env.client
            .download_bundle(DownloadBundleRequest {
                sha256: hex_sha(&bundle),
                offset: 0,
            })
            .await,
        Code::NotFound,
        "RevisionDoesNotExistException",
    );
    let listed = env
        .client
        .list_application_revisions(ListApplicationRevisionsRequest {
            application_name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.revisions.is_empty(), "nothing registered");
    // Nothing left behind either, temporary files included.
    let blobs = env.config.blobs.local_path(&env.config.data_dir);
    let files = walk(&blobs);
    assert!(files.is_empty(), "{files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn uploads_refused(backend: Backend) {
    let mut env = Env::start_with(backend, false, |c| c.limits.max_bundle_bytes = 50_000).await;
    env.create_app("web").await;
    let c = &mut env.client;
    let header = UploadBundleHeader::default;
    let chunk_first = vec![UploadBundleRequest {
        part: Some(Part::Chunk(vec![1, 2, 3])),
    }];
    assert_error(
        c.upload_bundle(futures::stream::iter(chunk_first)).await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
    let two_headers = vec![
        UploadBundleRequest {
            part: Some(Part::Header(header())),
        },
        UploadBundleRequest {
            part: Some(Part::Header(header())),
        },
    ];
    assert_error(
        c.upload_bundle(futures::stream::iter(two_headers)).await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
    let empty = upload_messages(header(), &[], 10);
    assert_error(
        c.upload_bundle(futures::stream::iter(empty)).await,
        Code::InvalidArgument,
        "InvalidRevisionException",
    );
    let binary: Vec<u8> = (0..1000u32).map(|i| (i % 7) as u8).collect();
    assert_error(
        c.upload_bundle(futures::stream::iter(upload_messages(
            header(),
            &binary,
            100,
        )))
        .await,
        Code::InvalidArgument,
        "InvalidRevisionException",
    );
    let too_big = sample_bundle(200_000);
    assert!(too_big.len() > 50_000);
    assert_error(
        c.upload_bundle(futures::stream::iter(upload_messages(
            header(),
            &too_big,
            8192,
        )))
        .await,
        Code::InvalidArgument,
        "InvalidRevisionException",
    );
    let for_nobody = UploadBundleHeader {
        application_name: "nope".into(),
        ..header()
    };
    assert_error(
        c.upload_bundle(futures::stream::iter(upload_messages(
            for_nobody,
            &sample_bundle(10),
            8192,
        )))
        .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    let long = UploadBundleHeader {
        application_name: "web".into(),
        description: "x".repeat(300),
        ..header()
    };
    assert_error(
        c.upload_bundle(futures::stream::iter(upload_messages(
            long,
            &sample_bundle(10),
            8192,
        )))
        .await,
        Code::InvalidArgument,
        "DescriptionTooLongException",
    );
    // An AppSpec uploaded as a YAML bundle is detected as one.
    let yaml = crate::support::APPSPEC.as_bytes();
    let done = c
        .upload_bundle(futures::stream::iter(upload_messages(header(), yaml, 100)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        done.location
            .unwrap()
            .uploaded_location
            .unwrap()
            .bundle_type,
        BundleType::Yaml as i32
    );
}

async fn downloads_refused_and_the_empty_tail(backend: Backend) {
    let mut env = Env::start(backend).await;
    let bundle = sample_bundle(1000);
    let sha = hex_sha(&bundle);
    let c = &mut env.client;
    c.upload_bundle(futures::stream::iter(upload_messages(
        UploadBundleHeader::default(),
        &bundle,
        512,
    )))
    .await
    .unwrap();
    let size = bundle.len() as u64;
    assert_error(
        c.download_bundle(DownloadBundleRequest {
            sha256: "ab".repeat(32),
            offset: 0,
        })
        .await,
        Code::NotFound,
        "RevisionDoesNotExistException",
    );
    assert_error(
        c.download_bundle(DownloadBundleRequest {
            sha256: "xyz".into(),
            offset: 0,
        })
        .await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
    assert_error(
        c.download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset: size + 1,
        })
        .await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
    let tail: Vec<_> = c
        .download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset: size,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(tail.len(), 1);
    let only = tail.into_iter().next().unwrap().unwrap();
    assert!(only.chunk.is_empty());
    assert_eq!(
        (only.total_size, only.sha256.as_str()),
        (size, sha.as_str())
    );
    // A small bundle is one message that is both first and last.
    let whole: Vec<_> = c
        .download_bundle(DownloadBundleRequest {
            sha256: sha.clone(),
            offset: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let only = whole.into_iter().next().unwrap().unwrap();
    assert_eq!(
        (
            only.chunk.len() as u64,
            only.total_size,
            only.sha256.as_str()
        ),
        (size, size, sha.as_str())
    );
}
