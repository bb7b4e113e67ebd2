//! `ferry wait deployment-successful`: the AWS CLI's waiter, polling GetDeployment. Exit 0
//! once the deployment succeeded; 255 (the AWS CLI's waiter failure) when it failed or was
//! stopped, when the call is refused, or when the attempts run out, with the reason on stderr.

use std::time::Duration;

use clap::{Args, Subcommand};
use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::{ErrorCode, GetDeploymentRequest};

use super::deployments;
use super::progress::name;
use crate::commands::api::Global;

/// The AWS CLI's exit status when a waiter fails.
pub const EXIT_WAITER_FAILED: u8 = 255;

const WAITER: &str = "Waiter DeploymentSuccessful failed";

#[derive(Subcommand)]
pub enum WaitCommand {
    /// Wait until a deployment has succeeded, polling GetDeployment every --delay seconds
    /// at most --max-attempts times. Exit 0 when it succeeded; 255 when it failed or was
    /// stopped, or the attempts ran out.
    DeploymentSuccessful(WaitArgs),
}

#[derive(Args)]
pub struct WaitArgs {
    /// The deployment's id (d-…).
    #[arg(long)]
    deployment_id: String,
    /// Seconds between two polls (the AWS CLI waits 15).
    #[arg(long, default_value = "1", value_parser = seconds)]
    delay: Duration,
    /// Polls before giving up.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    #[command(flatten)]
    global: Global,
}

fn seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| "expected a number of seconds".to_owned())
}

pub async fn run(command: WaitCommand) -> anyhow::Result<u8> {
    let WaitCommand::DeploymentSuccessful(args) = command;
    let mut client = deployments(&args.global)?;
    let id = &args.deployment_id;
    let mut last_seen = String::from("no answer yet");
    for attempt in 1..=args.max_attempts {
        if attempt > 1 {
            tokio::time::sleep(args.delay).await;
        }
        let request = GetDeploymentRequest {
            deployment_id: id.clone(),
        };
        let info = match client.get_deployment(request).await {
            Ok(response) => response.into_inner().deployment_info.unwrap_or_default(),
            Err(status) => match ferry_runtime::error::error_reason(&status) {
                // Refused (DeploymentDoesNotExistException, …): waiting will not change it.
                Some(reason) => {
                    eprintln!(
                        "{WAITER}: An error occurred ({reason}): {}",
                        status.message()
                    );
                    return Ok(EXIT_WAITER_FAILED);
                }
                // Not reachable: try again on the next attempt.
                None => {
                    last_seen = format!("{:?}: {}", status.code(), status.message());
                    continue;
                }
            },
        };
        let status = DeploymentStatus::try_from(info.status).unwrap_or_default();
        match status {
            DeploymentStatus::Succeeded => return Ok(0),
            DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                let status = name::<DeploymentStatus>(info.status);
                eprintln!(
                    "{WAITER}: Waiter encountered a terminal failure state: For expression \
                     \"deploymentInfo.status\" we matched expected path: \"{status}\""
                );
                let mut line = format!("Deployment {id} {status}");
                if let Some(error) = info.error_information {
                    line = format!(
                        "{line}: {} {}",
                        name::<ErrorCode>(error.code),
                        error.message
                    );
                }
                eprintln!("{line}");
                return Ok(EXIT_WAITER_FAILED);
            }
            _ => {
                last_seen = format!(
                    "deployment {id} is {}",
                    name::<DeploymentStatus>(info.status)
                )
            }
        }
    }
    eprintln!(
        "{WAITER}: Max attempts exceeded ({} attempts, {:?} apart). Previously accepted state: {last_seen}",
        args.max_attempts, args.delay
    );
    Ok(EXIT_WAITER_FAILED)
}
