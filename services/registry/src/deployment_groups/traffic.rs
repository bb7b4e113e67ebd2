//! Field by field, how a deployment group reaches its targets: the deployment style,
//! blue/green options, load balancer info and ECS services, as stored domain values, each
//! refused with the CodeDeploy exception for its field. Whether they fit the compute platform
//! and each other is checked in `validate.rs`.

use std::collections::BTreeSet;

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::{
    self as pb, DeploymentOption, DeploymentReadyAction, DeploymentType,
    GreenFleetProvisioningAction, InstanceAction,
};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{
    BlueGreen, BlueTermination, EcsService, GreenFleet, LoadBalancer, ReadyOption, Style,
    TargetGroupPair,
};
use super::parse::MAX_ITEMS;

/// Longest blue/green wait, in minutes (two days).
pub const MAX_WAIT_MINUTES: i32 = 2880;

/// The deployment style. What is unspecified takes the platform's default: IN_PLACE and
/// WITHOUT_TRAFFIC_CONTROL for Server; BLUE_GREEN and WITH_TRAFFIC_CONTROL, the only style
/// there is, for Lambda and ECS.
pub fn deployment_style(
    given: Option<&pb::DeploymentStyle>,
    platform: ComputePlatform,
) -> Result<Style, ApiError> {
    let server = matches!(
        platform,
        ComputePlatform::Server | ComputePlatform::Unspecified
    );
    let given = given.copied().unwrap_or_default();
    let deployment_type = match DeploymentType::try_from(given.deployment_type) {
        Ok(DeploymentType::Unspecified) if server => DeploymentType::InPlace,
        Ok(DeploymentType::Unspecified) => DeploymentType::BlueGreen,
        Ok(kind) => kind,
        Err(_) => {
            return Err(ApiError::new(
                Exception::InvalidDeploymentStyle,
                format!(
                    "deployment type {} is not IN_PLACE or BLUE_GREEN",
                    given.deployment_type
                ),
            ));
        }
    };
    let deployment_option = match DeploymentOption::try_from(given.deployment_option) {
        Ok(DeploymentOption::Unspecified) if server => DeploymentOption::WithoutTrafficControl,
        Ok(DeploymentOption::Unspecified) => DeploymentOption::WithTrafficControl,
        Ok(option) => option,
        Err(_) => {
            return Err(ApiError::new(
                Exception::InvalidDeploymentStyle,
                format!(
                    "deployment option {} is not WITH_TRAFFIC_CONTROL or WITHOUT_TRAFFIC_CONTROL",
                    given.deployment_option
                ),
            ));
        }
    };
    Ok(Style {
        deployment_type,
        deployment_option,
    })
}

