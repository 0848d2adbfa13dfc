//! Starting and signalling one OS process, so that none outlives the supervisor.
//!
//! Three layers keep children from becoming orphans:
//! - each child leads its own process group (`process_group(0)`), so a signal reaches
//!   everything it forked, and a Ctrl-C on the terminal reaches only the supervisor, which
//!   then stops the children in order;
//! - `kill_on_drop(true)`: if a `Child` is dropped without being waited for (a panic, a
//!   dropped task), tokio SIGKILLs it;
//! - on Linux, PR_SET_PDEATHSIG = SIGKILL: if the supervisor dies without running any
//!   cleanup (SIGKILL, OOM kill, abort), the kernel kills the children.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{AccessFlags, Pid, access};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::task::JoinHandle;

use crate::{ComponentSpec, Error};

/// Environment variable carrying the socket path the child must serve gRPC on.
pub const SOCKET_ENV: &str = "ANGZARR_SOCKET";
/// Environment variable carrying the component name.
pub const COMPONENT_ENV: &str = "ANGZARR_COMPONENT";

/// How many stderr lines are kept for error messages.
const TAIL_LINES: usize = 20;
/// Longest stderr line kept for error messages (longer ones are cut).
const TAIL_LINE_CHARS: usize = 500;
/// How long to wait for the rest of a dead child's stderr (grandchildren may hold the pipe).
const STDERR_DRAIN: Duration = Duration::from_millis(500);

/// The last lines a component wrote to stderr.
#[derive(Debug, Default)]
pub(crate) struct StderrTail(Mutex<VecDeque<String>>);

impl StderrTail {
    fn push(&self, line: &str) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line.chars().take(TAIL_LINE_CHARS).collect());
    }

    fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The kept lines, oldest first, each indented on its own line; empty if none.
    pub(crate) fn render(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().map(|line| format!("\n  {line}")).collect()
    }
}

/// Finds the program a spec names, the way `execvp` would, so that a typo is reported when
/// the supervisor starts rather than as a crash loop.
pub(crate) fn resolve_program(spec: &ComponentSpec) -> Result<PathBuf, Error> {
    let program = spec.argv.first().ok_or_else(|| Error::EmptyArgv {
        component: spec.name.clone(),
    })?;
    let not_found = || Error::ProgramNotFound {
        component: spec.name.clone(),
        program: program.clone(),
    };
    if program.is_empty() {
        return Err(not_found());
    }
    if program.contains('/') {
        let path =
            absolute(Path::new(program), spec.working_dir.as_deref()).map_err(|_| not_found())?;
        if !path.exists() {
            return Err(not_found());
        }
        return if is_executable_file(&path) {
            Ok(path)
        } else {
            Err(Error::NotExecutable {
                component: spec.name.clone(),
                path,
            })
        };
    }
    let search_path = spec
        .env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    std::env::split_paths(&search_path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable_file(candidate))
        .map(|found| absolute(&found, None).unwrap_or(found))
        .ok_or_else(not_found)
}

/// `path` made absolute against `base` (or the current directory).
fn absolute(path: &Path, base: Option<&Path>) -> io::Result<PathBuf> {
    match base {
        Some(base) if path.is_relative() => std::path::absolute(base.join(path)),
        _ => std::path::absolute(path),
    }
}

fn is_executable_file(path: &Path) -> bool {
    path.is_file() && access(path, AccessFlags::X_OK).is_ok()
}

/// A spawned child and the task forwarding its stderr.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    stderr: Option<JoinHandle<()>>,
}

impl Running {
    /// Waits (briefly) until the child's stderr is fully read, so that the tail is complete.
    pub(crate) async fn drain_stderr(&mut self) {
        if let Some(task) = self.stderr.take() {
            let _ = tokio::time::timeout(STDERR_DRAIN, task).await;
        }
    }
}

