//! `ferry deployment watch ID` (and `create-deployment --watch`): a deployment live from
//! WatchDeployment. On a terminal the board (each target's current lifecycle event, a bar,
//! the counts) is redrawn under the scrolling hook output; otherwise every change is a line.
//! A broken stream is resumed after the last event received. Exit 0 when the deployment
//! succeeded, 1 when it failed or was stopped.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    GetDeploymentRequest, TargetStatus, WatchDeploymentRequest, WatchDeploymentResponse,
};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::progress::{Line, Progress};
use super::{EXIT_DEPLOYMENT_FAILED, deployments};
use crate::commands::api::{DEFAULT_ENDPOINT, Global, Output, refused, to_json};

/// Consecutive failed attempts to (re)open the stream before giving up (about a minute).
const MAX_RETRIES: u32 = 30;

#[derive(Subcommand)]
pub enum DeploymentCommand {
    /// Follow a deployment live until it ends: each target's lifecycle events, the counts, a
    /// progress bar and the hook output (`[target event] line`), then the outcome. Exit 0
    /// when it succeeded, 1 when it failed or was stopped.
    Watch(WatchArgs),
}

#[derive(Args)]
pub struct WatchArgs {
    /// The deployment's id (d-…).
    deployment_id: String,
    /// Leave out the hooks' output.
    #[arg(long)]
    exclude_output: bool,
    /// The ferry endpoint.
    #[arg(long, env = "FERRY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// text: progress for people; json: each WatchDeployment event as one JSON line.
    #[arg(long, value_enum, default_value_t = WatchOutput::Text)]
    output: WatchOutput,
}

#[derive(Clone, Copy, ValueEnum)]
enum WatchOutput {
    Text,
    Json,
}

/// Where the progress goes.
#[derive(Clone, Copy)]
pub enum Sink {
    Stdout,
    Stderr,
}

pub struct Options {
    pub sink: Sink,
    pub json: bool,
    pub exclude_output: bool,
}

pub async fn run(command: DeploymentCommand) -> anyhow::Result<u8> {
    let DeploymentCommand::Watch(args) = command;
    let global = Global {
        endpoint: args.endpoint,
        output: Output::Json,
    };
    let options = Options {
        sink: Sink::Stdout,
        json: matches!(args.output, WatchOutput::Json),
        exclude_output: args.exclude_output,
    };
    watch(deployments(&global)?, &args.deployment_id, &options).await
}

/// Watches deployment `id` to its end; returns the exit status. A reader of the progress that
/// went away (`| head`) is an error that `api::run` turns into its quiet `EXIT_BROKEN_PIPE`.
pub async fn watch(
    mut client: DeploymentServiceClient<Channel>,
    id: &str,
    options: &Options,
) -> anyhow::Result<u8> {
    let mut screen = Screen::new(options.sink);
    if !options.json {
        let info = match client
            .get_deployment(GetDeploymentRequest {
                deployment_id: id.to_owned(),
            })
            .await
        {
            Ok(response) => response.into_inner().deployment_info.unwrap_or_default(),
            Err(status) => return Ok(refused("GetDeployment", &status)),
        };
        screen.log(&format!(
            "Deployment {id}: application {}, deployment group {}, {}",
            info.application_name, info.deployment_group_name, info.deployment_config_name
        ))?;
    }
    let mut progress = Progress::new(id);
    let mut last = 0;
    let mut retries = 0;
    loop {
        let request = WatchDeploymentRequest {
            deployment_id: id.to_owned(),
            from_sequence: last,
            exclude_output: options.exclude_output,
        };
        let broken = match client.watch_deployment(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            retries = 0;
                            last = event.sequence;
                            let lines = progress.apply(&event);
                            if options.json {
                                let json =
                                    to_json(&event, "ferry.deploy.v1.WatchDeploymentResponse")?;
                                screen.log(&serde_json::to_string(&json)?)?;
                            } else {
                                screen.show(&lines, &progress, moves_a_target(&event))?;
                            }
                        }
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        };
        if progress.ended().is_some() {
            break;
        }
        let status = broken.unwrap_or_else(|| Status::unavailable("the stream ended early"));
        retries += 1;
        if !transient(&status) || retries > MAX_RETRIES {
            return Ok(refused("WatchDeployment", &status));
        }
        if retries == 1 {
            eprintln!(
                "ferry: the watch of {id} broke ({}); resuming after event {last}",
                status.message()
            );
        }
        tokio::time::sleep(backoff(retries)).await;
    }

    let status = progress.ended();
    if !options.json {
        screen.finish(&progress)?;
        let request = GetDeploymentRequest {
            deployment_id: id.to_owned(),
        };
        let rollback = client
            .get_deployment(request)
            .await
            .ok()
            .and_then(|r| r.into_inner().deployment_info)
            .and_then(|i| i.rollback_info)
            .map(|r| r.rollback_deployment_id)
            .unwrap_or_default();
        if !rollback.is_empty() {
            screen.log(&format!(
                "Rolled back by {rollback}: ferry deployment watch {rollback}"
            ))?;
        }
    }
    Ok(if status == Some(DeploymentStatus::Succeeded) {
        0
    } else {
        EXIT_DEPLOYMENT_FAILED
    })
}

