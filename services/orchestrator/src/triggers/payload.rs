//! The JSON body of a trigger notification, in the shape CodeDeploy publishes to a trigger's
//! SNS topic (User Guide, *JSON data formats for CodeDeploy triggers*, checked against
//! messages CodeDeploy has sent):
//!
//! - Every message has `region`, `accountId`, `eventTriggerName` (the trigger's name) and
//!   `deploymentId`.
//! - A deployment message adds `applicationName`, `deploymentGroupName`, `createTime`,
//!   `completeTime` (`null` until the deployment ends), `deploymentOverview`, `status` and,
//!   when the deployment failed, `errorInformation`.
//! - `status` is the deployment status in upper snake case as SNS messages carry it
//!   (`CREATED`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `STOPPED`, `READY`), not the API's
//!   `InProgress`.
//! - `deploymentOverview` and `errorInformation` are JSON documents encoded as strings, so
//!   receivers parse them a second time; the overview's counts are strings too.
//! - An instance message adds `instanceId` (the instance's ARN), `lastUpdatedAt`,
//!   `instanceStatus` (`Pending`, `InProgress`, `Succeeded`, `Failed`, `Skipped`, `Ready`) and
//!   `lifecycleEvents`, again a string holding a JSON list of `{LifecycleEvent,
//!   LifecycleEventStatus, StartTime, EndTime}`. ferry also gives it `applicationName` and
//!   `deploymentGroupName`, so one receiver can route both kinds.
//! - Times are UTC in the form CodeDeploy's messages use, `Thu Oct 13 15:50:45 UTC 2022`.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The deployment's targets by status (CodeDeploy's DeploymentOverview).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    pub pending: i64,
    pub in_progress: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// What a deployment trigger (DeploymentStart … DeploymentReady) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentNotice {
    pub application_name: String,
    pub deployment_group_name: String,
    pub deployment_id: String,
    pub create_time: SystemTime,
    pub complete_time: Option<SystemTime>,
    /// CodeDeploy's DeploymentStatus name: Created, InProgress, Succeeded, Failed, Stopped,
    /// Ready.
    pub status: String,
    pub overview: Overview,
    /// The error code (e.g. `HEALTH_CONSTRAINTS`) and message of a failed deployment.
    pub error: Option<(String, String)>,
}

/// One lifecycle event of an instance, as an instance notice lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleNotice {
    /// ApplicationStop, BeforeInstall, …
    pub name: String,
    /// Pending, InProgress, Succeeded, Failed, Skipped, Unknown.
    pub status: String,
    pub start_time: Option<SystemTime>,
    pub end_time: Option<SystemTime>,
}

/// What an instance trigger (InstanceStart … InstanceReady) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceNotice {
    pub application_name: String,
    pub deployment_group_name: String,
    pub deployment_id: String,
    /// The instance's ARN.
    pub instance_id: String,
    /// Pending, InProgress, Succeeded, Failed, Skipped, Ready.
    pub status: String,
    pub last_updated_at: SystemTime,
    pub lifecycle_events: Vec<LifecycleNotice>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Deployment(DeploymentNotice),
    Instance(InstanceNotice),
}

impl Notice {
    pub fn deployment_id(&self) -> &str {
        match self {
            Notice::Deployment(n) => &n.deployment_id,
            Notice::Instance(n) => &n.deployment_id,
        }
    }
}

/// Where this ferry says it runs, as the `region` and `accountId` of every message (from
/// configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub region: String,
    pub account_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentMessage<'a> {
    region: &'a str,
    account_id: &'a str,
    event_trigger_name: &'a str,
    application_name: &'a str,
    deployment_id: &'a str,
    deployment_group_name: &'a str,
    create_time: String,
    complete_time: Option<String>,
    deployment_overview: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_information: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OverviewCounts {
    failed: String,
    in_progress: String,
    pending: String,
    skipped: String,
    succeeded: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorInformation<'a> {
    error_code: &'a str,
    error_message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceMessage<'a> {
    region: &'a str,
    account_id: &'a str,
    event_trigger_name: &'a str,
    application_name: &'a str,
    deployment_id: &'a str,
    deployment_group_name: &'a str,
    instance_id: &'a str,
    last_updated_at: String,
    instance_status: &'a str,
    lifecycle_events: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LifecycleEntry<'a> {
    lifecycle_event: &'a str,
    lifecycle_event_status: &'a str,
    start_time: Option<String>,
    end_time: Option<String>,
}

