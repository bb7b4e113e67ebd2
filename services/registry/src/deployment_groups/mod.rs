//! Deployment groups: CreateDeploymentGroup, GetDeploymentGroup, BatchGetDeploymentGroups,
//! ListDeploymentGroups, UpdateDeploymentGroup, DeleteDeploymentGroup, and (for the
//! orchestrator) ListDeploymentGroupInstances.
//!
//! A group is one row: names, configuration and compute platform as columns, every other
//! CodeDeploy field in the `spec` JSON ([`model::GroupSpec`]). Requests are parsed field by
//! field (`parse.rs`, `request.rs`) and the whole group is checked against its platform
//! (`validate.rs`) before anything is written.

mod model;
mod parse;
mod request;
mod revision;
mod rows;
mod traffic;
mod validate;

#[cfg(test)]
mod tests;

use chrono::Utc;
use ferry_proto::registry::v1 as pb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use ferry_runtime::error::ApiError;

use self::model::GroupSpec;
use self::rows::{
    already_exists, application_held, check_ecs_services_free, does_not_exist, group_query, info,
};
use crate::Registry;
use crate::convert::{new_id, platform_from_name, platform_name};
use crate::deployment_configs::{hold_for_group, predefined};
use crate::names::{self, NameKind};
use crate::resource_tags::{self, Kind};
use crate::store::entities::{application, deployment_group};
use crate::store::{begin_write, internal, is_unique_violation};
use crate::tag_filters::InstanceSelector;
use ferry_runtime::pagination;

