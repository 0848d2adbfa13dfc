//! The per-component loop: wait for ready, watch for exit, restart with backoff, give up on a
//! crash loop, stop on shutdown.
//!
//! One task per component, all on the supervisor's thread. The task is the only writer of
//! the component's [`Slot`]; handles read it from any thread.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use nix::sys::signal::Signal;
use tokio::sync::watch;

use crate::process::{self, Running, StderrTail};
use crate::{ComponentSpec, ComponentState, health};

/// Everything known about one component, shared between its task and the handles.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) spec: ComponentSpec,
    /// `argv[0]` resolved to an absolute path when the supervisor started.
    pub(crate) program: PathBuf,
    pub(crate) state: watch::Sender<ComponentState>,
    /// Pid of the running process; 0 when none.
    pub(crate) pid: AtomicU32,
    pub(crate) restarts: AtomicU32,
    pub(crate) stderr: Arc<StderrTail>,
}

impl Slot {
    pub(crate) fn new(spec: ComponentSpec, program: PathBuf) -> Self {
        Self {
            spec,
            program,
            state: watch::Sender::new(ComponentState::Starting),
            pid: AtomicU32::new(0),
            restarts: AtomicU32::new(0),
            stderr: Arc::default(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.spec.name
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::SeqCst)).filter(|pid| *pid != 0)
    }

    fn set_state(&self, state: ComponentState) {
        self.state.send_replace(state);
    }

    pub(crate) fn spawn(&self) -> std::io::Result<Running> {
        let running = process::spawn(&self.spec, &self.program, &self.stderr)?;
        self.pid.store(running.pid, Ordering::SeqCst);
        tracing::info!(
            component = self.name(),
            pid = running.pid,
            "process started"
        );
        Ok(running)
    }

    /// After the process ended: kills what it left in its group, collects its stderr, and
    /// says why it ended.
    async fn reap(&self, running: &mut Running, how: String) -> String {
        process::signal_group(running.pid, Signal::SIGKILL);
        self.pid.store(0, Ordering::SeqCst);
        running.drain_stderr().await;
        let stderr = self.stderr.render();
        if stderr.is_empty() {
            how
        } else {
            format!("{how}; last stderr lines:{stderr}")
        }
    }
}

/// How one run of a process ended.
enum Ended {
    /// It exited, or was killed for not becoming ready; with the reason.
    Unexpectedly(String),
    /// Shutdown was requested while it ran.
    ShutdownRequested,
}

/// Resolves when shutdown is requested, or when every handle (and so the sender) is gone.
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|requested| *requested).await;
}

/// Supervises one component from its first process until it is stopped or failed.
pub(crate) async fn supervise(
    slot: Arc<Slot>,
    mut running: Running,
    mut shutdown: watch::Receiver<bool>,
) {
    let policy = slot.spec.restart.clone();
    let mut recent_restarts: VecDeque<Instant> = VecDeque::new();
    loop {
        let reason = match run_once(&slot, &mut running, &mut shutdown).await {
            Ended::ShutdownRequested => return stop(&slot, running).await,
            Ended::Unexpectedly(reason) => reason,
        };

        let now = Instant::now();
        while recent_restarts
            .front()
            .is_some_and(|at| now.duration_since(*at) > policy.window)
        {
            recent_restarts.pop_front();
        }
        let recent = u32::try_from(recent_restarts.len()).unwrap_or(u32::MAX);
        if recent >= policy.max_restarts {
            let reason = if policy.max_restarts == 0 {
                format!("{reason} (restarts are disabled)")
            } else {
                format!(
                    "gave up after {recent} restarts within {:?}; last run {reason}",
                    policy.window
                )
            };
            return give_up(&slot, reason);
        }

        let backoff = policy.backoff(recent);
        recent_restarts.push_back(now);
        let attempt = slot.restarts.load(Ordering::SeqCst) + 1;
        tracing::warn!(
            component = slot.name(),
            attempt,
            ?backoff,
            "process ended unexpectedly, restarting: {reason}"
        );
        slot.set_state(ComponentState::Restarting { attempt, reason });

        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown_requested(&mut shutdown) => {
                slot.set_state(ComponentState::Stopped);
                return;
            }
        }
        running = match slot.spawn() {
            Ok(running) => running,
            Err(err) => {
                let reason = format!("cannot start {}: {err}", slot.program.display());
                return give_up(&slot, reason);
            }
        };
        slot.restarts.fetch_add(1, Ordering::SeqCst);
    }
}

fn give_up(slot: &Slot, reason: String) {
    tracing::error!(
        component = slot.name(),
        "component FAILED and will not be restarted: {reason}"
    );
    slot.set_state(ComponentState::Failed { reason });
}

/// Runs one process: readiness, then serving until it ends or shutdown is requested.
async fn run_once(
    slot: &Slot,
    running: &mut Running,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let timeout = slot.spec.ready_timeout;
    let ready = tokio::time::timeout(timeout, health::wait_serving(&slot.spec.socket_path));
    let status = tokio::select! {
        status = running.child.wait() => Some(status),
        () = shutdown_requested(shutdown) => return Ended::ShutdownRequested,
        ready = ready => match ready {
            Ok(()) => None,
            Err(_) => {
                process::signal_group(running.pid, Signal::SIGKILL);
                let _ = running.child.wait().await;
                let how = format!(
                    "was not SERVING on {} within {timeout:?} and was killed",
                    slot.spec.socket_path.display()
                );
                return Ended::Unexpectedly(slot.reap(running, how).await);
            }
        },
    };
    if let Some(status) = status {
        let how = process::describe_exit(&status);
        return Ended::Unexpectedly(slot.reap(running, how).await);
    }

    tracing::info!(component = slot.name(), pid = running.pid, "serving");
    slot.set_state(ComponentState::Serving);
    let status = tokio::select! {
        status = running.child.wait() => status,
        () = shutdown_requested(shutdown) => return Ended::ShutdownRequested,
    };
    let how = process::describe_exit(&status);
    Ended::Unexpectedly(slot.reap(running, how).await)
}

/// Stops the process: SIGTERM to its group, `stop_grace`, then SIGKILL; returns once it is
/// reaped.
pub(crate) async fn stop(slot: &Slot, mut running: Running) {
    slot.set_state(ComponentState::Stopping);
    let grace = slot.spec.stop_grace;
    tracing::info!(component = slot.name(), pid = running.pid, "stopping");
    process::signal_group(running.pid, Signal::SIGTERM);
    if tokio::time::timeout(grace, running.child.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            component = slot.name(),
            pid = running.pid,
            "did not exit within {grace:?} of SIGTERM; sending SIGKILL"
        );
        process::signal_group(running.pid, Signal::SIGKILL);
        let _ = running.child.wait().await;
    }
    slot.reap(&mut running, String::new()).await;
    slot.set_state(ComponentState::Stopped);
    tracing::info!(component = slot.name(), "stopped");
}
