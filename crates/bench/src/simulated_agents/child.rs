//! The servers under test run in child processes (this binary re-executed with the hidden
//! `--child` argument) so that their memory and CPU are their own, read from /proc (see
//! [`crate::system`]).

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// What a child prints on stdout once it serves, before its address.
const LISTENING: &str = "listening ";

/// Entry point of `ferry-bench --child <spec>`: `orchestrator:<config path>` or `bare`.
pub fn main(spec: &str) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ferry-bench child: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match spec.split_once(':').unwrap_or((spec, "")) {
            ("orchestrator", config) => super::ferry::serve_child(config).await,
            ("bare", _) => super::bare::serve_child().await,
            _ => anyhow::bail!("unknown child {spec:?}"),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferry-bench child {spec}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// In a child: announces the address it serves on.
pub fn announce(address: std::net::SocketAddr) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{LISTENING}{address}");
    let _ = stdout.flush();
}

/// In a child: the lines the bench writes on stdin; it ends when the bench closes stdin (or
/// goes away), which is the child's signal to stop.
pub fn commands() -> Lines<BufReader<tokio::io::Stdin>> {
    BufReader::new(tokio::io::stdin()).lines()
}

/// A running child, killed and waited for when stopped or dropped.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    pub endpoint: String,
    pub pid: u32,
}

impl Server {
    /// Starts `ferry-bench --child <spec>` and waits for its address.
    pub async fn start(spec: &str) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("--child")
            .arg(spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the {spec} child"))?;
        let pid = child.id().context("the child has no pid")?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .with_context(|| format!("the {spec} child did not start within 60 s"))??
            .with_context(|| format!("the {spec} child exited before serving"))?;
        let address = line
            .strip_prefix(LISTENING)
            .with_context(|| format!("unexpected line from the {spec} child: {line:?}"))?;
        Ok(Self {
            child,
            stdin,
            stdout,
            endpoint: format!("http://{address}"),
            pid,
        })
    }

    /// Writes one command line on the child's stdin.
    pub async fn send(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// The child's next line on stdout.
    pub async fn line(&mut self, within: Duration) -> anyhow::Result<String> {
        tokio::time::timeout(within, self.stdout.next_line())
            .await
            .context("the child did not answer")??
            .context("the child exited")
    }

    /// Closes stdin (the child's signal to exit), then kills it if it has not within 5 s.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
