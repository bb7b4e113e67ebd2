//! CodeDeploy's rules across the fields of a deployment group, for its compute platform:
//! which ways of selecting targets go together, which deployment styles a platform has, and
//! what a style needs (load balancers, a target group pair, blue/green options, an ECS
//! service). Checked on the whole group after every create and every update.

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::{DeploymentOption, DeploymentType};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{GroupSpec, TargetGroupPair};
use super::parse::Tags;
use crate::convert::platform_name;

pub fn check(spec: &GroupSpec, platform: ComputePlatform) -> Result<(), ApiError> {
    targets(spec, platform)?;
    style(spec, platform)?;
    load_balancer(spec, platform)?;
    blue_green(spec, platform)?;
    ecs_services(spec, platform)
}

/// A tag filter list and a tag set exclude each other; only Server groups have instances.
fn targets(spec: &GroupSpec, platform: ComputePlatform) -> Result<(), ApiError> {
    if !spec.ec2_tag_filters.is_empty() && !spec.ec2_tag_set.is_empty() {
        return Err(ApiError::new(
            Exception::InvalidEC2TagCombination,
            "ec2_tag_filters and ec2_tag_set cannot both be set; keep one of them",
        ));
    }
    if !spec.on_premises_instance_tag_filters.is_empty() && !spec.on_premises_tag_set.is_empty() {
        return Err(ApiError::new(
            Exception::InvalidOnPremisesTagCombination,
            "on_premises_instance_tag_filters and on_premises_tag_set cannot both be set; keep one of them",
        ));
    }
    if platform != ComputePlatform::Server {
        let name = platform_name(platform);
        let why = |tags: Tags| {
            tags.invalid(format!(
                "a {name} deployment group has no instances to select: {}s are for Server deployment groups",
                tags.label()
            ))
        };
        if !spec.ec2_tag_filters.is_empty() || !spec.ec2_tag_set.is_empty() {
            return Err(why(Tags::Ec2));
        }
        if !spec.on_premises_instance_tag_filters.is_empty() || !spec.on_premises_tag_set.is_empty()
        {
            return Err(why(Tags::OnPremises));
        }
    }
    Ok(())
}

/// Lambda and ECS deployments are blue/green with traffic control, always; a blue/green
/// Server deployment reroutes traffic through a load balancer, so it needs traffic control.
fn style(spec: &GroupSpec, platform: ComputePlatform) -> Result<(), ApiError> {
    let style = spec.deployment_style;
    let blue_green = style.deployment_type == DeploymentType::BlueGreen;
    let with_traffic = style.deployment_option == DeploymentOption::WithTrafficControl;
    let invalid = |msg: String| Err(ApiError::new(Exception::InvalidDeploymentStyle, msg));
    match platform {
        ComputePlatform::Lambda | ComputePlatform::Ecs if !(blue_green && with_traffic) => invalid(format!(
            "a {} deployment group shifts traffic: its deployment style is BLUE_GREEN with WITH_TRAFFIC_CONTROL",
            platform_name(platform)
        )),
        ComputePlatform::Server if blue_green && !with_traffic => invalid(
            "a blue/green deployment reroutes traffic through a load balancer; use WITH_TRAFFIC_CONTROL".into(),
        ),
        _ => Ok(()),
    }
}

