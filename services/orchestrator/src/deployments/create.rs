//! CreateDeployment: check the request, take the group's settings and instances from the
//! registry and the revision from the revisions service, then store the deployment with its
//! targets in one transaction and start its task. The unique index on `active_group_id` makes
//! a second active deployment of a group impossible, however close two requests arrive.

use std::collections::{BTreeMap, HashMap};

use ferry_proto::common::v1::{
    ComputePlatform, DeploymentStatus, FileExistsBehavior, Tag, TagFilter, TagFilterType,
};
use ferry_proto::deploy::v1::{CreateDeploymentRequest, DeploymentCreator, TargetStatus};
use ferry_proto::registry::v1::{
    DeploymentGroupInfo, DeploymentOption, DeploymentType, GetDeploymentConfigRequest,
    GetDeploymentGroupRequest, InstanceInfo, ListDeploymentGroupInstancesRequest,
};
use ferry_proto::revision::v1::{ResolveRevisionRequest, ResolveRevisionResponse};
use ferry_runtime::error::{ApiError, Exception};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use tonic::Status;

use crate::store::entities::{deployment, deployment_target};
use crate::store::{is_unique_violation, now_micros};

use super::context::Context;
use super::lifecycle;
use super::outbox::Outbox;
use super::rows::{self, NewTarget};
use super::stored::{self, name};

/// CodeDeploy's limit on a deployment's description.
const MAX_DESCRIPTION: usize = 1024;

fn required(exception: Exception, what: &str) -> Status {
    ApiError::new(exception, format!("{what} is required")).into()
}

/// A call to another ferry service failed: its CodeDeploy errors are the caller's to see;
/// anything else means that service is unavailable now.
fn upstream(service: &str, status: Status) -> Status {
    match status.code() {
        tonic::Code::Internal
        | tonic::Code::Unknown
        | tonic::Code::Unavailable
        | tonic::Code::DeadlineExceeded
        | tonic::Code::Cancelled => {
            tracing::warn!(service, %status, "call to another ferry service failed");
            Status::unavailable(format!(
                "the {service} service is unavailable now; try again"
            ))
        }
        _ => status,
    }
}

