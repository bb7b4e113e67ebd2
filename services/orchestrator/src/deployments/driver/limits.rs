//! The time limits of a deployment: its maximum duration, the time an agent has to take a
//! command, the grace an agent that dropped its stream gets, and each command's deadline.

use std::collections::HashMap;
use std::time::Duration;

use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::{ErrorCode, TargetStatus};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect};
use tokio::time::Instant;

use crate::agents::commands::{ACKNOWLEDGED, PENDING, SENT};
use crate::store::entities::agent_command;
use crate::store::now_micros;

use super::super::outbox::Outbox;
use super::Driver;

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs())
}

impl Driver {
    pub(super) async fn check_limits(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
    ) -> Result<(), DbErr> {
        let limits = self.ctx.limits.clone();
        let now = now_micros();
        if now.saturating_sub(self.row.create_time) > micros(limits.deployment_timeout) {
            let message = format!(
                "The deployment did not complete within its maximum duration of {}.",
                seconds(limits.deployment_timeout)
            );
            for t in 0..self.targets.len() {
                self.fail_running(txn, out, t, message.clone(), false)
                    .await?;
            }
            self.skip_pending(txn, out).await?;
            let rollback = self.rolls_back_on_failure();
            return self
                .finish(
                    txn,
                    out,
                    DeploymentStatus::Failed,
                    Some((ErrorCode::Timeout, message)),
                    rollback,
                )
                .await;
        }
        if !self
            .targets
            .iter()
            .any(|t| t.status == TargetStatus::InProgress)
        {
            return Ok(());
        }
        let states: HashMap<String, String> = agent_command::Entity::find()
            .select_only()
            .column(agent_command::Column::CommandId)
            .column(agent_command::Column::State)
            .filter(agent_command::Column::DeploymentId.eq(self.row.id.as_str()))
            .filter(agent_command::Column::State.is_in([PENDING, SENT, ACKNOWLEDGED]))
            .into_tuple::<(String, String)>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let instant = Instant::now();
        for t in 0..self.targets.len() {
            let connected = self.ctx.sessions.presence.is_connected(&self.targets[t].id);
            let target = &mut self.targets[t];
            let Some(running) = target.running.as_mut() else {
                continue;
            };
            let Some(state) = states.get(&running.command_id) else {
                continue;
            };
            if connected {
                running.disconnected_since = None;
            } else if running.disconnected_since.is_none() {
                running.disconnected_since = Some(instant);
            }
            let event = &target.steps[running.ordinal].name;
            let failure = if matches!(state.as_str(), PENDING | SENT)
                && running.since.elapsed() > limits.event_start_timeout
            {
                Some(format!(
                    "The agent on {} did not start {event} within {}.",
                    target.id,
                    seconds(limits.event_start_timeout)
                ))
            } else if matches!(state.as_str(), SENT | ACKNOWLEDGED)
                && running
                    .disconnected_since
                    .is_some_and(|since| since.elapsed() > limits.agent_grace)
            {
                Some(format!(
                    "The agent on {} lost its connection while running {event} and did not \
                     reconnect within {}.",
                    target.id,
                    seconds(limits.agent_grace)
                ))
            } else if now
                > running
                    .deadline
                    .saturating_add(micros(super::step::DEADLINE_GRACE))
            {
                Some(format!(
                    "The agent on {} did not report {event} by the event's deadline.",
                    target.id
                ))
            } else {
                None
            };
            if let Some(message) = failure {
                tracing::warn!(target_id = %target.id, %message, "lifecycle event failed on a time limit");
                self.fail_running(txn, out, t, message, true).await?;
            }
        }
        Ok(())
    }
}
