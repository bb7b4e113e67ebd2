//! Deployment groups over gRPC: every field stored and returned, and the platform defaults.
//! Partial updates and renames are in `update.rs`; batch get, delete, races, pagination and
//! the instances a group targets in `listing.rs`; the refusals, one field at a time, in
//! `validation.rs` (names, roles, configurations, instance selection, triggers, alarms,
//! rollback) and `validation_traffic.rs` (styles, load balancers, blue/green, ECS).

mod listing;
mod update;
mod validation;
mod validation_traffic;

use ferry_proto::common::v1::{ComputePlatform, Tag, TagFilter, TagFilterGroup, TagFilterType};
use ferry_proto::registry::v1::*;

use crate::backend_tests;
use crate::support::{Backend, TestRegistry};

backend_tests!(
    a_server_group_with_every_field_reads_back_equal,
    an_ecs_group_with_every_field_reads_back_equal,
    each_platform_gets_its_defaults,
);

pub const ROLE: &str = "arn:ferry:iam::000000000000:role/deployer";

pub fn filter(key: &str, value: &str, kind: TagFilterType) -> TagFilter {
    TagFilter {
        key: key.into(),
        value: value.into(),
        r#type: kind as i32,
    }
}

pub fn group(filters: Vec<TagFilter>) -> TagFilterGroup {
    TagFilterGroup { filters }
}

fn group_arn(app: &str, group: &str) -> String {
    format!("arn:ferry:codedeploy:local:000000000000:deploymentgroup:{app}/{group}")
}

pub async fn create_app(r: &mut TestRegistry, name: &str, platform: ComputePlatform) {
    let req = CreateApplicationRequest {
        application_name: name.into(),
        compute_platform: platform as i32,
        tags: vec![],
    };
    r.client.create_application(req).await.unwrap();
}

/// The smallest valid request: a name and a role.
pub fn minimal(app: &str, name: &str) -> CreateDeploymentGroupRequest {
    CreateDeploymentGroupRequest {
        application_name: app.into(),
        deployment_group_name: name.into(),
        service_role_arn: ROLE.into(),
        ..Default::default()
    }
}

/// A blue/green Server group with every field CodeDeploy has set.
fn full_server(app: &str, name: &str) -> CreateDeploymentGroupRequest {
    use TagFilterType::*;
    CreateDeploymentGroupRequest {
        deployment_config_name: "CodeDeployDefault.HalfAtATime".into(),
        ec2_tag_set: Some(Ec2TagSet {
            ec2_tag_set_list: vec![
                group(vec![filter("env", "prod", KeyAndValue)]),
                group(vec![
                    filter("role", "", KeyOnly),
                    filter("", "web", ValueOnly),
                ]),
            ],
        }),
        on_premises_instance_tag_filters: vec![
            filter("env", "prod", KeyAndValue),
            filter("rack", "", KeyOnly),
        ],
        trigger_configurations: vec![
            TriggerConfig {
                trigger_name: "notify".into(),
                trigger_target_arn: "https://hooks.example.com/ferry".into(),
                trigger_events: vec![
                    TriggerEventType::DeploymentStart as i32,
                    TriggerEventType::DeploymentFailure as i32,
                ],
            },
            TriggerConfig {
                trigger_name: "audit".into(),
                trigger_target_arn: "http://10.0.0.5:8080/events?source=ferry".into(),
                trigger_events: vec![TriggerEventType::InstanceFailure as i32],
            },
        ],
        alarm_configuration: Some(AlarmConfiguration {
            enabled: true,
            ignore_poll_alarm_failure: true,
            alarms: vec![
                Alarm {
                    name: "errors".into(),
                },
                Alarm {
                    name: "latency".into(),
                },
            ],
        }),
        auto_rollback_configuration: Some(AutoRollbackConfiguration {
            enabled: true,
            events: vec![
                AutoRollbackEvent::DeploymentFailure as i32,
                AutoRollbackEvent::DeploymentStopOnAlarm as i32,
            ],
        }),
        outdated_instances_strategy: OutdatedInstancesStrategy::Ignore as i32,
        deployment_style: Some(DeploymentStyle {
            deployment_type: DeploymentType::BlueGreen as i32,
            deployment_option: DeploymentOption::WithTrafficControl as i32,
        }),
        blue_green_deployment_configuration: Some(BlueGreenDeploymentConfiguration {
            terminate_blue_instances_on_deployment_success: Some(BlueInstanceTerminationOption {
                action: InstanceAction::Terminate as i32,
                termination_wait_time_in_minutes: 60,
            }),
            deployment_ready_option: Some(DeploymentReadyOption {
                action_on_timeout: DeploymentReadyAction::StopDeployment as i32,
                wait_time_in_minutes: 30,
            }),
            green_fleet_provisioning_option: Some(GreenFleetProvisioningOption {
                action: GreenFleetProvisioningAction::DiscoverExisting as i32,
            }),
        }),
        load_balancer_info: Some(LoadBalancerInfo {
            elb_info_list: vec![ElbInfo {
                name: "classic".into(),
            }],
            target_group_info_list: vec![TargetGroupInfo {
                name: "web-tg".into(),
            }],
            target_group_pair_info_list: vec![],
        }),
        tags: vec![Tag {
            key: "team".into(),
            value: "edge".into(),
        }],
        termination_hook_enabled: Some(true),
        ..minimal(app, name)
    }
}

