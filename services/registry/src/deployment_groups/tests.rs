//! Unit tests of the pure rules: each field parsed alone, and whole groups checked against
//! their compute platform.

use ferry_proto::common::v1::{
    ComputePlatform, TagFilter as WireFilter, TagFilterGroup, TagFilterType,
};
use ferry_proto::registry::v1::{
    self as pb, DeploymentOption, DeploymentType, OutdatedInstancesStrategy,
};

use ferry_runtime::error::{ApiError, Exception};

use super::model::{EcsService, GroupSpec, LoadBalancer, TargetGroupPair};
use super::parse::{self, Tags};
use super::{request, traffic, validate};

fn reason<T>(result: Result<T, ApiError>) -> Option<&'static str> {
    result
        .err()
        .and_then(|e| e.exception())
        .map(Exception::name)
}

fn wire(key: &str, value: &str, kind: TagFilterType) -> WireFilter {
    WireFilter {
        key: key.into(),
        value: value.into(),
        r#type: kind as i32,
    }
}

fn minimal(platform: ComputePlatform) -> GroupSpec {
    let req = pb::CreateDeploymentGroupRequest {
        service_role_arn: "arn:ferry:iam::1:role/r".into(),
        ..Default::default()
    };
    let mut spec = GroupSpec {
        deployment_style: traffic::deployment_style(None, platform).unwrap(),
        ..request::create_spec(&req, ComputePlatform::Server).unwrap()
    };
    if platform == ComputePlatform::Ecs {
        spec.ecs_services = vec![EcsService {
            service_name: "api".into(),
            cluster_name: "main".into(),
        }];
        spec.load_balancer_info = Some(LoadBalancer {
            target_group_pair_info_list: vec![TargetGroupPair {
                target_groups: vec!["blue".into(), "green".into()],
                prod_traffic_route: vec!["arn:l".into()],
                test_traffic_route: vec![],
            }],
            ..Default::default()
        });
    }
    spec
}

#[test]
fn service_roles_are_iam_role_arns() {
    assert!(parse::service_role("arn:ferry:iam::000000000000:role/deployer").is_ok());
    assert!(parse::service_role("arn:aws:iam::123456789012:role/path/to/role").is_ok());
    assert_eq!(
        reason(parse::service_role("")),
        Some("RoleRequiredException")
    );
    for bad in [
        "role/x",
        "arn:aws:iam::1:user/u",
        "arn:aws:iam::1:role/",
        "arn::iam::1:role/x",
        "arn:aws:iam:::role/x",
        "arn:aws:iam::1:role/a b",
    ] {
        assert_eq!(
            reason(parse::service_role(bad)),
            Some("InvalidRoleException"),
            "{bad}"
        );
    }
}

#[test]
fn webhook_targets_are_http_urls_with_a_host() {
    for good in [
        "https://example.com",
        "http://10.0.0.1:8080/x?y=1",
        "HTTPS://Example.com/#f",
        "https://u@host/p",
    ] {
        assert!(parse::is_webhook_url(good), "{good}");
    }
    for bad in [
        "",
        "example.com",
        "ftp://example.com",
        "https://",
        "https:///path",
        "https://:80/x",
        "https://a b/",
        "arn:aws:sns:x",
    ] {
        assert!(!parse::is_webhook_url(bad), "{bad}");
    }
}

#[test]
fn tag_filters_need_the_parts_their_type_matches_on() {
    use TagFilterType::*;
    let ok = [
        wire("k", "", KeyOnly),
        wire("", "v", ValueOnly),
        wire("k", "v", KeyAndValue),
        wire("k", "ignored", KeyOnly),
    ];
    assert_eq!(parse::tag_filters(&ok, Tags::Ec2).unwrap().len(), 4);
    for bad in [
        wire("", "v", KeyOnly),
        wire("k", "", ValueOnly),
        wire("k", "", KeyAndValue),
        wire("k", "v", Unspecified),
    ] {
        assert_eq!(
            reason(parse::tag_filters(std::slice::from_ref(&bad), Tags::Ec2)),
            Some("InvalidEC2TagException"),
            "{bad:?}"
        );
        assert_eq!(
            reason(parse::tag_filters(&[bad], Tags::OnPremises)),
            Some("InvalidTagException")
        );
    }
    let long_key = wire(&"k".repeat(129), "", KeyOnly);
    assert_eq!(
        reason(parse::tag_filters(&[long_key], Tags::OnPremises)),
        Some("InvalidTagException")
    );
    let group = || TagFilterGroup {
        filters: vec![wire("k", "", KeyOnly)],
    };
    assert_eq!(
        parse::tag_set(&[group(), group(), group()], Tags::Ec2)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        reason(parse::tag_set(
            &[group(), group(), group(), group()],
            Tags::Ec2
        )),
        Some("TagSetListLimitExceededException")
    );
    assert_eq!(
        reason(parse::tag_set(
            &[TagFilterGroup::default()],
            Tags::OnPremises
        )),
        Some("InvalidTagException")
    );
}

