//! BatchGetDeploymentGroups, DeleteDeploymentGroup, the create race, ListDeploymentGroups
//! pagination and ListDeploymentGroupInstances.

use ferry_proto::common::v1::{ComputePlatform, Tag, TagFilterType};
use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{create_app, filter, full_server, get, group, minimal, tags_of};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error, error_reason};

backend_tests!(
    batch_get_keeps_order_and_reports_missing_names,
    delete_removes_the_group_and_its_tags,
    concurrent_creates_of_one_name_let_exactly_one_win,
    list_pages_through_one_application,
    list_instances_follows_the_on_premises_selectors,
);

async fn batch_get_keeps_order_and_reports_missing_names(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    for name in ["a", "b", "c"] {
        r.client
            .create_deployment_group(minimal("web", name))
            .await
            .unwrap();
    }
    let batch = |names: &[&str]| BatchGetDeploymentGroupsRequest {
        application_name: "web".into(),
        deployment_group_names: names.iter().map(|n| n.to_string()).collect(),
    };
    let got = r
        .client
        .batch_get_deployment_groups(batch(&["c", "ghost", "a"]))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = got
        .deployment_groups_info
        .iter()
        .map(|g| g.deployment_group_name.as_str())
        .collect();
    assert_eq!(names, ["c", "a"]);
    assert!(
        got.error_message.contains("\"ghost\""),
        "{}",
        got.error_message
    );
    let all = r
        .client
        .batch_get_deployment_groups(batch(&["a", "b"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.deployment_groups_info.len(), 2);
    assert!(all.error_message.is_empty());
    assert_eq!(
        all.deployment_groups_info[0],
        get(&mut r, "web", "a").await.unwrap()
    );

    let too_many: Vec<String> = (0..101).map(|i| format!("g{i}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_error(
        r.client.batch_get_deployment_groups(batch(&refs)).await,
        Code::InvalidArgument,
        "BatchLimitExceededException",
    );
    assert_error(
        r.client.batch_get_deployment_groups(batch(&[])).await,
        Code::InvalidArgument,
        "DeploymentGroupNameRequiredException",
    );
    let elsewhere = BatchGetDeploymentGroupsRequest {
        application_name: "ghost".into(),
        ..batch(&["a"])
    };
    assert_error(
        r.client.batch_get_deployment_groups(elsewhere).await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
}

async fn delete_removes_the_group_and_its_tags(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    r.client
        .create_deployment_group(full_server("web", "prod"))
        .await
        .unwrap();
    let delete = |app: &str, name: &str| DeleteDeploymentGroupRequest {
        application_name: app.into(),
        deployment_group_name: name.into(),
    };
    let answer = r
        .client
        .delete_deployment_group(delete("web", "prod"))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.hooks_not_cleaned_up.is_empty());
    assert_error(
        get(&mut r, "web", "prod").await,
        Code::NotFound,
        "DeploymentGroupDoesNotExistException",
    );
    // Deleting what does not exist succeeds, as in CodeDeploy (no "does not exist" in its model).
    r.client
        .delete_deployment_group(delete("web", "prod"))
        .await
        .unwrap();
    r.client
        .delete_deployment_group(delete("ghost", "prod"))
        .await
        .unwrap();
    assert_error(
        r.client.delete_deployment_group(delete("", "prod")).await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
    assert_error(
        r.client.delete_deployment_group(delete("web", "")).await,
        Code::InvalidArgument,
        "DeploymentGroupNameRequiredException",
    );
    // A new group of the same name starts untagged.
    r.client
        .create_deployment_group(minimal("web", "prod"))
        .await
        .unwrap();
    assert!(tags_of(&mut r, "web", "prod").await.is_empty());
}

async fn concurrent_creates_of_one_name_let_exactly_one_win(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = r.another_client().await;
        calls.push(tokio::spawn(async move {
            client
                .create_deployment_group(full_server("web", "race"))
                .await
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
                    Some("DeploymentGroupAlreadyExistsException")
                );
            }
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        tags_of(&mut r, "web", "race").await.len(),
        1,
        "the winner's tags, once"
    );
}

async fn list_pages_through_one_application(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    create_app(&mut r, "api", ComputePlatform::Server).await;
    for i in 0..5 {
        r.client
            .create_deployment_group(minimal("web", &format!("g-{i}")))
            .await
            .unwrap();
    }
    r.client
        .create_deployment_group(minimal("api", "other"))
        .await
        .unwrap();
    let page = |app: &str, token: String| ListDeploymentGroupsRequest {
        application_name: app.into(),
        next_token: token,
        page_size: 2,
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut first_token = None;
    loop {
        let next = r
            .client
            .list_deployment_groups(page("web", token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(next.application_name, "web");
        seen.extend(next.deployment_groups);
        token = next.next_token;
        first_token.get_or_insert(token.clone());
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["g-0", "g-1", "g-2", "g-3", "g-4"]);
    let other_app = r
        .client
        .list_deployment_groups(page("api", first_token.unwrap()))
        .await;
    assert_error(
        other_app,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );
    assert_error(
        r.client
            .list_deployment_groups(page("ghost", String::new()))
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    assert_error(
        r.client
            .list_deployment_groups(page("", String::new()))
            .await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
}

async fn list_instances_follows_the_on_premises_selectors(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    create_app(&mut r, "web", ComputePlatform::Server).await;
    let hosts = [
        ("h1", "prod", "web"),
        ("h2", "prod", "db"),
        ("h3", "stage", "web"),
    ];
    for (name, env, role) in hosts {
        let register = RegisterOnPremisesInstanceRequest {
            instance_name: name.into(),
            ..Default::default()
        };
        r.client
            .register_on_premises_instance(register)
            .await
            .unwrap();
        let tags = vec![
            Tag {
                key: "env".into(),
                value: env.into(),
            },
            Tag {
                key: "role".into(),
                value: role.into(),
            },
        ];
        let add = AddTagsToOnPremisesInstancesRequest {
            tags,
            instance_names: vec![name.into()],
        };
        r.client
            .add_tags_to_on_premises_instances(add)
            .await
            .unwrap();
    }
    let any_prod_or_stage_web = CreateDeploymentGroupRequest {
        on_premises_instance_tag_filters: vec![
            filter("env", "prod", TagFilterType::KeyAndValue),
            filter("", "stage", TagFilterType::ValueOnly),
        ],
        ..minimal("web", "any")
    };
    let prod_and_web = CreateDeploymentGroupRequest {
        on_premises_tag_set: Some(OnPremisesTagSet {
            on_premises_tag_set_list: vec![
                group(vec![filter("env", "prod", TagFilterType::KeyAndValue)]),
                group(vec![filter("role", "web", TagFilterType::KeyAndValue)]),
            ],
        }),
        ..minimal("web", "every")
    };
    for req in [any_prod_or_stage_web, prod_and_web, minimal("web", "none")] {
        r.client.create_deployment_group(req).await.unwrap();
    }
    let list = |name: &str| ListDeploymentGroupInstancesRequest {
        application_name: "web".into(),
        deployment_group_name: name.into(),
    };
    let names = |answer: ListDeploymentGroupInstancesResponse| -> Vec<String> {
        answer
            .instances
            .into_iter()
            .map(|i| i.instance_name)
            .collect()
    };
    assert_eq!(
        names(
            r.client
                .list_deployment_group_instances(list("any"))
                .await
                .unwrap()
                .into_inner()
        ),
        ["h1", "h2", "h3"]
    );
    assert_eq!(
        names(
            r.client
                .list_deployment_group_instances(list("every"))
                .await
                .unwrap()
                .into_inner()
        ),
        ["h1"]
    );
    assert!(
        names(
            r.client
                .list_deployment_group_instances(list("none"))
                .await
                .unwrap()
                .into_inner()
        )
        .is_empty()
    );
    assert_error(
        r.client
            .list_deployment_group_instances(list("ghost"))
            .await,
        Code::NotFound,
        "DeploymentGroupDoesNotExistException",
    );
}
