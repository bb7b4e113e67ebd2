//! S3 against a moto server: streaming, size and ETag, If-Match, versions, missing objects.

use ferry_revisions::fetch::{FetchError, Fetchers, Origin};
use ferry_runtime::error::{ApiError, Exception};

use crate::support::moto::Moto;
use crate::support::read_all;

fn object(bucket: &str, key: &str) -> Origin {
    Origin::S3 {
        bucket: bucket.into(),
        key: key.into(),
        version: None,
        e_tag: None,
    }
}

/// Bytes that fill several chunks, and differ from one position to the next.
fn bundle(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn an_object_streams_whole_and_its_etag_is_checked() {
    let moto = Moto::start().await;
    moto.bucket("revisions", false).await;
    let bytes = bundle(700 * 1024);
    let (e_tag, _) = moto.put("revisions", "app/bundle v1.tgz", &bytes).await;
    let fetchers = Fetchers::new(&moto.config()).expect("fetchers");

    let fetched = fetchers
        .fetch(&object("revisions", "app/bundle v1.tgz"))
        .await
        .expect("fetch");
    assert_eq!(fetched.size, Some(bytes.len() as u64));
    assert_eq!(fetched.e_tag.as_deref(), Some(e_tag.as_str()));
    assert_eq!(read_all(fetched).await.expect("body"), bytes);

    // The right ETag, quoted as the AWS CLI prints it: the same bytes.
    let mut checked = object("revisions", "app/bundle v1.tgz");
    if let Origin::S3 { e_tag: tag, .. } = &mut checked {
        *tag = Some(format!("\"{e_tag}\""));
    }
    let fetched = fetchers.fetch(&checked).await.expect("etag matches");
    assert_eq!(read_all(fetched).await.expect("body"), bytes);

    // Another ETag: refused, naming the object's.
    if let Origin::S3 { e_tag: tag, .. } = &mut checked {
        *tag = Some("0123456789abcdef0123456789abcdef".into());
    }
    let err = fetchers.fetch(&checked).await.expect_err("etag differs");
    match &err {
        FetchError::ETagMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, "0123456789abcdef0123456789abcdef");
            assert_eq!(actual.as_deref(), Some(e_tag.as_str()));
        }
        other => panic!("expected an etag mismatch, got {other:?}"),
    }
    assert_eq!(
        ApiError::from(err).exception(),
        Some(Exception::InvalidRevision)
    );
    assert_eq!(fetchers.origin_reads(), 3);
}

#[tokio::test]
async fn a_missing_key_or_bucket_is_revision_does_not_exist() {
    let moto = Moto::start().await;
    moto.bucket("revisions", false).await;
    let fetchers = Fetchers::new(&moto.config()).expect("fetchers");

    for origin in [
        object("revisions", "nope.zip"),
        object("no-such-bucket", "a.zip"),
    ] {
        let err = fetchers.fetch(&origin).await.expect_err("missing");
        assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
        let api = ApiError::from(err);
        assert_eq!(api.exception(), Some(Exception::RevisionDoesNotExist));
        assert!(api.message().contains("does not exist"), "{api}");
    }
}

#[tokio::test]
async fn a_version_reads_that_version() {
    let moto = Moto::start().await;
    moto.bucket("versioned", true).await;
    let (old_tag, old_version) = moto.put("versioned", "app.tar", b"version one").await;
    let (new_tag, new_version) = moto.put("versioned", "app.tar", b"version two").await;
    let old_version = old_version.expect("versioning is on");
    assert_ne!(Some(&old_version), new_version.as_ref());
    let fetchers = Fetchers::new(&moto.config()).expect("fetchers");

    let latest = fetchers.fetch(&object("versioned", "app.tar")).await;
    let latest = read_all(latest.expect("latest")).await.expect("body");
    assert_eq!(latest, b"version two");

    let at = |version: &str, e_tag: Option<&str>| Origin::S3 {
        bucket: "versioned".into(),
        key: "app.tar".into(),
        version: Some(version.into()),
        e_tag: e_tag.map(str::to_owned),
    };
    let old = fetchers.fetch(&at(&old_version, Some(&old_tag))).await;
    let old = old.expect("the old version with its etag");
    assert_eq!(old.e_tag.as_deref(), Some(old_tag.as_str()));
    assert_eq!(read_all(old).await.expect("body"), b"version one");

    // The newer object's ETag is not the old version's.
    let err = fetchers
        .fetch(&at(&old_version, Some(&new_tag)))
        .await
        .expect_err("etag of another version");
    assert!(matches!(err, FetchError::ETagMismatch { .. }), "{err:?}");
}
