//! The example configuration under deploy/ parses, validates and means what it says; flags and
//! environment variables override it; bad combinations are named.

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferry_revisions::RevisionsConfig;
use ferry_revisions::config::{BlobsKind, DEFAULT_LISTEN, DEFAULT_MAX_BUNDLE_BYTES};
use ferry_runtime::config::{ConfigSources, load};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/revisions.yaml")
}

#[test]
fn the_deploy_example_loads() {
    let sources = ConfigSources {
        file: Some(example()),
        ..Default::default()
    };
    let config: RevisionsConfig = load(&sources).expect("example is valid");
    assert_eq!(config.listen, "127.0.0.1:50052");
    assert_eq!(config.registry_endpoint, "http://ferry-registry:50051");
    assert_eq!(config.blobs.kind, BlobsKind::S3);
    assert_eq!(config.blobs.bucket.as_deref(), Some("ferry-bundles"));
    assert!(config.blobs.s3.path_style);
    assert_eq!(config.fetch.git.timeout_secs, 600);
    assert_eq!(config.limits.max_bundle_bytes, 4 << 30);
}

#[test]
fn no_configuration_at_all_is_a_working_default() {
    let config: RevisionsConfig = load(&ConfigSources::default()).unwrap();
    assert_eq!(config.listen, DEFAULT_LISTEN);
    assert_eq!(config.blobs.kind, BlobsKind::Local);
    assert_eq!(
        config.blobs.local_path(&config.data_dir),
        config.data_dir.join("blobs")
    );
    assert_eq!(config.limits.max_bundle_bytes, DEFAULT_MAX_BUNDLE_BYTES);
}

#[test]
fn env_and_flags_override_the_file() {
    let sources = ConfigSources {
        file: Some(example()),
        env: vec![("FERRY_LIMITS__MAX_BUNDLE_BYTES".into(), "1000".into())],
        overrides: vec![("blobs.prefix".into(), serde_json::json!("other"))],
    };
    let config: RevisionsConfig = load(&sources).unwrap();
    assert_eq!(config.limits.max_bundle_bytes, 1000);
    assert_eq!(config.blobs.prefix, "other");
}

#[test]
fn bad_combinations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (yaml, key) in [
        ("blobs:\n  kind: s3\n", "blobs.bucket"),
        ("blobs:\n  bucket: b\n", "blobs.bucket"),
        (
            "limits:\n  max_bundle_bytes: 0\n",
            "limits.max_bundle_bytes",
        ),
        ("registry_endpoint: localhost:1\n", "registry_endpoint"),
        ("blobs:\n  knd: s3\n", "knd"),
    ] {
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, yaml).unwrap();
        let err = load::<RevisionsConfig>(&ConfigSources {
            file: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains(key), "{yaml}: {err}");
    }
}
