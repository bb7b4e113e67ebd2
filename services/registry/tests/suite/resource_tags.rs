use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1::*;
use tonic::Code;

use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error};

backend_tests!(
    tags_on_applications_follow_renames_and_deletes,
    tags_on_groups_and_configs,
    tag_calls_reject_bad_input,
);

const APP_ARN_PREFIX: &str = "arn:ferry:codedeploy:local:000000000000:";

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

async fn list(r: &mut TestRegistry, arn: &str) -> Vec<(String, String)> {
    r.client
        .list_tags_for_resource(ListTagsForResourceRequest {
            resource_arn: arn.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn tags_on_applications_follow_renames_and_deletes(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client
        .create_application(CreateApplicationRequest {
            application_name: "web".into(),
            tags: vec![tag("team", "edge")],
            ..Default::default()
        })
        .await
        .unwrap();
    let arn = format!("{APP_ARN_PREFIX}application:web");
    assert_eq!(list(&mut r, &arn).await, pairs(&[("team", "edge")]));

    r.client
        .tag_resource(TagResourceRequest {
            resource_arn: arn.clone(),
            tags: vec![tag("team", "core"), tag("env", "prod")],
        })
        .await
        .unwrap();
    assert_eq!(
        list(&mut r, &arn).await,
        pairs(&[("env", "prod"), ("team", "core")]),
        "a key's value is replaced"
    );

    r.client
        .untag_resource(UntagResourceRequest {
            resource_arn: arn.clone(),
            tag_keys: vec!["env".into(), "absent".into()],
        })
        .await
        .unwrap();
    assert_eq!(list(&mut r, &arn).await, pairs(&[("team", "core")]));

    r.client
        .update_application(UpdateApplicationRequest {
            application_name: "web".into(),
            new_application_name: "site".into(),
        })
        .await
        .unwrap();
    let renamed = format!("{APP_ARN_PREFIX}application:site");
    assert_eq!(
        list(&mut r, &renamed).await,
        pairs(&[("team", "core")]),
        "tags follow a rename"
    );

    r.client
        .delete_application(DeleteApplicationRequest {
            application_name: "site".into(),
        })
        .await
        .unwrap();
    r.client
        .create_application(CreateApplicationRequest {
            application_name: "site".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        list(&mut r, &renamed).await.is_empty(),
        "a deleted application's tags are gone"
    );
}

async fn tags_on_groups_and_configs(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client
        .create_application(CreateApplicationRequest {
            application_name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    r.client
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: "web".into(),
            deployment_group_name: "prod".into(),
            service_role_arn: "arn:ferry:iam::000000000000:role/deployer".into(),
            tags: vec![tag("tier", "1")],
            ..Default::default()
        })
        .await
        .unwrap();
    let group_arn = format!("{APP_ARN_PREFIX}deploymentgroup:web/prod");
    assert_eq!(list(&mut r, &group_arn).await, pairs(&[("tier", "1")]));

    r.client
        .create_deployment_config(CreateDeploymentConfigRequest {
            deployment_config_name: "TwoAtATime".into(),
            minimum_healthy_hosts: Some(MinimumHealthyHosts {
                r#type: MinimumHealthyHostsType::HostCount as i32,
                value: 2,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let config_arn = format!("{APP_ARN_PREFIX}deploymentconfig:TwoAtATime");
    r.client
        .tag_resource(TagResourceRequest {
            resource_arn: config_arn.clone(),
            tags: vec![tag("owner", "sre")],
        })
        .await
        .unwrap();
    assert_eq!(list(&mut r, &config_arn).await, pairs(&[("owner", "sre")]));

    assert_error(
        r.client
            .tag_resource(TagResourceRequest {
                resource_arn: format!("{APP_ARN_PREFIX}deploymentgroup:web/ghost"),
                tags: vec![tag("a", "b")],
            })
            .await,
        Code::NotFound,
        "DeploymentGroupDoesNotExistException",
    );
    assert_error(
        r.client
            .tag_resource(TagResourceRequest {
                resource_arn: format!("{APP_ARN_PREFIX}deploymentconfig:Ghost"),
                tags: vec![tag("a", "b")],
            })
            .await,
        Code::NotFound,
        "DeploymentConfigDoesNotExistException",
    );
}

async fn tag_calls_reject_bad_input(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client
        .create_application(CreateApplicationRequest {
            application_name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let arn = format!("{APP_ARN_PREFIX}application:web");
    let tag_with = |arn: &str, tags: Vec<Tag>| TagResourceRequest {
        resource_arn: arn.into(),
        tags,
    };

    assert_error(
        r.client
            .tag_resource(tag_with("", vec![tag("a", "b")]))
            .await,
        Code::InvalidArgument,
        "ResourceArnRequiredException",
    );
    assert_error(
        r.client
            .tag_resource(tag_with("nope", vec![tag("a", "b")]))
            .await,
        Code::InvalidArgument,
        "InvalidArnException",
    );
    assert_error(
        r.client
            .tag_resource(tag_with(
                &format!("{APP_ARN_PREFIX}instance/host-1"),
                vec![tag("a", "b")],
            ))
            .await,
        Code::InvalidArgument,
        "ArnNotSupportedException",
    );
    assert_error(
        r.client.tag_resource(tag_with(&arn, vec![])).await,
        Code::InvalidArgument,
        "TagRequiredException",
    );
    assert_error(
        r.client
            .tag_resource(tag_with(&arn, vec![tag("aws:reserved", "x")]))
            .await,
        Code::InvalidArgument,
        "InvalidTagsToAddException",
    );
    assert_error(
        r.client
            .tag_resource(tag_with(
                &format!("{APP_ARN_PREFIX}application:ghost"),
                vec![tag("a", "b")],
            ))
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    assert_error(
        r.client
            .untag_resource(UntagResourceRequest {
                resource_arn: arn.clone(),
                tag_keys: vec![],
            })
            .await,
        Code::InvalidArgument,
        "TagRequiredException",
    );
    assert_error(
        r.client
            .list_tags_for_resource(ListTagsForResourceRequest {
                resource_arn: arn.clone(),
                next_token: "bogus".into(),
            })
            .await,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );

    // The tag limit is checked over the stored and new tags together, and nothing is written
    // when it is exceeded.
    let forty: Vec<Tag> = (0..40).map(|i| tag(&format!("k{i}"), "v")).collect();
    r.client.tag_resource(tag_with(&arn, forty)).await.unwrap();
    let twenty_more: Vec<Tag> = (40..60).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_error(
        r.client.tag_resource(tag_with(&arn, twenty_more)).await,
        Code::InvalidArgument,
        "InvalidTagsToAddException",
    );
    assert_eq!(list(&mut r, &arn).await.len(), 40);
}
