//! Deployments end to end in one process: registry, revisions and orchestrator serving on one
//! port, real agents on real connections with their own deployment roots, real hook scripts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ferry_proto::common::v1::{DeploymentStatus, LifecycleEventStatus, RevisionLocation};
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    CreateDeploymentRequest, DeploymentCreator, ErrorCode, GetDeploymentTargetRequest,
    InstanceTarget, StopDeploymentRequest, TargetStatus, WatchDeploymentRequest,
};
use ferry_proto::registry::v1::{AutoRollbackConfiguration, AutoRollbackEvent};
use ferry_runtime::error::error_reason;
use support::{APP, Cluster, TestAgent, WAIT, eventually};

const ALL_EVENTS: &[&str] = &[
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// A revision whose hooks print a line each. ValidateService fails on an instance whose
/// install root holds `fail`; AfterInstall waits while it holds `hold`; ApplicationStop fails
/// when the revision being replaced is one with `stop_fails`.
fn bundle(version: &str, stop_fails: bool) -> Vec<(String, String, u32)> {
    let appspec = [
        "version: 0.0",
        "os: linux",
        "files:",
        "  - source: app.txt",
        "    destination: /srv/app",
        "hooks:",
        "  ApplicationStop:",
        "    - location: scripts/stop.sh",
        "  BeforeInstall:",
        "    - location: scripts/hook.sh",
        "  AfterInstall:",
        "    - location: scripts/hold.sh",
        "      timeout: 120",
        "  ApplicationStart:",
        "    - location: scripts/hook.sh",
        "  ValidateService:",
        "    - location: scripts/validate.sh",
        "",
    ]
    .join("\n");
    let stop = if stop_fails {
        "#!/bin/sh\necho \"stopping and failing\"\nexit 3\n"
    } else {
        "#!/bin/sh\necho \"stopping $DEPLOYMENT_ID\"\n"
    };
    vec![
        ("appspec.yml".into(), appspec, 0o644),
        ("app.txt".into(), format!("{version}\n"), 0o644),
        ("scripts/stop.sh".into(), stop.into(), 0o755),
        (
            "scripts/hook.sh".into(),
            "#!/bin/sh\necho \"$LIFECYCLE_EVENT of $DEPLOYMENT_ID\"\n".into(),
            0o755,
        ),
        (
            "scripts/hold.sh".into(),
            "#!/bin/sh\necho \"holding on $FERRY_INSTALL_ROOT\"\n\
             while [ -e \"$FERRY_INSTALL_ROOT/hold\" ]; do sleep 0.05; done\necho released\n"
                .into(),
            0o755,
        ),
        (
            "scripts/validate.sh".into(),
            "#!/bin/sh\nif [ -e \"$FERRY_INSTALL_ROOT/fail\" ]; then echo \"unhealthy\" >&2; exit 1; fi\necho healthy\n"
                .into(),
            0o755,
        ),
    ]
}

async fn upload(cluster: &Cluster, version: &str, stop_fails: bool) -> RevisionLocation {
    let files = bundle(version, stop_fails);
    let refs: Vec<(&str, &str, u32)> = files
        .iter()
        .map(|(p, c, m)| (p.as_str(), c.as_str(), *m))
        .collect();
    cluster.upload(&refs).await
}

async fn agents(cluster: &Cluster, group: &str, count: usize) -> Vec<TestAgent> {
    let mut agents = Vec::new();
    for i in 1..=count {
        agents.push(cluster.agent(&format!("{group}-{i}"), group).await);
    }
    agents
}

fn mark(agent: &TestAgent, file: &str) {
    std::fs::create_dir_all(agent.install_root()).unwrap();
    std::fs::write(agent.install_root().join(file), "").unwrap();
}

fn unmark(agent: &TestAgent, file: &str) {
    std::fs::remove_file(agent.install_root().join(file)).unwrap();
}

fn installed(agent: &TestAgent) -> String {
    std::fs::read_to_string(agent.install_root().join("srv/app/app.txt")).unwrap_or_default()
}

async fn target(cluster: &Cluster, id: &str, target: &str) -> InstanceTarget {
    cluster
        .deployments
        .clone()
        .get_deployment_target(GetDeploymentTargetRequest {
            deployment_id: id.into(),
            target_id: target.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .deployment_target
        .unwrap()
        .instance_target
        .unwrap()
}

/// The most targets in progress at once, read from the deployment's event log.
fn observed_concurrency(events: &[ferry_proto::deploy::v1::WatchDeploymentResponse]) -> i32 {
    let (mut now, mut most) = (0, 0);
    for event in events {
        if let Some(Event::TargetStatusChanged(change)) = &event.event {
            match TargetStatus::try_from(change.status).unwrap() {
                TargetStatus::InProgress => now += 1,
                TargetStatus::Succeeded | TargetStatus::Failed => now -= 1,
                _ => {}
            }
            most = most.max(now);
        }
    }
    most
}

async fn deploys_five_targets(config: &str, concurrency: i32) {
    deploys_five_targets_on(Cluster::start().await, config, concurrency).await;
}

async fn deploys_five_targets_on(cluster: Cluster, config: &str, concurrency: i32) {
    cluster.group("web", config, vec![], None).await;
    let agents = agents(&cluster, "web", 5).await;
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Succeeded as i32, "{info:?}");
    assert_eq!(info.deployment_config_name, config);
    let overview = info.deployment_overview.unwrap();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (5, 0, 0)
    );
    assert_eq!(info.creator, DeploymentCreator::User as i32);
    assert!(info.start_time.is_some() && info.complete_time.is_some());
    for agent in &agents {
        assert_eq!(installed(agent), "v1\n", "{} was not installed", agent.name);
        let target = target(&cluster, &id, &agent.name).await;
        assert_eq!(target.status, TargetStatus::Succeeded as i32);
        let names: Vec<_> = target
            .lifecycle_events
            .iter()
            .map(|e| e.lifecycle_event_name.as_str())
            .collect();
        assert_eq!(names, ALL_EVENTS);
        assert!(
            target
                .lifecycle_events
                .iter()
                .all(|e| e.status == LifecycleEventStatus::Succeeded as i32)
        );
    }
    let events = cluster.events(&id, true).await;
    assert_eq!(observed_concurrency(&events), concurrency, "{config}");
}

#[tokio::test]
async fn all_at_once_deploys_five_targets_at_once() {
    deploys_five_targets("CodeDeployDefault.AllAtOnce", 5).await;
}

#[tokio::test]
async fn half_at_a_time_deploys_five_targets_two_at_a_time() {
    // FLEET_PERCENT 50 of 5: three must stay healthy, so two at a time.
    deploys_five_targets("CodeDeployDefault.HalfAtATime", 2).await;
}

#[tokio::test]
async fn one_at_a_time_deploys_five_targets_one_at_a_time() {
    deploys_five_targets("CodeDeployDefault.OneAtATime", 1).await;
}

#[tokio::test]
async fn half_at_a_time_deploys_five_targets_two_at_a_time_on_postgres() {
    let cluster = Cluster::start_on_postgres().await;
    deploys_five_targets_on(cluster, "CodeDeployDefault.HalfAtATime", 2).await;
}

#[tokio::test]
async fn half_at_a_time_fails_when_the_first_two_fail_and_skips_the_rest() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.HalfAtATime", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 5).await;
    mark(&agents[0], "fail");
    mark(&agents[1], "fail");
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    let error = info.error_information.unwrap();
    assert_eq!(error.code, ErrorCode::HealthConstraints as i32);
    let overview = info.deployment_overview.unwrap();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (0, 2, 3)
    );
    let failed = target(&cluster, &id, "web-1").await;
    let validate = failed
        .lifecycle_events
        .iter()
        .find(|e| e.lifecycle_event_name == "ValidateService")
        .unwrap();
    assert_eq!(validate.status, LifecycleEventStatus::Failed as i32);
    let diagnostics = validate.diagnostics.as_ref().unwrap();
    assert_eq!(diagnostics.script_name, "scripts/validate.sh");
    assert!(
        diagnostics.log_tail.contains("unhealthy"),
        "{diagnostics:?}"
    );
    let skipped = target(&cluster, &id, "web-5").await;
    assert_eq!(skipped.status, TargetStatus::Skipped as i32);
    assert!(
        skipped
            .lifecycle_events
            .iter()
            .all(|e| e.status == LifecycleEventStatus::Skipped as i32)
    );
    assert_eq!(
        installed(&agents[4]),
        "",
        "a skipped target was deployed to"
    );
}

