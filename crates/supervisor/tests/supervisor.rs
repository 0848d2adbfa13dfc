//! Drives the supervisor with real child processes (the crate's
//! `angzarr-supervisor-test-child` binary, which serves the gRPC health service).
//!
//! Nothing here sleeps to wait: every wait is on a condition with a deadline.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use angzarr_supervisor::{
    ComponentSpec, ComponentState, Error, RestartPolicy, Supervisor, SupervisorHandle,
};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

const TEST_CHILD: &str = env!("CARGO_BIN_EXE_angzarr-supervisor-test-child");
/// Generous: CI machines can be slow, and nothing waits this long when things work.
const DEADLINE: Duration = Duration::from_secs(20);

/// A spec for the test child in `mode`, with its socket in `dir` and quick restarts.
fn child(dir: &TempDir, name: &str, mode: &str) -> ComponentSpec {
    let mut spec = ComponentSpec::new(name, [TEST_CHILD], socket(dir, name));
    spec.env.insert("TEST_CHILD_MODE".into(), mode.into());
    spec.restart.initial_backoff = Duration::from_millis(10);
    spec.restart.max_backoff = Duration::from_millis(100);
    spec
}

fn socket(dir: &TempDir, name: &str) -> PathBuf {
    dir.path().join(format!("{name}.sock"))
}

fn tempdir() -> TempDir {
    // Under /tmp rather than $TMPDIR: Unix socket paths must stay short.
    tempfile::Builder::new()
        .prefix("sv")
        .tempdir_in("/tmp")
        .expect("tempdir")
}

async fn start(specs: Vec<ComponentSpec>) -> SupervisorHandle {
    Supervisor::start(specs).await.expect("supervisor starts")
}

/// Waits until component `name` is in a state matching `want`.
async fn wait_state(
    handle: &SupervisorHandle,
    name: &str,
    want: impl FnMut(&ComponentState) -> bool,
) -> ComponentState {
    let mut states = handle.watch(name).expect("known component");
    let result = tokio::time::timeout(DEADLINE, states.wait_for(want)).await;
    match result {
        Ok(Ok(state)) => state.clone(),
        other => panic!(
            "{name} did not reach the wanted state ({other:?}); now {:?}",
            handle.state(name)
        ),
    }
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    let raw = i32::try_from(pid).expect("pid fits i32");
    match kill(Pid::from_raw(raw), None) {
        Err(Errno::ESRCH) => false,
        _ => {
            // An orphan killed by the kernel may linger as a zombie until its new parent
            // reaps it; a zombie runs no code, so it counts as dead.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            !matches!(state, None | Some("Z") | Some("X"))
        }
    }
}

/// Polls `cond` until it holds or the deadline passes.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn gone(pid: u32) -> bool {
    let raw = i32::try_from(pid).expect("pid fits i32");
    kill(Pid::from_raw(raw), None) == Err(Errno::ESRCH)
}

