//! Field by field, a deployment group request's wire values become the stored domain values,
//! each refused with the CodeDeploy exception for its field (malformed values, unknown enum
//! numbers, list limits): the service role, the tag filters and sets that select instances,
//! triggers, alarms, automatic rollback and the outdated instances strategy. How a group
//! reaches its targets is in `traffic.rs`; rules that span several fields in `validate.rs`.

use std::collections::BTreeSet;

use ferry_proto::common::v1::{self as common, TagFilterType};
use ferry_proto::registry::v1::{
    self as pb, AutoRollbackEvent, OutdatedInstancesStrategy, TriggerEventType,
};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{Alarms, AutoRollback, TagFilter, Trigger};

/// Most triggers, alarms, load balancers or target groups of one kind in a group.
pub const MAX_ITEMS: usize = 10;
/// Most groups in a tag set.
pub const MAX_TAG_SET_GROUPS: usize = 3;
const MAX_TAG_KEY_LEN: usize = 128;
const MAX_TAG_VALUE_LEN: usize = 256;
const MAX_ALARM_NAME_LEN: usize = 255;

/// Which instances a tag filter selects, for the exception CodeDeploy raises about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tags {
    Ec2,
    OnPremises,
}

impl Tags {
    pub fn invalid(self, msg: String) -> ApiError {
        match self {
            Self::Ec2 => ApiError::new(Exception::InvalidEC2Tag, msg),
            Self::OnPremises => ApiError::new(Exception::InvalidTag, msg),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Ec2 => "EC2 tag filter",
            Self::OnPremises => "on-premises tag filter",
        }
    }
}

/// The service role: required on create, and shaped like an IAM role ARN,
/// `arn:PARTITION:iam::ACCOUNT:role/NAME`.
pub fn service_role(arn: &str) -> Result<String, ApiError> {
    if arn.is_empty() {
        return Err(ApiError::new(
            Exception::RoleRequired,
            "service_role_arn is required",
        ));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = matches!(
        parts[..],
        ["arn", partition, "iam", _, account, resource]
            if !partition.is_empty() && !account.is_empty()
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
    );
    if !valid || arn.chars().any(char::is_whitespace) {
        return Err(ApiError::new(
            Exception::InvalidRole,
            format!(
                "service_role_arn {arn:?} is not a role ARN; use arn:PARTITION:iam::ACCOUNT:role/NAME"
            ),
        ));
    }
    Ok(arn.to_owned())
}

/// A list of tag filters: each with a type, and the key and/or value that type matches on.
pub fn tag_filters(filters: &[common::TagFilter], tags: Tags) -> Result<Vec<TagFilter>, ApiError> {
    filters.iter().map(|f| tag_filter(f, tags)).collect()
}

fn tag_filter(filter: &common::TagFilter, tags: Tags) -> Result<TagFilter, ApiError> {
    let label = tags.label();
    let kind = match TagFilterType::try_from(filter.r#type) {
        Ok(TagFilterType::Unspecified) | Err(_) => {
            return Err(tags.invalid(format!(
                "{label} type {} is not one of KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE",
                filter.r#type
            )));
        }
        Ok(kind) => kind,
    };
    let needs_key = matches!(kind, TagFilterType::KeyOnly | TagFilterType::KeyAndValue);
    let needs_value = matches!(kind, TagFilterType::ValueOnly | TagFilterType::KeyAndValue);
    if needs_key && filter.key.is_empty() {
        return Err(tags.invalid(format!("a {label} of type {} needs a key", type_name(kind))));
    }
    if needs_value && filter.value.is_empty() {
        return Err(tags.invalid(format!(
            "a {label} of type {} needs a value",
            type_name(kind)
        )));
    }
    if filter.key.chars().count() > MAX_TAG_KEY_LEN
        || filter.value.chars().count() > MAX_TAG_VALUE_LEN
    {
        return Err(tags.invalid(format!(
            "{label} {:?}: keys are at most {MAX_TAG_KEY_LEN} characters, values at most {MAX_TAG_VALUE_LEN}",
            filter.key
        )));
    }
    Ok(TagFilter {
        key: filter.key.clone(),
        value: filter.value.clone(),
        kind,
    })
}

fn type_name(kind: TagFilterType) -> &'static str {
    use ferry_proto::codedeploy::CodeDeployName;
    kind.codedeploy_name().unwrap_or("?")
}

/// A tag set: at most three groups, none of them empty.
pub fn tag_set(
    groups: &[common::TagFilterGroup],
    tags: Tags,
) -> Result<Vec<Vec<TagFilter>>, ApiError> {
    if groups.len() > MAX_TAG_SET_GROUPS {
        return Err(ApiError::new(
            Exception::TagSetListLimitExceeded,
            format!(
                "the tag set has {} groups; at most {MAX_TAG_SET_GROUPS} are allowed",
                groups.len()
            ),
        ));
    }
    groups
        .iter()
        .map(|group| {
            if group.filters.is_empty() {
                return Err(tags.invalid(format!(
                    "every group of a tag set needs at least one {}",
                    tags.label()
                )));
            }
            tag_filters(&group.filters, tags)
        })
        .collect()
}

