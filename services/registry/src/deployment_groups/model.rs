//! The stored form of a deployment group: the `spec` JSON of a `deployment_groups` row (every
//! CodeDeploy field but the names, the configuration and the compute platform, which are
//! columns), with CodeDeploy's member names as keys and enums by their CodeDeploy names, and
//! its conversion to the wire. Requests become a [`GroupSpec`] in `parse.rs` and `request.rs`;
//! the rules across fields are in `validate.rs`.
//!
//! Enum-valued fields hold the generated enums (never `Unspecified`: it is refused or given
//! its default at the edge), since they are CodeDeploy's enums one-to-one.

use ferry_proto::common::v1::{self as common, TagFilterType};
use ferry_proto::registry::v1::{
    self as pb, AutoRollbackEvent, DeploymentOption, DeploymentReadyAction, DeploymentType,
    GreenFleetProvisioningAction, InstanceAction, OutdatedInstancesStrategy, TriggerEventType,
};
use serde::{Deserialize, Serialize};

use ferry_runtime::error::ApiError;

use crate::convert::by_name;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    pub service_role_arn: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ec2_tag_filters: Vec<TagFilter>,
    /// Groups of filters; empty when the group has no EC2 tag set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ec2_tag_set: Vec<Vec<TagFilter>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_premises_instance_tag_filters: Vec<TagFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_premises_tag_set: Vec<Vec<TagFilter>>,
    /// Always empty in ferry, which has no Auto Scaling; kept so the shape stays CodeDeploy's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auto_scaling_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trigger_configurations: Vec<Trigger>,
    #[serde(default)]
    pub alarm_configuration: Alarms,
    #[serde(default)]
    pub auto_rollback_configuration: AutoRollback,
    pub deployment_style: Style,
    #[serde(with = "by_name")]
    pub outdated_instances_strategy: OutdatedInstancesStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green_deployment_configuration: Option<BlueGreen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_info: Option<LoadBalancer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ecs_services: Vec<EcsService>,
    #[serde(default)]
    pub termination_hook_enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagFilter {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
    #[serde(rename = "Type", with = "by_name")]
    pub kind: TagFilterType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub trigger_name: String,
    /// A webhook URL (http or https).
    pub trigger_target_arn: String,
    #[serde(with = "by_name::list")]
    pub trigger_events: Vec<TriggerEventType>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarms {
    pub enabled: bool,
    pub ignore_poll_alarm_failure: bool,
    /// Alarm names.
    pub alarms: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoRollback {
    pub enabled: bool,
    #[serde(with = "by_name::list")]
    pub events: Vec<AutoRollbackEvent>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Style {
    #[serde(with = "by_name")]
    pub deployment_type: DeploymentType,
    #[serde(with = "by_name")]
    pub deployment_option: DeploymentOption,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_blue_instances_on_deployment_success: Option<BlueTermination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_ready_option: Option<ReadyOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green_fleet_provisioning_option: Option<GreenFleet>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueTermination {
    #[serde(with = "by_name")]
    pub action: InstanceAction,
    pub termination_wait_time_in_minutes: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyOption {
    #[serde(with = "by_name")]
    pub action_on_timeout: DeploymentReadyAction,
    pub wait_time_in_minutes: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GreenFleet {
    #[serde(with = "by_name")]
    pub action: GreenFleetProvisioningAction,
}

/// Load balancers by name; never all empty (an empty one is no load balancer info).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elb_info_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_group_info_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_group_pair_info_list: Vec<TargetGroupPair>,
}

/// Target group names and listener ARNs; an empty route is no route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupPair {
    pub target_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prod_traffic_route: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_traffic_route: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsService {
    pub service_name: String,
    pub cluster_name: String,
}

impl GroupSpec {
    /// The JSON stored in the row.
    pub fn to_json(&self) -> Result<String, ApiError> {
        serde_json::to_string(self).map_err(ApiError::internal)
    }

    /// Reads a stored spec; a row that does not parse is our fault, not the caller's.
    pub fn from_json(json: &str) -> Result<Self, ApiError> {
        serde_json::from_str(json).map_err(ApiError::internal)
    }
}

pub fn tag_filters(filters: &[TagFilter]) -> Vec<common::TagFilter> {
    filters
        .iter()
        .map(|f| common::TagFilter {
            key: f.key.clone(),
            value: f.value.clone(),
            r#type: f.kind as i32,
        })
        .collect()
}

fn tag_set(groups: &[Vec<TagFilter>]) -> Vec<common::TagFilterGroup> {
    groups
        .iter()
        .map(|filters| common::TagFilterGroup {
            filters: tag_filters(filters),
        })
        .collect()
}

fn target_groups(names: &[String]) -> Vec<pb::TargetGroupInfo> {
    names
        .iter()
        .map(|name| pb::TargetGroupInfo { name: name.clone() })
        .collect()
}

fn route(listeners: &[String]) -> Option<pb::TrafficRoute> {
    (!listeners.is_empty()).then(|| pb::TrafficRoute {
        listener_arns: listeners.to_vec(),
    })
}

/// Fills the fields of a DeploymentGroupInfo that the spec holds.
pub fn fill_info(spec: GroupSpec, info: &mut pb::DeploymentGroupInfo) {
    info.ec2_tag_filters = tag_filters(&spec.ec2_tag_filters);
    info.on_premises_instance_tag_filters = tag_filters(&spec.on_premises_instance_tag_filters);
    info.auto_scaling_groups = spec
        .auto_scaling_groups
        .into_iter()
        .map(|name| pb::AutoScalingGroup {
            name,
            ..Default::default()
        })
        .collect();
    info.service_role_arn = spec.service_role_arn;
    info.trigger_configurations = spec
        .trigger_configurations
        .into_iter()
        .map(|t| pb::TriggerConfig {
            trigger_name: t.trigger_name,
            trigger_target_arn: t.trigger_target_arn,
            trigger_events: t.trigger_events.into_iter().map(|e| e as i32).collect(),
        })
        .collect();
    let alarms = spec.alarm_configuration;
    info.alarm_configuration = Some(pb::AlarmConfiguration {
        enabled: alarms.enabled,
        ignore_poll_alarm_failure: alarms.ignore_poll_alarm_failure,
        alarms: alarms
            .alarms
            .into_iter()
            .map(|name| pb::Alarm { name })
            .collect(),
    });
    let rollback = spec.auto_rollback_configuration;
    info.auto_rollback_configuration = Some(pb::AutoRollbackConfiguration {
        enabled: rollback.enabled,
        events: rollback.events.into_iter().map(|e| e as i32).collect(),
    });
    info.deployment_style = Some(pb::DeploymentStyle {
        deployment_type: spec.deployment_style.deployment_type as i32,
        deployment_option: spec.deployment_style.deployment_option as i32,
    });
    info.outdated_instances_strategy = spec.outdated_instances_strategy as i32;
    info.blue_green_deployment_configuration =
        spec.blue_green_deployment_configuration
            .map(|bg| pb::BlueGreenDeploymentConfiguration {
                terminate_blue_instances_on_deployment_success: bg
                    .terminate_blue_instances_on_deployment_success
                    .map(|t| pb::BlueInstanceTerminationOption {
                        action: t.action as i32,
                        termination_wait_time_in_minutes: t.termination_wait_time_in_minutes,
                    }),
                deployment_ready_option: bg.deployment_ready_option.map(|r| {
                    pb::DeploymentReadyOption {
                        action_on_timeout: r.action_on_timeout as i32,
                        wait_time_in_minutes: r.wait_time_in_minutes,
                    }
                }),
                green_fleet_provisioning_option: bg.green_fleet_provisioning_option.map(|g| {
                    pb::GreenFleetProvisioningOption {
                        action: g.action as i32,
                    }
                }),
            });
    info.load_balancer_info = spec.load_balancer_info.map(|lb| pb::LoadBalancerInfo {
        elb_info_list: lb
            .elb_info_list
            .into_iter()
            .map(|name| pb::ElbInfo { name })
            .collect(),
        target_group_info_list: target_groups(&lb.target_group_info_list),
        target_group_pair_info_list: lb
            .target_group_pair_info_list
            .iter()
            .map(|pair| pb::TargetGroupPairInfo {
                target_groups: target_groups(&pair.target_groups),
                prod_traffic_route: route(&pair.prod_traffic_route),
                test_traffic_route: route(&pair.test_traffic_route),
            })
            .collect(),
    });
    info.ec2_tag_set = (!spec.ec2_tag_set.is_empty()).then(|| pb::Ec2TagSet {
        ec2_tag_set_list: tag_set(&spec.ec2_tag_set),
    });
    info.on_premises_tag_set =
        (!spec.on_premises_tag_set.is_empty()).then(|| pb::OnPremisesTagSet {
            on_premises_tag_set_list: tag_set(&spec.on_premises_tag_set),
        });
    info.ecs_services = spec
        .ecs_services
        .into_iter()
        .map(|s| pb::EcsService {
            service_name: s.service_name,
            cluster_name: s.cluster_name,
        })
        .collect();
    info.termination_hook_enabled = spec.termination_hook_enabled;
}