#[tokio::test]
async fn one_at_a_time_fails_on_any_target_but_the_last() {
    let cluster = Cluster::start().await;
    cluster
        .group("first", "CodeDeployDefault.OneAtATime", vec![], None)
        .await;
    cluster
        .group("last", "CodeDeployDefault.OneAtATime", vec![], None)
        .await;
    let first = agents(&cluster, "first", 3).await;
    let last = agents(&cluster, "last", 3).await;
    mark(&first[0], "fail");
    mark(&last[2], "fail");
    let revision = upload(&cluster, "v1", false).await;

    let id = cluster.deploy("first", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    assert_eq!(
        info.error_information.unwrap().code,
        ErrorCode::HealthConstraints as i32
    );
    let overview = info.deployment_overview.unwrap();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (0, 1, 2)
    );

    // CodeDeploy: the deployment still succeeds when only the last instance fails.
    let id = cluster.deploy("last", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Succeeded as i32, "{info:?}");
    let overview = info.deployment_overview.unwrap();
    assert_eq!((overview.succeeded, overview.failed), (2, 1));
}

/// Waits until `target`'s AfterInstall (which holds while `hold` exists) is running.
async fn holding(cluster: &Cluster, id: &str, target_id: &str) {
    eventually("AfterInstall to be running", || async {
        target(cluster, id, target_id)
            .await
            .lifecycle_events
            .iter()
            .any(|e| {
                e.lifecycle_event_name == "AfterInstall"
                    && e.status == LifecycleEventStatus::InProgress as i32
            })
    })
    .await;
}

