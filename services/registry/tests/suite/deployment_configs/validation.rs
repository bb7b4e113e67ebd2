//! CreateDeploymentConfig's refusals, one field at a time; none of them writes anything.

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{PREDEFINED, all_names, canary, hosts, server};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, error_reason};

backend_tests!(create_rejects_bad_input_one_field_at_a_time);

const BAD_HOSTS: &str = "InvalidMinimumHealthyHostValueException";
const BAD_ROUTING: &str = "InvalidTrafficRoutingConfigurationException";
const BAD_ZONAL: &str = "InvalidZonalDeploymentConfigurationException";

async fn create_rejects_bad_input_one_field_at_a_time(backend: Backend) {
    use MinimumHealthyHostsType::*;
    let mut r = TestRegistry::start(backend).await;
    let cases: Vec<(CreateDeploymentConfigRequest, &str)> = vec![
        (
            server("", HostCount, 1),
            "DeploymentConfigNameRequiredException",
        ),
        (
            server(&"x".repeat(101), HostCount, 1),
            "InvalidDeploymentConfigNameException",
        ),
        (
            server("a/b", HostCount, 1),
            "InvalidDeploymentConfigNameException",
        ),
        (
            CreateDeploymentConfigRequest {
                compute_platform: 7,
                ..server("c", HostCount, 1)
            },
            "InvalidComputePlatformException",
        ),
        (
            CreateDeploymentConfigRequest {
                deployment_config_name: "c".into(),
                ..Default::default()
            },
            BAD_HOSTS,
        ),
        (server("c", HostCount, -1), BAD_HOSTS),
        (server("c", FleetPercent, 100), BAD_HOSTS),
        (server("c", MostConcurrency, 1), BAD_HOSTS),
        (server("c", Unspecified, 1), BAD_HOSTS),
        (
            CreateDeploymentConfigRequest {
                minimum_healthy_hosts: hosts(HostCount, 1),
                ..canary("c", ComputePlatform::Ecs, 10, 5)
            },
            BAD_HOSTS,
        ),
        (canary("c", ComputePlatform::Lambda, 0, 5), BAD_ROUTING),
        (canary("c", ComputePlatform::Lambda, 100, 5), BAD_ROUTING),
        (canary("c", ComputePlatform::Ecs, 10, 0), BAD_ROUTING),
        (
            CreateDeploymentConfigRequest {
                deployment_config_name: "c".into(),
                compute_platform: ComputePlatform::Lambda as i32,
                ..Default::default()
            },
            BAD_ROUTING,
        ),
        (
            CreateDeploymentConfigRequest {
                traffic_routing_config: Some(TrafficRoutingConfig {
                    r#type: TrafficRoutingType::TimeBasedLinear as i32,
                    time_based_canary: Some(TimeBasedCanary {
                        canary_percentage: 10,
                        canary_interval: 5,
                    }),
                    time_based_linear: None,
                }),
                ..canary("c", ComputePlatform::Lambda, 10, 5)
            },
            BAD_ROUTING,
        ),
        (
            CreateDeploymentConfigRequest {
                minimum_healthy_hosts: hosts(HostCount, 1),
                ..canary("c", ComputePlatform::Server, 10, 5)
            },
            BAD_ROUTING,
        ),
        (
            CreateDeploymentConfigRequest {
                zonal_config: Some(ZonalConfig {
                    monitor_duration_in_seconds: Some(-1),
                    ..Default::default()
                }),
                ..server("c", HostCount, 1)
            },
            BAD_ZONAL,
        ),
        (
            CreateDeploymentConfigRequest {
                zonal_config: Some(ZonalConfig {
                    minimum_healthy_hosts_per_zone: Some(MinimumHealthyHostsPerZone {
                        r#type: MinimumHealthyHostsPerZoneType::FleetPercent as i32,
                        value: 120,
                    }),
                    ..Default::default()
                }),
                ..server("c", HostCount, 1)
            },
            BAD_ZONAL,
        ),
        (
            CreateDeploymentConfigRequest {
                zonal_config: Some(ZonalConfig::default()),
                ..canary("c", ComputePlatform::Lambda, 10, 5)
            },
            BAD_ZONAL,
        ),
    ];
    for (req, reason) in cases {
        let result = r.client.create_deployment_config(req.clone()).await;
        let status = result.expect_err(&format!("{req:?} should fail"));
        assert_eq!(status.code(), Code::InvalidArgument, "{req:?}: {status:?}");
        assert_eq!(
            error_reason(&status).as_deref(),
            Some(reason),
            "{req:?}: {status:?}"
        );
    }
    assert_eq!(
        all_names(&mut r).await,
        PREDEFINED,
        "nothing was written by the failures"
    );
}
