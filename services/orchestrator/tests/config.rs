//! The example configuration under deploy/ parses, validates and means what it says; flags and
//! environment variables override it; bad values are named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use ferry_orchestrator::config::{DEFAULT_LISTEN, OrchestratorConfig};
use ferry_runtime::config::{ConfigSources, load};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/orchestrator.yaml")
}

#[test]
fn the_deploy_example_loads() {
    let sources = ConfigSources {
        file: Some(example()),
        ..Default::default()
    };
    let config: OrchestratorConfig = load(&sources).expect("example is valid");
    assert_eq!(config.listen, "0.0.0.0:50053");
    assert_eq!(config.registry_endpoint, "http://ferry-registry:50051");
    assert_eq!(
        config.download_endpoint(),
        "https://ferry.example.com:50052"
    );
    let limits = config.limits();
    assert_eq!(limits.event_start_timeout, Duration::from_secs(300));
    assert_eq!(limits.deployment_timeout, Duration::from_secs(8 * 3600));
    assert_eq!(config.triggers.max_attempts, 10);
}

#[test]
fn no_configuration_at_all_is_a_working_default() {
    let config: OrchestratorConfig = load(&ConfigSources::default()).unwrap();
    assert_eq!(config.listen, DEFAULT_LISTEN);
    assert_eq!(config.download_endpoint(), config.revisions_endpoint);
    assert_eq!(config.limits().agent_grace, Duration::from_secs(60));
}

#[test]
fn env_and_flags_override_the_file() {
    let sources = ConfigSources {
        file: Some(example()),
        env: vec![("FERRY_LIMITS__AGENT_GRACE_SECS".into(), "7".into())],
        overrides: vec![("triggers.region".into(), serde_json::json!("eu-1"))],
    };
    let config: OrchestratorConfig = load(&sources).unwrap();
    assert_eq!(config.limits().agent_grace, Duration::from_secs(7));
    assert_eq!(config.identity().region, "eu-1");
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (yaml, key) in [
        (
            "limits:\n  event_start_timeout_secs: 0\n",
            "limits.event_start_timeout_secs",
        ),
        (
            "agents:\n  heartbeat_interval_secs: 5\n  heartbeat_timeout_secs: 5\n",
            "agents.heartbeat_timeout_secs",
        ),
        ("triggers:\n  max_attempts: 0\n", "triggers.max_attempts"),
        ("database_url: mysql://x\n", "database_url"),
        ("registry_endpoint: \"\"\n", "registry_endpoint"),
        ("limits:\n  nonsense: 1\n", "nonsense"),
    ] {
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, yaml).unwrap();
        let sources = ConfigSources {
            file: Some(file),
            ..Default::default()
        };
        let error = load::<OrchestratorConfig>(&sources)
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "{yaml:?}: {error}");
    }
}
