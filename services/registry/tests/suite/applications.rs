use ferry_proto::common::v1::{ComputePlatform, Tag};
use ferry_proto::registry::v1::*;
use tonic::Code;

use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error};

backend_tests!(
    create_get_and_list,
    create_rejects_bad_input,
    duplicate_name_is_already_exists,
    concurrent_creates_of_one_name_let_exactly_one_win,
    batch_get_keeps_order_and_fails_on_a_missing_name,
    pagination_is_stable_while_rows_are_added,
    rename_and_its_errors,
    delete_removes_groups_and_is_idempotent,
    survives_a_restart,
);

fn create(name: &str) -> CreateApplicationRequest {
    CreateApplicationRequest {
        application_name: name.into(),
        ..Default::default()
    }
}

async fn create_get_and_list(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let id = r
        .client
        .create_application(CreateApplicationRequest {
            application_name: "web".into(),
            compute_platform: ComputePlatform::Lambda as i32,
            tags: vec![Tag {
                key: "team".into(),
                value: "edge".into(),
            }],
        })
        .await
        .unwrap()
        .into_inner()
        .application_id;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id} is a uuid");

    let app = r
        .client
        .get_application(GetApplicationRequest {
            application_name: "web".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(app.application_id, id);
    assert_eq!(app.application_name, "web");
    assert_eq!(app.compute_platform, ComputePlatform::Lambda as i32);
    assert!(app.create_time.is_some());

    r.client.create_application(create("api")).await.unwrap();
    let list = r
        .client
        .list_applications(ListApplicationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.applications, vec!["api", "web"]);
    assert!(list.next_token.is_empty());

    // Unspecified compute platform means Server.
    let api = r
        .client
        .get_application(GetApplicationRequest {
            application_name: "api".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        api.into_inner().application.unwrap().compute_platform,
        ComputePlatform::Server as i32
    );
}

async fn create_rejects_bad_input(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    assert_error(
        r.client.create_application(create("")).await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
    assert_error(
        r.client.create_application(create(&"a".repeat(101))).await,
        Code::InvalidArgument,
        "InvalidApplicationNameException",
    );
    assert_error(
        r.client.create_application(create("has space")).await,
        Code::InvalidArgument,
        "InvalidApplicationNameException",
    );
    let bad_platform = CreateApplicationRequest {
        compute_platform: 42,
        ..create("x")
    };
    assert_error(
        r.client.create_application(bad_platform).await,
        Code::InvalidArgument,
        "InvalidComputePlatformException",
    );
    let bad_tags = CreateApplicationRequest {
        tags: vec![Tag {
            key: String::new(),
            value: "v".into(),
        }],
        ..create("x")
    };
    assert_error(
        r.client.create_application(bad_tags).await,
        Code::InvalidArgument,
        "InvalidTagsToAddException",
    );
    assert_error(
        r.client
            .get_application(GetApplicationRequest {
                application_name: "nope".into(),
            })
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    // Nothing was half-written by the failures.
    let list = r
        .client
        .list_applications(ListApplicationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.applications.is_empty());
}

async fn duplicate_name_is_already_exists(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client.create_application(create("web")).await.unwrap();
    assert_error(
        r.client.create_application(create("web")).await,
        Code::AlreadyExists,
        "ApplicationAlreadyExistsException",
    );
}

async fn concurrent_creates_of_one_name_let_exactly_one_win(backend: Backend) {
    let r = TestRegistry::start(backend).await;
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = r.another_client().await;
        calls.push(tokio::spawn(async move {
            client.create_application(create("race")).await
        }));
    }
    let mut won = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                assert_eq!(
                    crate::support::error_reason(&status).as_deref(),
                    Some("ApplicationAlreadyExistsException")
                );
            }
        }
    }
    assert_eq!(won, 1);
}

