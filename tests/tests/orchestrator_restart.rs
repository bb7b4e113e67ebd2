//! The orchestrator as a real process, killed with SIGKILL in the middle of a deployment to three
//! real agents and started again on the same address and data directory: it resumes the
//! deployment, which succeeds with every lifecycle event run exactly once on every host.

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::ExitStatusExt as _;
use std::time::{Duration, SystemTime};

use ferry_proto::common::v1::{DeploymentStatus, LifecycleEventStatus};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{DeploymentInfo, InstanceTarget, TargetStatus};
use ferry_tests::deploy::{
    ALL_EVENTS, create_deployment, create_group, ended, get, is_terminal, status, targets,
    upload_tar,
};
use ferry_tests::processes::{Cluster, Host};
use tokio::time::Instant;
use tonic::transport::Channel;

const APP: &str = "shop";
const GROUP: &str = "web";
const INSTANCES: [&str; 3] = ["web-1", "web-2", "web-3"];

/// The events the revision has scripts for (there is no earlier revision to stop).
const HOOK_EVENTS: [&str; 4] = [
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// A tar bundle: app.txt to /srv/app and one script for the four hooks, which records the event
/// and, in AfterInstall, takes a second so the deployment can be caught half-way.
fn bundle() -> Vec<u8> {
    let appspec = [
        "version: 0.0",
        "os: linux",
        "files:",
        "  - source: app.txt",
        "    destination: /srv/app",
        "hooks:",
        "  BeforeInstall:",
        "    - location: scripts/record.sh",
        "  AfterInstall:",
        "    - location: scripts/record.sh",
        "  ApplicationStart:",
        "    - location: scripts/record.sh",
        "  ValidateService:",
        "    - location: scripts/record.sh",
        "",
    ]
    .join("\n");
    let record = "#!/bin/sh\n\
        echo \"$LIFECYCLE_EVENT $DEPLOYMENT_ID\" >> \"$FERRY_INSTALL_ROOT/../events.log\"\n\
        if [ \"$LIFECYCLE_EVENT\" = AfterInstall ]; then sleep 1; fi\n";
    let files = [
        ("appspec.yml", appspec.as_str(), 0o644),
        ("app.txt", "v1\n", 0o644),
        ("scripts/record.sh", record, 0o755),
    ];
    ferry_tests::bundle::tar(&files)
}

/// When, once one target has succeeded, the orchestrator is killed.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// At once: the next target has just been started, its first commands stored or sent.
    NextTarget,
    /// While a hook of the next target runs on its host (AfterInstall's second): the result is
    /// produced while the orchestrator is down and must reach the new process.
    RunningHook,
}

#[tokio::test]
async fn a_deployment_resumes_after_a_kill_between_targets() {
    killed_half_way(KillAt::NextTarget).await;
}

#[tokio::test]
async fn a_deployment_resumes_after_a_kill_while_a_hook_runs() {
    killed_half_way(KillAt::RunningHook).await;
}

/// The lifecycle events (`"<target> <event>"`) that were running on the orchestrator's clock
/// when it was killed.
fn running_at(targets: &[InstanceTarget], at: SystemTime) -> Vec<String> {
    let time = |t: Option<&prost_types::Timestamp>| t.and_then(|t| SystemTime::try_from(*t).ok());
    let mut running = Vec::new();
    for target in targets {
        for event in &target.lifecycle_events {
            let start = time(event.start_time.as_ref());
            let end = time(event.end_time.as_ref());
            if start.is_some_and(|s| s <= at) && end.is_none_or(|e| e > at) {
                running.push(format!(
                    "{} {}",
                    target.target_id, event.lifecycle_event_name
                ));
            }
        }
    }
    running
}

