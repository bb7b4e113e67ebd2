//! The agent's side of the session protocol, against a scripted server: the test plays the
//! orchestrator message by message; bundles come from a real in-process revisions service and
//! hooks are real scripts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ferry_proto::agent::v1::{
    CancelCommand, OutputStream, ResultAck, session_request, session_response,
};
use ferry_proto::common::v1::{LifecycleErrorCode, LifecycleEventStatus};
use support::{Server, TestAgent, command, eventually, tar};

const APPSPEC: &str = "version: 0.0
os: linux
files:
  - source: app
    destination: /srv/app
hooks:
  BeforeInstall:
    - location: scripts/hello.sh
  ApplicationStart:
    - location: scripts/hold.sh
      timeout: 120
";

/// Prints its environment, then one line per second of a loop? No: prints a few lines at once.
const HELLO: &str = "#!/bin/sh
echo \"event=$LIFECYCLE_EVENT deployment=$DEPLOYMENT_ID group=$DEPLOYMENT_GROUP_NAME app=$APPLICATION_NAME\"
echo to-stderr >&2
echo \"$DEPLOYMENT_ID\" >> \"$FERRY_INSTALL_ROOT/../runs\"
";

/// Writes its pid, then waits until the test creates `release` next to the install root.
const HOLD: &str = "#!/bin/sh
echo $$ > \"$FERRY_INSTALL_ROOT/../hold.pid\"
echo holding
while [ ! -f \"$FERRY_INSTALL_ROOT/../release\" ]; do sleep 0.05; done
echo released
";

fn bundle() -> Vec<u8> {
    tar(&[
        ("appspec.yml", APPSPEC, 0o644),
        ("app/index.html", "<h1>v1</h1>\n", 0o644),
        ("scripts/hello.sh", HELLO, 0o755),
        ("scripts/hold.sh", HOLD, 0o755),
    ])
}

fn status(result: &ferry_proto::agent::v1::CommandResult) -> LifecycleEventStatus {
    LifecycleEventStatus::try_from(result.status).unwrap()
}

/// Runs DownloadBundle and BeforeInstall and Install of `d-1`, acknowledging each result.
async fn prepare(side: &mut support::ServerSide, revision: &ferry_proto::agent::v1::Revision) {
    for (id, event) in [
        ("c-dl", "DownloadBundle"),
        ("c-bi", "BeforeInstall"),
        ("c-in", "Install"),
    ] {
        side.send(session_response::Message::Command(command(
            id, "d-1", event, revision,
        )));
        let result = side.result_of(id).await;
        assert_eq!(
            status(&result),
            LifecycleEventStatus::Succeeded,
            "{event}: {result:?}"
        );
        side.send(session_response::Message::ResultAck(ResultAck {
            command_id: id.into(),
        }));
    }
}

/// A server, an agent connected to it, and d-1 downloaded, through BeforeInstall and installed.
struct Prepared {
    server: Server,
    revision: ferry_proto::agent::v1::Revision,
    agent: TestAgent,
    side: support::ServerSide,
}

async fn prepared() -> Prepared {
    let mut server = Server::start().await;
    let revision = server.upload(&bundle()).await;
    let agent = TestAgent::start(&server.endpoint);
    let mut side = server.accept().await;
    side.handshake().await;
    prepare(&mut side, &revision).await;
    Prepared {
        server,
        revision,
        agent,
        side,
    }
}

/// Sends ApplicationStart, whose hook holds until `release` exists; returns once it runs,
/// with the file holding the hook's pid.
async fn start_holding_hook(
    side: &support::ServerSide,
    agent: &TestAgent,
    revision: &ferry_proto::agent::v1::Revision,
) -> std::path::PathBuf {
    side.send(session_response::Message::Command(command(
        "c-start",
        "d-1",
        "ApplicationStart",
        revision,
    )));
    let pid_file = agent.dir.path().join("hold.pid");
    // The shell creates the file before it writes the pid: wait for the pid itself.
    eventually("the hook runs", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|pid| pid.trim().parse::<u32>().is_ok())
    })
    .await;
    pid_file
}

