//! Flag values: CodeDeploy's enum names (`Succeeded`, `DISALLOW`) and structures given as
//! JSON or as the AWS CLI's shorthand, each read into its ferry message. Every parser is a
//! clap `value_parser`, so a bad value exits 2 with clap's message naming the flag.
//!
//! A structure is read through the message's descriptor, so the forms the AWS CLI takes work
//! beside protobuf's JSON mapping (what `--output json` prints): member names in camelCase,
//! snake_case or CodeDeploy's PascalCase (`Key`, `TargetStatus`); enum values as CodeDeploy
//! names (`S3`, `zip`, `DEPLOYMENT_FAILURE`) or protobuf names; `"true"` and numbers as text
//! (shorthand has no types); a single value where a list is expected; AWS's lists of lists of
//! tag filters; timestamps as RFC 3339, dates or epoch seconds. `file://PATH` reads the value
//! from a file, as the AWS CLI does.

use std::sync::OnceLock;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::{self as common, GitHubLocation, RevisionLocation, S3Location};
use ferry_proto::deploy::v1::{self as deploy, TargetFilters, TargetInstances, TimeRange};
use ferry_proto::registry::v1::{self as registry, AutoRollbackConfiguration};
use prost::Message;
use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use super::shorthand;

/// A CodeDeploy enum value (`Succeeded`, `DISALLOW`, `READY_WAIT`), listed in `--help`.
pub fn codedeploy<E>() -> impl TypedValueParser<Value = E>
where
    E: CodeDeployName + Send + Sync + 'static,
{
    PossibleValuesParser::new(E::all().iter().filter_map(|e| e.codedeploy_name())).try_map(|name| {
        E::from_codedeploy_name(&name).ok_or_else(|| format!("{name} is not a CodeDeploy value"))
    })
}

/// `--revision`: a RevisionLocation as JSON (the `revision` of `ferry push`'s output, or that
/// whole output) or shorthand.
pub fn revision(value: &str) -> Result<RevisionLocation, String> {
    let mut tree = tree(value)?;
    if let Value::Object(members) = &mut tree
        && !members.contains_key("revisionType")
        && !members.contains_key("revision_type")
        && let Some(inner) = members.remove("revision")
    {
        tree = inner;
    }
    let location: RevisionLocation = read(tree, "ferry.common.v1.RevisionLocation")?;
    if location.revision_type == common::RevisionLocationType::Unspecified as i32 {
        return Err("revisionType is missing".to_owned());
    }
    Ok(location)
}

/// `--s3-location bucket=…,key=…,bundleType=…`.
pub fn s3_location(value: &str) -> Result<S3Location, String> {
    structure(value, "ferry.common.v1.S3Location")
}

/// `--github-location repository=…,commitId=…`.
pub fn github_location(value: &str) -> Result<GitHubLocation, String> {
    structure(value, "ferry.common.v1.GitHubLocation")
}

/// `--auto-rollback-configuration enabled=true,events=DEPLOYMENT_FAILURE`.
pub fn auto_rollback(value: &str) -> Result<AutoRollbackConfiguration, String> {
    structure(value, "ferry.registry.v1.AutoRollbackConfiguration")
}

/// `--override-alarm-configuration enabled=true,alarms=[{name=…}]`.
pub fn alarm_configuration(value: &str) -> Result<registry::AlarmConfiguration, String> {
    structure(value, "ferry.registry.v1.AlarmConfiguration")
}

/// `--target-instances '{"tagFilters": [{"Key": …, "Value": …, "Type": "KEY_AND_VALUE"}]}'`.
pub fn target_instances(value: &str) -> Result<TargetInstances, String> {
    structure(value, "ferry.deploy.v1.TargetInstances")
}

/// `--create-time-range start=…,end=…`.
pub fn time_range(value: &str) -> Result<TimeRange, String> {
    structure(value, "ferry.deploy.v1.TimeRange")
}

/// `--target-filters TargetStatus=Failed,Succeeded` (CodeDeploy's map from filter name to
/// values).
pub fn target_filters(value: &str) -> Result<TargetFilters, String> {
    structure(value, "ferry.deploy.v1.TargetFilters")
}

/// A structure of protobuf type `full_name`, as JSON or shorthand.
fn structure<M: Message + Default>(value: &str, full_name: &str) -> Result<M, String> {
    read(tree(value)?, full_name)
}

/// The value as a JSON tree: JSON when it looks like JSON, else shorthand.
fn tree(value: &str) -> Result<Value, String> {
    let text = match value.strip_prefix("file://") {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
        }
        None => value.to_owned(),
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))
    } else {
        shorthand::parse(trimmed)
    }
}