/// The JSON body posted to the trigger `trigger_name` for `notice`.
pub fn render(identity: &Identity, trigger_name: &str, notice: &Notice) -> String {
    let body = match notice {
        Notice::Deployment(n) => serde_json::to_string(&DeploymentMessage {
            region: &identity.region,
            account_id: &identity.account_id,
            event_trigger_name: trigger_name,
            application_name: &n.application_name,
            deployment_id: &n.deployment_id,
            deployment_group_name: &n.deployment_group_name,
            create_time: time(n.create_time),
            complete_time: n.complete_time.map(time),
            deployment_overview: encoded(&OverviewCounts {
                failed: n.overview.failed.to_string(),
                in_progress: n.overview.in_progress.to_string(),
                pending: n.overview.pending.to_string(),
                skipped: n.overview.skipped.to_string(),
                succeeded: n.overview.succeeded.to_string(),
            }),
            status: upper_snake(&n.status),
            error_information: n.error.as_ref().map(|(code, message)| {
                encoded(&ErrorInformation {
                    error_code: code,
                    error_message: message,
                })
            }),
        }),
        Notice::Instance(n) => serde_json::to_string(&InstanceMessage {
            region: &identity.region,
            account_id: &identity.account_id,
            event_trigger_name: trigger_name,
            application_name: &n.application_name,
            deployment_id: &n.deployment_id,
            deployment_group_name: &n.deployment_group_name,
            instance_id: &n.instance_id,
            last_updated_at: time(n.last_updated_at),
            instance_status: &n.status,
            lifecycle_events: encoded(
                &n.lifecycle_events
                    .iter()
                    .map(|e| LifecycleEntry {
                        lifecycle_event: &e.name,
                        lifecycle_event_status: &e.status,
                        start_time: e.start_time.map(time),
                        end_time: e.end_time.map(time),
                    })
                    .collect::<Vec<_>>(),
            ),
        }),
    };
    // Plain structs of strings always serialize.
    body.unwrap_or_default()
}

/// A nested document as the JSON string CodeDeploy embeds it as.
fn encoded<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `Thu Oct 13 15:50:45 UTC 2022`.
pub fn time(at: SystemTime) -> String {
    DateTime::<Utc>::from(at)
        .format("%a %b %d %H:%M:%S UTC %Y")
        .to_string()
}

/// `InProgress` → `IN_PROGRESS`; a value already in upper case is kept.
pub fn upper_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn statuses_in_upper_snake_case() {
        assert_eq!(upper_snake("InProgress"), "IN_PROGRESS");
        assert_eq!(upper_snake("Succeeded"), "SUCCEEDED");
        assert_eq!(upper_snake("SUCCEEDED"), "SUCCEEDED");
        assert_eq!(upper_snake("IN_PROGRESS"), "IN_PROGRESS");
    }

    #[test]
    fn times_as_codedeploy_writes_them() {
        // 2022-10-13T15:50:45.5Z
        let at = UNIX_EPOCH + Duration::from_millis(1_665_676_245_500);
        assert_eq!(time(at), "Thu Oct 13 15:50:45 UTC 2022");
        let early = UNIX_EPOCH + Duration::from_secs(1_675_000_000);
        assert_eq!(time(early), "Sun Jan 29 13:46:40 UTC 2023");
    }

    #[test]
    fn a_deployment_without_error_has_no_error_information() {
        let notice = Notice::Deployment(DeploymentNotice {
            application_name: "app".into(),
            deployment_group_name: "group".into(),
            deployment_id: "d-1".into(),
            create_time: UNIX_EPOCH,
            complete_time: None,
            status: "Created".into(),
            overview: Overview {
                pending: 3,
                ..Default::default()
            },
            error: None,
        });
        let identity = Identity {
            region: "local".into(),
            account_id: "000000000000".into(),
        };
        let body: serde_json::Value =
            serde_json::from_str(&render(&identity, "t", &notice)).unwrap_or_default();
        assert_eq!(body["status"], "CREATED");
        assert!(body["completeTime"].is_null());
        assert!(body.get("errorInformation").is_none());
        assert_eq!(
            body["deploymentOverview"],
            r#"{"Failed":"0","InProgress":"0","Pending":"3","Skipped":"0","Succeeded":"0"}"#
        );
    }
}
