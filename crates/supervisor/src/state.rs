//! The life cycle of a component as the rest of Angzarr sees it.
//!
//! Coordinators route to a component only while it is [`ComponentState::Serving`]; every other
//! state is reported to callers as UNAVAILABLE with the state's text (DESIGN.md §3), so the
//! `Display` forms are written for people.

use std::fmt;
use std::path::PathBuf;

/// Where a supervised component is in its life cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentState {
    /// First launch: spawned, not yet reporting SERVING.
    Starting,
    /// The health service reports SERVING.
    Serving,
    /// The process exited (or never became ready) and is being started again; stays so
    /// through the backoff, the respawn and the readiness wait.
    Restarting {
        /// Which restart this is (1 for the first), counted over the supervisor's lifetime.
        attempt: u32,
        /// Why the previous process ended, e.g. its exit code and last stderr lines.
        reason: String,
    },
    /// Given up on: crash loop, restarts disabled, or the program could not be started.
    /// Terminal; needs a new supervisor (or a fixed program) to recover.
    Failed {
        /// Why, for people.
        reason: String,
    },
    /// Shutdown in progress: SIGTERM sent, waiting for the process to exit.
    Stopping,
    /// Shut down; no process remains. Terminal.
    Stopped,
}

impl ComponentState {
    /// Whether the component accepts requests now.
    pub fn is_serving(&self) -> bool {
        matches!(self, Self::Serving)
    }

    /// Whether the state can no longer change ([`Failed`](Self::Failed) or
    /// [`Stopped`](Self::Stopped)).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::Stopped)
    }
}

impl fmt::Display for ComponentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Starting => f.write_str("starting"),
            Self::Serving => f.write_str("serving"),
            Self::Restarting { attempt, reason } => {
                write!(f, "restarting (attempt {attempt}) after: {reason}")
            }
            Self::Failed { reason } => write!(f, "failed: {reason}"),
            Self::Stopping => f.write_str("stopping"),
            Self::Stopped => f.write_str("stopped"),
        }
    }
}

/// A point-in-time view of one component, as listed by
/// [`SupervisorHandle::snapshot`](crate::SupervisorHandle::snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// The component name.
    pub name: String,
    /// Its state.
    pub state: ComponentState,
    /// Pid of its current process, if one is running.
    pub pid: Option<u32>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// The socket it serves on.
    pub socket_path: PathBuf,
}
