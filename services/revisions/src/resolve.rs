//! ResolveRevision and ValidateAppSpec: bring a revision's bytes into the blob store (once,
//! however many callers ask at the same time), and inspect its AppSpec.
//!
//! Single flight: concurrent resolves of one location share one future, kept in a map by the
//! location's key while it runs. The work runs in its own task, so a caller that goes away
//! does not cancel it for the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ferry_proto::common::v1::{BundleType, RevisionLocationType as Type};
use ferry_proto::revision::v1::validate_app_spec_request::Source;
use ferry_proto::revision::v1::{self as pb};
use futures::FutureExt;
use futures::TryStreamExt;
use futures::future::{BoxFuture, Shared};
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};

use ferry_runtime::error::{ApiError, Exception};

use crate::Revisions;
use crate::blob_rows::{self, now_micros};
use crate::inspect::{self, Inspection, archive_kind, detect};
use crate::location::Location;
use crate::store::entities::resolution;
use crate::store::internal;

/// A revision brought home: its blob and what its AppSpec says.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub digest: String,
    pub size: u64,
    pub bundle_type: BundleType,
    pub inspection: Inspection,
}

type Flight = Shared<BoxFuture<'static, Result<Resolved, ApiError>>>;

/// The resolves in progress, by location key.
#[derive(Default)]
pub struct Flights {
    running: Mutex<HashMap<String, (u64, Flight)>>,
    next: AtomicU64,
}

impl Revisions {
    pub async fn resolve_revision(
        &self,
        req: pb::ResolveRevisionRequest,
    ) -> Result<pb::ResolveRevisionResponse, ApiError> {
        let location = Location::parse(req.revision.as_ref())?;
        if !req.application_name.is_empty() {
            self.inner.apps.check(&req.application_name).await?;
        }
        let resolved = self.resolve(&location).await?;
        if !resolved.inspection.is_valid() {
            return Err(resolved.inspection.invalid_revision());
        }
        if !req.application_name.is_empty() {
            self.set_digest(&req.application_name, &location, &resolved.digest)
                .await?;
        }
        Ok(pb::ResolveRevisionResponse {
            sha256: resolved.digest,
            size: resolved.size,
            bundle_type: resolved.bundle_type as i32,
            app_spec: resolved.inspection.wire_summary(),
        })
    }

    pub async fn validate_app_spec(
        &self,
        req: pb::ValidateAppSpecRequest,
    ) -> Result<pb::ValidateAppSpecResponse, ApiError> {
        if !req.application_name.is_empty() {
            self.inner.apps.check(&req.application_name).await?;
        }
        let inspection = match req.source {
            Some(Source::Content(text)) => inspect::text(&text),
            Some(Source::Revision(location)) => {
                let location = Location::parse(Some(&location))?;
                self.resolve(&location).await?.inspection
            }
            None => {
                return Err(ApiError::new(
                    Exception::InvalidInput,
                    "give the appspec's content or a revision",
                ));
            }
        };
        Ok(pb::ValidateAppSpecResponse {
            valid: inspection.is_valid(),
            problems: inspection.wire_problems(),
        })
    }

