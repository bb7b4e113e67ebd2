//! Hook scripts, run for real: shell scripts in temporary bundles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferry_agent::hooks::{MAX_LINE, Runner, Script};
use ferry_agent::outcome::{ErrorCode, Failure};
use ferry_agent::output::{OutputSink, Stream};
use ferry_agent::users::Accounts;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// Keeps every line, with the script and stream it came from.
#[derive(Default)]
struct Collect(Mutex<Vec<(String, Stream, String)>>);

impl OutputSink for Collect {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        self.0
            .lock()
            .unwrap()
            .push((script.to_owned(), stream, text.to_owned()));
    }
}

impl Collect {
    fn lines(&self, stream: Stream) -> Vec<String> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|(_, s, _)| *s == stream)
            .map(|(_, _, text)| text.clone())
            .collect()
    }
}

fn bundle() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes a bash script at `location` under `root` with the given mode.
fn write_script(root: &Path, location: &str, body: &str, mode: u32) -> PathBuf {
    let path = root.join(location.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn script<'a>(root: &'a Path, location: &'a str, timeout: Duration) -> Script<'a> {
    Script {
        location,
        bundle_root: root,
        timeout,
        runas: None,
    }
}

async fn run(
    runner: &Runner,
    script: &Script<'_>,
    env: &[(String, String)],
) -> (Result<(), Failure>, Collect) {
    let sink = Collect::default();
    let result = runner
        .run(script, env, &sink, &CancellationToken::new())
        .await;
    (result, sink)
}

fn runner() -> Runner {
    Runner::new(Accounts::default()).with_kill_grace(Duration::from_millis(500))
}

/// Whether the process is gone: no `/proc/<pid>`, or only its zombie (state Z or X).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
        }
    }
}

/// Polls until the process is gone, for up to five seconds.
async fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gone(pid)
}