#[tokio::test]
async fn events_run_in_order_with_live_output_and_results() {
    let mut server = Server::start().await;
    let revision = server.upload(&bundle()).await;
    let agent = TestAgent::start(&server.endpoint);
    let mut side = server.accept().await;
    let hello = side.handshake().await;
    assert_eq!(hello.instance_name, "host-1");
    assert_eq!(hello.instance_credential, "ferry_ic_test");
    assert!(hello.unacknowledged_results.is_empty());

    side.send(session_response::Message::Command(command(
        "c-dl",
        "d-1",
        "DownloadBundle",
        &revision,
    )));
    let session_request::Message::Ack(ack) = side.next().await else {
        panic!("ack first")
    };
    assert_eq!((ack.command_id.as_str(), ack.duplicate), ("c-dl", false));
    let result = side.result_of("c-dl").await;
    assert_eq!(
        status(&result),
        LifecycleEventStatus::Succeeded,
        "{result:?}"
    );

    side.send(session_response::Message::Command(command(
        "c-bi",
        "d-1",
        "BeforeInstall",
        &revision,
    )));
    let mut lines = Vec::new();
    let result = loop {
        match side.next().await {
            session_request::Message::Output(output) => {
                assert_eq!(output.command_id, "c-bi");
                assert_eq!(output.script, "scripts/hello.sh");
                assert_eq!(output.first_sequence, lines.len() as u64, "no gap");
                for line in output.lines {
                    lines.push((OutputStream::try_from(line.stream).unwrap(), line.text));
                }
            }
            session_request::Message::Result(result) => break result,
            _ => {}
        }
    };
    assert_eq!(
        status(&result),
        LifecycleEventStatus::Succeeded,
        "{result:?}"
    );
    assert!(
        lines.contains(&(
            OutputStream::Stdout,
            "event=BeforeInstall deployment=d-1 group=web app=shop".to_owned()
        )),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(OutputStream::Stderr, "to-stderr".to_owned())),
        "{lines:?}"
    );
    let diagnostics = result.diagnostics.unwrap();
    assert_eq!(diagnostics.error_code, LifecycleErrorCode::Success as i32);
    assert!(
        diagnostics.log_tail.contains("to-stderr"),
        "{}",
        diagnostics.log_tail
    );

    side.send(session_response::Message::Command(command(
        "c-in", "d-1", "Install", &revision,
    )));
    let result = side.result_of("c-in").await;
    assert_eq!(
        status(&result),
        LifecycleEventStatus::Succeeded,
        "{result:?}"
    );
    let installed = agent.install_root().join("srv/app/index.html");
    assert_eq!(std::fs::read_to_string(installed).unwrap(), "<h1>v1</h1>\n");
    agent.shutdown().await;
}

#[tokio::test]
async fn a_result_finished_during_a_disconnect_is_delivered_once_after_reconnect() {
    let Prepared {
        mut server,
        revision,
        agent,
        side,
    } = prepared().await;

    start_holding_hook(&side, &agent, &revision).await;
    // The server goes away in the middle of the hook.
    drop(side);
    let mut side = server.accept().await;
    let hello = side.handshake().await;
    assert_eq!(hello.running_command_ids, vec!["c-start".to_owned()]);
    assert!(hello.unacknowledged_results.is_empty());

    std::fs::write(agent.dir.path().join("release"), "").unwrap();
    let result = side.result_of("c-start").await;
    assert_eq!(
        status(&result),
        LifecycleEventStatus::Succeeded,
        "{result:?}"
    );
    assert!(result.diagnostics.unwrap().log_tail.contains("released"));

    // Not acknowledged yet: the next session carries it, exactly once.
    drop(side);
    let mut side = server.accept().await;
    let hello = side.handshake().await;
    let ids: Vec<_> = hello
        .unacknowledged_results
        .iter()
        .map(|r| r.command_id.as_str())
        .collect();
    assert_eq!(ids, vec!["c-start"]);
    side.send(session_response::Message::ResultAck(ResultAck {
        command_id: "c-start".into(),
    }));

    // Acknowledged: a later session no longer carries it.
    let marker = command("c-probe", "d-1", "ValidateService", &revision);
    side.send(session_response::Message::Command(marker));
    side.result_of("c-probe").await;
    drop(side);
    let mut side = server.accept().await;
    let hello = side.handshake().await;
    assert!(
        hello
            .unacknowledged_results
            .iter()
            .all(|r| r.command_id != "c-start"),
        "{:?}",
        hello.unacknowledged_results
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_repeated_command_is_answered_from_its_result_and_not_run_again() {
    let Prepared {
        mut server,
        revision,
        agent,
        mut side,
    } = prepared().await;
    let runs = agent.dir.path().join("runs");
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "d-1\n");

    side.send(session_response::Message::Command(command(
        "c-bi",
        "d-1",
        "BeforeInstall",
        &revision,
    )));
    let session_request::Message::Ack(ack) = side.next().await else {
        panic!("ack first")
    };
    assert!(ack.duplicate);
    let result = side.result_of("c-bi").await;
    assert_eq!(status(&result), LifecycleEventStatus::Succeeded);
    // Also after a restart of the agent.
    let dir = agent.shutdown().await;
    drop(side);
    let agent = TestAgent::start_in(dir, &server.endpoint);
    let mut side = server.accept().await;
    side.handshake().await;
    side.send(session_response::Message::Command(command(
        "c-bi",
        "d-1",
        "BeforeInstall",
        &revision,
    )));
    let session_request::Message::Ack(ack) = side.next().await else {
        panic!("ack first")
    };
    assert!(ack.duplicate);
    side.result_of("c-bi").await;
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "d-1\n", "ran once");
    agent.shutdown().await;
}