pub async fn create(ctx: &Context, request: CreateDeploymentRequest) -> Result<String, Status> {
    if request.application_name.is_empty() {
        return Err(required(
            Exception::ApplicationNameRequired,
            "application_name",
        ));
    }
    if request.deployment_group_name.is_empty() {
        return Err(required(
            Exception::DeploymentGroupNameRequired,
            "deployment_group_name",
        ));
    }
    let Some(revision) = request.revision.clone() else {
        return Err(required(Exception::RevisionRequired, "revision"));
    };
    if request.description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::new(
            Exception::DescriptionTooLong,
            format!("description is longer than {MAX_DESCRIPTION} characters"),
        )
        .into());
    }
    if FileExistsBehavior::try_from(request.file_exists_behavior).is_err() {
        return Err(ApiError::new(
            Exception::InvalidFileExistsBehavior,
            "file_exists_behavior is not DISALLOW, OVERWRITE or RETAIN",
        )
        .into());
    }
    if let Some(alarms) = &request.override_alarm_configuration
        && alarms.alarms.len() > 10
    {
        return Err(ApiError::new(
            Exception::InvalidAlarmConfig,
            "override_alarm_configuration lists more than 10 alarms",
        )
        .into());
    }

    let group = ctx
        .registry
        .clone()
        .get_deployment_group(GetDeploymentGroupRequest {
            application_name: request.application_name.clone(),
            deployment_group_name: request.deployment_group_name.clone(),
        })
        .await
        .map_err(|s| upstream("registry", s))?
        .into_inner()
        .deployment_group_info
        .unwrap_or_default();
    check_group(&group)?;
    let config_name = if request.deployment_config_name.is_empty() {
        group.deployment_config_name.clone()
    } else {
        request.deployment_config_name.clone()
    };
    let config = ctx
        .registry
        .clone()
        .get_deployment_config(GetDeploymentConfigRequest {
            deployment_config_name: config_name.clone(),
        })
        .await
        .map_err(|s| upstream("registry", s))?
        .into_inner()
        .deployment_config_info
        .unwrap_or_default();
    if config.compute_platform != ComputePlatform::Server as i32 {
        return Err(ApiError::new(
            Exception::InvalidDeploymentConfigName,
            format!("deployment configuration {config_name} is not for the Server platform"),
        )
        .into());
    }
    let resolved = ctx
        .revisions
        .clone()
        .resolve_revision(ResolveRevisionRequest {
            application_name: request.application_name.clone(),
            revision: Some(revision.clone()),
        })
        .await
        .map_err(|s| upstream("revisions", s))?
        .into_inner();
    let instances = ctx
        .registry
        .clone()
        .list_deployment_group_instances(ListDeploymentGroupInstancesRequest {
            application_name: request.application_name.clone(),
            deployment_group_name: request.deployment_group_name.clone(),
        })
        .await
        .map_err(|s| upstream("registry", s))?
        .into_inner()
        .instances;
    let mut targets = select_targets(instances, &request)?;
    if request.update_outdated_instances_only {
        targets = outdated_only(ctx, &group.deployment_group_id, &resolved.sha256, targets)
            .await
            .map_err(|e| Status::from(crate::store::internal(e)))?;
    }

    let id = rows::new_deployment_id();
    let mut row = new_row(&id, &request, &group, &config_name, &config, &resolved, ctx).await?;
    // The deployment's trace: this call's, so the registry and revisions calls above, the
    // deployment's task and its agents' work are one trace.
    row.trace_context =
        Some(ferry_runtime::telemetry::current_trace_context()).filter(|t| !t.is_empty());
    let traffic = row.traffic_control.unwrap_or(false);
    let txn = ctx
        .pools
        .write
        .begin()
        .await
        .map_err(|e| Status::from(crate::store::internal(e)))?;
    let mut out = Outbox::default();
    let inserted = rows::insert(&txn, &mut out, row, &targets, lifecycle::events(traffic)).await;
    let inserted = match inserted {
        Ok(()) => out.flush(&txn).await,
        Err(error) => Err(error),
    };
    match inserted {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => {
            drop(txn);
            return Err(limit_exceeded(ctx, &group).await);
        }
        Err(error) => return Err(crate::store::internal(error).into()),
    }
    txn.commit()
        .await
        .map_err(|e| Status::from(crate::store::internal(e)))?;
    out.start(&id);
    out.deliver(ctx);
    tracing::info!(deployment_id = %id, targets = targets.len(), "deployment created");
    Ok(id)
}

/// What ferry cannot deploy yet: blue/green, and Lambda and ECS groups.
fn check_group(group: &DeploymentGroupInfo) -> Result<(), Status> {
    if group.compute_platform != ComputePlatform::Server as i32
        && group.compute_platform != ComputePlatform::Unspecified as i32
    {
        return Err(ApiError::new(
            Exception::InvalidComputePlatform,
            "deployments to Lambda and ECS groups are not supported yet",
        )
        .into());
    }
    if group
        .deployment_style
        .as_ref()
        .is_some_and(|s| s.deployment_type == DeploymentType::BlueGreen as i32)
    {
        return Err(ApiError::new(
            Exception::UnsupportedActionForDeploymentType,
            "blue/green deployments are not supported yet; use an IN_PLACE group",
        )
        .into());
    }
    Ok(())
}

async fn limit_exceeded(ctx: &Context, group: &DeploymentGroupInfo) -> Status {
    let active: Option<String> = deployment::Entity::find()
        .select_only()
        .column(deployment::Column::Id)
        .filter(deployment::Column::ActiveGroupId.eq(group.deployment_group_id.as_str()))
        .into_tuple()
        .one(&ctx.pools.read)
        .await
        .ok()
        .flatten();
    let which = active.map_or_else(String::new, |id| format!(" ({id})"));
    ApiError::new(
        Exception::DeploymentLimitExceeded,
        format!(
            "deployment group {} already has an active deployment{which}; wait for it to end \
             or stop it",
            group.deployment_group_name
        ),
    )
    .into()
}

