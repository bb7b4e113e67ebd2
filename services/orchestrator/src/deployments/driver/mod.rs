//! The task that carries one deployment from Created to Succeeded, Failed or Stopped.
//!
//! It is the only writer of its deployment's state. Each step is one transaction: apply the
//! results agents reported, check the time limits, then let the health plan decide what starts
//! next and whether the deployment is over. What the step announces (log events, commands,
//! notifications) is told only after it commits. The task keeps its deployment in memory and
//! loads it again from the database after a restart or an error, so the rows are the truth.

mod finish;
mod flush;
mod limits;
mod notices;
pub(crate) mod step;

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_proto::common::v1::{DeploymentStatus, LifecycleEventStatus};
use ferry_proto::deploy::v1::{StopDeploymentResponse, TargetStatus};
use ferry_proto::registry::v1::TriggerConfig;
use ferry_runtime::error::ApiError;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use tokio::time::Instant;
use tracing::Instrument;

use crate::agents::commands::{ACKNOWLEDGED, PENDING, SENT};
use crate::health::{self, HealthError, Plan};
use crate::store::entities::{agent_command, deployment, deployment_target, lifecycle_event};

use super::context::Context;
use super::drivers::{Control, Inbox};
use super::stored;
use step::StopAnswer;

/// Statuses a deployment ends in.
pub const TERMINAL: &[DeploymentStatus] = &[
    DeploymentStatus::Succeeded,
    DeploymentStatus::Failed,
    DeploymentStatus::Stopped,
];

/// Whether a wire DeploymentStatus is terminal.
pub fn is_terminal_status(status: i32) -> bool {
    TERMINAL.iter().any(|s| *s as i32 == status)
}

pub use step::already_completed;

pub fn is_terminal(status: &str) -> bool {
    TERMINAL.iter().any(|s| stored::name(*s) == status)
}

