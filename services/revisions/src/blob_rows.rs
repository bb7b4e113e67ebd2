//! The `blobs` table: each stored blob's size, bundle type and inspected AppSpec.

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::BundleType;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use ferry_runtime::error::ApiError;

use crate::inspect::Inspection;
use crate::store::entities::blob;
use crate::store::internal;

/// Microseconds since the epoch, the unit of every stored time.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn type_name(bundle_type: BundleType) -> Option<String> {
    bundle_type.codedeploy_name().map(str::to_owned)
}

/// A stored blob, as the table knows it.
#[derive(Clone, Debug)]
pub struct BlobRow {
    pub digest: String,
    pub size: u64,
    pub bundle_type: Option<BundleType>,
    /// The inspection made for `bundle_type`, if any.
    pub inspection: Option<Inspection>,
}

pub async fn find(db: &DatabaseConnection, digest: &str) -> Result<Option<BlobRow>, ApiError> {
    let Some(row) = blob::Entity::find_by_id(digest.to_owned())
        .one(db)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let inspection = match &row.app_spec_summary {
        Some(json) => Some(serde_json::from_str(json).map_err(ApiError::internal)?),
        None => None,
    };
    Ok(Some(BlobRow {
        size: row.size.max(0) as u64,
        bundle_type: row
            .bundle_type
            .as_deref()
            .and_then(BundleType::from_codedeploy_name),
        inspection,
        digest: row.digest,
    }))
}

/// Records a published blob (once); a known bundle type fills in one the row lacks.
pub async fn record(
    db: &DatabaseConnection,
    digest: &str,
    size: u64,
    bundle_type: Option<BundleType>,
) -> Result<(), ApiError> {
    let row = blob::ActiveModel {
        digest: Set(digest.to_owned()),
        size: Set(size as i64),
        bundle_type: Set(bundle_type.and_then(type_name)),
        app_spec_summary: Set(None),
        created: Set(now_micros()),
    };
    blob::Entity::insert(row)
        .on_conflict_do_nothing_on([blob::Column::Digest])
        .exec_without_returning(db)
        .await
        .map_err(internal)?;
    if let Some(name) = bundle_type.and_then(type_name) {
        blob::Entity::update_many()
            .col_expr(blob::Column::BundleType, Expr::value(name))
            .filter(blob::Column::Digest.eq(digest))
            .filter(blob::Column::BundleType.is_null())
            .exec(db)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Stores what inspecting the blob as `bundle_type` found.
pub async fn save_inspection(
    db: &DatabaseConnection,
    digest: &str,
    bundle_type: BundleType,
    inspection: &Inspection,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(inspection).map_err(ApiError::internal)?;
    blob::Entity::update_many()
        .col_expr(
            blob::Column::BundleType,
            Expr::value(type_name(bundle_type)),
        )
        .col_expr(blob::Column::AppSpecSummary, Expr::value(json))
        .filter(blob::Column::Digest.eq(digest))
        .exec(db)
        .await
        .map_err(internal)?;
    Ok(())
}