/// A deployment of three targets, one at a time; the orchestrator is killed with SIGKILL after
/// the first target succeeded (`kill_at` says exactly when) and started again.
async fn killed_half_way(kill_at: KillAt) {
    // Registry, revisions and orchestrator, each with its own data directory; the orchestrator
    // on a fixed address so that it can be started again where the agents look.
    let ferry = Cluster::start(None, None);
    let mut orchestrator = ferry.serve().await;

    // The application and a one-at-a-time group of on-premises instances tagged group=web.
    create_group(
        ferry.registry,
        APP,
        GROUP,
        "CodeDeployDefault.OneAtATime",
        false,
    )
    .await;
    let hosts = ferry.hosts(&INSTANCES, GROUP).await;
    let revision = upload_tar(ferry.revisions, APP, bundle()).await;
    let mut deployments = ferry.deployments().await;
    let started = Instant::now();
    let id = create_deployment(&mut deployments, APP, GROUP, revision).await;

    let at_kill = half_way(&mut deployments, &id, &hosts, kill_at).await;
    orchestrator.child.kill().unwrap();
    let killed_at = SystemTime::now();
    let exit = orchestrator.child.wait().unwrap();
    assert_eq!(exit.signal(), Some(9), "{exit:?}");
    let overview = at_kill.deployment_overview.unwrap();
    assert!(
        overview.succeeded < 3 && overview.pending + overview.in_progress > 0,
        "the deployment had finished at the kill: {overview:?}"
    );
    eprintln!(
        "{kill_at:?}: killed the orchestrator {:?} into the deployment: {overview:?}",
        started.elapsed()
    );
    drop(deployments);

    // The same address, configuration and data: the deployment is picked up where it was.
    // Nothing else listens there now, so SERVING on it is the new process.
    let _orchestrator = ferry.resume_orchestrator(&id).await;

    let mut deployments = ferry.deployments().await;
    let info = succeeded(&mut deployments, &id).await;
    eprintln!(
        "{kill_at:?}: the deployment succeeded {:?} after it was created",
        started.elapsed()
    );
    let overview = info.deployment_overview.unwrap();
    assert_eq!(
        (
            overview.succeeded,
            overview.failed,
            overview.skipped,
            overview.pending,
            overview.in_progress
        ),
        (3, 0, 0, 0, 0),
        "{overview:?}"
    );

    let targets: Vec<InstanceTarget> = targets(&mut deployments, &id, &INSTANCES).await;
    assert_eq!(targets.len(), INSTANCES.len());
    eprintln!(
        "{kill_at:?}: running at the kill: {:?}",
        running_at(&targets, killed_at)
    );
    let expected: Vec<_> = ALL_EVENTS
        .iter()
        .map(|&e| (e, LifecycleEventStatus::Succeeded))
        .collect();
    for target in &targets {
        assert_eq!(
            target.status,
            TargetStatus::Succeeded as i32,
            "{}: {target:?}",
            target.target_id
        );
        let events: Vec<(&str, LifecycleEventStatus)> = target
            .lifecycle_events
            .iter()
            .map(|e| {
                (
                    e.lifecycle_event_name.as_str(),
                    LifecycleEventStatus::try_from(e.status).unwrap(),
                )
            })
            .collect();
        assert_eq!(events, expected, "{}", target.target_id);
    }

    let hook_lines: Vec<String> = HOOK_EVENTS.iter().map(|e| format!("{e} {id}")).collect();
    for host in &hosts {
        // Each hook ran once: none lost to the kill, none run again after the restart.
        assert_eq!(host.hook_lines(), hook_lines, "{}", host.name);
        // And each lifecycle event was one command: none sent again under a new id.
        assert_eq!(
            host.command_records(),
            ALL_EVENTS.len(),
            "{}: commands the agent accepted",
            host.name
        );
        assert_eq!(host.installed(), "v1\n", "{}", host.name);
    }
}

/// Polls until a target has succeeded and another has got as far as `kill_at` says, the
/// deployment still in progress; returns the deployment as last seen.
async fn half_way(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
    hosts: &[Host],
    kill_at: KillAt,
) -> DeploymentInfo {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = get(deployments, id).await;
        let overview = info.deployment_overview.unwrap_or_default();
        assert!(
            !is_terminal(&info),
            "the deployment ended before it could be interrupted: {info:?}"
        );
        let ready = overview.succeeded >= 1
            && status(&info) == DeploymentStatus::InProgress
            && match kill_at {
                KillAt::NextTarget => true,
                // A host's AfterInstall has written its line and is sleeping: its last line.
                KillAt::RunningHook => hosts.iter().any(|h| {
                    h.hook_lines()
                        .last()
                        .is_some_and(|l| l.starts_with("AfterInstall "))
                }),
            };
        if ready {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "never got to {kill_at:?} within 60 s: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls (up to 90 s) until the deployment has succeeded; fails at once if it ends otherwise.
async fn succeeded(deployments: &mut DeploymentServiceClient<Channel>, id: &str) -> DeploymentInfo {
    let info = ended(deployments, id, Duration::from_secs(90)).await;
    assert_eq!(
        status(&info),
        DeploymentStatus::Succeeded,
        "the resumed deployment ended without succeeding: {info:?}"
    );
    info
}
