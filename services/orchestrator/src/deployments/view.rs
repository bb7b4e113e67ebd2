//! Rows → `ferry.deploy.v1` messages: a deployment's DeploymentInfo (with the overview counted
//! from its targets) and a target's InstanceTarget. The read operations and anything else that
//! answers with these messages convert here, in one place.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_proto::common::v1::{
    ComputePlatform, DeploymentStatus, Diagnostics, FileExistsBehavior, LifecycleEventStatus,
};
use ferry_proto::deploy::v1::{
    DeploymentCreator, DeploymentInfo, DeploymentOverview, ErrorCode, ErrorInformation,
    InstanceTarget, LifecycleEvent, RollbackInfo, TargetLabel, TargetStatus,
};
use ferry_proto::registry::v1::{DeploymentOption, DeploymentStyle, DeploymentType};
use ferry_proto::revision_json;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::store::entities::{deployment, deployment_target, lifecycle_event};

use super::stored::{self, StoredDiagnostics, value};

/// A time column (microseconds since the epoch) as a protobuf Timestamp (or any type made
/// from a `SystemTime`).
pub fn time<T: From<SystemTime>>(micros: i64) -> T {
    let offset = Duration::from_micros(micros.unsigned_abs());
    let at = if micros >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    T::from(at.unwrap_or(UNIX_EPOCH))
}

/// A stored revision location; a row that does not parse (never written by ferry) is logged
/// and answered without it rather than failing the whole read.
fn revision(
    deployment_id: &str,
    column: &str,
    json: &str,
) -> Option<ferry_proto::common::v1::RevisionLocation> {
    match revision_json::from_json(json) {
        Ok(location) => Some(location),
        Err(error) => {
            tracing::warn!(deployment_id, column, %error, "stored revision does not parse");
            None
        }
    }
}

/// The deployment's DeploymentInfo, as CodeDeploy's GetDeployment answers it. ferry deploys
/// in place to the Server platform only, so the blue/green members, target_instances and
/// related_deployments stay unset; external_id is never set.
pub fn deployment_info(row: &deployment::Model, overview: DeploymentOverview) -> DeploymentInfo {
    let error_information =
        (row.error_code.is_some() || row.error_message.is_some()).then(|| ErrorInformation {
            code: row.error_code.as_deref().map_or(0, value::<ErrorCode>),
            message: row.error_message.clone().unwrap_or_default(),
        });
    let rollback_info = (row.rollback_deployment_id.is_some()
        || row.rollback_triggering_deployment_id.is_some()
        || row.rollback_message.is_some())
    .then(|| RollbackInfo {
        rollback_deployment_id: row.rollback_deployment_id.clone().unwrap_or_default(),
        rollback_triggering_deployment_id: row
            .rollback_triggering_deployment_id
            .clone()
            .unwrap_or_default(),
        rollback_message: row.rollback_message.clone().unwrap_or_default(),
    });
    let option = if row.traffic_control == Some(true) {
        DeploymentOption::WithTrafficControl
    } else {
        DeploymentOption::WithoutTrafficControl
    };
    DeploymentInfo {
        application_name: row.application_name.clone(),
        deployment_group_name: row.deployment_group_name.clone(),
        deployment_config_name: row.deployment_config_name.clone(),
        deployment_id: row.id.clone(),
        previous_revision: row
            .previous_revision
            .as_deref()
            .and_then(|json| revision(&row.id, "previous_revision", json)),
        revision: revision(&row.id, "revision", &row.revision),
        status: value::<DeploymentStatus>(&row.status),
        error_information,
        create_time: Some(time(row.create_time)),
        start_time: row.start_time.map(time),
        complete_time: row.complete_time.map(time),
        deployment_overview: Some(overview),
        description: row.description.clone(),
        creator: value::<DeploymentCreator>(&row.creator),
        ignore_application_stop_failures: row.ignore_application_stop_failures,
        auto_rollback_configuration: stored::auto_rollback(
            row.auto_rollback_configuration.as_deref(),
        ),
        update_outdated_instances_only: row.update_outdated_instances_only,
        rollback_info,
        deployment_style: Some(DeploymentStyle {
            deployment_type: DeploymentType::InPlace as i32,
            deployment_option: option as i32,
        }),
        target_instances: None,
        instance_termination_wait_time_started: false,
        blue_green_deployment_configuration: None,
        load_balancer_info: None,
        file_exists_behavior: value::<FileExistsBehavior>(&row.file_exists_behavior),
        deployment_status_messages: stored::status_messages(&row.status_messages),
        compute_platform: ComputePlatform::Server as i32,
        external_id: String::new(),
        related_deployments: None,
        override_alarm_configuration: stored::alarms(row.override_alarm_configuration.as_deref()),
    }
}

