//! Deployment triggers as webhooks. A deployment group's `trigger_configurations` name, for
//! each trigger, a URL (ferry's stand-in for CodeDeploy's SNS topic) and the CodeDeploy
//! events it wants. For each such event the orchestrator POSTs the JSON CodeDeploy would
//! publish ([`payload`]).
//!
//! - [`enqueue`] stores one `pending` row per interested trigger in the caller's transaction,
//!   so a state change and its notifications commit together.
//! - [`Deliveries`] POSTs them from the database (`delivery.rs`): in order per deployment and
//!   trigger, retried with backoff, every attempt recorded. A webhook that is slow or gone
//!   never slows the deployment, which only ever writes rows.

mod delivery;
pub mod payload;

use std::sync::atomic::{AtomicI64, Ordering};

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::registry::v1::{TriggerConfig, TriggerEventType};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

pub use delivery::{Deliveries, DeliverySettings};
pub use payload::{DeploymentNotice, Identity, InstanceNotice, LifecycleNotice, Notice, Overview};

use crate::store::entities::trigger_delivery::{self, Column, Entity};
use crate::store::{Pools, now_micros};

/// A delivery not yet made: due at `next_attempt_at`.
pub const PENDING: &str = "pending";
/// A webhook answered 2xx.
pub const DELIVERED: &str = "delivered";
/// Every attempt failed (or the URL cannot be posted to).
pub const FAILED: &str = "failed";

/// Stores, in `db` (the caller's transaction), a pending delivery of `notice` to each trigger
/// whose events include `event`; returns how many. Call [`Deliveries::wake`] once the
/// transaction has committed.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    identity: &Identity,
    triggers: &[TriggerConfig],
    event: TriggerEventType,
    notice: &Notice,
) -> Result<usize, DbErr> {
    let Some(event_name) = event.codedeploy_name() else {
        return Ok(0);
    };
    debug_assert_eq!(
        event_name.starts_with("Instance"),
        matches!(notice, Notice::Instance(_)),
        "{event_name} with the wrong kind of notice"
    );
    let now = now_micros();
    let rows: Vec<trigger_delivery::ActiveModel> = triggers
        .iter()
        .filter(|t| t.trigger_events.contains(&(event as i32)))
        .map(|t| trigger_delivery::ActiveModel {
            id: Set(next_id()),
            deployment_id: Set(notice.deployment_id().to_owned()),
            trigger_name: Set(t.trigger_name.clone()),
            event_type: Set(event_name.to_owned()),
            target_url: Set(t.trigger_target_arn.clone()),
            payload: Set(payload::render(identity, &t.trigger_name, notice)),
            attempts: Set(0),
            state: Set(PENDING.to_owned()),
            next_attempt_at: Set(now),
            last_error: Set(None),
            created_at: Set(now),
        })
        .collect();
    let count = rows.len();
    if count > 0 {
        Entity::insert_many(rows).exec(db).await?;
    }
    Ok(count)
}

/// Every delivery of `deployment_id`, in enqueue order.
pub async fn deliveries_of(
    pools: &Pools,
    deployment_id: &str,
) -> Result<Vec<trigger_delivery::Model>, DbErr> {
    Entity::find()
        .filter(Column::DeploymentId.eq(deployment_id))
        .order_by_asc(Column::Id)
        .all(&pools.read)
        .await
}

/// A delivery id that sorts after every id this process made before: a strictly increasing
/// microsecond stamp (the clock, or one more than the last stamp when the clock has not moved
/// on or went back), zero-padded to a fixed width, then a random suffix so that two
/// processes sharing a database never collide.
fn next_id() -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = now_micros();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last.saturating_add(1)))
        })
        .unwrap_or(now);
    let stamp = now.max(previous.saturating_add(1));
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{stamp:019}-{}", &random[..8])
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| super::next_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }
}
