//! The JSON columns of the deployment tables: CodeDeploy's member names and enum values, so a
//! row reads like the API's output. Each value has one conversion each way, here.

use std::collections::BTreeMap;

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::{Diagnostics, LifecycleErrorCode};
use ferry_proto::registry::v1::{
    Alarm, AlarmConfiguration, AutoRollbackConfiguration, AutoRollbackEvent, MinimumHealthyHosts,
    MinimumHealthyHostsType, TriggerConfig, TriggerEventType,
};
use serde::{Deserialize, Serialize};

use crate::health::MinimumHealthy;

/// CodeDeploy's name of an enum value (empty for Unspecified).
pub fn name<E: CodeDeployName>(value: E) -> String {
    value.codedeploy_name().unwrap_or_default().to_owned()
}

/// The wire value of CodeDeploy's `name` (0, Unspecified, when it is not one of E's).
pub fn value<E: CodeDeployName + Into<i32>>(name: &str) -> i32 {
    E::from_codedeploy_name(name).map_or(0, Into::into)
}

fn names<E: CodeDeployName + TryFrom<i32>>(values: &[i32]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| E::try_from(*v).ok())
        .filter_map(|e| e.codedeploy_name().map(str::to_owned))
        .collect()
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn from_json<T: for<'de> Deserialize<'de> + Default>(json: Option<&str>) -> T {
    json.and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// `deployments.health_rule`: the configuration's minimum healthy hosts at creation.
#[derive(Serialize, Deserialize, Default)]
struct HealthRule {
    #[serde(rename = "type")]
    kind: String,
    value: i64,
}

pub fn health_rule_json(rule: &MinimumHealthyHosts) -> String {
    to_json(&HealthRule {
        kind: MinimumHealthyHostsType::try_from(rule.r#type).map_or_else(|_| String::new(), name),
        value: i64::from(rule.value),
    })
}

/// The rule stored by [`health_rule_json`]; `None` when it names no known type.
pub fn health_rule(json: &str) -> Option<MinimumHealthy> {
    let rule: HealthRule = from_json(Some(json));
    let value = u32::try_from(rule.value).ok()?;
    match rule.kind.as_str() {
        "HOST_COUNT" => Some(MinimumHealthy::HostCount(value)),
        "FLEET_PERCENT" => Some(MinimumHealthy::FleetPercent(value)),
        "MOST_CONCURRENCY" => Some(MinimumHealthy::MostConcurrency(value)),
        _ => None,
    }
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Trigger {
    trigger_name: String,
    trigger_target_arn: String,
    trigger_events: Vec<String>,
}

/// `deployments.trigger_configurations`: the group's triggers at creation.
pub fn triggers_json(triggers: &[TriggerConfig]) -> String {
    let stored: Vec<Trigger> = triggers
        .iter()
        .map(|t| Trigger {
            trigger_name: t.trigger_name.clone(),
            trigger_target_arn: t.trigger_target_arn.clone(),
            trigger_events: names::<TriggerEventType>(&t.trigger_events),
        })
        .collect();
    to_json(&stored)
}

pub fn triggers(json: Option<&str>) -> Vec<TriggerConfig> {
    from_json::<Vec<Trigger>>(json)
        .into_iter()
        .map(|t| TriggerConfig {
            trigger_name: t.trigger_name,
            trigger_target_arn: t.trigger_target_arn,
            trigger_events: t
                .trigger_events
                .iter()
                .map(|e| value::<TriggerEventType>(e))
                .collect(),
        })
        .collect()
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct AutoRollback {
    enabled: bool,
    events: Vec<String>,
}

pub fn auto_rollback_json(config: &AutoRollbackConfiguration) -> String {
    to_json(&AutoRollback {
        enabled: config.enabled,
        events: names::<AutoRollbackEvent>(&config.events),
    })
}

pub fn auto_rollback(json: Option<&str>) -> Option<AutoRollbackConfiguration> {
    let json = json?;
    let stored: AutoRollback = from_json(Some(json));
    Some(AutoRollbackConfiguration {
        enabled: stored.enabled,
        events: stored
            .events
            .iter()
            .map(|e| value::<AutoRollbackEvent>(e))
            .collect(),
    })
}

/// Whether `config` rolls back on `event`.
pub fn rolls_back_on(config: Option<&AutoRollbackConfiguration>, event: AutoRollbackEvent) -> bool {
    config.is_some_and(|c| c.enabled && c.events.contains(&(event as i32)))
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Alarms {
    enabled: bool,
    ignore_poll_alarm_failure: bool,
    alarms: Vec<AlarmName>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct AlarmName {
    name: String,
}

pub fn alarms_json(config: &AlarmConfiguration) -> String {
    to_json(&Alarms {
        enabled: config.enabled,
        ignore_poll_alarm_failure: config.ignore_poll_alarm_failure,
        alarms: config
            .alarms
            .iter()
            .map(|a| AlarmName {
                name: a.name.clone(),
            })
            .collect(),
    })
}

pub fn alarms(json: Option<&str>) -> Option<AlarmConfiguration> {
    let json = json?;
    let stored: Alarms = from_json(Some(json));
    Some(AlarmConfiguration {
        enabled: stored.enabled,
        ignore_poll_alarm_failure: stored.ignore_poll_alarm_failure,
        alarms: stored
            .alarms
            .into_iter()
            .map(|a| Alarm { name: a.name })
            .collect(),
    })
}

/// `lifecycle_events.diagnostics` and the diagnostics part of a command's stored result:
/// CodeDeploy's Diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StoredDiagnostics {
    pub error_code: String,
    pub script_name: String,
    pub message: String,
    pub log_tail: String,
}

impl StoredDiagnostics {
    /// Diagnostics of a failure the orchestrator decided (no script ran to say otherwise).
    pub fn unknown_error(message: impl Into<String>) -> Self {
        Self {
            error_code: "UnknownError".to_owned(),
            message: message.into(),
            ..Self::default()
        }
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }

    pub fn from_json(json: Option<&str>) -> Option<Self> {
        json.and_then(|j| serde_json::from_str(j).ok())
    }
}

impl From<&Diagnostics> for StoredDiagnostics {
    fn from(d: &Diagnostics) -> Self {
        Self {
            error_code: LifecycleErrorCode::try_from(d.error_code)
                .ok()
                .and_then(CodeDeployName::codedeploy_name)
                .unwrap_or("UnknownError")
                .to_owned(),
            script_name: d.script_name.clone(),
            message: d.message.clone(),
            log_tail: d.log_tail.clone(),
        }
    }
}

impl From<&StoredDiagnostics> for Diagnostics {
    fn from(d: &StoredDiagnostics) -> Self {
        Self {
            error_code: value::<LifecycleErrorCode>(&d.error_code),
            script_name: d.script_name.clone(),
            message: d.message.clone(),
            log_tail: d.log_tail.clone(),
        }
    }
}

/// `deployments.event_timeouts`: each lifecycle event's hook timeouts added up, in seconds.
pub fn event_timeouts_json(timeouts: &BTreeMap<String, u64>) -> String {
    to_json(timeouts)
}

pub fn event_timeouts(json: Option<&str>) -> BTreeMap<String, u64> {
    from_json(json)
}

/// `deployments.status_messages`.
pub fn status_messages(json: &str) -> Vec<String> {
    from_json(Some(json))
}

pub fn status_messages_json(messages: &[String]) -> String {
    to_json(&messages)
}
