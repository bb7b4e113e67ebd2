//! CodeDeploy's revision operations: RegisterApplicationRevision, GetApplicationRevision and
//! BatchGetApplicationRevisions, plus what the orchestrator records as deployments use a
//! revision (first/last used time, the deployment groups whose target it is).

use chrono::{DateTime, Utc};
use ferry_proto::common::v1::RevisionLocation;
use ferry_proto::revision::v1 as pb;
use prost_types::Timestamp;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use ferry_runtime::error::{ApiError, Exception};

use crate::Revisions;
use crate::apps::check_name;
use crate::blob_rows::{self, now_micros};
use crate::location::Location;
use crate::store::entities::revision;
use crate::store::{begin_write, internal};

/// Longest description, as CodeDeploy.
pub const MAX_DESCRIPTION: usize = 256;
/// Most revisions one BatchGetApplicationRevisions may ask for, as CodeDeploy.
pub const MAX_BATCH: usize = 25;

pub fn timestamp(micros: i64) -> Timestamp {
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

pub fn info(row: &revision::Model) -> Result<pb::GenericRevisionInfo, ApiError> {
    Ok(pb::GenericRevisionInfo {
        description: row.description.clone(),
        deployment_groups: serde_json::from_str(&row.deployment_groups)
            .map_err(ApiError::internal)?,
        first_used_time: row.first_used_time.map(timestamp),
        last_used_time: row.last_used_time.map(timestamp),
        register_time: Some(timestamp(row.register_time)),
    })
}

/// A location in a few words, for messages.
pub fn describe(location: &Location) -> String {
    if let Some(origin) = location.origin() {
        return format!("{} {origin}", location.type_name());
    }
    let w = location.wire();
    let sha = w
        .string
        .as_ref()
        .or(w.app_spec_content.as_ref())
        .map(|r| r.sha256.as_str());
    match (sha, location.uploaded_digest()) {
        (Some(sha), _) => format!("{} with sha256 {sha}", location.type_name()),
        (None, Some(digest)) => format!("Uploaded bundle {digest}"),
        _ => location.type_name().to_owned(),
    }
}

fn does_not_exist(location: &Location) -> ApiError {
    ApiError::new(
        Exception::RevisionDoesNotExist,
        format!("revision {} is not registered", describe(location)),
    )
}

impl Revisions {
    pub async fn register_application_revision(
        &self,
        req: pb::RegisterApplicationRevisionRequest,
    ) -> Result<pb::RegisterApplicationRevisionResponse, ApiError> {
        check_name(&req.application_name)?;
        if req.description.chars().count() > MAX_DESCRIPTION {
            return Err(ApiError::new(
                Exception::DescriptionTooLong,
                format!("the description is longer than {MAX_DESCRIPTION} characters"),
            ));
        }
        let mut location = Location::parse(req.revision.as_ref())?;
        if let Some(digest) = location.uploaded_digest() {
            let Some(blob) = blob_rows::find(&self.inner.db, digest).await? else {
                return Err(ApiError::new(
                    Exception::InvalidRevision,
                    format!("no bundle with sha256 {digest} was uploaded"),
                ));
            };
            if let (None, Some(kind)) = (location.bundle_type(), blob.bundle_type) {
                location.set_uploaded_bundle_type(kind);
            }
        }
        self.inner.apps.check(&req.application_name).await?;
        self.upsert(&req.application_name, &location, &req.description)
            .await?;
        Ok(pb::RegisterApplicationRevisionResponse {})
    }

    /// Registers a revision, or (as CodeDeploy does when a revision is registered again)
    /// replaces its description, keeping its register time and usage.
    pub(crate) async fn upsert(
        &self,
        application: &str,
        location: &Location,
        description: &str,
    ) -> Result<(), ApiError> {
        let (bucket, key) = location.s3().map_or((None, None), |(b, k)| {
            (Some(b.to_owned()), Some(k.to_owned()))
        });
        let row = revision::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            application_name: Set(application.to_owned()),
            revision_key: Set(location.key()),
            revision_type: Set(location.type_name().to_owned()),
            s3_bucket: Set(bucket),
            s3_key: Set(key),
            location: Set(location.to_json()),
            description: Set(description.to_owned()),
            register_time: Set(now_micros()),
            first_used_time: Set(None),
            last_used_time: Set(None),
            deployment_groups: Set("[]".to_owned()),
            digest: Set(None),
        };
        let txn = begin_write(&self.inner.writer).await?;
        revision::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    revision::Column::ApplicationName,
                    revision::Column::RevisionKey,
                ])
                .update_columns([revision::Column::Description, revision::Column::Location])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(())
    }

    pub(crate) async fn find_row(
        &self,
        db: &impl ConnectionTrait,
        application: &str,
        location: &Location,
    ) -> Result<Option<revision::Model>, ApiError> {
        revision::Entity::find()
            .filter(revision::Column::ApplicationName.eq(application))
            .filter(revision::Column::RevisionKey.eq(location.key()))
            .one(db)
            .await
            .map_err(internal)
    }

    pub async fn get_application_revision(
        &self,
        req: pb::GetApplicationRevisionRequest,
    ) -> Result<pb::GetApplicationRevisionResponse, ApiError> {
        check_name(&req.application_name)?;
        let location = Location::parse(req.revision.as_ref())?;
        self.inner.apps.check(&req.application_name).await?;
        let row = self
            .find_row(&self.inner.db, &req.application_name, &location)
            .await?
            .ok_or_else(|| does_not_exist(&location))?;
        Ok(pb::GetApplicationRevisionResponse {
            application_name: req.application_name,
            revision: Some(Location::from_json(&row.location)?),
            revision_info: Some(info(&row)?),
        })
    }

    pub async fn batch_get_application_revisions(
        &self,
        req: pb::BatchGetApplicationRevisionsRequest,
    ) -> Result<pb::BatchGetApplicationRevisionsResponse, ApiError> {
        check_name(&req.application_name)?;
        if req.revisions.is_empty() {
            return Err(ApiError::new(
                Exception::RevisionRequired,
                "at least one revision is required",
            ));
        }
        if req.revisions.len() > MAX_BATCH {
            return Err(ApiError::new(
                Exception::BatchLimitExceeded,
                format!(
                    "at most {MAX_BATCH} revisions may be asked for at once, not {}",
                    req.revisions.len()
                ),
            ));
        }
        let locations = req
            .revisions
            .iter()
            .map(|r| Location::parse(Some(r)))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.apps.check(&req.application_name).await?;
        let rows = revision::Entity::find()
            .filter(revision::Column::ApplicationName.eq(&req.application_name))
            .filter(revision::Column::RevisionKey.is_in(locations.iter().map(Location::key)))
            .all(&self.inner.db)
            .await
            .map_err(internal)?;
        let mut revisions = Vec::with_capacity(locations.len());
        let mut missing = Vec::new();
        for location in &locations {
            let key = location.key();
            match rows.iter().find(|row| row.revision_key == key) {
                Some(row) => revisions.push(pb::RevisionInfo {
                    revision_location: Some(Location::from_json(&row.location)?),
                    generic_revision_info: Some(info(row)?),
                }),
                None => missing.push(describe(location)),
            }
        }
        let error_message = if missing.is_empty() {
            String::new()
        } else {
            format!("revisions not registered: {}", missing.join(", "))
        };
        Ok(pb::BatchGetApplicationRevisionsResponse {
            application_name: req.application_name,
            error_message,
            revisions,
        })
    }

    /// For the orchestrator: a deployment used the revision at `at` (sets its first used time
    /// once, and its last used time). False when the revision is not registered.
    pub async fn mark_used(
        &self,
        application: &str,
        location: &RevisionLocation,
        at: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let location = Location::parse(Some(location))?;
        let at = at.timestamp_micros();
        let txn = begin_write(&self.inner.writer).await?;
        let Some(row) = self.find_row(&txn, application, &location).await? else {
            return Ok(false);
        };
        revision::Entity::update_many()
            .col_expr(
                revision::Column::FirstUsedTime,
                Expr::value(row.first_used_time.unwrap_or(at).min(at)),
            )
            .col_expr(
                revision::Column::LastUsedTime,
                Expr::value(row.last_used_time.unwrap_or(at).max(at)),
            )
            .filter(revision::Column::Id.eq(&row.id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(true)
    }

    /// For the orchestrator: `group` now targets `location` (or nothing). The group leaves the
    /// list of every other revision of the application.
    pub async fn set_target_revision(
        &self,
        application: &str,
        group: &str,
        location: Option<&RevisionLocation>,
    ) -> Result<(), ApiError> {
        let key = location
            .map(|l| Location::parse(Some(l)))
            .transpose()?
            .map(|l| l.key());
        let txn = begin_write(&self.inner.writer).await?;
        let rows = revision::Entity::find()
            .filter(revision::Column::ApplicationName.eq(application))
            .all(&txn)
            .await
            .map_err(internal)?;
        for row in rows {
            let mut groups: Vec<String> =
                serde_json::from_str(&row.deployment_groups).map_err(ApiError::internal)?;
            let had = groups.iter().any(|g| g == group);
            let wants = key.as_deref() == Some(row.revision_key.as_str());
            if had == wants {
                continue;
            }
            groups.retain(|g| g != group);
            if wants {
                groups.push(group.to_owned());
                groups.sort();
            }
            let json = serde_json::to_string(&groups).map_err(ApiError::internal)?;
            revision::Entity::update_many()
                .col_expr(revision::Column::DeploymentGroups, Expr::value(json))
                .filter(revision::Column::Id.eq(&row.id))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(())
    }

    /// Records the bundle a registered revision resolved to.
    pub(crate) async fn set_digest(
        &self,
        application: &str,
        location: &Location,
        digest: &str,
    ) -> Result<(), ApiError> {
        revision::Entity::update_many()
            .col_expr(revision::Column::Digest, Expr::value(digest))
            .filter(revision::Column::ApplicationName.eq(application))
            .filter(revision::Column::RevisionKey.eq(location.key()))
            .exec(&self.inner.writer)
            .await
            .map_err(internal)?;
        Ok(())
    }
}
