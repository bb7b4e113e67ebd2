//! Typed config: defaults → YAML file → `FERRY_…` environment variables → command-line flags.
//!
//! A service declares one struct, `#[serde(deny_unknown_fields, default)]` at every level,
//! embedding the shared [`LogConfig`], [`TelemetryConfig`] and [`ServerConfig`] sections, and
//! calls [`load`] with the [`ConfigSources`] its [`CommonArgs`] describe.
//!
//! How the layers meet: `T::default()` is serialized to a JSON tree, each source is flattened
//! into `(key path, value)` entries and set into that tree, and the tree is deserialized into
//! `T`. When a source does not fit, each of its entries is tried alone on top of the defaults
//! to find the culprit, so errors name the key and where it came from:
//! `unknown key "lisen" in /etc/ferry.yaml`, or the environment variable's name.
//!
//! Environment variables: `FERRY_DATABASE_URL` is the key `database_url`; a double underscore
//! nests, `FERRY_SERVER__REQUEST_TIMEOUT_SECS` is `server.request_timeout_secs`. Values are
//! YAML scalars (numbers and bools work) except where the default is a string. An unknown
//! `FERRY_…` variable is an error, so a typo is not silently ignored. `FERRY_CONFIG` names
//! the file and is not a key.
//!
//! Validation: [`load`] calls [`Validate::validate`] on the result, so a service cannot forget
//! it; the trait's default accepts everything, and a service's impl should call its sections'.

mod args;
mod sections;
mod value;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use args::CommonArgs;
pub use sections::{LogConfig, LogFormat, ServerConfig, TelemetryConfig};
use value::{KeyPath, dotted, env_value, get_path, leaves, parse_dotted, set_path};

/// Prefix of the environment variables that set config keys.
pub const ENV_PREFIX: &str = "FERRY_";

/// `FERRY_…` variables that are not config keys: the config file path, and the test harness's.
pub const RESERVED_ENV: &[&str] = &["FERRY_CONFIG", "FERRY_BIN_DIR", "FERRY_VENV"];

/// Variables with this prefix belong to ferry's test harnesses, not to any service.
pub const RESERVED_ENV_PREFIX: &str = "FERRY_TEST_";

/// Checks that only make sense on the whole loaded config (ranges, combinations).
pub trait Validate {
    /// A lowercase message naming the key when the config is unusable.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Where a config comes from. Tests build it by hand; binaries use
/// [`ConfigSources::from_process_env`] (usually through [`CommonArgs::sources`]).
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// The YAML file, if any.
    pub file: Option<PathBuf>,
    /// Environment variables; those without the `FERRY_` prefix are ignored.
    pub env: Vec<(String, String)>,
    /// Command-line overrides as `(dotted key, value)`.
    pub overrides: Vec<(String, Value)>,
}

impl ConfigSources {
    /// The given file and overrides, with the process's `FERRY_…` environment variables.
    pub fn from_process_env(file: Option<PathBuf>, overrides: Vec<(String, Value)>) -> Self {
        let env = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        Self {
            file,
            env,
            overrides,
        }
    }
}

/// Why a config could not be loaded. Every message names the key and its source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid yaml in {}: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    #[error("config file {} must hold a mapping of keys at the top level", path.display())]
    NotAMapping { path: PathBuf },
    #[error("{key:?} is not a valid config key (from the command line)")]
    BadOverrideKey { key: String },
    #[error("unknown key {key:?} {origin} ({message})")]
    UnknownKey {
        key: String,
        origin: String,
        message: String,
    },
    #[error("invalid value for {key:?} {origin}: {message}")]
    InvalidValue {
        key: String,
        origin: String,
        message: String,
    },
    #[error("invalid config {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("invalid config: {0}")]
    Validation(String),
    #[error("cannot serialize config: {0}")]
    Serialize(String),
}

/// One `(key path, value)` set by a source, with a description of where it came from.
struct Entry {
    path: KeyPath,
    value: Value,
    origin: String,
}

