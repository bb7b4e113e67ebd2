//! Small conversions between rows and wire types that every aggregate uses.

use chrono::{DateTime, Utc};
use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::ComputePlatform;
use prost_types::Timestamp;

use ferry_runtime::error::{ApiError, Exception};

pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// The compute platform a request asks for; unspecified means Server, as in CodeDeploy.
pub fn compute_platform(value: i32) -> Result<ComputePlatform, ApiError> {
    match ComputePlatform::try_from(value) {
        Ok(ComputePlatform::Unspecified) => Ok(ComputePlatform::Server),
        Ok(platform) => Ok(platform),
        Err(_) => Err(ApiError::new(
            Exception::InvalidComputePlatform,
            format!("compute platform {value} is not one of Server, Lambda, ECS"),
        )),
    }
}

/// The stored (CodeDeploy) name of a compute platform.
pub fn platform_name(platform: ComputePlatform) -> &'static str {
    platform.codedeploy_name().unwrap_or("Server")
}

/// A stored compute platform back on the wire.
pub fn platform_from_name(name: &str) -> ComputePlatform {
    ComputePlatform::from_codedeploy_name(name).unwrap_or(ComputePlatform::Unspecified)
}

/// A fresh id in CodeDeploy's shape for applications, groups and configurations: a UUID.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Serde for an enum stored by its CodeDeploy name (`#[serde(with = "crate::convert::by_name")]`),
/// so stored JSON reads like CodeDeploy's and the names come from the one table in
/// `ferry_proto::codedeploy`. `Unspecified` is never stored: it is refused at the edge.
pub(crate) mod by_name {
    use ferry_proto::codedeploy::CodeDeployName;
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: CodeDeployName, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(
            value
                .codedeploy_name()
                .ok_or_else(|| S::Error::custom("an unspecified enum value"))?,
        )
    }

    pub fn deserialize<'de, T: CodeDeployName, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let name = String::deserialize(d)?;
        T::from_codedeploy_name(&name)
            .ok_or_else(|| D::Error::custom(format!("unknown value {name:?}")))
    }

    /// The same for an optional value (`#[serde(default, with = "crate::convert::by_name::option")]`).
    pub mod option {
        use super::*;

        pub fn serialize<T: CodeDeployName, S: Serializer>(
            value: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, T: CodeDeployName, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<T>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|name| {
                    T::from_codedeploy_name(&name)
                        .ok_or_else(|| D::Error::custom(format!("unknown value {name:?}")))
                })
                .transpose()
        }
    }

    /// The same for a list of values (`#[serde(with = "crate::convert::by_name::list")]`).
    pub mod list {
        use super::*;

        pub fn serialize<T: CodeDeployName, S: Serializer>(
            values: &[T],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            let names = values
                .iter()
                .map(|v| {
                    v.codedeploy_name()
                        .ok_or_else(|| S::Error::custom("an unspecified enum value"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            s.collect_seq(names)
        }

        pub fn deserialize<'de, T: CodeDeployName, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<T>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|name| {
                    T::from_codedeploy_name(name)
                        .ok_or_else(|| D::Error::custom(format!("unknown value {name:?}")))
                })
                .collect()
        }
    }
}