#[tokio::test]
async fn stop_without_rollback_fails_the_running_event_and_skips_the_rest() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.OneAtATime", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 2).await;
    mark(&agents[0], "hold");
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    holding(&cluster, &id, "web-1").await;
    let stopped = cluster
        .deployments
        .clone()
        .stop_deployment(StopDeploymentRequest {
            deployment_id: id.clone(),
            auto_rollback_enabled: Some(false),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stopped.status,
        ferry_proto::deploy::v1::StopStatus::Succeeded as i32
    );
    let info = cluster.get(&id).await;
    assert_eq!(info.status, DeploymentStatus::Stopped as i32);
    assert_eq!(
        info.error_information.unwrap().code,
        ErrorCode::ManualStop as i32
    );
    assert!(
        info.rollback_info
            .is_none_or(|r| r.rollback_deployment_id.is_empty())
    );
    let running = target(&cluster, &id, "web-1").await;
    assert_eq!(running.status, TargetStatus::Failed as i32);
    assert_eq!(
        target(&cluster, &id, "web-2").await.status,
        TargetStatus::Skipped as i32
    );
    // The agent was told to cancel: the hook's process group is killed, so the hold ends
    // without anyone removing the file, and the agent reports the command cancelled.
    let pools = cluster.orchestrator.context().pools.clone();
    eventually("the agent to report the held hook cancelled", || {
        let pools = pools.clone();
        let id = id.clone();
        async move {
            use ferry_orchestrator::store::entities::agent_command::{Column, Entity};
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            Entity::find()
                .filter(Column::DeploymentId.eq(id))
                .filter(Column::LifecycleEvent.eq("AfterInstall"))
                .one(&pools.read)
                .await
                .unwrap()
                .and_then(|c| c.result)
                .is_some_and(|r| r.contains("cancelled by the server"))
        }
    })
    .await;
    // A second stop: the deployment has completed.
    let again = cluster
        .deployments
        .clone()
        .stop_deployment(StopDeploymentRequest {
            deployment_id: id.clone(),
            auto_rollback_enabled: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        error_reason(&again).as_deref(),
        Some("DeploymentAlreadyCompletedException")
    );
}

#[tokio::test]
async fn stop_with_rollback_redeploys_the_last_good_revision() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 2).await;
    let v1 = upload(&cluster, "v1", false).await;
    let first = cluster.deploy("web", &v1).await;
    assert_eq!(
        cluster.finished(&first).await.status,
        DeploymentStatus::Succeeded as i32
    );
    mark(&agents[0], "hold");
    let v2 = upload(&cluster, "v2", false).await;
    let second = cluster.deploy("web", &v2).await;
    holding(&cluster, &second, "web-1").await;
    cluster
        .deployments
        .clone()
        .stop_deployment(StopDeploymentRequest {
            deployment_id: second.clone(),
            auto_rollback_enabled: Some(true),
        })
        .await
        .unwrap();
    unmark(&agents[0], "hold");
    let stopped = cluster.get(&second).await;
    assert_eq!(stopped.status, DeploymentStatus::Stopped as i32);
    let rollback_id = stopped.rollback_info.unwrap().rollback_deployment_id;
    assert!(!rollback_id.is_empty(), "no rollback was started");
    let rollback = cluster.finished(&rollback_id).await;
    assert_eq!(
        rollback.status,
        DeploymentStatus::Succeeded as i32,
        "{rollback:?}"
    );
    assert_eq!(
        rollback.creator,
        DeploymentCreator::CodeDeployRollback as i32
    );
    assert_eq!(
        rollback
            .rollback_info
            .unwrap()
            .rollback_triggering_deployment_id,
        second
    );
    assert_eq!(rollback.revision, Some(v1));
    for agent in &agents {
        assert_eq!(installed(agent), "v1\n");
    }
}

