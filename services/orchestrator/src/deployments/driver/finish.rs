//! The deployment's own transitions: started, ended (Succeeded, Failed, Stopped), stopped on
//! request, and rolled back: a new deployment of the group's last successful revision.

use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    DeploymentCreator, DeploymentStatusChanged, ErrorCode, ErrorInformation, TargetStatus,
};
use ferry_proto::registry::v1::{AutoRollbackEvent, TriggerEventType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};

use crate::store::entities::deployment;
use crate::store::now_micros;

use super::super::outbox::Outbox;
use super::super::rows::{self, NewTarget};
use super::super::stored::{self, name};
use super::Driver;

impl Driver {
    async fn save(&mut self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        self.row
            .clone()
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map(drop)
    }

    fn push_message(&mut self, message: &str) {
        if message.is_empty() {
            return;
        }
        let mut messages = stored::status_messages(&self.row.status_messages);
        messages.push(message.to_owned());
        self.row.status_messages = stored::status_messages_json(&messages);
    }

    fn log_status(
        &self,
        out: &mut Outbox,
        status: DeploymentStatus,
        message: &str,
        error: Option<ErrorInformation>,
    ) {
        let event = Event::DeploymentStatusChanged(DeploymentStatusChanged {
            status: status as i32,
            message: message.to_owned(),
            error_information: error,
            overview: Some(self.overview()),
        });
        out.log(&self.row.id, event);
    }

    /// The first target starts: Created → InProgress.
    pub(super) async fn set_in_progress(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
    ) -> Result<(), DbErr> {
        self.row.status = name(DeploymentStatus::InProgress);
        self.row.start_time = Some(now_micros());
        self.save(txn).await?;
        self.log_status(out, DeploymentStatus::InProgress, "", None);
        let notice = self.deployment_notice();
        out.notify(
            txn,
            &self.ctx,
            &self.triggers,
            TriggerEventType::DeploymentStart,
            &notice,
        )
        .await
    }

    /// Whether a failure of this deployment starts a rollback: its configuration asks for one
    /// and it is not itself a rollback.
    pub(super) fn rolls_back_on_failure(&self) -> bool {
        !self.is_rollback()
            && stored::rolls_back_on(
                stored::auto_rollback(self.row.auto_rollback_configuration.as_deref()).as_ref(),
                AutoRollbackEvent::DeploymentFailure,
            )
    }

    fn is_rollback(&self) -> bool {
        self.row.creator == name(DeploymentCreator::CodeDeployRollback)
    }

    /// Ends the deployment. The group is free for its next deployment in the same transaction.
    pub(super) async fn finish(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
        status: DeploymentStatus,
        error: Option<(ErrorCode, String)>,
        rollback: bool,
    ) -> Result<(), DbErr> {
        let message = match (&error, status) {
            (Some((_, message)), _) => message.clone(),
            (None, DeploymentStatus::Succeeded) => "The deployment succeeded.".to_owned(),
            (None, _) => String::new(),
        };
        self.row.status = name(status);
        self.row.error_code = error.as_ref().map(|(code, _)| name(*code));
        self.row.error_message = error.as_ref().map(|(_, message)| message.clone());
        self.row.complete_time = Some(now_micros());
        self.row.active_group_id = None;
        self.push_message(&message);
        self.save(txn).await?;
        let information = error.map(|(code, message)| ErrorInformation {
            code: code as i32,
            message,
        });
        self.log_status(out, status, &message, information);
        let trigger = match status {
            DeploymentStatus::Succeeded => TriggerEventType::DeploymentSuccess,
            DeploymentStatus::Stopped => TriggerEventType::DeploymentStop,
            _ => TriggerEventType::DeploymentFailure,
        };
        let notice = self.deployment_notice();
        out.notify(txn, &self.ctx, &self.triggers, trigger, &notice)
            .await?;
        tracing::info!(deployment_id = %self.row.id, status = %self.row.status, "deployment ended");
        let started_any = self.targets.iter().any(|t| {
            matches!(
                t.status,
                TargetStatus::Succeeded | TargetStatus::Failed | TargetStatus::InProgress
            )
        });
        if rollback && started_any {
            self.roll_back(txn, out).await?;
        }
        Ok(())
    }