    /// Resolves a location, joining a resolve of the same location already in progress.
    pub async fn resolve(&self, location: &Location) -> Result<Resolved, ApiError> {
        let key = location.key();
        let flight = {
            let flights = &self.inner.flights;
            // Held while the task is spawned, so the task cannot remove its entry before it is in.
            let mut running = flights.running.lock().unwrap_or_else(|e| e.into_inner());
            match running.get(&key) {
                Some((_, flight)) => flight.clone(),
                None => {
                    let id = flights.next.fetch_add(1, Ordering::Relaxed);
                    let this = self.clone();
                    let (location, task_key) = (location.clone(), key.clone());
                    let task = tokio::spawn(async move {
                        let result = this.resolve_now(&location).await;
                        let mut running = this
                            .inner
                            .flights
                            .running
                            .lock()
                            .unwrap_or_else(|e| e.into_inner());
                        if running.get(&task_key).is_some_and(|(i, _)| *i == id) {
                            running.remove(&task_key);
                        }
                        result
                    });
                    let flight = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(ApiError::internal(format!("resolve task: {e}")))
                        })
                    }
                    .boxed()
                    .shared();
                    running.insert(key, (id, flight.clone()));
                    flight
                }
            }
        };
        flight.await
    }

    async fn resolve_now(&self, location: &Location) -> Result<Resolved, ApiError> {
        let inner = &self.inner;
        let key = location.key();
        if location.immutable()
            && let Some(done) = resolution::Entity::find_by_id(key.clone())
                .one(&inner.db)
                .await
                .map_err(internal)?
            && let Some(row) = blob_rows::find(&inner.db, &done.digest).await?
            && let Some(kind) = location.bundle_type().or(row.bundle_type)
            && inner.blobs.exists(&row.digest).await?.is_some()
        {
            return self.inspect_blob(row.digest, row.size, kind).await;
        }

        let (digest, size, head, known) = match location.kind() {
            Type::Uploaded => {
                let digest = location.uploaded_digest().unwrap_or_default();
                let row = blob_rows::find(&inner.db, digest).await?;
                let row = match row {
                    Some(row) if inner.blobs.exists(digest).await?.is_some() => row,
                    _ => {
                        return Err(ApiError::new(
                            Exception::RevisionDoesNotExist,
                            format!("there is no uploaded bundle with sha256 {digest}"),
                        ));
                    }
                };
                (row.digest, row.size, Vec::new(), row.bundle_type)
            }
            Type::String | Type::AppSpecContent => {
                let content = location.content().unwrap_or_default();
                let staged = inner
                    .blobs
                    .put_bytes(Bytes::copy_from_slice(content.as_bytes()))
                    .await?;
                let kind = if content.trim_start().starts_with('{') {
                    BundleType::Json
                } else {
                    BundleType::Yaml
                };
                (staged.digest, staged.size, staged.head, Some(kind))
            }
            _ => {
                let origin = location
                    .origin()
                    .ok_or_else(|| ApiError::internal("a fetchable location without an origin"))?;
                let fetched = inner.fetchers.fetch(origin).await?;
                let max = inner.max_bundle_bytes;
                if fetched.size.is_some_and(|size| size > max) {
                    return Err(ApiError::new(
                        Exception::InvalidRevision,
                        format!("{origin} is larger than the limit of {max} bytes"),
                    ));
                }
                let body = fetched.body.map_err(ApiError::from);
                let staged = inner.blobs.put_stream(body, None, max).await?;
                (staged.digest, staged.size, staged.head, None)
            }
        };
        let Some(kind) = location.bundle_type().or(known).or_else(|| detect(&head)) else {
            return Err(ApiError::new(
                Exception::InvalidRevision,
                "the revision's bundle is not a tar, tgz or zip archive, nor a YAML or JSON appspec",
            ));
        };
        blob_rows::record(&inner.writer, &digest, size, Some(kind)).await?;
        if location.immutable() {
            let row = resolution::ActiveModel {
                revision_key: Set(key),
                digest: Set(digest.clone()),
                resolve_time: Set(now_micros()),
            };
            resolution::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(resolution::Column::RevisionKey)
                        .update_columns([
                            resolution::Column::Digest,
                            resolution::Column::ResolveTime,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&inner.writer)
                .await
                .map_err(internal)?;
        }
        self.inspect_blob(digest, size, kind).await
    }

    /// The AppSpec of a stored blob read as `kind`: remembered with the blob, else inspected.
    async fn inspect_blob(
        &self,
        digest: String,
        size: u64,
        kind: BundleType,
    ) -> Result<Resolved, ApiError> {
        let inner = &self.inner;
        if let Some(row) = blob_rows::find(&inner.db, &digest).await?
            && row.bundle_type == Some(kind)
            && let Some(inspection) = row.inspection
        {
            return Ok(Resolved {
                digest,
                size,
                bundle_type: kind,
                inspection,
            });
        }
        let reader = inner.blobs.reader(&digest).await?;
        let scratch = inner.scratch.clone();
        let inspection = tokio::task::spawn_blocking(move || match archive_kind(kind) {
            Some(archive) => inspect::archive(reader, archive, &scratch),
            None => inspect::text_bundle(reader),
        })
        .await
        .map_err(ApiError::internal)??;
        blob_rows::save_inspection(&inner.writer, &digest, kind, &inspection).await?;
        Ok(Resolved {
            digest,
            size,
            bundle_type: kind,
            inspection,
        })
    }
}
