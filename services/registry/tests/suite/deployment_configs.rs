//! Deployment configurations over gRPC: the predefined ones, custom ones created, read,
//! listed and deleted, name races and pagination. Refusals are in `validation.rs`; deleting a
//! configuration that groups use (and racing them) in `in_use.rs`.

mod in_use;
mod validation;

use ferry_proto::common::v1::{ComputePlatform, Tag};
use ferry_proto::registry::v1::*;
use tonic::Code;

use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error, error_reason};

backend_tests!(
    predefined_configs_are_there_from_the_first_start,
    predefined_configs_are_neither_created_nor_deleted,
    custom_config_create_get_list_and_delete,
    duplicate_and_concurrent_creates_let_exactly_one_win,
    pagination_walks_every_config_once,
);

const PREDEFINED: [&str; 17] = [
    "CodeDeployDefault.AllAtOnce",
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    "CodeDeployDefault.HalfAtATime",
    "CodeDeployDefault.LambdaAllAtOnce",
    "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    "CodeDeployDefault.LambdaCanary10Percent15Minutes",
    "CodeDeployDefault.LambdaCanary10Percent30Minutes",
    "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
    "CodeDeployDefault.OneAtATime",
];

fn hosts(kind: MinimumHealthyHostsType, value: i32) -> Option<MinimumHealthyHosts> {
    Some(MinimumHealthyHosts {
        r#type: kind as i32,
        value,
    })
}

fn server(name: &str, kind: MinimumHealthyHostsType, value: i32) -> CreateDeploymentConfigRequest {
    CreateDeploymentConfigRequest {
        deployment_config_name: name.into(),
        minimum_healthy_hosts: hosts(kind, value),
        ..Default::default()
    }
}

fn canary(
    name: &str,
    platform: ComputePlatform,
    percentage: i32,
    interval: i32,
) -> CreateDeploymentConfigRequest {
    CreateDeploymentConfigRequest {
        deployment_config_name: name.into(),
        compute_platform: platform as i32,
        traffic_routing_config: Some(TrafficRoutingConfig {
            r#type: TrafficRoutingType::TimeBasedCanary as i32,
            time_based_canary: Some(TimeBasedCanary {
                canary_percentage: percentage,
                canary_interval: interval,
            }),
            time_based_linear: None,
        }),
        ..Default::default()
    }
}

async fn all_names(r: &mut TestRegistry) -> Vec<String> {
    let req = ListDeploymentConfigsRequest {
        page_size: 1000,
        ..Default::default()
    };
    r.client
        .list_deployment_configs(req)
        .await
        .unwrap()
        .into_inner()
        .deployment_configs_list
}

async fn get(r: &mut TestRegistry, name: &str) -> Result<DeploymentConfigInfo, tonic::Status> {
    let req = GetDeploymentConfigRequest {
        deployment_config_name: name.into(),
    };
    Ok(r.client
        .get_deployment_config(req)
        .await?
        .into_inner()
        .deployment_config_info
        .unwrap())
}