fn tag_matches(filter: &TagFilter, tag: &Tag) -> bool {
    match TagFilterType::try_from(filter.r#type).unwrap_or(TagFilterType::KeyAndValue) {
        TagFilterType::KeyOnly => tag.key == filter.key,
        TagFilterType::ValueOnly => tag.value == filter.value,
        _ => tag.key == filter.key && tag.value == filter.value,
    }
}

fn any_matches(filters: &[TagFilter], tags: &[Tag]) -> bool {
    filters
        .iter()
        .any(|f| tags.iter().any(|t| tag_matches(f, t)))
}

/// The group's instances, narrowed by the deployment's target_instances when given (its tag
/// filters match any one; its tag set needs one of every group), in name order.
fn select_targets(
    mut instances: Vec<InstanceInfo>,
    request: &CreateDeploymentRequest,
) -> Result<Vec<NewTarget>, Status> {
    if let Some(chosen) = &request.target_instances {
        let invalid = |message: &str| -> Status {
            ApiError::new(Exception::InvalidTargetInstances, message).into()
        };
        if !chosen.auto_scaling_groups.is_empty() {
            return Err(invalid("ferry has no Auto Scaling groups; use tag filters"));
        }
        let set = chosen
            .ec2_tag_set
            .as_ref()
            .map(|s| s.ec2_tag_set_list.as_slice())
            .unwrap_or_default();
        if !chosen.tag_filters.is_empty() && !set.is_empty() {
            return Err(invalid("give tag_filters or ec2_tag_set, not both"));
        }
        if !chosen.tag_filters.is_empty() {
            instances.retain(|i| any_matches(&chosen.tag_filters, &i.tags));
        } else if !set.is_empty() {
            instances.retain(|i| set.iter().all(|g| any_matches(&g.filters, &i.tags)));
        }
    }
    instances.sort_by(|a, b| a.instance_name.cmp(&b.instance_name));
    Ok(instances
        .into_iter()
        .map(|i| NewTarget {
            id: i.instance_name,
            arn: i.instance_arn,
        })
        .collect())
}

/// Leaves out instances whose last successful deployment in the group installed this bundle.
async fn outdated_only(
    ctx: &Context,
    group_id: &str,
    sha256: &str,
    targets: Vec<NewTarget>,
) -> Result<Vec<NewTarget>, sea_orm::DbErr> {
    let deployments: HashMap<String, (Option<String>, i64)> = deployment::Entity::find()
        .select_only()
        .column(deployment::Column::Id)
        .column(deployment::Column::RevisionSha256)
        .column(deployment::Column::CreateTime)
        .filter(deployment::Column::DeploymentGroupId.eq(group_id))
        .into_tuple::<(String, Option<String>, i64)>()
        .all(&ctx.pools.read)
        .await?
        .into_iter()
        .map(|(id, sha, time)| (id, (sha, time)))
        .collect();
    let succeeded: Vec<(String, String)> = deployment_target::Entity::find()
        .select_only()
        .column(deployment_target::Column::DeploymentId)
        .column(deployment_target::Column::TargetId)
        .filter(deployment_target::Column::DeploymentId.is_in(deployments.keys().cloned()))
        .filter(deployment_target::Column::Status.eq(name(TargetStatus::Succeeded)))
        .into_tuple()
        .all(&ctx.pools.read)
        .await?;
    // Per instance: the sha256 of its newest successful deployment.
    let mut current: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    for (deployment_id, target_id) in succeeded {
        if let Some((sha, time)) = deployments.get(&deployment_id) {
            let entry = current.entry(target_id).or_insert((i64::MIN, None));
            if *time > entry.0 {
                *entry = (*time, sha.clone());
            }
        }
    }
    Ok(targets
        .into_iter()
        .filter(|t| {
            current
                .get(&t.id)
                .and_then(|(_, sha)| sha.as_deref())
                .is_none_or(|sha| sha != sha256)
        })
        .collect())
}