async fn batch_get_keeps_order_and_fails_on_a_missing_name(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    for name in ["a", "b", "c"] {
        r.client.create_application(create(name)).await.unwrap();
    }
    let got = r
        .client
        .batch_get_applications(BatchGetApplicationsRequest {
            application_names: vec!["c".into(), "a".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = got
        .applications_info
        .iter()
        .map(|a| a.application_name.as_str())
        .collect();
    assert_eq!(names, ["c", "a"]);
    assert_error(
        r.client
            .batch_get_applications(BatchGetApplicationsRequest {
                application_names: vec!["a".into(), "zz".into()],
            })
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    let too_many = (0..101).map(|i| format!("n{i}")).collect();
    assert_error(
        r.client
            .batch_get_applications(BatchGetApplicationsRequest {
                application_names: too_many,
            })
            .await,
        Code::InvalidArgument,
        "BatchLimitExceededException",
    );
    assert_error(
        r.client
            .batch_get_applications(BatchGetApplicationsRequest {
                application_names: vec![],
            })
            .await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
}

async fn pagination_is_stable_while_rows_are_added(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    for i in 0..5 {
        r.client
            .create_application(create(&format!("app-{i}")))
            .await
            .unwrap();
    }
    let page = |token: String| ListApplicationsRequest {
        next_token: token,
        page_size: 2,
    };
    let first = r
        .client
        .list_applications(page(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.applications, ["app-0", "app-1"]);
    // Rows added before and after the cursor: nothing seen twice, nothing after it skipped.
    r.client.create_application(create("app-00")).await.unwrap();
    r.client.create_application(create("app-9")).await.unwrap();
    let mut seen = first.applications.clone();
    let mut token = first.next_token;
    while !token.is_empty() {
        let next = r
            .client
            .list_applications(page(token))
            .await
            .unwrap()
            .into_inner();
        seen.extend(next.applications);
        token = next.next_token;
    }
    assert_eq!(seen, ["app-0", "app-1", "app-2", "app-3", "app-4", "app-9"]);

    assert_error(
        r.client.list_applications(page("garbage".into())).await,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );
    assert_error(
        r.client
            .list_applications(ListApplicationsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
}

async fn rename_and_its_errors(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let id = r
        .client
        .create_application(create("old"))
        .await
        .unwrap()
        .into_inner()
        .application_id;
    r.client.create_application(create("taken")).await.unwrap();
    let rename = |from: &str, to: &str| UpdateApplicationRequest {
        application_name: from.into(),
        new_application_name: to.into(),
    };

    r.client
        .update_application(rename("old", "new"))
        .await
        .unwrap();
    let app = r
        .client
        .get_application(GetApplicationRequest {
            application_name: "new".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        app.into_inner().application.unwrap().application_id,
        id,
        "a rename keeps the id"
    );
    assert_error(
        r.client
            .get_application(GetApplicationRequest {
                application_name: "old".into(),
            })
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    assert_error(
        r.client.update_application(rename("new", "taken")).await,
        Code::AlreadyExists,
        "ApplicationAlreadyExistsException",
    );
    assert_error(
        r.client.update_application(rename("ghost", "x")).await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    assert_error(
        r.client.update_application(rename("", "x")).await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
    assert_error(
        r.client.update_application(rename("new", "a b")).await,
        Code::InvalidArgument,
        "InvalidApplicationNameException",
    );
}

async fn delete_removes_groups_and_is_idempotent(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client.create_application(create("web")).await.unwrap();
    r.client
        .create_deployment_group(CreateDeploymentGroupRequest {
            application_name: "web".into(),
            deployment_group_name: "prod".into(),
            service_role_arn: "arn:ferry:iam::000000000000:role/deployer".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    r.client
        .delete_application(DeleteApplicationRequest {
            application_name: "web".into(),
        })
        .await
        .unwrap();
    assert_error(
        r.client
            .get_application(GetApplicationRequest {
                application_name: "web".into(),
            })
            .await,
        Code::NotFound,
        "ApplicationDoesNotExistException",
    );
    // A new application of the same name starts with no groups.
    r.client.create_application(create("web")).await.unwrap();
    let groups = r
        .client
        .list_deployment_groups(ListDeploymentGroupsRequest {
            application_name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(groups.deployment_groups.is_empty());
    // Deleting what does not exist succeeds, as in CodeDeploy.
    r.client
        .delete_application(DeleteApplicationRequest {
            application_name: "ghost".into(),
        })
        .await
        .unwrap();
    assert_error(
        r.client
            .delete_application(DeleteApplicationRequest {
                application_name: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "ApplicationNameRequiredException",
    );
}

async fn survives_a_restart(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    r.client.create_application(create("kept")).await.unwrap();
    let mut again = r.restart().await;
    let app = again
        .client
        .get_application(GetApplicationRequest {
            application_name: "kept".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        app.into_inner().application.unwrap().application_name,
        "kept"
    );
}
