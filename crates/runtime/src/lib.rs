//! What every ferry service shares: [`config`] loading, [`telemetry`] (tracing and
//! OpenTelemetry), the gRPC [`server`] builder, and the [`error`] → `tonic::Status` table.
//!
//! A service's `main.rs` has this shape:
//!
//! ```no_run
//! use clap::Parser;
//! use ferry_runtime::config::{self, CommonArgs, LogConfig, ServerConfig, TelemetryConfig, Validate};
//! use ferry_runtime::server::{GrpcServer, shutdown_signal};
//! use ferry_runtime::telemetry;
//!
//! #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(deny_unknown_fields, default)]
//! struct Config {
//!     listen: String,
//!     database_url: String,
//!     log: LogConfig,
//!     telemetry: TelemetryConfig,
//!     server: ServerConfig,
//! }
//!
//! impl Validate for Config {
//!     fn validate(&self) -> Result<(), String> {
//!         self.log.validate()?;
//!         self.server.validate()
//!     }
//! }
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: CommonArgs,
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     // 1. Config first: the log format and filter are part of it. A bad config is reported
//!     //    on stderr with the key and its source, and exits with code 2 (a usage error).
//!     let cli = Cli::parse();
//!     let config: Config = match cli.common.load() {
//!         Ok(config) => config,
//!         Err(error) => {
//!             eprintln!("error: {error}");
//!             std::process::exit(2);
//!         }
//!     };
//!     if cli.common.dump_config {
//!         print!("{}", config::dump(&config)?);
//!         return Ok(());
//!     }
//!     // 2. Tracing, then OpenTelemetry export if configured.
//!     let telemetry = telemetry::init("ferry-registry", &config.log, &config.telemetry)?;
//!     // 3. Build: database, repositories, handlers.
//!     // 4. Serve until SIGINT/SIGTERM; health turns NOT_SERVING and requests drain for
//!     //    `server.shutdown_grace_secs`.
//!     GrpcServer::builder(&config.server)
//!         // .add_service(..).add_file_descriptor_set(..).readiness_fn(..)
//!         .serve_addr(config.listen.parse()?, shutdown_signal())
//!         .await?;
//!     // 5. Flush the last spans, bounded by a timeout.
//!     telemetry.shutdown();
//!     Ok(())
//! }
//! ```

pub mod config;
pub mod error;
pub mod pagination;
pub mod server;
pub mod service;
pub mod telemetry;

pub use error::{ApiError, Exception};