#[tokio::test]
async fn starts_and_becomes_serving_with_its_environment() {
    let dir = tempdir();
    let handle = start(vec![
        child(&dir, "alpha", "serve"),
        child(&dir, "beta", "serve"),
    ])
    .await;
    handle
        .wait_all_ready(DEADLINE)
        .await
        .expect("both become ready");

    assert_eq!(handle.state("alpha"), Some(ComponentState::Serving));
    assert!(angzarr_supervisor::is_serving(&socket(&dir, "beta")).await);
    let snapshot = handle.snapshot();
    assert_eq!(
        snapshot.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    for info in &snapshot {
        assert_eq!(info.state, ComponentState::Serving);
        assert_eq!(info.restarts, 0);
        assert_eq!(info.socket_path, socket(&dir, &info.name));
        let pid = info.pid.expect("running");
        let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
        let environ = String::from_utf8_lossy(&environ);
        assert!(environ.contains(&format!("ANGZARR_COMPONENT={}\0", info.name)));
        assert!(environ.contains(&format!("ANGZARR_SOCKET={}\0", info.socket_path.display())));
    }
    assert!(handle.state("nobody").is_none());
    handle.shutdown().await;
}

#[tokio::test]
async fn a_killed_child_is_restarted_with_a_new_pid() {
    let dir = tempdir();
    let mut spec = child(&dir, "victim", "serve");
    // Long enough that the Restarting state is surely observed before it passes.
    spec.restart.initial_backoff = Duration::from_millis(300);
    spec.restart.max_backoff = Duration::from_millis(300);
    let handle = start(vec![spec]).await;
    handle.wait_ready("victim", DEADLINE).await.expect("ready");
    let first = handle.pid("victim").expect("pid");

    kill(
        Pid::from_raw(i32::try_from(first).expect("pid")),
        Signal::SIGKILL,
    )
    .expect("kill");
    wait_state(&handle, "victim", |state| {
        matches!(state, ComponentState::Restarting { attempt: 1, reason } if reason.contains("SIGKILL"))
    })
    .await;
    wait_state(&handle, "victim", ComponentState::is_serving).await;

    let second = handle.pid("victim").expect("new pid");
    assert_ne!(first, second);
    assert_eq!(handle.restarts("victim"), 1);
    assert!(gone(first));
    handle.shutdown().await;
}

#[tokio::test]
async fn a_crash_loop_ends_in_failed_with_the_exit_code_and_stderr() {
    let dir = tempdir();
    let mut spec = child(&dir, "crasher", "exit-immediately");
    spec.restart = RestartPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_restarts: 3,
        ..RestartPolicy::default()
    };
    let handle = start(vec![spec]).await;

    let failed = wait_state(&handle, "crasher", ComponentState::is_terminal).await;
    let ComponentState::Failed { reason } = failed else {
        panic!("expected Failed, got {failed:?}");
    };
    assert!(reason.contains("gave up after 3 restarts"), "{reason}");
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(
        reason.contains("test child: exiting on purpose"),
        "{reason}"
    );
    assert_eq!(handle.restarts("crasher"), 3);
    assert_eq!(handle.pid("crasher"), None);

    let err = handle
        .wait_ready("crasher", DEADLINE)
        .await
        .expect_err("a failed component is never ready");
    assert!(
        matches!(err, Error::Failed { ref component, .. } if component == "crasher"),
        "{err}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn wait_ready_reports_an_exit_with_its_status() {
    let dir = tempdir();
    let mut spec = child(&dir, "quitter", "exit-immediately");
    // So slow to restart that only failing fast passes.
    spec.restart.initial_backoff = Duration::from_secs(60);
    spec.restart.max_backoff = Duration::from_secs(60);
    let handle = start(vec![spec]).await;
    let err = handle
        .wait_ready("quitter", DEADLINE)
        .await
        .expect_err("it exits");
    let text = err.to_string();
    assert!(matches!(err, Error::Exited { .. }), "{text}");
    assert!(text.contains("\"quitter\""), "{text}");
    assert!(text.contains("exited with code 3"), "{text}");
    assert!(text.contains("exiting on purpose"), "{text}");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_never_ready_child_times_out_naming_the_component() {
    let dir = tempdir();
    let handle = start(vec![child(&dir, "sloth", "never-ready")]).await;
    let err = handle
        .wait_ready("sloth", Duration::from_millis(300))
        .await
        .expect_err("never ready");
    assert!(
        matches!(err, Error::NotReady { ref component, state: ComponentState::Starting, .. } if component == "sloth"),
        "{err}"
    );
    assert!(err.to_string().contains("not SERVING"), "{err}");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_child_not_ready_within_its_ready_timeout_is_killed_as_a_failed_start() {
    let dir = tempdir();
    let mut spec = child(&dir, "sloth", "never-ready");
    spec.ready_timeout = Duration::from_millis(200);
    spec.restart = RestartPolicy::never();
    let handle = start(vec![spec]).await;
    let state = wait_state(&handle, "sloth", ComponentState::is_terminal).await;
    assert!(
        matches!(&state, ComponentState::Failed { reason } if reason.contains("was not SERVING")),
        "{state:?}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn missing_or_unusable_programs_are_refused_up_front() {
    let dir = tempdir();
    for program in ["angzarr-no-such-program", "/nonexistent/angzarr/bin"] {
        let spec = ComponentSpec::new("ghost", [program], socket(&dir, "ghost"));
        match Supervisor::start(vec![spec]).await {
            Err(Error::ProgramNotFound {
                component,
                program: named,
            }) => {
                assert_eq!(component, "ghost");
                assert_eq!(named, program);
            }
            other => panic!("expected ProgramNotFound for {program}, got {other:?}"),
        }
    }

    let not_executable = dir.path().join("script");
    std::fs::write(&not_executable, "#!/bin/sh\n").expect("write");
    let spec = ComponentSpec::new(
        "plain",
        [not_executable.to_string_lossy()],
        socket(&dir, "plain"),
    );
    let err = Supervisor::start(vec![spec])
        .await
        .expect_err("not executable");
    assert!(matches!(err, Error::NotExecutable { .. }), "{err}");

    let mut spec = child(&dir, "lost", "serve");
    spec.working_dir = Some(dir.path().join("missing"));
    let err = Supervisor::start(vec![spec])
        .await
        .expect_err("no working dir");
    assert!(matches!(err, Error::WorkingDirectory { .. }), "{err}");

    let err = Supervisor::start(vec![
        child(&dir, "twin", "serve"),
        child(&dir, "twin", "serve"),
    ])
    .await
    .expect_err("duplicate");
    assert!(matches!(err, Error::DuplicateComponent { .. }), "{err}");
}

#[tokio::test]
async fn shutdown_stops_every_child_with_sigterm() {
    let dir = tempdir();
    let mut specs = vec![child(&dir, "one", "serve"), child(&dir, "two", "serve")];
    for spec in &mut specs {
        // Long enough that passing proves SIGTERM, not SIGKILL, ended them.
        spec.stop_grace = Duration::from_secs(60);
    }
    let handle = start(specs).await;
    handle.wait_all_ready(DEADLINE).await.expect("ready");
    let pids: Vec<u32> = ["one", "two"]
        .iter()
        .map(|name| handle.pid(name).expect("pid"))
        .collect();

    let began = Instant::now();
    tokio::time::timeout(DEADLINE, handle.shutdown())
        .await
        .expect("shutdown within the deadline (SIGTERM honoured)");
    assert!(began.elapsed() < Duration::from_secs(60));
    for pid in pids {
        assert!(gone(pid), "pid {pid} still exists");
    }
    for info in handle.snapshot() {
        assert_eq!(info.state, ComponentState::Stopped);
        assert_eq!(info.pid, None);
    }
    let err = handle
        .wait_ready("one", DEADLINE)
        .await
        .expect_err("stopped");
    assert!(matches!(err, Error::Stopped { .. }), "{err}");
    handle.shutdown().await; // idempotent
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = tempdir();
    let grace = Duration::from_millis(300);
    let mut spec = child(&dir, "stubborn", "ignore-sigterm");
    spec.stop_grace = grace;
    let handle = start(vec![spec]).await;
    handle
        .wait_ready("stubborn", DEADLINE)
        .await
        .expect("ready");
    let pid = handle.pid("stubborn").expect("pid");

    let began = Instant::now();
    tokio::time::timeout(DEADLINE, handle.shutdown())
        .await
        .expect("shutdown completes");
    assert!(began.elapsed() >= grace, "stopped before the grace ran out");
    assert!(gone(pid), "pid {pid} survived");
    assert_eq!(handle.state("stubborn"), Some(ComponentState::Stopped));
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_children() {
    let dir = tempdir();
    let mut spec = child(&dir, "dropped", "serve");
    spec.stop_grace = Duration::from_secs(60);
    let handle = start(vec![spec]).await;
    handle.wait_ready("dropped", DEADLINE).await.expect("ready");
    let pid = handle.pid("dropped").expect("pid");
    drop(handle);
    eventually("the dropped supervisor's child is gone", || gone(pid)).await;
}

/// The supervisor itself is SIGKILLed (no cleanup runs): the kernel must kill its child.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn children_die_with_a_killed_supervisor() {
    let dir = tempdir();
    let mut intermediate = std::process::Command::new(TEST_CHILD)
        .env("TEST_CHILD_MODE", "supervise")
        .env("TEST_GRANDCHILD_SOCKET", socket(&dir, "grandchild"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the intermediate supervisor");
    let stdout = intermediate.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(DEADLINE, line)
        .await
        .expect("the intermediate reports its child in time")
        .expect("join")
        .expect("read");
    let grandchild: u32 = line.trim().parse().expect("a pid on stdout");
    let _reaper = KillOnDrop(grandchild);
    assert!(alive(grandchild));

    intermediate.kill().expect("SIGKILL the intermediate");
    intermediate.wait().expect("reap the intermediate");
    eventually("the grandchild is dead", || !alive(grandchild)).await;
}

/// Kills a process when a test fails, so that the failure leaves no orphan behind.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        if let Ok(raw) = i32::try_from(self.0) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
}