#[tokio::test]
async fn a_failed_deployment_rolls_back_automatically() {
    let cluster = Cluster::start().await;
    let on_failure = AutoRollbackConfiguration {
        enabled: true,
        events: vec![AutoRollbackEvent::DeploymentFailure as i32],
    };
    cluster
        .group(
            "web",
            "CodeDeployDefault.AllAtOnce",
            vec![],
            Some(on_failure),
        )
        .await;
    let agents = agents(&cluster, "web", 2).await;
    let v1 = upload(&cluster, "v1", false).await;
    let first = cluster.deploy("web", &v1).await;
    assert_eq!(
        cluster.finished(&first).await.status,
        DeploymentStatus::Succeeded as i32
    );
    for agent in &agents {
        mark(agent, "fail");
    }
    let v2 = upload(&cluster, "v2", false).await;
    let second = cluster.deploy("web", &v2).await;
    let failed = cluster.finished(&second).await;
    assert_eq!(failed.status, DeploymentStatus::Failed as i32);
    for agent in &agents {
        unmark(agent, "fail");
    }
    let rollback_id = failed.rollback_info.unwrap().rollback_deployment_id;
    assert!(!rollback_id.is_empty());
    let rollback = cluster.finished(&rollback_id).await;
    assert_eq!(
        rollback.status,
        DeploymentStatus::Succeeded as i32,
        "{rollback:?}"
    );
    assert_eq!(
        rollback.creator,
        DeploymentCreator::CodeDeployRollback as i32
    );
    for agent in &agents {
        assert_eq!(installed(agent), "v1\n");
    }
}

#[tokio::test]
async fn an_agent_that_dies_during_a_hook_fails_its_event_with_agent_issue() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 1).await;
    mark(&agents[0], "hold");
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    holding(&cluster, &id, "web-1").await;
    agents[0].stop();
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    let error = info.error_information.unwrap();
    assert_eq!(error.code, ErrorCode::AgentIssue as i32, "{error:?}");
    let target = target(&cluster, &id, "web-1").await;
    let event = target
        .lifecycle_events
        .iter()
        .find(|e| e.lifecycle_event_name == "AfterInstall")
        .unwrap();
    assert_eq!(event.status, LifecycleEventStatus::Failed as i32);
    assert!(
        event
            .diagnostics
            .as_ref()
            .unwrap()
            .message
            .contains("did not reconnect"),
        "{event:?}"
    );
}

#[tokio::test]
async fn concurrent_creates_on_one_group_let_exactly_one_through() {
    concurrent_creates_on(Cluster::start().await).await;
}

#[tokio::test]
async fn concurrent_creates_on_one_group_let_exactly_one_through_on_postgres() {
    concurrent_creates_on(Cluster::start_on_postgres().await).await;
}

async fn concurrent_creates_on(cluster: Cluster) {
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let _agents = agents(&cluster, "web", 1).await;
    let revision = upload(&cluster, "v1", false).await;
    let request = CreateDeploymentRequest {
        application_name: APP.into(),
        deployment_group_name: "web".into(),
        revision: Some(revision),
        ..Default::default()
    };
    let results = futures::future::join_all((0..4).map(|_| cluster.create(request.clone()))).await;
    let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            refused.code(),
            tonic::Code::ResourceExhausted,
            "{refused:?}"
        );
        assert_eq!(
            error_reason(refused).as_deref(),
            Some("DeploymentLimitExceededException")
        );
    }
    let info = cluster.finished(created[0]).await;
    assert_eq!(info.status, DeploymentStatus::Succeeded as i32);
}