/// A valid ECS group: one target group pair and one service.
pub fn ecs(app: &str, name: &str, service: &str) -> CreateDeploymentGroupRequest {
    CreateDeploymentGroupRequest {
        load_balancer_info: Some(LoadBalancerInfo {
            target_group_pair_info_list: vec![TargetGroupPairInfo {
                target_groups: vec![
                    TargetGroupInfo {
                        name: "blue".into(),
                    },
                    TargetGroupInfo {
                        name: "green".into(),
                    },
                ],
                prod_traffic_route: Some(TrafficRoute {
                    listener_arns: vec!["arn:aws:elasticloadbalancing:l/prod".into()],
                }),
                test_traffic_route: None,
            }],
            ..Default::default()
        }),
        ecs_services: vec![EcsService {
            service_name: service.into(),
            cluster_name: "main".into(),
        }],
        ..minimal(app, name)
    }
}

/// What GetDeploymentGroup should answer for a group created from `req` (all fields given).
fn expected(
    req: &CreateDeploymentGroupRequest,
    id: &str,
    platform: ComputePlatform,
) -> DeploymentGroupInfo {
    DeploymentGroupInfo {
        application_name: req.application_name.clone(),
        deployment_group_id: id.into(),
        deployment_group_name: req.deployment_group_name.clone(),
        deployment_config_name: req.deployment_config_name.clone(),
        ec2_tag_filters: req.ec2_tag_filters.clone(),
        on_premises_instance_tag_filters: req.on_premises_instance_tag_filters.clone(),
        auto_scaling_groups: vec![],
        service_role_arn: req.service_role_arn.clone(),
        target_revision: None,
        trigger_configurations: req.trigger_configurations.clone(),
        alarm_configuration: req.alarm_configuration.clone(),
        auto_rollback_configuration: req.auto_rollback_configuration.clone(),
        deployment_style: req.deployment_style,
        outdated_instances_strategy: req.outdated_instances_strategy,
        blue_green_deployment_configuration: req.blue_green_deployment_configuration,
        load_balancer_info: req.load_balancer_info.clone(),
        last_successful_deployment: None,
        last_attempted_deployment: None,
        ec2_tag_set: req.ec2_tag_set.clone(),
        on_premises_tag_set: req.on_premises_tag_set.clone(),
        compute_platform: platform as i32,
        ecs_services: req.ecs_services.clone(),
        termination_hook_enabled: req.termination_hook_enabled.unwrap_or(false),
    }
}

pub async fn get(
    r: &mut TestRegistry,
    app: &str,
    name: &str,
) -> Result<DeploymentGroupInfo, tonic::Status> {
    let req = GetDeploymentGroupRequest {
        application_name: app.into(),
        deployment_group_name: name.into(),
    };
    Ok(r.client
        .get_deployment_group(req)
        .await?
        .into_inner()
        .deployment_group_info
        .unwrap())
}

async fn tags_of(r: &mut TestRegistry, app: &str, group: &str) -> Vec<Tag> {
    let req = ListTagsForResourceRequest {
        resource_arn: group_arn(app, group),
        next_token: String::new(),
    };
    r.client
        .list_tags_for_resource(req)
        .await
        .unwrap()
        .into_inner()
        .tags
}

async fn a_server_group_with_every_field_reads_back_equal(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    let req = full_server("web", "prod");
    let id = r
        .client
        .create_deployment_group(req.clone())
        .await
        .unwrap()
        .into_inner()
        .deployment_group_id;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id} is a uuid");
    assert_eq!(
        get(&mut r, "web", "prod").await.unwrap(),
        expected(&req, &id, ComputePlatform::Server)
    );
    assert_eq!(tags_of(&mut r, "web", "prod").await, req.tags);

    // The other halves of the exclusive pairs: EC2 filters with an on-premises tag set, and
    // in-place with traffic control through target groups only.
    let other = CreateDeploymentGroupRequest {
        ec2_tag_filters: vec![filter("env", "stage", TagFilterType::KeyAndValue)],
        ec2_tag_set: None,
        on_premises_instance_tag_filters: vec![],
        on_premises_tag_set: Some(OnPremisesTagSet {
            on_premises_tag_set_list: vec![
                group(vec![filter("env", "stage", TagFilterType::KeyAndValue)]),
                group(vec![filter("role", "", TagFilterType::KeyOnly)]),
                group(vec![filter("", "x86", TagFilterType::ValueOnly)]),
            ],
        }),
        deployment_style: Some(DeploymentStyle {
            deployment_type: DeploymentType::InPlace as i32,
            deployment_option: DeploymentOption::WithTrafficControl as i32,
        }),
        load_balancer_info: Some(LoadBalancerInfo {
            target_group_info_list: vec![
                TargetGroupInfo { name: "a".into() },
                TargetGroupInfo { name: "b".into() },
            ],
            ..Default::default()
        }),
        blue_green_deployment_configuration: None,
        termination_hook_enabled: Some(false),
        ..full_server("web", "stage")
    };
    let id = r
        .client
        .create_deployment_group(other.clone())
        .await
        .unwrap()
        .into_inner()
        .deployment_group_id;
    assert_eq!(
        get(&mut r, "web", "stage").await.unwrap(),
        expected(&other, &id, ComputePlatform::Server)
    );
}

