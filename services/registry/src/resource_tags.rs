//! Resource tags on applications, deployment groups and deployment configurations:
//! TagResource, UntagResource, ListTagsForResource, and the tags given at creation.

use std::collections::BTreeSet;

use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1 as pb;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use ferry_runtime::error::{ApiError, Exception};

use crate::Registry;
use crate::arn::Resource;
use crate::names::{self, NameKind};
use crate::store::entities::{application, deployment_config, deployment_group, resource_tag};
use crate::store::{begin_write, internal};

/// Most tags on one resource, as in AWS.
pub const MAX_TAGS: usize = 50;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

/// The kinds of resource that carry tags, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Application,
    DeploymentGroup,
    DeploymentConfig,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::DeploymentGroup => "deploymentgroup",
            Self::DeploymentConfig => "deploymentconfig",
        }
    }
}

/// Checks tags to add: keys 1–128 characters, not `aws:`-prefixed, unique; values ≤ 256.
pub fn check_tags_to_add(tags: &[Tag]) -> Result<(), ApiError> {
    let invalid = |msg: String| ApiError::new(Exception::InvalidTagsToAdd, msg);
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "{} tags given; a resource carries at most {MAX_TAGS}",
            tags.len()
        )));
    }
    let mut keys = BTreeSet::new();
    for tag in tags {
        if tag.key.is_empty() || tag.key.chars().count() > MAX_KEY_LEN {
            return Err(invalid(format!(
                "tag key {:?} must be 1-{MAX_KEY_LEN} characters",
                tag.key
            )));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid(format!(
                "tag key {:?} uses the reserved prefix aws:",
                tag.key
            )));
        }
        if tag.value.chars().count() > MAX_VALUE_LEN {
            return Err(invalid(format!(
                "the value of tag {:?} is longer than {MAX_VALUE_LEN} characters",
                tag.key
            )));
        }
        if !keys.insert(tag.key.as_str()) {
            return Err(invalid(format!("tag key {:?} is given twice", tag.key)));
        }
    }
    Ok(())
}

