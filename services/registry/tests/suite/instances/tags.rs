//! AddTagsToOnPremisesInstances and RemoveTagsFromOnPremisesInstances.

use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{Client, add, get, register, tag};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error};

backend_tests!(
    add_replace_and_remove,
    add_rejects_bad_input_and_writes_nothing,
    remove_rejects_bad_input_and_removes_nothing,
    a_deregistered_instances_tags_cannot_change,
);

fn remove(names: &[&str], tags: &[Tag]) -> RemoveTagsFromOnPremisesInstancesRequest {
    RemoveTagsFromOnPremisesInstancesRequest {
        tags: tags.to_vec(),
        instance_names: names.iter().map(|n| n.to_string()).collect(),
    }
}

async fn tags_of(client: &mut Client, name: &str) -> Vec<Tag> {
    get(client, name).await.tags
}

async fn add_replace_and_remove(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    register(&mut r.client, "a").await;
    register(&mut r.client, "b").await;
    let both = ["a", "b"];
    r.client
        .add_tags_to_on_premises_instances(add(&both, &[tag("role", "web"), tag("env", "prod")]))
        .await
        .unwrap();
    assert_eq!(
        tags_of(&mut r.client, "a").await,
        [tag("env", "prod"), tag("role", "web")],
        "sorted by key"
    );

    // An existing key gets the new value; other keys stay. Empty values are values.
    r.client
        .add_tags_to_on_premises_instances(add(&["a", "a"], &[tag("env", "test"), tag("zone", "")]))
        .await
        .unwrap();
    assert_eq!(
        tags_of(&mut r.client, "a").await,
        [tag("env", "test"), tag("role", "web"), tag("zone", "")]
    );
    assert_eq!(
        tags_of(&mut r.client, "b").await,
        [tag("env", "prod"), tag("role", "web")]
    );

    // Removing matches key and value: b's env=prod goes, a's env=test stays; a tag nobody
    // has is no error.
    let gone = [
        tag("env", "prod"),
        tag("role", "web"),
        tag("never", "there"),
    ];
    r.client
        .remove_tags_from_on_premises_instances(remove(&both, &gone))
        .await
        .unwrap();
    assert_eq!(
        tags_of(&mut r.client, "a").await,
        [tag("env", "test"), tag("zone", "")]
    );
    assert!(tags_of(&mut r.client, "b").await.is_empty());
    r.client
        .remove_tags_from_on_premises_instances(remove(&["a"], &[tag("zone", ""), tag("zone", "")]))
        .await
        .unwrap();
    assert_eq!(tags_of(&mut r.client, "a").await, [tag("env", "test")]);

    // Up to the limit is fine.
    let fifty: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    r.client
        .add_tags_to_on_premises_instances(add(&["b"], &fifty))
        .await
        .unwrap();
    assert_eq!(tags_of(&mut r.client, "b").await, fifty);
}