impl Registry {
    /// A group and its application, by name, read outside any transaction.
    async fn group_by_names(
        &self,
        application: &str,
        group: &str,
    ) -> Result<(application::Model, deployment_group::Model), ApiError> {
        names::check(NameKind::Application, application)?;
        names::check(NameKind::DeploymentGroup, group)?;
        let app = self.application_by_name(&self.db, application).await?;
        let row = group_query(&app.id, group)
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| does_not_exist(&app.name, group))?;
        Ok((app, row))
    }

    /// Creates a group and its tags in one transaction.
    pub async fn create_deployment_group(
        &self,
        req: pb::CreateDeploymentGroupRequest,
    ) -> Result<pb::CreateDeploymentGroupResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        names::check(NameKind::DeploymentGroup, &req.deployment_group_name)?;
        resource_tags::check_tags_to_add(&req.tags)?;
        let txn = begin_write(&self.writer).await?;
        let app = application_held(&txn, &req.application_name).await?;
        let platform = platform_from_name(&app.compute_platform);
        let spec = request::create_spec(&req, platform)?;
        let config_name = match req.deployment_config_name.as_str() {
            "" => predefined::default_for(platform).to_owned(),
            name => name.to_owned(),
        };
        hold_for_group(&txn, &config_name, platform).await?;
        check_ecs_services_free(&txn, &spec, None).await?;
        let row = deployment_group::ActiveModel {
            id: Set(new_id()),
            application_id: Set(app.id),
            name: Set(req.deployment_group_name.clone()),
            deployment_config_name: Set(config_name),
            compute_platform: Set(platform_name(platform).to_owned()),
            spec: Set(spec.to_json()?),
            target_revision: Set(None),
            last_successful_deployment: Set(None),
            last_attempted_deployment: Set(None),
            create_time: Set(Utc::now()),
        };
        // The unique index on (application, name) decides a race between two creators.
        let row = row.insert(&txn).await.map_err(|e| {
            if is_unique_violation(&e) {
                already_exists(&req.application_name, &req.deployment_group_name)
            } else {
                internal(e)
            }
        })?;
        resource_tags::put(&txn, Kind::DeploymentGroup, &row.id, &req.tags).await?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::CreateDeploymentGroupResponse {
            deployment_group_id: row.id,
        })
    }

    pub async fn get_deployment_group(
        &self,
        req: pb::GetDeploymentGroupRequest,
    ) -> Result<pb::GetDeploymentGroupResponse, ApiError> {
        let (app, row) = self
            .group_by_names(&req.application_name, &req.deployment_group_name)
            .await?;
        Ok(pb::GetDeploymentGroupResponse {
            deployment_group_info: Some(info(&app.name, row)?),
        })
    }

    /// The groups asked for, in the order asked. As in CodeDeploy, names that do not exist
    /// do not fail the call: they are reported in `error_message`.
    pub async fn batch_get_deployment_groups(
        &self,
        req: pb::BatchGetDeploymentGroupsRequest,
    ) -> Result<pb::BatchGetDeploymentGroupsResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        names::check_batch(NameKind::DeploymentGroup, &req.deployment_group_names)?;
        let app = self
            .application_by_name(&self.db, &req.application_name)
            .await?;
        let rows = deployment_group::Entity::find()
            .filter(deployment_group::Column::ApplicationId.eq(&app.id))
            .filter(
                deployment_group::Column::Name.is_in(req.deployment_group_names.iter().cloned()),
            )
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut deployment_groups_info = Vec::with_capacity(rows.len());
        let mut missing = Vec::new();
        for name in &req.deployment_group_names {
            match rows.iter().find(|row| &row.name == name) {
                Some(row) => deployment_groups_info.push(info(&app.name, row.clone())?),
                None => missing.push(format!("{name:?}")),
            }
        }
        let error_message = if missing.is_empty() {
            String::new()
        } else {
            format!(
                "deployment groups of application {:?} that do not exist: {}",
                app.name,
                missing.join(", ")
            )
        };
        Ok(pb::BatchGetDeploymentGroupsResponse {
            deployment_groups_info,
            error_message,
        })
    }

    /// The group names of one application, by name.
    pub async fn list_deployment_groups(
        &self,
        req: pb::ListDeploymentGroupsRequest,
    ) -> Result<pb::ListDeploymentGroupsResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        let app = self
            .application_by_name(&self.db, &req.application_name)
            .await?;
        // Scoped by the application's id: a token is good for that application only, and
        // still good after a rename.
        let scope = format!("deployment-groups:{}", app.id);
        let size = pagination::page_size(req.page_size)?;
        let after = pagination::decode(&scope, &req.next_token)?;
        let mut query = deployment_group::Entity::find()
            .select_only()
            .column(deployment_group::Column::Name)
            .filter(deployment_group::Column::ApplicationId.eq(&app.id))
            .order_by_asc(deployment_group::Column::Name)
            .limit(size as u64 + 1);
        if let Some(after) = after {
            query = query.filter(deployment_group::Column::Name.gt(after));
        }
        let names: Vec<String> = query.into_tuple().all(&self.db).await.map_err(internal)?;
        let (deployment_groups, next_token) = pagination::finish(&scope, names, size, Clone::clone);
        Ok(pb::ListDeploymentGroupsResponse {
            application_name: app.name,
            deployment_groups,
            next_token,
        })
    }

    /// Changes the fields the request carries (and the name, when a new one is given). The
    /// row is locked for the read-modify-write, so concurrent updates do not lose each other.
    pub async fn update_deployment_group(
        &self,
        req: pb::UpdateDeploymentGroupRequest,
    ) -> Result<pb::UpdateDeploymentGroupResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        names::check(
            NameKind::DeploymentGroup,
            &req.current_deployment_group_name,
        )?;
        if let Some(new_name) = &req.new_deployment_group_name {
            names::check(NameKind::DeploymentGroup, new_name)?;
        }
        let txn = begin_write(&self.writer).await?;
        let app = application_held(&txn, &req.application_name).await?;
        let row = group_query(&app.id, &req.current_deployment_group_name)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or_else(|| does_not_exist(&app.name, &req.current_deployment_group_name))?;
        let platform = platform_from_name(&row.compute_platform);
        let mut spec = GroupSpec::from_json(&row.spec)?;
        request::apply_update(&mut spec, &req, platform)?;
        if let Some(config_name) = &req.deployment_config_name {
            hold_for_group(&txn, config_name, platform).await?;
        }
        if req.ecs_services.is_some() {
            check_ecs_services_free(&txn, &spec, Some(&row.id)).await?;
        }
        let mut active = row.clone().into_active_model();
        if let Some(config_name) = &req.deployment_config_name {
            active.deployment_config_name = Set(config_name.clone());
        }
        let new_name = req
            .new_deployment_group_name
            .as_deref()
            .filter(|name| *name != row.name);
        if let Some(new_name) = new_name {
            active.name = Set(new_name.to_owned());
        }
        active.spec = Set(spec.to_json()?);
        active.update(&txn).await.map_err(|e| match new_name {
            Some(new_name) if is_unique_violation(&e) => already_exists(&app.name, new_name),
            _ => internal(e),
        })?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::UpdateDeploymentGroupResponse {
            hooks_not_cleaned_up: Vec::new(),
        })
    }

    /// Deletes a group and its tags. As in CodeDeploy, deleting a group that does not exist,
    /// or one of an application that does not exist, succeeds.
    pub async fn delete_deployment_group(
        &self,
        req: pb::DeleteDeploymentGroupRequest,
    ) -> Result<pb::DeleteDeploymentGroupResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        names::check(NameKind::DeploymentGroup, &req.deployment_group_name)?;
        let txn = begin_write(&self.writer).await?;
        let app = application::Entity::find()
            .filter(application::Column::Name.eq(&req.application_name))
            .one(&txn)
            .await
            .map_err(internal)?;
        let Some(app) = app else {
            return Ok(pb::DeleteDeploymentGroupResponse {
                hooks_not_cleaned_up: Vec::new(),
            });
        };
        let row = group_query(&app.id, &req.deployment_group_name)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(internal)?;
        if let Some(row) = row {
            resource_tags::delete_all(&txn, Kind::DeploymentGroup, &row.id).await?;
            deployment_group::Entity::delete_by_id(row.id)
                .exec(&txn)
                .await
                .map_err(internal)?;
            txn.commit().await.map_err(internal)?;
        }
        Ok(pb::DeleteDeploymentGroupResponse {
            hooks_not_cleaned_up: Vec::new(),
        })
    }

    /// The registered instances the group targets: those matching its on-premises tag set
    /// (every group), else its on-premises tag filters (any filter); none when it has neither.
    pub async fn list_deployment_group_instances(
        &self,
        req: pb::ListDeploymentGroupInstancesRequest,
    ) -> Result<pb::ListDeploymentGroupInstancesResponse, ApiError> {
        let (_, row) = self
            .group_by_names(&req.application_name, &req.deployment_group_name)
            .await?;
        let spec = GroupSpec::from_json(&row.spec)?;
        let selector = if !spec.on_premises_tag_set.is_empty() {
            InstanceSelector::AllGroups(
                spec.on_premises_tag_set
                    .iter()
                    .map(|g| model::tag_filters(g))
                    .collect(),
            )
        } else if !spec.on_premises_instance_tag_filters.is_empty() {
            InstanceSelector::AnyOf(model::tag_filters(&spec.on_premises_instance_tag_filters))
        } else {
            return Ok(pb::ListDeploymentGroupInstancesResponse {
                instances: Vec::new(),
            });
        };
        let instances =
            crate::instances::registered_matching(&self.db, &self.arns, &selector).await?;
        Ok(pb::ListDeploymentGroupInstancesResponse { instances })
    }
}