/// Starts the task of `deployment_id` unless one already runs in this process.
pub fn spawn(ctx: Context, deployment_id: String) {
    let Some(mut inbox) = ctx.drivers.claim(&deployment_id) else {
        return;
    };
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = match Driver::load(ctx.clone(), &deployment_id).await {
                Ok(Some(driver)) => {
                    // The task's work joins the trace its CreateDeployment began.
                    let span =
                        tracing::info_span!("drive_deployment", deployment_id = %deployment_id);
                    ferry_runtime::telemetry::set_parent_from(
                        &span,
                        driver.row.trace_context.as_deref().unwrap_or_default(),
                    );
                    driver.drive(&mut inbox).instrument(span).await
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            match outcome {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(deployment_id = %deployment_id, %error, "deployment step failed; reloading it from the database");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        ctx.drivers.release(&deployment_id);
    });
}

/// Starts the task of every deployment that has not ended (at start-up).
pub async fn resume_all(ctx: &Context) -> Result<usize, DbErr> {
    let active = deployment::Entity::find()
        .filter(deployment::Column::ActiveGroupId.is_not_null())
        .all(&ctx.pools.read)
        .await?;
    let count = active.len();
    for row in active {
        tracing::info!(deployment_id = %row.id, status = %row.status, "resuming deployment");
        spawn(ctx.clone(), row.id);
    }
    Ok(count)
}

/// One lifecycle event of a target, as the task tracks it.
#[derive(Debug, Clone)]
struct Step {
    name: String,
    status: LifecycleEventStatus,
    start: Option<i64>,
    end: Option<i64>,
    /// JSON of CodeDeploy's Diagnostics, once finished.
    diagnostics: Option<String>,
}

/// The command of a target's running lifecycle event.
#[derive(Debug, Clone)]
struct Running {
    command_id: String,
    ordinal: usize,
    /// When this task started waiting for it (after a restart: the restart).
    since: Instant,
    /// The command's deadline, microseconds since the epoch.
    deadline: i64,
    disconnected_since: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Target {
    id: String,
    arn: String,
    status: TargetStatus,
    last_updated_at: i64,
    steps: Vec<Step>,
    running: Option<Running>,
    /// Why the target failed when its agent was the cause (AGENT_ISSUE).
    agent_failure: Option<String>,
}

impl Target {
    /// The first lifecycle event not yet finished.
    fn current_ordinal(&self) -> Option<usize> {
        self.steps.iter().position(|s| {
            matches!(
                s.status,
                LifecycleEventStatus::Pending | LifecycleEventStatus::InProgress
            )
        })
    }
}

struct Driver {
    ctx: Context,
    row: deployment::Model,
    /// In start order: a target's index is its `position`.
    targets: Vec<Target>,
    triggers: Vec<TriggerConfig>,
    timeouts: BTreeMap<String, u64>,
    plan: Result<Plan, HealthError>,
    /// What the current step changed, written at its end ([`flush`]).
    pending: flush::Pending,
}

fn lifecycle_status(name: &str) -> LifecycleEventStatus {
    ferry_proto::codedeploy::CodeDeployName::from_codedeploy_name(name)
        .unwrap_or(LifecycleEventStatus::Unknown)
}

fn target_status(name: &str) -> TargetStatus {
    ferry_proto::codedeploy::CodeDeployName::from_codedeploy_name(name)
        .unwrap_or(TargetStatus::Unknown)
}

impl Driver {
    /// The deployment as stored; `None` when it does not exist or has ended.
    async fn load(ctx: Context, deployment_id: &str) -> Result<Option<Self>, DbErr> {
        let db = &ctx.pools.read;
        let Some(row) = deployment::Entity::find_by_id(deployment_id.to_owned())
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        if is_terminal(&row.status) {
            return Ok(None);
        }
        let target_rows = deployment_target::Entity::find()
            .filter(deployment_target::Column::DeploymentId.eq(deployment_id))
            .order_by_asc(deployment_target::Column::Position)
            .all(db)
            .await?;
        let event_rows = lifecycle_event::Entity::find()
            .filter(lifecycle_event::Column::DeploymentId.eq(deployment_id))
            .order_by_asc(lifecycle_event::Column::TargetId)
            .order_by_asc(lifecycle_event::Column::Ordinal)
            .all(db)
            .await?;
        let mut steps: BTreeMap<String, Vec<Step>> = BTreeMap::new();
        for event in event_rows {
            steps.entry(event.target_id).or_default().push(Step {
                name: event.name,
                status: lifecycle_status(&event.status),
                start: event.start_time,
                end: event.end_time,
                diagnostics: event.diagnostics,
            });
        }
        // The command of each running event: the newest not given up on.
        let open = agent_command::Entity::find()
            .filter(agent_command::Column::DeploymentId.eq(deployment_id))
            .filter(agent_command::Column::State.is_in([
                PENDING,
                SENT,
                ACKNOWLEDGED,
                crate::agents::commands::FINISHED,
            ]))
            .order_by_asc(agent_command::Column::CreatedAt)
            .all(db)
            .await?;
        let now = Instant::now();
        let targets = target_rows
            .into_iter()
            .map(|t| {
                let steps = steps.remove(&t.target_id).unwrap_or_default();
                let mut target = Target {
                    status: target_status(&t.status),
                    id: t.target_id,
                    arn: t.target_arn,
                    last_updated_at: t.last_updated_at,
                    steps,
                    running: None,
                    agent_failure: None,
                };
                if let Some(ordinal) = target.current_ordinal()
                    && target.steps[ordinal].status == LifecycleEventStatus::InProgress
                {
                    target.running = open
                        .iter()
                        .rev()
                        .find(|c| {
                            c.target_id == target.id
                                && c.lifecycle_event == target.steps[ordinal].name
                        })
                        .map(|c| Running {
                            command_id: c.command_id.clone(),
                            ordinal,
                            since: now,
                            deadline: c.deadline.unwrap_or(i64::MAX),
                            disconnected_since: None,
                        });
                }
                target
            })
            .collect::<Vec<_>>();
        let total = u32::try_from(targets.len()).unwrap_or(u32::MAX);
        let plan = match stored::health_rule(&row.health_rule) {
            Some(rule) => health::plan(total, rule),
            None if total == 0 => Err(HealthError::NoInstances),
            None => Err(HealthError::Invalid {
                message: health::HEALTH_CONSTRAINTS_INVALID_MESSAGE.to_owned(),
                total,
                min_healthy: total,
            }),
        };
        Ok(Some(Self {
            triggers: stored::triggers(row.trigger_configurations.as_deref()),
            timeouts: stored::event_timeouts(row.event_timeouts.as_deref()),
            ctx,
            row,
            targets,
            plan,
            pending: flush::Pending::default(),
        }))
    }

    fn is_terminal(&self) -> bool {
        is_terminal(&self.row.status)
    }

    /// Steps until the deployment ends; an error leaves the caller to reload it.
    async fn drive(mut self, inbox: &mut Inbox) -> Result<(), DbErr> {
        let mut ticker = tokio::time::interval(self.ctx.limits.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = None;
        loop {
            let request: Option<(Option<bool>, tokio::sync::oneshot::Sender<StopAnswer>)> =
                stop.take();
            let outcome = self
                .step(request.as_ref().map(|(rollback, _)| *rollback))
                .await;
            if let Some((_, reply)) = request {
                let answer: Result<StopDeploymentResponse, ApiError> = match &outcome {
                    Ok((_, Some(answer))) => answer.clone(),
                    Ok((_, None)) => Err(ApiError::internal("stop was not answered")),
                    Err(error) => Err(ApiError::internal(error)),
                };
                let _ = reply.send(answer);
            }
            if outcome?.0 {
                return Ok(());
            }
            tokio::select! {
                () = inbox.wake.notified() => {}
                _ = ticker.tick() => {}
                control = inbox.control.recv() => match control {
                    Some(Control::Stop { rollback, reply }) => stop = Some((rollback, reply)),
                    None => return Ok(()),
                },
            }
        }
    }
}
