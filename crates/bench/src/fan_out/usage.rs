//! What the bench process spent (CPU time, storage writes) between two moments.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::stats::millis;
use crate::system::{self, Process};

/// The bench process's CPU time and storage writes at one moment.
pub(super) struct Usage {
    at: Instant,
    /// User and system time.
    cpu: Option<(Duration, Duration)>,
    /// Bytes the process caused to be written to storage (`write_bytes` of /proc/self/io).
    written: Option<u64>,
}

/// What the bench process spent between two moments.
pub(super) struct Spent {
    wall: Duration,
    cpu: Option<(Duration, Duration)>,
    written: Option<u64>,
}

impl Usage {
    pub(super) fn now() -> Self {
        Self {
            at: Instant::now(),
            cpu: system::cpu_times(Process::Current),
            written: system::storage_writes(Process::Current),
        }
    }

    pub(super) fn since(&self) -> Spent {
        let now = Self::now();
        Spent {
            wall: now.at - self.at,
            cpu: self
                .cpu
                .zip(now.cpu)
                .map(|((u0, s0), (u1, s1))| (u1.saturating_sub(u0), s1.saturating_sub(s0))),
            written: self
                .written
                .zip(now.written)
                .map(|(w0, w1)| w1.saturating_sub(w0)),
        }
    }
}

impl Spent {
    /// `user / sys s (N% of C cores), X GiB written`.
    pub(super) fn describe(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let cpu = self.cpu.map_or_else(
            || "CPU unknown".to_owned(),
            |(user, system)| {
                let busy = (user + system).as_secs_f64()
                    / (self.wall.as_secs_f64() * cores as f64).max(f64::EPSILON);
                format!(
                    "user {:.1} s + sys {:.1} s ({:.0}% of {cores} cores)",
                    user.as_secs_f64(),
                    system.as_secs_f64(),
                    busy * 100.0
                )
            },
        );
        match self.written {
            Some(bytes) => format!(
                "{cpu}, {:.1} GiB written",
                bytes as f64 / (1u64 << 30) as f64
            ),
            None => cpu,
        }
    }

    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "wall_ms": millis(self.wall),
            "cpu_user_ms": self.cpu.map(|(user, _)| millis(user)),
            "cpu_system_ms": self.cpu.map(|(_, system)| millis(system)),
            "storage_write_bytes": self.written,
        })
    }
}
