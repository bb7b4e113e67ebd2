//! Running one AppSpec hook script, the way CodeDeploy's agent does, with a few fixes.
//!
//! What is CodeDeploy's behaviour, kept here:
//! - the script is found at its `location` relative to the revision's root (a leading `/`
//!   is still relative); a missing one is `ScriptMissing`; one without execute bits is
//!   `chmod +x`'ed first, and `ScriptNotExecutable` if that fails;
//! - it is executed directly (its `#!` line picks the interpreter), with the agent's
//!   environment plus the deployment's variables, in a process group of its own;
//! - a script that outlives its `timeout` is `ScriptTimedOut`; a non-zero exit is
//!   `ScriptFailed`; a script that exits but leaves its stdout or stderr open (a background
//!   process inherited them) keeps the event waiting until the timeout, then fails with
//!   `UnknownError` "failed to close STDOUT";
//! - `runas` runs it as another local user, with that user's `HOME`, `USER`, `LOGNAME` and
//!   `SHELL`.
//!
//! What ferry does differently:
//! - the working directory is the revision's root (CodeDeploy leaves the agent's own
//!   working directory), so `./other-script.sh` works;
//! - output is streamed to an [`OutputSink`] line by line as it is produced, not only kept
//!   as a log tail; a line longer than [`MAX_LINE`] bytes is delivered in pieces;
//! - on a timeout, a cancellation, or output left open, the whole process group gets SIGTERM,
//!   then SIGKILL after a grace period (CodeDeploy sends SIGTERM only, and nothing when
//!   output is left open), so no child or grandchild in the group survives. As with
//!   CodeDeploy, a process that leaves the group (`setsid`, a daemonizing double fork with
//!   `setsid`) escapes; that is how a hook starts a service meant to outlive it;
//! - a `location` containing `..` is refused rather than followed out of the revision;
//! - `runas` is done by the agent itself (no `sudo su`): `/etc/passwd` is read directly (see
//!   [`crate::users`]), and the user's primary group is set but **supplementary groups are
//!   not**: std clears them when it changes the uid, and setting them needs either an
//!   unstable std API or `unsafe` code, which this workspace forbids. A `runas` naming the
//!   agent's own user changes no ids.

mod group;
mod lines;
mod process;
mod resolve;

use std::path::Path;
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::process::Command;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::outcome::{ErrorCode, Failure};
use crate::output::{OutputSink, Stream};
use crate::users::Accounts;

use group::Group;
pub use lines::MAX_LINE;
use process::{cancelled, exit_result, seconds, spawn};
pub use resolve::{locate, resolve};

/// The default time between SIGTERM and SIGKILL when a script's process group is ended.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);
/// After the group has been ended, how long to keep reading output a process that left the
/// group may still hold open, before giving up on it.
const LINGER: Duration = Duration::from_millis(500);

/// One hook script to run.
#[derive(Clone, Copy, Debug)]
pub struct Script<'a> {
    /// The `location` from the AppSpec, relative to the bundle root (may start with `/`,
    /// which is still bundle-relative, as CodeDeploy treats it).
    pub location: &'a str,
    /// The unpacked revision (the deployment-archive directory). Also the script's working
    /// directory.
    pub bundle_root: &'a Path,
    /// Counted from the moment the script is started.
    pub timeout: Duration,
    /// The local user to run the script as, by name or numeric id.
    pub runas: Option<&'a str>,
}

/// Runs hook scripts. Cheap to clone; one can run many scripts, concurrently too.
#[derive(Clone, Debug)]
pub struct Runner {
    accounts: Accounts,
    kill_grace: Duration,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new(Accounts::default())
    }
}

/// Why a script was stopped before it ended on its own.
enum Stop {
    TimedOut,
    Cancelled,
    /// Exited, but this output was still open at the timeout.
    LeftOpen(&'static str),
    WaitFailed(std::io::Error),
}

impl Runner {
    pub fn new(accounts: Accounts) -> Self {
        Self {
            accounts,
            kill_grace: DEFAULT_KILL_GRACE,
        }
    }

    /// The time between SIGTERM and SIGKILL when a script's process group is ended.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Runs the script to completion, delivering its output to `sink` line by line. `env`
    /// is added to the agent's own environment (overriding same names, and the variables
    /// `runas` sets). Every failure names the script (`Failure::script`). When `cancel`
    /// fires, the script's process group is ended and the failure is `UnknownError` "was
    /// cancelled"; the caller adds the reason. Dropping the returned future kills the
    /// script's process group (SIGKILL, no grace).
    pub async fn run(
        &self,
        script: &Script<'_>,
        env: &[(String, String)],
        sink: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        let location = script.location;
        let path = locate(script.bundle_root, location)?;
        resolve::ensure_executable(&path, location)?;

        let cwd = std::path::absolute(script.bundle_root)
            .unwrap_or_else(|_| script.bundle_root.to_path_buf());
        let mut command = Command::new(&path);
        command
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(name) = script.runas {
            self.run_as(&mut command, name, location)?;
        }
        command.envs(env.iter().map(|(name, value)| (name, value)));

        if cancel.is_cancelled() {
            return Err(cancelled(location));
        }
        let mut child = spawn(&mut command, location, script.runas).await?;
        let started = Instant::now();
        // A timeout too large to add is as good as none (a century).
        let deadline = started
            .checked_add(script.timeout)
            .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 86_400));
        let Some(mut group) = child.id().and_then(Group::led_by) else {
            return Err(Failure::unknown(format!(
                "Script at specified location: {location} was started but its process id is unknown"
            ))
            .script(location));
        };
        tracing::debug!(location, pid = child.id(), "hook script started");

