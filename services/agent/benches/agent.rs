//! The agent's costs, measured in one run (`cargo bench -p ferry-agent --bench agent`;
//! `--quick` for a short run with a 32 MiB bundle):
//!
//! - per-hook overhead: a hook that is a copy of `/bin/true`, run through the hook runner
//!   alone and through a whole lifecycle event (AppSpec read, log files, runner), against a
//!   raw `tokio::process` spawn of `/bin/true`, interleaved so all three see the same machine;
//! - the real `ferry-agent run` binary's resident memory while idle on an open session;
//! - its peak resident memory while a DownloadBundle command fetches, verifies and unpacks a
//!   256 MiB bundle from a real revisions service (scripted orchestrator, same port).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_agent::config::AgentConfig;
use ferry_agent::hooks::{Runner, Script};
use ferry_agent::lifecycle::{Deployment, Host, Source};
use ferry_agent::output::Discard;
use ferry_agent::users::Accounts;
use ferry_appspec::FileExistsBehavior;
use ferry_proto::agent::v1::{session_request, session_response};
use ferry_proto::common::v1::LifecycleEventStatus;
use rand::{RngCore, SeedableRng};
use tokio_util::sync::CancellationToken;

const MIB: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        hook_overhead(if quick { 200 } else { 1000 }).await;
        process_memory(if quick { 32 } else { 256 }).await;
    });
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn hook_overhead(runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::copy("/bin/true", src.join("true")).unwrap();
    fs::set_permissions(src.join("true"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        src.join("appspec.yml"),
        "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: true\n",
    )
    .unwrap();
    let config = AgentConfig {
        deployment_root: dir.path().join("root"),
        log_dir: dir.path().join("logs"),
        ..AgentConfig::default()
    };
    let host = Host::from_config(&config, None);
    let deployment = Deployment {
        deployment_id: "d-BENCH".into(),
        deployment_group_id: "g-bench".into(),
        deployment_group_name: "bench".into(),
        application_name: "bench".into(),
        source: Source::Local(src.clone()),
        app_spec_file_name: String::new(),
        file_exists_behavior: FileExistsBehavior::Disallow,
    };
    let cancel = CancellationToken::new();
    host.run_event(&deployment, "DownloadBundle", &Discard, &cancel)
        .await
        .result
        .unwrap();
    let bundle = config
        .deployment_root
        .join("g-bench/d-BENCH/deployment-archive");
    let runner = Runner::new(Accounts::default());
    let env = host.hook_env(&deployment, ferry_appspec::LifecycleEvent::BeforeInstall);
    let script = Script {
        location: "true",
        bundle_root: &bundle,
        timeout: Duration::from_secs(60),
        runas: None,
    };

    let (mut raw, mut hook, mut event) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let status = tokio::process::Command::new("/bin/true")
            .status()
            .await
            .unwrap();
        assert!(status.success());
        raw.push(start.elapsed());

        let start = Instant::now();
        runner.run(&script, &env, &Discard, &cancel).await.unwrap();
        hook.push(start.elapsed());

        let start = Instant::now();
        host.run_event(&deployment, "BeforeInstall", &Discard, &cancel)
            .await
            .result
            .unwrap();
        event.push(start.elapsed());
    }
    let (raw50, hook50, event50) = (
        percentile(&mut raw, 0.5),
        percentile(&mut hook, 0.5),
        percentile(&mut event, 0.5),
    );
    println!("hook overhead over a raw spawn of /bin/true, {runs} runs each, interleaved");
    println!(
        "  raw spawn          p50 {:.3} ms  p90 {:.3} ms",
        ms(raw50),
        ms(percentile(&mut raw, 0.9))
    );
    println!(
        "  hook runner        p50 {:.3} ms  p90 {:.3} ms  overhead p50 {:+.3} ms",
        ms(hook50),
        ms(percentile(&mut hook, 0.9)),
        ms(hook50) - ms(raw50)
    );
    println!(
        "  lifecycle event    p50 {:.3} ms  p90 {:.3} ms  overhead p50 {:+.3} ms  (AppSpec read + logs + runner)",
        ms(event50),
        ms(percentile(&mut event, 0.9)),
        ms(event50) - ms(raw50)
    );
}

/// `VmRSS` or `VmHWM` of a process, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn process_memory(bundle_mib: usize) {
    let binary = Path::new(env!("CARGO_BIN_EXE_ferry-agent"));
    let size = fs::metadata(binary).unwrap().len();
    println!(
        "ferry-agent binary: {:.1} MiB ({})",
        size as f64 / MIB as f64,
        binary.display()
    );

    let mut server = support::Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("credential");
    fs::write(&credential, "ferry_ic_bench\n").unwrap();
    let mut child = std::process::Command::new(binary)
        .arg("run")
        .args(["--orchestrator-endpoint", &server.endpoint])
        .args(["--instance-name", "bench-1"])
        .arg("--credential-file")
        .arg(&credential)
        .arg("--deployment-root")
        .arg(dir.path().join("root"))
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut side = server.accept().await;
    side.handshake().await;
    // Idle: settled on an open session, after a few heartbeats went both ways.
    let mut beats = 0;
    while beats < 3 {
        if let Some(Ok(Some(message))) =
            tokio::time::timeout(Duration::from_secs(5), side.requests.message())
                .await
                .ok()
            && matches!(
                message.message,
                Some(session_request::Message::Heartbeat(_))
            )
        {
            beats += 1;
        }
    }
    println!(
        "idle on an open session: RSS {:.1} MiB (peak so far {:.1} MiB)",
        status_kib(pid, "VmRSS:") as f64 / 1024.0,
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );

    let mut data = vec![0u8; bundle_mib * MIB];
    rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut data);
    let mut builder = tar::Builder::new(Vec::with_capacity(data.len() + MIB));
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "blob.bin", data.as_slice())
        .unwrap();
    builder
        .append_data(
            &mut tar_header(22),
            "appspec.yml",
            &b"version: 0.0\nos: linux\n"[..],
        )
        .unwrap();
    drop(data);
    let bundle = builder.into_inner().unwrap();
    let revision = server.upload(&bundle).await;
    drop(bundle);

    let _ = fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let start = Instant::now();
    side.send(session_response::Message::Command(support::command(
        "c-download",
        "d-BIG",
        "DownloadBundle",
        &revision,
    )));
    let result = side.result_of("c-download").await;
    let elapsed = start.elapsed();
    assert_eq!(
        LifecycleEventStatus::try_from(result.status).unwrap(),
        LifecycleEventStatus::Succeeded,
        "{result:?}"
    );
    println!(
        "DownloadBundle of a {bundle_mib} MiB bundle (download, sha256, unpack): {:.2} s, {:.0} MiB/s, peak RSS {:.1} MiB",
        elapsed.as_secs_f64(),
        bundle_mib as f64 / elapsed.as_secs_f64(),
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn tar_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header
}
