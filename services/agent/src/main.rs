//! `ferry-agent`: `run` keeps a session with the orchestrator; `local` deploys a directory or
//! an archive on this host with no server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

use ferry_agent::config::AgentConfig;
use ferry_agent::download::Downloader;
use ferry_agent::lifecycle::Host;
use ferry_agent::local::{self, DEFAULT_EVENTS, LocalDeployment};
use ferry_agent::session::Agent;
use ferry_appspec::FileExistsBehavior;
use ferry_runtime::config::{self as runtime_config, ConfigSources, LogFormat};
use tokio_util::sync::CancellationToken;

/// ferry's host agent: runs the AppSpec lifecycle of deployments on this host.
#[derive(Parser)]
#[command(name = "ferry-agent", version)]
struct Args {
    #[command(flatten)]
    shared: SharedArgs,
    #[command(subcommand)]
    command: Option<Mode>,
}

/// Settings both modes take.
#[derive(clap::Args, Clone, Default)]
struct SharedArgs {
    /// YAML config file.
    #[arg(long, global = true, value_name = "FILE", env = "FERRY_CONFIG")]
    config: Option<PathBuf>,
    /// Where revisions, install records and results live.
    #[arg(long, global = true, value_name = "DIR")]
    deployment_root: Option<PathBuf>,
    /// Re-root every absolute destination under this directory.
    #[arg(long, global = true, value_name = "DIR")]
    install_root: Option<PathBuf>,
    /// Where the aggregate deployment log is written.
    #[arg(long, global = true, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// Print the effective config as YAML and exit.
    #[arg(long, global = true)]
    dump_config: bool,
}

#[derive(Subcommand)]
enum Mode {
    /// Hold a session with the orchestrator and run what it sends (the default).
    Run(RunArgs),
    /// Deploy a directory or an archive on this host, with no server.
    Local(LocalArgs),
}

#[derive(clap::Args, Clone, Default)]
struct RunArgs {
    /// The orchestrator's address (http:// or https://).
    #[arg(long, value_name = "URL")]
    orchestrator_endpoint: Option<String>,
    /// The on-premises instance name this host is registered as.
    #[arg(long, value_name = "NAME")]
    instance_name: Option<String>,
    /// The file holding this instance's credential.
    #[arg(long, value_name = "FILE")]
    credential_file: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct LocalArgs {
    /// The revision: a directory, or a tar, tgz or zip archive.
    #[arg(long, value_name = "PATH")]
    source: PathBuf,
    #[arg(
        long,
        default_value = "default-local-deployment-group",
        value_name = "NAME"
    )]
    deployment_group_name: String,
    #[arg(long, default_value = "default-local-application", value_name = "NAME")]
    application_name: String,
    /// The AppSpec's file name in the revision (default appspec.yml, then appspec.yaml).
    #[arg(long, default_value = "", value_name = "NAME")]
    app_spec_filename: String,
    /// What Install does with files already at a destination (the AppSpec's own value wins).
    #[arg(long, default_value = "DISALLOW", value_parser = parse_file_exists_behavior)]
    file_exists_behavior: FileExistsBehavior,
    /// The events to run, comma-separated (default: every in-place event, in order).
    #[arg(long, value_delimiter = ',', value_name = "EVENT,...")]
    events: Vec<String>,
    /// Carry on when ApplicationStop fails.
    #[arg(long)]
    ignore_application_stop_failures: bool,
    /// Print what would run, in order, without running it.
    #[arg(long)]
    plan: bool,
}

fn parse_file_exists_behavior(value: &str) -> Result<FileExistsBehavior, String> {
    match value.to_ascii_uppercase().as_str() {
        "DISALLOW" => Ok(FileExistsBehavior::Disallow),
        "OVERWRITE" => Ok(FileExistsBehavior::Overwrite),
        "RETAIN" => Ok(FileExistsBehavior::Retain),
        _ => Err("expected DISALLOW, OVERWRITE or RETAIN".to_owned()),
    }
}

