//! On-premises instances over gRPC: registration, its credential and authentication. The
//! submodules test deregistration, Get/BatchGet/List, and tag changes.

// The test bodies are plain async fns that `backend_tests!` wraps in #[tokio::test], so
// clippy's allow-unwrap-in-tests does not see them as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deregister;
mod lookup;
mod tags;

use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::*;
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::Code;
use tonic::transport::Channel;

use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error, error_reason};

backend_tests!(
    register_issues_a_credential_that_authenticates,
    only_the_credentials_hash_is_stored,
    register_rejects_bad_input_and_writes_nothing,
    names_and_iam_arns_are_registered_once,
    concurrent_registrations_of_one_name_let_exactly_one_win,
    concurrent_registrations_with_one_arn_let_exactly_one_win,
    a_credential_survives_a_restart,
);

pub type Client = RegistryServiceClient<Channel>;

pub fn reg(name: &str) -> RegisterOnPremisesInstanceRequest {
    RegisterOnPremisesInstanceRequest {
        instance_name: name.into(),
        ..Default::default()
    }
}

/// Registers an instance and returns its credential.
pub async fn register(client: &mut Client, name: &str) -> String {
    client
        .register_on_premises_instance(reg(name))
        .await
        .unwrap()
        .into_inner()
        .instance_credential
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

pub fn add(names: &[&str], tags: &[Tag]) -> AddTagsToOnPremisesInstancesRequest {
    AddTagsToOnPremisesInstancesRequest {
        tags: tags.to_vec(),
        instance_names: names.iter().map(|n| n.to_string()).collect(),
    }
}

pub async fn get(client: &mut Client, name: &str) -> InstanceInfo {
    let req = GetOnPremisesInstanceRequest {
        instance_name: name.into(),
    };
    client
        .get_on_premises_instance(req)
        .await
        .unwrap()
        .into_inner()
        .instance_info
        .unwrap()
}

pub fn auth(name: &str, credential: &str) -> AuthenticateOnPremisesInstanceRequest {
    AuthenticateOnPremisesInstanceRequest {
        instance_name: name.into(),
        instance_credential: credential.into(),
    }
}

pub fn deregister(name: &str) -> DeregisterOnPremisesInstanceRequest {
    DeregisterOnPremisesInstanceRequest {
        instance_name: name.into(),
    }
}
async fn register_issues_a_credential_that_authenticates(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let resp = r
        .client
        .register_on_premises_instance(reg("host-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        resp.instance_credential.starts_with("ferry_ic_"),
        "{}",
        resp.instance_credential
    );
    assert_eq!(
        resp.instance_arn,
        "arn:ferry:codedeploy:local:000000000000:instance/host-1"
    );

    let info = get(&mut r.client, "host-1").await;
    assert_eq!(info.instance_name, "host-1");
    assert_eq!(info.instance_arn, resp.instance_arn);
    assert!(info.register_time.is_some());
    assert!(info.deregister_time.is_none());
    assert!(
        info.tags.is_empty() && info.iam_user_arn.is_empty() && info.iam_session_arn.is_empty()
    );

    let ok = r
        .client
        .authenticate_on_premises_instance(auth("host-1", &resp.instance_credential))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().instance_info.unwrap(), info);

    // A wrong credential and an unknown instance get the same answer.
    let other = register(&mut r.client, "host-2").await;
    let wrong = r
        .client
        .authenticate_on_premises_instance(auth("host-1", &other))
        .await;
    let unknown = r
        .client
        .authenticate_on_premises_instance(auth("ghost", &other))
        .await;
    let empty = r
        .client
        .authenticate_on_premises_instance(auth("host-1", ""))
        .await;
    let (wrong, unknown, empty) = (wrong.unwrap_err(), unknown.unwrap_err(), empty.unwrap_err());
    for status in [&wrong, &unknown, &empty] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert_eq!(
            error_reason(status).as_deref(),
            Some("InstanceNotRegisteredException")
        );
        assert_eq!(status.message(), wrong.message());
    }
    assert_error(
        r.client
            .authenticate_on_premises_instance(auth("", &other))
            .await,
        Code::InvalidArgument,
        "InstanceNameRequiredException",
    );
    assert_error(
        r.client
            .authenticate_on_premises_instance(auth("a b", &other))
            .await,
        Code::InvalidArgument,
        "InvalidInstanceNameException",
    );

    // With an IAM ARN, which is stored and returned.
    let arn = "arn:aws:iam::123456789012:user/host-3";
    let req = RegisterOnPremisesInstanceRequest {
        iam_user_arn: arn.into(),
        ..reg("host-3")
    };
    r.client.register_on_premises_instance(req).await.unwrap();
    assert_eq!(get(&mut r.client, "host-3").await.iam_user_arn, arn);
    let arn = "arn:aws:sts::123456789012:assumed-role/CodeDeploy/host-4";
    let req = RegisterOnPremisesInstanceRequest {
        iam_session_arn: arn.into(),
        ..reg("host-4")
    };
    r.client.register_on_premises_instance(req).await.unwrap();
    assert_eq!(get(&mut r.client, "host-4").await.iam_session_arn, arn);
}

