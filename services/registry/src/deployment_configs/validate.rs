//! CodeDeploy's rules for CreateDeploymentConfig, as pure functions from the request to the
//! stored [`ConfigSpec`]: what a compute platform's configuration must and may carry, and the
//! ranges of its values.

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::{
    self as pb, MinimumHealthyHostsPerZoneType, MinimumHealthyHostsType, TrafficRoutingType,
};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{
    ConfigSpec, MinimumHealthyHosts, MinimumHealthyHostsPerZone, Step, TrafficRouting, ZonalConfig,
};
use super::predefined::{RESERVED_PREFIX, is_predefined};
use crate::convert::platform_name;
use crate::names::{self, NameKind};

/// Checks the name of a configuration to create. A predefined name exists already; any other
/// name under the reserved `CodeDeployDefault.` prefix is malformed for a user.
pub fn check_new_name(name: &str) -> Result<(), ApiError> {
    names::check(NameKind::DeploymentConfig, name)?;
    if is_predefined(name) {
        return Err(ApiError::new(
            Exception::DeploymentConfigAlreadyExists,
            format!("deployment configuration {name:?} is predefined; choose another name"),
        ));
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(ApiError::new(
            Exception::InvalidDeploymentConfigName,
            format!(
                "deployment configuration name {name:?} uses the prefix {RESERVED_PREFIX}, which is reserved for predefined configurations; choose another name"
            ),
        ));
    }
    Ok(())
}

/// The stored form of a CreateDeploymentConfig request for `platform`.
pub fn spec(
    platform: ComputePlatform,
    req: &pb::CreateDeploymentConfigRequest,
) -> Result<ConfigSpec, ApiError> {
    Ok(ConfigSpec {
        minimum_healthy_hosts: minimum_healthy_hosts(platform, req.minimum_healthy_hosts.as_ref())?,
        traffic_routing_config: traffic_routing(platform, req.traffic_routing_config.as_ref())?,
        zonal_config: zonal(platform, req.zonal_config.as_ref())?,
    })
}

/// Server configurations need minimum healthy hosts: HOST_COUNT ≥ 0 or FLEET_PERCENT 0–99
/// (MOST_CONCURRENCY is only ever returned, for CodeDeployDefault.OneAtATime). Lambda and
/// ECS configurations route traffic instead and take none.
fn minimum_healthy_hosts(
    platform: ComputePlatform,
    given: Option<&pb::MinimumHealthyHosts>,
) -> Result<Option<MinimumHealthyHosts>, ApiError> {
    let invalid = |msg: String| {
        Err(ApiError::new(
            Exception::InvalidMinimumHealthyHostValue,
            msg,
        ))
    };
    let Some(given) = given else {
        return if platform == ComputePlatform::Server {
            invalid("minimum_healthy_hosts is required for a Server configuration; give type HOST_COUNT or FLEET_PERCENT and a value".into())
        } else {
            Ok(None)
        };
    };
    if platform != ComputePlatform::Server {
        return invalid(format!(
            "minimum_healthy_hosts applies to Server configurations only; a {} configuration sets traffic_routing_config instead",
            platform_name(platform)
        ));
    }
    let value = given.value;
    match MinimumHealthyHostsType::try_from(given.r#type) {
        Ok(kind @ MinimumHealthyHostsType::HostCount) if value >= 0 => Ok(Some(MinimumHealthyHosts { kind, value })),
        Ok(MinimumHealthyHostsType::HostCount) => {
            invalid(format!("minimum healthy hosts value {value} is negative; a HOST_COUNT is 0 or more"))
        }
        Ok(kind @ MinimumHealthyHostsType::FleetPercent) if (0..=99).contains(&value) => {
            Ok(Some(MinimumHealthyHosts { kind, value }))
        }
        Ok(MinimumHealthyHostsType::FleetPercent) => {
            invalid(format!("minimum healthy hosts value {value} is out of range; a FLEET_PERCENT is 0-99"))
        }
        Ok(MinimumHealthyHostsType::MostConcurrency) => {
            invalid("minimum healthy hosts type MOST_CONCURRENCY cannot be set; use HOST_COUNT or FLEET_PERCENT".into())
        }
        Ok(MinimumHealthyHostsType::Unspecified) => {
            invalid("minimum healthy hosts type is required; use HOST_COUNT or FLEET_PERCENT".into())
        }
        Err(_) => invalid(format!(
            "minimum healthy hosts type {} is not HOST_COUNT or FLEET_PERCENT",
            given.r#type
        )),
    }
}