fn overrides(shared: &SharedArgs, run: &RunArgs) -> Vec<(String, Value)> {
    let path = |p: &PathBuf| Value::String(p.to_string_lossy().into_owned());
    let mut out = Vec::new();
    let mut push = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.push((key.to_owned(), value));
        }
    };
    push("deployment_root", shared.deployment_root.as_ref().map(path));
    push("install_root", shared.install_root.as_ref().map(path));
    push("log_dir", shared.log_dir.as_ref().map(path));
    push(
        "log.format",
        shared.log_format.map(|f| {
            Value::String(match f {
                LogFormat::Human => "human".to_owned(),
                LogFormat::Json => "json".to_owned(),
            })
        }),
    );
    push(
        "orchestrator_endpoint",
        run.orchestrator_endpoint.clone().map(Value::String),
    );
    push(
        "instance_name",
        run.instance_name.clone().map(Value::String),
    );
    push("credential_file", run.credential_file.as_ref().map(path));
    out
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let run_args = match &args.command {
        Some(Mode::Run(run)) => run.clone(),
        _ => RunArgs::default(),
    };
    let sources = ConfigSources::from_process_env(
        args.shared.config.clone(),
        overrides(&args.shared, &run_args),
    );
    let config: AgentConfig = match runtime_config::load(&sources) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ferry-agent: {err}");
            return ExitCode::from(2);
        }
    };
    if args.shared.dump_config {
        return match runtime_config::dump(&config) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("ferry-agent: {err}");
                ExitCode::from(2)
            }
        };
    }
    match args.command {
        Some(Mode::Local(local)) => run_local(config, local).await,
        Some(Mode::Run(_)) | None => run_agent(config).await,
    }
}

async fn run_agent(config: AgentConfig) -> ExitCode {
    let identity = match config.identity() {
        Ok(identity) => identity,
        Err(message) => {
            eprintln!("ferry-agent: {message}");
            return ExitCode::from(2);
        }
    };
    let guard = match ferry_runtime::telemetry::init("ferry-agent", &config.log, &config.telemetry)
    {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("ferry-agent: {err:#}");
            return ExitCode::from(2);
        }
    };
    let downloader = Downloader::new(config.orchestrator_endpoint.clone(), config.tls.clone());
    let agent = match Agent::new(
        config.clone(),
        identity,
        Host::from_config(&config, Some(downloader)),
    ) {
        Ok(agent) => agent,
        Err(err) => {
            eprintln!(
                "ferry-agent: deployment_root {}: {err}",
                config.deployment_root.display()
            );
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        endpoint = %config.orchestrator_endpoint,
        deployment_root = %config.deployment_root.display(),
        "ferry-agent started"
    );
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        ferry_runtime::server::shutdown_signal().await;
        signal.cancel();
    });
    agent.run(shutdown).await;
    tracing::info!("ferry-agent stopped");
    guard.shutdown();
    ExitCode::SUCCESS
}

async fn run_local(config: AgentConfig, args: LocalArgs) -> ExitCode {
    let events = if args.events.is_empty() {
        DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect()
    } else {
        args.events.clone()
    };
    let local = LocalDeployment {
        source: args.source.clone(),
        deployment_group_name: args.deployment_group_name.clone(),
        application_name: args.application_name.clone(),
        app_spec_file_name: args.app_spec_filename.clone(),
        file_exists_behavior: args.file_exists_behavior,
        events,
        ignore_application_stop_failures: args.ignore_application_stop_failures,
    };
    if !args.source.exists() {
        eprintln!(
            "ferry-agent: --source {}: no such file or directory",
            args.source.display()
        );
        return ExitCode::from(2);
    }
    // Logs go to stderr, output to stdout; local runs are quiet unless something is wrong.
    let mut log = config.log.clone();
    if std::env::var_os("RUST_LOG").is_none() {
        log.filter = "warn".to_owned();
    }
    let guard = ferry_runtime::telemetry::init("ferry-agent", &log, &Default::default()).ok();
    let host = Host::from_config(&config, None);
    let code = if args.plan {
        match local::plan(&host, &local).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("ferry-agent: {failure}");
                ExitCode::FAILURE
            }
        }
    } else {
        let cancel = CancellationToken::new();
        let interrupt = cancel.clone();
        tokio::spawn(async move {
            ferry_runtime::server::shutdown_signal().await;
            interrupt.cancel();
        });
        if local::deploy(&host, &local, &cancel).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    };
    if let Some(guard) = guard {
        guard.shutdown();
    }
    code
}
