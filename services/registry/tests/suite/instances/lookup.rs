//! GetOnPremisesInstance, BatchGetOnPremisesInstances and ListOnPremisesInstances.

use ferry_proto::common::v1::{TagFilter, TagFilterType};
use ferry_proto::registry::v1::*;
use tonic::Code;

use super::{Client, add, deregister, get, register, tag};
use crate::backend_tests;
use crate::support::{Backend, TestRegistry, assert_error};

backend_tests!(
    get_and_batch_get,
    list_by_registration_status,
    list_with_tag_filters,
    list_pagination_is_scoped_to_its_filters,
);

fn filter(key: &str, value: &str, kind: TagFilterType) -> TagFilter {
    TagFilter {
        key: key.into(),
        value: value.into(),
        r#type: kind as i32,
    }
}

fn listing(status: RegistrationStatus, filters: &[TagFilter]) -> ListOnPremisesInstancesRequest {
    ListOnPremisesInstancesRequest {
        registration_status: status as i32,
        tag_filters: filters.to_vec(),
        ..Default::default()
    }
}

/// Every name of a listing, page by page (two names a page, so paging is always exercised).
async fn list_all(
    client: &mut Client,
    status: RegistrationStatus,
    filters: &[TagFilter],
) -> Vec<String> {
    let mut names = Vec::new();
    let mut req = ListOnPremisesInstancesRequest {
        page_size: 2,
        ..listing(status, filters)
    };
    loop {
        let page = client
            .list_on_premises_instances(req.clone())
            .await
            .unwrap()
            .into_inner();
        names.extend(page.instance_names);
        if page.next_token.is_empty() {
            return names;
        }
        req.next_token = page.next_token;
    }
}
async fn get_and_batch_get(backend: Backend) {
    let mut r = TestRegistry::start(backend).await;
    for name in ["a", "b", "c"] {
        register(&mut r.client, name).await;
    }
    r.client
        .deregister_on_premises_instance(deregister("b"))
        .await
        .unwrap();
    let batch = |names: &[&str]| BatchGetOnPremisesInstancesRequest {
        instance_names: names.iter().map(|n| n.to_string()).collect(),
    };
    let got = r
        .client
        .batch_get_on_premises_instances(batch(&["c", "missing", "b", "c"]))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = got
        .instance_infos
        .iter()
        .map(|i| i.instance_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["c", "b"],
        "asked order, missing names left out, each once"
    );
    assert!(got.instance_infos[1].deregister_time.is_some());
    assert_eq!(got.instance_infos[0], get(&mut r.client, "c").await);

    let none = r
        .client
        .batch_get_on_premises_instances(batch(&["x", "y"]))
        .await
        .unwrap()
        .into_inner();
    assert!(none.instance_infos.is_empty());
    let too_many: Vec<String> = (0..101).map(|i| format!("n{i}")).collect();
    let req = BatchGetOnPremisesInstancesRequest {
        instance_names: too_many,
    };
    assert_error(
        r.client.batch_get_on_premises_instances(req).await,
        Code::InvalidArgument,
        "BatchLimitExceededException",
    );
    assert_error(
        r.client.batch_get_on_premises_instances(batch(&[])).await,
        Code::InvalidArgument,
        "InstanceNameRequiredException",
    );
    assert_error(
        r.client
            .batch_get_on_premises_instances(batch(&["a", "b c"]))
            .await,
        Code::InvalidArgument,
        "InvalidInstanceNameException",
    );
    let get_req = |name: &str| GetOnPremisesInstanceRequest {
        instance_name: name.into(),
    };
    assert_error(
        r.client.get_on_premises_instance(get_req("")).await,
        Code::InvalidArgument,
        "InstanceNameRequiredException",
    );
    assert_error(
        r.client.get_on_premises_instance(get_req("a b")).await,
        Code::InvalidArgument,
        "InvalidInstanceNameException",
    );
    assert_error(
        r.client.get_on_premises_instance(get_req("zz")).await,
        Code::NotFound,
        "InstanceNotRegisteredException",
    );
}

async fn list_by_registration_status(backend: Backend) {
    use RegistrationStatus::*;
    let mut r = TestRegistry::start(backend).await;
    for name in ["c", "a", "e", "b", "d"] {
        register(&mut r.client, name).await;
    }
    for name in ["b", "e"] {
        r.client
            .deregister_on_premises_instance(deregister(name))
            .await
            .unwrap();
    }
    assert_eq!(
        list_all(&mut r.client, Unspecified, &[]).await,
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        list_all(&mut r.client, Registered, &[]).await,
        ["a", "c", "d"]
    );
    assert_eq!(list_all(&mut r.client, Deregistered, &[]).await, ["b", "e"]);
    let bad = ListOnPremisesInstancesRequest {
        registration_status: 7,
        ..Default::default()
    };
    assert_error(
        r.client.list_on_premises_instances(bad).await,
        Code::InvalidArgument,
        "InvalidRegistrationStatusException",
    );
}