/// Polls until `path` holds a whole pid (written with a newline), for up to ten seconds.
async fn wait_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text.trim().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kill(pid: i32) {
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[tokio::test]
async fn success_streams_output_env_and_working_directory() {
    let dir = bundle();
    write_script(
        dir.path(),
        "scripts/start.sh",
        r#"echo out1
echo err1 >&2
echo out2
echo err2 >&2
echo "var=$FERRY_TEST_VAR"
echo "home=$HOME"
echo "cwd=$(pwd -P)"
if read -r line; then echo "stdin=$line"; else echo "stdin closed"; fi
printf 'crlf\r\n'
printf last"#,
        0o755,
    );
    let env = [("FERRY_TEST_VAR".to_owned(), "hello world".to_owned())];
    let location = "/scripts/start.sh";
    let (result, sink) = run(
        &runner(),
        &script(dir.path(), location, Duration::from_secs(30)),
        &env,
    )
    .await;

    assert_eq!(result, Ok(()));
    let home = std::env::var("HOME").unwrap_or_default();
    let cwd = dir.path().canonicalize().unwrap();
    assert_eq!(
        sink.lines(Stream::Stdout),
        [
            "out1".to_owned(),
            "out2".to_owned(),
            "var=hello world".to_owned(),
            format!("home={home}"),
            format!("cwd={}", cwd.display()),
            "stdin closed".to_owned(),
            "crlf".to_owned(),
            "last".to_owned(),
        ]
    );
    assert_eq!(sink.lines(Stream::Stderr), ["err1", "err2"]);
    assert!(sink.0.lock().unwrap().iter().all(|(s, _, _)| s == location));
}

#[tokio::test]
async fn missing_script_is_script_missing() {
    let dir = bundle();
    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "scripts/nope.sh", Duration::from_secs(5)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptMissing);
    assert_eq!(
        failure.message,
        format!(
            "Script does not exist at specified location: {}",
            dir.path().join("scripts/nope.sh").display()
        )
    );
    assert_eq!(failure.script.as_deref(), Some("scripts/nope.sh"));
    assert!(sink.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_location_leaving_the_bundle_is_refused() {
    let outer = bundle();
    let root = outer.path().join("bundle");
    std::fs::create_dir(&root).unwrap();
    let marker = outer.path().join("ran");
    write_script(
        outer.path(),
        "evil.sh",
        &format!("touch {}", marker.display()),
        0o755,
    );

    let (result, _) = run(
        &runner(),
        &script(&root, "../evil.sh", Duration::from_secs(5)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptMissing);
    assert!(
        failure.message.contains("outside the deployment archive"),
        "{failure}"
    );
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_script_without_execute_bits_is_made_executable_and_runs() {
    let dir = bundle();
    let path = write_script(dir.path(), "run.sh", "echo ran", 0o644);

    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "run.sh", Duration::from_secs(10)),
        &[],
    )
    .await;

    assert_eq!(result, Ok(()));
    assert_eq!(sink.lines(Stream::Stdout), ["ran"]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[tokio::test]
async fn a_directory_is_not_executable() {
    let dir = bundle();
    std::fs::create_dir_all(dir.path().join("scripts/dir")).unwrap();

    let (result, _) = run(
        &runner(),
        &script(dir.path(), "scripts/dir", Duration::from_secs(5)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptNotExecutable);
    assert!(
        failure
            .message
            .starts_with("Script at specified location: scripts/dir is not executable"),
        "{failure}"
    );
    assert_eq!(failure.script.as_deref(), Some("scripts/dir"));
}

#[tokio::test]
async fn a_non_zero_exit_is_script_failed() {
    let dir = bundle();
    write_script(dir.path(), "fail.sh", "echo before\nexit 3", 0o755);

    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "fail.sh", Duration::from_secs(10)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptFailed);
    assert_eq!(
        failure.message,
        "Script at specified location: fail.sh failed with exit code 3"
    );
    assert_eq!(failure.script.as_deref(), Some("fail.sh"));
    assert_eq!(sink.lines(Stream::Stdout), ["before"]);
}

#[tokio::test]
async fn a_script_killed_by_a_signal_is_script_failed() {
    let dir = bundle();
    write_script(dir.path(), "die.sh", "kill -KILL $$", 0o755);

    let (result, _) = run(
        &runner(),
        &script(dir.path(), "die.sh", Duration::from_secs(10)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptFailed);
    assert!(
        failure.message.contains("was killed by signal 9"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_bad_interpreter_is_reported_with_the_os_error() {
    let dir = bundle();
    let path = dir.path().join("bad.sh");
    std::fs::write(&path, "#!/nonexistent/interpreter\necho hi\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (result, _) = run(
        &runner(),
        &script(dir.path(), "bad.sh", Duration::from_secs(5)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptFailed);
    assert!(
        failure.message.contains("could not be started"),
        "{failure}"
    );
    assert!(
        failure.message.contains("No such file or directory"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = bundle();
    write_script(
        dir.path(),
        "slow.sh",
        "sleep 300 &\necho $! > child.pid\necho $$ > script.pid\necho started\nsleep 60",
        0o755,
    );
    let started = Instant::now();

    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "slow.sh", Duration::from_secs(1)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::ScriptTimedOut);
    assert_eq!(
        failure.message,
        "Script at specified location: slow.sh failed to complete in 1 seconds"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sink.lines(Stream::Stdout), ["started"]);
    let child = wait_pid(&dir.path().join("child.pid")).await;
    let script_pid = wait_pid(&dir.path().join("script.pid")).await;
    assert!(wait_gone(child).await, "background child {child} survived");
    assert!(wait_gone(script_pid).await, "script {script_pid} survived");
}

#[tokio::test]
async fn a_script_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = bundle();
    write_script(
        dir.path(),
        "stubborn.sh",
        "trap '' TERM\nsleep 300 &\necho $! > child.pid\necho $$ > script.pid\nsleep 60",
        0o755,
    );
    let runner = Runner::new(Accounts::default()).with_kill_grace(Duration::from_millis(200));
    let timeout = Duration::from_millis(500);
    let started = Instant::now();

    let (result, _) = run(&runner, &script(dir.path(), "stubborn.sh", timeout), &[]).await;

    let elapsed = started.elapsed();
    assert_eq!(result.unwrap_err().code, ErrorCode::ScriptTimedOut);
    // SIGTERM was ignored, so the run waited out the grace before SIGKILL.
    assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let child = wait_pid(&dir.path().join("child.pid")).await;
    let script_pid = wait_pid(&dir.path().join("script.pid")).await;
    assert!(wait_gone(child).await, "background child {child} survived");
    assert!(wait_gone(script_pid).await, "script {script_pid} survived");
}

#[tokio::test]
async fn runas_runs_the_script_as_that_user() {
    if !is_root() {
        eprintln!("skipped: runas needs root");
        return;
    }
    let nobody = Accounts::default()
        .user("nobody")
        .unwrap()
        .expect("a nobody user");
    // The default temporary directory may not be reachable by nobody; /tmp is.
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    write_script(
        dir.path(),
        "who.sh",
        "id -u\necho \"$HOME $USER $LOGNAME\"",
        0o755,
    );
    let mut as_nobody = script(dir.path(), "who.sh", Duration::from_secs(10));
    as_nobody.runas = Some("nobody");

    let (result, sink) = run(&runner(), &as_nobody, &[]).await;

    assert_eq!(result, Ok(()));
    assert_eq!(
        sink.lines(Stream::Stdout),
        [
            nobody.uid.to_string(),
            format!("{} nobody nobody", nobody.home.display())
        ]
    );
}

#[tokio::test]
async fn runas_the_current_user_changes_no_ids() {
    let dir = bundle();
    write_script(dir.path(), "who.sh", "id -u", 0o755);
    let me = rustix::process::geteuid().as_raw();
    let Some(user) = Accounts::default().user(&me.to_string()).unwrap() else {
        eprintln!("skipped: uid {me} is not in /etc/passwd");
        return;
    };
    let mut as_me = script(dir.path(), "who.sh", Duration::from_secs(10));
    as_me.runas = Some(&user.name);

    let (result, sink) = run(&runner(), &as_me, &[]).await;

    assert_eq!(result, Ok(()));
    assert_eq!(sink.lines(Stream::Stdout), [me.to_string()]);
}

#[tokio::test]
async fn runas_an_unknown_user_is_unknown_error() {
    let dir = bundle();
    let marker = dir.path().join("ran");
    write_script(
        dir.path(),
        "who.sh",
        &format!("touch {}", marker.display()),
        0o755,
    );
    let mut as_ghost = script(dir.path(), "who.sh", Duration::from_secs(10));
    as_ghost.runas = Some("no-such-user-ferry");

    let (result, _) = run(&runner(), &as_ghost, &[]).await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert!(failure.message.contains("no-such-user-ferry"), "{failure}");
    assert_eq!(failure.script.as_deref(), Some("who.sh"));
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_background_child_holding_stdout_fails_at_the_timeout() {
    let dir = bundle();
    write_script(
        dir.path(),
        "bg.sh",
        "sleep 30 &\necho $! > bg.pid\necho done\nexit 0",
        0o755,
    );
    let started = Instant::now();

    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "bg.sh", Duration::from_secs(2)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert!(
        failure
            .message
            .starts_with("Script at specified location: bg.sh failed to close STDOUT"),
        "{failure}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(sink.lines(Stream::Stdout), ["done"]);
    let bg = wait_pid(&dir.path().join("bg.pid")).await;
    assert!(wait_gone(bg).await, "background child {bg} survived");
}

#[tokio::test]
async fn a_background_child_holding_only_stderr_is_named() {
    let dir = bundle();
    write_script(
        dir.path(),
        "bg.sh",
        "sleep 30 > /dev/null &\necho $! > bg.pid\nexit 0",
        0o755,
    );

    let (result, _) = run(
        &runner(),
        &script(dir.path(), "bg.sh", Duration::from_secs(1)),
        &[],
    )
    .await;

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert!(
        failure.message.contains("failed to close STDERR"),
        "{failure}"
    );
    let bg = wait_pid(&dir.path().join("bg.pid")).await;
    assert!(wait_gone(bg).await, "background child {bg} survived");
}

#[tokio::test]
async fn a_background_child_with_redirected_output_is_left_running() {
    let dir = bundle();
    write_script(
        dir.path(),
        "daemon.sh",
        "sleep 30 > /dev/null 2>&1 &\necho $! > bg.pid\necho started\nexit 0",
        0o755,
    );
    let started = Instant::now();

    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "daemon.sh", Duration::from_secs(20)),
        &[],
    )
    .await;

    let elapsed = started.elapsed();
    let bg = wait_pid(&dir.path().join("bg.pid")).await;
    let alive = !gone(bg);
    kill(bg);
    assert_eq!(result, Ok(()));
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(sink.lines(Stream::Stdout), ["started"]);
    assert!(alive, "the background process was killed");
}

#[tokio::test]
async fn cancelling_kills_the_script() {
    let dir = bundle();
    write_script(
        dir.path(),
        "slow.sh",
        "sleep 300 &\necho $! > child.pid\necho $$ > script.pid\nsleep 60",
        0o755,
    );
    let runner = runner();
    let sink = Collect::default();
    let cancel = CancellationToken::new();
    let slow = script(dir.path(), "slow.sh", Duration::from_secs(60));
    let script_pid_file = dir.path().join("script.pid");
    let started = Instant::now();

    let (result, script_pid) = tokio::join!(runner.run(&slow, &[], &sink, &cancel), async {
        let pid = wait_pid(&script_pid_file).await;
        cancel.cancel();
        pid
    });

    let failure = result.unwrap_err();
    assert_eq!(failure.code, ErrorCode::UnknownError);
    assert_eq!(
        failure.message,
        "Script at specified location: slow.sh was cancelled"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let child = wait_pid(&dir.path().join("child.pid")).await;
    assert!(wait_gone(script_pid).await, "script {script_pid} survived");
    assert!(wait_gone(child).await, "background child {child} survived");
}

#[tokio::test]
async fn dropping_the_run_kills_the_script() {
    let dir = bundle();
    write_script(
        dir.path(),
        "slow.sh",
        "sleep 300 &\necho $! > child.pid\necho $$ > script.pid\nsleep 60",
        0o755,
    );
    let runner = runner();
    let sink = Collect::default();
    let cancel = CancellationToken::new();
    let slow = script(dir.path(), "slow.sh", Duration::from_secs(60));

    let pid_file = dir.path().join("script.pid");
    let script_pid = tokio::select! {
        result = runner.run(&slow, &[], &sink, &cancel) => panic!("the script ended: {result:?}"),
        pid = wait_pid(&pid_file) => pid,
    };

    // The run's future is dropped: its process group must go with it.
    let child = wait_pid(&dir.path().join("child.pid")).await;
    assert!(wait_gone(script_pid).await, "script {script_pid} survived");
    assert!(wait_gone(child).await, "background child {child} survived");
}

#[tokio::test]
async fn a_script_cancelled_before_it_starts_does_not_run() {
    let dir = bundle();
    let marker = dir.path().join("ran");
    write_script(
        dir.path(),
        "run.sh",
        &format!("touch {}", marker.display()),
        0o755,
    );
    let cancel = CancellationToken::new();
    cancel.cancel();

    let result = runner()
        .run(
            &script(dir.path(), "run.sh", Duration::from_secs(10)),
            &[],
            &Collect::default(),
            &cancel,
        )
        .await;

    assert!(result.unwrap_err().message.ends_with("was cancelled"));
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_long_line_arrives_in_bounded_pieces() {
    let dir = bundle();
    // 100 KiB of digits without a newline.
    write_script(
        dir.path(),
        "long.sh",
        "echo first\nseq 1 30000 | tr -d '\\n' | head -c 102400",
        0o755,
    );

    let (result, sink) = run(
        &runner(),
        &script(dir.path(), "long.sh", Duration::from_secs(30)),
        &[],
    )
    .await;

    assert_eq!(result, Ok(()));
    let expected: String =
        (1..=30000).map(|n: u32| n.to_string()).collect::<String>()[..102400].to_owned();
    let lines = sink.lines(Stream::Stdout);
    assert_eq!(lines[0], "first");
    let pieces = &lines[1..];
    assert!(
        pieces.len() > 102400 / (16 * 1024),
        "{} pieces",
        pieces.len()
    );
    assert_eq!(MAX_LINE, 16 * 1024);
    assert!(pieces.iter().all(|p| p.len() <= MAX_LINE));
    assert_eq!(pieces.concat(), expected);
}