/// The sum of each lifecycle event's hook timeouts, from the resolved AppSpec.
fn event_timeouts(resolved: &ResolveRevisionResponse) -> BTreeMap<String, u64> {
    resolved
        .app_spec
        .as_ref()
        .map(|spec| {
            spec.hooks
                .iter()
                .map(|event| {
                    let total = event
                        .hooks
                        .iter()
                        .map(|h| u64::from(h.timeout_seconds))
                        .sum();
                    (event.lifecycle_event.clone(), total)
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn new_row(
    id: &str,
    request: &CreateDeploymentRequest,
    group: &DeploymentGroupInfo,
    config_name: &str,
    config: &ferry_proto::registry::v1::DeploymentConfigInfo,
    resolved: &ResolveRevisionResponse,
    ctx: &Context,
) -> Result<deployment::Model, Status> {
    let revision = request.revision.clone().unwrap_or_default();
    let previous = deployment::Entity::find()
        .filter(deployment::Column::DeploymentGroupId.eq(group.deployment_group_id.as_str()))
        .filter(deployment::Column::Status.eq(name(DeploymentStatus::Succeeded)))
        .order_by_desc(deployment::Column::CompleteTime)
        .one(&ctx.pools.read)
        .await
        .map_err(|e| Status::from(crate::store::internal(e)))?;
    let auto_rollback = request
        .auto_rollback_configuration
        .as_ref()
        .or(group.auto_rollback_configuration.as_ref());
    let traffic_control = group
        .deployment_style
        .as_ref()
        .is_some_and(|s| s.deployment_option == DeploymentOption::WithTrafficControl as i32);
    let file_exists = FileExistsBehavior::try_from(request.file_exists_behavior)
        .ok()
        .filter(|b| *b != FileExistsBehavior::Unspecified)
        .unwrap_or(FileExistsBehavior::Disallow);
    let health_rule = config.minimum_healthy_hosts.unwrap_or_default();
    Ok(deployment::Model {
        id: id.to_owned(),
        application_name: request.application_name.clone(),
        deployment_group_name: request.deployment_group_name.clone(),
        deployment_group_id: group.deployment_group_id.clone(),
        active_group_id: Some(group.deployment_group_id.clone()),
        deployment_config_name: config_name.to_owned(),
        health_rule: stored::health_rule_json(&health_rule),
        revision: ferry_proto::revision_json::to_json(&revision),
        revision_sha256: Some(resolved.sha256.clone()),
        revision_size: i64::try_from(resolved.size).ok(),
        bundle_type: Some(ferry_proto::revision_json::bundle_name(resolved.bundle_type).to_owned()),
        app_spec_file_name: None,
        previous_revision: previous.map(|p| p.revision),
        status: name(DeploymentStatus::Created),
        error_code: None,
        error_message: None,
        creator: name(DeploymentCreator::User),
        description: request.description.clone(),
        ignore_application_stop_failures: request.ignore_application_stop_failures,
        update_outdated_instances_only: request.update_outdated_instances_only,
        file_exists_behavior: name(file_exists),
        auto_rollback_configuration: auto_rollback.map(stored::auto_rollback_json),
        override_alarm_configuration: request
            .override_alarm_configuration
            .as_ref()
            .map(stored::alarms_json),
        rollback_deployment_id: None,
        rollback_triggering_deployment_id: None,
        rollback_message: None,
        status_messages: stored::status_messages_json(&[]),
        create_time: now_micros(),
        start_time: None,
        complete_time: None,
        event_timeouts: Some(stored::event_timeouts_json(&event_timeouts(resolved))),
        trigger_configurations: Some(stored::triggers_json(&group.trigger_configurations)),
        trace_context: None,
        traffic_control: Some(traffic_control),
    })
}
