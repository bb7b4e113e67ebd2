//! A CreateDeploymentGroup request into a new [`GroupSpec`], and an UpdateDeploymentGroup
//! request onto a stored one: what is absent stays as it is, a present value or list (even an
//! empty one) replaces it. Either way the result is checked whole by `validate::check`.

use ferry_proto::common::v1::{ComputePlatform, TagFilterGroup};
use ferry_proto::registry::v1::{self as pb, OutdatedInstancesStrategy};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{GroupSpec, TagFilter};
use super::parse::{self, Tags};
use super::traffic;
use super::validate;

pub fn create_spec(
    req: &pb::CreateDeploymentGroupRequest,
    platform: ComputePlatform,
) -> Result<GroupSpec, ApiError> {
    let spec = GroupSpec {
        service_role_arn: parse::service_role(&req.service_role_arn)?,
        ec2_tag_filters: parse::tag_filters(&req.ec2_tag_filters, Tags::Ec2)?,
        ec2_tag_set: tag_set(
            req.ec2_tag_set.as_ref().map(|s| &s.ec2_tag_set_list[..]),
            Tags::Ec2,
        )?,
        on_premises_instance_tag_filters: parse::tag_filters(
            &req.on_premises_instance_tag_filters,
            Tags::OnPremises,
        )?,
        on_premises_tag_set: tag_set(
            req.on_premises_tag_set
                .as_ref()
                .map(|s| &s.on_premises_tag_set_list[..]),
            Tags::OnPremises,
        )?,
        auto_scaling_groups: parse::auto_scaling_groups(&req.auto_scaling_groups)?,
        trigger_configurations: parse::triggers(&req.trigger_configurations)?,
        alarm_configuration: req
            .alarm_configuration
            .as_ref()
            .map(parse::alarms)
            .transpose()?
            .unwrap_or_default(),
        auto_rollback_configuration: req
            .auto_rollback_configuration
            .as_ref()
            .map(parse::auto_rollback)
            .transpose()?
            .unwrap_or_default(),
        deployment_style: traffic::deployment_style(req.deployment_style.as_ref(), platform)?,
        outdated_instances_strategy: parse::outdated_instances_strategy(
            req.outdated_instances_strategy,
        )?
        .unwrap_or(OutdatedInstancesStrategy::Update),
        blue_green_deployment_configuration: match &req.blue_green_deployment_configuration {
            Some(config) => traffic::blue_green(config)?,
            None => None,
        },
        load_balancer_info: match &req.load_balancer_info {
            Some(info) => traffic::load_balancer(info)?,
            None => None,
        },
        ecs_services: traffic::ecs_services(&req.ecs_services)?,
        termination_hook_enabled: req.termination_hook_enabled.unwrap_or(false),
    };
    validate::check(&spec, platform)?;
    Ok(spec)
}

fn tag_set(groups: Option<&[TagFilterGroup]>, tags: Tags) -> Result<Vec<Vec<TagFilter>>, ApiError> {
    groups
        .map(|groups| parse::tag_set(groups, tags))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Applies the present fields of an update to `spec`. The service role can be replaced, not
/// removed.
pub fn apply_update(
    spec: &mut GroupSpec,
    req: &pb::UpdateDeploymentGroupRequest,
    platform: ComputePlatform,
) -> Result<(), ApiError> {
    if let Some(arn) = &req.service_role_arn {
        if arn.is_empty() {
            // UpdateDeploymentGroup has no RoleRequired in CodeDeploy: an empty role is malformed.
            return Err(ApiError::new(
                Exception::InvalidRole,
                "service_role_arn cannot be removed; give a role ARN or leave the field out",
            ));
        }
        spec.service_role_arn = parse::service_role(arn)?;
    }
    if let Some(list) = &req.ec2_tag_filters {
        spec.ec2_tag_filters = parse::tag_filters(&list.items, Tags::Ec2)?;
    }
    if let Some(set) = &req.ec2_tag_set {
        spec.ec2_tag_set = parse::tag_set(&set.ec2_tag_set_list, Tags::Ec2)?;
    }
    if let Some(list) = &req.on_premises_instance_tag_filters {
        spec.on_premises_instance_tag_filters = parse::tag_filters(&list.items, Tags::OnPremises)?;
    }
    if let Some(set) = &req.on_premises_tag_set {
        spec.on_premises_tag_set = parse::tag_set(&set.on_premises_tag_set_list, Tags::OnPremises)?;
    }
    if let Some(list) = &req.auto_scaling_groups {
        spec.auto_scaling_groups = parse::auto_scaling_groups(&list.items)?;
    }
    if let Some(list) = &req.trigger_configurations {
        spec.trigger_configurations = parse::triggers(&list.items)?;
    }
    if let Some(alarms) = &req.alarm_configuration {
        spec.alarm_configuration = parse::alarms(alarms)?;
    }
    if let Some(rollback) = &req.auto_rollback_configuration {
        spec.auto_rollback_configuration = parse::auto_rollback(rollback)?;
    }
    if let Some(strategy) = parse::outdated_instances_strategy(req.outdated_instances_strategy)? {
        spec.outdated_instances_strategy = strategy;
    }
    if let Some(style) = &req.deployment_style {
        spec.deployment_style = traffic::deployment_style(Some(style), platform)?;
    }
    if let Some(config) = &req.blue_green_deployment_configuration {
        spec.blue_green_deployment_configuration = traffic::blue_green(config)?;
    }
    if let Some(info) = &req.load_balancer_info {
        spec.load_balancer_info = traffic::load_balancer(info)?;
    }
    if let Some(list) = &req.ecs_services {
        spec.ecs_services = traffic::ecs_services(&list.items)?;
    }
    if let Some(enabled) = req.termination_hook_enabled {
        spec.termination_hook_enabled = enabled;
    }
    validate::check(spec, platform)
}
