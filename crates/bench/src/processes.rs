//! Server processes under test (the runtime, the echo server): started with a clean
//! `ANGZARR_*` environment, waited for by polling their socket, stopped with SIGTERM.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::error::{Error, Result};

/// How long a server may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running server process; killed if dropped without [`Server::stop`].
#[derive(Debug)]
pub(crate) struct Server {
    name: String,
    child: Child,
    pid: u32,
    stderr: PathBuf,
}

impl Server {
    /// Starts `program args` with `env` (and no inherited `ANGZARR_*` variable), its stderr
    /// in `stderr`, and returns once `socket` accepts connections.
    pub(crate) async fn start(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &OsStr)],
        stderr: PathBuf,
        socket: &Path,
    ) -> Result<Self> {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ANGZARR_") {
                command.env_remove(key);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let log = std::fs::File::create(&stderr)
            .map_err(Error::io(format!("cannot create {}", stderr.display())))?;
        command.stderr(log).kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(Error::io(format!("cannot start {}", program.display())))?;
        let pid = child
            .id()
            .ok_or_else(|| Error::Setup(format!("{name} exited at once")))?;
        let mut server = Self {
            name: name.to_string(),
            child,
            pid,
            stderr,
        };
        server.wait_listening(socket).await?;
        Ok(server)
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    async fn wait_listening(&mut self, socket: &Path) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if tokio::net::UnixStream::connect(socket).await.is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Setup(format!(
                    "{} exited ({status}) before listening on {}: {}",
                    self.name,
                    socket.display(),
                    self.stderr_tail()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Error::Setup(format!(
                    "{} did not listen on {} within {READY_TIMEOUT:?}: {}",
                    self.name,
                    socket.display(),
                    self.stderr_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The end of the process's stderr, for error messages.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.is_empty() {
            format!("(nothing on stderr, see {})", self.stderr.display())
        } else {
            tail
        }
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub(crate) async fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