async fn list_with_tag_filters(backend: Backend) {
    use RegistrationStatus::*;
    use TagFilterType as T;
    let mut r = TestRegistry::start(backend).await;
    let hosts = [
        ("web-1", vec![tag("env", "prod"), tag("role", "web")]),
        ("web-2", vec![tag("env", "test"), tag("role", "web")]),
        ("db-1", vec![tag("env", "prod"), tag("role", "db")]),
        ("old-web", vec![tag("env", "prod"), tag("role", "web")]),
        ("bare", vec![]),
    ];
    for (name, tags) in &hosts {
        register(&mut r.client, name).await;
        if !tags.is_empty() {
            r.client
                .add_tags_to_on_premises_instances(add(&[name], tags))
                .await
                .unwrap();
        }
    }
    r.client
        .deregister_on_premises_instance(deregister("old-web"))
        .await
        .unwrap();

    let prod = filter("env", "prod", T::KeyAndValue);
    let web = filter("role", "web", T::KeyAndValue);
    assert_eq!(
        list_all(&mut r.client, Unspecified, std::slice::from_ref(&prod)).await,
        ["db-1", "old-web", "web-1"]
    );
    assert_eq!(
        list_all(&mut r.client, Unspecified, &[prod.clone(), web.clone()]).await,
        ["old-web", "web-1"],
        "every filter must match"
    );
    assert_eq!(
        list_all(&mut r.client, Registered, &[prod, web]).await,
        ["web-1"]
    );
    assert_eq!(
        list_all(
            &mut r.client,
            Unspecified,
            &[filter("role", "", T::KeyOnly)]
        )
        .await,
        ["db-1", "old-web", "web-1", "web-2"]
    );
    assert_eq!(
        list_all(
            &mut r.client,
            Registered,
            &[filter("", "test", T::ValueOnly)]
        )
        .await,
        ["web-2"]
    );
    assert!(
        list_all(
            &mut r.client,
            Unspecified,
            &[filter("env", "web", T::KeyAndValue)]
        )
        .await
        .is_empty()
    );

    for bad in [
        filter("env", "prod", T::Unspecified),
        TagFilter {
            r#type: 42,
            ..filter("env", "prod", T::KeyOnly)
        },
        filter("", "prod", T::KeyOnly),
        filter("env", "", T::ValueOnly),
        filter("", "prod", T::KeyAndValue),
    ] {
        let req = listing(Unspecified, &[bad]);
        assert_error(
            r.client.list_on_premises_instances(req).await,
            Code::InvalidArgument,
            "InvalidTagFilterException",
        );
    }
}

async fn list_pagination_is_scoped_to_its_filters(backend: Backend) {
    use RegistrationStatus::*;
    let mut r = TestRegistry::start(backend).await;
    for i in 0..5 {
        let name = format!("host-{i}");
        register(&mut r.client, &name).await;
        r.client
            .add_tags_to_on_premises_instances(add(&[&name], &[tag("env", "prod")]))
            .await
            .unwrap();
    }
    let prod = [filter("env", "", TagFilterType::KeyOnly)];
    let first_page = ListOnPremisesInstancesRequest {
        page_size: 2,
        ..listing(Unspecified, &prod)
    };
    let first = r
        .client
        .list_on_premises_instances(first_page.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.instance_names, ["host-0", "host-1"]);

    // Instances registered before and after the cursor: none seen twice, none after it missed.
    for name in ["host-00", "host-9"] {
        register(&mut r.client, name).await;
        r.client
            .add_tags_to_on_premises_instances(add(&[name], &[tag("env", "prod")]))
            .await
            .unwrap();
    }
    let mut seen = first.instance_names.clone();
    let mut token = first.next_token.clone();
    while !token.is_empty() {
        let req = ListOnPremisesInstancesRequest {
            next_token: token,
            ..first_page.clone()
        };
        let page = r
            .client
            .list_on_premises_instances(req)
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.instance_names);
        token = page.next_token;
    }
    assert_eq!(
        seen,
        ["host-0", "host-1", "host-2", "host-3", "host-4", "host-9"]
    );

    // The token belongs to its listing: other filters or another status reject it.
    let elsewhere = [
        listing(Unspecified, &[]),
        listing(Registered, &prod),
        listing(
            Unspecified,
            &[
                filter("env", "", TagFilterType::KeyOnly),
                filter("x", "", TagFilterType::KeyOnly),
            ],
        ),
    ];
    for req in elsewhere {
        let req = ListOnPremisesInstancesRequest {
            next_token: first.next_token.clone(),
            ..req
        };
        assert_error(
            r.client.list_on_premises_instances(req).await,
            Code::InvalidArgument,
            "InvalidNextTokenException",
        );
    }
    let garbage = ListOnPremisesInstancesRequest {
        next_token: "garbage".into(),
        ..Default::default()
    };
    assert_error(
        r.client.list_on_premises_instances(garbage).await,
        Code::InvalidArgument,
        "InvalidNextTokenException",
    );
    let bad_size = ListOnPremisesInstancesRequest {
        page_size: 1001,
        ..Default::default()
    };
    assert_error(
        r.client.list_on_premises_instances(bad_size).await,
        Code::InvalidArgument,
        "InvalidInputException",
    );
}
