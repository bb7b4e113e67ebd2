//! Group commit for what agent sessions write: "sent", acknowledgements and results from every
//! session go through one queue, and a single task writes whatever has queued up in one
//! transaction. With a thousand agents reporting at once this turns thousands of one-row
//! commits (SQLite has a single writer) into a few dozen, which is what keeps command dispatch
//! fast. A result is acknowledged to its agent only after its batch has committed.

use std::collections::HashMap;

use ferry_proto::agent::v1::CommandResult;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::commands::{
    ACKNOWLEDGED, AWAITING_RESULT, FINISHED, PENDING, Recorded, SENT, StoredResult,
};
use crate::store::entities::agent_command::{Column, Entity};
use crate::store::{Pools, now_micros};

/// Writes taken into one transaction at most.
const BATCH: usize = 1024;
/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

pub type ResultReply = oneshot::Sender<Result<(Recorded, Option<String>), DbErr>>;

pub enum Write {
    Sent(String),
    Acknowledged(String),
    Result {
        instance: String,
        result: CommandResult,
        reply: ResultReply,
    },
}

/// The queue's sending side; the writing task ends when every clone is dropped.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Write>,
}

impl Writer {
    /// Starts the writing task (needs a Tokio runtime).
    pub fn start(pools: Pools) -> Self {
        let (queue, receiver) = mpsc::channel(4 * BATCH);
        tokio::spawn(run(pools, receiver));
        Self { queue }
    }

    pub async fn send(&self, write: Write) -> Result<(), DbErr> {
        self.queue
            .send(write)
            .await
            .map_err(|_| DbErr::Custom("the command writer has stopped".to_owned()))
    }
}

async fn run(pools: Pools, mut receiver: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        write(&pools, std::mem::take(&mut batch)).await;
    }
}

async fn write(pools: &Pools, batch: Vec<Write>) {
    let mut sent = Vec::new();
    let mut acknowledged = Vec::new();
    let mut results = Vec::new();
    for write in batch {
        match write {
            Write::Sent(id) => sent.push(id),
            Write::Acknowledged(id) => acknowledged.push(id),
            Write::Result {
                instance,
                result,
                reply,
            } => results.push((instance, result, reply)),
        }
    }
    let outcome = async {
        let txn = pools.write.begin().await?;
        advance(&txn, &sent, &[PENDING], SENT, Column::SentAt).await?;
        advance(
            &txn,
            &acknowledged,
            &[PENDING, SENT],
            ACKNOWLEDGED,
            Column::AcknowledgedAt,
        )
        .await?;
        let recorded = record(&txn, &results).await?;
        txn.commit().await?;
        Ok::<_, DbErr>(recorded)
    }
    .await;
    match outcome {
        Ok(recorded) => {
            for ((_, _, reply), recorded) in results.into_iter().zip(recorded) {
                let _ = reply.send(Ok(recorded));
            }
        }
        Err(error) => {
            tracing::error!(%error, "could not store the agents' acknowledgements and results");
            for (_, _, reply) in results {
                let _ = reply.send(Err(DbErr::Custom(error.to_string())));
            }
        }
    }
}

/// Moves the commands in `ids` that are in one of `from` to `to`, stamping `at`.
async fn advance(
    txn: &DatabaseTransaction,
    ids: &[String],
    from: &[&str],
    to: &str,
    at: Column,
) -> Result<(), DbErr> {
    let now = now_micros();
    for chunk in ids.chunks(CHUNK) {
        Entity::update_many()
            .col_expr(Column::State, Expr::value(to))
            .col_expr(at, Expr::value(now))
            .filter(Column::CommandId.is_in(chunk.iter().cloned()))
            .filter(Column::State.is_in(from.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Stores each result whose command belongs to its instance and has none yet (a repeat
/// changes nothing); says for each what happened, and the deployment of the new ones.
async fn record(
    txn: &DatabaseTransaction,
    results: &[(String, CommandResult, ResultReply)],
) -> Result<Vec<(Recorded, Option<String>)>, DbErr> {
    let now = now_micros();
    let mut updated = Vec::with_capacity(results.len());
    for (instance, result, _) in results {
        let json = serde_json::to_string(&StoredResult::from(result))
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let changed = Entity::update_many()
            .col_expr(Column::State, Expr::value(FINISHED))
            .col_expr(Column::FinishedAt, Expr::value(now))
            .col_expr(Column::Result, Expr::value(json))
            .filter(Column::CommandId.eq(result.command_id.as_str()))
            .filter(Column::InstanceName.eq(instance.as_str()))
            .filter(Column::State.is_in(AWAITING_RESULT.iter().copied()))
            .exec(txn)
            .await?;
        updated.push(changed.rows_affected > 0);
    }
    let mut owners: HashMap<String, (String, String)> = HashMap::new();
    let ids: Vec<String> = results
        .iter()
        .map(|(_, r, _)| r.command_id.clone())
        .collect();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, String, String)> = Entity::find()
            .select_only()
            .column(Column::CommandId)
            .column(Column::InstanceName)
            .column(Column::DeploymentId)
            .filter(Column::CommandId.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(txn)
            .await?;
        for (id, instance, deployment) in rows {
            owners.insert(id, (instance, deployment));
        }
    }
    Ok(results
        .iter()
        .zip(updated)
        .map(
            |((instance, result, _), new)| match owners.get(&result.command_id) {
                Some((owner, deployment)) if owner == instance => {
                    if new {
                        (Recorded::New, Some(deployment.clone()))
                    } else {
                        (Recorded::Duplicate, None)
                    }
                }
                _ => (Recorded::Unknown, None),
            },
        )
        .collect())
}
