//! ListApplicationRevisions: sorted by register, first-used or last-used time, filtered by S3
//! bucket and key prefix and by whether a deployment group targets the revision, a page at a
//! time with opaque keyset tokens.

use ferry_proto::revision::v1::{
    self as pb, ApplicationRevisionSortBy as SortBy, ListStateFilterAction, SortOrder,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};

use ferry_runtime::error::{ApiError, Exception};
use ferry_runtime::pagination;

use crate::Revisions;
use crate::apps::check_name;
use crate::location::Location;
use crate::store::entities::revision::{self, Column};
use crate::store::internal;

/// Longest S3 key (and so key prefix), in bytes.
const MAX_KEY_PREFIX: usize = 1024;

/// S3's bucket naming rules: 3-63 of lower-case letters, digits, `.` and `-`, starting and
/// ending with a letter or digit.
fn valid_bucket(name: &str) -> bool {
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge(name.as_bytes().first())
        && edge(name.as_bytes().last())
        && !name.contains("..")
}

/// The request's enums, checked.
struct Listing {
    column: Column,
    /// Never-used revisions sort as if used at -1 µs: first ascending, last descending.
    nullable: bool,
    descending: bool,
    deployed: ListStateFilterAction,
}

fn listing(req: &pb::ListApplicationRevisionsRequest) -> Result<Listing, ApiError> {
    let sort_by = SortBy::try_from(req.sort_by).map_err(|_| {
        ApiError::new(
            Exception::InvalidSortBy,
            format!(
                "sort_by {} is not one of registerTime, firstUsedTime, lastUsedTime",
                req.sort_by
            ),
        )
    })?;
    let order = SortOrder::try_from(req.sort_order).map_err(|_| {
        ApiError::new(
            Exception::InvalidSortOrder,
            format!(
                "sort_order {} is not ascending or descending",
                req.sort_order
            ),
        )
    })?;
    let deployed = ListStateFilterAction::try_from(req.deployed).map_err(|_| {
        ApiError::new(
            Exception::InvalidDeployedStateFilter,
            format!(
                "deployed {} is not include, exclude or ignore",
                req.deployed
            ),
        )
    })?;
    let (column, nullable) = match sort_by {
        SortBy::Unspecified | SortBy::RegisterTime => (Column::RegisterTime, false),
        SortBy::FirstUsedTime => (Column::FirstUsedTime, true),
        SortBy::LastUsedTime => (Column::LastUsedTime, true),
    };
    Ok(Listing {
        column,
        nullable,
        descending: order == SortOrder::Descending,
        deployed,
    })
}

impl Listing {
    fn sort_expr(&self) -> Expr {
        if self.nullable {
            Func::coalesce([Expr::col(self.column), Expr::val(-1i64)]).into()
        } else {
            Expr::col(self.column)
        }
    }

    fn sort_value(&self, row: &revision::Model) -> i64 {
        match self.column {
            Column::FirstUsedTime => row.first_used_time.unwrap_or(-1),
            Column::LastUsedTime => row.last_used_time.unwrap_or(-1),
            _ => row.register_time,
        }
    }
}

/// `value:id` of the last row of a page.
fn parse_after(after: &str) -> Result<(i64, String), ApiError> {
    after
        .split_once(':')
        .and_then(|(v, id)| Some((v.parse().ok()?, id.to_owned())))
        .ok_or_else(|| {
            ApiError::new(
                Exception::InvalidNextToken,
                "the next token is not valid for this call",
            )
        })
}

impl Revisions {
    pub async fn list_application_revisions(
        &self,
        req: pb::ListApplicationRevisionsRequest,
    ) -> Result<pb::ListApplicationRevisionsResponse, ApiError> {
        check_name(&req.application_name)?;
        let listing = listing(&req)?;
        if !req.s3_key_prefix.is_empty() && req.s3_bucket.is_empty() {
            return Err(ApiError::new(
                Exception::BucketNameFilterRequired,
                "an s3 key prefix filter needs an s3 bucket filter",
            ));
        }
        if !req.s3_bucket.is_empty() && !valid_bucket(&req.s3_bucket) {
            return Err(ApiError::new(
                Exception::InvalidBucketNameFilter,
                format!("{:?} is not an s3 bucket name", req.s3_bucket),
            ));
        }
        if req.s3_key_prefix.len() > MAX_KEY_PREFIX || req.s3_key_prefix.starts_with('/') {
            return Err(ApiError::new(
                Exception::InvalidKeyPrefixFilter,
                "the s3 key prefix must be relative and at most 1024 bytes",
            ));
        }
        let size = pagination::page_size(req.page_size)?;
        let scope = format!(
            "revisions\0{}\0{}\0{}\0{}\0{}\0{}",
            req.application_name,
            req.sort_by,
            req.sort_order,
            req.s3_bucket,
            req.s3_key_prefix,
            req.deployed
        );
        let after = pagination::decode(&scope, &req.next_token)?
            .map(|a| parse_after(&a))
            .transpose()?;
        self.inner.apps.check(&req.application_name).await?;

        let mut query =
            revision::Entity::find().filter(Column::ApplicationName.eq(&req.application_name));
        if !req.s3_bucket.is_empty() {
            query = query.filter(Column::S3Bucket.eq(&req.s3_bucket));
        }
        if !req.s3_key_prefix.is_empty() {
            // Not LIKE: SQLite's is case-insensitive, and S3 keys are not.
            // 32-bit arguments: PostgreSQL has no SUBSTR(text, bigint, bigint).
            let length = req.s3_key_prefix.chars().count() as i32;
            let head = Func::cust("SUBSTR")
                .arg(Expr::col(Column::S3Key))
                .arg(1i32)
                .arg(length);
            query = query.filter(Expr::expr(head).eq(req.s3_key_prefix.clone()));
        }
        match listing.deployed {
            ListStateFilterAction::Include => {
                query = query.filter(Column::DeploymentGroups.ne("[]"))
            }
            ListStateFilterAction::Exclude => {
                query = query.filter(Column::DeploymentGroups.eq("[]"))
            }
            ListStateFilterAction::Ignore | ListStateFilterAction::Unspecified => {}
        }
        let sort = listing.sort_expr();
        if let Some((value, id)) = after {
            let (beyond, id_beyond) = if listing.descending {
                (sort.clone().lt(value), Expr::col(Column::Id).lt(id))
            } else {
                (sort.clone().gt(value), Expr::col(Column::Id).gt(id))
            };
            query = query.filter(
                Condition::any()
                    .add(beyond)
                    .add(sort.clone().eq(value).and(id_beyond)),
            );
        }
        let order = if listing.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let rows = query
            .order_by(sort, order.clone())
            .order_by(Column::Id, order)
            .limit(size as u64 + 1)
            .all(&self.inner.db)
            .await
            .map_err(internal)?;
        let (rows, next_token) = pagination::finish(&scope, rows, size, |row| {
            format!("{}:{}", listing.sort_value(row), row.id)
        });
        let revisions = rows
            .iter()
            .map(|row| Location::from_json(&row.location))
            .collect::<Result<_, _>>()?;
        Ok(pb::ListApplicationRevisionsResponse {
            revisions,
            next_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket.1", "a1b"] {
            assert!(valid_bucket(good), "{good}");
        }
        for bad in ["ab", "-abc", "abc-", "ABC", "a..b", "a_b", &"a".repeat(64)] {
            assert!(!valid_bucket(bad), "{bad}");
        }
    }

    #[test]
    fn after_keys() {
        assert_eq!(parse_after("-1:x-y").unwrap(), (-1, "x-y".to_owned()));
        assert!(parse_after("nope").is_err());
    }
}
