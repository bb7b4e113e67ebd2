//! Any git remote, through the `git` program: git is on every machine ferry runs on, it is the
//! reference implementation of every transport and credential helper an operator may have
//! set up, and a pure-Rust client (gitoxide) would add minutes of compile time for less.
//!
//! In a fresh bare repository in a temporary directory: `git fetch --depth 1` of the commit
//! alone; if the remote will not serve a commit by its id (a protocol v0 server without
//! `uploadpack.allowReachableSHA1InWant`, dumb HTTP), a fetch of its branches and tags
//! instead. Then `git archive --format=tar` streams from the child's stdout as the body. git is
//! killed when the body is dropped or the time-out passes, and never asks for a password.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::Fetched;
use super::config::GitConfig;
use super::error::{FetchError, OriginKind};
use super::origin::redact_url;

/// Variables that would point git at another repository than the temporary one.
const REPOSITORY_VARIABLES: [&str; 7] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// How much of git's stderr is kept for an error message.
const STDERR_LIMIT: u64 = 16 * 1024;

pub(super) async fn fetch(
    config: &GitConfig,
    url: &str,
    commit: &str,
) -> Result<Fetched, FetchError> {
    let after = Duration::from_secs(config.timeout_secs);
    let deadline = Instant::now() + after;
    let job = Job {
        config,
        url,
        commit,
        deadline,
        after,
    };
    let dir = tempfile::Builder::new()
        .prefix("ferry-git-")
        .tempdir()
        .map_err(|e| FetchError::io("creating a directory for git", e))?;
    // A 64-hex id is a SHA-256 repository's; SHA-1 stays the default of older gits.
    let init: &[&str] = if commit.len() == 64 {
        &["init", "-q", "--bare", "--object-format=sha256"]
    } else {
        &["init", "-q", "--bare"]
    };
    job.run(dir.path(), "init", init)
        .await?
        .map_err(|stderr| git_failed("init", &stderr))?;

    job.fetch_commit(dir.path()).await?;

    let archive = ["archive", "--format=tar", commit];
    let mut child = job
        .command(dir.path(), &archive)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| FetchError::io(format!("running {}", config.binary), e))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(git_failed("archive", "no pipes to git"));
    };
    let state = Archive {
        stdout,
        stderr: tokio::spawn(read_capped(stderr)),
        child,
        _dir: dir,
        deadline,
        after,
        what: job.describe(),
        done: false,
    };
    let body = futures::stream::unfold(state, Archive::next).boxed();
    Ok(Fetched {
        body,
        size: None,
        e_tag: None,
    })
}

struct Job<'a> {
    config: &'a GitConfig,
    url: &'a str,
    commit: &'a str,
    deadline: Instant,
    after: Duration,
}

