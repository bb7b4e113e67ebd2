//! Deployment configurations: CreateDeploymentConfig, GetDeploymentConfig,
//! ListDeploymentConfigs and DeleteDeploymentConfig. The predefined `CodeDeployDefault.*`
//! configurations are seeded at start-up and are read-only.

mod model;
pub(crate) mod predefined;
mod validate;

#[cfg(test)]
mod tests;

use chrono::Utc;
use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1 as pb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use ferry_runtime::error::{ApiError, Exception};

use crate::Registry;
use crate::convert::{compute_platform, new_id, platform_name};
use crate::names::{self, NameKind};
use crate::resource_tags::{self, Kind};
use crate::store::entities::{deployment_config, deployment_group};
use crate::store::{begin_write, internal, is_unique_violation};
use ferry_runtime::pagination;

fn does_not_exist(name: &str) -> ApiError {
    ApiError::new(
        Exception::DeploymentConfigDoesNotExist,
        format!("deployment configuration {name:?} does not exist"),
    )
}

/// Inserts the predefined configurations that are missing. Safe to run on every start and
/// on several replicas at once: ids derive from the names, and a row another replica inserted
/// first (a unique violation here) is as good as ours.
pub async fn seed_predefined(db: &DatabaseConnection) -> Result<(), ApiError> {
    let present: Vec<String> = deployment_config::Entity::find()
        .select_only()
        .column(deployment_config::Column::Name)
        .filter(deployment_config::Column::Predefined.eq(true))
        .into_tuple()
        .all(db)
        .await
        .map_err(internal)?;
    let now = Utc::now();
    for config in predefined::all()
        .into_iter()
        .filter(|p| !present.iter().any(|name| name == p.name))
    {
        let row = deployment_config::ActiveModel {
            id: Set(config.id()),
            name: Set(config.name.to_owned()),
            compute_platform: Set(platform_name(config.platform).to_owned()),
            predefined: Set(true),
            spec: Set(config.spec.to_json()?),
            create_time: Set(now),
        };
        match row.insert(db).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(internal(e)),
        }
    }
    Ok(())
}

/// The configuration a deployment group names, checked and held for the group's write
/// transaction: it must exist and be for the group's compute platform. On PostgreSQL the row
/// is locked FOR SHARE, so a concurrent DeleteDeploymentConfig (which locks it FOR UPDATE
/// before its in-use check) either sees the group once it commits, or deletes first and this
/// lookup then finds nothing. On SQLite the IMMEDIATE write transaction serializes the two.
pub(crate) async fn hold_for_group(
    conn: &impl ConnectionTrait,
    name: &str,
    platform: ComputePlatform,
) -> Result<(), ApiError> {
    names::check(NameKind::DeploymentConfig, name)?;
    let row = deployment_config::Entity::find()
        .filter(deployment_config::Column::Name.eq(name))
        .lock_shared()
        .one(conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| does_not_exist(name))?;
    let wanted = platform_name(platform);
    if row.compute_platform != wanted {
        return Err(ApiError::new(
            Exception::InvalidDeploymentConfigName,
            format!(
                "deployment configuration {name:?} is for the {} compute platform; a {wanted} deployment group needs a {wanted} configuration",
                row.compute_platform
            ),
        ));
    }
    Ok(())
}

