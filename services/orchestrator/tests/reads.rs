//! The read side of DeploymentService on both back ends: GetDeployment, BatchGetDeployments,
//! ListDeployments, the deployment-target reads and WatchDeployment, over rows written the way
//! CreateDeployment writes them (`rows::insert`) and changed with plain updates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_orchestrator::deployments::outbox::Outbox;
use ferry_orchestrator::deployments::rows::{self, NewTarget};
use ferry_orchestrator::deployments::stored::{self, StoredDiagnostics};
use ferry_orchestrator::deployments::{read, watch};
use ferry_orchestrator::events::EventLog;
use ferry_orchestrator::store::entities::{deployment, deployment_target, lifecycle_event};
use ferry_orchestrator::store::{self, Pools};
use ferry_proto::common::v1::{
    ComputePlatform, DeploymentStatus, Diagnostics, FileExistsBehavior, GitLocation,
    LifecycleErrorCode, LifecycleEventStatus, RevisionLocation, RevisionLocationType,
};
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::*;
use ferry_proto::registry::v1::{
    Alarm, AlarmConfiguration, AutoRollbackConfiguration, AutoRollbackEvent, DeploymentOption,
    DeploymentStyle, DeploymentType,
};
use ferry_runtime::error::{Exception, error_exception};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

const EVENTS: &[&str] = &["ApplicationStop", "DownloadBundle", "Install"];
/// How long a test waits for something that should happen at once.
const DEADLINE: Duration = Duration::from_secs(10);

struct Env {
    pools: Pools,
    events: EventLog,
}

async fn env(url: &str) -> Env {
    let pools = store::connect(url).await.unwrap();
    let events = EventLog::new(pools.clone());
    Env { pools, events }
}

fn git(commit: &str) -> RevisionLocation {
    RevisionLocation {
        revision_type: RevisionLocationType::Git as i32,
        git_location: Some(GitLocation {
            url: "https://git.example.com/shop.git".into(),
            commit_id: commit.into(),
        }),
        ..Default::default()
    }
}

/// A deployment id from a short suffix: `id("1")` is `d-000000001`.
fn id(suffix: &str) -> String {
    format!("d-{suffix:0>9}")
}

fn row(id: &str, group: &str, create_time: i64, status: DeploymentStatus) -> deployment::Model {
    deployment::Model {
        id: id.to_owned(),
        application_name: "shop".into(),
        deployment_group_name: group.into(),
        deployment_group_id: format!("g-{group}"),
        active_group_id: None,
        deployment_config_name: "CodeDeployDefault.OneAtATime".into(),
        health_rule: r#"{"type":"MOST_CONCURRENCY","value":1}"#.into(),
        revision: ferry_proto::revision_json::to_json(&git("abc123")),
        revision_sha256: None,
        revision_size: None,
        bundle_type: None,
        app_spec_file_name: None,
        previous_revision: None,
        status: stored::name(status),
        error_code: None,
        error_message: None,
        creator: stored::name(DeploymentCreator::User),
        description: String::new(),
        ignore_application_stop_failures: false,
        update_outdated_instances_only: false,
        file_exists_behavior: stored::name(FileExistsBehavior::Disallow),
        auto_rollback_configuration: None,
        override_alarm_configuration: None,
        rollback_deployment_id: None,
        rollback_triggering_deployment_id: None,
        rollback_message: None,
        status_messages: stored::status_messages_json(&[]),
        create_time,
        start_time: None,
        complete_time: None,
        event_timeouts: None,
        trigger_configurations: None,
        trace_context: None,
        traffic_control: None,
    }
}

/// Stores `row` with `targets` (in start order) as CreateDeployment does.
async fn insert(env: &Env, row: deployment::Model, targets: &[&str]) {
    let targets: Vec<NewTarget> = targets
        .iter()
        .map(|t| NewTarget {
            id: (*t).to_owned(),
            arn: format!("arn:ferry:instance/{t}"),
        })
        .collect();
    let txn = env.pools.write.begin().await.unwrap();
    // Written, but nothing to deliver: no watcher, agent or driver runs in these tests.
    let mut out = Outbox::default();
    rows::insert(&txn, &mut out, row, &targets, EVENTS)
        .await
        .unwrap();
    out.flush(&txn).await.unwrap();
    txn.commit().await.unwrap();
}