/// Sets tags on a resource, replacing the values of keys it already has.
pub async fn put(
    conn: &impl ConnectionTrait,
    kind: Kind,
    id: &str,
    tags: &[Tag],
) -> Result<(), ApiError> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|tag| resource_tag::ActiveModel {
        resource_kind: sea_orm::Set(kind.as_str().to_owned()),
        resource_id: sea_orm::Set(id.to_owned()),
        key: sea_orm::Set(tag.key.clone()),
        value: sea_orm::Set(tag.value.clone()),
    });
    resource_tag::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                resource_tag::Column::ResourceKind,
                resource_tag::Column::ResourceId,
                resource_tag::Column::Key,
            ])
            .update_column(resource_tag::Column::Value)
            .to_owned(),
        )
        .exec(conn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// Removes every tag of a resource (when the resource is deleted).
pub async fn delete_all(conn: &impl ConnectionTrait, kind: Kind, id: &str) -> Result<(), ApiError> {
    resource_tag::Entity::delete_many()
        .filter(resource_tag::Column::ResourceKind.eq(kind.as_str()))
        .filter(resource_tag::Column::ResourceId.eq(id))
        .exec(conn)
        .await
        .map_err(internal)?;
    Ok(())
}

impl Registry {
    /// Resolves an ARN to the stored resource it names, or the CodeDeploy "does not exist".
    async fn resource_id(
        &self,
        conn: &impl ConnectionTrait,
        arn: &str,
    ) -> Result<(Kind, String), ApiError> {
        match self.arns.parse(arn)? {
            Resource::Application(name) => {
                names::check(NameKind::Application, &name)?;
                let app = self.application_by_name(conn, &name).await?;
                Ok((Kind::Application, app.id))
            }
            Resource::DeploymentGroup { application, group } => {
                names::check(NameKind::Application, &application)?;
                names::check(NameKind::DeploymentGroup, &group)?;
                let app = self.application_by_name(conn, &application).await?;
                let row = deployment_group::Entity::find()
                    .filter(deployment_group::Column::ApplicationId.eq(app.id))
                    .filter(deployment_group::Column::Name.eq(&group))
                    .one(conn)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| {
                        ApiError::new(
                            Exception::DeploymentGroupDoesNotExist,
                            format!("deployment group {group:?} of application {application:?} does not exist"),
                        )
                    })?;
                Ok((Kind::DeploymentGroup, row.id))
            }
            Resource::DeploymentConfig(name) => {
                names::check(NameKind::DeploymentConfig, &name)?;
                let row = deployment_config::Entity::find()
                    .filter(deployment_config::Column::Name.eq(&name))
                    .one(conn)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| {
                        ApiError::new(
                            Exception::DeploymentConfigDoesNotExist,
                            format!("deployment configuration {name:?} does not exist"),
                        )
                    })?;
                Ok((Kind::DeploymentConfig, row.id))
            }
        }
    }

    /// Looks up an application by name, or `ApplicationDoesNotExistException`.
    pub(crate) async fn application_by_name(
        &self,
        conn: &impl ConnectionTrait,
        name: &str,
    ) -> Result<application::Model, ApiError> {
        application::Entity::find()
            .filter(application::Column::Name.eq(name))
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

    pub async fn tag_resource(
        &self,
        req: pb::TagResourceRequest,
    ) -> Result<pb::TagResourceResponse, ApiError> {
        if req.tags.is_empty() {
            return Err(ApiError::new(
                Exception::TagRequired,
                "at least one tag is required",
            ));
        }
        check_tags_to_add(&req.tags)?;
        let txn = begin_write(&self.writer).await?;
        let (kind, id) = self.resource_id(&txn, &req.resource_arn).await?;
        put(&txn, kind, &id, &req.tags).await?;
        let count = resource_tag::Entity::find()
            .filter(resource_tag::Column::ResourceKind.eq(kind.as_str()))
            .filter(resource_tag::Column::ResourceId.eq(&id))
            .count(&txn)
            .await
            .map_err(internal)?;
        if count as usize > MAX_TAGS {
            // Dropping the transaction rolls the insert back: nothing half-written.
            return Err(ApiError::new(
                Exception::InvalidTagsToAdd,
                format!("the resource would carry {count} tags; at most {MAX_TAGS} are allowed"),
            ));
        }
        txn.commit().await.map_err(internal)?;
        Ok(pb::TagResourceResponse {})
    }

    pub async fn untag_resource(
        &self,
        req: pb::UntagResourceRequest,
    ) -> Result<pb::UntagResourceResponse, ApiError> {
        if req.tag_keys.is_empty() {
            return Err(ApiError::new(
                Exception::TagRequired,
                "at least one tag key is required",
            ));
        }
        let (kind, id) = self.resource_id(&self.db, &req.resource_arn).await?;
        resource_tag::Entity::delete_many()
            .filter(resource_tag::Column::ResourceKind.eq(kind.as_str()))
            .filter(resource_tag::Column::ResourceId.eq(id))
            .filter(resource_tag::Column::Key.is_in(req.tag_keys))
            // A write: through the write pool (SQLite's single writer), not the read pool.
            .exec(&self.writer)
            .await
            .map_err(internal)?;
        Ok(pb::UntagResourceResponse {})
    }

    pub async fn list_tags_for_resource(
        &self,
        req: pb::ListTagsForResourceRequest,
    ) -> Result<pb::ListTagsForResourceResponse, ApiError> {
        let (kind, id) = self.resource_id(&self.db, &req.resource_arn).await?;
        // A resource carries at most 50 tags, so one page always holds them all; a token is
        // still checked so that a bad one is reported as CodeDeploy does.
        ferry_runtime::pagination::decode(&format!("tags:{}", req.resource_arn), &req.next_token)?;
        let tags = resource_tag::Entity::find()
            .filter(resource_tag::Column::ResourceKind.eq(kind.as_str()))
            .filter(resource_tag::Column::ResourceId.eq(id))
            .order_by_asc(resource_tag::Column::Key)
            .all(&self.db)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|row| Tag {
                key: row.key,
                value: row.value,
            })
            .collect();
        Ok(pb::ListTagsForResourceResponse {
            tags,
            next_token: String::new(),
        })
    }
}
