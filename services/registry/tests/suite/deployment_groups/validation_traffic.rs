//! CreateDeploymentGroup's refusals about how a group reaches its targets: deployment styles,
//! load balancers and target group pairs, blue/green options and ECS services.

use ferry_proto::registry::v1::*;

use super::validation::{Case, INVALID, check_all, srv, start};
use super::{ecs, minimal};
use crate::backend_tests;
use crate::support::{Backend, assert_error};

backend_tests!(
    styles_load_balancers_blue_green_and_ecs_are_checked,
    an_ecs_service_belongs_to_one_group,
);

fn style(kind: DeploymentType, option: DeploymentOption) -> Option<DeploymentStyle> {
    Some(DeploymentStyle {
        deployment_type: kind as i32,
        deployment_option: option as i32,
    })
}

async fn styles_load_balancers_blue_green_and_ecs_are_checked(backend: Backend) {
    use DeploymentOption::{WithTrafficControl as With, WithoutTrafficControl as Without};
    use DeploymentType::{BlueGreen, InPlace};
    let mut r = start(backend).await;
    let elb = |names: &[&str]| {
        Some(LoadBalancerInfo {
            elb_info_list: names
                .iter()
                .map(|n| ElbInfo {
                    name: n.to_string(),
                })
                .collect(),
            ..Default::default()
        })
    };
    let blue_green = |green: i32, wait: i32| {
        Some(BlueGreenDeploymentConfiguration {
            terminate_blue_instances_on_deployment_success: Some(BlueInstanceTerminationOption {
                action: InstanceAction::Terminate as i32,
                termination_wait_time_in_minutes: wait,
            }),
            deployment_ready_option: None,
            green_fleet_provisioning_option: Some(GreenFleetProvisioningOption { action: green }),
        })
    };
    let discover = GreenFleetProvisioningAction::DiscoverExisting as i32;
    let server_bg = || CreateDeploymentGroupRequest {
        deployment_style: style(BlueGreen, With),
        load_balancer_info: elb(&["lb"]),
        ..srv()
    };
    let ecs_pair = |groups: &[&str], prod: Vec<String>| {
        let mut req = ecs("ecs", "g", "api");
        let pair = &mut req
            .load_balancer_info
            .as_mut()
            .unwrap()
            .target_group_pair_info_list[0];
        pair.target_groups = groups
            .iter()
            .map(|n| TargetGroupInfo {
                name: n.to_string(),
            })
            .collect();
        pair.prod_traffic_route = Some(TrafficRoute {
            listener_arns: prod,
        });
        req
    };
    let listener = || vec!["arn:l/prod".to_owned()];
    let cases: Vec<Case> = vec![
        (
            CreateDeploymentGroupRequest {
                deployment_style: Some(DeploymentStyle {
                    deployment_type: 9,
                    deployment_option: 0,
                }),
                ..srv()
            },
            INVALID,
            "InvalidDeploymentStyleException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_style: Some(DeploymentStyle {
                    deployment_type: 0,
                    deployment_option: 9,
                }),
                ..srv()
            },
            INVALID,
            "InvalidDeploymentStyleException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_style: style(InPlace, Without),
                ..minimal("fn", "g")
            },
            INVALID,
            "InvalidDeploymentStyleException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_style: style(BlueGreen, Without),
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidDeploymentStyleException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_style: style(BlueGreen, Without),
                ..srv()
            },
            INVALID,
            "InvalidDeploymentStyleException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_style: style(InPlace, With),
                ..srv()
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                deployment_style: style(InPlace, With),
                load_balancer_info: elb(&[""]),
                ..srv()
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                load_balancer_info: elb(&["a", "a"]),
                ..srv()
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                load_balancer_info: elb(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]),
                ..srv()
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                load_balancer_info: ecs("ecs", "g", "api").load_balancer_info,
                ..srv()
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                load_balancer_info: elb(&["lb"]),
                ..minimal("fn", "g")
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                load_balancer_info: None,
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            CreateDeploymentGroupRequest {
                load_balancer_info: elb(&["lb"]),
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidLoadBalancerInfoException",
        ),
        (
            ecs_pair(&["blue"], listener()),
            INVALID,
            "InvalidTargetGroupPairException",
        ),
        (
            ecs_pair(&["blue", "blue"], listener()),
            INVALID,
            "InvalidTargetGroupPairException",
        ),
        (
            ecs_pair(&["blue", "green"], vec![]),
            INVALID,
            "InvalidTargetGroupPairException",
        ),
        (
            ecs_pair(&["blue", "green"], vec!["a".into(), "b".into()]),
            INVALID,
            "InvalidTargetGroupPairException",
        ),
        (
            {
                let mut req = ecs("ecs", "g", "api");
                let info = req.load_balancer_info.as_mut().unwrap();
                info.target_group_pair_info_list
                    .push(info.target_group_pair_info_list[0].clone());
                req
            },
            INVALID,
            "InvalidTargetGroupPairException",
        ),
        (
            server_bg(),
            INVALID,
            "InvalidBlueGreenDeploymentConfigurationException",
        ),
        (
            CreateDeploymentGroupRequest {
                blue_green_deployment_configuration: blue_green(discover, 2881),
                ..server_bg()
            },
            INVALID,
            "InvalidBlueGreenDeploymentConfigurationException",
        ),
        (
            CreateDeploymentGroupRequest {
                blue_green_deployment_configuration: blue_green(
                    GreenFleetProvisioningAction::CopyAutoScalingGroup as i32,
                    5,
                ),
                ..server_bg()
            },
            INVALID,
            "InvalidBlueGreenDeploymentConfigurationException",
        ),
        (
            CreateDeploymentGroupRequest {
                blue_green_deployment_configuration: blue_green(0, 5),
                ..server_bg()
            },
            INVALID,
            "InvalidBlueGreenDeploymentConfigurationException",
        ),
        (
            CreateDeploymentGroupRequest {
                blue_green_deployment_configuration: blue_green(discover, 5),
                ..minimal("fn", "g")
            },
            INVALID,
            "InvalidBlueGreenDeploymentConfigurationException",
        ),
        (
            CreateDeploymentGroupRequest {
                blue_green_deployment_configuration: blue_green(discover, 5),
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidBlueGreenDeploymentConfigurationException",
        ),
        (
            CreateDeploymentGroupRequest {
                ecs_services: ecs("ecs", "g", "api").ecs_services,
                ..srv()
            },
            INVALID,
            "InvalidECSServiceException",
        ),
        (
            CreateDeploymentGroupRequest {
                ecs_services: vec![],
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidECSServiceException",
        ),
        (
            CreateDeploymentGroupRequest {
                ecs_services: vec![
                    EcsService {
                        service_name: "a".into(),
                        cluster_name: "main".into(),
                    },
                    EcsService {
                        service_name: "b".into(),
                        cluster_name: "main".into(),
                    },
                ],
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidECSServiceException",
        ),
        (
            CreateDeploymentGroupRequest {
                ecs_services: vec![EcsService {
                    service_name: "a".into(),
                    cluster_name: String::new(),
                }],
                ..ecs("ecs", "g", "api")
            },
            INVALID,
            "InvalidECSServiceException",
        ),
    ];
    check_all(&mut r, cases).await;
    // The valid neighbours of the refusals above.
    let valid = CreateDeploymentGroupRequest {
        blue_green_deployment_configuration: blue_green(discover, 2880),
        ..server_bg()
    };
    r.client.create_deployment_group(valid).await.unwrap();
    r.client
        .create_deployment_group(ecs("ecs", "g", "api"))
        .await
        .unwrap();
}

async fn an_ecs_service_belongs_to_one_group(backend: Backend) {
    let mut r = start(backend).await;
    r.client
        .create_deployment_group(ecs("ecs", "first", "api"))
        .await
        .unwrap();
    assert_error(
        r.client
            .create_deployment_group(ecs("ecs", "second", "api"))
            .await,
        INVALID,
        "ECSServiceMappingLimitExceededException",
    );
    r.client
        .create_deployment_group(ecs("ecs", "second", "worker"))
        .await
        .unwrap();
    // Moving a service by update is checked the same way; keeping one's own service is fine.
    let to = |service: &str| UpdateDeploymentGroupRequest {
        application_name: "ecs".into(),
        current_deployment_group_name: "second".into(),
        ecs_services: Some(EcsServiceList {
            items: vec![EcsService {
                service_name: service.into(),
                cluster_name: "main".into(),
            }],
        }),
        ..Default::default()
    };
    assert_error(
        r.client.update_deployment_group(to("api")).await,
        INVALID,
        "ECSServiceMappingLimitExceededException",
    );
    r.client
        .update_deployment_group(to("worker"))
        .await
        .unwrap();
    let remove = DeleteDeploymentGroupRequest {
        application_name: "ecs".into(),
        deployment_group_name: "first".into(),
    };
    r.client.delete_deployment_group(remove).await.unwrap();
    r.client.update_deployment_group(to("api")).await.unwrap();
}