fn read<M: Message + Default>(tree: Value, full_name: &str) -> Result<M, String> {
    let descriptor = pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| format!("no message {full_name}"))?;
    let json = message(tree, &descriptor, "")?;
    crate::commands::api::from_json(&json.to_string(), full_name).map_err(|e| format!("{e:#}"))
}

fn pool() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(ferry_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
        .ok_or_else(|| "cannot read ferry's descriptors".to_owned())
}

fn at(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The field a member name means: its JSON name, proto name, or CodeDeploy's PascalCase.
fn field(descriptor: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    descriptor
        .get_field_by_json_name(name)
        .or_else(|| descriptor.get_field_by_name(name))
        .or_else(|| {
            let mut chars = name.chars();
            let first = chars.next()?;
            let camel: String = first.to_lowercase().chain(chars).collect();
            descriptor.get_field_by_json_name(&camel)
        })
}

fn message(tree: Value, descriptor: &MessageDescriptor, path: &str) -> Result<Value, String> {
    if descriptor.full_name() == "google.protobuf.Timestamp" {
        return timestamp(tree, path);
    }
    let Value::Object(members) = tree else {
        let what = if path.is_empty() { "the value" } else { path };
        return Err(format!("{what} must be a structure"));
    };
    let mut out = Map::new();
    for (name, value) in members {
        let Some(field) = field(descriptor, &name) else {
            let known: Vec<String> = descriptor
                .fields()
                .map(|f| f.json_name().to_owned())
                .collect();
            return Err(format!(
                "unknown member {:?}; expected one of {}",
                at(path, &name),
                known.join(", ")
            ));
        };
        let path = at(path, field.json_name());
        let value = if field.is_list() {
            let items = match value {
                Value::Array(items) => items,
                one => vec![one],
            };
            let items = items
                .into_iter()
                .map(|item| element(item, &field.kind(), &path))
                .collect::<Result<_, _>>()?;
            Value::Array(items)
        } else {
            single(value, &field.kind(), &path)?
        };
        out.insert(field.json_name().to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// An element of a list. AWS writes a list of messages that hold one list (tag filter
/// groups) as a list of lists: `[[{…}], [{…}]]` is `[{"filters": […]}, …]`.
fn element(item: Value, kind: &Kind, path: &str) -> Result<Value, String> {
    if let (Kind::Message(descriptor), Value::Array(_)) = (kind, &item) {
        let mut fields = descriptor.fields();
        if let (Some(only), None) = (fields.next(), fields.next())
            && only.is_list()
        {
            let mut wrapped = Map::new();
            wrapped.insert(only.json_name().to_owned(), item);
            return single(Value::Object(wrapped), kind, path);
        }
    }
    single(item, kind, path)
}

fn single(value: Value, kind: &Kind, path: &str) -> Result<Value, String> {
    Ok(match (kind, value) {
        (Kind::Message(descriptor), value) => message(value, descriptor, path)?,
        (Kind::Enum(descriptor), Value::String(name)) => enum_value(descriptor, &name, path)?,
        (Kind::Bool, Value::String(text)) => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{path} must be true or false, not {text:?}")),
        },
        (
            Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Sint32
            | Kind::Sint64
            | Kind::Fixed32
            | Kind::Fixed64
            | Kind::Sfixed32
            | Kind::Sfixed64,
            Value::String(text),
        ) => match text.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => return Err(format!("{path} must be a whole number, not {text:?}")),
        },
        (Kind::Double | Kind::Float, Value::String(text)) => match text.parse::<f64>() {
            Ok(n) => Value::from(n),
            Err(_) => return Err(format!("{path} must be a number, not {text:?}")),
        },
        (Kind::String, Value::Number(n)) => Value::String(n.to_string()),
        (Kind::String, Value::Bool(b)) => Value::String(b.to_string()),
        (_, value) => value,
    })
}

/// An enum value by CodeDeploy's name (as a number) or protobuf's name (kept).
fn enum_value(descriptor: &EnumDescriptor, name: &str, path: &str) -> Result<Value, String> {
    let codedeploy = codedeploy_values(descriptor.full_name());
    if let Some((_, number)) = codedeploy.iter().find(|(n, _)| *n == name) {
        return Ok(Value::from(*number));
    }
    if descriptor.get_value_by_name(name).is_some() {
        return Ok(Value::String(name.to_owned()));
    }
    let names: Vec<String> = if codedeploy.is_empty() {
        descriptor.values().map(|v| v.name().to_owned()).collect()
    } else {
        codedeploy.iter().map(|(n, _)| (*n).to_owned()).collect()
    };
    Err(format!(
        "{path} cannot be {name:?}: expected one of {}",
        names.join(", ")
    ))
}

/// CodeDeploy's names of the enum `full_name` with their numbers (empty for an enum the
/// structures read here do not hold).
fn codedeploy_values(full_name: &str) -> Vec<(&'static str, i32)> {
    fn pairs<E: CodeDeployName + Into<i32> + 'static>() -> Vec<(&'static str, i32)> {
        E::all()
            .iter()
            .filter_map(|&e| Some((e.codedeploy_name()?, e.into())))
            .collect()
    }
    match full_name {
        "ferry.common.v1.RevisionLocationType" => pairs::<common::RevisionLocationType>(),
        "ferry.common.v1.BundleType" => pairs::<common::BundleType>(),
        "ferry.common.v1.TagFilterType" => pairs::<common::TagFilterType>(),
        "ferry.common.v1.DeploymentStatus" => pairs::<common::DeploymentStatus>(),
        "ferry.common.v1.FileExistsBehavior" => pairs::<common::FileExistsBehavior>(),
        "ferry.registry.v1.AutoRollbackEvent" => pairs::<registry::AutoRollbackEvent>(),
        "ferry.deploy.v1.TargetStatus" => pairs::<deploy::TargetStatus>(),
        "ferry.deploy.v1.TargetLabel" => pairs::<deploy::TargetLabel>(),
        _ => Vec::new(),
    }
}

/// A timestamp: RFC 3339 or a date (protobuf's parser takes both), or epoch seconds.
fn timestamp(value: Value, path: &str) -> Result<Value, String> {
    let seconds = match &value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => return Err(format!("{path} must be a time")),
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
    use super::*;
    use ferry_proto::common::v1::{BundleType, RevisionLocationType, TagFilterType};
    use ferry_proto::registry::v1::AutoRollbackEvent;

    #[test]
    fn a_revision_reads_from_push_output_protobuf_json_aws_json_and_shorthand() {
        let uploaded = RevisionLocation {
            revision_type: RevisionLocationType::Uploaded as i32,
            uploaded_location: Some(common::UploadedLocation {
                digest: "ab".repeat(32),
                bundle_type: BundleType::Tgz as i32,
            }),
            ..Default::default()
        };
        let proto = r#"{"revisionType": "REVISION_LOCATION_TYPE_UPLOADED", "uploadedLocation": {"digest": "ABAB", "bundleType": "BUNDLE_TYPE_TGZ"}}"#
            .replace("ABAB", &"ab".repeat(32));
        assert_eq!(revision(&proto).unwrap(), uploaded);
        let push = format!(
            r#"{{"applicationName": "shop", "revision": {proto}, "sha256": "x", "size": 3}}"#
        );
        assert_eq!(revision(&push).unwrap(), uploaded);
        let shorthand = format!(
            "revisionType=Uploaded,uploadedLocation={{digest={},bundleType=tgz}}",
            "ab".repeat(32)
        );
        assert_eq!(revision(&shorthand).unwrap(), uploaded);

        let s3 =
            revision("revisionType=S3,s3Location={bucket=b,key=k.zip,bundleType=zip}").unwrap();
        assert_eq!(s3.revision_type, RevisionLocationType::S3 as i32);
        let location = s3.s3_location.unwrap();
        assert_eq!(
            (location.bucket.as_str(), location.bundle_type),
            ("b", BundleType::Zip as i32)
        );
        let aws = revision(r#"{"revisionType": "GitHub", "gitHubLocation": {"repository": "o/r", "commitId": "c"}}"#).unwrap();
        assert_eq!(aws.git_hub_location.unwrap().commit_id, "c");
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let err = revision("revisionType=S4").unwrap_err();
        assert!(err.contains("expected one of S3, GitHub"), "{err}");
        assert!(
            revision("{\"revisionType\":")
                .unwrap_err()
                .contains("not valid JSON")
        );
        let err = revision("revisionType=S3,bucket=b").unwrap_err();
        assert!(err.contains("unknown member \"bucket\""), "{err}");
        assert!(
            revision("{}")
                .unwrap_err()
                .contains("revisionType is missing")
        );
    }

    #[test]
    fn structures_take_codedeploy_forms() {
        let rollback =
            auto_rollback("enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_REQUEST")
                .unwrap();
        assert!(rollback.enabled);
        assert_eq!(
            rollback.events,
            [
                AutoRollbackEvent::DeploymentFailure as i32,
                AutoRollbackEvent::DeploymentStopOnRequest as i32
            ]
        );
        let targets = target_instances(
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
        let filters = target_filters("TargetStatus=Failed,Skipped").unwrap();
        assert_eq!(
            filters.target_status,
            [
                deploy::TargetStatus::Failed as i32,
                deploy::TargetStatus::Skipped as i32
            ]
        );
        let range = time_range("start=86400,end=2024-02-29T12:00:00Z").unwrap();
        assert_eq!(range.start.unwrap().seconds, 86_400);
        assert_eq!(range.end.unwrap().seconds, 1_709_208_000);
    }

    #[test]
    fn epoch_seconds_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