/// Ferry has no Auto Scaling: it deploys to registered instances, so the list stays empty.
pub fn auto_scaling_groups(names: &[String]) -> Result<Vec<String>, ApiError> {
    if let Some(name) = names.first() {
        return Err(ApiError::new(
            Exception::InvalidAutoScalingGroup,
            format!(
                "auto scaling group {name:?} cannot be used: ferry has no Auto Scaling and targets registered on-premises instances; select them with on_premises_instance_tag_filters or on_premises_tag_set"
            ),
        ));
    }
    Ok(Vec::new())
}

/// Triggers: at most ten, each named uniquely, posting to an http(s) webhook on at least one event.
pub fn triggers(triggers: &[pb::TriggerConfig]) -> Result<Vec<Trigger>, ApiError> {
    let invalid = |msg: String| ApiError::new(Exception::InvalidTriggerConfig, msg);
    if triggers.len() > MAX_ITEMS {
        return Err(ApiError::new(
            Exception::TriggerTargetsLimitExceeded,
            format!(
                "{} triggers given; a deployment group has at most {MAX_ITEMS}",
                triggers.len()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    triggers
        .iter()
        .map(|t| {
            let name = &t.trigger_name;
            if name.is_empty() {
                return Err(invalid("every trigger needs a trigger_name".into()));
            }
            if !names.insert(name.as_str()) {
                return Err(invalid(format!("trigger name {name:?} is used twice; trigger names are unique")));
            }
            if !is_webhook_url(&t.trigger_target_arn) {
                return Err(invalid(format!(
                    "trigger {name:?}: trigger_target_arn {:?} is not a webhook URL; use an http:// or https:// URL",
                    t.trigger_target_arn
                )));
            }
            if t.trigger_events.is_empty() {
                return Err(invalid(format!("trigger {name:?} needs at least one trigger event")));
            }
            let trigger_events = t
                .trigger_events
                .iter()
                .map(|&n| match TriggerEventType::try_from(n) {
                    Ok(TriggerEventType::Unspecified) | Err(_) => {
                        Err(invalid(format!("trigger {name:?}: event {n} is not a CodeDeploy trigger event type")))
                    }
                    Ok(event) => Ok(event),
                })
                .collect::<Result<_, _>>()?;
            Ok(Trigger { trigger_name: name.clone(), trigger_target_arn: t.trigger_target_arn.clone(), trigger_events })
        })
        .collect()
}

/// True for an absolute http or https URL with a host and no whitespace.
pub fn is_webhook_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with(':')
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Alarms: at most ten unique names of 1–255 characters; enabled needs at least one.
pub fn alarms(given: &pb::AlarmConfiguration) -> Result<Alarms, ApiError> {
    let invalid = |msg: String| Err(ApiError::new(Exception::InvalidAlarmConfig, msg));
    if given.alarms.len() > MAX_ITEMS {
        return Err(ApiError::new(
            Exception::AlarmsLimitExceeded,
            format!(
                "{} alarms given; a deployment group has at most {MAX_ITEMS}",
                given.alarms.len()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    for alarm in &given.alarms {
        if alarm.name.is_empty() || alarm.name.chars().count() > MAX_ALARM_NAME_LEN {
            return invalid(format!(
                "alarm name {:?} must be 1-{MAX_ALARM_NAME_LEN} characters",
                alarm.name
            ));
        }
        if !names.insert(alarm.name.as_str()) {
            return invalid(format!("alarm {:?} is listed twice", alarm.name));
        }
    }
    if given.enabled && given.alarms.is_empty() {
        return invalid("an enabled alarm configuration needs at least one alarm".into());
    }
    Ok(Alarms {
        enabled: given.enabled,
        ignore_poll_alarm_failure: given.ignore_poll_alarm_failure,
        alarms: given.alarms.iter().map(|a| a.name.clone()).collect(),
    })
}

/// Automatic rollback: known events; enabled needs at least one.
pub fn auto_rollback(given: &pb::AutoRollbackConfiguration) -> Result<AutoRollback, ApiError> {
    let invalid = |msg: String| ApiError::new(Exception::InvalidAutoRollbackConfig, msg);
    let events = given
        .events
        .iter()
        .map(|&n| match AutoRollbackEvent::try_from(n) {
            Ok(AutoRollbackEvent::Unspecified) | Err(_) => Err(invalid(format!(
                "auto rollback event {n} is not one of DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST"
            ))),
            Ok(event) => Ok(event),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if given.enabled && events.is_empty() {
        return Err(invalid(
            "an enabled auto rollback configuration needs at least one event".into(),
        ));
    }
    Ok(AutoRollback {
        enabled: given.enabled,
        events,
    })
}

/// The outdated instances strategy; `None` when unspecified.
pub fn outdated_instances_strategy(
    value: i32,
) -> Result<Option<OutdatedInstancesStrategy>, ApiError> {
    match OutdatedInstancesStrategy::try_from(value) {
        Ok(OutdatedInstancesStrategy::Unspecified) => Ok(None),
        Ok(strategy) => Ok(Some(strategy)),
        Err(_) => Err(ApiError::new(
            Exception::InvalidInput,
            format!("outdated_instances_strategy {value} is not UPDATE or IGNORE"),
        )),
    }
}