/// Adds `count` targets in `status` (a TargetStatus name) to the overview. Unknown has no
/// member in CodeDeploy's DeploymentOverview and is left out.
fn count(overview: &mut DeploymentOverview, status: &str, count: i64) {
    let slot = match TargetStatus::try_from(value::<TargetStatus>(status)) {
        Ok(TargetStatus::Pending) => &mut overview.pending,
        Ok(TargetStatus::InProgress) => &mut overview.in_progress,
        Ok(TargetStatus::Succeeded) => &mut overview.succeeded,
        Ok(TargetStatus::Failed) => &mut overview.failed,
        Ok(TargetStatus::Skipped) => &mut overview.skipped,
        Ok(TargetStatus::Ready) => &mut overview.ready,
        _ => return,
    };
    *slot += count;
}

/// The overview of each of `ids`, counted in one grouped query. Every id is in the map; a
/// deployment without targets (or an id that does not exist) has an all-zero overview.
pub async fn overviews<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, DeploymentOverview>, DbErr> {
    let mut overviews: HashMap<String, DeploymentOverview> = ids
        .iter()
        .map(|id| (id.clone(), DeploymentOverview::default()))
        .collect();
    if ids.is_empty() {
        return Ok(overviews);
    }
    let counts: Vec<(String, String, i64)> = deployment_target::Entity::find()
        .select_only()
        .column(deployment_target::Column::DeploymentId)
        .column(deployment_target::Column::Status)
        .column_as(
            Expr::col(deployment_target::Column::TargetId).count(),
            "count",
        )
        .filter(deployment_target::Column::DeploymentId.is_in(ids.iter().cloned()))
        .group_by(deployment_target::Column::DeploymentId)
        .group_by(deployment_target::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    for (id, status, n) in counts {
        count(overviews.entry(id).or_default(), &status, n);
    }
    Ok(overviews)
}

/// One lifecycle event of a target.
fn lifecycle_event(event: lifecycle_event::Model) -> LifecycleEvent {
    LifecycleEvent {
        diagnostics: StoredDiagnostics::from_json(event.diagnostics.as_deref())
            .map(|d| Diagnostics::from(&d)),
        start_time: event.start_time.map(time),
        end_time: event.end_time.map(time),
        status: value::<LifecycleEventStatus>(&event.status),
        lifecycle_event_name: event.name,
    }
}

/// The target's InstanceTarget with `events` (those of this target, in any order) in the
/// order they run.
pub fn instance_target(
    target: &deployment_target::Model,
    mut events: Vec<lifecycle_event::Model>,
) -> InstanceTarget {
    events.sort_by_key(|e| e.ordinal);
    InstanceTarget {
        deployment_id: target.deployment_id.clone(),
        target_id: target.target_id.clone(),
        target_arn: target.target_arn.clone(),
        status: value::<TargetStatus>(&target.status),
        last_updated_at: Some(time(target.last_updated_at)),
        lifecycle_events: events.into_iter().map(lifecycle_event).collect(),
        instance_label: target
            .instance_label
            .as_deref()
            .map_or(0, value::<TargetLabel>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_microseconds_since_the_epoch() {
        let at: SystemTime = time(1_500_000);
        assert_eq!(at, UNIX_EPOCH + Duration::from_millis(1500));
        let before: SystemTime = time(-2);
        assert_eq!(before, UNIX_EPOCH - Duration::from_micros(2));
    }

    #[test]
    fn unknown_targets_are_not_counted() {
        let mut overview = DeploymentOverview::default();
        count(&mut overview, "InProgress", 2);
        count(&mut overview, "Ready", 1);
        count(&mut overview, "Unknown", 5);
        count(&mut overview, "nonsense", 5);
        assert_eq!(
            overview,
            DeploymentOverview {
                in_progress: 2,
                ready: 1,
                ..Default::default()
            }
        );
    }
}