async fn set_target_status(env: &Env, deployment_id: &str, target: &str, status: TargetStatus) {
    deployment_target::Entity::update_many()
        .col_expr(
            deployment_target::Column::Status,
            Expr::value(stored::name(status)),
        )
        .filter(deployment_target::Column::DeploymentId.eq(deployment_id))
        .filter(deployment_target::Column::TargetId.eq(target))
        .exec(&env.pools.write)
        .await
        .unwrap();
}

/// Ends the deployment as the driver does: its row and the event, in one transaction.
async fn finish(env: &Env, deployment_id: &str, status: DeploymentStatus) -> u64 {
    let txn = env.pools.write.begin().await.unwrap();
    deployment::Entity::update_many()
        .col_expr(
            deployment::Column::Status,
            Expr::value(stored::name(status)),
        )
        .col_expr(deployment::Column::CompleteTime, Expr::value(9_000_000i64))
        .filter(deployment::Column::Id.eq(deployment_id))
        .exec(&txn)
        .await
        .unwrap();
    let sequence = EventLog::append_in(&txn, deployment_id, status_event(status))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    env.events.announce();
    sequence
}

fn status_event(status: DeploymentStatus) -> Event {
    Event::DeploymentStatusChanged(DeploymentStatusChanged {
        status: status as i32,
        ..Default::default()
    })
}

fn output(line: &str) -> Event {
    Event::HookOutput(HookOutput {
        target_id: "web-1".into(),
        lifecycle_event_name: "ApplicationStop".into(),
        script: "stop.sh".into(),
        lines: vec![OutputLine {
            text: line.into(),
            ..Default::default()
        }],
        dropped: 0,
    })
}

#[track_caller]
fn assert_exception<T: std::fmt::Debug>(result: Result<T, Status>, expected: Exception) {
    let status = result.expect_err("the call should fail");
    assert_eq!(error_exception(&status), Some(expected), "{status:?}");
}

/// A time `micros` after the epoch, as a protobuf Timestamp.
fn at_micros<T: From<SystemTime>>(micros: u64) -> Option<T> {
    Some(T::from(UNIX_EPOCH + Duration::from_micros(micros)))
}

// ---------------------------------------------------------------------------------------------
// GetDeployment

