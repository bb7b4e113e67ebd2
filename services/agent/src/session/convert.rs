//! Wire messages to the agent's own types and back, checked at the edge.

use std::time::SystemTime;

use ferry_appspec::FileExistsBehavior;
use ferry_proto::agent::v1::{Command, CommandResult};
use ferry_proto::common::v1 as common;

use super::store::StoredResult;
use crate::download::RemoteRevision;
use crate::layout::check_id;
use crate::lifecycle::{Deployment, Source};
use crate::outcome::{ErrorCode, Failure};

/// A command, checked: ids safe as path components, a revision where one is needed.
pub struct Checked {
    pub deployment: Deployment,
    pub event: String,
    pub deadline: Option<SystemTime>,
}

pub fn command(command: &Command) -> Result<Checked, Failure> {
    check_id("deployment id", &command.deployment_id)?;
    check_id("deployment group id", &command.deployment_group_id)?;
    if command.lifecycle_event.is_empty() {
        return Err(Failure::unknown("the command names no lifecycle event"));
    }
    let revision = command.revision.clone().unwrap_or_default();
    let bundle_type = match common::BundleType::try_from(revision.bundle_type) {
        Ok(common::BundleType::Tar) => Some(ferry_bundle::BundleType::Tar),
        Ok(common::BundleType::Tgz) => Some(ferry_bundle::BundleType::Tgz),
        Ok(common::BundleType::Zip) => Some(ferry_bundle::BundleType::Zip),
        _ => None,
    };
    let file_exists_behavior =
        match common::FileExistsBehavior::try_from(command.file_exists_behavior) {
            Ok(common::FileExistsBehavior::Overwrite) => FileExistsBehavior::Overwrite,
            Ok(common::FileExistsBehavior::Retain) => FileExistsBehavior::Retain,
            // CodeDeploy's default.
            _ => FileExistsBehavior::Disallow,
        };
    Ok(Checked {
        deployment: Deployment {
            deployment_id: command.deployment_id.clone(),
            deployment_group_id: command.deployment_group_id.clone(),
            deployment_group_name: command.deployment_group_name.clone(),
            application_name: command.application_name.clone(),
            source: Source::Remote(Box::new(RemoteRevision {
                sha256: revision.sha256,
                size: revision.size,
                bundle_type,
                download_endpoint: revision.download_endpoint,
                location: revision.location,
            })),
            app_spec_file_name: command.app_spec_file_name.clone(),
            file_exists_behavior,
        },
        event: command.lifecycle_event.clone(),
        deadline: command
            .deadline
            .and_then(|deadline| SystemTime::try_from(deadline).ok()),
    })
}

pub fn command_id(command: &Command) -> Result<(), Failure> {
    check_id("command id", &command.command_id)
}

pub fn result(command_id: &str, result: &StoredResult) -> CommandResult {
    let (status, diagnostics) = match &result.failure {
        None => (
            common::LifecycleEventStatus::Succeeded,
            common::Diagnostics {
                error_code: common::LifecycleErrorCode::Success as i32,
                script_name: String::new(),
                message: "Succeeded".to_owned(),
                log_tail: result.log_tail.clone(),
            },
        ),
        Some(failure) => (
            common::LifecycleEventStatus::Failed,
            common::Diagnostics {
                error_code: error_code(failure.code) as i32,
                script_name: failure.script.clone().unwrap_or_default(),
                message: failure.message.clone(),
                log_tail: result.log_tail.clone(),
            },
        ),
    };
    CommandResult {
        command_id: command_id.to_owned(),
        status: status as i32,
        diagnostics: Some(diagnostics),
        start_time: Some(result.start_time.into()),
        end_time: Some(result.end_time.into()),
    }
}

fn error_code(code: ErrorCode) -> common::LifecycleErrorCode {
    match code {
        ErrorCode::ScriptMissing => common::LifecycleErrorCode::ScriptMissing,
        ErrorCode::ScriptNotExecutable => common::LifecycleErrorCode::ScriptNotExecutable,
        ErrorCode::ScriptTimedOut => common::LifecycleErrorCode::ScriptTimedOut,
        ErrorCode::ScriptFailed => common::LifecycleErrorCode::ScriptFailed,
        ErrorCode::UnknownError => common::LifecycleErrorCode::UnknownError,
    }
}
