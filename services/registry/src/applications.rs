//! Applications: CreateApplication, GetApplication, BatchGetApplications, ListApplications,
//! UpdateApplication (rename) and DeleteApplication (with its deployment groups).

use chrono::Utc;
use ferry_proto::registry::v1 as pb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use ferry_runtime::error::{ApiError, Exception};

use crate::Registry;
use crate::convert::{compute_platform, new_id, platform_from_name, platform_name, timestamp};
use crate::names::{self, NameKind};
use crate::resource_tags::{self, Kind};
use crate::store::entities::{application, deployment_group};
use crate::store::{begin_write, internal, is_unique_violation};
use ferry_runtime::pagination;

fn already_exists(name: &str) -> ApiError {
    ApiError::new(
        Exception::ApplicationAlreadyExists,
        format!("application {name:?} already exists"),
    )
}

fn info(row: application::Model) -> pb::ApplicationInfo {
    pb::ApplicationInfo {
        application_id: row.id,
        application_name: row.name,
        create_time: Some(timestamp(row.create_time)),
        linked_to_git_hub: false,
        git_hub_account_name: String::new(),
        compute_platform: platform_from_name(&row.compute_platform) as i32,
    }
}

impl Registry {
    pub async fn create_application(
        &self,
        req: pb::CreateApplicationRequest,
    ) -> Result<pb::CreateApplicationResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        let platform = compute_platform(req.compute_platform)?;
        resource_tags::check_tags_to_add(&req.tags)?;

        let row = application::ActiveModel {
            id: Set(new_id()),
            name: Set(req.application_name.clone()),
            compute_platform: Set(platform_name(platform).to_owned()),
            create_time: Set(Utc::now()),
        };
        let txn = begin_write(&self.writer).await?;
        let row = row.insert(&txn).await.map_err(|e| {
            // The unique index decides a race between two creators: one wins, the other is told
            // the name exists.
            if is_unique_violation(&e) {
                already_exists(&req.application_name)
            } else {
                internal(e)
            }
        })?;
        resource_tags::put(&txn, Kind::Application, &row.id, &req.tags).await?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::CreateApplicationResponse {
            application_id: row.id,
        })
    }

    pub async fn get_application(
        &self,
        req: pb::GetApplicationRequest,
    ) -> Result<pb::GetApplicationResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        let row = self
            .application_by_name(&self.db, &req.application_name)
            .await?;
        Ok(pb::GetApplicationResponse {
            application: Some(info(row)),
        })
    }

    pub async fn batch_get_applications(
        &self,
        req: pb::BatchGetApplicationsRequest,
    ) -> Result<pb::BatchGetApplicationsResponse, ApiError> {
        names::check_batch(NameKind::Application, &req.application_names)?;
        let rows = application::Entity::find()
            .filter(application::Column::Name.is_in(req.application_names.iter().cloned()))
            .all(&self.db)
            .await
            .map_err(internal)?;
        // CodeDeploy fails the whole call when one of the names does not exist, and answers in
        // the order the names were asked for.
        let mut applications_info = Vec::with_capacity(req.application_names.len());
        for name in &req.application_names {
            let row = rows.iter().find(|row| &row.name == name).ok_or_else(|| {
                ApiError::new(
                    Exception::ApplicationDoesNotExist,
                    format!("application {name:?} does not exist"),
                )
            })?;
            applications_info.push(info(row.clone()));
        }
        Ok(pb::BatchGetApplicationsResponse { applications_info })
    }

    pub async fn list_applications(
        &self,
        req: pb::ListApplicationsRequest,
    ) -> Result<pb::ListApplicationsResponse, ApiError> {
        const SCOPE: &str = "applications";
        let size = pagination::page_size(req.page_size)?;
        let after = pagination::decode(SCOPE, &req.next_token)?;
        let mut query = application::Entity::find()
            .select_only()
            .column(application::Column::Name)
            .order_by_asc(application::Column::Name)
            .limit(size as u64 + 1);
        if let Some(after) = after {
            query = query.filter(application::Column::Name.gt(after));
        }
        let names: Vec<String> = query.into_tuple().all(&self.db).await.map_err(internal)?;
        let (applications, next_token) = pagination::finish(SCOPE, names, size, Clone::clone);
        Ok(pb::ListApplicationsResponse {
            applications,
            next_token,
        })
    }

    pub async fn update_application(
        &self,
        req: pb::UpdateApplicationRequest,
    ) -> Result<pb::UpdateApplicationResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        names::check(NameKind::Application, &req.new_application_name)?;
        let txn = begin_write(&self.writer).await?;
        let row = self
            .application_by_name(&txn, &req.application_name)
            .await?;
        if row.name == req.new_application_name {
            return Ok(pb::UpdateApplicationResponse {});
        }
        let mut row = row.into_active_model();
        row.name = Set(req.new_application_name.clone());
        row.update(&txn).await.map_err(|e| {
            if is_unique_violation(&e) {
                already_exists(&req.new_application_name)
            } else {
                internal(e)
            }
        })?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::UpdateApplicationResponse {})
    }

    /// Deletes the application, its deployment groups and their tags in one transaction.
    /// Like CodeDeploy, deleting an application that does not exist succeeds.
    pub async fn delete_application(
        &self,
        req: pb::DeleteApplicationRequest,
    ) -> Result<pb::DeleteApplicationResponse, ApiError> {
        names::check(NameKind::Application, &req.application_name)?;
        let txn = begin_write(&self.writer).await?;
        let Some(app) = application::Entity::find()
            .filter(application::Column::Name.eq(&req.application_name))
            .one(&txn)
            .await
            .map_err(internal)?
        else {
            return Ok(pb::DeleteApplicationResponse {});
        };
        let groups = deployment_group::Entity::find()
            .filter(deployment_group::Column::ApplicationId.eq(&app.id))
            .all(&txn)
            .await
            .map_err(internal)?;
        for group in &groups {
            resource_tags::delete_all(&txn, Kind::DeploymentGroup, &group.id).await?;
        }
        deployment_group::Entity::delete_many()
            .filter(deployment_group::Column::ApplicationId.eq(&app.id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        resource_tags::delete_all(&txn, Kind::Application, &app.id).await?;
        application::Entity::delete_by_id(app.id)
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::DeleteApplicationResponse {})
    }
}