async fn get_deployment_checks_the_id_and_answers_every_stored_field(url: &str) {
    let env = env(url).await;
    let get = |deployment_id: &str| {
        read::get_deployment(
            &env.pools,
            &env.events,
            GetDeploymentRequest {
                deployment_id: deployment_id.into(),
            },
        )
    };
    assert_exception(get("").await, Exception::DeploymentIdRequired);
    assert_exception(get("d-abc").await, Exception::InvalidDeploymentId);
    assert_exception(get("d-abcdefghi").await, Exception::InvalidDeploymentId);
    assert_exception(get(&id("404")).await, Exception::DeploymentDoesNotExist);

    let auto_rollback = AutoRollbackConfiguration {
        enabled: true,
        events: vec![AutoRollbackEvent::DeploymentFailure as i32],
    };
    let alarms = AlarmConfiguration {
        enabled: true,
        ignore_poll_alarm_failure: false,
        alarms: vec![Alarm {
            name: "errors".into(),
        }],
    };
    let deployment_id = id("1");
    let mut full = row(&deployment_id, "web", 1_000_000, DeploymentStatus::Failed);
    full.previous_revision = Some(ferry_proto::revision_json::to_json(&git("old")));
    full.error_code = Some(stored::name(ErrorCode::HookExecutionFailure));
    full.error_message = Some("web-2 failed".into());
    full.creator = stored::name(DeploymentCreator::CodeDeployRollback);
    full.description = "release 7".into();
    full.ignore_application_stop_failures = true;
    full.update_outdated_instances_only = true;
    full.file_exists_behavior = stored::name(FileExistsBehavior::Overwrite);
    full.auto_rollback_configuration = Some(stored::auto_rollback_json(&auto_rollback));
    full.override_alarm_configuration = Some(stored::alarms_json(&alarms));
    full.rollback_triggering_deployment_id = Some(id("9"));
    full.status_messages = stored::status_messages_json(&["web-2 failed".to_owned()]);
    full.start_time = Some(2_000_000);
    full.complete_time = Some(3_500_000);
    full.traffic_control = Some(true);
    insert(&env, full, &["web-1", "web-2", "web-3"]).await;
    set_target_status(&env, &deployment_id, "web-1", TargetStatus::Succeeded).await;
    set_target_status(&env, &deployment_id, "web-2", TargetStatus::Failed).await;

    let answer = get(&deployment_id).await.unwrap();
    assert_eq!(
        answer.sequence,
        env.events.last_sequence(&deployment_id).await.unwrap()
    );
    assert!(answer.sequence > 0);
    let expected = DeploymentInfo {
        application_name: "shop".into(),
        deployment_group_name: "web".into(),
        deployment_config_name: "CodeDeployDefault.OneAtATime".into(),
        deployment_id: deployment_id.clone(),
        previous_revision: Some(git("old")),
        revision: Some(git("abc123")),
        status: DeploymentStatus::Failed as i32,
        error_information: Some(ErrorInformation {
            code: ErrorCode::HookExecutionFailure as i32,
            message: "web-2 failed".into(),
        }),
        create_time: at_micros(1_000_000),
        start_time: at_micros(2_000_000),
        complete_time: at_micros(3_500_000),
        deployment_overview: Some(DeploymentOverview {
            pending: 1,
            succeeded: 1,
            failed: 1,
            ..Default::default()
        }),
        description: "release 7".into(),
        creator: DeploymentCreator::CodeDeployRollback as i32,
        ignore_application_stop_failures: true,
        auto_rollback_configuration: Some(auto_rollback),
        update_outdated_instances_only: true,
        rollback_info: Some(RollbackInfo {
            rollback_triggering_deployment_id: id("9"),
            ..Default::default()
        }),
        deployment_style: Some(DeploymentStyle {
            deployment_type: DeploymentType::InPlace as i32,
            deployment_option: DeploymentOption::WithTrafficControl as i32,
        }),
        file_exists_behavior: FileExistsBehavior::Overwrite as i32,
        deployment_status_messages: vec!["web-2 failed".into()],
        compute_platform: ComputePlatform::Server as i32,
        override_alarm_configuration: Some(alarms),
        ..Default::default()
    };
    assert_eq!(answer.deployment_info, Some(expected));

    // A plain deployment: nothing optional is made up.
    insert(
        &env,
        row(&id("2"), "web", 5, DeploymentStatus::Created),
        &[],
    )
    .await;
    let plain = get(&id("2")).await.unwrap().deployment_info.unwrap();
    assert_eq!(plain.error_information, None);
    assert_eq!(plain.rollback_info, None);
    assert_eq!(plain.previous_revision, None);
    assert_eq!(plain.start_time, None);
    assert_eq!(plain.auto_rollback_configuration, None);
    assert_eq!(plain.override_alarm_configuration, None);
    assert_eq!(
        plain.deployment_style.unwrap().deployment_option,
        DeploymentOption::WithoutTrafficControl as i32
    );
    assert_eq!(
        plain.deployment_overview,
        Some(DeploymentOverview::default())
    );
}

// ---------------------------------------------------------------------------------------------
// BatchGetDeployments

async fn batch_get_deployments_answers_in_request_order(url: &str) {
    let env = env(url).await;
    for (n, targets) in [("1", &["a"][..]), ("2", &["a", "b"]), ("3", &[])] {
        insert(
            &env,
            row(&id(n), "web", 1, DeploymentStatus::Created),
            targets,
        )
        .await;
    }
    let batch = |ids: Vec<String>| {
        read::batch_get_deployments(
            &env.pools,
            BatchGetDeploymentsRequest {
                deployment_ids: ids,
            },
        )
    };
    let answer = batch(vec![id("3"), id("404"), id("2"), id("3"), id("1")])
        .await
        .unwrap();
    let found: Vec<(&str, i64)> = answer
        .deployments_info
        .iter()
        .map(|d| {
            (
                d.deployment_id.as_str(),
                d.deployment_overview.unwrap().pending,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (id("3").as_str(), 0),
            (id("2").as_str(), 2),
            (id("1").as_str(), 1)
        ]
    );
    assert!(
        batch(vec![id("404")])
            .await
            .unwrap()
            .deployments_info
            .is_empty()
    );
    assert_exception(batch(vec![]).await, Exception::DeploymentIdRequired);
    assert_exception(
        batch(vec![id("1"), "d-1".into()]).await,
        Exception::InvalidDeploymentId,
    );
    assert_exception(
        batch((0..26).map(|n| id(&n.to_string())).collect()).await,
        Exception::BatchLimitExceeded,
    );
    assert_eq!(
        batch((0..25).map(|n| id(&n.to_string())).collect())
            .await
            .unwrap()
            .deployments_info
            .len(),
        3
    );
}

// ---------------------------------------------------------------------------------------------
// ListDeployments

async fn list(
    env: &Env,
    request: ListDeploymentsRequest,
) -> Result<ListDeploymentsResponse, Status> {
    read::list_deployments(&env.pools, request).await
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| id(n)).collect()
}