async fn predefined_configs_are_there_from_the_first_start(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    assert_eq!(all_names(&mut r).await, PREDEFINED);

    let one = get(&mut r, "CodeDeployDefault.OneAtATime").await.unwrap();
    assert_eq!(one.compute_platform, ComputePlatform::Server as i32);
    assert_eq!(
        one.minimum_healthy_hosts,
        hosts(MinimumHealthyHostsType::MostConcurrency, 1)
    );
    assert!(one.traffic_routing_config.is_none() && one.zonal_config.is_none());
    assert!(uuid::Uuid::parse_str(&one.deployment_config_id).is_ok());
    assert!(one.create_time.is_some());
    let half = get(&mut r, "CodeDeployDefault.HalfAtATime").await.unwrap();
    assert_eq!(
        half.minimum_healthy_hosts,
        hosts(MinimumHealthyHostsType::FleetPercent, 50)
    );
    let all = get(&mut r, "CodeDeployDefault.AllAtOnce").await.unwrap();
    assert_eq!(
        all.minimum_healthy_hosts,
        hosts(MinimumHealthyHostsType::HostCount, 0)
    );

    let lambda = get(&mut r, "CodeDeployDefault.LambdaCanary10Percent5Minutes")
        .await
        .unwrap();
    assert_eq!(lambda.compute_platform, ComputePlatform::Lambda as i32);
    assert!(lambda.minimum_healthy_hosts.is_none());
    assert_eq!(
        lambda.traffic_routing_config,
        canary("", ComputePlatform::Lambda, 10, 5).traffic_routing_config
    );
    let ecs = get(&mut r, "CodeDeployDefault.ECSLinear10PercentEvery3Minutes")
        .await
        .unwrap();
    assert_eq!(ecs.compute_platform, ComputePlatform::Ecs as i32);
    assert_eq!(
        ecs.traffic_routing_config,
        Some(TrafficRoutingConfig {
            r#type: TrafficRoutingType::TimeBasedLinear as i32,
            time_based_canary: None,
            time_based_linear: Some(TimeBasedLinear {
                linear_percentage: 10,
                linear_interval: 3
            }),
        })
    );
    let ecs_all = get(&mut r, "CodeDeployDefault.ECSAllAtOnce").await.unwrap();
    assert_eq!(
        ecs_all.traffic_routing_config.unwrap().r#type,
        TrafficRoutingType::AllAtOnce as i32
    );

    // A restart (or a second replica) seeds nothing twice, and every replica agrees on the ids.
    let mut again = r.restart().await;
    assert_eq!(all_names(&mut again).await, PREDEFINED);
    assert_eq!(
        get(&mut again, "CodeDeployDefault.OneAtATime")
            .await
            .unwrap(),
        one
    );
    let mut fresh = TestRegistry::start(backend).await;
    let elsewhere = get(&mut fresh, "CodeDeployDefault.OneAtATime")
        .await
        .unwrap();
    assert_eq!(
        elsewhere.deployment_config_id, one.deployment_config_id,
        "ids derive from the name"
    );
}

async fn predefined_configs_are_neither_created_nor_deleted(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    assert_error(
        r.client
            .create_deployment_config(server(
                "CodeDeployDefault.OneAtATime",
                MinimumHealthyHostsType::HostCount,
                1,
            ))
            .await,
        Code::AlreadyExists,
        "DeploymentConfigAlreadyExistsException",
    );
    assert_error(
        r.client
            .create_deployment_config(server(
                "CodeDeployDefault.Mine",
                MinimumHealthyHostsType::HostCount,
                1,
            ))
            .await,
        Code::InvalidArgument,
        "InvalidDeploymentConfigNameException",
    );
    for name in [
        "CodeDeployDefault.AllAtOnce",
        "CodeDeployDefault.LambdaAllAtOnce",
    ] {
        assert_error(
            r.client
                .delete_deployment_config(DeleteDeploymentConfigRequest {
                    deployment_config_name: name.into(),
                })
                .await,
            Code::FailedPrecondition,
            "InvalidOperationException",
        );
    }
    assert_eq!(all_names(&mut r).await, PREDEFINED);
}

