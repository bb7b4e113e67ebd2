//! Commands to agents, in the database: a command is a row before it is a message, and a result
//! is applied once, keyed by the command id, whichever way (Hello or stream, once or twice) it
//! arrives.

use ferry_proto::agent::v1::{Command, CommandResult};
use prost::Message;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::store::entities::agent_command::{self, Column, Entity};
use crate::store::{Pools, now_micros};

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const ACKNOWLEDGED: &str = "acknowledged";
pub const FINISHED: &str = "finished";

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

#[derive(Clone)]
pub struct Commands {
    pools: Pools,
}

impl Commands {
    pub fn new(pools: Pools) -> Self {
        Self { pools }
    }

    /// Stores a command for `instance_name`, to be pushed when its agent is connected.
    pub async fn enqueue(
        &self,
        instance_name: &str,
        target_id: &str,
        command: &Command,
    ) -> Result<(), DbErr> {
        let row = agent_command::ActiveModel {
            command_id: Set(command.command_id.clone()),
            deployment_id: Set(command.deployment_id.clone()),
            target_id: Set(target_id.to_owned()),
            instance_name: Set(instance_name.to_owned()),
            lifecycle_event: Set(command.lifecycle_event.clone()),
            attempt: Set(i32::try_from(command.attempt).unwrap_or(i32::MAX)),
            state: Set(PENDING.to_owned()),
            created_at: Set(now_micros()),
            deadline: Set(None),
            sent_at: Set(None),
            acknowledged_at: Set(None),
            finished_at: Set(None),
            result: Set(None),
            command: Set(command.encode_to_vec()),
        };
        Entity::insert(row).exec(&self.pools.write).await.map(drop)
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

    async fn advance(
        &self,
        command_id: &str,
        from: &[&str],
        to: &str,
        at: Column,
    ) -> Result<(), DbErr> {
        Entity::update_many()
            .col_expr(Column::State, Expr::value(to))
            .col_expr(at, Expr::value(now_micros()))
            .filter(Column::CommandId.eq(command_id))
            .filter(Column::State.is_in(from.iter().copied()))
            .exec(&self.pools.write)
            .await
            .map(drop)
    }

    pub async fn mark_sent(&self, command_id: &str) -> Result<(), DbErr> {
        self.advance(command_id, &[PENDING], SENT, Column::SentAt)
            .await
    }

    pub async fn acknowledge(&self, command_id: &str) -> Result<(), DbErr> {
        self.advance(
            command_id,
            &[PENDING, SENT],
            ACKNOWLEDGED,
            Column::AcknowledgedAt,
        )
        .await
    }

    /// Stores `result` if it belongs to a command of `instance_name` that has none yet.
    pub async fn record_result(
        &self,
        instance_name: &str,
        result: &CommandResult,
    ) -> Result<Recorded, DbErr> {
        let json = serde_json::to_string(&StoredResult::from(result))
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        // One conditional update: whoever applies it first wins, a repeat changes nothing.
        let updated = Entity::update_many()
            .col_expr(Column::State, Expr::value(FINISHED))
            .col_expr(Column::FinishedAt, Expr::value(now_micros()))
            .col_expr(Column::Result, Expr::value(json))
            .filter(Column::CommandId.eq(result.command_id.as_str()))
            .filter(Column::InstanceName.eq(instance_name))
            .filter(Column::State.ne(FINISHED))
            .exec(&self.pools.write)
            .await?;
        if updated.rows_affected > 0 {
            return Ok(Recorded::New);
        }
        let known = Entity::find_by_id(result.command_id.clone())
            .filter(Column::InstanceName.eq(instance_name))
            .one(&self.pools.read)
            .await?;
        Ok(if known.is_some() {
            Recorded::Duplicate
        } else {
            Recorded::Unknown
        })
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
    pub error_code: String,
    pub script_name: String,
    pub message: String,
    pub log_tail: String,
}

impl From<&CommandResult> for StoredResult {
    fn from(result: &CommandResult) -> Self {
        use ferry_proto::codedeploy::CodeDeployName;
        use ferry_proto::common::v1::{LifecycleErrorCode, LifecycleEventStatus};
        let status = LifecycleEventStatus::try_from(result.status)
            .ok()
            .and_then(CodeDeployName::codedeploy_name)
            .unwrap_or("Unknown");
        let diagnostics = result.diagnostics.clone().unwrap_or_default();
        let error_code = LifecycleErrorCode::try_from(diagnostics.error_code)
            .ok()
            .and_then(CodeDeployName::codedeploy_name)
            .unwrap_or("UnknownError");
        Self {
            status: status.to_owned(),
            error_code: error_code.to_owned(),
            script_name: diagnostics.script_name,
            message: diagnostics.message,
            log_tail: diagnostics.log_tail,
        }
    }
}
