//! Unit tests of the rules for CreateDeploymentConfig.

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::{
    self as pb, MinimumHealthyHostsPerZoneType, MinimumHealthyHostsType, TimeBasedCanary,
    TimeBasedLinear, TrafficRoutingType,
};

use ferry_runtime::error::{ApiError, Exception};

use super::predefined;
use super::validate::{check_new_name, spec};
use crate::convert::platform_name;

fn reason<T>(result: Result<T, ApiError>) -> Option<&'static str> {
    result
        .err()
        .and_then(|e| e.exception())
        .map(Exception::name)
}

fn hosts(kind: MinimumHealthyHostsType, value: i32) -> Option<pb::MinimumHealthyHosts> {
    Some(pb::MinimumHealthyHosts {
        r#type: kind as i32,
        value,
    })
}

fn server(kind: MinimumHealthyHostsType, value: i32) -> pb::CreateDeploymentConfigRequest {
    pb::CreateDeploymentConfigRequest {
        minimum_healthy_hosts: hosts(kind, value),
        ..Default::default()
    }
}

fn routed(
    kind: TrafficRoutingType,
    canary: Option<(i32, i32)>,
    linear: Option<(i32, i32)>,
) -> pb::CreateDeploymentConfigRequest {
    pb::CreateDeploymentConfigRequest {
        traffic_routing_config: Some(pb::TrafficRoutingConfig {
            r#type: kind as i32,
            time_based_canary: canary.map(|(p, i)| TimeBasedCanary {
                canary_percentage: p,
                canary_interval: i,
            }),
            time_based_linear: linear.map(|(p, i)| TimeBasedLinear {
                linear_percentage: p,
                linear_interval: i,
            }),
        }),
        ..Default::default()
    }
}

const BAD_HOSTS: Option<&str> = Some("InvalidMinimumHealthyHostValueException");
const BAD_ROUTING: Option<&str> = Some("InvalidTrafficRoutingConfigurationException");
const BAD_ZONAL: Option<&str> = Some("InvalidZonalDeploymentConfigurationException");

#[test]
fn names_under_the_reserved_prefix_are_refused() {
    assert_eq!(
        reason(check_new_name("CodeDeployDefault.OneAtATime")),
        Some("DeploymentConfigAlreadyExistsException")
    );
    assert_eq!(
        reason(check_new_name("CodeDeployDefault.Mine")),
        Some("InvalidDeploymentConfigNameException")
    );
    assert_eq!(
        reason(check_new_name("")),
        Some("DeploymentConfigNameRequiredException")
    );
    assert!(check_new_name("CodeDeployDefaultish.Mine").is_ok());
}

#[test]
fn minimum_healthy_hosts_ranges() {
    use MinimumHealthyHostsType::*;
    let server_spec = |kind, value| spec(ComputePlatform::Server, &server(kind, value));
    assert!(server_spec(HostCount, 0).is_ok());
    assert!(server_spec(HostCount, 1000).is_ok());
    assert!(server_spec(FleetPercent, 0).is_ok());
    assert!(server_spec(FleetPercent, 99).is_ok());
    assert_eq!(reason(server_spec(HostCount, -1)), BAD_HOSTS);
    assert_eq!(reason(server_spec(FleetPercent, 100)), BAD_HOSTS);
    assert_eq!(reason(server_spec(FleetPercent, -1)), BAD_HOSTS);
    assert_eq!(reason(server_spec(MostConcurrency, 1)), BAD_HOSTS);
    assert_eq!(reason(server_spec(Unspecified, 1)), BAD_HOSTS);
    let unknown = pb::CreateDeploymentConfigRequest {
        minimum_healthy_hosts: Some(pb::MinimumHealthyHosts {
            r#type: 9,
            value: 1,
        }),
        ..Default::default()
    };
    assert_eq!(reason(spec(ComputePlatform::Server, &unknown)), BAD_HOSTS);
    assert_eq!(
        reason(spec(ComputePlatform::Server, &Default::default())),
        BAD_HOSTS
    );
    let lambda_with_hosts = pb::CreateDeploymentConfigRequest {
        minimum_healthy_hosts: hosts(HostCount, 1),
        ..routed(TrafficRoutingType::AllAtOnce, None, None)
    };
    assert_eq!(
        reason(spec(ComputePlatform::Lambda, &lambda_with_hosts)),
        BAD_HOSTS
    );
}