/// Lambda and ECS configurations need traffic routing: AllAtOnce, or a time-based canary or
/// linear shift with the matching step (1–99 percent, at least one minute apart). A Server
/// configuration shifts no traffic; it may only say AllAtOnce, as CodeDeploy describes it.
fn traffic_routing(
    platform: ComputePlatform,
    given: Option<&pb::TrafficRoutingConfig>,
) -> Result<Option<TrafficRouting>, ApiError> {
    let invalid = |msg: String| ApiError::new(Exception::InvalidTrafficRoutingConfiguration, msg);
    let Some(given) = given else {
        return match platform {
            ComputePlatform::Server | ComputePlatform::Unspecified => Ok(None),
            _ => Err(invalid(format!(
                "traffic_routing_config is required for a {} configuration; use AllAtOnce, TimeBasedCanary or TimeBasedLinear",
                platform_name(platform)
            ))),
        };
    };
    let kind = match TrafficRoutingType::try_from(given.r#type) {
        Ok(TrafficRoutingType::Unspecified) => {
            return Err(invalid("traffic routing type is required; use AllAtOnce, TimeBasedCanary or TimeBasedLinear".into()));
        }
        Ok(kind) => kind,
        Err(_) => {
            return Err(invalid(format!(
                "traffic routing type {} is not AllAtOnce, TimeBasedCanary or TimeBasedLinear",
                given.r#type
            )));
        }
    };
    let canary = given
        .time_based_canary
        .map(|c| (c.canary_percentage, c.canary_interval));
    let linear = given
        .time_based_linear
        .map(|l| (l.linear_percentage, l.linear_interval));
    let routing = match (kind, canary, linear) {
        (TrafficRoutingType::AllAtOnce, None, None) => TrafficRouting {
            kind,
            time_based_canary: None,
            time_based_linear: None,
        },
        (TrafficRoutingType::TimeBasedCanary, Some(canary), None) => TrafficRouting {
            kind,
            time_based_canary: Some(step("canary", canary)?),
            time_based_linear: None,
        },
        (TrafficRoutingType::TimeBasedLinear, None, Some(linear)) => TrafficRouting {
            kind,
            time_based_canary: None,
            time_based_linear: Some(step("linear", linear)?),
        },
        _ => {
            return Err(invalid(
                "traffic routing must carry the settings of its type only: time_based_canary for TimeBasedCanary, time_based_linear for TimeBasedLinear, neither for AllAtOnce".into(),
            ));
        }
    };
    if platform == ComputePlatform::Server && kind != TrafficRoutingType::AllAtOnce {
        return Err(invalid(
            "a Server configuration shifts no traffic: its traffic_routing_config may only be AllAtOnce; set minimum_healthy_hosts instead".into(),
        ));
    }
    Ok(Some(routing))
}

fn step(what: &str, (percentage, interval): (i32, i32)) -> Result<Step, ApiError> {
    let invalid = |msg: String| {
        Err(ApiError::new(
            Exception::InvalidTrafficRoutingConfiguration,
            msg,
        ))
    };
    if !(1..=99).contains(&percentage) {
        return invalid(format!(
            "{what} percentage {percentage} is out of range; use 1-99"
        ));
    }
    if interval < 1 {
        return invalid(format!(
            "{what} interval {interval} is too short; use 1 minute or more"
        ));
    }
    Ok(Step {
        percentage,
        interval,
    })
}

/// Zonal deployment is for Server configurations: monitor durations are not negative, and
/// the per-zone minimum follows the rules of minimum healthy hosts.
fn zonal(
    platform: ComputePlatform,
    given: Option<&pb::ZonalConfig>,
) -> Result<Option<ZonalConfig>, ApiError> {
    let invalid = |msg: String| {
        Err(ApiError::new(
            Exception::InvalidZonalDeploymentConfiguration,
            msg,
        ))
    };
    let Some(given) = given else { return Ok(None) };
    if platform != ComputePlatform::Server {
        return invalid(format!(
            "zonal_config applies to Server configurations only, not to {}",
            platform_name(platform)
        ));
    }
    for (field, value) in [
        (
            "first_zone_monitor_duration_in_seconds",
            given.first_zone_monitor_duration_in_seconds,
        ),
        (
            "monitor_duration_in_seconds",
            given.monitor_duration_in_seconds,
        ),
    ] {
        if let Some(seconds) = value.filter(|s| *s < 0) {
            return invalid(format!(
                "{field} {seconds} is negative; use 0 or more seconds"
            ));
        }
    }
    let per_zone = match given.minimum_healthy_hosts_per_zone {
        None => None,
        Some(m) => {
            let value = m.value;
            match MinimumHealthyHostsPerZoneType::try_from(m.r#type) {
                Ok(kind @ MinimumHealthyHostsPerZoneType::HostCount) if value >= 0 => {
                    Some(MinimumHealthyHostsPerZone { kind, value })
                }
                Ok(kind @ MinimumHealthyHostsPerZoneType::FleetPercent)
                    if (0..=99).contains(&value) =>
                {
                    Some(MinimumHealthyHostsPerZone { kind, value })
                }
                Ok(
                    MinimumHealthyHostsPerZoneType::HostCount
                    | MinimumHealthyHostsPerZoneType::FleetPercent,
                ) => {
                    return invalid(format!(
                        "minimum healthy hosts per zone value {value} is out of range; a HOST_COUNT is 0 or more, a FLEET_PERCENT 0-99"
                    ));
                }
                Ok(MinimumHealthyHostsPerZoneType::Unspecified) | Err(_) => {
                    return invalid(
                        "minimum healthy hosts per zone type must be HOST_COUNT or FLEET_PERCENT"
                            .into(),
                    );
                }
            }
        }
    };
    Ok(Some(ZonalConfig {
        first_zone_monitor_duration_in_seconds: given.first_zone_monitor_duration_in_seconds,
        monitor_duration_in_seconds: given.monitor_duration_in_seconds,
        minimum_healthy_hosts_per_zone: per_zone,
    }))
}