/// Blue/green options, each with its action; `None` when no option is given.
pub fn blue_green(
    given: &pb::BlueGreenDeploymentConfiguration,
) -> Result<Option<BlueGreen>, ApiError> {
    let invalid =
        |msg: String| ApiError::new(Exception::InvalidBlueGreenDeploymentConfiguration, msg);
    let wait = |field: &str, minutes: i32| {
        if (0..=MAX_WAIT_MINUTES).contains(&minutes) {
            Ok(minutes)
        } else {
            Err(invalid(format!(
                "{field} {minutes} is out of range; use 0-{MAX_WAIT_MINUTES} minutes"
            )))
        }
    };
    let terminate = match given.terminate_blue_instances_on_deployment_success {
        None => None,
        Some(t) => Some(BlueTermination {
            action: match InstanceAction::try_from(t.action) {
                Ok(InstanceAction::Unspecified) | Err(_) => {
                    return Err(invalid(format!(
                        "blue instance action {} is not TERMINATE or KEEP_ALIVE",
                        t.action
                    )));
                }
                Ok(action) => action,
            },
            termination_wait_time_in_minutes: wait(
                "termination_wait_time_in_minutes",
                t.termination_wait_time_in_minutes,
            )?,
        }),
    };
    let ready = match given.deployment_ready_option {
        None => None,
        Some(r) => Some(ReadyOption {
            action_on_timeout: match DeploymentReadyAction::try_from(r.action_on_timeout) {
                Ok(DeploymentReadyAction::Unspecified) | Err(_) => {
                    return Err(invalid(format!(
                        "action_on_timeout {} is not CONTINUE_DEPLOYMENT or STOP_DEPLOYMENT",
                        r.action_on_timeout
                    )));
                }
                Ok(action) => action,
            },
            wait_time_in_minutes: wait("wait_time_in_minutes", r.wait_time_in_minutes)?,
        }),
    };
    let green = match given.green_fleet_provisioning_option {
        None => None,
        Some(g) => match GreenFleetProvisioningAction::try_from(g.action) {
            Ok(action @ GreenFleetProvisioningAction::DiscoverExisting) => {
                Some(GreenFleet { action })
            }
            Ok(GreenFleetProvisioningAction::CopyAutoScalingGroup) => {
                return Err(invalid(
                    "green fleet provisioning COPY_AUTO_SCALING_GROUP is not available: ferry has no Auto Scaling; use DISCOVER_EXISTING".into(),
                ));
            }
            Ok(GreenFleetProvisioningAction::Unspecified) | Err(_) => {
                return Err(invalid(format!(
                    "green fleet provisioning action {} is not DISCOVER_EXISTING or COPY_AUTO_SCALING_GROUP",
                    g.action
                )));
            }
        },
    };
    let config = BlueGreen {
        terminate_blue_instances_on_deployment_success: terminate,
        deployment_ready_option: ready,
        green_fleet_provisioning_option: green,
    };
    Ok((config != BlueGreen::default()).then_some(config))
}

/// Load balancer info: at most ten load balancers and ten target groups, every name given;
/// `None` when every list is empty. Pairs are checked with the compute platform.
pub fn load_balancer(given: &pb::LoadBalancerInfo) -> Result<Option<LoadBalancer>, ApiError> {
    let invalid = |msg: String| ApiError::new(Exception::InvalidLoadBalancerInfo, msg);
    let names = |what: &str, names: Vec<&String>| {
        if names.len() > MAX_ITEMS {
            return Err(invalid(format!(
                "{} {what}s given; at most {MAX_ITEMS} are allowed",
                names.len()
            )));
        }
        let mut seen = BTreeSet::new();
        for name in &names {
            if name.is_empty() {
                return Err(invalid(format!("every {what} needs a name")));
            }
            if !seen.insert(name.as_str()) {
                return Err(invalid(format!("{what} {name:?} is listed twice")));
            }
        }
        Ok(names.into_iter().cloned().collect::<Vec<_>>())
    };
    let info = LoadBalancer {
        elb_info_list: names(
            "load balancer",
            given.elb_info_list.iter().map(|e| &e.name).collect(),
        )?,
        target_group_info_list: names(
            "target group",
            given
                .target_group_info_list
                .iter()
                .map(|t| &t.name)
                .collect(),
        )?,
        target_group_pair_info_list: given
            .target_group_pair_info_list
            .iter()
            .map(|pair| TargetGroupPair {
                target_groups: pair.target_groups.iter().map(|t| t.name.clone()).collect(),
                prod_traffic_route: pair
                    .prod_traffic_route
                    .as_ref()
                    .map(|r| r.listener_arns.clone())
                    .unwrap_or_default(),
                test_traffic_route: pair
                    .test_traffic_route
                    .as_ref()
                    .map(|r| r.listener_arns.clone())
                    .unwrap_or_default(),
            })
            .collect(),
    };
    Ok((info != LoadBalancer::default()).then_some(info))
}

/// ECS services, each with a service and a cluster name.
pub fn ecs_services(services: &[pb::EcsService]) -> Result<Vec<EcsService>, ApiError> {
    services
        .iter()
        .map(|s| {
            if s.service_name.is_empty() || s.cluster_name.is_empty() {
                return Err(ApiError::new(
                    Exception::InvalidECSService,
                    format!(
                        "ECS service {:?} in cluster {:?}: both service_name and cluster_name are required",
                        s.service_name, s.cluster_name
                    ),
                ));
            }
            Ok(EcsService { service_name: s.service_name.clone(), cluster_name: s.cluster_name.clone() })
        })
        .collect()
}
