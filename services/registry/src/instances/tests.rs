//! [`registered_matching`] against a real database, on SQLite and PostgreSQL (the gRPC suite
//! reaches it only through ListDeploymentGroupInstances).

use ferry_proto::common::v1::{Tag, TagFilter, TagFilterType};
use ferry_proto::registry::v1 as pb;

use super::registered_matching;
use crate::tag_filters::InstanceSelector;
use crate::{Registry, RegistryConfig};

/// A registry on a fresh SQLite file, or on a fresh PostgreSQL database.
async fn open(postgres: bool) -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RegistryConfig {
        data_dir: dir.path().to_owned(),
        ..RegistryConfig::default()
    };
    if postgres {
        config.database_url = Some(ferry_store::testing::fresh_postgres().await);
    }
    (Registry::open(&config).await.unwrap(), dir)
}

fn filter(key: &str, value: &str, kind: TagFilterType) -> TagFilter {
    TagFilter {
        key: key.into(),
        value: value.into(),
        r#type: kind as i32,
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

async fn register(registry: &Registry, name: &str, tags: &[Tag]) {
    let req = pb::RegisterOnPremisesInstanceRequest {
        instance_name: name.into(),
        ..Default::default()
    };
    registry.register_on_premises_instance(req).await.unwrap();
    if !tags.is_empty() {
        let req = pb::AddTagsToOnPremisesInstancesRequest {
            tags: tags.to_vec(),
            instance_names: vec![name.into()],
        };
        registry
            .add_tags_to_on_premises_instances(req)
            .await
            .unwrap();
    }
}

async fn selects_registered_instances_by_tags(postgres: bool) {
    let (registry, _dir) = open(postgres).await;
    // Registered out of order: the result is sorted by name all the same.
    register(
        &registry,
        "web-2",
        &[tag("role", "web"), tag("env", "prod")],
    )
    .await;
    register(&registry, "db-1", &[tag("env", "prod"), tag("role", "db")]).await;
    register(
        &registry,
        "web-1",
        &[tag("role", "web"), tag("env", "test")],
    )
    .await;
    register(&registry, "gone", &[tag("role", "web"), tag("env", "prod")]).await;
    register(&registry, "bare", &[]).await;
    let req = pb::DeregisterOnPremisesInstanceRequest {
        instance_name: "gone".into(),
    };
    registry.deregister_on_premises_instance(req).await.unwrap();

    let names = |infos: &[pb::InstanceInfo]| {
        infos
            .iter()
            .map(|i| i.instance_name.clone())
            .collect::<Vec<_>>()
    };
    let web = InstanceSelector::AnyOf(vec![filter("role", "web", TagFilterType::KeyAndValue)]);
    let got = registered_matching(&registry.db, &registry.arns, &web)
        .await
        .unwrap();
    assert_eq!(
        names(&got),
        ["web-1", "web-2"],
        "deregistered instances are never selected"
    );
    assert_eq!(
        got[1].tags,
        [tag("env", "prod"), tag("role", "web")],
        "with every tag, by key"
    );
    assert_eq!(got[1].instance_arn, registry.arns.instance("web-2"));
    assert!(got[1].deregister_time.is_none());

    let prod_any_role = InstanceSelector::AllGroups(vec![
        vec![filter("", "prod", TagFilterType::ValueOnly)],
        vec![
            filter("role", "db", TagFilterType::KeyAndValue),
            filter("role", "web", TagFilterType::KeyAndValue),
        ],
    ]);
    let got = registered_matching(&registry.db, &registry.arns, &prod_any_role)
        .await
        .unwrap();
    assert_eq!(names(&got), ["db-1", "web-2"]);

    let any_role = InstanceSelector::AnyOf(vec![filter("role", "", TagFilterType::KeyOnly)]);
    let got = registered_matching(&registry.db, &registry.arns, &any_role)
        .await
        .unwrap();
    assert_eq!(names(&got), ["db-1", "web-1", "web-2"]);

    let nothing = InstanceSelector::AnyOf(vec![]);
    assert!(
        registered_matching(&registry.db, &registry.arns, &nothing)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn registered_matching_on_sqlite() {
    selects_registered_instances_by_tags(false).await;
}

#[tokio::test]
async fn registered_matching_on_postgres() {
    selects_registered_instances_by_tags(true).await;
}