/// Starts `spec` as `program`. Must run on the supervisor's own thread (see
/// [`die_with_parent`]).
pub(crate) fn spawn(
    spec: &ComponentSpec,
    program: &Path,
    tail: &Arc<StderrTail>,
) -> io::Result<Running> {
    remove_stale_socket(&spec.socket_path);
    let mut command = Command::new(program);
    if let Some(arg0) = spec.argv.first() {
        command.arg0(arg0);
    }
    command
        .args(spec.argv.iter().skip(1))
        .envs(&spec.env)
        .env(SOCKET_ENV, &spec.socket_path)
        .env(COMPONENT_ENV, &spec.name)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = &spec.working_dir {
        command.current_dir(dir);
    }
    die_with_parent(&mut command);

    let mut child = command.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the child was reaped before its pid could be read"))?;
    tail.clear();
    let stderr = child
        .stderr
        .take()
        .map(|stderr| tokio::spawn(forward_stderr(spec.name.clone(), stderr, Arc::clone(tail))));
    Ok(Running { child, pid, stderr })
}

/// Makes the kernel SIGKILL the child when the thread that spawned it dies.
///
/// Two pitfalls of PR_SET_PDEATHSIG, both handled by the caller's design and here:
/// - The "parent" is the *thread* that forked, not the process: the signal fires when that
///   thread exits, even if the process lives on. So every child is spawned from the
///   supervisor's one dedicated, long-lived thread, which ends only after all its children
///   were reaped; never from tokio's blocking pool, whose threads exit when idle.
/// - The parent may die between `fork` and the `prctl`, in which case the signal never
///   comes. So after setting it the child compares `getppid()` with the pid the parent had
///   before forking; if they differ the parent is gone and the child fails its start
///   instead of running as an orphan.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // The one unsafe call in the crate; see the Cargo.toml lints comment.
fn die_with_parent(command: &mut Command) {
    use nix::errno::Errno;
    use nix::sys::prctl::set_pdeathsig;
    use nix::unistd::{getpid, getppid};

    let parent = getpid();
    // SAFETY: the closure runs in the forked child before `exec`. It only makes two system
    // calls and builds an `io::Error` from a raw errno (no allocation, no locks), so it is
    // async-signal-safe as `pre_exec` requires.
    unsafe {
        command.pre_exec(move || {
            set_pdeathsig(Signal::SIGKILL)?;
            if getppid() != parent {
                return Err(io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// Elsewhere there is no parent-death signal; `kill_on_drop` and orderly shutdown remain.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// A socket file left by the previous process would make readiness polls fail slowly
/// (connection refused instead of not found) and must not be mistaken for the new one.
fn remove_stale_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Forwards the child's stderr to `tracing` line by line and keeps the last lines.
async fn forward_stderr(component: String, stderr: ChildStderr, tail: Arc<StderrTail>) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']);
                tracing::info!(target: "angzarr::component", component = %component, "{line}");
                tail.push(line);
            }
        }
    }
}

/// Sends `signal` to the child's whole process group; a group that is already gone is fine.
pub(crate) fn signal_group(pid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    if let Err(err) = killpg(Pid::from_raw(raw), signal)
        && err != nix::errno::Errno::ESRCH
    {
        tracing::warn!(pid, %signal, "cannot signal process group: {err}");
    }
}

/// "exited with code 3", "killed by signal SIGKILL", ...
pub(crate) fn describe_exit(status: &io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(signal) => format!("killed by signal {signal}"),
                Err(_) => format!("killed by signal {signal}"),
            },
            (None, None) => format!("ended ({status})"),
        },
        Err(err) => format!("could not be waited for: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_found_on_path_and_missing_ones_are_named() {
        let spec = ComponentSpec::new("c", ["sh", "-c", "true"], "/tmp/x.sock");
        let found = resolve_program(&spec).expect("sh is on PATH");
        assert!(found.is_absolute());

        let spec = ComponentSpec::new("c", ["no-such-program-angzarr"], "/tmp/x.sock");
        let err = resolve_program(&spec).expect_err("missing");
        assert!(err.to_string().contains("no-such-program-angzarr"), "{err}");
    }

    #[test]
    fn a_directory_is_not_a_program() {
        let spec = ComponentSpec::new("c", ["/tmp"], "/tmp/x.sock");
        assert!(matches!(
            resolve_program(&spec),
            Err(Error::NotExecutable { .. })
        ));
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let tail = StderrTail::default();
        for i in 0..(TAIL_LINES + 5) {
            tail.push(&format!("line {i}"));
        }
        let text = tail.render();
        assert!(!text.contains("  line 4\n"), "{text}");
        assert!(text.starts_with("\n  line 5\n"), "{text}");
        assert!(
            text.ends_with(&format!("line {}", TAIL_LINES + 4)),
            "{text}"
        );
    }
}
