//! Commands to agents, in the database: a command is a row before it is a message, and a result
//! is applied once, keyed by the command id, whichever way (Hello or stream, once or twice) it
//! arrives.

use ferry_proto::agent::v1::{Command, CommandResult};
use prost::Message;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use super::writer::{Write, Writer};
use crate::deployments::stored::StoredDiagnostics;

use crate::store::entities::agent_command::{self, Column, Entity};
use crate::store::{Pools, now_micros};

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const ACKNOWLEDGED: &str = "acknowledged";
/// The result is stored; the deployment's task has not applied it yet.
pub const FINISHED: &str = "finished";
/// The deployment's task has applied the result.
pub const APPLIED: &str = "applied";
/// The orchestrator gave up on the command (stop, time limit): the session tells the agent.
pub const CANCELLING: &str = "cancelling";
/// The agent was told to cancel; its result, if one comes, is stored and then ignored.
pub const CANCEL_SENT: &str = "cancel_sent";
/// States in which a result is still awaited.
pub(super) const AWAITING_RESULT: &[&str] = &[PENDING, SENT, ACKNOWLEDGED, CANCELLING, CANCEL_SENT];

/// What recording a result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time: the result is now stored.
    New,
    /// Already stored; nothing changed.
    Duplicate,
    /// No command of this instance has that id.
    Unknown,
}

/// The row of a new command for `instance_name` (pending).
pub fn command_row(
    instance_name: &str,
    target_id: &str,
    command: &Command,
) -> agent_command::ActiveModel {
    let deadline = command.deadline.as_ref().map(|t| {
        t.seconds
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(t.nanos / 1000))
    });
    agent_command::ActiveModel {
        command_id: Set(command.command_id.clone()),
        deployment_id: Set(command.deployment_id.clone()),
        target_id: Set(target_id.to_owned()),
        instance_name: Set(instance_name.to_owned()),
        lifecycle_event: Set(command.lifecycle_event.clone()),
        attempt: Set(i32::try_from(command.attempt).unwrap_or(i32::MAX)),
        state: Set(PENDING.to_owned()),
        created_at: Set(now_micros()),
        deadline: Set(deadline),
        sent_at: Set(None),
        acknowledged_at: Set(None),
        finished_at: Set(None),
        result: Set(None),
        command: Set(command.encode_to_vec()),
    }
}

/// Stores a command for `instance_name` as part of the caller's transaction, to be pushed once
/// it commits and the agent is connected.
pub async fn enqueue_in<C: ConnectionTrait>(
    db: &C,
    instance_name: &str,
    target_id: &str,
    command: &Command,
) -> Result<(), DbErr> {
    Entity::insert(command_row(instance_name, target_id, command))
        .exec(db)
        .await
        .map(drop)
}

/// Moves `command_id` from one of `from` to `to`, in the caller's transaction.
pub async fn set_state_in<C: ConnectionTrait>(
    db: &C,
    command_id: &str,
    from: &[&str],
    to: &str,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value(to))
        .filter(Column::CommandId.eq(command_id))
        .filter(Column::State.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

#[derive(Clone)]
pub struct Commands {
    pools: Pools,
    writer: Writer,
}

impl Commands {
    /// Commands in `pools`; starts the task that writes the sessions' updates (so it needs a
    /// Tokio runtime).
    pub fn new(pools: Pools) -> Self {
        Self {
            writer: Writer::start(pools.clone()),
            pools,
        }
    }

    /// Stores a command for `instance_name`, to be pushed when its agent is connected.
    pub async fn enqueue(
        &self,
        instance_name: &str,
        target_id: &str,
        command: &Command,
    ) -> Result<(), DbErr> {
        enqueue_in(&self.pools.write, instance_name, target_id, command).await
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// The row of `command_id`.
    pub async fn find(&self, command_id: &str) -> Result<Option<agent_command::Model>, DbErr> {
        Entity::find_by_id(command_id.to_owned())
            .one(&self.pools.read)
            .await
    }

    /// Commands of `instance_name` in the given states, oldest first.
    pub async fn in_states(
        &self,
        instance_name: &str,
        states: &[&str],
    ) -> Result<Vec<Command>, DbErr> {
        let rows = Entity::find()
            .filter(Column::InstanceName.eq(instance_name))
            .filter(Column::State.is_in(states.iter().copied()))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::CommandId)
            .all(&self.pools.read)
            .await?;
        rows.into_iter()
            .map(|row| {
                Command::decode(row.command.as_slice())
                    .map_err(|e| DbErr::Custom(format!("command {}: {e}", row.command_id)))
            })
            .collect()
    }

    /// Notes that `command_id` was pushed (written with the next batch).
    pub async fn mark_sent(&self, command_id: &str) -> Result<(), DbErr> {
        self.writer.send(Write::Sent(command_id.to_owned())).await
    }

    /// Notes the agent's acknowledgement of `command_id` (written with the next batch).
    pub async fn acknowledge(&self, command_id: &str) -> Result<(), DbErr> {
        self.writer
            .send(Write::Acknowledged(command_id.to_owned()))
            .await
    }

    /// Stores `result` if it belongs to a command of `instance_name` that has none yet.
    pub async fn record_result(
        &self,
        instance_name: &str,
        result: &CommandResult,
    ) -> Result<Recorded, DbErr> {
        self.record_result_of(instance_name, result)
            .await
            .map(|(recorded, _)| recorded)
    }

    /// [`record_result`](Self::record_result), with the command's deployment when it was new.
    /// Returns once the result is committed (with its batch).
    pub async fn record_result_of(
        &self,
        instance_name: &str,
        result: &CommandResult,
    ) -> Result<(Recorded, Option<String>), DbErr> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer
            .send(Write::Result {
                instance: instance_name.to_owned(),
                result: result.clone(),
                reply,
            })
            .await?;
        answer
            .await
            .map_err(|_| DbErr::Custom("the command writer has stopped".to_owned()))?
    }

    /// The stored result of a command, if it finished.
    pub async fn result(&self, command_id: &str) -> Result<Option<StoredResult>, DbErr> {
        let row = Entity::find_by_id(command_id.to_owned())
            .one(&self.pools.read)
            .await?;
        row.and_then(|row| row.result)
            .map(|json| serde_json::from_str(&json).map_err(|e| DbErr::Custom(e.to_string())))
            .transpose()
    }

    /// The command's state (`pending`, `sent`, `acknowledged`, `finished`).
    pub async fn state(&self, command_id: &str) -> Result<Option<String>, DbErr> {
        Ok(Entity::find_by_id(command_id.to_owned())
            .one(&self.pools.read)
            .await?
            .map(|row| row.state))
    }
}

/// A command's result as stored: CodeDeploy's LifecycleEventStatus and Diagnostics values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResult {
    pub status: String,
    #[serde(flatten)]
    pub diagnostics: StoredDiagnostics,
}

impl From<&CommandResult> for StoredResult {
    fn from(result: &CommandResult) -> Self {
        use ferry_proto::codedeploy::CodeDeployName;
        use ferry_proto::common::v1::LifecycleEventStatus;
        let status = LifecycleEventStatus::try_from(result.status)
            .ok()
            .and_then(CodeDeployName::codedeploy_name)
            .unwrap_or("Unknown");
        let diagnostics = result.diagnostics.clone().unwrap_or_default();
        Self {
            status: status.to_owned(),
            diagnostics: StoredDiagnostics::from(&diagnostics),
        }
    }
}
