//! UpdateDeploymentGroup: what is absent stays, what is present replaces, a refused update
//! changes nothing; renames and their conflicts.

use ferry_proto::common::v1::{ComputePlatform, TagFilterType};
use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{create_app, expected, filter, full_server, get, group, minimal, tags_of};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error};

backend_tests!(
    update_changes_only_what_is_present,
    update_renames_and_reports_conflicts
);

fn update(app: &str, name: &str) -> UpdateDeploymentGroupRequest {
    UpdateDeploymentGroupRequest {
        application_name: app.into(),
        current_deployment_group_name: name.into(),
        ..Default::default()
    }
}

async fn update_changes_only_what_is_present(backend: Backend) {
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
    let mut want = expected(&req, &id, ComputePlatform::Server);

    // Nothing present: nothing changes.
    let answer = r
        .client
        .update_deployment_group(update("web", "prod"))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.hooks_not_cleaned_up.is_empty());
    assert_eq!(get(&mut r, "web", "prod").await.unwrap(), want);

    // One scalar.
    let role = "arn:ferry:iam::000000000000:role/other";
    r.client
        .update_deployment_group(UpdateDeploymentGroupRequest {
            service_role_arn: Some(role.into()),
            ..update("web", "prod")
        })
        .await
        .unwrap();
    want.service_role_arn = role.into();
    assert_eq!(get(&mut r, "web", "prod").await.unwrap(), want);

    // An empty wrapper clears a list; a present list replaces it; a present message replaces it.
    let trigger = TriggerConfig {
        trigger_name: "only".into(),
        trigger_target_arn: "https://example.com/hook".into(),
        trigger_events: vec![TriggerEventType::DeploymentSuccess as i32],
    };
    let change = UpdateDeploymentGroupRequest {
        on_premises_instance_tag_filters: Some(TagFilterList { items: vec![] }),
        trigger_configurations: Some(TriggerConfigList {
            items: vec![trigger.clone()],
        }),
        ec2_tag_set: Some(Ec2TagSet {
            ec2_tag_set_list: vec![],
        }),
        ec2_tag_filters: Some(TagFilterList {
            items: vec![filter("k", "", TagFilterType::KeyOnly)],
        }),
        alarm_configuration: Some(AlarmConfiguration::default()),
        deployment_config_name: Some("CodeDeployDefault.AllAtOnce".into()),
        deployment_style: Some(DeploymentStyle::default()),
        outdated_instances_strategy: OutdatedInstancesStrategy::Update as i32,
        termination_hook_enabled: Some(false),
        auto_scaling_groups: Some(StringList { items: vec![] }),
        ..update("web", "prod")
    };
    r.client.update_deployment_group(change).await.unwrap();
    want.on_premises_instance_tag_filters = vec![];
    want.trigger_configurations = vec![trigger];
    want.ec2_tag_set = None;
    want.ec2_tag_filters = vec![filter("k", "", TagFilterType::KeyOnly)];
    want.alarm_configuration = Some(AlarmConfiguration::default());
    want.deployment_config_name = "CodeDeployDefault.AllAtOnce".into();
    want.deployment_style = Some(DeploymentStyle {
        deployment_type: DeploymentType::InPlace as i32,
        deployment_option: DeploymentOption::WithoutTrafficControl as i32,
    });
    want.outdated_instances_strategy = OutdatedInstancesStrategy::Update as i32;
    want.termination_hook_enabled = false;
    assert_eq!(
        get(&mut r, "web", "prod").await.unwrap(),
        want,
        "load balancer and blue/green options stay stored"
    );

    // A refused update changes nothing at all.
    let refused = [
        (
            UpdateDeploymentGroupRequest {
                ec2_tag_set: Some(Ec2TagSet {
                    ec2_tag_set_list: vec![group(vec![filter("a", "", TagFilterType::KeyOnly)])],
                }),
                ..update("web", "prod")
            },
            Code::InvalidArgument,
            "InvalidEC2TagCombinationException",
        ),
        (
            UpdateDeploymentGroupRequest {
                service_role_arn: Some(String::new()),
                ..update("web", "prod")
            },
            Code::InvalidArgument,
            "InvalidRoleException",
        ),
        (
            UpdateDeploymentGroupRequest {
                deployment_config_name: Some("CodeDeployDefault.LambdaAllAtOnce".into()),
                ..update("web", "prod")
            },
            Code::InvalidArgument,
            "InvalidDeploymentConfigNameException",
        ),
        (
            UpdateDeploymentGroupRequest {
                deployment_config_name: Some("Missing".into()),
                ..update("web", "prod")
            },
            Code::NotFound,
            "DeploymentConfigDoesNotExistException",
        ),
        (
            UpdateDeploymentGroupRequest {
                auto_scaling_groups: Some(StringList {
                    items: vec!["asg".into()],
                }),
                ..update("web", "prod")
            },
            Code::InvalidArgument,
            "InvalidAutoScalingGroupException",
        ),
        (
            UpdateDeploymentGroupRequest {
                load_balancer_info: Some(LoadBalancerInfo::default()),
                deployment_style: Some(DeploymentStyle {
                    deployment_type: DeploymentType::InPlace as i32,
                    deployment_option: DeploymentOption::WithTrafficControl as i32,
                }),
                ..update("web", "prod")
            },
            Code::InvalidArgument,
            "InvalidLoadBalancerInfoException",
        ),
        (
            update("web", "ghost"),
            Code::NotFound,
            "DeploymentGroupDoesNotExistException",
        ),
        (
            update("nope", "prod"),
            Code::NotFound,
            "ApplicationDoesNotExistException",
        ),
        (
            update("web", ""),
            Code::InvalidArgument,
            "DeploymentGroupNameRequiredException",
        ),
    ];
    for (req, code, reason) in refused {
        assert_error(r.client.update_deployment_group(req).await, code, reason);
    }
    assert_eq!(get(&mut r, "web", "prod").await.unwrap(), want);
}

async fn update_renames_and_reports_conflicts(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    let req = full_server("web", "prod");
    let id = r
        .client
        .create_deployment_group(req)
        .await
        .unwrap()
        .into_inner()
        .deployment_group_id;
    r.client
        .create_deployment_group(minimal("web", "staging"))
        .await
        .unwrap();
    let rename = |to: &str| UpdateDeploymentGroupRequest {
        new_deployment_group_name: Some(to.into()),
        ..update("web", "prod")
    };

    assert_error(
        r.client.update_deployment_group(rename("staging")).await,
        Code::AlreadyExists,
        "DeploymentGroupAlreadyExistsException",
    );
    assert_error(
        r.client.update_deployment_group(rename("a b")).await,
        Code::InvalidArgument,
        "InvalidDeploymentGroupNameException",
    );
    r.client
        .update_deployment_group(rename("prod"))
        .await
        .unwrap();
    r.client
        .update_deployment_group(rename("production"))
        .await
        .unwrap();
    let renamed = get(&mut r, "web", "production").await.unwrap();
    assert_eq!(renamed.deployment_group_id, id, "a rename keeps the id");
    assert_eq!(renamed.deployment_group_name, "production");
    assert_error(
        get(&mut r, "web", "prod").await,
        Code::NotFound,
        "DeploymentGroupDoesNotExistException",
    );
    assert_eq!(
        tags_of(&mut r, "web", "production").await.len(),
        1,
        "tags follow the rename"
    );
}
