//! Revisions, deployments, targets, waiting and watching: `ferry push`, CodeDeploy's
//! deployment operations with `aws deploy`'s names and flags, `ferry wait
//! deployment-successful` (the AWS CLI's waiter) and `ferry deployment watch` (beyond
//! `aws deploy`: a deployment live, with its hooks' output).
//!
//! | file | what |
//! |---|---|
//! | `push.rs` | `push`: pack a directory, upload it as a revision |
//! | `create.rs` | `create-deployment` (and `--watch`) |
//! | `reads.rs` | get, batch-get, list, stop, continue; deployment targets |
//! | `wait.rs` | `wait deployment-successful` |
//! | `watch.rs`, `progress.rs` | `deployment watch`: the stream, and what is shown of it |
//! | `input.rs` | `--revision`, which also takes `push`'s whole output (the rest: `api::input`) |

mod create;
mod input;
mod progress;
mod push;
mod reads;
mod wait;
mod watch;

use clap::Subcommand;
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use tonic::transport::Channel;

use super::Global;

/// Exit status of `deployment watch` and `create-deployment --watch` when the deployment
/// failed or was stopped.
const EXIT_DEPLOYMENT_FAILED: u8 = 1;

/// Largest answer accepted (a batch of 25 deployments with their targets' events).
const MAX_MESSAGE: usize = 64 << 20;

#[derive(Subcommand)]
pub enum DeployCommand {
    /// Bundle a directory (its AppSpec at the root) as a tgz and upload it as a revision of
    /// an application; prints the revision for `create-deployment --revision`.
    Push(push::PushArgs),
    /// Deploy a revision to a deployment group; `--watch` follows it to its end.
    CreateDeployment(Box<create::CreateDeploymentArgs>),
    /// A deployment, with its status, overview and error.
    GetDeployment(reads::GetDeploymentArgs),
    /// Several deployments (at most 25).
    BatchGetDeployments(reads::BatchGetDeploymentsArgs),
    /// Deployment ids, newest first (every page).
    ListDeployments(reads::ListDeploymentsArgs),
    /// Stop a deployment that has not ended.
    StopDeployment(reads::StopDeploymentArgs),
    /// Blue/green: go on without waiting out the configured wait.
    ContinueDeployment(reads::ContinueDeploymentArgs),
    /// A deployment's target ids (every page).
    ListDeploymentTargets(reads::ListDeploymentTargetsArgs),
    /// One target of a deployment, with its lifecycle events.
    GetDeploymentTarget(reads::GetDeploymentTargetArgs),
    /// Several targets of a deployment (at most 25).
    BatchGetDeploymentTargets(reads::BatchGetDeploymentTargetsArgs),
    /// Wait until a condition holds (as `aws deploy wait`).
    #[command(subcommand)]
    Wait(wait::WaitCommand),
    /// Deployments beyond `aws deploy`.
    #[command(subcommand)]
    Deployment(watch::DeploymentCommand),
}

pub async fn run(command: DeployCommand) -> anyhow::Result<u8> {
    match command {
        DeployCommand::Push(args) => push::run(args).await,
        DeployCommand::CreateDeployment(args) => create::run(*args).await,
        DeployCommand::GetDeployment(args) => reads::get_deployment(args).await,
        DeployCommand::BatchGetDeployments(args) => reads::batch_get_deployments(args).await,
        DeployCommand::ListDeployments(args) => reads::list_deployments(args).await,
        DeployCommand::StopDeployment(args) => reads::stop_deployment(args).await,
        DeployCommand::ContinueDeployment(args) => reads::continue_deployment(args).await,
        DeployCommand::ListDeploymentTargets(args) => reads::list_deployment_targets(args).await,
        DeployCommand::GetDeploymentTarget(args) => reads::get_deployment_target(args).await,
        DeployCommand::BatchGetDeploymentTargets(args) => {
            reads::batch_get_deployment_targets(args).await
        }
        DeployCommand::Wait(command) => wait::run(command).await,
        DeployCommand::Deployment(command) => watch::run(command).await,
    }
}

/// The DeploymentService client at `global`'s endpoint.
fn deployments(global: &Global) -> anyhow::Result<DeploymentServiceClient<Channel>> {
    Ok(DeploymentServiceClient::new(global.channel()?).max_decoding_message_size(MAX_MESSAGE))
}
