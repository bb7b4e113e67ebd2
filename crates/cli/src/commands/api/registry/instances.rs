//! register-on-premises-instance (with a ready-to-use agent configuration),
//! deregister-on-premises-instance, get-on-premises-instance, batch-get-on-premises-instances,
//! list-on-premises-instances, add-tags-to-on-premises-instances,
//! remove-tags-from-on-premises-instances.

use clap::{Args, Subcommand};
use ferry_proto::common::v1::{Tag, TagFilter};
use ferry_proto::registry::v1::{
    AddTagsToOnPremisesInstancesRequest, BatchGetOnPremisesInstancesRequest,
    DeregisterOnPremisesInstanceRequest, GetOnPremisesInstanceRequest,
    ListOnPremisesInstancesRequest, RegisterOnPremisesInstanceRequest, RegistrationStatus,
    RemoveTagsFromOnPremisesInstancesRequest,
};
use serde::Serialize;

use super::paging::Paging;
use super::{client, reply};
use crate::commands::api::input::{Items, codedeploy, flatten, items, names};
use crate::commands::api::{Global, Output, print, print_text, refused, to_json};

/// Where the agent configuration says the credential is kept (as deploy/config/agent.yaml).
pub const CREDENTIAL_FILE: &str = "/etc/ferry-agent/credential";

#[derive(Subcommand)]
pub enum Command {
    /// Registers an on-premises instance; prints its credential (shown once) and a
    /// configuration for ferry-agent on that host.
    RegisterOnPremisesInstance(RegisterOnPremisesInstance),
    /// Deregisters an on-premises instance; its agent can no longer connect.
    DeregisterOnPremisesInstance(InstanceName),
    /// Gets information about an on-premises instance.
    GetOnPremisesInstance(InstanceName),
    /// Gets information about one or more on-premises instances (at most 100).
    BatchGetOnPremisesInstances(InstanceNames),
    /// Lists on-premises instances, registered and deregistered unless told otherwise.
    ListOnPremisesInstances(ListOnPremisesInstances),
    /// Adds tags to on-premises instances.
    AddTagsToOnPremisesInstances(InstanceTags),
    /// Removes tags from on-premises instances.
    RemoveTagsFromOnPremisesInstances(InstanceTags),
}