async fn only_the_credentials_hash_is_stored(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let credential = register(&mut r.client, "host-1").await;
    let random_part = credential.strip_prefix("ferry_ic_").unwrap().to_owned();

    // Not retrievable through the API...
    let info = get(&mut r.client, "host-1").await;
    let batch = BatchGetOnPremisesInstancesRequest {
        instance_names: vec!["host-1".into()],
    };
    let batch = r
        .client
        .batch_get_on_premises_instances(batch)
        .await
        .unwrap()
        .into_inner();
    let list = r
        .client
        .list_on_premises_instances(ListOnPremisesInstancesRequest::default())
        .await
        .unwrap();
    for shown in [
        format!("{info:?}"),
        format!("{batch:?}"),
        format!("{:?}", list.into_inner()),
    ] {
        assert!(!shown.contains(&random_part), "{shown}");
    }
    // ...nor stored: the row holds a hex sha256, not the credential.
    let url =
        r.config.database_url.clone().unwrap_or_else(|| {
            ferry_registry::store::database_url(None, &r.config.data_dir).unwrap()
        });
    let db = Database::connect(&url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT * FROM instances",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].try_get("", "credential_hash").unwrap();
    assert_eq!(stored.len(), 64);
    assert!(stored.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!format!("{:?}", rows[0]).contains(&random_part));
}

async fn register_rejects_bad_input_and_writes_nothing(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let with = |user: &str, session: &str| RegisterOnPremisesInstanceRequest {
        iam_user_arn: user.into(),
        iam_session_arn: session.into(),
        ..reg("host-1")
    };
    let cases = [
        (reg(""), "InstanceNameRequiredException"),
        (reg(&"h".repeat(101)), "InvalidInstanceNameException"),
        (reg("host/1"), "InvalidInstanceNameException"),
        (
            with("arn:aws:iam::1:user/u", "arn:aws:sts::1:assumed-role/r/s"),
            "MultipleIamArnsProvidedException",
        ),
        (with("host-1", ""), "InvalidIamUserArnException"),
        (
            with("arn:aws:iam::1:role/r", ""),
            "InvalidIamUserArnException",
        ),
        (
            with("", "arn:aws:iam::1:user/u"),
            "InvalidIamSessionArnException",
        ),
        (
            with("", "arn:aws:sts::1:assumed-role/no-session"),
            "InvalidIamSessionArnException",
        ),
    ];
    for (req, reason) in cases {
        assert_error(
            r.client.register_on_premises_instance(req).await,
            Code::InvalidArgument,
            reason,
        );
    }
    let list = r
        .client
        .list_on_premises_instances(ListOnPremisesInstancesRequest::default())
        .await
        .unwrap();
    assert!(list.into_inner().instance_names.is_empty());
}

async fn names_and_iam_arns_are_registered_once(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let user = "arn:aws:iam::123456789012:user/u";
    let session = "arn:aws:sts::123456789012:assumed-role/r/s";
    let as_user = |name: &str| RegisterOnPremisesInstanceRequest {
        iam_user_arn: user.into(),
        ..reg(name)
    };
    let as_session = |name: &str| RegisterOnPremisesInstanceRequest {
        iam_session_arn: session.into(),
        ..reg(name)
    };
    r.client
        .register_on_premises_instance(as_user("host-1"))
        .await
        .unwrap();
    r.client
        .register_on_premises_instance(as_session("host-2"))
        .await
        .unwrap();

    assert_error(
        r.client.register_on_premises_instance(reg("host-1")).await,
        Code::AlreadyExists,
        "InstanceNameAlreadyRegisteredException",
    );
    assert_error(
        r.client
            .register_on_premises_instance(as_user("host-3"))
            .await,
        Code::AlreadyExists,
        "IamUserArnAlreadyRegisteredException",
    );
    assert_error(
        r.client
            .register_on_premises_instance(as_session("host-3"))
            .await,
        Code::AlreadyExists,
        "IamSessionArnAlreadyRegisteredException",
    );

    // A deregistered instance keeps its ARN; registering its name again may reuse it.
    r.client
        .deregister_on_premises_instance(deregister("host-1"))
        .await
        .unwrap();
    assert_error(
        r.client
            .register_on_premises_instance(as_user("host-3"))
            .await,
        Code::AlreadyExists,
        "IamUserArnAlreadyRegisteredException",
    );
    r.client
        .register_on_premises_instance(as_user("host-1"))
        .await
        .unwrap();
    assert_eq!(get(&mut r.client, "host-1").await.iam_user_arn, user);
}

async fn concurrent_registrations_of_one_name_let_exactly_one_win(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = r.another_client().await;
        calls.push(tokio::spawn(async move {
            client.register_on_premises_instance(reg("race")).await
        }));
    }
    let mut winners = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(resp) => winners.push(resp.into_inner().instance_credential),
            Err(status) => {
                assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                assert_eq!(
                    error_reason(&status).as_deref(),
                    Some("InstanceNameAlreadyRegisteredException")
                );
            }
        }
    }
    assert_eq!(winners.len(), 1);
    r.client
        .authenticate_on_premises_instance(auth("race", &winners[0]))
        .await
        .expect("the winner's credential works");
}

async fn concurrent_registrations_with_one_arn_let_exactly_one_win(backend: Backend) {
    let r = TestRegistry::start(backend).await;
    let mut calls = Vec::new();
    for i in 0..8 {
        let mut client = r.another_client().await;
        let req = RegisterOnPremisesInstanceRequest {
            iam_session_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            ..reg(&format!("host-{i}"))
        };
        calls.push(tokio::spawn(async move {
            client.register_on_premises_instance(req).await
        }));
    }
    let mut won = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => assert_eq!(
                error_reason(&status).as_deref(),
                Some("IamSessionArnAlreadyRegisteredException")
            ),
        }
    }
    assert_eq!(won, 1);
}
async fn a_credential_survives_a_restart(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let credential = register(&mut r.client, "host-1").await;
    let mut again = r.restart().await;
    again
        .client
        .authenticate_on_premises_instance(auth("host-1", &credential))
        .await
        .unwrap();
}