impl Registry {
    pub async fn create_deployment_config(
        &self,
        req: pb::CreateDeploymentConfigRequest,
    ) -> Result<pb::CreateDeploymentConfigResponse, ApiError> {
        validate::check_new_name(&req.deployment_config_name)?;
        let platform = compute_platform(req.compute_platform)?;
        let spec = validate::spec(platform, &req)?;
        let row = deployment_config::ActiveModel {
            id: Set(new_id()),
            name: Set(req.deployment_config_name.clone()),
            compute_platform: Set(platform_name(platform).to_owned()),
            predefined: Set(false),
            spec: Set(spec.to_json()?),
            create_time: Set(Utc::now()),
        };
        // One row, one statement: the unique index on the name decides a race between two
        // creators, and the loser is told the name exists.
        let row = row.insert(&self.db).await.map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::new(
                    Exception::DeploymentConfigAlreadyExists,
                    format!(
                        "deployment configuration {:?} already exists",
                        req.deployment_config_name
                    ),
                )
            } else {
                internal(e)
            }
        })?;
        Ok(pb::CreateDeploymentConfigResponse {
            deployment_config_id: row.id,
        })
    }

    pub async fn get_deployment_config(
        &self,
        req: pb::GetDeploymentConfigRequest,
    ) -> Result<pb::GetDeploymentConfigResponse, ApiError> {
        let name = &req.deployment_config_name;
        names::check(NameKind::DeploymentConfig, name)?;
        let row = deployment_config::Entity::find()
            .filter(deployment_config::Column::Name.eq(name))
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| does_not_exist(name))?;
        Ok(pb::GetDeploymentConfigResponse {
            deployment_config_info: Some(model::info(row)?),
        })
    }

    /// Predefined and custom configurations together, by name.
    pub async fn list_deployment_configs(
        &self,
        req: pb::ListDeploymentConfigsRequest,
    ) -> Result<pb::ListDeploymentConfigsResponse, ApiError> {
        const SCOPE: &str = "deployment-configs";
        let size = pagination::page_size(req.page_size)?;
        let after = pagination::decode(SCOPE, &req.next_token)?;
        let mut query = deployment_config::Entity::find()
            .select_only()
            .column(deployment_config::Column::Name)
            .order_by_asc(deployment_config::Column::Name)
            .limit(size as u64 + 1);
        if let Some(after) = after {
            query = query.filter(deployment_config::Column::Name.gt(after));
        }
        let names: Vec<String> = query.into_tuple().all(&self.db).await.map_err(internal)?;
        let (deployment_configs_list, next_token) =
            pagination::finish(SCOPE, names, size, Clone::clone);
        Ok(pb::ListDeploymentConfigsResponse {
            deployment_configs_list,
            next_token,
        })
    }

    /// Deletes a custom configuration and its tags. Predefined configurations cannot be
    /// deleted, nor one that a deployment group uses. Deleting a configuration that does not
    /// exist succeeds: the model gives DeleteDeploymentConfig no "does not exist" error.
    pub async fn delete_deployment_config(
        &self,
        req: pb::DeleteDeploymentConfigRequest,
    ) -> Result<pb::DeleteDeploymentConfigResponse, ApiError> {
        let name = &req.deployment_config_name;
        names::check(NameKind::DeploymentConfig, name)?;
        if predefined::is_predefined(name) {
            return Err(predefined_is_read_only(name));
        }
        let txn = begin_write(&self.writer).await?;
        // Locked before the in-use check; see `hold_for_group` for the other side.
        let Some(row) = deployment_config::Entity::find()
            .filter(deployment_config::Column::Name.eq(name))
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(internal)?
        else {
            return Ok(pb::DeleteDeploymentConfigResponse {});
        };
        if row.predefined {
            return Err(predefined_is_read_only(name));
        }
        let users = deployment_group::Entity::find()
            .filter(deployment_group::Column::DeploymentConfigName.eq(name))
            .count(&txn)
            .await
            .map_err(internal)?;
        if users > 0 {
            return Err(ApiError::new(
                Exception::DeploymentConfigInUse,
                format!(
                    "deployment configuration {name:?} is used by {users} deployment group(s); give them another configuration first"
                ),
            ));
        }
        resource_tags::delete_all(&txn, Kind::DeploymentConfig, &row.id).await?;
        deployment_config::Entity::delete_by_id(row.id)
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::DeleteDeploymentConfigResponse {})
    }
}

fn predefined_is_read_only(name: &str) -> ApiError {
    ApiError::new(
        Exception::InvalidOperation,
        format!("deployment configuration {name:?} is predefined and cannot be deleted"),
    )
}
