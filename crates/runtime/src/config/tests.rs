use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;

/// A service config shaped like the real ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TestConfig {
    listen: String,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    workers: u32,
    log: LogConfig,
    telemetry: TelemetryConfig,
    server: ServerConfig,
}

impl Default for TestConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:7000".to_owned(),
            database_url: None,
            data_dir: None,
            workers: 4,
            log: LogConfig::default(),
            telemetry: TelemetryConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

impl Validate for TestConfig {
    fn validate(&self) -> Result<(), String> {
        if self.workers == 0 {
            return Err("workers must be at least 1".to_owned());
        }
        self.log.validate()?;
        self.telemetry.validate()?;
        self.server.validate()
    }
}

fn yaml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    file
}

fn sources(
    file: Option<&tempfile::NamedTempFile>,
    env: &[(&str, &str)],
    overrides: &[(&str, Value)],
) -> ConfigSources {
    ConfigSources {
        file: file.map(|f| f.path().to_owned()),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        overrides: overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

fn load_test(sources: &ConfigSources) -> Result<TestConfig, ConfigError> {
    load(sources)
}

#[test]
fn defaults_without_any_source() {
    let config = load_test(&ConfigSources::default()).expect("defaults load");
    assert_eq!(config, TestConfig::default());
}

#[test]
fn file_beats_defaults() {
    let file = yaml_file(
        "listen: 127.0.0.1:9000\nserver:\n  request_timeout_secs: 5\nlog:\n  format: json\n",
    );
    let config = load_test(&sources(Some(&file), &[], &[])).expect("file loads");
    assert_eq!(config.listen, "127.0.0.1:9000");
    assert_eq!(config.server.request_timeout_secs, 5);
    // Keys the file leaves out keep their defaults, also inside a section it touches.
    assert_eq!(config.server.concurrency_limit, 1024);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.filter, LogConfig::default().filter);
}

#[test]
fn env_beats_file_and_flag_beats_env() {
    let file = yaml_file("listen: 127.0.0.1:9000\nworkers: 2\n");
    let env = [
        ("FERRY_LISTEN", "127.0.0.1:9100"),
        ("FERRY_WORKERS", "3"),
        ("PATH", "/bin"),
    ];
    let config = load_test(&sources(Some(&file), &env, &[])).expect("env loads");
    assert_eq!(config.listen, "127.0.0.1:9100");
    assert_eq!(config.workers, 3);

    let overrides = [
        ("listen", json!("127.0.0.1:9200")),
        ("log.format", json!("json")),
    ];
    let config = load_test(&sources(Some(&file), &env, &overrides)).expect("flags load");
    assert_eq!(config.listen, "127.0.0.1:9200");
    assert_eq!(config.workers, 3);
    assert_eq!(config.log.format, LogFormat::Json);
}

#[test]
fn nested_env_vars_use_double_underscores() {
    let env = [
        ("FERRY_SERVER__REQUEST_TIMEOUT_SECS", "7"),
        ("FERRY_SERVER__LOAD_SHED", "false"),
        ("FERRY_TELEMETRY__OTLP_ENDPOINT", "http://localhost:4317"),
        ("FERRY_DATABASE_URL", "sqlite://ferry.db"),
        ("FERRY_CONFIG", "/not/a/key.yaml"),
    ];
    let config = load_test(&sources(None, &env, &[])).expect("env loads");
    assert_eq!(config.server.request_timeout_secs, 7);
    assert!(!config.server.load_shed);
    assert_eq!(
        config.telemetry.otlp_endpoint.as_deref(),
        Some("http://localhost:4317")
    );
    assert_eq!(config.database_url.as_deref(), Some("sqlite://ferry.db"));
}

#[test]
fn unknown_key_in_file_names_key_and_file() {
    let file = yaml_file("lisen: 127.0.0.1:9000\n");
    let err = load_test(&sources(Some(&file), &[], &[])).expect_err("typo is refused");
    let message = err.to_string();
    let expected = format!("unknown key \"lisen\" in {}", file.path().display());
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("expected one of"), "{message}");
}

#[test]
fn unknown_nested_key_in_file_gives_its_dotted_path() {
    let file = yaml_file("server:\n  request_timeout_secs: 5\n  concurrency: {max: 3}\n");
    let err = load_test(&sources(Some(&file), &[], &[])).expect_err("typo is refused");
    assert!(
        matches!(&err, ConfigError::UnknownKey { key, .. } if key == "server.concurrency"),
        "{err}"
    );
}