#[tokio::test]
async fn ignore_application_stop_failures_lets_a_failing_stop_script_pass() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let _agents = agents(&cluster, "web", 1).await;
    // v1's ApplicationStop fails: it runs when v1 is replaced.
    let v1 = upload(&cluster, "v1", true).await;
    let first = cluster.deploy("web", &v1).await;
    assert_eq!(
        cluster.finished(&first).await.status,
        DeploymentStatus::Succeeded as i32
    );
    let v2 = upload(&cluster, "v2", false).await;
    let strict = cluster.deploy("web", &v2).await;
    let info = cluster.finished(&strict).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    let stop = target(&cluster, &strict, "web-1").await.lifecycle_events[0].clone();
    assert_eq!(stop.lifecycle_event_name, "ApplicationStop");
    assert_eq!(stop.status, LifecycleEventStatus::Failed as i32);

    let lenient = cluster
        .create(CreateDeploymentRequest {
            application_name: APP.into(),
            deployment_group_name: "web".into(),
            revision: Some(v2),
            ignore_application_stop_failures: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let info = cluster.finished(&lenient).await;
    assert_eq!(info.status, DeploymentStatus::Succeeded as i32, "{info:?}");
    assert!(info.ignore_application_stop_failures);
    let stop = target(&cluster, &lenient, "web-1").await.lifecycle_events[0].clone();
    assert_eq!(stop.status, LifecycleEventStatus::Succeeded as i32);
    assert!(
        stop.diagnostics
            .unwrap()
            .message
            .contains("ignores its failures"),
        "the ignored failure is not recorded"
    );
}

#[tokio::test]
async fn hook_output_reaches_a_watcher_before_the_hook_ends() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 1).await;
    mark(&agents[0], "hold");
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    let mut stream = cluster
        .deployments
        .clone()
        .watch_deployment(WatchDeploymentRequest {
            deployment_id: id.clone(),
            from_sequence: 0,
            exclude_output: false,
        })
        .await
        .unwrap()
        .into_inner();
    let line = loop {
        let event = tokio::time::timeout(WAIT, stream.message())
            .await
            .expect("no hook output arrived")
            .unwrap()
            .expect("the stream ended before the hook's output");
        if let Some(Event::HookOutput(output)) = event.event
            && output.lifecycle_event_name == "AfterInstall"
        {
            break output;
        }
    };
    assert_eq!(line.target_id, "web-1");
    assert_eq!(line.script, "scripts/hold.sh");
    assert!(line.lines[0].text.starts_with("holding on "), "{line:?}");
    // The hook is still running: it ends only once the file is gone.
    let running = target(&cluster, &id, "web-1").await;
    let after_install = running
        .lifecycle_events
        .iter()
        .find(|e| e.lifecycle_event_name == "AfterInstall")
        .unwrap();
    assert_eq!(
        after_install.status,
        LifecycleEventStatus::InProgress as i32
    );
    unmark(&agents[0], "hold");
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Succeeded as i32);
    // The rest of the stream: "released", then the end of the deployment, then the end.
    let mut released = false;
    while let Some(event) = tokio::time::timeout(WAIT, stream.message())
        .await
        .unwrap()
        .unwrap()
    {
        if let Some(Event::HookOutput(output)) = &event.event {
            released |= output.lines.iter().any(|l| l.text == "released");
        }
    }
    assert!(released);
}

