//! The deployment event log: every status change and every hook output batch of a deployment,
//! stored before anyone is told. Each deployment's events are numbered 1, 2, … (the
//! `sequence` WatchDeployment sends), and a number is given only once the one before it has
//! committed: the counter row is locked by the appending transaction. WatchDeployment reads the
//! log from a client's sequence on, so a client that reconnects misses nothing and sees nothing
//! twice. Watchers in this process are woken by a watch channel counting appends (across
//! replicas, Redis will carry it).

use std::time::SystemTime;

use ferry_proto::deploy::v1::{WatchDeploymentResponse, watch_deployment_response::Event};
use prost::Message;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use tokio::sync::watch;

use crate::store::entities::deployment_event::{self, Column, Entity};
use crate::store::{Pools, micros};

/// The stored kind of each event variant.
pub fn kind(event: &Event) -> &'static str {
    match event {
        Event::DeploymentStatusChanged(_) => "deployment_status_changed",
        Event::TargetStatusChanged(_) => "target_status_changed",
        Event::LifecycleEventChanged(_) => "lifecycle_event_changed",
        Event::HookOutput(_) => "hook_output",
    }
}

#[derive(Clone)]
pub struct EventLog {
    pools: Pools,
    appended: watch::Sender<u64>,
}

impl EventLog {
    pub fn new(pools: Pools) -> Self {
        Self {
            pools,
            appended: watch::Sender::new(0),
        }
    }

    /// Stores `event` for `deployment_id` in a transaction of its own and wakes watchers;
    /// returns its sequence.
    pub async fn append(&self, deployment_id: &str, event: Event) -> Result<u64, DbErr> {
        let txn = self.pools.write.begin().await?;
        let sequence = Self::append_in(&txn, deployment_id, event).await?;
        txn.commit().await?;
        self.announce();
        Ok(sequence)
    }

    /// Stores `event` as part of the caller's transaction (which must be one: the position
    /// counter stays locked until it commits); [`announce`](Self::announce) once it has
    /// committed. Returns the event's sequence in its deployment.
    pub async fn append_in<C: ConnectionTrait>(
        db: &C,
        deployment_id: &str,
        event: Event,
    ) -> Result<u64, DbErr> {
        Self::append_many_in(db, deployment_id, vec![event]).await
    }

    /// [`append_in`](Self::append_in) for several events of one deployment, in order, with
    /// one counter update and multi-row inserts. Returns the last sequence (0 for none).
    pub async fn append_many_in<C: ConnectionTrait>(
        db: &C,
        deployment_id: &str,
        events: Vec<Event>,
    ) -> Result<u64, DbErr> {
        if events.is_empty() {
            return Ok(0);
        }
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let first = reserve_positions(db, deployment_id, count).await?;
        let now = SystemTime::now();
        let rows: Vec<_> = events
            .into_iter()
            .zip(first..)
            .map(|(event, position)| {
                let kind = kind(&event);
                let payload = WatchDeploymentResponse {
                    sequence: 0,
                    time: Some(now.into()),
                    event: Some(event),
                }
                .encode_to_vec();
                deployment_event::ActiveModel {
                    deployment_id: Set(deployment_id.to_owned()),
                    time: Set(micros(now)),
                    kind: Set(kind.to_owned()),
                    payload: Set(payload),
                    position: Set(Some(position)),
                    ..Default::default()
                }
            })
            .collect();
        // Rows per INSERT: well under either back end's bind-parameter limit.
        for chunk in rows.chunks(500) {
            Entity::insert_many(chunk.to_vec()).exec(db).await?;
        }
        Ok(u64::try_from(first + count - 1).unwrap_or(0))
    }

    /// Wakes watchers: events were stored.
    pub fn announce(&self) {
        self.appended
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// The last sequence stored for `deployment_id` (0 when none).
    pub async fn last_sequence(&self, deployment_id: &str) -> Result<u64, DbErr> {
        let row = Entity::find()
            .filter(Column::DeploymentId.eq(deployment_id))
            .order_by_desc(Column::Position)
            .one(&self.pools.read)
            .await?;
        Ok(row
            .and_then(|r| r.position)
            .map_or(0, |p| u64::try_from(p).unwrap_or(0)))
    }

    /// Up to `limit` events of `deployment_id` after `after`, in order.
    pub async fn read_after(
        &self,
        deployment_id: &str,
        after: u64,
        include_output: bool,
        limit: u64,
    ) -> Result<Vec<WatchDeploymentResponse>, DbErr> {
        let mut query = Entity::find()
            .filter(Column::DeploymentId.eq(deployment_id))
            .filter(Column::Position.gt(i64::try_from(after).unwrap_or(i64::MAX)));
        if !include_output {
            query = query.filter(Column::Kind.ne("hook_output"));
        }
        let rows = query
            .order_by_asc(Column::Position)
            .limit(limit)
            .all(&self.pools.read)
            .await?;
        rows.into_iter()
            .map(|row| {
                let mut event = WatchDeploymentResponse::decode(row.payload.as_slice())
                    .map_err(|e| DbErr::Custom(format!("event {}: {e}", row.sequence)))?;
                event.sequence = row.position.map_or(0, |p| u64::try_from(p).unwrap_or(0));
                Ok(event)
            })
            .collect()
    }

    /// Changes whenever events are appended in this process (its value counts appends).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }
}

/// Takes the next `count` positions of `deployment_id`'s log, locking its counter row until
/// the caller's transaction ends; returns the first.
async fn reserve_positions<C: ConnectionTrait>(
    db: &C,
    deployment_id: &str,
    count: i64,
) -> Result<i64, DbErr> {
    let bump = Query::update()
        .table("event_counters")
        .value("last", Expr::col("last").add(count))
        .and_where(Expr::col("deployment_id").eq(deployment_id))
        .returning_col("last")
        .to_owned();
    if let Some(row) = db.query_one(&bump).await? {
        return Ok(row.try_get_by_index::<i64>(0)? - count + 1);
    }
    // The deployment's first events: no counter yet. Inserted within the creating
    // transaction, so no other writer can race for it.
    let first = Query::insert()
        .into_table("event_counters")
        .columns(["deployment_id", "last"])
        .values_panic([deployment_id.into(), count.into()])
        .to_owned();
    db.execute(&first).await?;
    Ok(1)
}
