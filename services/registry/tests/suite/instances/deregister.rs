//! DeregisterOnPremisesInstance, and registering a deregistered name again.

use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{add, auth, deregister, get, register, tag};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error, error_reason};

backend_tests!(
    deregister_keeps_the_record_and_revokes_the_credential,
    registering_a_deregistered_name_starts_afresh,
);

async fn deregister_keeps_the_record_and_revokes_the_credential(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let credential = register(&mut r.client, "host-1").await;
    r.client
        .add_tags_to_on_premises_instances(add(&["host-1"], &[tag("env", "prod")]))
        .await
        .unwrap();
    r.client
        .deregister_on_premises_instance(deregister("host-1"))
        .await
        .unwrap();

    let info = get(&mut r.client, "host-1").await;
    let deregistered_at = info.deregister_time.expect("deregister time set");
    assert_eq!(
        info.tags,
        [tag("env", "prod")],
        "tags stay, as in CodeDeploy"
    );
    let status = r
        .client
        .authenticate_on_premises_instance(auth("host-1", &credential))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("InstanceNotRegisteredException")
    );
    assert!(status.message().contains("deregistered"), "{status:?}");

    // Again, or for a name never registered: nothing happens, as the model lists no error.
    r.client
        .deregister_on_premises_instance(deregister("host-1"))
        .await
        .unwrap();
    assert_eq!(
        get(&mut r.client, "host-1").await.deregister_time,
        Some(deregistered_at)
    );
    r.client
        .deregister_on_premises_instance(deregister("ghost"))
        .await
        .unwrap();
    assert_error(
        r.client
            .get_on_premises_instance(GetOnPremisesInstanceRequest {
                instance_name: "ghost".into(),
            })
            .await,
        Code::NotFound,
        "InstanceNotRegisteredException",
    );
    assert_error(
        r.client
            .deregister_on_premises_instance(deregister(""))
            .await,
        Code::InvalidArgument,
        "InstanceNameRequiredException",
    );
    assert_error(
        r.client
            .deregister_on_premises_instance(deregister("a b"))
            .await,
        Code::InvalidArgument,
        "InvalidInstanceNameException",
    );
}

async fn registering_a_deregistered_name_starts_afresh(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    let old = register(&mut r.client, "host-1").await;
    r.client
        .add_tags_to_on_premises_instances(add(&["host-1"], &[tag("env", "prod")]))
        .await
        .unwrap();
    let first = get(&mut r.client, "host-1").await;
    r.client
        .deregister_on_premises_instance(deregister("host-1"))
        .await
        .unwrap();

    let new = register(&mut r.client, "host-1").await;
    assert_ne!(new, old);
    let info = get(&mut r.client, "host-1").await;
    assert!(
        info.deregister_time.is_none() && info.tags.is_empty(),
        "{info:?}"
    );
    let seconds = |info: &InstanceInfo| info.register_time.map(|t| (t.seconds, t.nanos));
    assert!(seconds(&info) >= seconds(&first));
    r.client
        .authenticate_on_premises_instance(auth("host-1", &new))
        .await
        .unwrap();
    let status = r
        .client
        .authenticate_on_premises_instance(auth("host-1", &old))
        .await
        .unwrap_err();
    assert_eq!(status.message(), "instance name or credential is not valid");
}
