//! The deployment event log on both back ends: events come back in order, from any sequence,
//! with or without hook output, and watchers are woken by each append.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_orchestrator::events::EventLog;
use ferry_orchestrator::store;
use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::watch_deployment_response::Event;
use ferry_proto::deploy::v1::{
    DeploymentStatusChanged, HookOutput, OutputLine, TargetStatus, TargetStatusChanged,
};

fn status(status: DeploymentStatus) -> Event {
    Event::DeploymentStatusChanged(DeploymentStatusChanged {
        status: status as i32,
        ..Default::default()
    })
}

async fn log_reads_back_in_order(url: &str) {
    let log = EventLog::new(store::connect(url).await.unwrap());
    let mut woken = log.subscribe();
    let first = log
        .append("d-1", status(DeploymentStatus::Created))
        .await
        .unwrap();
    assert!(woken.has_changed().unwrap(), "an append wakes watchers");
    woken.borrow_and_update();
    assert_eq!(first, 1, "a deployment's first event is its sequence 1");
    log.append("d-2", status(DeploymentStatus::Created))
        .await
        .unwrap();
    let target = log
        .append(
            "d-1",
            Event::TargetStatusChanged(TargetStatusChanged {
                target_id: "web-1".into(),
                status: TargetStatus::InProgress as i32,
            }),
        )
        .await
        .unwrap();
    let output = log
        .append(
            "d-1",
            Event::HookOutput(HookOutput {
                target_id: "web-1".into(),
                lifecycle_event_name: "BeforeInstall".into(),
                script: "a.sh".into(),
                lines: vec![OutputLine {
                    text: "hello".into(),
                    ..Default::default()
                }],
                dropped: 0,
            }),
        )
        .await
        .unwrap();
    let last = log
        .append("d-1", status(DeploymentStatus::Succeeded))
        .await
        .unwrap();
    assert!(first < target && target < output && output < last);

    let all = log.read_after("d-1", 0, true, 100).await.unwrap();
    let sequences: Vec<u64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, vec![first, target, output, last]);
    assert!(all.iter().all(|e| e.time.is_some()));
    match &all[2].event {
        Some(Event::HookOutput(output)) => assert_eq!(output.lines[0].text, "hello"),
        other => panic!("{other:?}"),
    }
    // Resuming after the second event, without output.
    let rest = log.read_after("d-1", target, false, 100).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![last]
    );
    // Paging.
    assert_eq!(log.read_after("d-1", 0, true, 2).await.unwrap().len(), 2);
}

#[tokio::test]
async fn sqlite_event_log() {
    let dir = tempfile::tempdir().unwrap();
    log_reads_back_in_order(&store::database_url(None, dir.path()).unwrap()).await;
}

#[tokio::test]
async fn postgres_event_log() {
    log_reads_back_in_order(&ferry_store::testing::fresh_postgres().await).await;
}
