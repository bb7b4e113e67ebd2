//! The example configuration under deploy/ parses, validates and means what it says; flags and
//! environment variables override it; unknown keys are named.

// Test and benchmark code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferry_registry::RegistryConfig;
use ferry_runtime::config::{ConfigSources, load};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/registry.yaml")
}

#[test]
fn the_deploy_example_loads() {
    let sources = ConfigSources {
        file: Some(example()),
        ..Default::default()
    };
    let config: RegistryConfig = load(&sources).expect("example is valid");
    assert_eq!(config.listen, "127.0.0.1:50051");
    assert_eq!(
        config.database_url.as_deref(),
        Some("postgres://ferry@db.internal:5432/ferry")
    );
    assert_eq!(config.arn.account, "000000000000");
    assert_eq!(config.server.concurrency_limit, 1024);
}

#[test]
fn env_and_flags_override_the_file() {
    let sources = ConfigSources {
        file: Some(example()),
        env: vec![
            ("FERRY_LISTEN".into(), "0.0.0.0:7000".into()),
            ("FERRY_ARN__REGION".into(), "eu".into()),
        ],
        overrides: vec![("listen".into(), serde_json::json!("127.0.0.1:7001"))],
    };
    let config: RegistryConfig = load(&sources).unwrap();
    assert_eq!(config.listen, "127.0.0.1:7001");
    assert_eq!(config.arn.region, "eu");
}

#[test]
fn no_configuration_at_all_is_a_working_default() {
    let config: RegistryConfig = load(&ConfigSources::default()).unwrap();
    assert_eq!(config.listen, ferry_registry::config::DEFAULT_LISTEN);
    assert!(config.database_url.is_none());
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "arn:\n  regoin: eu\n").unwrap();
    let err = load::<RegistryConfig>(&ConfigSources {
        file: Some(file),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("regoin"), "{err}");

    // A known variable with a bad value is an error; a variable naming no setting is skipped.
    let env = vec![
        ("FERRY_DATABASE_URL".into(), "mysql://x".into()),
        ("FERRY_NOT_A_KEY".into(), "1".into()),
    ];
    let err = load::<RegistryConfig>(&ConfigSources {
        env,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("database_url"), "{err}");
}