#[tokio::test]
async fn a_cancel_kills_the_running_hook() {
    let Prepared {
        server: _server,
        revision,
        agent,
        mut side,
    } = prepared().await;

    let pid_file = start_holding_hook(&side, &agent, &revision).await;
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    side.send(session_response::Message::Cancel(CancelCommand {
        command_id: "c-start".into(),
        reason: "deployment stopped".into(),
    }));
    let result = side.result_of("c-start").await;
    assert_eq!(status(&result), LifecycleEventStatus::Failed);
    let diagnostics = result.diagnostics.unwrap();
    assert!(
        diagnostics.message.contains("deployment stopped"),
        "{}",
        diagnostics.message
    );
    assert_eq!(diagnostics.script_name, "scripts/hold.sh");
    eventually("the hook's process is gone", || !alive(pid)).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn a_command_interrupted_by_an_agent_crash_is_reported_failed_after_restart() {
    let Prepared {
        mut server,
        revision,
        agent,
        side,
    } = prepared().await;
    start_holding_hook(&side, &agent, &revision).await;

    // A crash: the agent's task is dropped where it stands, nothing recorded.
    agent.task.abort();
    let _ = agent.task.await;
    drop(side);
    let agent = TestAgent::start_in(agent.dir, &server.endpoint);
    let mut side = server.accept().await;
    let hello = side.handshake().await;
    let result = hello
        .unacknowledged_results
        .iter()
        .find(|r| r.command_id == "c-start")
        .expect("the interrupted command is reported");
    assert_eq!(status(result), LifecycleEventStatus::Failed);
    let diagnostics = result.diagnostics.clone().unwrap();
    assert_eq!(
        diagnostics.error_code,
        LifecycleErrorCode::UnknownError as i32
    );
    assert!(
        diagnostics.message.contains("restarted"),
        "{}",
        diagnostics.message
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_refused_session_is_retried() {
    let mut server = Server::start().await;
    let agent = TestAgent::start(&server.endpoint);
    let side = server.accept().await;
    side.responses
        .send(Err(tonic::Status::unauthenticated("unknown instance")))
        .unwrap();
    drop(side);
    let mut side = server.accept().await;
    let hello = side.handshake().await;
    assert_eq!(hello.instance_name, "host-1");
    agent.shutdown().await;
}

#[tokio::test]
async fn a_silent_server_is_left_and_the_agent_reconnects() {
    let mut server = Server::start_silent().await;
    let agent = TestAgent::start(&server.endpoint);
    let mut first = server.accept().await;
    first.handshake_with(1, 2).await;
    // The test still holds the first session open: only the agent's heartbeat timeout can
    // have ended it, or no second session would come.
    let mut second = server.accept().await;
    second.handshake_with(1, 2).await;
    drop(first);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_command_past_its_deadline_is_stopped() {
    let Prepared {
        server: _server,
        revision,
        agent,
        mut side,
    } = prepared().await;
    let mut start = command("c-start", "d-1", "ApplicationStart", &revision);
    start.deadline =
        Some((std::time::SystemTime::now() + std::time::Duration::from_secs(1)).into());
    side.send(session_response::Message::Command(start));
    let result = side.result_of("c-start").await;
    assert_eq!(status(&result), LifecycleEventStatus::Failed);
    let message = result.diagnostics.unwrap().message;
    assert!(message.contains("deadline"), "{message}");
    agent.shutdown().await;
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie is dead, only not yet reaped.
        Ok(stat) => stat.split(' ').nth(2) != Some("Z"),
        Err(_) => false,
    }
}