impl Job<'_> {
    /// Brings the commit into the repository at `dir`: by its id alone when the remote
    /// allows it, else with the remote's branches and tags.
    async fn fetch_commit(&self, dir: &Path) -> Result<(), FetchError> {
        let by_id = [
            "fetch",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            "--no-recurse-submodules",
            "--",
            self.url,
            self.commit,
        ];
        if let Err(stderr) = self.run(dir, "fetch", &by_id).await? {
            // The remote itself failed: no point asking it again.
            if let Some(err) = self.remote_error(&stderr) {
                return Err(err);
            }
            tracing::debug!(
                url = %redact_url(self.url),
                "fetch by commit id refused, fetching branches and tags"
            );
            let refs = [
                "fetch",
                "-q",
                "--no-tags",
                "--no-recurse-submodules",
                "--",
                self.url,
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            ];
            if let Err(stderr) = self.run(dir, "fetch", &refs).await? {
                return Err(self
                    .remote_error(&stderr)
                    .unwrap_or_else(|| FetchError::Origin {
                        origin: OriginKind::Git,
                        message: self.fatal_line(&stderr),
                    }));
            }
        }
        // Also refuses a tree or blob id, which git archive would take.
        let exists = ["cat-file", "-e", &format!("{}^{{commit}}", self.commit)];
        if self.run(dir, "cat-file", &exists).await?.is_err() {
            return Err(self.not_found(format!("commit {} of", self.commit)));
        }
        Ok(())
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.config.binary);
        for var in REPOSITORY_VARIABLES {
            cmd.env_remove(var);
        }
        // Only these transports, whatever a redirect, a submodule or the system config says;
        // no prompts (GIT_ASKPASS empty falls through to the disabled terminal prompt), no
        // hooks from a template directory.
        cmd.args(["-c", "protocol.allow=never"]);
        for scheme in ["file", "http", "https", "ssh"] {
            cmd.args(["-c", &format!("protocol.{scheme}.allow=always")]);
        }
        cmd.args(["-c", "core.hooksPath=/dev/null"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "");
        // Killing git leaves its transport helper (git-remote-https, ssh) to notice on its
        // own: a transfer stalled for a minute ends it rather than a dead TCP connection.
        cmd.args(["-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=60"]);
        if std::env::var_os("GIT_SSH_COMMAND").is_none() && std::env::var_os("GIT_SSH").is_none() {
            cmd.env(
                "GIT_SSH_COMMAND",
                "ssh -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=4",
            );
        }
        if args.first() == Some(&"init") {
            cmd.args(args).arg(dir);
        } else {
            cmd.arg("--git-dir").arg(dir).args(args);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs one git step to its end: `Ok(Err(stderr))` when git said no.
    async fn run(
        &self,
        dir: &Path,
        stage: &'static str,
        args: &[&str],
    ) -> Result<Result<(), String>, FetchError> {
        let child = self
            .command(dir, args)
            .spawn()
            .map_err(|e| FetchError::io(format!("running {}", self.config.binary), e))?;
        // On time-out the future, and with it the child, is dropped: kill_on_drop kills it.
        let output = timeout_at(self.deadline, child.wait_with_output())
            .await
            .map_err(|_| FetchError::TimedOut {
                what: format!("git {stage} of {}", self.describe()),
                after: self.after,
            })?
            .map_err(|e| FetchError::io(format!("waiting for git {stage}"), e))?;
        if output.status.success() {
            Ok(Ok(()))
        } else {
            Ok(Err(String::from_utf8_lossy(&output.stderr).into_owned()))
        }
    }

    /// The remote's own failure in git's words, when it is one: the repository is not there,
    /// the credentials are refused, or the host cannot be reached.
    fn remote_error(&self, stderr: &str) -> Option<FetchError> {
        let text = stderr.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
        if any(&[
            "does not appear to be a git repository",
            "repository not found",
            "returned error: 404",
        ]) {
            Some(self.not_found(String::new()))
        } else if any(&[
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "permission denied (publickey",
            "returned error: 401",
            "returned error: 403",
        ]) {
            Some(FetchError::Unauthorized {
                origin: OriginKind::Git,
                what: redact_url(self.url),
                message: self.fatal_line(stderr),
            })
        } else if any(&[
            "could not resolve host",
            "connection refused",
            "couldn't connect",
            "failed to connect",
            "connection timed out",
            "network is unreachable",
            "no route to host",
        ]) {
            Some(FetchError::Origin {
                origin: OriginKind::Git,
                message: self.fatal_line(stderr),
            })
        } else {
            None
        }
    }

    fn not_found(&self, prefix: String) -> FetchError {
        let what = format!("{prefix} git repository {}", redact_url(self.url));
        FetchError::NotFound {
            what: what.trim_start().to_owned(),
        }
    }

    /// git's first `fatal:` line (else its first line), without the URL's credentials.
    fn fatal_line(&self, stderr: &str) -> String {
        let line = stderr
            .lines()
            .find(|l| l.starts_with("fatal:"))
            .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("git failed without a message");
        line.replace(self.url, &redact_url(self.url))
    }

    fn describe(&self) -> String {
        format!("{}@{}", redact_url(self.url), self.commit)
    }
}

/// The body's state: git archive running, its output read in chunks as the caller asks.
struct Archive {
    stdout: ChildStdout,
    stderr: JoinHandle<String>,
    child: Child,
    /// Removed when the body is dropped, after git is killed.
    _dir: TempDir,
    deadline: Instant,
    after: Duration,
    what: String,
    done: bool,
}

impl Archive {
    async fn next(mut self) -> Option<(Result<bytes::Bytes, FetchError>, Self)> {
        if self.done {
            return None;
        }
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let read = timeout_at(self.deadline, self.stdout.read_buf(&mut buf)).await;
        let item = match read {
            Ok(Ok(0)) => self.finish().await?,
            Ok(Ok(_)) => return Some((Ok(buf.freeze()), self)),
            Ok(Err(e)) => FetchError::io("reading git archive", e),
            Err(_) => self.timed_out(),
        };
        self.done = true;
        Some((Err(item), self))
    }

    /// End of output: the tar is whole only if git exits 0. `None` means it did.
    async fn finish(&mut self) -> Option<FetchError> {
        self.done = true;
        let status = match timeout_at(self.deadline, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Some(FetchError::io("waiting for git archive", e)),
            Err(_) => return Some(self.timed_out()),
        };
        if status.success() {
            return None;
        }
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        Some(git_failed("archive", stderr.lines().next().unwrap_or("")))
    }

    fn timed_out(&self) -> FetchError {
        FetchError::TimedOut {
            what: format!("git archive of {}", self.what),
            after: self.after,
        }
    }
}

/// The start of git's stderr; the rest is read and dropped, so git never blocks on the pipe.
async fn read_capped(mut stderr: impl AsyncRead + Unpin) -> String {
    let mut text = Vec::new();
    let _ = (&mut stderr)
        .take(STDERR_LIMIT)
        .read_to_end(&mut text)
        .await;
    let _ = tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await;
    String::from_utf8_lossy(&text).into_owned()
}

fn git_failed(stage: &'static str, stderr: &str) -> FetchError {
    FetchError::Git {
        stage,
        message: stderr.trim().to_owned(),
    }
}
