//! The orchestrator's schema on both back ends: migrations apply, and the database itself
//! allows one active deployment per deployment group, however two requests race.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_orchestrator::store::{self, entities::deployment};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};

fn deployment(id: &str, active_group: Option<&str>) -> deployment::Model {
    deployment::Model {
        id: id.to_owned(),
        application_name: "shop".into(),
        deployment_group_name: "web".into(),
        deployment_group_id: "g-1".into(),
        active_group_id: active_group.map(str::to_owned),
        deployment_config_name: "CodeDeployDefault.OneAtATime".into(),
        health_rule: r#"{"type":"MOST_CONCURRENCY","value":1}"#.into(),
        revision: r#"{"revisionType":"S3"}"#.into(),
        revision_sha256: None,
        revision_size: None,
        bundle_type: None,
        app_spec_file_name: None,
        previous_revision: None,
        status: "Created".into(),
        error_code: None,
        error_message: None,
        creator: "user".into(),
        description: String::new(),
        ignore_application_stop_failures: false,
        update_outdated_instances_only: false,
        file_exists_behavior: "DISALLOW".into(),
        auto_rollback_configuration: None,
        override_alarm_configuration: None,
        rollback_deployment_id: None,
        rollback_triggering_deployment_id: None,
        rollback_message: None,
        status_messages: "[]".into(),
        create_time: 1,
        start_time: None,
        complete_time: None,
        event_timeouts: None,
        trigger_configurations: None,
        trace_context: None,
        traffic_control: None,
    }
}

async fn one_active_deployment_per_group(url: &str) {
    let pools = store::connect(url).await.unwrap();
    let db = &pools.write;
    deployment::Entity::insert(deployment("d-AAAAAAAA1", Some("g-1")).into_active_model())
        .exec(db)
        .await
        .unwrap();
    let second =
        deployment::Entity::insert(deployment("d-AAAAAAAA2", Some("g-1")).into_active_model())
            .exec(db)
            .await
            .unwrap_err();
    assert!(store::is_unique_violation(&second), "{second}");

    // Finished deployments release the group; any number of them may coexist.
    let mut first = deployment::Entity::find_by_id("d-AAAAAAAA1")
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    first.active_group_id = Set(None);
    first.status = Set("Succeeded".into());
    first.update(db).await.unwrap();
    for id in ["d-AAAAAAAA2", "d-AAAAAAAA3"] {
        let active = (id == "d-AAAAAAAA3").then_some("g-1");
        deployment::Entity::insert(deployment(id, active).into_active_model())
            .exec(db)
            .await
            .unwrap();
    }
    assert_eq!(deployment::Entity::find().all(db).await.unwrap().len(), 3);
    // Migrations are idempotent: a restart connects to the same database.
    store::connect(url).await.unwrap();
}

#[tokio::test]
async fn sqlite_allows_one_active_deployment_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let url = store::database_url(None, dir.path()).unwrap();
    one_active_deployment_per_group(&url).await;
}

#[tokio::test]
async fn postgres_allows_one_active_deployment_per_group() {
    let url = ferry_store::testing::fresh_postgres().await;
    one_active_deployment_per_group(&url).await;
}
