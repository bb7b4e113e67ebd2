//! One step of a deployment: apply results, check limits, schedule; and the transitions of
//! targets and lifecycle events that steps are made of.

use std::time::{Duration, SystemTime};

use ferry_proto::agent::v1::{Command, Revision};
use ferry_proto::common::v1::{
    BundleType, DeploymentStatus, FileExistsBehavior, LifecycleEventStatus,
};
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    DeploymentOverview, ErrorCode, LifecycleEventChanged, StopDeploymentResponse, TargetStatus,
    TargetStatusChanged,
};
use ferry_proto::registry::v1::TriggerEventType;
use ferry_runtime::error::{ApiError, Exception};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use tokio::time::Instant;

use crate::agents::commands::{
    self, ACKNOWLEDGED, APPLIED, CANCELLING, FINISHED, PENDING, SENT, StoredResult,
};
use crate::health::{HealthError, Progress, Verdict};
use crate::store::entities::agent_command;
use crate::store::{micros, now_micros};

use super::super::lifecycle;
use super::super::outbox::Outbox;
use super::super::stored::{StoredDiagnostics, name, value};
use super::{Driver, Running};

pub(crate) type StopAnswer = Result<StopDeploymentResponse, ApiError>;

/// CodeDeploy's NO_INSTANCES message ("Error codes for CodeDeploy"), in ferry's words.
const NO_INSTANCES_MESSAGE: &str = "The deployment failed because no instances were found for \
    its deployment group: check that the instances are registered and that the group's \
    on-premises tag filters or tag set match them.";

/// How long after a command's deadline the orchestrator still waits for its result: the agent
/// stops the hooks at the deadline and needs a moment to report.
pub(super) const DEADLINE_GRACE: Duration = Duration::from_secs(30);

impl Driver {
    /// One transaction: results, an optional stop, limits, scheduling. Returns whether the
    /// deployment has ended, and the answer to a stop when one was asked.
    pub(super) async fn step(
        &mut self,
        stop: Option<Option<bool>>,
    ) -> Result<(bool, Option<StopAnswer>), DbErr> {
        let txn = self.ctx.pools.write.begin().await?;
        let mut out = Outbox::default();
        self.apply_results(&txn, &mut out).await?;
        let mut answer = None;
        if let Some(rollback) = stop {
            answer = Some(if self.is_terminal() {
                Err(already_completed(&self.row.id))
            } else {
                self.stop(&txn, &mut out, rollback).await?;
                Ok(StopDeploymentResponse {
                    status: ferry_proto::deploy::v1::StopStatus::Succeeded as i32,
                    status_message: format!("Deployment {} was stopped.", self.row.id),
                })
            });
        }
        if !self.is_terminal() {
            self.check_limits(&txn, &mut out).await?;
        }
        if !self.is_terminal() {
            self.schedule(&txn, &mut out).await?;
        }
        self.flush(&txn).await?;
        out.flush(&txn).await?;
        txn.commit().await?;
        out.deliver(&self.ctx);
        Ok((self.is_terminal(), answer))
    }

