//! AddTagsToOnPremisesInstances and RemoveTagsFromOnPremisesInstances.
//!
//! Each call checks every instance before it writes anything, and writes in one transaction:
//! it changes all the instances or none. Limits (the model names the exceptions, not the
//! numbers): at most 100 instances per call (`InstanceLimitExceededException`, like every
//! other batch), at most 50 tags per call and per instance (`TagLimitExceededException`, as
//! for AWS resource tags), keys 1-128 characters and values at most 256 (`InvalidTagException`).
//! Values may be empty: a tag is a key with a value, and KEY_ONLY filters match any value.
//!
//! Adding a key an instance has replaces its value. Removing takes tags, as CodeDeploy's
//! RemoveTags does: a tag is removed when both its key and its value match; a tag with that
//! key and another value stays, and a tag the instance does not have is no error.

use std::collections::{BTreeSet, HashMap};

use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1 as pb;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use ferry_runtime::error::{ApiError, Exception};

use super::not_registered;
use crate::Registry;
use crate::names::{self, MAX_BATCH, NameKind};
use crate::store::entities::{instance, instance_tag};
use crate::store::{begin_write, internal};

/// Most tags one instance carries, and most tags one call takes.
pub const MAX_TAGS: usize = 50;
/// Most instances one call changes.
pub const MAX_INSTANCES: usize = MAX_BATCH;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

