//! What to run and how patiently to treat it.
//!
//! A spec is plain data so that the standalone binary can build it from the manifest and
//! tests can build it in one line; every knob has a default that suits a business-logic
//! process started on a developer's machine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How to launch one business-logic process and how to supervise it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// Unique component name; used in logs, errors, `ANGZARR_COMPONENT` and handle look-ups.
    pub name: String,
    /// Program and arguments, run directly (no shell). A program without `/` is looked up on
    /// `PATH` (the `PATH` in [`env`](Self::env) if it sets one); a relative path with `/` is
    /// taken relative to [`working_dir`](Self::working_dir), or to the current directory.
    pub argv: Vec<String>,
    /// Working directory of the process; the supervisor's own when `None`.
    pub working_dir: Option<PathBuf>,
    /// Extra environment variables, on top of the supervisor's environment.
    pub env: BTreeMap<String, String>,
    /// The Unix socket the process must serve gRPC on (passed as `ANGZARR_SOCKET`).
    pub socket_path: PathBuf,
    /// How long a freshly spawned process may take to report SERVING before it is killed and
    /// counted as a failed start.
    pub ready_timeout: Duration,
    /// What to do when the process exits on its own.
    pub restart: RestartPolicy,
    /// How long the process gets between SIGTERM and SIGKILL when stopping.
    pub stop_grace: Duration,
}

impl ComponentSpec {
    /// Default for [`ready_timeout`](Self::ready_timeout).
    pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default for [`stop_grace`](Self::stop_grace).
    pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

    /// A spec with no extra environment, the supervisor's working directory, the default
    /// [`RestartPolicy`], a 30 s ready timeout and a 10 s stop grace.
    pub fn new<A>(
        name: impl Into<String>,
        argv: impl IntoIterator<Item = A>,
        socket_path: impl Into<PathBuf>,
    ) -> Self
    where
        A: Into<String>,
    {
        Self {
            name: name.into(),
            argv: argv.into_iter().map(Into::into).collect(),
            working_dir: None,
            env: BTreeMap::new(),
            socket_path: socket_path.into(),
            ready_timeout: Self::DEFAULT_READY_TIMEOUT,
            restart: RestartPolicy::default(),
            stop_grace: Self::DEFAULT_STOP_GRACE,
        }
    }
}

/// When and how fast a process that exited on its own is started again.
///
/// Restarts back off exponentially; a process that keeps dying (more than
/// [`max_restarts`](Self::max_restarts) restarts within [`window`](Self::window)) is given up
/// on and marked [`Failed`](crate::ComponentState::Failed). Restarts older than the window
/// are forgotten, so a process that ran fine for a while starts again from the initial backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    /// Wait before the first restart.
    pub initial_backoff: Duration,
    /// Upper bound of the wait.
    pub max_backoff: Duration,
    /// Factor applied to the wait for each further recent restart (values below 1 count as 1).
    pub multiplier: f64,
    /// Restarts allowed within [`window`](Self::window); the next exit gives up. Zero means
    /// never restart.
    pub max_restarts: u32,
    /// The crash-loop window.
    pub window: Duration,
}

impl Default for RestartPolicy {
    /// 100 ms doubling up to 10 s; at most 5 restarts within 60 s.
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    /// A policy that never restarts: the first exit marks the component failed.
    pub fn never() -> Self {
        Self {
            max_restarts: 0,
            ..Self::default()
        }
    }

    /// The wait before a restart when `recent_restarts` restarts already happened within the
    /// window: `initial_backoff * multiplier^recent_restarts`, capped at `max_backoff`.
    pub fn backoff(&self, recent_restarts: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let exponent = i32::try_from(recent_restarts.min(64)).unwrap_or(64);
        let secs = self.initial_backoff.as_secs_f64() * multiplier.powi(exponent);
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RestartPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_millis(100));
        assert_eq!(policy.backoff(1), Duration::from_millis(200));
        assert_eq!(policy.backoff(3), Duration::from_millis(800));
        assert_eq!(policy.backoff(40), Duration::from_secs(10));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn odd_multipliers_do_not_panic() {
        for multiplier in [f64::NAN, f64::INFINITY, -3.0, 0.5] {
            let policy = RestartPolicy {
                multiplier,
                ..RestartPolicy::default()
            };
            assert!(policy.backoff(10) <= policy.max_backoff);
        }
    }
}
