//! The whole of ferry as a user runs it: `ferry-registry`, `ferry-revisions` and
//! `ferry-orchestrator` as separate processes on one PostgreSQL database, three `ferry-agent`
//! processes, and a moto server for S3. Each test has its own database, processes and
//! directories: a deployment from S3, one from a git remote, one from `ferry push`; a failing
//! hook rolled back automatically; the orchestrator SIGKILLed in the middle of a deployment and
//! started again; an agent SIGKILLed and started again.
//!
//! Every hook appends `"<event> <deployment id>"` to a file beside its host's install root, so
//! each test checks that every hook ran exactly once on every host.

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundle;
mod cluster;

use std::net::SocketAddr;
use std::time::Duration;

use ferry_proto::common::v1::{
    BundleType, DeploymentStatus, GitLocation, LifecycleEventStatus, RevisionLocation,
    RevisionLocationType, S3Location,
};
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_proto::deploy::v1::{DeploymentCreator, DeploymentInfo, TargetStatus};
use ferry_tests::deploy;
use tokio::time::Instant;
use tonic::transport::Channel;

use cluster::{
    ALL_EVENTS, APP, Ferry, GROUP, Host, ended, events, ferry_command, get, hook_lines,
    is_terminal, status, succeeded, targets,
};

const ALL_AT_ONCE: &str = "CodeDeployDefault.AllAtOnce";
const ONE_AT_A_TIME: &str = "CodeDeployDefault.OneAtATime";

async fn create(
    deployments: &mut DeploymentServiceClient<Channel>,
    revision: RevisionLocation,
) -> String {
    deploy::create_deployment(deployments, APP, GROUP, revision).await
}

/// Uploads the bundle of `version` as a tar with UploadBundle: its location.
async fn upload(revisions: SocketAddr, version: &str, failing: bool) -> RevisionLocation {
    let tar = bundle::tar(&bundle::files(version, failing));
    deploy::upload_tar(revisions, APP, tar).await
}

/// Every target of `id` ran the seven lifecycle events, each Succeeded.
async fn all_events_succeeded(deployments: &mut DeploymentServiceClient<Channel>, id: &str) {
    let expected: Vec<(String, i32)> = ALL_EVENTS
        .iter()
        .map(|&e| (e.to_owned(), LifecycleEventStatus::Succeeded as i32))
        .collect();
    for (target, events) in events(deployments, id).await {
        assert_eq!(events, expected, "{id} on {target}");
    }
    for target in targets(deployments, id).await {
        assert_eq!(
            target.status,
            TargetStatus::Succeeded as i32,
            "{id}: {target:?}"
        );
    }
}

/// Everything serving (with a moto for S3 when `with_s3`), a group of three hosts with the
/// deployment configuration `config` and, when `rollback`, automatic rollback.
async fn serving(
    with_s3: bool,
    config: &str,
    rollback: bool,
) -> (Ferry, ferry_tests::Service, Vec<Host>) {
    let ferry = Ferry::start(with_s3).await;
    let orchestrator = ferry.serve().await;
    ferry.create_group(config, rollback).await;
    let hosts = ferry.hosts().await;
    (ferry, orchestrator, hosts)
}

/// The set-up of the three "deploy from …" tests: everything serving, an AllAtOnce group of
/// three hosts.
async fn all_at_once(with_s3: bool) -> (Ferry, ferry_tests::Service, Vec<Host>) {
    serving(with_s3, ALL_AT_ONCE, false).await
}