/// Whether the event changes a target's status past Pending (line mode then prints the bar).
fn moves_a_target(event: &WatchDeploymentResponse) -> bool {
    matches!(&event.event, Some(Event::TargetStatusChanged(c)) if c.status != TargetStatus::Pending as i32)
}

/// A broken connection rather than a refusal (refusals carry the CodeDeploy exception).
fn transient(status: &Status) -> bool {
    ferry_runtime::error::error_reason(status).is_none()
        && matches!(
            status.code(),
            Code::Unavailable
                | Code::Unknown
                | Code::Cancelled
                | Code::DeadlineExceeded
                | Code::Aborted
                | Code::Internal
        )
}

fn backoff(retry: u32) -> Duration {
    Duration::from_millis(100 << retry.min(5)).min(Duration::from_secs(2))
}

/// The progress's output: a terminal (board redrawn under the log) or lines.
struct Screen {
    out: Box<dyn Write>,
    terminal: bool,
    width: usize,
    /// Lines of the board on screen, to erase before the next draw.
    drawn: usize,
}

impl Screen {
    fn new(sink: Sink) -> Self {
        let (out, terminal): (Box<dyn Write>, bool) = match sink {
            Sink::Stdout => (Box::new(std::io::stdout()), std::io::stdout().is_terminal()),
            Sink::Stderr => (Box::new(std::io::stderr()), std::io::stderr().is_terminal()),
        };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(80)
            .max(20);
        Self {
            out,
            terminal,
            width,
            drawn: 0,
        }
    }

    fn log(&mut self, line: &str) -> anyhow::Result<()> {
        self.erase()?;
        writeln!(self.out, "{line}").context("writing the progress")?;
        self.out.flush()?;
        Ok(())
    }

    /// Shows an event's lines: on a terminal the log lines, then the board; else every
    /// line, and the bar when a target moved.
    fn show(&mut self, lines: &[Line], progress: &Progress, moved: bool) -> anyhow::Result<()> {
        if self.terminal {
            self.erase()?;
            for line in lines {
                if let Line::Output(text) | Line::Failure(text) = line {
                    writeln!(self.out, "{text}")?;
                }
            }
            self.draw(progress)?;
        } else {
            for line in lines {
                let (Line::Output(text) | Line::Failure(text) | Line::Change(text)) = line;
                writeln!(self.out, "{text}")?;
            }
            if moved {
                writeln!(self.out, "{}", progress.progress_line())?;
            }
        }
        self.out.flush()?;
        Ok(())
    }

    fn draw(&mut self, progress: &Progress) -> anyhow::Result<()> {
        let board = progress.board();
        for line in &board {
            let shown: String = line.chars().take(self.width - 1).collect();
            writeln!(self.out, "{shown}")?;
        }
        self.drawn = board.len();
        Ok(())
    }

    fn erase(&mut self) -> anyhow::Result<()> {
        if self.drawn > 0 {
            write!(self.out, "\x1b[{}A\r\x1b[J", self.drawn)?;
            self.drawn = 0;
        }
        Ok(())
    }

    /// The outcome, under the last board on a terminal.
    fn finish(&mut self, progress: &Progress) -> anyhow::Result<()> {
        self.drawn = 0;
        for line in progress.outcome() {
            writeln!(self.out, "{line}")?;
        }
        self.out.flush()?;
        Ok(())
    }
}