async fn list_deployments_filters_and_pages(url: &str) {
    let env = env(url).await;
    use DeploymentStatus::{Failed, InProgress, Stopped, Succeeded};
    // Two share a create time: the id breaks the tie (descending too).
    let web = [
        ("1", 100, Succeeded),
        ("2", 200, Failed),
        ("3", 300, Succeeded),
        ("4", 300, Stopped),
        ("5", 500, InProgress),
    ];
    for (n, time, status) in web {
        insert(&env, row(&id(n), "web", time, status), &[]).await;
    }
    insert(&env, row(&id("6"), "api", 400, Succeeded), &[]).await;
    let group = |app: &str, group: &str| ListDeploymentsRequest {
        application_name: app.into(),
        deployment_group_name: group.into(),
        ..Default::default()
    };

    assert_exception(
        list(&env, group("shop", "")).await,
        Exception::DeploymentGroupNameRequired,
    );
    assert_exception(
        list(&env, group("", "web")).await,
        Exception::ApplicationNameRequired,
    );
    assert_exception(
        list(&env, group(&"a".repeat(101), "web")).await,
        Exception::InvalidApplicationName,
    );

    let all = list(&env, group("", "")).await.unwrap();
    assert_eq!(all.deployments, ids(&["5", "6", "4", "3", "2", "1"]));
    assert!(all.next_token.is_empty());
    let web_only = list(&env, group("shop", "web")).await.unwrap();
    assert_eq!(web_only.deployments, ids(&["5", "4", "3", "2", "1"]));
    assert!(
        list(&env, group("shop", "nope"))
            .await
            .unwrap()
            .deployments
            .is_empty()
    );

    let succeeded = ListDeploymentsRequest {
        include_only_statuses: vec![Succeeded as i32, Stopped as i32, Succeeded as i32],
        ..group("shop", "web")
    };
    assert_eq!(
        list(&env, succeeded).await.unwrap().deployments,
        ids(&["4", "3", "1"])
    );
    assert_exception(
        list(
            &env,
            ListDeploymentsRequest {
                include_only_statuses: vec![DeploymentStatus::Unspecified as i32],
                ..Default::default()
            },
        )
        .await,
        Exception::InvalidDeploymentStatus,
    );

    // Both ends are inclusive; an open end is open.
    let range = |start: Option<u64>, end: Option<u64>| ListDeploymentsRequest {
        create_time_range: Some(TimeRange {
            start: start.and_then(at_micros),
            end: end.and_then(at_micros),
        }),
        ..Default::default()
    };
    assert_eq!(
        list(&env, range(Some(200), Some(400)))
            .await
            .unwrap()
            .deployments,
        ids(&["6", "4", "3", "2"])
    );
    assert_eq!(
        list(&env, range(Some(400), None))
            .await
            .unwrap()
            .deployments,
        ids(&["5", "6"])
    );
    assert_eq!(
        list(&env, range(None, Some(100)))
            .await
            .unwrap()
            .deployments,
        ids(&["1"])
    );
    assert_exception(
        list(&env, range(Some(300), Some(200))).await,
        Exception::InvalidTimeRange,
    );

    // ferry never sets external_id.
    let external = ListDeploymentsRequest {
        external_id: "stack-1".into(),
        ..Default::default()
    };
    assert!(list(&env, external).await.unwrap().deployments.is_empty());

    // Pages of two, newest first, each deployment once.
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &env,
            ListDeploymentsRequest {
                page_size: 2,
                next_token: token,
                ..group("shop", "web")
            },
        )
        .await
        .unwrap();
        pages.push(page.deployments);
        token = page.next_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, vec![ids(&["5", "4"]), ids(&["3", "2"]), ids(&["1"])]);
    // A deployment created after the first page was served does not disturb the next pages.
    let first = list(
        &env,
        ListDeploymentsRequest {
            page_size: 2,
            ..group("shop", "web")
        },
    )
    .await
    .unwrap();
    insert(&env, row(&id("7"), "web", 999, Succeeded), &[]).await;
    let second = list(
        &env,
        ListDeploymentsRequest {
            page_size: 2,
            next_token: first.next_token.clone(),
            ..group("shop", "web")
        },
    )
    .await
    .unwrap();
    assert_eq!(second.deployments, ids(&["3", "2"]));

    // A token only continues the listing that made it.
    for other in [
        group("", ""),
        group("shop", "api"),
        ListDeploymentsRequest {
            include_only_statuses: vec![Succeeded as i32],
            ..group("shop", "web")
        },
    ] {
        let request = ListDeploymentsRequest {
            next_token: first.next_token.clone(),
            ..other
        };
        assert_exception(list(&env, request).await, Exception::InvalidNextToken);
    }
    let garbage = ListDeploymentsRequest {
        next_token: "not-a-token".into(),
        ..Default::default()
    };
    assert_exception(list(&env, garbage).await, Exception::InvalidNextToken);
    let too_big = ListDeploymentsRequest {
        page_size: 1001,
        ..Default::default()
    };
    assert_exception(list(&env, too_big).await, Exception::InvalidInput);
}

