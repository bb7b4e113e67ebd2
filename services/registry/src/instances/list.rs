//! ListOnPremisesInstances: names sorted, keyset-paginated, filtered by registration status
//! and by tags — an instance is listed when it matches every tag filter, each filter checked
//! in the database (one `EXISTS` per filter), so a page costs one query however many
//! instances there are.

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::{TagFilter, TagFilterType};
use ferry_proto::registry::v1 as pb;
use ferry_proto::registry::v1::RegistrationStatus;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

use ferry_runtime::error::{ApiError, Exception};

use crate::Registry;
use crate::store::entities::{instance, instance_tag};
use crate::store::internal;
use ferry_runtime::pagination;

/// Most tag filters one listing takes (an instance carries at most 50 tags).
const MAX_FILTERS: usize = super::tags::MAX_TAGS;

/// The registration status asked for; unspecified lists both.
fn registration_status(value: i32) -> Result<RegistrationStatus, ApiError> {
    RegistrationStatus::try_from(value).map_err(|_| {
        ApiError::new(
            Exception::InvalidRegistrationStatus,
            format!("registration_status {value} is not valid; use Registered, Deregistered or leave it unset for both"),
        )
    })
}

/// A filter's type, when the filter is complete for it: KEY_ONLY needs a key, VALUE_ONLY a
/// value, KEY_AND_VALUE a key (its value may be empty, as a tag's may).
fn check_filter(filter: &TagFilter) -> Result<TagFilterType, ApiError> {
    let invalid = |msg: String| ApiError::new(Exception::InvalidTagFilter, msg);
    let kind = TagFilterType::try_from(filter.r#type).unwrap_or(TagFilterType::Unspecified);
    let missing = match kind {
        TagFilterType::Unspecified => {
            return Err(invalid(format!(
                "tag filter type {} is not valid; use KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE",
                filter.r#type
            )));
        }
        TagFilterType::KeyOnly | TagFilterType::KeyAndValue if filter.key.is_empty() => Some("key"),
        TagFilterType::ValueOnly if filter.value.is_empty() => Some("value"),
        _ => None,
    };
    match missing {
        Some(part) => Err(invalid(format!(
            "a {} tag filter needs a {part}",
            kind.codedeploy_name().unwrap_or_default()
        ))),
        None => Ok(kind),
    }
}

/// The pagination scope of a listing: its status and a digest of its filters (in any order),
/// so that a token is only accepted by the listing that issued it.
fn scope(status: RegistrationStatus, filters: &[TagFilter]) -> String {
    let mut canonical: Vec<(i32, &str, &str)> = filters
        .iter()
        .map(|f| (f.r#type, f.key.as_str(), f.value.as_str()))
        .collect();
    canonical.sort_unstable();
    canonical.dedup();
    let encoded = serde_json::to_string(&canonical).unwrap_or_default();
    let digest = hex::encode(Sha256::digest(encoded.as_bytes()));
    format!("instances:{}:{digest}", status.as_str_name())
}

/// `EXISTS (a tag of this instance that the filter matches)`.
fn has_matching_tag(kind: TagFilterType, filter: &TagFilter) -> Expr {
    let mut tags = Query::select();
    tags.expr(Expr::val(1))
        .from(instance_tag::Entity)
        .and_where(
            Expr::col((instance_tag::Entity, instance_tag::Column::InstanceName))
                .equals((instance::Entity, instance::Column::Name)),
        );
    if matches!(kind, TagFilterType::KeyOnly | TagFilterType::KeyAndValue) {
        tags.and_where(instance_tag::Column::Key.eq(&filter.key));
    }
    if matches!(kind, TagFilterType::ValueOnly | TagFilterType::KeyAndValue) {
        tags.and_where(instance_tag::Column::Value.eq(&filter.value));
    }
    Expr::exists(tags.to_owned())
}

impl Registry {
    pub async fn list_on_premises_instances(
        &self,
        req: pb::ListOnPremisesInstancesRequest,
    ) -> Result<pb::ListOnPremisesInstancesResponse, ApiError> {
        let status = registration_status(req.registration_status)?;
        if req.tag_filters.len() > MAX_FILTERS {
            return Err(ApiError::new(
                Exception::InvalidTagFilter,
                format!(
                    "{} tag filters given; use at most {MAX_FILTERS}",
                    req.tag_filters.len()
                ),
            ));
        }
        let kinds = req
            .tag_filters
            .iter()
            .map(check_filter)
            .collect::<Result<Vec<_>, _>>()?;
        let size = pagination::page_size(req.page_size)?;
        let scope = scope(status, &req.tag_filters);
        let after = pagination::decode(&scope, &req.next_token)?;

        let mut query = instance::Entity::find()
            .select_only()
            .column(instance::Column::Name)
            .order_by_asc(instance::Column::Name)
            .limit(size as u64 + 1);
        query = match status {
            RegistrationStatus::Registered => {
                query.filter(instance::Column::DeregisterTime.is_null())
            }
            RegistrationStatus::Deregistered => {
                query.filter(instance::Column::DeregisterTime.is_not_null())
            }
            RegistrationStatus::Unspecified => query,
        };
        for (kind, filter) in kinds.into_iter().zip(&req.tag_filters) {
            query = query.filter(has_matching_tag(kind, filter));
        }
        if let Some(after) = after {
            query = query.filter(instance::Column::Name.gt(after));
        }
        let names: Vec<String> = query.into_tuple().all(&self.db).await.map_err(internal)?;
        let (instance_names, next_token) = pagination::finish(&scope, names, size, Clone::clone);
        Ok(pb::ListOnPremisesInstancesResponse {
            instance_names,
            next_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(key: &str, value: &str, kind: TagFilterType) -> TagFilter {
        TagFilter {
            key: key.into(),
            value: value.into(),
            r#type: kind as i32,
        }
    }

    #[test]
    fn filters_must_be_complete_for_their_type() {
        let reason = |f: TagFilter| check_filter(&f).err().and_then(|e| e.exception());
        let invalid = Some(Exception::InvalidTagFilter);
        assert_eq!(
            reason(filter("env", "", TagFilterType::Unspecified)),
            invalid
        );
        assert_eq!(
            reason(TagFilter {
                r#type: 9,
                ..filter("env", "", TagFilterType::KeyOnly)
            }),
            invalid
        );
        assert_eq!(reason(filter("", "prod", TagFilterType::KeyOnly)), invalid);
        assert_eq!(reason(filter("env", "", TagFilterType::ValueOnly)), invalid);
        assert_eq!(
            reason(filter("", "prod", TagFilterType::KeyAndValue)),
            invalid
        );
        assert_eq!(reason(filter("env", "", TagFilterType::KeyAndValue)), None);
        assert_eq!(reason(filter("", "prod", TagFilterType::ValueOnly)), None);
    }

    #[test]
    fn the_scope_depends_on_status_and_filters_not_their_order() {
        let a = filter("env", "prod", TagFilterType::KeyAndValue);
        let b = filter("role", "", TagFilterType::KeyOnly);
        let both = scope(RegistrationStatus::Unspecified, &[a.clone(), b.clone()]);
        assert_eq!(
            both,
            scope(RegistrationStatus::Unspecified, &[b.clone(), a.clone()])
        );
        assert_ne!(
            both,
            scope(RegistrationStatus::Registered, &[a.clone(), b.clone()])
        );
        assert_ne!(
            both,
            scope(RegistrationStatus::Unspecified, std::slice::from_ref(&a))
        );
        assert_ne!(
            scope(
                RegistrationStatus::Unspecified,
                &[filter("a", "b", TagFilterType::KeyAndValue)]
            ),
            scope(
                RegistrationStatus::Unspecified,
                &[filter("a", "b", TagFilterType::KeyOnly)]
            ),
        );
    }

    #[test]
    fn registration_status_rejects_out_of_range_values() {
        assert_eq!(
            registration_status(0).unwrap(),
            RegistrationStatus::Unspecified
        );
        assert_eq!(
            registration_status(2).unwrap(),
            RegistrationStatus::Deregistered
        );
        assert_eq!(
            registration_status(3).unwrap_err().exception(),
            Some(Exception::InvalidRegistrationStatus)
        );
    }
}