/// Loads `T` from its defaults and `sources`, then validates it.
pub fn load<T>(sources: &ConfigSources) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default + Validate,
{
    let defaults =
        serde_json::to_value(T::default()).map_err(|e| ConfigError::Serialize(e.to_string()))?;
    let mut merged = defaults.clone();

    if let Some(path) = &sources.file {
        let origin = format!("in {}", path.display());
        let entries = file_entries(path)?
            .into_iter()
            .map(|(path, value)| Entry {
                path,
                value,
                origin: origin.clone(),
            })
            .collect();
        apply::<T>(&mut merged, &defaults, entries, &origin)?;
    }

    let mut env: Vec<&(String, String)> = sources
        .env
        .iter()
        .filter(|(name, _)| {
            name.starts_with(ENV_PREFIX)
                && !RESERVED_ENV.contains(&name.as_str())
                && !name.starts_with(RESERVED_ENV_PREFIX)
        })
        .collect();
    // Sorted so the first error reported does not depend on the process's env order.
    env.sort();
    let mut entries = Vec::with_capacity(env.len());
    for (name, raw) in env {
        // Unlike a file, the environment is shared with everything else on the host: a
        // `FERRY_…` variable that names no setting (Kubernetes injects FERRY_REGISTRY_PORT for
        // a Service called ferry-registry; test harnesses set FERRY_TEST_…) is reported and
        // skipped, never fatal. Logging is not up yet, so the report goes to stderr.
        let Some(path) = env_key(name).filter(|path| get_path(&defaults, path).is_some()) else {
            eprintln!("warning: ignoring environment variable {name}: it names no setting");
            continue;
        };
        let value = env_value(raw, get_path(&defaults, &path));
        entries.push(Entry {
            path,
            value,
            origin: format!("from environment variable {name}"),
        });
    }
    apply::<T>(&mut merged, &defaults, entries, "from the environment")?;

    let mut entries = Vec::with_capacity(sources.overrides.len());
    for (key, value) in &sources.overrides {
        let path =
            parse_dotted(key).ok_or_else(|| ConfigError::BadOverrideKey { key: key.clone() })?;
        entries.push(Entry {
            path,
            value: value.clone(),
            // `CommonArgs` flags are named after their keys: `log.format` is `--log-format`.
            origin: format!("from flag --{}", key.replace(['.', '_'], "-")),
        });
    }
    apply::<T>(&mut merged, &defaults, entries, "from the command line")?;

    let config: T = serde_json::from_value(merged).map_err(|e| ConfigError::Invalid {
        origin: "after merging all sources".to_owned(),
        message: e.to_string(),
    })?;
    config.validate().map_err(ConfigError::Validation)?;
    Ok(config)
}

/// Renders a config as YAML that [`load`] reads back (for `--dump-config`).
pub fn dump<T: Serialize>(config: &T) -> Result<String, ConfigError> {
    serde_saphyr::to_string(config).map_err(|e| ConfigError::Serialize(e.to_string()))
}

/// `FERRY_SERVER__REQUEST_TIMEOUT_SECS` → `["server", "request_timeout_secs"]`.
fn env_key(name: &str) -> Option<KeyPath> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    let path: KeyPath = rest.split("__").map(str::to_ascii_lowercase).collect();
    path.iter().all(|s| !s.is_empty()).then_some(path)
}

fn file_entries(path: &Path) -> Result<Vec<(KeyPath, Value)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let tree: Value = serde_saphyr::from_str(&text).map_err(|e| ConfigError::Yaml {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    match tree {
        // A file holding only comments.
        Value::Null => Ok(Vec::new()),
        Value::Object(_) => Ok(leaves(tree)),
        _ => Err(ConfigError::NotAMapping {
            path: path.to_owned(),
        }),
    }
}

/// Sets every entry into `merged`. If the result no longer deserializes, each entry is tried
/// alone on the defaults to name the one at fault; failing that, the combination is reported.
fn apply<T: DeserializeOwned>(
    merged: &mut Value,
    defaults: &Value,
    entries: Vec<Entry>,
    source: &str,
) -> Result<(), ConfigError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut candidate = merged.clone();
    for entry in &entries {
        set_path(&mut candidate, &entry.path, entry.value.clone());
    }
    let Err(combined) = serde_json::from_value::<T>(candidate.clone()) else {
        *merged = candidate;
        return Ok(());
    };
    for entry in entries {
        let mut probe = defaults.clone();
        set_path(&mut probe, &entry.path, entry.value);
        if let Err(e) = serde_json::from_value::<T>(probe) {
            return Err(describe(&entry.path, entry.origin, &e.to_string()));
        }
    }
    Err(ConfigError::Invalid {
        origin: source.to_owned(),
        message: combined.to_string(),
    })
}

/// Turns serde's message into one naming the dotted key.
fn describe(path: &[String], origin: String, message: &str) -> ConfigError {
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        // The entry's path may run past the unknown key (`lisen: {port: 1}` → `lisen.port`).
        let end = path
            .iter()
            .rposition(|s| s == field)
            .map_or(path.len(), |i| i + 1);
        return ConfigError::UnknownKey {
            key: dotted(&path[..end]),
            origin,
            message: message.to_owned(),
        };
    }
    ConfigError::InvalidValue {
        key: dotted(path),
        origin,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
