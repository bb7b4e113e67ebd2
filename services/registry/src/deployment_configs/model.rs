//! The stored form of a deployment configuration: the `spec` JSON of a `deployment_configs`
//! row, with CodeDeploy's member names as keys and enums by their CodeDeploy names, and its
//! conversion to the wire. Requests become a [`ConfigSpec`] in `validate.rs`.

use ferry_proto::registry::v1 as pb;
use serde::{Deserialize, Serialize};

use ferry_runtime::error::ApiError;

use crate::convert::{by_name, platform_from_name, timestamp};
use crate::store::entities::deployment_config;

/// How a deployment under this configuration proceeds. Which parts are set depends on the
/// compute platform: minimum healthy hosts and zonal deployment for Server, traffic routing
/// for Lambda and ECS (and, as `AllAtOnce` only, optionally for Server).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_hosts: Option<MinimumHealthyHosts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_routing_config: Option<TrafficRouting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zonal_config: Option<ZonalConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumHealthyHosts {
    #[serde(rename = "type", with = "by_name")]
    pub kind: pb::MinimumHealthyHostsType,
    pub value: i32,
}

/// Traffic routing: its type and, for the time-based types, the matching step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouting {
    #[serde(rename = "type", with = "by_name")]
    pub kind: pb::TrafficRoutingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_based_canary: Option<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_based_linear: Option<Step>,
}

/// A traffic shift: `percentage` of the traffic, then `interval` minutes to the next shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub percentage: i32,
    pub interval: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZonalConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_zone_monitor_duration_in_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_duration_in_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_hosts_per_zone: Option<MinimumHealthyHostsPerZone>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumHealthyHostsPerZone {
    #[serde(rename = "type", with = "by_name")]
    pub kind: pb::MinimumHealthyHostsPerZoneType,
    pub value: i32,
}

impl ConfigSpec {
    /// The JSON stored in the row.
    pub fn to_json(&self) -> Result<String, ApiError> {
        serde_json::to_string(self).map_err(ApiError::internal)
    }

    /// Reads a stored spec; a row that does not parse is our fault, not the caller's.
    pub fn from_json(json: &str) -> Result<Self, ApiError> {
        serde_json::from_str(json).map_err(ApiError::internal)
    }
}

impl From<&TrafficRouting> for pb::TrafficRoutingConfig {
    fn from(routing: &TrafficRouting) -> Self {
        Self {
            r#type: routing.kind as i32,
            time_based_canary: routing.time_based_canary.map(|s| pb::TimeBasedCanary {
                canary_percentage: s.percentage,
                canary_interval: s.interval,
            }),
            time_based_linear: routing.time_based_linear.map(|s| pb::TimeBasedLinear {
                linear_percentage: s.percentage,
                linear_interval: s.interval,
            }),
        }
    }
}

impl From<&ZonalConfig> for pb::ZonalConfig {
    fn from(zonal: &ZonalConfig) -> Self {
        Self {
            first_zone_monitor_duration_in_seconds: zonal.first_zone_monitor_duration_in_seconds,
            monitor_duration_in_seconds: zonal.monitor_duration_in_seconds,
            minimum_healthy_hosts_per_zone: zonal.minimum_healthy_hosts_per_zone.map(|m| {
                pb::MinimumHealthyHostsPerZone {
                    r#type: m.kind as i32,
                    value: m.value,
                }
            }),
        }
    }
}

/// A stored configuration on the wire (CodeDeploy's DeploymentConfigInfo).
pub fn info(row: deployment_config::Model) -> Result<pb::DeploymentConfigInfo, ApiError> {
    let spec = ConfigSpec::from_json(&row.spec)?;
    Ok(pb::DeploymentConfigInfo {
        deployment_config_id: row.id,
        deployment_config_name: row.name,
        minimum_healthy_hosts: spec.minimum_healthy_hosts.map(|m| pb::MinimumHealthyHosts {
            r#type: m.kind as i32,
            value: m.value,
        }),
        create_time: Some(timestamp(row.create_time)),
        compute_platform: platform_from_name(&row.compute_platform) as i32,
        traffic_routing_config: spec.traffic_routing_config.as_ref().map(Into::into),
        zonal_config: spec.zonal_config.as_ref().map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_codedeploy_names_and_reads_them_back() {
        let spec = ConfigSpec {
            minimum_healthy_hosts: Some(MinimumHealthyHosts {
                kind: pb::MinimumHealthyHostsType::FleetPercent,
                value: 75,
            }),
            traffic_routing_config: None,
            zonal_config: Some(ZonalConfig {
                first_zone_monitor_duration_in_seconds: Some(60),
                monitor_duration_in_seconds: None,
                minimum_healthy_hosts_per_zone: Some(MinimumHealthyHostsPerZone {
                    kind: pb::MinimumHealthyHostsPerZoneType::HostCount,
                    value: 1,
                }),
            }),
        };
        let json = spec.to_json().unwrap();
        assert_eq!(
            json,
            r#"{"minimumHealthyHosts":{"type":"FLEET_PERCENT","value":75},"zonalConfig":{"firstZoneMonitorDurationInSeconds":60,"minimumHealthyHostsPerZone":{"type":"HOST_COUNT","value":1}}}"#
        );
        assert_eq!(ConfigSpec::from_json(&json).unwrap(), spec);
    }

    #[test]
    fn an_unknown_stored_value_is_an_internal_error() {
        let err = ConfigSpec::from_json(r#"{"minimumHealthyHosts":{"type":"SOME","value":1}}"#)
            .unwrap_err();
        assert_eq!(err.exception(), None);
    }
}