#[test]
fn empty_blue_green_and_load_balancer_messages_are_absent() {
    assert_eq!(traffic::blue_green(&Default::default()).unwrap(), None);
    assert_eq!(traffic::load_balancer(&Default::default()).unwrap(), None);
    let ready = pb::BlueGreenDeploymentConfiguration {
        deployment_ready_option: Some(pb::DeploymentReadyOption {
            action_on_timeout: 1,
            wait_time_in_minutes: 0,
        }),
        ..Default::default()
    };
    assert!(traffic::blue_green(&ready).unwrap().is_some());
    let negative = pb::BlueGreenDeploymentConfiguration {
        deployment_ready_option: Some(pb::DeploymentReadyOption {
            action_on_timeout: 1,
            wait_time_in_minutes: -1,
        }),
        ..Default::default()
    };
    assert_eq!(
        reason(traffic::blue_green(&negative)),
        Some("InvalidBlueGreenDeploymentConfigurationException")
    );
}

#[test]
fn style_defaults_follow_the_platform() {
    let style = |given: Option<(i32, i32)>, platform| {
        let given = given.map(|(t, o)| pb::DeploymentStyle {
            deployment_type: t,
            deployment_option: o,
        });
        traffic::deployment_style(given.as_ref(), platform)
            .map(|s| (s.deployment_type, s.deployment_option))
    };
    use DeploymentOption::*;
    use DeploymentType::*;
    assert_eq!(
        style(None, ComputePlatform::Server).unwrap(),
        (InPlace, WithoutTrafficControl)
    );
    assert_eq!(
        style(None, ComputePlatform::Lambda).unwrap(),
        (BlueGreen, WithTrafficControl)
    );
    assert_eq!(
        style(Some((BlueGreen as i32, 0)), ComputePlatform::Server).unwrap(),
        (BlueGreen, WithoutTrafficControl)
    );
    assert_eq!(
        reason(style(Some((7, 0)), ComputePlatform::Server)),
        Some("InvalidDeploymentStyleException")
    );
    assert_eq!(parse::outdated_instances_strategy(0).unwrap(), None);
    assert_eq!(
        parse::outdated_instances_strategy(2).unwrap(),
        Some(OutdatedInstancesStrategy::Ignore)
    );
    assert_eq!(
        reason(parse::outdated_instances_strategy(3)),
        Some("InvalidInputException")
    );
}

#[test]
fn each_platform_accepts_its_minimal_group() {
    for platform in [
        ComputePlatform::Server,
        ComputePlatform::Lambda,
        ComputePlatform::Ecs,
    ] {
        validate::check(&minimal(platform), platform).unwrap();
    }
}

#[test]
fn what_belongs_to_one_platform_is_refused_on_the_others() {
    let ecs = minimal(ComputePlatform::Ecs);
    assert_eq!(
        reason(validate::check(&ecs, ComputePlatform::Server)),
        Some("InvalidLoadBalancerInfoException")
    );
    let mut services_only = minimal(ComputePlatform::Server);
    services_only.ecs_services = ecs.ecs_services.clone();
    assert_eq!(
        reason(validate::check(&services_only, ComputePlatform::Server)),
        Some("InvalidECSServiceException")
    );
    let mut tagged_lambda = minimal(ComputePlatform::Lambda);
    tagged_lambda.ec2_tag_set =
        vec![parse::tag_filters(&[wire("k", "", TagFilterType::KeyOnly)], Tags::Ec2).unwrap()];
    assert_eq!(
        reason(validate::check(&tagged_lambda, ComputePlatform::Lambda)),
        Some("InvalidEC2TagException")
    );
    let in_place_ecs = GroupSpec {
        deployment_style: minimal(ComputePlatform::Server).deployment_style,
        ..ecs
    };
    assert_eq!(
        reason(validate::check(&in_place_ecs, ComputePlatform::Ecs)),
        Some("InvalidDeploymentStyleException")
    );
}

#[test]
fn a_stored_group_round_trips_through_json() {
    let mut spec = minimal(ComputePlatform::Ecs);
    spec.on_premises_instance_tag_filters = parse::tag_filters(
        &[wire("env", "prod", TagFilterType::KeyAndValue)],
        Tags::OnPremises,
    )
    .unwrap();
    let json = spec.to_json().unwrap();
    assert!(
        json.contains(r#""Type":"KEY_AND_VALUE""#)
            && json.contains(r#""deploymentType":"BLUE_GREEN""#),
        "{json}"
    );
    assert_eq!(GroupSpec::from_json(&json).unwrap(), spec);
    assert_eq!(GroupSpec::from_json("{}").unwrap_err().exception(), None);
}
