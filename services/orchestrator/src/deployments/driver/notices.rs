//! The trigger notifications' view of the deployment and of a target.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::triggers::{DeploymentNotice, InstanceNotice, LifecycleNotice, Notice, Overview};

use super::super::stored::name;
use super::Driver;

fn time(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

impl Driver {
    pub(super) fn deployment_notice(&self) -> Notice {
        let overview = self.overview();
        let row = &self.row;
        Notice::Deployment(DeploymentNotice {
            application_name: row.application_name.clone(),
            deployment_group_name: row.deployment_group_name.clone(),
            deployment_id: row.id.clone(),
            create_time: time(row.create_time),
            complete_time: row.complete_time.map(time),
            status: row.status.clone(),
            overview: Overview {
                pending: overview.pending,
                in_progress: overview.in_progress,
                succeeded: overview.succeeded,
                failed: overview.failed,
                skipped: overview.skipped,
            },
            error: row.error_code.clone().zip(row.error_message.clone()),
        })
    }

    pub(super) fn instance_notice(&self, t: usize) -> Notice {
        let target = &self.targets[t];
        Notice::Instance(InstanceNotice {
            application_name: self.row.application_name.clone(),
            deployment_group_name: self.row.deployment_group_name.clone(),
            deployment_id: self.row.id.clone(),
            instance_id: target.arn.clone(),
            status: name(target.status),
            last_updated_at: time(target.last_updated_at),
            lifecycle_events: target
                .steps
                .iter()
                .map(|s| LifecycleNotice {
                    name: s.name.clone(),
                    status: name(s.status),
                    start_time: s.start.map(time),
                    end_time: s.end.map(time),
                })
                .collect(),
        })
    }
}
