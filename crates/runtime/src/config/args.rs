//! Command-line flags every ferry binary shares; `#[command(flatten)]` them into its own.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ConfigError, ConfigSources, LogFormat, Validate};

/// `--config`, `--listen`, `--data-dir`, `--database-url`, `--log-format`, `--dump-config`.
///
/// Flags beat environment variables, which beat the file, which beats the defaults. A flag
/// maps to a top-level key (`listen`, `data_dir`, `database_url`) or `log.format`; a service
/// whose config has no such key rejects the flag with an "unknown key" error.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// YAML config file.
    #[arg(long, value_name = "FILE", env = "FERRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to serve gRPC on.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Directory for the service's own files.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (sqlite:// or postgres://).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log line format.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Print the effective config as YAML and exit.
    #[arg(long)]
    pub dump_config: bool,
}

impl CommonArgs {
    /// The flags that were given, as `(dotted key, value)` overrides.
    pub fn overrides(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        if let Some(listen) = &self.listen {
            out.push(("listen".to_owned(), Value::String(listen.clone())));
        }
        if let Some(dir) = &self.data_dir {
            out.push((
                "data_dir".to_owned(),
                Value::String(dir.to_string_lossy().into_owned()),
            ));
        }
        if let Some(url) = &self.database_url {
            out.push(("database_url".to_owned(), Value::String(url.clone())));
        }
        if let Some(format) = self.log_format {
            let name = match format {
                LogFormat::Human => "human",
                LogFormat::Json => "json",
            };
            out.push(("log.format".to_owned(), Value::String(name.to_owned())));
        }
        out
    }

    /// The config file, the process's `FERRY_…` variables and these flags.
    pub fn sources(&self) -> ConfigSources {
        ConfigSources::from_process_env(self.config.clone(), self.overrides())
    }

    /// [`super::load`] from [`CommonArgs::sources`].
    pub fn load<T>(&self) -> Result<T, ConfigError>
    where
        T: Serialize + DeserializeOwned + Default + Validate,
    {
        super::load(&self.sources())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "ferry",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/var/lib/ferry",
            "--log-format",
            "json",
            "--dump-config",
        ])
        .expect("flags parse");
        assert!(cli.common.dump_config);
        assert_eq!(
            cli.common.overrides(),
            vec![
                ("listen".to_owned(), json!("127.0.0.1:0")),
                ("data_dir".to_owned(), json!("/var/lib/ferry")),
                ("log.format".to_owned(), json!("json")),
            ]
        );
    }

    #[test]
    fn an_unknown_log_format_is_refused() {
        assert!(Cli::try_parse_from(["ferry", "--log-format", "xml"]).is_err());
    }
}