        let mut out = pin!(drain(child.stdout.take(), Stream::Stdout, location, sink));
        let mut err = pin!(drain(child.stderr.take(), Stream::Stderr, location, sink));
        let (mut out_open, mut err_open) = (true, true);
        let mut status: Option<ExitStatus> = None;
        let mut timer = pin!(tokio::time::sleep_until(deadline));

        let stop = loop {
            if status.is_some() && !out_open && !err_open {
                break None;
            }
            tokio::select! {
                exit = child.wait(), if status.is_none() => match exit {
                    Ok(exit) => status = Some(exit),
                    Err(e) => break Some(Stop::WaitFailed(e)),
                },
                () = &mut out, if out_open => out_open = false,
                () = &mut err, if err_open => err_open = false,
                () = &mut timer => break Some(match status {
                    Some(_) => Stop::LeftOpen(if out_open { "STDOUT" } else { "STDERR" }),
                    None => Stop::TimedOut,
                }),
                () = cancel.cancelled() => break Some(Stop::Cancelled),
            }
        };

        let Some(stop) = stop else {
            // Ended on its own; whatever it left in the background (output redirected) is
            // meant to keep running.
            group.disarm();
            return match status {
                Some(exit) => exit_result(exit, location),
                None => Ok(()), // unreachable: the loop only ends this way with a status
            };
        };

        // End the group, still delivering what it writes meanwhile.
        {
            let mut kill = pin!(group.terminate(&mut child, &mut status, self.kill_grace));
            loop {
                tokio::select! {
                    () = &mut kill => break,
                    () = &mut out, if out_open => out_open = false,
                    () = &mut err, if err_open => err_open = false,
                }
            }
        }
        // The pipes close once the group is gone, unless a process that left it holds them.
        let rest = async {
            if out_open {
                out.await;
            }
            if err_open {
                err.await;
            }
        };
        if tokio::time::timeout(LINGER, rest).await.is_err() {
            tracing::warn!(
                location,
                "a process outside the script's process group still holds its output; no longer reading it"
            );
        }

        let failure = match stop {
            Stop::TimedOut => Failure::new(
                ErrorCode::ScriptTimedOut,
                format!(
                    "Script at specified location: {location} failed to complete in {} seconds",
                    seconds(script.timeout)
                ),
            ),
            Stop::Cancelled => return Err(cancelled(location)),
            Stop::LeftOpen(stream) => Failure::unknown(format!(
                "Script at specified location: {location} failed to close {stream}: a background \
                 process it started still holds its output; redirect the output of background \
                 processes (`command > /dev/null 2>&1 &`)"
            )),
            Stop::WaitFailed(e) => Failure::unknown(format!(
                "Script at specified location: {location} could not be waited for: {e}"
            )),
        };
        Err(failure.script(location))
    }

    /// Sets up `command` to run as the local user `name`.
    fn run_as(&self, command: &mut Command, name: &str, location: &str) -> Result<(), Failure> {
        let user = self
            .accounts
            .user(name)
            .map_err(|e| {
                Failure::unknown(format!("cannot look up the runas user {name}: {e}"))
                    .script(location)
            })?
            .ok_or_else(|| {
                Failure::unknown(format!(
                    "Script at specified location: {location} cannot run as user {name}: no such local user"
                ))
                .script(location)
            })?;
        if user.uid != rustix::process::geteuid().as_raw() {
            command.uid(user.uid).gid(user.gid);
        }
        command
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name)
            .env("SHELL", &user.shell);
        Ok(())
    }
}

/// Reads one output pipe to its end, line by line into `sink`.
async fn drain<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    stream: Stream,
    location: &str,
    sink: &dyn OutputSink,
) {
    let Some(pipe) = pipe else { return };
    if let Err(e) = lines::read_lines(pipe, |text| sink.line(location, stream, text)).await {
        tracing::warn!(
            location,
            stream = stream.as_str(),
            "cannot read the script's output: {e}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let runner = Runner::default();
        let root = Path::new("/nonexistent");
        let script = Script {
            location: "x.sh",
            bundle_root: root,
            timeout: Duration::from_secs(1),
            runas: None,
        };
        let cancel = CancellationToken::new();
        let future = runner.run(&script, &[], &crate::output::Discard, &cancel);
        assert_send(&future);
    }
}