    /// StopDeployment: running events fail and their agents are told to cancel them, targets
    /// not started are Skipped, and the deployment is Stopped (MANUAL_STOP).
    pub(super) async fn stop(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
        rollback: Option<bool>,
    ) -> Result<(), DbErr> {
        for t in 0..self.targets.len() {
            self.fail_running(
                txn,
                out,
                t,
                "The deployment was stopped while this event was running.".to_owned(),
                false,
            )
            .await?;
        }
        self.skip_pending(txn, out).await?;
        let rollback = !self.is_rollback()
            && rollback.unwrap_or_else(|| {
                stored::rolls_back_on(
                    stored::auto_rollback(self.row.auto_rollback_configuration.as_deref()).as_ref(),
                    AutoRollbackEvent::DeploymentStopOnRequest,
                )
            });
        self.finish(
            txn,
            out,
            DeploymentStatus::Stopped,
            Some((
                ErrorCode::ManualStop,
                "The deployment was stopped by a StopDeployment request.".to_owned(),
            )),
            rollback,
        )
        .await
    }

    /// Starts a deployment of the group's last successful revision to this deployment's
    /// targets, linked both ways (RollbackInfo); without one, says why on this deployment.
    async fn roll_back(
        &mut self,
        txn: &DatabaseTransaction,
        out: &mut Outbox,
    ) -> Result<(), DbErr> {
        let last_good = deployment::Entity::find()
            .filter(deployment::Column::DeploymentGroupId.eq(self.row.deployment_group_id.as_str()))
            .filter(deployment::Column::Status.eq(name(DeploymentStatus::Succeeded)))
            .filter(deployment::Column::Id.ne(self.row.id.as_str()))
            .order_by_desc(deployment::Column::CompleteTime)
            .one(txn)
            .await?;
        let Some(last_good) = last_good else {
            self.row.rollback_message = Some(
                "Automatic rollback was not started: the deployment group has no earlier \
                 successful deployment to roll back to."
                    .to_owned(),
            );
            return self.save(txn).await;
        };
        let id = rows::new_deployment_id();
        let now = now_micros();
        let rollback = deployment::Model {
            id: id.clone(),
            active_group_id: Some(self.row.deployment_group_id.clone()),
            revision: last_good.revision.clone(),
            revision_sha256: last_good.revision_sha256.clone(),
            revision_size: last_good.revision_size,
            bundle_type: last_good.bundle_type.clone(),
            app_spec_file_name: last_good.app_spec_file_name.clone(),
            event_timeouts: last_good.event_timeouts.clone(),
            previous_revision: Some(self.row.revision.clone()),
            status: name(DeploymentStatus::Created),
            error_code: None,
            error_message: None,
            creator: name(DeploymentCreator::CodeDeployRollback),
            description: format!("Rollback of deployment {}", self.row.id),
            rollback_deployment_id: None,
            rollback_triggering_deployment_id: Some(self.row.id.clone()),
            rollback_message: None,
            status_messages: stored::status_messages_json(&[]),
            create_time: now,
            start_time: None,
            complete_time: None,
            ..self.row.clone()
        };
        let targets: Vec<NewTarget> = self
            .targets
            .iter()
            .map(|t| NewTarget {
                id: t.id.clone(),
                arn: t.arn.clone(),
            })
            .collect();
        let events: Vec<&str> = self
            .targets
            .first()
            .map(|t| t.steps.iter().map(|s| s.name.as_str()).collect())
            .unwrap_or_default();
        rows::insert(txn, out, rollback, &targets, &events).await?;
        self.row.rollback_deployment_id = Some(id.clone());
        self.row.rollback_message = Some(format!(
            "Deployment {id} rolls the group back to the revision of deployment {}.",
            last_good.id
        ));
        self.save(txn).await?;
        let notice = self.deployment_notice();
        out.notify(
            txn,
            &self.ctx,
            &self.triggers,
            TriggerEventType::DeploymentRollback,
            &notice,
        )
        .await?;
        tracing::info!(deployment_id = %self.row.id, rollback_deployment_id = %id, "rolling back");
        out.start(&id);
        Ok(())
    }
}
