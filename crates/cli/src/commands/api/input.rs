//! Flag values as the AWS CLI takes them, into ferry's messages. Every parser here is a clap
//! `value_parser`, so a bad value exits 2 with clap's message naming the flag:
//!
//! - enum flags by CodeDeploy's value names (`Server`, `KEY_AND_VALUE`, `Succeeded`), listed
//!   in `--help` ([`codedeploy`]);
//! - structured flags ([`structure`], and [`items`] for lists of them) as shorthand
//!   (`Key=a,Value=b,Type=KEY_AND_VALUE`, see `shorthand`) or JSON with CodeDeploy's member
//!   names (`{"Key":"a"}`, `{"deploymentType":"IN_PLACE"}`), or `file://PATH` holding either;
//! - lists of names ([`names`]) as words or one JSON list.
//!
//! The message's descriptor drives the conversion, so the forms the AWS CLI takes work beside
//! protobuf's JSON mapping (what `--output json` printed can be given back): members match
//! fields whatever their case (`Key`, `key`, `ec2TagSetList`, `ec2_tag_set_list`), a scalar
//! given for a list is a list of one, strings become numbers and booleans where the field
//! wants one (shorthand has no types), enum values are CodeDeploy's names (`names`) or
//! protobuf's, tag sets are AWS's lists of lists, and timestamps are RFC 3339, dates or epoch
//! seconds.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1 as common;
use ferry_proto::deploy::v1 as deploy;
use ferry_proto::registry::v1 as registry;
use prost::Message;
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use super::names::codedeploy_names;
use super::{from_json, pool, shorthand};

/// A message a flag takes, with its protobuf name.
pub trait Proto: Message + Default + Clone + Send + Sync + 'static {
    const NAME: &'static str;
}

macro_rules! proto_names {
    ($($ty:ty => $name:literal,)+) => {$(
        impl Proto for $ty {
            const NAME: &'static str = $name;
        }
    )+};
}

proto_names! {
    common::Tag => "ferry.common.v1.Tag",
    common::TagFilter => "ferry.common.v1.TagFilter",
    common::RevisionLocation => "ferry.common.v1.RevisionLocation",
    common::S3Location => "ferry.common.v1.S3Location",
    common::GitHubLocation => "ferry.common.v1.GitHubLocation",
    registry::MinimumHealthyHosts => "ferry.registry.v1.MinimumHealthyHosts",
    registry::TrafficRoutingConfig => "ferry.registry.v1.TrafficRoutingConfig",
    registry::ZonalConfig => "ferry.registry.v1.ZonalConfig",
    registry::TriggerConfig => "ferry.registry.v1.TriggerConfig",
    registry::AlarmConfiguration => "ferry.registry.v1.AlarmConfiguration",
    registry::AutoRollbackConfiguration => "ferry.registry.v1.AutoRollbackConfiguration",
    registry::DeploymentStyle => "ferry.registry.v1.DeploymentStyle",
    registry::BlueGreenDeploymentConfiguration => "ferry.registry.v1.BlueGreenDeploymentConfiguration",
    registry::LoadBalancerInfo => "ferry.registry.v1.LoadBalancerInfo",
    registry::Ec2TagSet => "ferry.registry.v1.EC2TagSet",
    registry::OnPremisesTagSet => "ferry.registry.v1.OnPremisesTagSet",
    registry::EcsService => "ferry.registry.v1.ECSService",
    deploy::TargetInstances => "ferry.deploy.v1.TargetInstances",
    deploy::TimeRange => "ferry.deploy.v1.TimeRange",
    deploy::TargetFilters => "ferry.deploy.v1.TargetFilters",
}

/// The values of one occurrence of a list flag: one structure (shorthand), or every element
/// of a JSON list. `flatten` joins the occurrences.
#[derive(Clone, Debug)]
pub struct Items<T>(pub Vec<T>);

/// Every item of every occurrence, in order.
pub fn flatten<T>(values: Vec<Items<T>>) -> Vec<T> {
    values.into_iter().flat_map(|items| items.0).collect()
}