async fn add_rejects_bad_input_and_writes_nothing(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    register(&mut r.client, "full").await;
    register(&mut r.client, "empty").await;
    let forty: Vec<Tag> = (0..40).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    r.client
        .add_tags_to_on_premises_instances(add(&["full"], &forty))
        .await
        .unwrap();

    let eleven: Vec<Tag> = (0..11).map(|i| tag(&format!("new{i:02}"), "v")).collect();
    let fifty_one: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    let too_many_names: Vec<String> = (0..101).map(|i| format!("h{i}")).collect();
    let cases = [
        (add(&["empty"], &[]), "TagRequiredException"),
        (add(&[], &[tag("k", "v")]), "InstanceNameRequiredException"),
        (
            add(&["empty", "a b"], &[tag("k", "v")]),
            "InvalidInstanceNameException",
        ),
        (
            AddTagsToOnPremisesInstancesRequest {
                instance_names: too_many_names,
                tags: vec![tag("k", "v")],
            },
            "InstanceLimitExceededException",
        ),
        (add(&["empty"], &fifty_one), "TagLimitExceededException"),
        (
            add(&["empty", "full"], &eleven),
            "TagLimitExceededException",
        ),
        (add(&["empty"], &[tag("", "v")]), "InvalidTagException"),
        (
            add(&["empty"], &[tag(&"k".repeat(129), "v")]),
            "InvalidTagException",
        ),
        (
            add(&["empty"], &[tag("k", &"v".repeat(257))]),
            "InvalidTagException",
        ),
        (
            add(&["empty"], &[tag("k", "1"), tag("k", "2")]),
            "InvalidTagException",
        ),
    ];
    for (req, reason) in cases {
        assert_error(
            r.client.add_tags_to_on_premises_instances(req).await,
            Code::InvalidArgument,
            reason,
        );
    }
    let unknown = add(&["empty", "ghost"], &[tag("k", "v")]);
    assert_error(
        r.client.add_tags_to_on_premises_instances(unknown).await,
        Code::NotFound,
        "InstanceNotRegisteredException",
    );

    // None of the failed calls left anything behind, on any of their instances.
    assert!(tags_of(&mut r.client, "empty").await.is_empty());
    assert_eq!(tags_of(&mut r.client, "full").await, forty);
}

async fn remove_rejects_bad_input_and_removes_nothing(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    register(&mut r.client, "a").await;
    r.client
        .add_tags_to_on_premises_instances(add(&["a"], &[tag("k", "v")]))
        .await
        .unwrap();
    let fifty_one: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    let too_many_names: Vec<String> = (0..101).map(|i| format!("h{i}")).collect();
    let cases = [
        (remove(&["a"], &[]), "TagRequiredException"),
        (
            remove(&[], &[tag("k", "v")]),
            "InstanceNameRequiredException",
        ),
        (
            remove(&["a b"], &[tag("k", "v")]),
            "InvalidInstanceNameException",
        ),
        (
            RemoveTagsFromOnPremisesInstancesRequest {
                instance_names: too_many_names,
                tags: vec![tag("k", "v")],
            },
            "InstanceLimitExceededException",
        ),
        (remove(&["a"], &fifty_one), "TagLimitExceededException"),
        (remove(&["a"], &[tag("", "v")]), "InvalidTagException"),
    ];
    for (req, reason) in cases {
        assert_error(
            r.client.remove_tags_from_on_premises_instances(req).await,
            Code::InvalidArgument,
            reason,
        );
    }
    let unknown = remove(&["a", "ghost"], &[tag("k", "v")]);
    assert_error(
        r.client
            .remove_tags_from_on_premises_instances(unknown)
            .await,
        Code::NotFound,
        "InstanceNotRegisteredException",
    );
    assert_eq!(tags_of(&mut r.client, "a").await, [tag("k", "v")]);
}

async fn a_deregistered_instances_tags_cannot_change(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    register(&mut r.client, "live").await;
    register(&mut r.client, "gone").await;
    r.client
        .add_tags_to_on_premises_instances(add(&["live", "gone"], &[tag("env", "prod")]))
        .await
        .unwrap();
    let req = DeregisterOnPremisesInstanceRequest {
        instance_name: "gone".into(),
    };
    r.client.deregister_on_premises_instance(req).await.unwrap();

    let both = ["live", "gone"];
    assert_error(
        r.client
            .add_tags_to_on_premises_instances(add(&both, &[tag("x", "y")]))
            .await,
        Code::NotFound,
        "InstanceNotRegisteredException",
    );
    assert_error(
        r.client
            .remove_tags_from_on_premises_instances(remove(&both, &[tag("env", "prod")]))
            .await,
        Code::NotFound,
        "InstanceNotRegisteredException",
    );
    assert_eq!(tags_of(&mut r.client, "live").await, [tag("env", "prod")]);
    assert_eq!(tags_of(&mut r.client, "gone").await, [tag("env", "prod")]);
}