#[test]
fn wrong_type_in_file_names_the_key() {
    let file = yaml_file("server:\n  request_timeout_secs: soon\n");
    let err = load_test(&sources(Some(&file), &[], &[])).expect_err("a string is not a number");
    assert!(
        matches!(&err, ConfigError::InvalidValue { key, .. } if key == "server.request_timeout_secs"),
        "{err}"
    );
}

#[test]
fn env_vars_that_name_no_setting_are_skipped_not_fatal() {
    // The host's environment is shared (Kubernetes service links, test harnesses), so a
    // FERRY_ variable that names no key must not stop the service.
    let env = [
        ("FERRY_SERVER__LISEN", "x"),
        ("FERRY_REGISTRY_PORT", "tcp://10.0.0.1:50051"),
        ("FERRY_WORKERS", "2"),
    ];
    let config = load_test(&sources(None, &env, &[])).expect("unknown variables are skipped");
    assert_eq!(config.workers, 2, "known variables still apply");
}

#[test]
fn bad_env_value_is_named() {
    let env = [("FERRY_WORKERS", "many")];
    let err = load_test(&sources(None, &env, &[])).expect_err("not a number");
    assert!(err.to_string().contains("FERRY_WORKERS"), "{err}");
}

#[test]
fn malformed_env_name_is_skipped() {
    let config = load_test(&sources(None, &[("FERRY_SERVER____X", "1")], &[]))
        .expect("empty segment is skipped");
    assert_eq!(config, TestConfig::default());
}

#[test]
fn unknown_flag_key_is_refused() {
    let err =
        load_test(&sources(None, &[], &[("cache_dir", json!("/tmp"))])).expect_err("no such key");
    assert!(
        matches!(&err, ConfigError::UnknownKey { key, .. } if key == "cache_dir"),
        "{err}"
    );
}

#[test]
fn invalid_yaml_and_non_mapping_files() {
    let file = yaml_file("listen: [unclosed\n");
    assert!(matches!(
        load_test(&sources(Some(&file), &[], &[])),
        Err(ConfigError::Yaml { .. })
    ));
    let file = yaml_file("- a\n- b\n");
    assert!(matches!(
        load_test(&sources(Some(&file), &[], &[])),
        Err(ConfigError::NotAMapping { .. })
    ));
    let file = yaml_file("# only a comment\n");
    assert_eq!(
        load_test(&sources(Some(&file), &[], &[])).expect("empty file"),
        TestConfig::default()
    );
}

#[test]
fn missing_file_is_an_error() {
    let sources = ConfigSources {
        file: Some(PathBuf::from("/nonexistent/ferry.yaml")),
        ..ConfigSources::default()
    };
    let err = load_test(&sources).expect_err("no file");
    assert!(err.to_string().contains("/nonexistent/ferry.yaml"), "{err}");
}

#[test]
fn validation_runs_after_merging() {
    let err = load_test(&sources(None, &[("FERRY_WORKERS", "0")], &[])).expect_err("zero workers");
    assert!(matches!(err, ConfigError::Validation(_)), "{err}");
}

#[test]
fn dump_round_trips() {
    let config = TestConfig {
        listen: "[::1]:7000".to_owned(),
        database_url: Some("postgres://ferry@localhost/ferry".to_owned()),
        data_dir: Some(PathBuf::from("/var/lib/ferry")),
        workers: 9,
        log: LogConfig {
            format: LogFormat::Json,
            filter: "debug,h2=warn".to_owned(),
        },
        telemetry: TelemetryConfig {
            otlp_endpoint: Some("http://collector:4317".to_owned()),
            service_name: Some("8080".to_owned()),
        },
        server: ServerConfig {
            max_concurrent_streams: Some(100),
            ..ServerConfig::default()
        },
    };
    let yaml = dump(&config).expect("config dumps");
    let file = yaml_file(&yaml);
    let loaded = load_test(&sources(Some(&file), &[], &[])).expect("dump loads back");
    assert_eq!(loaded, config, "{yaml}");

    let defaults = dump(&TestConfig::default()).expect("defaults dump");
    let file = yaml_file(&defaults);
    assert_eq!(
        load_test(&sources(Some(&file), &[], &[])).expect("defaults load back"),
        TestConfig::default(),
        "{defaults}"
    );
}