#[test]
fn traffic_routing_matches_its_type_and_platform() {
    use TrafficRoutingType::*;
    for platform in [ComputePlatform::Lambda, ComputePlatform::Ecs] {
        assert!(spec(platform, &routed(AllAtOnce, None, None)).is_ok());
        assert!(spec(platform, &routed(TimeBasedCanary, Some((10, 5)), None)).is_ok());
        assert!(spec(platform, &routed(TimeBasedLinear, None, Some((1, 1)))).is_ok());
        assert_eq!(reason(spec(platform, &Default::default())), BAD_ROUTING);
        assert_eq!(
            reason(spec(platform, &routed(Unspecified, None, None))),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(platform, &routed(AllAtOnce, Some((10, 5)), None))),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(platform, &routed(TimeBasedCanary, None, None))),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(
                platform,
                &routed(TimeBasedCanary, None, Some((10, 5)))
            )),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(
                platform,
                &routed(TimeBasedLinear, Some((10, 5)), None)
            )),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(platform, &routed(TimeBasedCanary, Some((0, 5)), None))),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(
                platform,
                &routed(TimeBasedCanary, Some((100, 5)), None)
            )),
            BAD_ROUTING
        );
        assert_eq!(
            reason(spec(
                platform,
                &routed(TimeBasedLinear, None, Some((10, 0)))
            )),
            BAD_ROUTING
        );
    }
    let mut unknown = routed(AllAtOnce, None, None);
    unknown.traffic_routing_config.as_mut().unwrap().r#type = 42;
    assert_eq!(reason(spec(ComputePlatform::Lambda, &unknown)), BAD_ROUTING);
    // A Server configuration may say AllAtOnce, nothing else.
    let server_all = pb::CreateDeploymentConfigRequest {
        minimum_healthy_hosts: hosts(MinimumHealthyHostsType::HostCount, 1),
        ..routed(AllAtOnce, None, None)
    };
    assert!(spec(ComputePlatform::Server, &server_all).is_ok());
    let server_canary = pb::CreateDeploymentConfigRequest {
        minimum_healthy_hosts: hosts(MinimumHealthyHostsType::HostCount, 1),
        ..routed(TimeBasedCanary, Some((10, 5)), None)
    };
    assert_eq!(
        reason(spec(ComputePlatform::Server, &server_canary)),
        BAD_ROUTING
    );
}

#[test]
fn zonal_rules() {
    let zonal = |first: Option<i64>, every: Option<i64>, per_zone: Option<(i32, i32)>| {
        pb::CreateDeploymentConfigRequest {
            zonal_config: Some(pb::ZonalConfig {
                first_zone_monitor_duration_in_seconds: first,
                monitor_duration_in_seconds: every,
                minimum_healthy_hosts_per_zone: per_zone.map(|(kind, value)| {
                    pb::MinimumHealthyHostsPerZone {
                        r#type: kind,
                        value,
                    }
                }),
            }),
            ..server(MinimumHealthyHostsType::FleetPercent, 50)
        }
    };
    let host_count = MinimumHealthyHostsPerZoneType::HostCount as i32;
    let percent = MinimumHealthyHostsPerZoneType::FleetPercent as i32;
    assert!(
        spec(
            ComputePlatform::Server,
            &zonal(Some(0), Some(600), Some((host_count, 1)))
        )
        .is_ok()
    );
    assert!(spec(ComputePlatform::Server, &zonal(None, None, None)).is_ok());
    assert_eq!(
        reason(spec(ComputePlatform::Server, &zonal(Some(-1), None, None))),
        BAD_ZONAL
    );
    assert_eq!(
        reason(spec(ComputePlatform::Server, &zonal(None, Some(-5), None))),
        BAD_ZONAL
    );
    assert_eq!(
        reason(spec(
            ComputePlatform::Server,
            &zonal(None, None, Some((percent, 100)))
        )),
        BAD_ZONAL
    );
    assert_eq!(
        reason(spec(
            ComputePlatform::Server,
            &zonal(None, None, Some((host_count, -1)))
        )),
        BAD_ZONAL
    );
    assert_eq!(
        reason(spec(
            ComputePlatform::Server,
            &zonal(None, None, Some((0, 1)))
        )),
        BAD_ZONAL
    );
    let lambda_zonal = pb::CreateDeploymentConfigRequest {
        zonal_config: Some(pb::ZonalConfig::default()),
        ..routed(TrafficRoutingType::AllAtOnce, None, None)
    };
    assert_eq!(
        reason(spec(ComputePlatform::Lambda, &lambda_zonal)),
        BAD_ZONAL
    );
}

#[test]
fn every_predefined_configuration_but_one_at_a_time_obeys_the_user_rules() {
    for p in predefined::all()
        .into_iter()
        .filter(|p| p.name != "CodeDeployDefault.OneAtATime")
    {
        let info = crate::deployment_configs::model::info(
            crate::store::entities::deployment_config::Model {
                id: p.id(),
                name: p.name.into(),
                compute_platform: platform_name(p.platform).into(),
                predefined: true,
                spec: p.spec.to_json().unwrap(),
                create_time: chrono::Utc::now(),
            },
        )
        .unwrap();
        let req = pb::CreateDeploymentConfigRequest {
            deployment_config_name: String::new(),
            minimum_healthy_hosts: info.minimum_healthy_hosts,
            traffic_routing_config: info.traffic_routing_config,
            compute_platform: info.compute_platform,
            zonal_config: info.zonal_config,
        };
        assert_eq!(spec(p.platform, &req).unwrap(), p.spec, "{}", p.name);
    }
}