#[tokio::test]
async fn deployment_errors_name_codedeploy_exceptions() {
    let cluster = Cluster::start().await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let revision = upload(&cluster, "v1", false).await;
    let cases = [
        (
            CreateDeploymentRequest {
                deployment_group_name: "web".into(),
                revision: Some(revision.clone()),
                ..Default::default()
            },
            "ApplicationNameRequiredException",
        ),
        (
            CreateDeploymentRequest {
                application_name: APP.into(),
                revision: Some(revision.clone()),
                ..Default::default()
            },
            "DeploymentGroupNameRequiredException",
        ),
        (
            CreateDeploymentRequest {
                application_name: APP.into(),
                deployment_group_name: "web".into(),
                ..Default::default()
            },
            "RevisionRequiredException",
        ),
        (
            CreateDeploymentRequest {
                application_name: APP.into(),
                deployment_group_name: "nope".into(),
                revision: Some(revision.clone()),
                ..Default::default()
            },
            "DeploymentGroupDoesNotExistException",
        ),
        (
            CreateDeploymentRequest {
                application_name: "nope".into(),
                deployment_group_name: "web".into(),
                revision: Some(revision.clone()),
                ..Default::default()
            },
            "ApplicationDoesNotExistException",
        ),
        (
            CreateDeploymentRequest {
                application_name: APP.into(),
                deployment_group_name: "web".into(),
                revision: Some(revision.clone()),
                deployment_config_name: "Nope".into(),
                ..Default::default()
            },
            "DeploymentConfigDoesNotExistException",
        ),
    ];
    for (request, reason) in cases {
        let status = cluster.create(request).await.unwrap_err();
        assert_eq!(error_reason(&status).as_deref(), Some(reason), "{status:?}");
    }
    // No instances: the deployment is created and fails with NO_INSTANCES.
    let id = cluster.deploy("web", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    assert_eq!(
        info.error_information.unwrap().code,
        ErrorCode::NoInstances as i32
    );
    // The group is free again at once.
    let again = cluster.deploy("web", &revision).await;
    cluster.finished(&again).await;
    let _ = Duration::ZERO;
}

#[tokio::test]
async fn a_trigger_webhook_receives_the_events_in_order() {
    use axum::http::HeaderMap;
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let recorder = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let recorder = recorder.clone();
            async move {
                let event = headers
                    .get("x-ferry-event")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = serde_json::from_str(&body).unwrap_or_default();
                recorder.lock().unwrap().push((event, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let cluster = Cluster::start().await;
    let every_event = (1..=10).collect();
    cluster
        .group(
            "web",
            "CodeDeployDefault.OneAtATime",
            vec![ferry_proto::registry::v1::TriggerConfig {
                trigger_name: "all".into(),
                trigger_target_arn: url,
                trigger_events: every_event,
            }],
            None,
        )
        .await;
    let _agents = agents(&cluster, "web", 2).await;
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    assert_eq!(
        cluster.finished(&id).await.status,
        DeploymentStatus::Succeeded as i32
    );
    eventually("the last notification", || {
        let received = received.clone();
        async move { received.lock().unwrap().len() >= 6 }
    })
    .await;
    let received = received.lock().unwrap().clone();
    let events: Vec<&str> = received.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "DeploymentStart",
            "InstanceStart",
            "InstanceSuccess",
            "InstanceStart",
            "InstanceSuccess",
            "DeploymentSuccess"
        ]
    );
    let last = &received[5].1;
    assert_eq!(last["deploymentId"], id.as_str());
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["eventTriggerName"], "all");
    assert_eq!(received[2].1["instanceStatus"], "Succeeded");
}

#[tokio::test]
async fn an_event_no_agent_takes_fails_after_the_start_timeout() {
    let mut config = support::config();
    config.limits.event_start_timeout_secs = 1;
    let cluster = Cluster::start_with(config).await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 1).await;
    // Registered, tagged, but its agent is not running.
    agents[0].stop();
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    assert_eq!(
        info.error_information.unwrap().code,
        ErrorCode::AgentIssue as i32
    );
    let first = target(&cluster, &id, "web-1").await.lifecycle_events[0].clone();
    assert_eq!(first.status, LifecycleEventStatus::Failed as i32);
    assert!(
        first
            .diagnostics
            .unwrap()
            .message
            .contains("did not start ApplicationStop within 1 s")
    );
}

#[tokio::test]
async fn a_deployment_past_its_maximum_duration_fails_with_timeout() {
    let mut config = support::config();
    config.limits.deployment_timeout_secs = 2;
    let cluster = Cluster::start_with(config).await;
    cluster
        .group("web", "CodeDeployDefault.AllAtOnce", vec![], None)
        .await;
    let agents = agents(&cluster, "web", 1).await;
    mark(&agents[0], "hold");
    let revision = upload(&cluster, "v1", false).await;
    let id = cluster.deploy("web", &revision).await;
    let info = cluster.finished(&id).await;
    assert_eq!(info.status, DeploymentStatus::Failed as i32);
    assert_eq!(
        info.error_information.unwrap().code,
        ErrorCode::Timeout as i32
    );
    let held = target(&cluster, &id, "web-1").await;
    assert_eq!(held.status, TargetStatus::Failed as i32);
    let after_install = held
        .lifecycle_events
        .iter()
        .find(|e| e.lifecycle_event_name == "AfterInstall")
        .unwrap();
    assert_eq!(after_install.status, LifecycleEventStatus::Failed as i32);
}
