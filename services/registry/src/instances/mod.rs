//! On-premises instances: RegisterOnPremisesInstance, DeregisterOnPremisesInstance,
//! GetOnPremisesInstance, BatchGetOnPremisesInstances, ListOnPremisesInstances,
//! AddTagsToOnPremisesInstances, RemoveTagsFromOnPremisesInstances, and for the orchestrator
//! AuthenticateOnPremisesInstance and [`registered_matching`].
//!
//! As in CodeDeploy, a deregistered instance keeps its row (and its tags): Get, BatchGet and
//! List still return it, with `deregister_time` set. It is never deployed to, its credential
//! stops working, and its tags can no longer be changed. Registering its name again replaces
//! it with a fresh record (see `register.rs`).

mod credential;
mod list;
mod register;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use chrono::Utc;
use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1 as pb;
use sea_orm::sea_query::{Expr, IntoCondition, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use ferry_runtime::error::{ApiError, Exception};

use crate::Registry;
use crate::arn::ArnConfig;
use crate::convert::timestamp;
use crate::names::{self, NameKind};
use crate::store::entities::{instance, instance_tag};
use crate::store::internal;
use crate::tag_filters::InstanceSelector;

/// `InstanceNotRegisteredException` for a name that is unknown or deregistered.
fn not_registered(name: &str) -> ApiError {
    ApiError::new(
        Exception::InstanceNotRegistered,
        format!("instance {name:?} is not registered"),
    )
    .with_metadata("instance_name", name)
}

/// A stored instance and its tags on the wire.
fn info(arns: &ArnConfig, row: instance::Model, mut tags: Vec<Tag>) -> pb::InstanceInfo {
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    pb::InstanceInfo {
        instance_arn: arns.instance(&row.name),
        instance_name: row.name,
        iam_session_arn: row.iam_session_arn.unwrap_or_default(),
        iam_user_arn: row.iam_user_arn.unwrap_or_default(),
        register_time: Some(timestamp(row.register_time)),
        deregister_time: row.deregister_time.map(timestamp),
        tags,
    }
}

/// The tags of the instances `filter` picks, by instance name, in one query.
async fn load_tags(
    conn: &impl ConnectionTrait,
    filter: impl IntoCondition,
) -> Result<HashMap<String, Vec<Tag>>, ApiError> {
    let rows = instance_tag::Entity::find()
        .filter(filter)
        .order_by_asc(instance_tag::Column::InstanceName)
        .order_by_asc(instance_tag::Column::Key)
        .all(conn)
        .await
        .map_err(internal)?;
    let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
    for row in rows {
        tags.entry(row.instance_name).or_default().push(Tag {
            key: row.key,
            value: row.value,
        });
    }
    Ok(tags)
}

/// Attaches their tags to instance rows, keeping the rows' order.
fn with_tags(
    arns: &ArnConfig,
    rows: Vec<instance::Model>,
    mut tags: HashMap<String, Vec<Tag>>,
) -> Vec<pb::InstanceInfo> {
    rows.into_iter()
        .map(|row| {
            let own = tags.remove(&row.name).unwrap_or_default();
            info(arns, row, own)
        })
        .collect()
}

/// The row of an instance, registered or not.
async fn find(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<instance::Model>, ApiError> {
    instance::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await
        .map_err(internal)
}

/// The registered (not deregistered) instances the selector picks, sorted by name, each with
/// its tags: two queries, whatever the number of instances.
pub(crate) async fn registered_matching(
    conn: &impl ConnectionTrait,
    arns: &ArnConfig,
    selector: &InstanceSelector,
) -> Result<Vec<pb::InstanceInfo>, ApiError> {
    let mut rows = instance::Entity::find()
        .filter(instance::Column::DeregisterTime.is_null())
        .all(conn)
        .await
        .map_err(internal)?;
    let registered = Query::select()
        .column(instance::Column::Name)
        .from(instance::Entity)
        .and_where(instance::Column::DeregisterTime.is_null())
        .to_owned();
    let mut tags = load_tags(
        conn,
        instance_tag::Column::InstanceName.in_subquery(registered),
    )
    .await?;
    // Sorted here, not by the database, so the order is the same on every back end.
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let mut selected = Vec::new();
    for row in rows {
        let own = tags.remove(&row.name).unwrap_or_default();
        let pairs: Vec<(String, String)> = own
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        if selector.matches(&pairs) {
            selected.push(info(arns, row, own));
        }
    }
    Ok(selected)
}

impl Registry {
    /// Marks the instance deregistered: its credential stops working and no deployment
    /// targets it, but it stays listed with its tags, as in CodeDeploy. The model names no
    /// "not registered" error for this call, so deregistering an unknown or already
    /// deregistered instance succeeds and changes nothing (the first deregister time stays).
    pub async fn deregister_on_premises_instance(
        &self,
        req: pb::DeregisterOnPremisesInstanceRequest,
    ) -> Result<pb::DeregisterOnPremisesInstanceResponse, ApiError> {
        names::check(NameKind::Instance, &req.instance_name)?;
        instance::Entity::update_many()
            .col_expr(instance::Column::DeregisterTime, Expr::value(Utc::now()))
            .filter(instance::Column::Name.eq(&req.instance_name))
            .filter(instance::Column::DeregisterTime.is_null())
            // A write: through the write pool (SQLite's single writer), not the read pool.
            .exec(&self.writer)
            .await
            .map_err(internal)?;
        Ok(pb::DeregisterOnPremisesInstanceResponse {})
    }

    /// A registered or deregistered instance; `InstanceNotRegisteredException` when the name
    /// was never registered.
    pub async fn get_on_premises_instance(
        &self,
        req: pb::GetOnPremisesInstanceRequest,
    ) -> Result<pb::GetOnPremisesInstanceResponse, ApiError> {
        names::check(NameKind::Instance, &req.instance_name)?;
        let row = find(&self.db, &req.instance_name)
            .await?
            .ok_or_else(|| not_registered(&req.instance_name))?;
        let mut tags = load_tags(
            &self.db,
            instance_tag::Column::InstanceName.eq(&req.instance_name),
        )
        .await?;
        let own = tags.remove(&req.instance_name).unwrap_or_default();
        Ok(pb::GetOnPremisesInstanceResponse {
            instance_info: Some(info(&self.arns, row, own)),
        })
    }

    /// The instances asked for, in the order asked, each once; names that were never
    /// registered are left out, as CodeDeploy does.
    pub async fn batch_get_on_premises_instances(
        &self,
        req: pb::BatchGetOnPremisesInstancesRequest,
    ) -> Result<pb::BatchGetOnPremisesInstancesResponse, ApiError> {
        names::check_batch(NameKind::Instance, &req.instance_names)?;
        let names = req.instance_names;
        let rows = instance::Entity::find()
            .filter(instance::Column::Name.is_in(names.iter().cloned()))
            .all(&self.db)
            .await
            .map_err(internal)?;
        let tags = load_tags(
            &self.db,
            instance_tag::Column::InstanceName.is_in(names.iter().cloned()),
        )
        .await?;
        let mut by_name: HashMap<String, instance::Model> =
            rows.into_iter().map(|r| (r.name.clone(), r)).collect();
        // Asked order; `remove` also drops a name asked for twice.
        let ordered = names
            .iter()
            .filter_map(|name| by_name.remove(name))
            .collect();
        Ok(pb::BatchGetOnPremisesInstancesResponse {
            instance_infos: with_tags(&self.arns, ordered, tags),
        })
    }
}