/// A structured flag (`--deployment-style deploymentType=IN_PLACE,…` or JSON).
pub fn structure<M: Proto>(raw: &str) -> Result<M, String> {
    to_message(read(raw)?)
}

/// One value of a list-of-structures flag (`--tags Key=a,Value=b Key=c,Value=d`, or one JSON
/// list).
pub fn items<M: Proto>(raw: &str) -> Result<Items<M>, String> {
    match read(raw)? {
        Value::Array(values) => values.into_iter().map(to_message).collect::<Result<_, _>>(),
        value => to_message(value).map(|message| vec![message]),
    }
    .map(Items)
}

/// One value of a list-of-names flag (`--application-names a b`, or one JSON list).
pub fn names(raw: &str) -> Result<Items<String>, String> {
    if raw.trim_start().starts_with('[') {
        serde_json::from_str(raw)
            .map(Items)
            .map_err(|e| format!("not a JSON list of names: {e}"))
    } else {
        Ok(Items(vec![raw.to_owned()]))
    }
}

/// An enum flag that takes CodeDeploy's value names (`Server`, `KEY_AND_VALUE`, `Succeeded`),
/// listed in `--help`.
pub fn codedeploy<E>() -> impl TypedValueParser<Value = E>
where
    E: CodeDeployName + Send + Sync + 'static,
{
    PossibleValuesParser::new(E::all().iter().filter_map(|value| value.codedeploy_name())).try_map(
        |name| {
            E::from_codedeploy_name(&name)
                .ok_or_else(|| format!("{name} is not a CodeDeploy value"))
        },
    )
}

/// The raw flag text as untyped JSON: `file://PATH` is read first, then JSON when it starts
/// with `{` or `[` (as the AWS CLI decides), shorthand otherwise.
pub fn read(raw: &str) -> Result<Value, String> {
    let text = match raw.strip_prefix("file://") {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
        }
        None => raw.to_owned(),
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))
    } else {
        shorthand::parse(trimmed).map(Value::Object)
    }
}

/// Untyped CodeDeploy-style JSON as `M`.
pub fn to_message<M: Proto>(value: Value) -> Result<M, String> {
    let descriptor = pool()
        .map_err(|e| format!("{e:#}"))?
        .get_message_by_name(M::NAME)
        .ok_or_else(|| format!("ferry's descriptors have no {}", M::NAME))?;
    let json = message(value, &descriptor, "")?;
    from_json(&json.to_string(), M::NAME).map_err(|e| format!("{e:#}"))
}