/// Server groups with traffic control name load balancers or target groups; ECS groups name
/// one target group pair; Lambda groups name none.
fn load_balancer(spec: &GroupSpec, platform: ComputePlatform) -> Result<(), ApiError> {
    let invalid = |msg: &str| {
        Err(ApiError::new(
            Exception::InvalidLoadBalancerInfo,
            msg.to_owned(),
        ))
    };
    let info = spec.load_balancer_info.as_ref();
    match platform {
        ComputePlatform::Lambda if info.is_some() => invalid(
            "a Lambda deployment group shifts traffic between function versions and takes no load_balancer_info",
        ),
        ComputePlatform::Ecs => {
            let Some(info) = info else {
                return invalid(
                    "an ECS deployment group needs load_balancer_info with a target group pair",
                );
            };
            if !info.elb_info_list.is_empty() || !info.target_group_info_list.is_empty() {
                return invalid(
                    "an ECS deployment group routes traffic through target_group_pair_info_list only",
                );
            }
            match info.target_group_pair_info_list.as_slice() {
                [pair] => target_group_pair(pair),
                [] => invalid(
                    "an ECS deployment group needs load_balancer_info with a target group pair",
                ),
                pairs => Err(ApiError::new(
                    Exception::InvalidTargetGroupPair,
                    format!(
                        "{} target group pairs given; an ECS deployment group has exactly one",
                        pairs.len()
                    ),
                )),
            }
        }
        ComputePlatform::Server => {
            if info.is_some_and(|i| !i.target_group_pair_info_list.is_empty()) {
                return invalid(
                    "target group pairs are for ECS deployment groups; a Server deployment group lists elb_info_list or target_group_info_list",
                );
            }
            if spec.deployment_style.deployment_option == DeploymentOption::WithTrafficControl
                && info.is_none()
            {
                return invalid(
                    "WITH_TRAFFIC_CONTROL needs load_balancer_info with at least one load balancer or target group",
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An ECS target group pair: two distinct target groups, a production route with one
/// listener, and at most one test listener.
fn target_group_pair(pair: &TargetGroupPair) -> Result<(), ApiError> {
    let invalid = |msg: String| Err(ApiError::new(Exception::InvalidTargetGroupPair, msg));
    match pair.target_groups.as_slice() {
        [a, b] if a.is_empty() || b.is_empty() => {
            return invalid("both target groups of the pair need a name".into());
        }
        [a, b] if a == b => {
            return invalid(format!(
                "the pair names target group {a:?} twice; use two target groups"
            ));
        }
        [_, _] => {}
        groups => {
            return invalid(format!(
                "a target group pair has exactly two target groups; {} given",
                groups.len()
            ));
        }
    }
    if !matches!(pair.prod_traffic_route.as_slice(), [listener] if !listener.is_empty()) {
        return invalid(
            "the pair needs a production traffic route with exactly one listener ARN".into(),
        );
    }
    if pair.test_traffic_route.len() > 1 || pair.test_traffic_route.iter().any(String::is_empty) {
        return invalid(
            "a test traffic route has at most one listener ARN, and it is not empty".into(),
        );
    }
    Ok(())
}

/// Blue/green options are for Server and ECS groups; a blue/green Server group needs them,
/// and ECS groups provision no green fleet (their replacement is a task set).
fn blue_green(spec: &GroupSpec, platform: ComputePlatform) -> Result<(), ApiError> {
    let invalid = |msg: &str| {
        Err(ApiError::new(
            Exception::InvalidBlueGreenDeploymentConfiguration,
            msg.to_owned(),
        ))
    };
    let config = spec.blue_green_deployment_configuration;
    match platform {
        ComputePlatform::Lambda if config.is_some() => invalid(
            "a Lambda deployment group takes no blue_green_deployment_configuration; its deployment configuration shifts the traffic",
        ),
        ComputePlatform::Ecs
            if config.is_some_and(|c| c.green_fleet_provisioning_option.is_some()) =>
        {
            invalid(
                "an ECS deployment group provisions no green fleet; leave green_fleet_provisioning_option out",
            )
        }
        ComputePlatform::Server
            if spec.deployment_style.deployment_type == DeploymentType::BlueGreen
                && config.is_none() =>
        {
            invalid(
                "a blue/green Server deployment group needs blue_green_deployment_configuration",
            )
        }
        _ => Ok(()),
    }
}

/// An ECS group targets exactly one ECS service; other groups target none.
fn ecs_services(spec: &GroupSpec, platform: ComputePlatform) -> Result<(), ApiError> {
    let invalid = |msg: String| Err(ApiError::new(Exception::InvalidECSService, msg));
    match (platform, spec.ecs_services.len()) {
        (ComputePlatform::Ecs, 1) => Ok(()),
        (ComputePlatform::Ecs, 0) => {
            invalid("an ECS deployment group needs its ECS service in ecs_services".into())
        }
        (ComputePlatform::Ecs, n) => invalid(format!(
            "{n} ECS services given; an ECS deployment group targets exactly one"
        )),
        (_, 0) => Ok(()),
        (_, _) => invalid(format!(
            "ecs_services are for ECS deployment groups; this is a {} deployment group",
            platform_name(platform)
        )),
    }
}