/// A first deployment of `id` succeeded everywhere: every event on every target, every hook
/// once per host, the revision's file installed.
async fn first_deployment_succeeded(ferry: &Ferry, hosts: &[Host], id: &str, version: &str) {
    let mut deployments = ferry.deployments().await;
    succeeded(&mut deployments, id).await;
    all_events_succeeded(&mut deployments, id).await;
    for host in hosts {
        assert_eq!(host.hook_lines(), hook_lines(id, false), "{}", host.name);
        assert_eq!(host.installed(), format!("{version}\n"), "{}", host.name);
        assert_eq!(host.command_records(), ALL_EVENTS.len(), "{}", host.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_in_s3_is_deployed_to_three_agents() {
    let (ferry, _orchestrator, hosts) = all_at_once(true).await;
    let moto = ferry.moto.as_ref().unwrap();
    let files = bundle::files("s3", false);
    moto.put("bundles", "shop/v1.tgz", bundle::tgz(&files))
        .await;

    let mut deployments = ferry.deployments().await;
    let started = Instant::now();
    let id = create(
        &mut deployments,
        RevisionLocation {
            revision_type: RevisionLocationType::S3 as i32,
            s3_location: Some(S3Location {
                bucket: "bundles".into(),
                key: "shop/v1.tgz".into(),
                bundle_type: BundleType::Tgz as i32,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    first_deployment_succeeded(&ferry, &hosts, &id, "s3").await;
    eprintln!("s3: {id} succeeded in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_in_a_git_remote_is_deployed_to_three_agents() {
    let (ferry, _orchestrator, hosts) = all_at_once(false).await;
    let (url, commit) =
        bundle::git_remote(&ferry.dir.path().join("git"), &bundle::files("git", false));
    assert_eq!(commit.len(), 40, "{commit}");

    let mut deployments = ferry.deployments().await;
    let started = Instant::now();
    let id = create(
        &mut deployments,
        RevisionLocation {
            revision_type: RevisionLocationType::Git as i32,
            git_location: Some(GitLocation {
                url,
                commit_id: commit,
            }),
            ..Default::default()
        },
    )
    .await;
    first_deployment_succeeded(&ferry, &hosts, &id, "git").await;
    eprintln!("git: {id} succeeded in {:?}", started.elapsed());
}

/// Runs the `ferry` CLI; its stdout as JSON, failing with its output when it exits non-zero.
fn ferry_cli(args: &[&str]) -> serde_json::Value {
    let output = ferry_command("ferry")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ferry {args:?}: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("ferry {args:?}: not JSON ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_from_ferry_push_is_deployed_to_three_agents() {
    let (ferry, _orchestrator, hosts) = all_at_once(false).await;
    let source = ferry.dir.path().join("source");
    bundle::write_dir(&source, &bundle::files("pushed", false));
    let revisions = format!("http://{}", ferry.revisions);
    let orchestrator = format!("http://{}", ferry.orchestrator);

    let started = Instant::now();
    let pushed = ferry_cli(&[
        "push",
        "--endpoint",
        &revisions,
        "--application-name",
        APP,
        "--source",
        source.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let revision = &pushed["revision"];
    assert_eq!(
        revision["revisionType"], "REVISION_LOCATION_TYPE_UPLOADED",
        "{pushed}"
    );
    let created = ferry_cli(&[
        "create-deployment",
        "--endpoint",
        &orchestrator,
        "--application-name",
        APP,
        "--deployment-group-name",
        GROUP,
        "--revision",
        &revision.to_string(),
        "--output",
        "json",
    ]);
    let id = created["deploymentId"].as_str().unwrap().to_owned();
    first_deployment_succeeded(&ferry, &hosts, &id, "pushed").await;
    let info = get(&mut ferry.deployments().await, &id).await;
    let digest = info.revision.unwrap().uploaded_location.unwrap().digest;
    assert_eq!(pushed["sha256"], digest.as_str(), "{pushed}");
    eprintln!("push: {id} succeeded in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_is_rolled_back_to_the_last_successful_revision() {
    let (ferry, _orchestrator, hosts) = serving(false, ALL_AT_ONCE, true).await;
    let mut deployments = ferry.deployments().await;
    let started = Instant::now();

    let v1 = upload(ferry.revisions, "v1", false).await;
    let first = create(&mut deployments, v1.clone()).await;
    first_deployment_succeeded(&ferry, &hosts, &first, "v1").await;

    // v2's ValidateService fails on every host: the deployment fails and is rolled back.
    let v2 = upload(ferry.revisions, "v2", true).await;
    let second = create(&mut deployments, v2).await;
    let failed = ended(&mut deployments, &second).await;
    assert_eq!(status(&failed), DeploymentStatus::Failed, "{failed:?}");
    let rollback = failed
        .rollback_info
        .clone()
        .unwrap_or_default()
        .rollback_deployment_id;
    assert!(rollback.starts_with("d-"), "no rollback: {failed:?}");
    for (target, events) in events(&mut deployments, &second).await {
        let validate = events.iter().find(|(name, _)| name == "ValidateService");
        assert_eq!(
            validate.map(|(_, s)| *s),
            Some(LifecycleEventStatus::Failed as i32),
            "{second} on {target}: {events:?}"
        );
    }

    let info = succeeded(&mut deployments, &rollback).await;
    assert_eq!(
        info.creator,
        DeploymentCreator::CodeDeployRollback as i32,
        "{info:?}"
    );
    assert_eq!(
        info.rollback_info
            .clone()
            .unwrap_or_default()
            .rollback_triggering_deployment_id,
        second
    );
    assert_eq!(info.revision.as_ref(), Some(&v1), "{info:?}");
    all_events_succeeded(&mut deployments, &rollback).await;
    eprintln!(
        "rollback: {first}, {second} (failed) and {rollback} (rollback) done in {:?}",
        started.elapsed()
    );
    for host in &hosts {
        let mut expected = hook_lines(&first, false);
        expected.extend(hook_lines(&second, true));
        expected.extend(hook_lines(&rollback, true));
        assert_eq!(host.hook_lines(), expected, "{}", host.name);
        assert_eq!(host.installed(), "v1\n", "{}", host.name);
        assert_eq!(
            host.command_records(),
            3 * ALL_EVENTS.len(),
            "{}",
            host.name
        );
    }
}

/// Polls until `ready` holds for the deployment, which must still be in progress.
async fn until(
    deployments: &mut DeploymentServiceClient<Channel>,
    id: &str,
    what: &str,
    mut ready: impl FnMut(&DeploymentInfo, &[TargetStatus]) -> bool,
) -> DeploymentInfo {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = get(deployments, id).await;
        assert!(!is_terminal(&info), "{id} ended before {what}: {info:?}");
        let statuses: Vec<TargetStatus> = targets(deployments, id)
            .await
            .iter()
            .map(|t| TargetStatus::try_from(t.status).unwrap())
            .collect();
        if ready(&info, &statuses) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: never {what} within 60 s: {info:?} {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orchestrator_killed_between_targets_resumes_the_deployment() {
    use std::os::unix::process::ExitStatusExt as _;
    let (ferry, mut orchestrator, hosts) = serving(false, ONE_AT_A_TIME, false).await;
    let revision = upload(ferry.revisions, "v1", false).await;
    let mut deployments = ferry.deployments().await;
    let started = Instant::now();
    let id = create(&mut deployments, revision).await;

    // One target has succeeded and the next has just been started.
    let at_kill = until(&mut deployments, &id, "one target succeeded", |info, _| {
        let overview = info.deployment_overview.unwrap_or_default();
        overview.succeeded >= 1 && status(info) == DeploymentStatus::InProgress
    })
    .await;
    orchestrator.child.kill().unwrap();
    let exit = orchestrator.child.wait().unwrap();
    assert_eq!(exit.signal(), Some(9), "{exit:?}");
    let overview = at_kill.deployment_overview.unwrap();
    assert!(overview.succeeded < 3, "finished at the kill: {overview:?}");
    eprintln!(
        "orchestrator: killed {:?} into {id}: {overview:?}",
        started.elapsed()
    );
    drop(deployments);

    let _orchestrator = ferry.resume_orchestrator(&id).await;

    first_deployment_succeeded(&ferry, &hosts, &id, "v1").await;
    eprintln!(
        "orchestrator: {id} succeeded {:?} after it was created",
        started.elapsed()
    );
}

/// web-2's agent is SIGKILLed while idle — after the first deployment, while the second runs
/// on web-1 and web-2's turn has not come — and started again (same configuration and
/// deployment root) only once web-2's target has started, its first command waiting for it.
/// The restarted agent takes the command, runs the lifecycle (ApplicationStop from the
/// revision its deployment root says was installed) and the deployment succeeds, every hook
/// run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_while_idle_comes_back_and_finishes_the_deployment() {
    let (ferry, _orchestrator, mut hosts) = serving(false, ONE_AT_A_TIME, false).await;
    let mut deployments = ferry.deployments().await;
    let started = Instant::now();

    let v1 = upload(ferry.revisions, "v1", false).await;
    let first = create(&mut deployments, v1).await;
    first_deployment_succeeded(&ferry, &hosts, &first, "v1").await;

    let v2 = upload(ferry.revisions, "v2", false).await;
    let second = create(&mut deployments, v2).await;
    until(
        &mut deployments,
        &second,
        "web-1 in progress",
        |_, targets| targets[0] == TargetStatus::InProgress,
    )
    .await;
    hosts[1].kill_agent();
    let statuses: Vec<i32> = targets(&mut deployments, &second)
        .await
        .iter()
        .map(|t| t.status)
        .collect();
    assert_eq!(
        statuses[1],
        TargetStatus::Pending as i32,
        "web-2 started before its agent was killed: {statuses:?}"
    );
    eprintln!("agent: killed web-2 {:?} in", started.elapsed());

    // web-1 done, web-2 started: its first command is stored for an agent that is not there.
    until(
        &mut deployments,
        &second,
        "web-2 in progress",
        |_, targets| {
            targets[0] == TargetStatus::Succeeded && targets[1] == TargetStatus::InProgress
        },
    )
    .await;
    assert_eq!(
        hosts[1].command_records(),
        ALL_EVENTS.len(),
        "web-2 ran nothing of {second} yet"
    );
    assert_eq!(hosts[1].hook_lines(), hook_lines(&first, false));
    hosts[1].start_agent();
    eprintln!("agent: restarted web-2 {:?} in", started.elapsed());

    succeeded(&mut deployments, &second).await;
    all_events_succeeded(&mut deployments, &second).await;
    eprintln!("agent: {second} succeeded {:?} in", started.elapsed());
    for host in &hosts {
        let mut expected = hook_lines(&first, false);
        expected.extend(hook_lines(&second, true));
        assert_eq!(host.hook_lines(), expected, "{}", host.name);
        assert_eq!(host.installed(), "v2\n", "{}", host.name);
        assert_eq!(
            host.command_records(),
            2 * ALL_EVENTS.len(),
            "{}",
            host.name
        );
    }
}

/// web-1's agent is SIGKILLed while its AfterInstall hook runs, and started again at once (same
/// configuration and deployment root). As the agent documents, a command running at its death
/// is reported failed after the restart, and is not run again: AfterInstall fails, so the
/// one-at-a-time deployment fails and the other targets are skipped. The restarted agent then
/// takes the next deployment, which succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_during_a_hook_fails_that_event_once_it_is_back() {
    let (ferry, _orchestrator, mut hosts) = serving(false, ONE_AT_A_TIME, false).await;
    let mut deployments = ferry.deployments().await;
    let started = Instant::now();

    let v1 = upload(ferry.revisions, "v1", false).await;
    let first = create(&mut deployments, v1).await;
    // AfterInstall has written its line and sleeps its second.
    let deadline = Instant::now() + Duration::from_secs(60);
    while hosts[0]
        .hook_lines()
        .last()
        .is_none_or(|l| !l.starts_with("AfterInstall "))
    {
        assert!(
            Instant::now() < deadline,
            "web-1 never reached AfterInstall: {:?}",
            get(&mut deployments, &first).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hosts[0].kill_agent();
    hosts[0].start_agent();
    eprintln!(
        "agent hook: killed and restarted web-1 {:?} in",
        started.elapsed()
    );

    let info = ended(&mut deployments, &first).await;
    assert_eq!(status(&info), DeploymentStatus::Failed, "{info:?}");
    let overview = info.deployment_overview.unwrap_or_default();
    assert_eq!(
        (overview.succeeded, overview.failed, overview.skipped),
        (0, 1, 2),
        "{overview:?}"
    );
    let web1 = targets(&mut deployments, &first).await.remove(0);
    assert_eq!(web1.target_id, "web-1");
    let statuses: Vec<(&str, LifecycleEventStatus)> = web1
        .lifecycle_events
        .iter()
        .map(|e| {
            (
                e.lifecycle_event_name.as_str(),
                LifecycleEventStatus::try_from(e.status).unwrap(),
            )
        })
        .collect();
    use LifecycleEventStatus::{Failed, Skipped, Succeeded};
    assert_eq!(
        statuses,
        [
            ("ApplicationStop", Succeeded),
            ("DownloadBundle", Succeeded),
            ("BeforeInstall", Succeeded),
            ("Install", Succeeded),
            ("AfterInstall", Failed),
            ("ApplicationStart", Skipped),
            ("ValidateService", Skipped),
        ],
        "{web1:?}"
    );
    let diagnostics = web1.lifecycle_events[4]
        .diagnostics
        .clone()
        .unwrap_or_default();
    assert!(
        diagnostics
            .message
            .contains("the agent restarted while this command was running"),
        "{diagnostics:?}"
    );
    // Nothing ran twice, and the hooks after the failed one did not run.
    assert_eq!(
        hosts[0].hook_lines(),
        [
            format!("BeforeInstall {first}"),
            format!("AfterInstall {first}")
        ]
    );
    for host in &hosts[1..] {
        assert_eq!(host.hook_lines(), Vec::<String>::new(), "{}", host.name);
    }

    // The restarted agent takes the next deployment. On web-1, ApplicationStop runs v1's
    // script: v1's Install had put it in place.
    let v2 = upload(ferry.revisions, "v2", false).await;
    let second = create(&mut deployments, v2).await;
    succeeded(&mut deployments, &second).await;
    all_events_succeeded(&mut deployments, &second).await;
    eprintln!("agent hook: {second} succeeded {:?} in", started.elapsed());
    let mut expected = vec![
        format!("BeforeInstall {first}"),
        format!("AfterInstall {first}"),
    ];
    expected.extend(hook_lines(&second, true));
    assert_eq!(hosts[0].hook_lines(), expected, "web-1");
    for host in &hosts[1..] {
        assert_eq!(
            host.hook_lines(),
            hook_lines(&second, false),
            "{}",
            host.name
        );
    }
    for host in &hosts {
        assert_eq!(host.installed(), "v2\n", "{}", host.name);
    }
}