/// `path.member`, for messages that say where in the value a problem is.
fn at(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

/// "tagFilters[0]: ", or nothing at the top level.
fn place(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// Names compared without case and separators: `Key` = `key`, `ec2TagSetList` = `ec2_tag_set_list`.
fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A JSON object for `descriptor`, in protobuf's JSON mapping.
fn message(value: Value, descriptor: &MessageDescriptor, path: &str) -> Result<Value, String> {
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => return timestamp(value, path),
        // Protobuf's JSON mapping reads the other well-known types as they are.
        name if name.starts_with("google.protobuf.") => return Ok(value),
        _ => {}
    }
    match value {
        Value::Object(members) => {
            let mut out = Map::new();
            for (member, value) in members {
                let wanted = normalized(&member);
                let field = descriptor
                    .fields()
                    .find(|field| normalized(field.name()) == wanted)
                    .ok_or_else(|| {
                        let known: Vec<_> = descriptor
                            .fields()
                            .map(|f| f.json_name().to_owned())
                            .collect();
                        format!(
                            "{}unknown member {member:?} in {}; it has {}",
                            place(path),
                            descriptor.name(),
                            known.join(", ")
                        )
                    })?;
                let value = field_value(value, &field, &at(path, &member))?;
                out.insert(field.json_name().to_owned(), value);
            }
            Ok(Value::Object(out))
        }
        // A message holding nothing but one list is written as that list, as CodeDeploy's
        // tag sets are lists of lists (`ec2TagSetList: [[{…}]]`).
        Value::Array(_) if sole_list(descriptor).is_some() => {
            let field = sole_list(descriptor).map(|f| f.json_name().to_owned());
            let mut wrapped = Map::new();
            wrapped.insert(field.unwrap_or_default(), value);
            message(Value::Object(wrapped), descriptor, path)
        }
        Value::Null => Ok(Value::Null),
        other => Err(format!(
            "{}expected a {} structure, not {other}",
            place(path),
            descriptor.name()
        )),
    }
}

/// The only field of `descriptor`, when it is a list.
fn sole_list(descriptor: &MessageDescriptor) -> Option<FieldDescriptor> {
    let mut fields = descriptor.fields();
    match (fields.next(), fields.next()) {
        (Some(field), None) if field.is_list() => Some(field),
        _ => None,
    }
}

fn field_value(value: Value, field: &FieldDescriptor, path: &str) -> Result<Value, String> {
    if field.is_map() {
        return Ok(value);
    }
    if field.is_list() {
        let values = match value {
            Value::Array(values) => values,
            Value::Null => Vec::new(),
            one => vec![one],
        };
        return values
            .into_iter()
            .enumerate()
            .map(|(i, value)| single(value, &field.kind(), &format!("{path}[{i}]")))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    single(value, &field.kind(), path)
}

fn single(value: Value, kind: &Kind, path: &str) -> Result<Value, String> {
    let wrong =
        |what: &str, value: &Value| Err(format!("{}expected {what}, not {value}", place(path)));
    match (kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (Kind::Message(descriptor), value) => message(value, descriptor, path),
        (Kind::Enum(descriptor), value) => enum_value(value, descriptor, path),
        (Kind::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (Kind::Bool, Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        (Kind::Bool, Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        (Kind::Bool, value) => wrong("true or false", &value),
        (Kind::String, Value::String(s)) => Ok(Value::String(s)),
        (Kind::String, value @ (Value::Number(_) | Value::Bool(_))) => {
            Ok(Value::String(value.to_string()))
        }
        (Kind::String, value) => wrong("a string", &value),
        (Kind::Bytes, value) => Ok(value),
        (Kind::Float | Kind::Double, Value::Number(n)) => Ok(Value::Number(n)),
        (Kind::Float | Kind::Double, Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) => serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| format!("{}{s:?} is not a finite number", place(path))),
            Err(_) => wrong("a number", &Value::String(s)),
        },
        (_, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
        (_, Value::String(s)) => {
            let trimmed = s.trim();
            if let Ok(n) = trimmed.parse::<i64>() {
                Ok(Value::from(n))
            } else if let Ok(n) = trimmed.parse::<u64>() {
                Ok(Value::from(n))
            } else {
                wrong("an integer", &Value::String(s))
            }
        }
        (_, value) => wrong("an integer", &value),
    }
}

/// CodeDeploy's name (or protobuf's) of an enum value, as protobuf's name.
fn enum_value(value: Value, descriptor: &EnumDescriptor, path: &str) -> Result<Value, String> {
    let names = codedeploy_names(descriptor.full_name());
    let Value::String(name) = value else {
        return match value {
            Value::Number(_) => Ok(value),
            other => Err(format!("{}expected a value name, not {other}", place(path))),
        };
    };
    let number = names
        .iter()
        .flatten()
        .find(|(_, codedeploy)| *codedeploy == name)
        .map(|(number, _)| *number)
        .or_else(|| descriptor.get_value_by_name(&name).map(|v| v.number()));
    match number.and_then(|number| descriptor.get_value(number)) {
        Some(value) => Ok(Value::String(value.name().to_owned())),
        None => {
            let expected: Vec<String> = match names {
                Some(names) => names.iter().map(|(_, name)| (*name).to_owned()).collect(),
                None => descriptor.values().map(|v| v.name().to_owned()).collect(),
            };
            Err(format!(
                "{}{name:?} is not a {}; use one of {}",
                place(path),
                descriptor.name(),
                expected.join(", ")
            ))
        }
    }
}

/// A timestamp: RFC 3339 or a date (protobuf's parser takes both), or epoch seconds.
fn timestamp(value: Value, path: &str) -> Result<Value, String> {
    let seconds = match &value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        other => return Err(format!("{}expected a time, not {other}", place(path))),
    };
    Ok(match seconds {
        Some(seconds) => Value::String(rfc3339(seconds)),
        None => value,
    })
}

/// Epoch seconds as RFC 3339 in UTC (Howard Hinnant's days-to-civil).
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use common::{Tag, TagFilter, TagFilterType};
    use registry::{
        AutoRollbackConfiguration, AutoRollbackEvent, DeploymentStyle, Ec2TagSet,
        MinimumHealthyHosts, MinimumHealthyHostsType, OnPremisesTagSet, TriggerConfig,
        TriggerEventType,
    };

    use super::*;

    #[test]
    fn every_flag_message_is_in_the_descriptors() {
        fn check<M: Proto>() {
            assert!(
                to_message::<M>(Value::Object(Map::new())).is_ok(),
                "{}",
                M::NAME
            );
        }
        check::<Tag>();
        check::<TagFilter>();
        check::<common::RevisionLocation>();
        check::<common::S3Location>();
        check::<common::GitHubLocation>();
        check::<MinimumHealthyHosts>();
        check::<registry::TrafficRoutingConfig>();
        check::<registry::ZonalConfig>();
        check::<TriggerConfig>();
        check::<registry::AlarmConfiguration>();
        check::<AutoRollbackConfiguration>();
        check::<DeploymentStyle>();
        check::<registry::BlueGreenDeploymentConfiguration>();
        check::<registry::LoadBalancerInfo>();
        check::<Ec2TagSet>();
        check::<OnPremisesTagSet>();
        check::<registry::EcsService>();
        check::<deploy::TargetInstances>();
        check::<deploy::TimeRange>();
        check::<deploy::TargetFilters>();
    }

    fn filter(key: &str, value: &str, kind: TagFilterType) -> TagFilter {
        TagFilter {
            key: key.into(),
            value: value.into(),
            r#type: kind as i32,
        }
    }

    #[test]
    fn shorthand_and_codedeploy_json_give_the_same_message() {
        let expected = vec![filter("ferry-up", "local", TagFilterType::KeyAndValue)];
        let shorthand = items::<TagFilter>("Key=ferry-up,Value=local,Type=KEY_AND_VALUE").unwrap();
        let json =
            items::<TagFilter>(r#"[{"Key":"ferry-up","Value":"local","Type":"KEY_AND_VALUE"}]"#)
                .unwrap();
        let protobuf = items::<TagFilter>(
            r#"{"key":"ferry-up","value":"local","type":"TAG_FILTER_TYPE_KEY_AND_VALUE"}"#,
        )
        .unwrap();
        assert_eq!(shorthand.0, expected);
        assert_eq!(json.0, expected);
        assert_eq!(protobuf.0, expected);
    }

    #[test]
    fn strings_become_numbers_booleans_and_lists_where_the_field_wants_them() {
        assert_eq!(
            structure::<MinimumHealthyHosts>("type=FLEET_PERCENT,value=75").unwrap(),
            MinimumHealthyHosts {
                r#type: MinimumHealthyHostsType::FleetPercent as i32,
                value: 75,
            }
        );
        assert_eq!(
            structure::<AutoRollbackConfiguration>("enabled=true,events=DEPLOYMENT_FAILURE")
                .unwrap(),
            AutoRollbackConfiguration {
                enabled: true,
                events: vec![AutoRollbackEvent::DeploymentFailure as i32],
            }
        );
        let trigger = items::<TriggerConfig>(
            "triggerName=t,triggerTargetArn=https://hooks.example/x,triggerEvents=DeploymentFailure,DeploymentSuccess",
        )
        .unwrap();
        assert_eq!(
            trigger.0[0].trigger_events,
            [
                TriggerEventType::DeploymentFailure as i32,
                TriggerEventType::DeploymentSuccess as i32
            ]
        );
    }

    #[test]
    fn tag_sets_are_lists_of_lists() {
        let set = structure::<OnPremisesTagSet>(
            r#"{"onPremisesTagSetList":[[{"Key":"a","Value":"1","Type":"KEY_AND_VALUE"},{"Key":"b","Type":"KEY_ONLY"}],[{"Value":"2","Type":"VALUE_ONLY"}]]}"#,
        )
        .unwrap();
        assert_eq!(set.on_premises_tag_set_list.len(), 2);
        assert_eq!(
            set.on_premises_tag_set_list[0].filters,
            [
                filter("a", "1", TagFilterType::KeyAndValue),
                filter("b", "", TagFilterType::KeyOnly)
            ]
        );
        let shorthand =
            structure::<Ec2TagSet>("ec2TagSetList=[[{Key=a,Value=1,Type=KEY_AND_VALUE}]]").unwrap();
        assert_eq!(
            shorthand.ec2_tag_set_list[0].filters,
            [filter("a", "1", TagFilterType::KeyAndValue)]
        );
    }

    #[test]
    fn structures_take_codedeploy_forms() {
        let rollback = structure::<AutoRollbackConfiguration>(
            "enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_REQUEST",
        )
        .unwrap();
        assert!(rollback.enabled);
        assert_eq!(
            rollback.events,
            [
                AutoRollbackEvent::DeploymentFailure as i32,
                AutoRollbackEvent::DeploymentStopOnRequest as i32
            ]
        );
        let targets = structure::<deploy::TargetInstances>(
            r#"{"tagFilters": [{"Key": "k", "Value": "v", "Type": "KEY_AND_VALUE"}], "ec2TagSet": {"ec2TagSetList": [[{"Key": "a", "Type": "KEY_ONLY"}]]}}"#,
        )
        .unwrap();
        assert_eq!(
            targets.tag_filters[0].r#type,
            TagFilterType::KeyAndValue as i32
        );
        assert_eq!(
            targets.ec2_tag_set.unwrap().ec2_tag_set_list[0].filters[0].key,
            "a"
        );
        let filters = structure::<deploy::TargetFilters>("TargetStatus=Failed,Skipped").unwrap();
        assert_eq!(
            filters.target_status,
            [
                deploy::TargetStatus::Failed as i32,
                deploy::TargetStatus::Skipped as i32
            ]
        );
        let range = structure::<deploy::TimeRange>("start=86400,end=2024-02-29T12:00:00Z").unwrap();
        assert_eq!(range.start.unwrap().seconds, 86_400);
        assert_eq!(range.end.unwrap().seconds, 1_709_208_000);
    }

    #[test]
    fn epoch_seconds_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = items::<Tag>("Kye=a,Value=b").unwrap_err();
        assert!(
            unknown.contains("unknown member \"Kye\" in Tag"),
            "{unknown}"
        );
        let bad_enum = items::<TagFilter>("Key=a,Type=BOTH").unwrap_err();
        assert!(
            bad_enum.contains("Type: \"BOTH\" is not a TagFilterType; use one of KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE"),
            "{bad_enum}"
        );
        let bad_number =
            structure::<MinimumHealthyHosts>("type=HOST_COUNT,value=many").unwrap_err();
        assert!(
            bad_number.contains("value: expected an integer"),
            "{bad_number}"
        );
        let bad_json = structure::<DeploymentStyle>("{nope").unwrap_err();
        assert!(bad_json.starts_with("not valid JSON"), "{bad_json}");
    }

    #[test]
    fn names_take_one_name_or_a_json_list() {
        assert_eq!(names("web").unwrap().0, ["web"]);
        assert_eq!(names(r#"["a","b"]"#).unwrap().0, ["a", "b"]);
    }
}