/// Checks the instance names of a call; returns them without repeats, in name order.
fn check_instances(names: &[String]) -> Result<Vec<String>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::new(
            Exception::InstanceNameRequired,
            "at least one instance name is required",
        ));
    }
    if names.len() > MAX_INSTANCES {
        return Err(ApiError::new(
            Exception::InstanceLimitExceeded,
            format!(
                "{} instance names given; one call changes at most {MAX_INSTANCES}",
                names.len()
            ),
        ));
    }
    names
        .iter()
        .try_for_each(|name| names::check(NameKind::Instance, name))?;
    Ok(names
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// Checks the tags of a call. Adding the same key twice in one call is ambiguous, so it is
/// `InvalidTagException`; removing it twice is harmless.
fn check_tags(tags: &[Tag], adding: bool) -> Result<(), ApiError> {
    if tags.is_empty() {
        return Err(ApiError::new(
            Exception::TagRequired,
            "at least one tag is required",
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::new(
            Exception::TagLimitExceeded,
            format!(
                "{} tags given; one call takes at most {MAX_TAGS}",
                tags.len()
            ),
        ));
    }
    let invalid = |msg: String| ApiError::new(Exception::InvalidTag, msg);
    let mut keys = BTreeSet::new();
    for tag in tags {
        if tag.key.is_empty() {
            return Err(invalid(
                "a tag key is required; value-only tags are not allowed".into(),
            ));
        }
        if tag.key.chars().count() > MAX_KEY_LEN {
            return Err(invalid(format!(
                "tag key {:?} is longer than {MAX_KEY_LEN} characters",
                tag.key
            )));
        }
        if tag.value.chars().count() > MAX_VALUE_LEN {
            return Err(invalid(format!(
                "the value of tag {:?} is longer than {MAX_VALUE_LEN} characters",
                tag.key
            )));
        }
        if adding && !keys.insert(tag.key.as_str()) {
            return Err(invalid(format!(
                "tag key {:?} is given twice; give each key once",
                tag.key
            )));
        }
    }
    Ok(())
}

/// Fails with `InstanceNotRegisteredException` unless every instance is registered, and
/// locks their rows (PostgreSQL; SQLite's write transaction already excludes other writers)
/// so that a concurrent deregistration or tag change waits for this one. Rows are locked in
/// name order, so two calls never wait for each other in a cycle.
async fn lock_registered(txn: &DatabaseTransaction, names: &[String]) -> Result<(), ApiError> {
    let found: BTreeSet<String> = instance::Entity::find()
        .select_only()
        .column(instance::Column::Name)
        .filter(instance::Column::Name.is_in(names.iter().cloned()))
        .filter(instance::Column::DeregisterTime.is_null())
        .order_by_asc(instance::Column::Name)
        .lock_exclusive()
        .into_tuple()
        .all(txn)
        .await
        .map_err(internal)?
        .into_iter()
        .collect();
    match names.iter().find(|name| !found.contains(*name)) {
        Some(missing) => Err(not_registered(missing)),
        None => Ok(()),
    }
}

impl Registry {
    pub async fn add_tags_to_on_premises_instances(
        &self,
        req: pb::AddTagsToOnPremisesInstancesRequest,
    ) -> Result<pb::AddTagsToOnPremisesInstancesResponse, ApiError> {
        let names = check_instances(&req.instance_names)?;
        check_tags(&req.tags, true)?;
        let txn = begin_write(&self.writer).await?;
        lock_registered(&txn, &names).await?;
        let rows = names.iter().flat_map(|name| {
            req.tags.iter().map(move |tag| instance_tag::ActiveModel {
                instance_name: Set(name.clone()),
                key: Set(tag.key.clone()),
                value: Set(tag.value.clone()),
            })
        });
        instance_tag::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    instance_tag::Column::InstanceName,
                    instance_tag::Column::Key,
                ])
                .update_column(instance_tag::Column::Value)
                .to_owned(),
            )
            .exec(&txn)
            .await
            .map_err(internal)?;
        let owners: Vec<String> = instance_tag::Entity::find()
            .select_only()
            .column(instance_tag::Column::InstanceName)
            .filter(instance_tag::Column::InstanceName.is_in(names.iter().cloned()))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(internal)?;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for owner in &owners {
            *counts.entry(owner.as_str()).or_default() += 1;
        }
        if let Some((name, count)) = names.iter().find_map(|n| {
            counts
                .get(n.as_str())
                .filter(|c| **c > MAX_TAGS)
                .map(|c| (n, *c))
        }) {
            // Returning drops the transaction: nothing of this call is kept.
            return Err(ApiError::new(
                Exception::TagLimitExceeded,
                format!("instance {name:?} would carry {count} tags; an instance carries at most {MAX_TAGS}"),
            )
            .with_metadata("instance_name", name.as_str()));
        }
        txn.commit().await.map_err(internal)?;
        Ok(pb::AddTagsToOnPremisesInstancesResponse {})
    }

    pub async fn remove_tags_from_on_premises_instances(
        &self,
        req: pb::RemoveTagsFromOnPremisesInstancesRequest,
    ) -> Result<pb::RemoveTagsFromOnPremisesInstancesResponse, ApiError> {
        let names = check_instances(&req.instance_names)?;
        check_tags(&req.tags, false)?;
        let txn = begin_write(&self.writer).await?;
        lock_registered(&txn, &names).await?;
        let any_tag = req.tags.iter().fold(Condition::any(), |any, tag| {
            any.add(
                Condition::all()
                    .add(instance_tag::Column::Key.eq(&tag.key))
                    .add(instance_tag::Column::Value.eq(&tag.value)),
            )
        });
        instance_tag::Entity::delete_many()
            .filter(instance_tag::Column::InstanceName.is_in(names.iter().cloned()))
            .filter(any_tag)
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(pb::RemoveTagsFromOnPremisesInstancesResponse {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    fn reason<T>(result: Result<T, ApiError>) -> Option<&'static str> {
        result
            .err()
            .and_then(|e| e.exception())
            .map(Exception::name)
    }

    #[test]
    fn instance_names_are_required_bounded_and_deduplicated() {
        assert_eq!(
            reason(check_instances(&[])),
            Some("InstanceNameRequiredException")
        );
        let many: Vec<String> = (0..=MAX_INSTANCES).map(|i| format!("h{i}")).collect();
        assert_eq!(
            reason(check_instances(&many)),
            Some("InstanceLimitExceededException")
        );
        assert_eq!(
            reason(check_instances(&["a b".into()])),
            Some("InvalidInstanceNameException")
        );
        assert_eq!(
            check_instances(&["b".into(), "a".into(), "b".into()]).unwrap(),
            ["a", "b"]
        );
    }

    #[test]
    fn tags_are_required_bounded_and_well_formed() {
        assert_eq!(reason(check_tags(&[], true)), Some("TagRequiredException"));
        let many: Vec<Tag> = (0..=MAX_TAGS).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert_eq!(
            reason(check_tags(&many, false)),
            Some("TagLimitExceededException")
        );
        assert_eq!(
            reason(check_tags(&[tag("", "v")], false)),
            Some("InvalidTagException")
        );
        assert_eq!(
            reason(check_tags(&[tag(&"k".repeat(129), "v")], true)),
            Some("InvalidTagException")
        );
        assert_eq!(
            reason(check_tags(&[tag("k", &"v".repeat(257))], true)),
            Some("InvalidTagException")
        );
        let twice = [tag("k", "1"), tag("k", "2")];
        assert_eq!(
            reason(check_tags(&twice, true)),
            Some("InvalidTagException")
        );
        assert!(check_tags(&twice, false).is_ok());
        assert!(check_tags(&[tag("k", "")], true).is_ok());
    }
}
