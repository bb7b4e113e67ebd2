//! The real `ferry-agent run` process against a scripted orchestrator: it connects with its
//! identity, runs commands, and stops cleanly on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ferry_proto::agent::v1::session_response;
use ferry_proto::common::v1::LifecycleEventStatus;
use support::{Server, command, tar};

#[tokio::test]
async fn the_binary_runs_commands_and_stops_on_sigterm() {
    let mut server = Server::start().await;
    let spec = "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: hi.sh\n";
    let revision = server
        .upload(&tar(&[
            ("appspec.yml", spec, 0o644),
            (
                "hi.sh",
                "#!/bin/sh\necho \"hi from $DEPLOYMENT_ID\"\n",
                0o755,
            ),
        ]))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("credential");
    std::fs::write(&credential, "ferry_ic_process\n").unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry-agent"))
        .arg("run")
        .args(["--orchestrator-endpoint", &server.endpoint])
        .args(["--instance-name", "proc-1"])
        .arg("--credential-file")
        .arg(&credential)
        .arg("--deployment-root")
        .arg(dir.path().join("root"))
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let mut side = server.accept().await;
    let hello = side.handshake().await;
    assert_eq!(hello.instance_name, "proc-1");
    assert_eq!(
        hello.instance_credential, "ferry_ic_process",
        "read from the file, trimmed"
    );
    assert_eq!(hello.os, "linux");
    for (id, event) in [("c-1", "DownloadBundle"), ("c-2", "BeforeInstall")] {
        side.send(session_response::Message::Command(command(
            id, "d-9", event, &revision,
        )));
        let result = side.result_of(id).await;
        assert_eq!(
            LifecycleEventStatus::try_from(result.status).unwrap(),
            LifecycleEventStatus::Succeeded,
            "{event}: {result:?}"
        );
        if event == "BeforeInstall" {
            assert!(result.diagnostics.unwrap().log_tail.contains("hi from d-9"));
        }
    }

    let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the agent stops in time")
        .unwrap();
    assert!(status.success(), "{status}");
}
