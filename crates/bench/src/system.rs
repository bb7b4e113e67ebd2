//! Figures of processes and of the machine, read from /proc (Linux), and this process's
//! limit of open files. Every scenario reads them through here.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// A process whose figures are read: this one (`/proc/self`) or another by pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    /// The bench process itself.
    Current,
    /// Another process.
    Pid(u32),
}

impl Process {
    /// `/proc/<pid>/<file>`, or `/proc/self/<file>`.
    fn file(self, file: &str) -> PathBuf {
        match self {
            Self::Current => PathBuf::from(format!("/proc/self/{file}")),
            Self::Pid(pid) => PathBuf::from(format!("/proc/{pid}/{file}")),
        }
    }
}

/// A field of /proc/<pid>/status in KiB (`field` with its colon, e.g. `"VmHWM:"`); `None`
/// when the process or the field is gone.
pub fn status_kib(process: Process, field: &str) -> Option<u64> {
    std::fs::read_to_string(process.file("status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// VmRSS of `process` in KiB once it has settled: sampled every 100 ms until five samples in
/// a row lie within 0.5 % (at least 256 KiB) of each other, or 20 s have gone by. A sample
/// that cannot be read counts as 0.
pub async fn settled_rss(process: Process) -> u64 {
    const WINDOW: usize = 5;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut samples: Vec<u64> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticker.tick().await;
        samples.push(status_kib(process, "VmRSS:").unwrap_or(0));
        if samples.len() >= WINDOW {
            let window = &samples[samples.len() - WINDOW..];
            let (min, max) = (
                window.iter().copied().min().unwrap_or(0),
                window.iter().copied().max().unwrap_or(0),
            );
            if max - min <= (max / 200).max(256) || Instant::now() > deadline {
                return max;
            }
        }
    }
}

/// Resets VmHWM to the current RSS, so that it is the peak from here on.
pub fn reset_peak(process: Process) {
    let _ = std::fs::write(process.file("clear_refs"), "5");
}

/// The user and system CPU time of `process`, from /proc/<pid>/stat (in USER_HZ, 100 a
/// second on Linux).
pub fn cpu_times(process: Process) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(process.file("stat")).ok()?;
    // The fields after the command name, which is in parentheses: state is the first, utime
    // the 12th and stime the 13th.
    let mut fields = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((
        Duration::from_millis(user * 10),
        Duration::from_millis(system * 10),
    ))
}

/// User + system CPU time of `process`; zero when it cannot be read.
pub fn cpu(process: Process) -> Duration {
    cpu_times(process).map_or(Duration::ZERO, |(user, system)| user + system)
}

/// CPU time of every process named `command` (its `comm`), e.g. the backends of a
/// PostgreSQL server.
pub fn cpu_of_command(command: &str) -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == command)
        })
        .map(|pid| cpu(Process::Pid(pid)))
        .sum()
}

/// The bytes `process` caused to be written to storage (`write_bytes` of /proc/<pid>/io).
pub fn storage_writes(process: Process) -> Option<u64> {
    let io = std::fs::read_to_string(process.file("io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// The machine's load average over the last minute (/proc/loadavg).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Raises this process's soft limit of open files to its hard limit (children inherit it)
/// and checks it leaves room for `connections` sockets plus some to spare.
pub fn raise_file_limit(connections: usize) -> anyhow::Result<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = rustix::process::Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).context("cannot raise RLIMIT_NOFILE")?;
    let soft = limit.maximum.unwrap_or(u64::MAX);
    let needed = connections as u64 + 512;
    anyhow::ensure!(
        soft >= needed,
        "{connections} agents need {needed} open files in this process and in the server's, \
         but the hard limit (ulimit -Hn) is {soft}"
    );
    Ok(soft)
}