// ---------------------------------------------------------------------------------------------
// Deployment targets

async fn deployment_targets_get_batch_and_list(url: &str) {
    let env = env(url).await;
    let d = id("1");
    // Start order is not name order: listings follow the start order.
    insert(
        &env,
        row(&d, "web", 1, DeploymentStatus::InProgress),
        &["web-3", "web-1", "web-5", "web-2", "web-4"],
    )
    .await;
    set_target_status(&env, &d, "web-1", TargetStatus::Succeeded).await;
    set_target_status(&env, &d, "web-5", TargetStatus::Failed).await;
    set_target_status(&env, &d, "web-4", TargetStatus::Failed).await;
    let diagnostics = StoredDiagnostics {
        error_code: "ScriptFailed".into(),
        script_name: "stop.sh".into(),
        message: "exit status 3".into(),
        log_tail: "boom".into(),
    };
    lifecycle_event::Entity::update_many()
        .col_expr(
            lifecycle_event::Column::Status,
            Expr::value(stored::name(LifecycleEventStatus::Failed)),
        )
        .col_expr(lifecycle_event::Column::StartTime, Expr::value(10i64))
        .col_expr(lifecycle_event::Column::EndTime, Expr::value(20i64))
        .col_expr(
            lifecycle_event::Column::Diagnostics,
            Expr::value(diagnostics.to_json()),
        )
        .filter(lifecycle_event::Column::DeploymentId.eq(&d))
        .filter(lifecycle_event::Column::TargetId.eq("web-5"))
        .filter(lifecycle_event::Column::Ordinal.eq(0))
        .exec(&env.pools.write)
        .await
        .unwrap();

    let get = |deployment_id: &str, target_id: &str| {
        read::get_deployment_target(
            &env.pools,
            GetDeploymentTargetRequest {
                deployment_id: deployment_id.into(),
                target_id: target_id.into(),
            },
        )
    };
    let target = get(&d, "web-5").await.unwrap().deployment_target.unwrap();
    assert_eq!(
        target.deployment_target_type,
        DeploymentTargetType::InstanceTarget as i32
    );
    let instance = target.instance_target.unwrap();
    assert_eq!(instance.deployment_id, d);
    assert_eq!(instance.target_id, "web-5");
    assert_eq!(instance.target_arn, "arn:ferry:instance/web-5");
    assert_eq!(instance.status, TargetStatus::Failed as i32);
    assert!(instance.last_updated_at.is_some());
    assert_eq!(instance.instance_label, TargetLabel::Unspecified as i32);
    let names: Vec<&str> = instance
        .lifecycle_events
        .iter()
        .map(|e| e.lifecycle_event_name.as_str())
        .collect();
    assert_eq!(names, EVENTS);
    assert_eq!(
        instance.lifecycle_events[0],
        LifecycleEvent {
            lifecycle_event_name: "ApplicationStop".into(),
            diagnostics: Some(Diagnostics {
                error_code: LifecycleErrorCode::ScriptFailed as i32,
                script_name: "stop.sh".into(),
                message: "exit status 3".into(),
                log_tail: "boom".into(),
            }),
            start_time: at_micros(10),
            end_time: at_micros(20),
            status: LifecycleEventStatus::Failed as i32,
        }
    );
    assert_eq!(
        instance.lifecycle_events[1].status,
        LifecycleEventStatus::Pending as i32
    );
    assert_eq!(instance.lifecycle_events[1].diagnostics, None);

    assert_exception(get("", "web-1").await, Exception::DeploymentIdRequired);
    assert_exception(get("d-1", "web-1").await, Exception::InvalidDeploymentId);
    assert_exception(
        get(&id("404"), "web-1").await,
        Exception::DeploymentDoesNotExist,
    );
    assert_exception(get(&d, "").await, Exception::DeploymentTargetIdRequired);
    assert_exception(
        get(&d, "web-9").await,
        Exception::DeploymentTargetDoesNotExist,
    );

    let batch = |deployment_id: &str, target_ids: &[&str]| {
        read::batch_get_deployment_targets(
            &env.pools,
            BatchGetDeploymentTargetsRequest {
                deployment_id: deployment_id.into(),
                target_ids: target_ids.iter().map(|t| (*t).to_owned()).collect(),
            },
        )
    };
    let answer = batch(&d, &["web-4", "web-1", "web-4"]).await.unwrap();
    let found: Vec<(String, i32, usize)> = answer
        .deployment_targets
        .into_iter()
        .map(|t| {
            let i = t.instance_target.unwrap();
            (i.target_id, i.status, i.lifecycle_events.len())
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("web-4".into(), TargetStatus::Failed as i32, EVENTS.len()),
            ("web-1".into(), TargetStatus::Succeeded as i32, EVENTS.len()),
        ]
    );
    assert_exception(batch(&d, &[]).await, Exception::DeploymentTargetIdRequired);
    assert_exception(
        batch(&d, &["web-1", "web-9"]).await,
        Exception::DeploymentTargetDoesNotExist,
    );
    assert_exception(
        batch(&d, &["web-1"; 26]).await,
        Exception::DeploymentTargetListSizeExceeded,
    );
    assert_exception(
        batch(&id("404"), &["web-1"]).await,
        Exception::DeploymentDoesNotExist,
    );
    assert_exception(batch("", &["web-1"]).await, Exception::DeploymentIdRequired);

    let list = |filters: Option<TargetFilters>, page_size: i32, next_token: String| {
        read::list_deployment_targets(
            &env.pools,
            ListDeploymentTargetsRequest {
                deployment_id: d.clone(),
                next_token,
                target_filters: filters,
                page_size,
            },
        )
    };
    let all = list(None, 0, String::new()).await.unwrap();
    assert_eq!(
        all.target_ids,
        vec!["web-3", "web-1", "web-5", "web-2", "web-4"]
    );
    assert!(all.next_token.is_empty());
    let failed = TargetFilters {
        target_status: vec![TargetStatus::Failed as i32, TargetStatus::Succeeded as i32],
        server_instance_label: vec![],
    };
    let first = list(Some(failed.clone()), 2, String::new()).await.unwrap();
    assert_eq!(first.target_ids, vec!["web-1", "web-5"]);
    let second = list(Some(failed.clone()), 2, first.next_token.clone())
        .await
        .unwrap();
    assert_eq!(second.target_ids, vec!["web-4"]);
    assert!(second.next_token.is_empty());
    // The token of the filtered listing is not one of the unfiltered listing.
    assert_exception(
        list(None, 2, first.next_token.clone()).await,
        Exception::InvalidNextToken,
    );
    // In-place targets carry no blue/green label.
    let blue = TargetFilters {
        target_status: vec![],
        server_instance_label: vec![TargetLabel::Blue as i32],
    };
    assert!(
        list(Some(blue), 0, String::new())
            .await
            .unwrap()
            .target_ids
            .is_empty()
    );
    let bad_status = TargetFilters {
        target_status: vec![42],
        server_instance_label: vec![],
    };
    assert_exception(
        list(Some(bad_status), 0, String::new()).await,
        Exception::InvalidInstanceStatus,
    );
    let missing = read::list_deployment_targets(
        &env.pools,
        ListDeploymentTargetsRequest {
            deployment_id: id("404"),
            ..Default::default()
        },
    )
    .await;
    assert_exception(missing, Exception::DeploymentDoesNotExist);
}

