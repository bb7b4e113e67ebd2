//! Helpers for the end-to-end tests in `tests/tests/`: they start the real ferry binaries as
//! processes, as a user or a script would.

#![allow(clippy::expect_used)] // Test harness: a failed expect is the failure report.

pub mod bundle;
pub mod deploy;
pub mod processes;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A connected channel to a service's address.
pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("an http uri")
        .connect()
        .await
        .expect("connect")
}

/// Polls grpc.health.v1 until `service` ("" for the whole server) is SERVING, or fails after
/// 30 s.
pub async fn wait_serving(channel: tonic::transport::Channel, service: &str) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .map(|r| r.into_inner().status);
        if matches!(status, Ok(s) if s == ServingStatus::Serving as i32) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{service:?} never became SERVING: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The directory cargo put the workspace's binaries in (`target/debug` for `cargo test`).
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FERRY_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // The test executable is target/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned()
}

/// The path of a workspace binary, with a clear message when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// A running service process, killed when dropped. Its log lines (stderr) are collected.
pub struct Service {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
}

impl Service {
    /// Starts `command` with stderr captured.
    pub fn start(mut command: Command) -> Self {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn service");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits (up to `timeout`) for a log line containing `needle`, and returns it.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} within {timeout:?}; log so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Waits for the "listening for grpc" line and returns the address it names.
    pub fn wait_for_address(&mut self) -> SocketAddr {
        let line = self.wait_for_line("listening for grpc", Duration::from_secs(60));
        let address = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("address="))
            .unwrap_or_else(|| panic!("no address= in {line:?}"));
        address
            .parse()
            .unwrap_or_else(|e| panic!("{address:?}: {e}"))
    }

    /// The same, for a service logging JSON lines.
    pub fn wait_for_address_json(&mut self) -> SocketAddr {
        let line = self.wait_for_line("listening for grpc", Duration::from_secs(60));
        let start = line
            .find("\"address\":\"")
            .map(|i| i + "\"address\":\"".len());
        let address = start
            .and_then(|s| line[s..].split('"').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        address
            .parse()
            .unwrap_or_else(|e| panic!("{address:?}: {e}"))
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the process to exit; returns its status.
    /// Async, so that the test's own gRPC connections keep running and can see the server's
    /// GOAWAY: blocking the runtime here would hold the server's drain open.
    pub async fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {timeout:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