async fn custom_config_create_get_list_and_delete(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let zonal = Some(ZonalConfig {
        first_zone_monitor_duration_in_seconds: Some(900),
        monitor_duration_in_seconds: Some(300),
        minimum_healthy_hosts_per_zone: Some(MinimumHealthyHostsPerZone {
            r#type: MinimumHealthyHostsPerZoneType::FleetPercent as i32,
            value: 50,
        }),
    });
    let req = CreateDeploymentConfigRequest {
        zonal_config: zonal,
        compute_platform: ComputePlatform::Server as i32,
        ..server("ThreeQuarters", MinimumHealthyHostsType::FleetPercent, 75)
    };
    let id = r
        .client
        .create_deployment_config(req.clone())
        .await
        .unwrap()
        .into_inner()
        .deployment_config_id;
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let info = get(&mut r, "ThreeQuarters").await.unwrap();
    assert_eq!(info.deployment_config_id, id);
    assert_eq!(info.deployment_config_name, "ThreeQuarters");
    assert_eq!(info.compute_platform, ComputePlatform::Server as i32);
    assert_eq!(info.minimum_healthy_hosts, req.minimum_healthy_hosts);
    assert_eq!(info.zonal_config, req.zonal_config);
    assert!(info.traffic_routing_config.is_none());
    assert!(info.create_time.is_some());

    let lambda = canary("Canary25", ComputePlatform::Lambda, 25, 7);
    r.client
        .create_deployment_config(lambda.clone())
        .await
        .unwrap();
    let info = get(&mut r, "Canary25").await.unwrap();
    assert_eq!(info.compute_platform, ComputePlatform::Lambda as i32);
    assert_eq!(info.traffic_routing_config, lambda.traffic_routing_config);
    assert!(info.minimum_healthy_hosts.is_none());

    let names = all_names(&mut r).await;
    assert_eq!(names.len(), PREDEFINED.len() + 2);
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "sorted by name: {names:?}"
    );
    assert!(names.contains(&"ThreeQuarters".to_owned()) && names.contains(&"Canary25".to_owned()));

    // Deleting removes the configuration and its tags; deleting again succeeds.
    let arn = "arn:ferry:codedeploy:local:000000000000:deploymentconfig:ThreeQuarters".to_owned();
    let tags = vec![Tag {
        key: "team".into(),
        value: "edge".into(),
    }];
    r.client
        .tag_resource(TagResourceRequest {
            resource_arn: arn.clone(),
            tags,
        })
        .await
        .unwrap();
    let delete = DeleteDeploymentConfigRequest {
        deployment_config_name: "ThreeQuarters".into(),
    };
    r.client
        .delete_deployment_config(delete.clone())
        .await
        .unwrap();
    assert_error(
        get(&mut r, "ThreeQuarters").await,
        Code::NotFound,
        "DeploymentConfigDoesNotExistException",
    );
    r.client.delete_deployment_config(delete).await.unwrap();
    r.client.create_deployment_config(req).await.unwrap();
    let listed = r.client.list_tags_for_resource(ListTagsForResourceRequest {
        resource_arn: arn,
        next_token: String::new(),
    });
    assert!(
        listed.await.unwrap().into_inner().tags.is_empty(),
        "a new config of the same name starts untagged"
    );

    assert_error(
        get(&mut r, "").await,
        Code::InvalidArgument,
        "DeploymentConfigNameRequiredException",
    );
    assert_error(
        get(&mut r, "a b").await,
        Code::InvalidArgument,
        "InvalidDeploymentConfigNameException",
    );
    let nameless = DeleteDeploymentConfigRequest {
        deployment_config_name: String::new(),
    };
    assert_error(
        r.client.delete_deployment_config(nameless).await,
        Code::InvalidArgument,
        "DeploymentConfigNameRequiredException",
    );
}

async fn duplicate_and_concurrent_creates_let_exactly_one_win(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let req = server("Twice", MinimumHealthyHostsType::HostCount, 2);
    r.client
        .create_deployment_config(req.clone())
        .await
        .unwrap();
    assert_error(
        r.client.create_deployment_config(req).await,
        Code::AlreadyExists,
        "DeploymentConfigAlreadyExistsException",
    );

    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = r.another_client().await;
        let req = server("Race", MinimumHealthyHostsType::FleetPercent, 10);
        calls.push(tokio::spawn(async move {
            client.create_deployment_config(req).await
        }));
    }
    let mut won = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                assert_eq!(
                    error_reason(&status).as_deref(),
                    Some("DeploymentConfigAlreadyExistsException")
                );
            }
        }
    }
    assert_eq!(won, 1);
}

async fn pagination_walks_every_config_once(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    // Names that sort the same under any collation: before and after every predefined one.
    for name in ["Aaa", "Zed"] {
        r.client
            .create_deployment_config(server(name, MinimumHealthyHostsType::HostCount, 1))
            .await
            .unwrap();
    }
    let page = |token: String| ListDeploymentConfigsRequest {
        next_token: token,
        page_size: 4,
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let next = r
            .client
            .list_deployment_configs(page(token))
            .await
            .unwrap()
            .into_inner();
        assert!(next.deployment_configs_list.len() <= 4);
        seen.extend(next.deployment_configs_list);
        token = next.next_token;
        if token.is_empty() {
            break;
        }
    }
    let mut expected: Vec<String> = PREDEFINED.iter().map(|s| s.to_string()).collect();
    expected.insert(0, "Aaa".into());
    expected.push("Zed".into());
    assert_eq!(seen, expected);
    assert_error(
        r.client
            .list_deployment_configs(page("garbage".into()))
            .await,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );
    assert_error(
        r.client
            .list_deployment_configs(ListDeploymentConfigsRequest {
                page_size: 1001,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
}
