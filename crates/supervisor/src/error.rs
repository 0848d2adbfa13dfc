//! Errors of starting, waiting for and looking up components.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::ComponentState;

/// What can go wrong; every case names the component it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec has an empty name. Fix the manifest.
    #[error("a component has an empty name; every component needs a unique name")]
    EmptyName,
    /// Two specs share a name. Fix the manifest.
    #[error("component name {component:?} is used twice; component names must be unique")]
    DuplicateComponent {
        /// The repeated name.
        component: String,
    },
    /// A spec has no program. Fix the manifest.
    #[error("component {component:?} has an empty command; give at least the program to run")]
    EmptyArgv {
        /// The component.
        component: String,
    },
    /// The program is neither an existing file nor found on `PATH`. Fix the manifest or
    /// install the program.
    #[error(
        "component {component:?}: program {program:?} not found (no such file, and not on PATH)"
    )]
    ProgramNotFound {
        /// The component.
        component: String,
        /// `argv[0]` as given.
        program: String,
    },
    /// The program exists but is a directory or lacks execute permission.
    #[error("component {component:?}: {path} is not an executable file")]
    NotExecutable {
        /// The component.
        component: String,
        /// The resolved program path.
        path: PathBuf,
    },
    /// The working directory does not exist or is not a directory.
    #[error(
        "component {component:?}: working directory {path} does not exist or is not a directory"
    )]
    WorkingDirectory {
        /// The component.
        component: String,
        /// The directory as given.
        path: PathBuf,
    },
    /// The OS refused to start the process. Nothing was left running.
    #[error("component {component:?}: cannot start process: {source}")]
    Spawn {
        /// The component.
        component: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The supervisor's thread or runtime could not be created (out of resources).
    #[error("cannot start the supervisor thread: {0}")]
    Runtime(io::Error),
    /// No component of that name is supervised here.
    #[error("no component named {component:?} is supervised")]
    UnknownComponent {
        /// The name asked for.
        component: String,
    },
    /// The process exited (or was killed for not becoming ready in time) while we waited for
    /// it to become ready. The supervisor may still restart it; `reason` has the exit status
    /// and the last lines of its stderr.
    #[error("component {component:?} exited before it was ready: {reason}")]
    Exited {
        /// The component.
        component: String,
        /// Exit status and last stderr lines.
        reason: String,
    },
    /// The component is [`Failed`](ComponentState::Failed); it will not be restarted.
    #[error("component {component:?} failed and will not be restarted: {reason}")]
    Failed {
        /// The component.
        component: String,
        /// Why it was given up on.
        reason: String,
    },
    /// The component did not report SERVING within the time the caller allowed.
    #[error(
        "component {component:?} is not SERVING on its gRPC health service after {timeout:?} (it is {state})"
    )]
    NotReady {
        /// The component.
        component: String,
        /// The time allowed.
        timeout: Duration,
        /// Its state when the time ran out.
        state: ComponentState,
    },
    /// The component is stopping or stopped because the supervisor is shutting down.
    #[error("component {component:?} is stopped (the supervisor is shutting down)")]
    Stopped {
        /// The component.
        component: String,
    },
}
