//! The registry's operations as `aws deploy` names them: applications, deployment
//! configurations, deployment groups, on-premises instances and resource tags, one file each.
//! Flags are the AWS CLI's; enum values are CodeDeploy's names; structured values are AWS
//! shorthand or JSON, read through the message's descriptor (`api::input`); lists are fetched
//! page by page as the AWS CLI does (`paging`).

mod applications;
mod configs;
mod groups;
mod instances;
mod paging;
mod tags;

use clap::Subcommand;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use prost::Message;
use tonic::transport::Channel;

use super::{Global, answer};

#[derive(Subcommand)]
pub enum RegistryCommand {
    #[command(flatten)]
    Applications(applications::Command),
    #[command(flatten)]
    Configs(configs::Command),
    #[command(flatten)]
    Groups(groups::Command),
    #[command(flatten)]
    Instances(instances::Command),
    #[command(flatten)]
    Tags(tags::Command),
}

pub async fn run(command: RegistryCommand) -> anyhow::Result<u8> {
    match command {
        RegistryCommand::Applications(command) => applications::run(command).await,
        RegistryCommand::Configs(command) => configs::run(command).await,
        RegistryCommand::Groups(command) => groups::run(command).await,
        RegistryCommand::Instances(command) => instances::run(command).await,
        RegistryCommand::Tags(command) => tags::run(command).await,
    }
}

/// A registry client on the `--endpoint`.
fn client(global: &Global) -> anyhow::Result<RegistryServiceClient<Channel>> {
    Ok(RegistryServiceClient::new(global.channel()?))
}

/// Prints the answer to `operation` (its response is `ferry.registry.v1.<operation>Response`)
/// or the refusal; returns the exit status.
fn reply<M: Message>(
    global: &Global,
    operation: &str,
    result: Result<tonic::Response<M>, tonic::Status>,
) -> anyhow::Result<u8> {
    answer(
        global,
        operation,
        &format!("ferry.registry.v1.{operation}Response"),
        result,
    )
}