async fn an_ecs_group_with_every_field_reads_back_equal(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "svc", ComputePlatform::Ecs).await;
    let mut req = ecs("svc", "prod", "api");
    req.deployment_config_name = "CodeDeployDefault.ECSCanary10Percent5Minutes".into();
    req.deployment_style = Some(DeploymentStyle {
        deployment_type: DeploymentType::BlueGreen as i32,
        deployment_option: DeploymentOption::WithTrafficControl as i32,
    });
    req.load_balancer_info
        .as_mut()
        .unwrap()
        .target_group_pair_info_list[0]
        .test_traffic_route = Some(TrafficRoute {
        listener_arns: vec!["arn:aws:elasticloadbalancing:l/test".into()],
    });
    req.blue_green_deployment_configuration = Some(BlueGreenDeploymentConfiguration {
        terminate_blue_instances_on_deployment_success: Some(BlueInstanceTerminationOption {
            action: InstanceAction::Terminate as i32,
            termination_wait_time_in_minutes: 5,
        }),
        deployment_ready_option: Some(DeploymentReadyOption {
            action_on_timeout: DeploymentReadyAction::ContinueDeployment as i32,
            wait_time_in_minutes: 0,
        }),
        green_fleet_provisioning_option: None,
    });
    req.auto_rollback_configuration = Some(AutoRollbackConfiguration {
        enabled: true,
        events: vec![AutoRollbackEvent::DeploymentStopOnRequest as i32],
    });
    req.alarm_configuration = Some(AlarmConfiguration::default());
    req.outdated_instances_strategy = OutdatedInstancesStrategy::Update as i32;
    req.termination_hook_enabled = Some(false);
    let id = r
        .client
        .create_deployment_group(req.clone())
        .await
        .unwrap()
        .into_inner()
        .deployment_group_id;
    assert_eq!(
        get(&mut r, "svc", "prod").await.unwrap(),
        expected(&req, &id, ComputePlatform::Ecs)
    );
}

async fn each_platform_gets_its_defaults(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let cases = [
        (
            ComputePlatform::Server,
            "CodeDeployDefault.OneAtATime",
            DeploymentType::InPlace,
            DeploymentOption::WithoutTrafficControl,
        ),
        (
            ComputePlatform::Lambda,
            "CodeDeployDefault.LambdaAllAtOnce",
            DeploymentType::BlueGreen,
            DeploymentOption::WithTrafficControl,
        ),
        (
            ComputePlatform::Ecs,
            "CodeDeployDefault.ECSAllAtOnce",
            DeploymentType::BlueGreen,
            DeploymentOption::WithTrafficControl,
        ),
    ];
    for (platform, config, kind, option) in cases {
        let app = format!("app-{}", platform as i32);
        create_app(&mut r, &app, platform).await;
        let req = if platform == ComputePlatform::Ecs {
            ecs(&app, "g", "api")
        } else {
            minimal(&app, "g")
        };
        r.client.create_deployment_group(req).await.unwrap();
        let info = get(&mut r, &app, "g").await.unwrap();
        assert_eq!(info.compute_platform, platform as i32);
        assert_eq!(info.deployment_config_name, config);
        assert_eq!(
            info.deployment_style,
            Some(DeploymentStyle {
                deployment_type: kind as i32,
                deployment_option: option as i32
            })
        );
        assert_eq!(
            info.outdated_instances_strategy,
            OutdatedInstancesStrategy::Update as i32
        );
        assert_eq!(
            info.alarm_configuration,
            Some(AlarmConfiguration::default())
        );
        assert_eq!(
            info.auto_rollback_configuration,
            Some(AutoRollbackConfiguration::default())
        );
        assert!(info.blue_green_deployment_configuration.is_none());
        assert!(!info.termination_hook_enabled);
        assert_eq!(info.service_role_arn, ROLE);
    }
}