// ---------------------------------------------------------------------------------------------
// WatchDeployment

type Events = ReceiverStream<Result<WatchDeploymentResponse, Status>>;

async fn watch_from(env: &Env, deployment_id: &str, from: u64, exclude_output: bool) -> Events {
    watch::watch(
        env.pools.clone(),
        env.events.clone(),
        WatchDeploymentRequest {
            deployment_id: deployment_id.into(),
            from_sequence: from,
            exclude_output,
        },
    )
    .await
    .unwrap()
}

/// The next event, waiting at most [`DEADLINE`].
async fn next(stream: &mut Events) -> WatchDeploymentResponse {
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("an event within the deadline")
        .expect("the stream goes on")
        .unwrap()
}

/// The stream ends (OK) within [`DEADLINE`].
async fn assert_ends(stream: &mut Events) {
    let end = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("the stream ends within the deadline");
    assert!(end.is_none(), "{end:?}");
}

async fn watch_replays_resumes_and_follows_until_the_end(url: &str) {
    let env = env(url).await;
    let d = id("1");
    insert(
        &env,
        row(&d, "web", 1, DeploymentStatus::Created),
        &["web-1", "web-2"],
    )
    .await;
    let stored = env.events.read_after(&d, 0, true, 100).await.unwrap();
    assert_eq!(stored.len(), 3, "Created and a Pending per target");

    // From 0: every stored event, in order.
    let mut from_start = watch_from(&env, &d, 0, false).await;
    for expected in &stored {
        assert_eq!(&next(&mut from_start).await, expected);
    }
    // Resuming after the first: the rest, nothing repeated.
    let mut resumed = watch_from(&env, &d, stored[0].sequence, false).await;
    for expected in &stored[1..] {
        assert_eq!(&next(&mut resumed).await, expected);
    }

    // Appended after both watches started: both get it.
    let in_progress = env
        .events
        .append(&d, status_event(DeploymentStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(next(&mut from_start).await.sequence, in_progress);
    assert_eq!(next(&mut resumed).await.sequence, in_progress);

    // GetDeployment's sequence continues where its snapshot ends.
    let snapshot = read::get_deployment(
        &env.pools,
        &env.events,
        GetDeploymentRequest {
            deployment_id: d.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(snapshot.sequence, in_progress);
    let mut after_get = watch_from(&env, &d, snapshot.sequence, false).await;

    // The terminal status change is the last event: every stream ends after it.
    let line = env.events.append(&d, output("stopping")).await.unwrap();
    let succeeded = finish(&env, &d, DeploymentStatus::Succeeded).await;
    for stream in [&mut from_start, &mut resumed, &mut after_get] {
        assert_eq!(next(stream).await.sequence, line);
        let last = next(stream).await;
        assert_eq!(last.sequence, succeeded);
        assert!(matches!(
            last.event,
            Some(Event::DeploymentStatusChanged(DeploymentStatusChanged { status, .. }))
                if status == DeploymentStatus::Succeeded as i32
        ));
        assert_ends(stream).await;
    }
}

async fn watch_leaves_out_hook_output_when_asked(url: &str) {
    let env = env(url).await;
    let d = id("1");
    insert(
        &env,
        row(&d, "web", 1, DeploymentStatus::Created),
        &["web-1"],
    )
    .await;
    env.events.append(&d, output("one")).await.unwrap();
    let mut without = watch_from(&env, &d, 0, true).await;
    let mut with = watch_from(&env, &d, 0, false).await;
    let kinds = |events: &[WatchDeploymentResponse]| -> Vec<&'static str> {
        events
            .iter()
            .map(|e| ferry_orchestrator::events::kind(e.event.as_ref().unwrap()))
            .collect()
    };
    let mut seen_with = Vec::new();
    for _ in 0..3 {
        seen_with.push(next(&mut with).await);
    }
    assert_eq!(
        kinds(&seen_with),
        [
            "deployment_status_changed",
            "target_status_changed",
            "hook_output"
        ]
    );
    let mut seen_without = Vec::new();
    for _ in 0..2 {
        seen_without.push(next(&mut without).await);
    }
    assert_eq!(
        kinds(&seen_without),
        ["deployment_status_changed", "target_status_changed"]
    );
    // Output appended while watching is left out too; the next status change is not.
    env.events.append(&d, output("two")).await.unwrap();
    let failed = finish(&env, &d, DeploymentStatus::Failed).await;
    assert_eq!(next(&mut without).await.sequence, failed);
    assert_ends(&mut without).await;
    assert!(matches!(
        next(&mut with).await.event,
        Some(Event::HookOutput(_))
    ));
    assert_eq!(next(&mut with).await.sequence, failed);
    assert_ends(&mut with).await;
}

async fn watch_of_a_finished_deployment_replays_and_ends(url: &str) {
    let env = env(url).await;
    let d = id("1");
    insert(
        &env,
        row(&d, "web", 1, DeploymentStatus::Created),
        &["web-1"],
    )
    .await;
    let stopped = finish(&env, &d, DeploymentStatus::Stopped).await;
    let mut stream = watch_from(&env, &d, 0, false).await;
    let mut sequences = Vec::new();
    for _ in 0..3 {
        sequences.push(next(&mut stream).await.sequence);
    }
    assert_eq!(sequences.last(), Some(&stopped));
    assert_ends(&mut stream).await;
    // Resuming after the end: nothing left to send, and the stream ends at once.
    let mut after_end = watch_from(&env, &d, stopped, false).await;
    assert_ends(&mut after_end).await;
}

/// More events than one read of the log and the stream's buffer hold: read page by page, sent
/// as the client takes them, in order.
async fn watch_pages_through_a_long_log(url: &str) {
    let env = env(url).await;
    let d = id("1");
    insert(&env, row(&d, "web", 1, DeploymentStatus::Created), &[]).await;
    let txn = env.pools.write.begin().await.unwrap();
    for n in 0..600 {
        EventLog::append_in(&txn, &d, output(&format!("line {n}")))
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let succeeded = finish(&env, &d, DeploymentStatus::Succeeded).await;
    let mut stream = watch_from(&env, &d, 0, false).await;
    let mut sequences = Vec::new();
    for _ in 0..602 {
        sequences.push(next(&mut stream).await.sequence);
    }
    assert!(sequences.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(sequences.last(), Some(&succeeded));
    assert_ends(&mut stream).await;
}

async fn watch_checks_the_deployment(url: &str) {
    let env = env(url).await;
    for (deployment_id, exception) in [
        (String::new(), Exception::DeploymentIdRequired),
        ("d-nope".to_owned(), Exception::InvalidDeploymentId),
        (id("404"), Exception::DeploymentDoesNotExist),
    ] {
        let answer = watch::watch(
            env.pools.clone(),
            env.events.clone(),
            WatchDeploymentRequest {
                deployment_id,
                ..Default::default()
            },
        )
        .await;
        assert_exception(answer, exception);
    }
}

/// Another process's append is not announced here: the periodic re-read finds it.
async fn watch_polls_for_events_it_was_not_told_about(url: &str) {
    let env = env(url).await;
    let d = id("1");
    insert(&env, row(&d, "web", 1, DeploymentStatus::Created), &[]).await;
    let mut stream = watch_from(&env, &d, 0, false).await;
    let created = next(&mut stream).await.sequence;
    let unannounced = EventLog::append_in(
        &env.pools.write,
        &d,
        status_event(DeploymentStatus::InProgress),
    )
    .await
    .unwrap();
    assert!(unannounced > created);
    assert_eq!(next(&mut stream).await.sequence, unannounced);
}

// ---------------------------------------------------------------------------------------------
// Every suite on both back ends.

macro_rules! on_both_back_ends {
    ($($suite:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $suite() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}?mode=rwc", dir.path().join("o.sqlite").display());
                    super::$suite(&url).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $suite() {
                    super::$suite(&ferry_store::testing::fresh_postgres().await).await;
                }
            )+
        }
    };
}

on_both_back_ends!(
    get_deployment_checks_the_id_and_answers_every_stored_field,
    batch_get_deployments_answers_in_request_order,
    list_deployments_filters_and_pages,
    deployment_targets_get_batch_and_list,
    watch_replays_resumes_and_follows_until_the_end,
    watch_leaves_out_hook_output_when_asked,
    watch_of_a_finished_deployment_replays_and_ends,
    watch_pages_through_a_long_log,
    watch_checks_the_deployment,
    watch_polls_for_events_it_was_not_told_about,
);