#[derive(Args)]
pub struct RegisterOnPremisesInstance {
    /// The name of the on-premises instance.
    #[arg(long)]
    instance_name: String,
    /// An IAM session ARN to associate with the instance (stored; at most one of the two ARNs).
    #[arg(long)]
    iam_session_arn: Option<String>,
    /// An IAM user ARN to associate with the instance (stored; at most one of the two ARNs).
    #[arg(long)]
    iam_user_arn: Option<String>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct InstanceName {
    /// The name of the on-premises instance.
    #[arg(long)]
    instance_name: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct InstanceNames {
    /// The names of the on-premises instances: name1 name2 ... or a JSON list.
    #[arg(long, required = true, num_args = 1.., value_parser = names)]
    instance_names: Vec<Items<String>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListOnPremisesInstances {
    /// Only the instances with this registration status.
    #[arg(long, value_parser = codedeploy::<RegistrationStatus>())]
    registration_status: Option<RegistrationStatus>,
    /// Only the instances matching every filter:
    /// Key=string,Value=string,Type=KEY_ONLY|VALUE_ONLY|KEY_AND_VALUE ... or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<TagFilter>)]
    tag_filters: Vec<Items<TagFilter>>,
    #[command(flatten)]
    paging: Paging,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct InstanceTags {
    /// The tags: Key=string,Value=string ... or JSON.
    #[arg(long, required = true, num_args = 1.., value_parser = items::<Tag>)]
    tags: Vec<Items<Tag>>,
    /// The names of the on-premises instances: name1 name2 ... or a JSON list.
    #[arg(long, required = true, num_args = 1.., value_parser = names)]
    instance_names: Vec<Items<String>>,
    #[command(flatten)]
    global: Global,
}

pub async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::RegisterOnPremisesInstance(args) => register(args).await,
        Command::DeregisterOnPremisesInstance(args) => {
            let request = DeregisterOnPremisesInstanceRequest {
                instance_name: args.instance_name,
            };
            let result = client(&args.global)?
                .deregister_on_premises_instance(request)
                .await;
            reply(&args.global, "DeregisterOnPremisesInstance", result)
        }
        Command::GetOnPremisesInstance(args) => {
            let request = GetOnPremisesInstanceRequest {
                instance_name: args.instance_name,
            };
            let result = client(&args.global)?
                .get_on_premises_instance(request)
                .await;
            reply(&args.global, "GetOnPremisesInstance", result)
        }
        Command::BatchGetOnPremisesInstances(args) => {
            let request = BatchGetOnPremisesInstancesRequest {
                instance_names: flatten(args.instance_names),
            };
            let result = client(&args.global)?
                .batch_get_on_premises_instances(request)
                .await;
            reply(&args.global, "BatchGetOnPremisesInstances", result)
        }
        Command::ListOnPremisesInstances(args) => {
            let client = client(&args.global)?;
            let registration_status = args.registration_status.map_or(0, i32::from);
            let tag_filters = flatten(args.tag_filters);
            let result = args
                .paging
                .collect(|next_token, page_size| {
                    let mut client = client.clone();
                    let request = ListOnPremisesInstancesRequest {
                        registration_status,
                        tag_filters: tag_filters.clone(),
                        next_token,
                        page_size,
                    };
                    async move { client.list_on_premises_instances(request).await }
                })
                .await;
            reply(&args.global, "ListOnPremisesInstances", result)
        }
        Command::AddTagsToOnPremisesInstances(args) => {
            let request = AddTagsToOnPremisesInstancesRequest {
                tags: flatten(args.tags),
                instance_names: flatten(args.instance_names),
            };
            let result = client(&args.global)?
                .add_tags_to_on_premises_instances(request)
                .await;
            reply(&args.global, "AddTagsToOnPremisesInstances", result)
        }
        Command::RemoveTagsFromOnPremisesInstances(args) => {
            let request = RemoveTagsFromOnPremisesInstancesRequest {
                tags: flatten(args.tags),
                instance_names: flatten(args.instance_names),
            };
            let result = client(&args.global)?
                .remove_tags_from_on_premises_instances(request)
                .await;
            reply(&args.global, "RemoveTagsFromOnPremisesInstances", result)
        }
    }
}

/// Registers the instance and prints the answer with `agentConfig`, the agent's configuration
/// file (in table output: the answer's rows, then the file).
async fn register(args: RegisterOnPremisesInstance) -> anyhow::Result<u8> {
    const OPERATION: &str = "RegisterOnPremisesInstance";
    let request = RegisterOnPremisesInstanceRequest {
        instance_name: args.instance_name.clone(),
        iam_session_arn: args.iam_session_arn.unwrap_or_default(),
        iam_user_arn: args.iam_user_arn.unwrap_or_default(),
    };
    let response = match client(&args.global)?
        .register_on_premises_instance(request)
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(refused(OPERATION, &status)),
    };
    let mut answer = to_json(&response, &format!("ferry.registry.v1.{OPERATION}Response"))?;
    let config = agent_config(&args.global.endpoint, &args.instance_name)?;
    if args.global.output == Output::Table {
        print(Output::Table, &answer)?;
        print_text(&format!("\n{config}"))?;
    } else {
        if let Some(object) = answer.as_object_mut() {
            object.insert("agentConfig".to_owned(), config.into());
        }
        print(args.global.output, &answer)?;
    }
    Ok(0)
}

/// The keys of deploy/config/agent.yaml that registration decides; the rest keep their
/// defaults.
#[derive(Serialize)]
struct AgentKeys<'a> {
    orchestrator_endpoint: &'a str,
    instance_name: &'a str,
    credential_file: &'a str,
}

/// A ferry-agent configuration file for the instance: the endpoint this command used, the
/// instance name, and where to keep the credential.
fn agent_config(endpoint: &str, instance_name: &str) -> anyhow::Result<String> {
    let keys = serde_saphyr::to_string(&AgentKeys {
        orchestrator_endpoint: endpoint,
        instance_name,
        credential_file: CREDENTIAL_FILE,
    })?;
    Ok(format!(
        "# ferry-agent configuration for on-premises instance {instance_name:?}\n\
         # (deploy/config/agent.yaml lists every setting). Put instanceCredential alone in\n\
         # credential_file, readable only by the agent. orchestrator_endpoint is the endpoint\n\
         # this command used: the agent's host must be able to reach it.\n\
         {keys}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_config_holds_the_endpoint_name_and_credential_file() {
        let config = agent_config("http://10.0.0.5:50051", "web-1").unwrap();
        let keys: serde_json::Value = serde_saphyr::from_str(&config).unwrap();
        assert_eq!(
            keys,
            serde_json::json!({
                "orchestrator_endpoint": "http://10.0.0.5:50051",
                "instance_name": "web-1",
                "credential_file": CREDENTIAL_FILE,
            })
        );
    }
}
