//! A step's writes, batched: the transitions of a step change the task's memory and note what
//! changed here; the step ends by writing it all with a handful of multi-row statements (an
//! upsert of the changed lifecycle events, one of the changed targets, one insert of the new
//! commands, one update of the applied ones), however many targets moved.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter};

use crate::agents::commands::{APPLIED, FINISHED};
use crate::store::entities::{agent_command, deployment_target, lifecycle_event};

use super::super::stored::name;
use super::Driver;

/// Rows per multi-row statement: well under either back end's bind-parameter limit.
const CHUNK: usize = 500;

#[derive(Default)]
pub(super) struct Pending {
    /// Lifecycle events changed, as (target index, ordinal).
    pub steps: BTreeSet<(usize, usize)>,
    /// Targets whose status changed, by index.
    pub targets: BTreeSet<usize>,
    /// Commands created.
    pub commands: Vec<agent_command::ActiveModel>,
    /// Finished commands whose results this step applied.
    pub applied: Vec<String>,
}

impl Driver {
    pub(super) async fn flush(&mut self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let pending = std::mem::take(&mut self.pending);
        let steps: Vec<lifecycle_event::ActiveModel> = pending
            .steps
            .iter()
            .map(|&(t, ordinal)| {
                let target = &self.targets[t];
                let step = &target.steps[ordinal];
                lifecycle_event::Model {
                    deployment_id: self.row.id.clone(),
                    target_id: target.id.clone(),
                    ordinal: i32::try_from(ordinal).unwrap_or(i32::MAX),
                    name: step.name.clone(),
                    status: name(step.status),
                    start_time: step.start,
                    end_time: step.end,
                    diagnostics: step.diagnostics.clone(),
                }
                .into_active_model()
            })
            .collect();
        for chunk in steps.chunks(CHUNK) {
            lifecycle_event::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        lifecycle_event::Column::DeploymentId,
                        lifecycle_event::Column::TargetId,
                        lifecycle_event::Column::Ordinal,
                    ])
                    .update_columns([
                        lifecycle_event::Column::Status,
                        lifecycle_event::Column::StartTime,
                        lifecycle_event::Column::EndTime,
                        lifecycle_event::Column::Diagnostics,
                    ])
                    .to_owned(),
                )
                .exec(txn)
                .await?;
        }
        let targets: Vec<deployment_target::ActiveModel> = pending
            .targets
            .iter()
            .map(|&t| {
                let target = &self.targets[t];
                deployment_target::Model {
                    deployment_id: self.row.id.clone(),
                    target_id: target.id.clone(),
                    target_arn: target.arn.clone(),
                    status: name(target.status),
                    position: i32::try_from(t).unwrap_or(i32::MAX),
                    instance_label: None,
                    last_updated_at: target.last_updated_at,
                }
                .into_active_model()
            })
            .collect();
        for chunk in targets.chunks(CHUNK) {
            deployment_target::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        deployment_target::Column::DeploymentId,
                        deployment_target::Column::TargetId,
                    ])
                    .update_columns([
                        deployment_target::Column::Status,
                        deployment_target::Column::LastUpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec(txn)
                .await?;
        }
        for chunk in pending.commands.chunks(CHUNK) {
            agent_command::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        for chunk in pending.applied.chunks(CHUNK) {
            agent_command::Entity::update_many()
                .col_expr(agent_command::Column::State, Expr::value(APPLIED))
                .filter(agent_command::Column::CommandId.is_in(chunk.iter().cloned()))
                .filter(agent_command::Column::State.eq(FINISHED))
                .exec(txn)
                .await?;
        }
        Ok(())
    }
}
