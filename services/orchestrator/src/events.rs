//! The deployment event log: every status change and every hook output batch of a deployment,
//! stored before anyone is told, in one global order. WatchDeployment reads it from a client's
//! sequence number on, so a client that reconnects misses nothing and sees nothing twice.
//! Watchers in this process are woken by a watch channel carrying the last sequence appended
//! (across replicas, Redis will carry it).

use std::time::SystemTime;

use ferry_proto::deploy::v1::{WatchDeploymentResponse, watch_deployment_response::Event};
use prost::Message;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
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

    /// Stores `event` for `deployment_id` and wakes watchers; returns its sequence.
    pub async fn append(&self, deployment_id: &str, event: Event) -> Result<u64, DbErr> {
        let sequence = Self::append_in(&self.pools.write, deployment_id, event).await?;
        self.announce(sequence);
        Ok(sequence)
    }

    /// Stores `event` as part of the caller's transaction; [`announce`](Self::announce) the
    /// returned sequence once it commits.
    pub async fn append_in<C: ConnectionTrait>(
        db: &C,
        deployment_id: &str,
        event: Event,
    ) -> Result<u64, DbErr> {
        let now = SystemTime::now();
        let kind = kind(&event);
        let payload = WatchDeploymentResponse {
            sequence: 0,
            time: Some(now.into()),
            event: Some(event),
        }
        .encode_to_vec();
        let row = deployment_event::ActiveModel {
            deployment_id: Set(deployment_id.to_owned()),
            time: Set(micros(now)),
            kind: Set(kind.to_owned()),
            payload: Set(payload),
            ..Default::default()
        };
        let inserted = Entity::insert(row).exec(db).await?;
        Ok(u64::try_from(inserted.last_insert_id).unwrap_or(0))
    }

    /// Wakes watchers: events up to `sequence` are stored.
    pub fn announce(&self, sequence: u64) {
        self.appended.send_if_modified(|last| {
            let newer = sequence > *last;
            if newer {
                *last = sequence;
            }
            newer
        });
    }

    /// The last sequence stored for `deployment_id` (0 when none).
    pub async fn last_sequence(&self, deployment_id: &str) -> Result<u64, DbErr> {
        let row = Entity::find()
            .filter(Column::DeploymentId.eq(deployment_id))
            .order_by_desc(Column::Sequence)
            .one(&self.pools.read)
            .await?;
        Ok(row.map_or(0, |r| u64::try_from(r.sequence).unwrap_or(0)))
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
            .filter(Column::Sequence.gt(i64::try_from(after).unwrap_or(i64::MAX)));
        if !include_output {
            query = query.filter(Column::Kind.ne("hook_output"));
        }
        let rows = query
            .order_by_asc(Column::Sequence)
            .limit(limit)
            .all(&self.pools.read)
            .await?;
        rows.into_iter()
            .map(|row| {
                let mut event = WatchDeploymentResponse::decode(row.payload.as_slice())
                    .map_err(|e| DbErr::Custom(format!("event {}: {e}", row.sequence)))?;
                event.sequence = u64::try_from(row.sequence).unwrap_or(0);
                Ok(event)
            })
            .collect()
    }

    /// Changes whenever an event is appended in this process (its value: the last sequence).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }
}
