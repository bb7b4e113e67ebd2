//! Row-level helpers of the deployment group operations: lookups (with the locks that writes
//! need), the check that an ECS service belongs to one group, and a stored group on the wire.

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1 as pb;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Select,
};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{self, GroupSpec};
use super::revision::{self, LastDeployment, Revision};
use crate::convert::{platform_from_name, platform_name};
use crate::store::entities::{application, deployment_group};
use crate::store::internal;

/// The PostgreSQL advisory lock that serializes checks of which group an ECS service
/// belongs to (the services live in the spec JSON, where no unique index reaches).
const ECS_SERVICES_LOCK: i64 = 0x6665_7272_7901;

pub fn does_not_exist(application: &str, group: &str) -> ApiError {
    ApiError::new(
        Exception::DeploymentGroupDoesNotExist,
        format!("deployment group {group:?} of application {application:?} does not exist"),
    )
}

pub fn already_exists(application: &str, group: &str) -> ApiError {
    ApiError::new(
        Exception::DeploymentGroupAlreadyExists,
        format!("deployment group {group:?} of application {application:?} already exists"),
    )
}

pub fn group_query(application_id: &str, name: &str) -> Select<deployment_group::Entity> {
    deployment_group::Entity::find()
        .filter(deployment_group::Column::ApplicationId.eq(application_id))
        .filter(deployment_group::Column::Name.eq(name))
}

/// The application a write names, held FOR SHARE on PostgreSQL until the transaction ends, so
/// that it is not deleted under a group being written.
pub async fn application_held(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<application::Model, ApiError> {
    application::Entity::find()
        .filter(application::Column::Name.eq(name))
        .lock_shared()
        .one(conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                Exception::ApplicationDoesNotExist,
                format!("application {name:?} does not exist"),
            )
        })
}

/// An ECS service belongs to one deployment group at most (ECSServiceMappingLimitExceeded).
pub async fn check_ecs_services_free(
    conn: &impl ConnectionTrait,
    spec: &GroupSpec,
    own_id: Option<&str>,
) -> Result<(), ApiError> {
    if spec.ecs_services.is_empty() {
        return Ok(());
    }
    if conn.get_database_backend() == DbBackend::Postgres {
        // Held to the end of the transaction; SQLite's write transaction serializes anyway.
        conn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({ECS_SERVICES_LOCK})"
        ))
        .await
        .map_err(internal)?;
    }
    let others: Vec<(String, String, String)> = deployment_group::Entity::find()
        .select_only()
        .columns([
            deployment_group::Column::Id,
            deployment_group::Column::Name,
            deployment_group::Column::Spec,
        ])
        .filter(deployment_group::Column::ComputePlatform.eq(platform_name(ComputePlatform::Ecs)))
        .into_tuple()
        .all(conn)
        .await
        .map_err(internal)?;
    for (id, name, other) in others {
        if own_id == Some(id.as_str()) {
            continue;
        }
        let other = GroupSpec::from_json(&other)?;
        if let Some(taken) = spec
            .ecs_services
            .iter()
            .find(|s| other.ecs_services.contains(s))
        {
            return Err(ApiError::new(
                Exception::ECSServiceMappingLimitExceeded,
                format!(
                    "ECS service {:?} of cluster {:?} already belongs to deployment group {name:?}; an ECS service belongs to one deployment group",
                    taken.service_name, taken.cluster_name
                ),
            ));
        }
    }
    Ok(())
}

/// A stored group on the wire (CodeDeploy's DeploymentGroupInfo).
pub fn info(
    application_name: &str,
    row: deployment_group::Model,
) -> Result<pb::DeploymentGroupInfo, ApiError> {
    let mut info = pb::DeploymentGroupInfo {
        application_name: application_name.to_owned(),
        deployment_group_id: row.id,
        deployment_group_name: row.name,
        deployment_config_name: row.deployment_config_name,
        target_revision: revision::read::<Revision, _>(row.target_revision.as_deref())?,
        last_successful_deployment: revision::read::<LastDeployment, _>(
            row.last_successful_deployment.as_deref(),
        )?,
        last_attempted_deployment: revision::read::<LastDeployment, _>(
            row.last_attempted_deployment.as_deref(),
        )?,
        compute_platform: platform_from_name(&row.compute_platform) as i32,
        ..Default::default()
    };
    model::fill_info(GroupSpec::from_json(&row.spec)?, &mut info);
    Ok(info)
}
