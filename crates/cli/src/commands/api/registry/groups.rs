//! create-deployment-group, get-deployment-group, batch-get-deployment-groups,
//! list-deployment-groups, update-deployment-group, delete-deployment-group.

use clap::{Args, Subcommand};
use ferry_proto::common::v1::{Tag, TagFilter};
use ferry_proto::registry::v1::{
    AlarmConfiguration, AutoRollbackConfiguration, BatchGetDeploymentGroupsRequest,
    BlueGreenDeploymentConfiguration, CreateDeploymentGroupRequest, DeleteDeploymentGroupRequest,
    DeploymentStyle, Ec2TagSet, EcsService, EcsServiceList, GetDeploymentGroupRequest,
    ListDeploymentGroupsRequest, LoadBalancerInfo, OnPremisesTagSet, OutdatedInstancesStrategy,
    StringList, TagFilterList, TriggerConfig, TriggerConfigList, UpdateDeploymentGroupRequest,
};

use super::paging::Paging;
use super::{client, reply};
use crate::commands::api::Global;
use crate::commands::api::input::{Items, codedeploy, flatten, items, names, structure};

/// The two commands with every group setting are boxed: they are large beside the others.
#[derive(Subcommand)]
pub enum Command {
    /// Creates a deployment group of an application.
    CreateDeploymentGroup(Box<CreateDeploymentGroup>),
    /// Gets information about a deployment group.
    GetDeploymentGroup(GroupName),
    /// Gets information about one or more deployment groups of an application.
    BatchGetDeploymentGroups(BatchGetDeploymentGroups),
    /// Lists the deployment groups of an application.
    ListDeploymentGroups(ListDeploymentGroups),
    /// Changes a deployment group's settings; what is not given stays as it is.
    UpdateDeploymentGroup(Box<UpdateDeploymentGroup>),
    /// Deletes a deployment group.
    DeleteDeploymentGroup(GroupName),
}

