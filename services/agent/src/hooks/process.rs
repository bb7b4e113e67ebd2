//! Starting a script, and what its end means in CodeDeploy's terms.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::outcome::{ErrorCode, Failure};

/// How many times to try exec'ing a script that is busy ("Text file busy": another thread
/// forked while the file was open for writing; the window is short).
const SPAWN_ATTEMPTS: u32 = 10;

/// Spawns the script, retrying briefly while its file is busy.
pub(super) async fn spawn(
    command: &mut Command,
    location: &str,
    runas: Option<&str>,
) -> Result<Child, Failure> {
    let mut attempt = 1;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && attempt < SPAWN_ATTEMPTS =>
            {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(spawn_failure(&e, location, runas)),
        }
    }
}

fn spawn_failure(e: &std::io::Error, location: &str, runas: Option<&str>) -> Failure {
    use rustix::io::Errno;
    let errno = e.raw_os_error().map(Errno::from_raw_os_error);
    let hint = match errno {
        Some(Errno::NOENT) => " (is the interpreter named on its #! line installed?)",
        Some(Errno::NOEXEC) => " (does it start with a #! line?)",
        Some(Errno::ACCESS) if runas.is_some() => {
            " (can that user enter the deployment directory and read and execute the script?)"
        }
        _ => "",
    };
    let user = runas.map(|u| format!(" as user {u}")).unwrap_or_default();
    Failure::new(
        ErrorCode::ScriptFailed,
        format!("Script at specified location: {location} could not be started{user}: {e}{hint}"),
    )
    .script(location)
}

pub(super) fn exit_result(exit: ExitStatus, location: &str) -> Result<(), Failure> {
    let message = match (exit.code(), exit.signal()) {
        (Some(0), _) => return Ok(()),
        (Some(code), _) => {
            format!("Script at specified location: {location} failed with exit code {code}")
        }
        (None, Some(signal)) => format!(
            "Script at specified location: {location} was killed by signal {signal}{}",
            signal_name(signal)
                .map(|name| format!(" ({name})"))
                .unwrap_or_default()
        ),
        (None, None) => format!("Script at specified location: {location} failed ({exit})"),
    };
    Err(Failure::new(ErrorCode::ScriptFailed, message).script(location))
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

pub(super) fn cancelled(location: &str) -> Failure {
    Failure::unknown(format!(
        "Script at specified location: {location} was cancelled"
    ))
    .script(location)
}

/// A timeout in seconds as CodeDeploy prints it: whole seconds, or a decimal when shorter.
pub(super) fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        return duration.as_secs().to_string();
    }
    let text = format!("{:.3}", duration.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_printed_like_codedeploy() {
        assert_eq!(seconds(Duration::from_secs(3600)), "3600");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25");
    }

    #[test]
    fn exit_statuses_become_failures() {
        assert_eq!(exit_result(ExitStatus::from_raw(0), "a.sh"), Ok(()));
        let failed = exit_result(ExitStatus::from_raw(3 << 8), "a.sh").unwrap_err();
        assert_eq!(failed.code, ErrorCode::ScriptFailed);
        assert_eq!(
            failed.message,
            "Script at specified location: a.sh failed with exit code 3"
        );
        assert_eq!(failed.script.as_deref(), Some("a.sh"));
        let killed = exit_result(ExitStatus::from_raw(9), "a.sh").unwrap_err();
        assert_eq!(
            killed.message,
            "Script at specified location: a.sh was killed by signal 9 (SIGKILL)"
        );
    }
}
