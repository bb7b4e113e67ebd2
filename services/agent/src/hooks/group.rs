//! The process group a hook script runs in, and ending it: SIGTERM, a grace period, SIGKILL.

use std::process::ExitStatus;
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use tokio::process::Child;
use tokio::time::Instant;

/// How often to look whether the group is empty while ending it.
const POLL: Duration = Duration::from_millis(20);
/// How long to wait for the group to disappear after SIGKILL. Only a process in
/// uninterruptible sleep outlasts this (or unreaped zombies, when `/proc` cannot tell them
/// apart); the agent then goes on rather than hang.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// The process group of a running script (its id is the script's pid). While armed, dropping
/// it sends SIGKILL to the whole group, so a run that is abandoned (its future dropped)
/// leaves nothing behind.
pub(super) struct Group {
    pgid: Pid,
    armed: bool,
}

impl Group {
    /// The group led by the process `pid` (spawned with `process_group(0)`).
    pub(super) fn led_by(pid: u32) -> Option<Self> {
        let pgid = Pid::from_raw(i32::try_from(pid).ok()?)?;
        Some(Self { pgid, armed: true })
    }

    /// Leaves the group alone from now on: the script ended normally, and what it left
    /// running in the background (with its output redirected) is meant to keep running.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }

    /// Ends every process in the group: SIGTERM, then SIGKILL if any is still there after
    /// `grace`. Reaps `child` (the group leader) on the way, recording its status.
    pub(super) async fn terminate(
        &mut self,
        child: &mut Child,
        status: &mut Option<ExitStatus>,
        grace: Duration,
    ) {
        tracing::debug!(
            pgid = self.pgid.as_raw_pid(),
            "sending SIGTERM to the script's process group"
        );
        self.signal(Signal::TERM);
        if !self.wait_empty(child, status, grace).await {
            tracing::info!(
                pgid = self.pgid.as_raw_pid(),
                grace_ms = grace.as_millis(),
                "script's process group outlived SIGTERM; sending SIGKILL"
            );
            self.signal(Signal::KILL);
            if !self.wait_empty(child, status, AFTER_KILL).await {
                tracing::warn!(
                    pgid = self.pgid.as_raw_pid(),
                    "script's process group still exists after SIGKILL (a process in uninterruptible sleep?)"
                );
            }
        }
        self.armed = false;
    }

    fn signal(&self, signal: Signal) {
        match kill_process_group(self.pgid, signal) {
            Ok(()) | Err(Errno::SRCH) => {}
            Err(e) => tracing::warn!(
                pgid = self.pgid.as_raw_pid(),
                "cannot signal the script's process group: {e}"
            ),
        }
    }

    /// Whether any process is left in the group, zombies aside.
    fn alive(&self) -> bool {
        // EPERM: some member exists but changed its ids (a setuid program); still alive.
        if matches!(test_kill_process_group(self.pgid), Err(Errno::SRCH)) {
            return false;
        }
        // The kernel counts zombies as members until they are reaped, which is up to init
        // for orphans: a slow or absent reaper (the agent as PID 1 in a container) would
        // make every group look alive. /proc tells zombies apart.
        !only_zombies(self.pgid.as_raw_pid())
    }

    /// Waits up to `limit` for the group to be empty, reaping the leader meanwhile (its
    /// zombie would otherwise keep the group alive). Returns whether it emptied.
    async fn wait_empty(
        &self,
        child: &mut Child,
        status: &mut Option<ExitStatus>,
        limit: Duration,
    ) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if status.is_none()
                && let Ok(Some(exit)) = child.try_wait()
            {
                *status = Some(exit);
            }
            if !self.alive() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
    }
}

/// Whether `/proc` shows members of the group `pgid`, all of them zombies. When it shows
/// none (an unreadable `/proc`, or one from another pid namespace) this says no, so the
/// caller goes by the kernel's answer rather than risk leaving a live process.
fn only_zombies(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let mut zombies = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // exited meanwhile
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (state, pgrp) = (fields.next(), fields.nth(1));
        if pgrp.and_then(|p| p.parse::<i32>().ok()) != Some(pgid) {
            continue;
        }
        if matches!(state, Some("Z" | "X")) {
            zombies = true;
        } else {
            return false;
        }
    }
    zombies
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            let _ = kill_process_group(self.pgid, Signal::KILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn zombies_are_told_apart_from_live_members() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        assert!(!only_zombies(pgid));
        child.kill().unwrap();
        // Not reaped yet: a zombie once the signal is handled.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !only_zombies(pgid) {
            assert!(
                std::time::Instant::now() < deadline,
                "never became a zombie"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait().unwrap();
        assert!(!only_zombies(pgid), "an empty group is not 'only zombies'");
    }
}