#[derive(Args)]
pub struct CreateDeploymentGroup {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    /// The name of the new deployment group.
    #[arg(long)]
    deployment_group_name: String,
    #[command(flatten)]
    settings: Settings,
    /// Tags for the deployment group: Key=string,Value=string ... or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<Tag>)]
    tags: Vec<Items<Tag>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct UpdateDeploymentGroup {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    /// The deployment group's current name.
    #[arg(long)]
    current_deployment_group_name: String,
    /// A new name for the deployment group.
    #[arg(long)]
    new_deployment_group_name: Option<String>,
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    global: Global,
}

/// What create-deployment-group and update-deployment-group both take. In an update a list
/// given replaces the stored one (`'[]'` empties it) and what is absent stays.
#[derive(Args)]
struct Settings {
    /// The deployment configuration (default CodeDeployDefault.OneAtATime on Server).
    #[arg(long)]
    deployment_config_name: Option<String>,
    /// EC2 instances by tag: Key=string,Value=string,Type=KEY_ONLY|VALUE_ONLY|KEY_AND_VALUE ...
    /// or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<TagFilter>)]
    ec2_tag_filters: Option<Vec<Items<TagFilter>>>,
    /// The on-premises instances to deploy to, by tag:
    /// Key=string,Value=string,Type=KEY_ONLY|VALUE_ONLY|KEY_AND_VALUE ... or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<TagFilter>)]
    on_premises_instance_tag_filters: Option<Vec<Items<TagFilter>>>,
    /// Auto Scaling group names: name1 name2 ... or a JSON list.
    #[arg(long, num_args = 1.., value_parser = names)]
    auto_scaling_groups: Option<Vec<Items<String>>>,
    /// The service role, arn:PARTITION:iam::ACCOUNT:role/NAME: stored, and required on create
    /// as in CodeDeploy.
    #[arg(long)]
    service_role_arn: Option<String>,
    /// Webhooks called on deployment and instance events:
    /// triggerName=string,triggerTargetArn=URL,triggerEvents=DeploymentFailure,... ... or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<TriggerConfig>)]
    trigger_configurations: Option<Vec<Items<TriggerConfig>>>,
    /// enabled=boolean,ignorePollAlarmFailure=boolean,alarms=[{name=string},...] or JSON.
    #[arg(long, value_parser = structure::<AlarmConfiguration>)]
    alarm_configuration: Option<AlarmConfiguration>,
    /// Roll back automatically:
    /// enabled=boolean,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM,DEPLOYMENT_STOP_ON_REQUEST
    /// or JSON.
    #[arg(long, value_parser = structure::<AutoRollbackConfiguration>)]
    auto_rollback_configuration: Option<AutoRollbackConfiguration>,
    /// What happens to instances that missed the last deployment.
    #[arg(long, value_parser = codedeploy::<OutdatedInstancesStrategy>())]
    outdated_instances_strategy: Option<OutdatedInstancesStrategy>,
    /// deploymentType=IN_PLACE|BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL|WITHOUT_TRAFFIC_CONTROL
    /// or JSON.
    #[arg(long, value_parser = structure::<DeploymentStyle>)]
    deployment_style: Option<DeploymentStyle>,
    /// terminateBlueInstancesOnDeploymentSuccess={…},deploymentReadyOption={…},
    /// greenFleetProvisioningOption={…} or JSON.
    #[arg(long, value_parser = structure::<BlueGreenDeploymentConfiguration>)]
    blue_green_deployment_configuration: Option<BlueGreenDeploymentConfiguration>,
    /// elbInfoList=[{name=string}],targetGroupInfoList=[{name=string}],… or JSON.
    #[arg(long, value_parser = structure::<LoadBalancerInfo>)]
    load_balancer_info: Option<LoadBalancerInfo>,
    /// Groups of EC2 tag filters, an instance matching a filter of every group:
    /// ec2TagSetList=[[{Key=…,Value=…,Type=…},…],…] or JSON.
    #[arg(long, value_parser = structure::<Ec2TagSet>)]
    ec2_tag_set: Option<Ec2TagSet>,
    /// serviceName=string,clusterName=string ... or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<EcsService>)]
    ecs_services: Option<Vec<Items<EcsService>>>,
    /// Groups of on-premises tag filters, an instance matching a filter of every group:
    /// onPremisesTagSetList=[[{Key=…,Value=…,Type=…},…],…] or JSON.
    #[arg(long, value_parser = structure::<OnPremisesTagSet>)]
    on_premises_tag_set: Option<OnPremisesTagSet>,
    /// Turn the Auto Scaling termination hook on.
    #[arg(long, overrides_with = "no_termination_hook_enabled")]
    termination_hook_enabled: bool,
    /// Turn the Auto Scaling termination hook off.
    #[arg(long, overrides_with = "termination_hook_enabled")]
    no_termination_hook_enabled: bool,
}

impl Settings {
    fn termination_hook_enabled(&self) -> Option<bool> {
        match (
            self.termination_hook_enabled,
            self.no_termination_hook_enabled,
        ) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

#[derive(Args)]
pub struct GroupName {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    /// The name of the deployment group.
    #[arg(long)]
    deployment_group_name: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct BatchGetDeploymentGroups {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    /// The names of the deployment groups: name1 name2 ... or a JSON list.
    #[arg(long, required = true, num_args = 1.., value_parser = names)]
    deployment_group_names: Vec<Items<String>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListDeploymentGroups {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    #[command(flatten)]
    paging: Paging,
    #[command(flatten)]
    global: Global,
}

fn create_request(args: CreateDeploymentGroup) -> CreateDeploymentGroupRequest {
    let termination_hook_enabled = args.settings.termination_hook_enabled();
    let s = args.settings;
    CreateDeploymentGroupRequest {
        application_name: args.application_name,
        deployment_group_name: args.deployment_group_name,
        deployment_config_name: s.deployment_config_name.unwrap_or_default(),
        ec2_tag_filters: s.ec2_tag_filters.map(flatten).unwrap_or_default(),
        on_premises_instance_tag_filters: s
            .on_premises_instance_tag_filters
            .map(flatten)
            .unwrap_or_default(),
        auto_scaling_groups: s.auto_scaling_groups.map(flatten).unwrap_or_default(),
        service_role_arn: s.service_role_arn.unwrap_or_default(),
        trigger_configurations: s.trigger_configurations.map(flatten).unwrap_or_default(),
        alarm_configuration: s.alarm_configuration,
        auto_rollback_configuration: s.auto_rollback_configuration,
        outdated_instances_strategy: s.outdated_instances_strategy.map_or(0, i32::from),
        deployment_style: s.deployment_style,
        blue_green_deployment_configuration: s.blue_green_deployment_configuration,
        load_balancer_info: s.load_balancer_info,
        ec2_tag_set: s.ec2_tag_set,
        ecs_services: s.ecs_services.map(flatten).unwrap_or_default(),
        on_premises_tag_set: s.on_premises_tag_set,
        tags: flatten(args.tags),
        termination_hook_enabled,
    }
}

fn update_request(args: UpdateDeploymentGroup) -> UpdateDeploymentGroupRequest {
    let termination_hook_enabled = args.settings.termination_hook_enabled();
    let s = args.settings;
    let filters = |list: Vec<Items<TagFilter>>| TagFilterList {
        items: flatten(list),
    };
    UpdateDeploymentGroupRequest {
        application_name: args.application_name,
        current_deployment_group_name: args.current_deployment_group_name,
        new_deployment_group_name: args.new_deployment_group_name,
        deployment_config_name: s.deployment_config_name,
        ec2_tag_filters: s.ec2_tag_filters.map(filters),
        on_premises_instance_tag_filters: s.on_premises_instance_tag_filters.map(filters),
        auto_scaling_groups: s.auto_scaling_groups.map(|list| StringList {
            items: flatten(list),
        }),
        service_role_arn: s.service_role_arn,
        trigger_configurations: s.trigger_configurations.map(|list| TriggerConfigList {
            items: flatten(list),
        }),
        alarm_configuration: s.alarm_configuration,
        auto_rollback_configuration: s.auto_rollback_configuration,
        outdated_instances_strategy: s.outdated_instances_strategy.map_or(0, i32::from),
        deployment_style: s.deployment_style,
        blue_green_deployment_configuration: s.blue_green_deployment_configuration,
        load_balancer_info: s.load_balancer_info,
        ec2_tag_set: s.ec2_tag_set,
        ecs_services: s.ecs_services.map(|list| EcsServiceList {
            items: flatten(list),
        }),
        on_premises_tag_set: s.on_premises_tag_set,
        termination_hook_enabled,
    }
}

pub async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::CreateDeploymentGroup(args) => {
            let global = args.global.clone();
            let result = client(&global)?
                .create_deployment_group(create_request(*args))
                .await;
            reply(&global, "CreateDeploymentGroup", result)
        }
        Command::GetDeploymentGroup(args) => {
            let request = GetDeploymentGroupRequest {
                application_name: args.application_name,
                deployment_group_name: args.deployment_group_name,
            };
            let result = client(&args.global)?.get_deployment_group(request).await;
            reply(&args.global, "GetDeploymentGroup", result)
        }
        Command::BatchGetDeploymentGroups(args) => {
            let request = BatchGetDeploymentGroupsRequest {
                application_name: args.application_name,
                deployment_group_names: flatten(args.deployment_group_names),
            };
            let result = client(&args.global)?
                .batch_get_deployment_groups(request)
                .await;
            reply(&args.global, "BatchGetDeploymentGroups", result)
        }
        Command::ListDeploymentGroups(args) => {
            let client = client(&args.global)?;
            let application_name = args.application_name;
            let result = args
                .paging
                .collect(|next_token, page_size| {
                    let mut client = client.clone();
                    let request = ListDeploymentGroupsRequest {
                        application_name: application_name.clone(),
                        next_token,
                        page_size,
                    };
                    async move { client.list_deployment_groups(request).await }
                })
                .await;
            reply(&args.global, "ListDeploymentGroups", result)
        }
        Command::UpdateDeploymentGroup(args) => {
            let global = args.global.clone();
            let result = client(&global)?
                .update_deployment_group(update_request(*args))
                .await;
            reply(&global, "UpdateDeploymentGroup", result)
        }
        Command::DeleteDeploymentGroup(args) => {
            let request = DeleteDeploymentGroupRequest {
                application_name: args.application_name,
                deployment_group_name: args.deployment_group_name,
            };
            let result = client(&args.global)?.delete_deployment_group(request).await;
            reply(&args.global, "DeleteDeploymentGroup", result)
        }
    }
}