    /// Applies every result stored for this deployment since the last step.
    async fn apply_results(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
    ) -> Result<(), DbErr> {
        let finished = agent_command::Entity::find()
            .filter(agent_command::Column::DeploymentId.eq(self.row.id.as_str()))
            .filter(agent_command::Column::State.eq(FINISHED))
            .order_by_asc(agent_command::Column::FinishedAt)
            .all(txn)
            .await?;
        for command in finished {
            self.pending.applied.push(command.command_id.clone());
            // A result of a command given up on (stopped, timed out) changes nothing.
            let Some(t) = self.targets.iter().position(|t| {
                t.running
                    .as_ref()
                    .is_some_and(|r| r.command_id == command.command_id)
            }) else {
                continue;
            };
            let result: Option<StoredResult> = command
                .result
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok());
            let (succeeded, diagnostics) = match result {
                Some(r) => (r.status == "Succeeded", r.diagnostics),
                None => (
                    false,
                    StoredDiagnostics::unknown_error("the agent's result could not be read"),
                ),
            };
            let start = command
                .acknowledged_at
                .or(command.sent_at)
                .unwrap_or(command.created_at);
            let end = command.finished_at.unwrap_or_else(now_micros);
            self.event_finished(txn, out, t, succeeded, true, diagnostics, start, end)
                .await?;
        }
        Ok(())
    }

    /// Lets the health plan decide: start more targets, or end the deployment.
    async fn schedule(&mut self, txn: &DatabaseTransaction, out: &mut Outbox) -> Result<(), DbErr> {
        // A target whose running event lost its command (it was never stored before a crash,
        // or was given up on while the orchestrator was down) starts that event again.
        for t in 0..self.targets.len() {
            let target = &self.targets[t];
            if target.status == TargetStatus::InProgress
                && target.running.is_none()
                && let Some(ordinal) = target.current_ordinal()
            {
                self.start_event(out, t, ordinal);
            }
        }
        let plan = match &self.plan {
            Ok(plan) => *plan,
            Err(error) => {
                let (code, message) = match error {
                    HealthError::NoInstances => {
                        (ErrorCode::NoInstances, NO_INSTANCES_MESSAGE.to_owned())
                    }
                    HealthError::Invalid { message, .. } => {
                        (ErrorCode::HealthConstraintsInvalid, message.clone())
                    }
                };
                self.skip_pending(txn, out).await?;
                return self
                    .finish(
                        txn,
                        out,
                        DeploymentStatus::Failed,
                        Some((code, message)),
                        false,
                    )
                    .await;
            }
        };
        let progress = self.progress();
        match plan.verdict(&progress) {
            Verdict::Running => {
                let mut starts = plan.may_start(&progress);
                for t in 0..self.targets.len() {
                    if starts == 0 {
                        break;
                    }
                    if self.targets[t].status == TargetStatus::Pending {
                        self.start_target(txn, out, t).await?;
                        starts -= 1;
                    }
                }
                Ok(())
            }
            Verdict::Succeeded => {
                self.finish(txn, out, DeploymentStatus::Succeeded, None, false)
                    .await
            }
            Verdict::Failed { code: _, message } => {
                self.skip_pending(txn, out).await?;
                let error = match self.targets.iter().find_map(|t| t.agent_failure.clone()) {
                    Some(cause) => (
                        ErrorCode::AgentIssue,
                        format!(
                            "The deployment failed because of a problem with the ferry agent: {cause}"
                        ),
                    ),
                    None => (ErrorCode::HealthConstraints, message.to_owned()),
                };
                let rollback = self.rolls_back_on_failure();
                self.finish(txn, out, DeploymentStatus::Failed, Some(error), rollback)
                    .await
            }
        }
    }

    pub(super) fn progress(&self) -> Progress {
        let mut progress = Progress::new(0);
        progress.pending = 0;
        for target in &self.targets {
            match target.status {
                TargetStatus::Succeeded => progress.succeeded += 1,
                TargetStatus::Failed => progress.failed += 1,
                TargetStatus::InProgress => progress.in_progress += 1,
                TargetStatus::Skipped => progress.skipped += 1,
                _ => progress.pending += 1,
            }
        }
        progress
    }

    pub(super) fn overview(&self) -> DeploymentOverview {
        let p = self.progress();
        DeploymentOverview {
            pending: i64::from(p.pending),
            in_progress: i64::from(p.in_progress),
            succeeded: i64::from(p.succeeded),
            failed: i64::from(p.failed),
            skipped: i64::from(p.skipped),
            ready: 0,
        }
    }

    async fn start_target(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
        t: usize,
    ) -> Result<(), DbErr> {
        if self.row.status == name(DeploymentStatus::Created) {
            self.set_in_progress(txn, out).await?;
        }
        self.set_target(txn, out, t, TargetStatus::InProgress)
            .await?;
        self.start_event(out, t, 0);
        Ok(())
    }

    /// Creates the event's command (stored at the end of the step, pushed to the agent once
    /// the step commits).
    fn start_event(&mut self, out: &mut Outbox, t: usize, ordinal: usize) {
        let limits = &self.ctx.limits;
        let event = self.targets[t].steps[ordinal].name.clone();
        let timeout = self
            .timeouts
            .get(&event)
            .copied()
            .filter(|seconds| *seconds > 0)
            .map_or(limits.default_event_timeout, Duration::from_secs);
        let deadline = SystemTime::now() + limits.event_start_timeout + timeout;
        let command = self.command(&event, deadline);
        let instance = self.targets[t].id.clone();
        self.pending
            .commands
            .push(commands::command_row(&instance, &instance, &command));
        self.targets[t].running = Some(Running {
            command_id: command.command_id.clone(),
            ordinal,
            since: Instant::now(),
            deadline: micros(deadline),
            disconnected_since: None,
        });
        out.send_command(&instance, command);
        self.set_event(out, t, ordinal, LifecycleEventStatus::InProgress, None);
    }

    fn command(&self, event: &str, deadline: SystemTime) -> Command {
        let row = &self.row;
        Command {
            command_id: uuid::Uuid::new_v4().to_string(),
            deployment_id: row.id.clone(),
            deployment_group_id: row.deployment_group_id.clone(),
            deployment_group_name: row.deployment_group_name.clone(),
            application_name: row.application_name.clone(),
            lifecycle_event: event.to_owned(),
            attempt: 1,
            revision: Some(Revision {
                sha256: row.revision_sha256.clone().unwrap_or_default(),
                size: row
                    .revision_size
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
                bundle_type: value::<BundleType>(row.bundle_type.as_deref().unwrap_or_default()),
                download_endpoint: self.ctx.download_endpoint.clone(),
                location: ferry_proto::revision_json::from_json(&row.revision).ok(),
            }),
            app_spec_file_name: row.app_spec_file_name.clone().unwrap_or_default(),
            file_exists_behavior: value::<FileExistsBehavior>(&row.file_exists_behavior),
            deadline: Some(deadline.into()),
            trace_context: ferry_runtime::telemetry::current_trace_context(),
        }
    }

    /// A lifecycle event ended: the target goes on to the next event, succeeds or fails.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn event_finished(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
        t: usize,
        succeeded: bool,
        may_ignore: bool,
        mut diagnostics: StoredDiagnostics,
        start: i64,
        end: i64,
    ) -> Result<(), DbErr> {
        let Some(running) = self.targets[t].running.take() else {
            return Ok(());
        };
        let ordinal = running.ordinal;
        let event = self.targets[t].steps[ordinal].name.clone();
        self.targets[t].steps[ordinal].start = Some(start);
        self.targets[t].steps[ordinal].end = Some(end);
        let ignored = !succeeded
            && may_ignore
            && self.row.ignore_application_stop_failures
            && lifecycle::failure_may_be_ignored(&event);
        if ignored {
            diagnostics.message = format!(
                "{event} failed and the deployment ignores its failures \
                 (ignoreApplicationStopFailures): {}",
                diagnostics.message
            );
        }
        if succeeded || ignored {
            self.set_event(
                out,
                t,
                ordinal,
                LifecycleEventStatus::Succeeded,
                Some(diagnostics),
            );
            if ordinal + 1 < self.targets[t].steps.len() {
                self.start_event(out, t, ordinal + 1);
                Ok(())
            } else {
                self.set_target(txn, out, t, TargetStatus::Succeeded).await
            }
        } else {
            self.set_event(
                out,
                t,
                ordinal,
                LifecycleEventStatus::Failed,
                Some(diagnostics),
            );
            self.skip_events_from(out, t, ordinal + 1);
            self.set_target(txn, out, t, TargetStatus::Failed).await
        }
    }

    /// Fails a target's running event on the orchestrator's decision (stop, time limit, agent
    /// gone) and tells its agent to stop it, if the agent may have it.
    pub(super) async fn fail_running(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
        t: usize,
        message: String,
        agent_failure: bool,
    ) -> Result<(), DbErr> {
        let Some(running) = self.targets[t].running.clone() else {
            return Ok(());
        };
        // Created in this step and not stored yet: dropped. Never sent: dropped. Sent or
        // running: the agent is told to cancel it.
        let unstored = self.pending.commands.iter().position(
            |c| matches!(&c.command_id, sea_orm::ActiveValue::Set(id) if *id == running.command_id),
        );
        if let Some(index) = unstored {
            self.pending.commands.swap_remove(index);
            out.withdraw_command(&self.targets[t].id, &running.command_id);
        } else if commands::set_state_in(txn, &running.command_id, &[PENDING], APPLIED).await? {
            out.withdraw_command(&self.targets[t].id, &running.command_id);
        } else {
            commands::set_state_in(txn, &running.command_id, &[SENT, ACKNOWLEDGED], CANCELLING)
                .await?;
            out.wake_agent(&self.targets[t].id);
        }
        if agent_failure {
            self.targets[t].agent_failure = Some(message.clone());
        }
        let now = now_micros();
        let start = self.targets[t].steps[running.ordinal].start.unwrap_or(now);
        self.event_finished(
            txn,
            out,
            t,
            false,
            false,
            StoredDiagnostics::unknown_error(message),
            start,
            now,
        )
        .await
    }

    /// Changes a lifecycle event (written at the end of the step) and logs the change.
    fn set_event(
        &mut self,
        out: &mut Outbox,
        t: usize,
        ordinal: usize,
        status: LifecycleEventStatus,
        diagnostics: Option<StoredDiagnostics>,
    ) {
        let now = now_micros();
        let target_id = self.targets[t].id.clone();
        let step = &mut self.targets[t].steps[ordinal];
        step.status = status;
        if status == LifecycleEventStatus::InProgress {
            step.start = Some(now);
            step.end = None;
        } else if step.end.is_none() {
            step.end = Some(now);
        }
        step.diagnostics = diagnostics.as_ref().map(StoredDiagnostics::to_json);
        self.pending.steps.insert((t, ordinal));
        let event = Event::LifecycleEventChanged(LifecycleEventChanged {
            target_id,
            lifecycle_event_name: step.name.clone(),
            status: status as i32,
            diagnostics: diagnostics.as_ref().map(Into::into),
        });
        out.log(&self.row.id, event);
    }

    /// Marks the events from `ordinal` on Skipped (they will not run).
    fn skip_events_from(&mut self, out: &mut Outbox, t: usize, ordinal: usize) {
        for o in ordinal..self.targets[t].steps.len() {
            if self.targets[t].steps[o].status == LifecycleEventStatus::Pending {
                self.set_event(out, t, o, LifecycleEventStatus::Skipped, None);
            }
        }
    }

    /// Targets not started will not be: Skipped, with all their events.
    pub(super) async fn skip_pending(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
    ) -> Result<(), DbErr> {
        for t in 0..self.targets.len() {
            if self.targets[t].status == TargetStatus::Pending {
                self.skip_events_from(out, t, 0);
                self.set_target(txn, out, t, TargetStatus::Skipped).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn set_target(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
        t: usize,
        status: TargetStatus,
    ) -> Result<(), DbErr> {
        let now = now_micros();
        let target = &mut self.targets[t];
        target.status = status;
        target.last_updated_at = now;
        let event = Event::TargetStatusChanged(TargetStatusChanged {
            target_id: target.id.clone(),
            status: status as i32,
        });
        self.pending.targets.insert(t);
        out.log(&self.row.id, event);
        let trigger = match status {
            TargetStatus::InProgress => Some(TriggerEventType::InstanceStart),
            TargetStatus::Succeeded => Some(TriggerEventType::InstanceSuccess),
            TargetStatus::Failed => Some(TriggerEventType::InstanceFailure),
            _ => None,
        };
        if let Some(trigger) = trigger {
            let notice = self.instance_notice(t);
            out.notify(txn, &self.ctx, &self.triggers, trigger, &notice)
                .await?;
        }
        Ok(())
    }
}

pub fn already_completed(deployment_id: &str) -> ApiError {
    ApiError::new(
        Exception::DeploymentAlreadyCompleted,
        format!("deployment {deployment_id} has already completed"),
    )
    .with_metadata("deployment_id", deployment_id)
}
