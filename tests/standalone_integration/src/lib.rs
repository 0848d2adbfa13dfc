//! Helpers for driving the real runtime in integration tests: temp manifests, an in-process
//! [`Standalone`] with synthetic aggregates, gRPC clients over its Unix sockets, the real
//! binaries, and `/proc` inspection.
//!
//! Everything a test creates lives in its own [`TempDir`] under `/tmp` (short paths: a Unix
//! socket address holds at most 107 bytes), so tests can run in parallel. Nothing waits with a
//! fixed sleep: [`wait_until`] and [`Deadline`] poll a condition until a deadline.

#![warn(missing_docs)]

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use angzarr_proto::business_coordinator_client::BusinessCoordinatorClient;
use angzarr_proto::{CommandBook, CommandPage, CommandResponse, Cover, CoverExt, EventPageExt};
use angzarr_runtime::storage::{EventStore, HistoryKey, StoredEvent};
use angzarr_standalone::Standalone;
use angzarr_standalone::config::{Manifest, Overrides};
use angzarr_synthetic_aggregate::{Echo, Echoed, Multi, pack};
use nix::sys::signal::Signal;
use prost::Message;
use prost_types::Any;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;
use tonic::Status;
use tonic::transport::Channel;
use uuid::Uuid;

/// How long starting a system or a binary may take before a test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two looks at a condition.
const POLL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

/// A point in time after which a test gives up waiting for something.
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
    what: String,
}

impl Deadline {
    /// A deadline `timeout` from now for waiting until `what`.
    pub fn after(timeout: Duration, what: impl Into<String>) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
            what: what.into(),
        }
    }

    /// Panics if the deadline has passed; otherwise pauses one poll interval.
    pub async fn tick(&self) {
        assert!(
            Instant::now() < self.at,
            "timed out after {:?} waiting until {}",
            self.timeout,
            self.what
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `condition` until it holds; panics naming `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Deadline::after(timeout, what);
    while !condition().await {
        deadline.tick().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Paths and binaries
// ---------------------------------------------------------------------------------------------

/// The repository root (where the demo `angzarr.toml` lives).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::path::absolute(&root).unwrap_or(root)
}

/// A binary of the workspace, from the target directory this test executable was built in.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/debug/deps/<test> -> target/debug
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (./scripts/test does)",
        path.display()
    );
    path
}

/// A fresh temporary directory with a short path.
pub fn short_temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("az")
        .tempdir_in("/tmp")
        .expect("a temporary directory under /tmp")
}

/// `angzarr-standalone` with `args`, output captured, killed if the test drops it.
pub fn standalone_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(bin_path("angzarr-standalone"));
    command
        .args(args)
        .env_remove("ANGZARR_CONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// What a finished process printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Its stdout, lossily decoded.
    pub stdout: String,
    /// Its stderr, lossily decoded.
    pub stderr: String,
}

/// Runs `command` to completion (within [`START_TIMEOUT`]) and collects its output.
pub async fn finish(mut command: Command) -> Finished {
    let output = tokio::time::timeout(START_TIMEOUT, command.output())
        .await
        .expect("the process finishes in time")
        .expect("the process can be run");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests and in-process systems
// ---------------------------------------------------------------------------------------------

/// What a test system looks like: synthetic aggregates (one per component, domain = name)
/// and the knobs tests turn.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// Component names; each runs the synthetic aggregate.
    pub components: Vec<String>,
    /// `aggregate.snapshot_every`.
    pub snapshot_every: u32,
    /// `supervisor.restart_backoff_secs` (also the upper bound of the backoff).
    pub restart_backoff_secs: f64,
    /// More manifest text (subscribers, `[delivery]`, `[bus]`), appended as is.
    pub extra_toml: String,
}

impl SystemConfig {
    /// Synthetic aggregates named `components`, snapshots every 100 events, fast restarts.
    pub fn new(components: &[&str]) -> Self {
        Self {
            components: components.iter().map(ToString::to_string).collect(),
            snapshot_every: 100,
            restart_backoff_secs: 0.05,
            extra_toml: String::new(),
        }
    }

    /// This configuration with `toml` appended to the manifest.
    pub fn with_toml(mut self, toml: &str) -> Self {
        self.extra_toml.push('\n');
        self.extra_toml.push_str(toml);
        self
    }

    /// This configuration with a synthetic subscriber (`angzarr-synthetic-subscriber`):
    /// `kind` is `projector`, `saga` or `process_manager`; `env` adds `SYNTHETIC_*` settings
    /// beyond the kind and the inputs.
    pub fn subscriber(self, name: &str, kind: &str, inputs: &[&str], env: &[(&str, &str)]) -> Self {
        let program = bin_path("angzarr-synthetic-subscriber");
        let mut vars = format!(
            "SYNTHETIC_KIND = {kind:?}, SYNTHETIC_INPUTS = {:?}",
            inputs.join(",")
        );
        for (key, value) in env {
            vars.push_str(&format!(", {key} = {value:?}"));
        }
        self.with_toml(&format!(
            "[components.{name}]\nkind = {kind:?}\ncommand = [{:?}]\nenv = {{ {vars} }}\n",
            program.display().to_string()
        ))
    }

    /// This configuration with `aggregate.snapshot_every = every`.
    pub fn snapshot_every(mut self, every: u32) -> Self {
        self.snapshot_every = every;
        self
    }

    /// This configuration with every restart waiting `secs` seconds.
    pub fn restart_backoff_secs(mut self, secs: f64) -> Self {
        self.restart_backoff_secs = secs;
        self
    }

    /// The manifest text, with `socket_dir` and the store relative to the manifest.
    pub fn manifest_toml(&self) -> String {
        let synthetic = bin_path("angzarr-synthetic-aggregate");
        let mut toml = format!(
            "socket_dir = \"s\"\n\n\
             [storage]\npath = \"events.db\"\n\n\
             [aggregate]\nsnapshot_every = {}\n\n\
             [supervisor]\nready_timeout_secs = 30\nstop_grace_secs = 5\n\
             restart_backoff_secs = {backoff}\nmax_restart_backoff_secs = {backoff}\n",
            self.snapshot_every,
            backoff = self.restart_backoff_secs,
        );
        for name in &self.components {
            toml.push_str(&format!(
                "\n[components.{name}]\nkind = \"aggregate\"\ncommand = [{:?}]\n",
                synthetic.display().to_string()
            ));
        }
        toml.push_str(&self.extra_toml);
        toml
    }
}

/// A temp directory holding a manifest (`angzarr.toml`), its socket dir (`s/`) and its SQLite
/// store (`events.db`).
#[derive(Debug)]
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    /// A new, empty directory.
    pub fn empty() -> Self {
        Self {
            dir: short_temp_dir(),
        }
    }

    /// A new directory with `manifest` written as `angzarr.toml`.
    pub fn with_manifest(manifest: &str) -> Self {
        let workspace = Self::empty();
        std::fs::write(workspace.manifest(), manifest).expect("write the manifest");
        workspace
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The manifest.
    pub fn manifest(&self) -> PathBuf {
        self.path().join("angzarr.toml")
    }

    /// The runtime's socket directory.
    pub fn socket_dir(&self) -> PathBuf {
        self.path().join("s")
    }

    /// The SQLite file.
    pub fn db(&self) -> PathBuf {
        self.path().join("events.db")
    }

    /// Opens the SQLite file directly (the runtime must have stopped, or died).
    pub fn open_store(&self) -> angzarr_storage_sqlite::SqliteEventStore {
        angzarr_storage_sqlite::SqliteEventStore::open(angzarr_storage_sqlite::SqliteOptions::new(
            self.db(),
        ))
        .expect("open the event store file")
    }
}

/// A [`Standalone`] running in this process on a [`Workspace`].
pub struct TestSystem {
    workspace: Workspace,
    running: Option<Standalone>,
}

impl TestSystem {
    /// Writes the manifest of `config` and starts it.
    pub async fn start(config: &SystemConfig) -> Self {
        let workspace = Workspace::with_manifest(&config.manifest_toml());
        let running = Some(start_manifest(&workspace.manifest(), &Overrides::default()).await);
        Self { workspace, running }
    }

    /// Starts the manifest already written in `workspace`.
    pub async fn start_in(workspace: Workspace) -> Self {
        let running = Some(start_manifest(&workspace.manifest(), &Overrides::default()).await);
        Self { workspace, running }
    }

    /// Starts `config` and connects a client to `domain`'s coordinator.
    pub async fn start_with_client(config: &SystemConfig, domain: &str) -> (Self, Client) {
        let system = Self::start(config).await;
        let client = system.client(domain).await;
        (system, client)
    }

    /// The running runtime.
    pub fn runtime(&self) -> &Standalone {
        self.running.as_ref().expect("the system is running")
    }

    /// Where its files are.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// A client of `domain`'s coordinator.
    pub async fn client(&self, domain: &str) -> Client {
        Client::connect(&self.workspace.socket_dir(), domain).await
    }

    /// The whole history of `domain`/`root`, from the running system's store.
    pub async fn history(&self, domain: &str, root: Uuid) -> Vec<StoredEvent> {
        history(self.runtime().store().as_ref(), domain, root).await
    }

    /// The global head position of the running system's store.
    pub async fn head(&self) -> u64 {
        self.runtime()
            .store()
            .head_position()
            .await
            .expect("head position")
    }

    /// Stops the system and starts it again on the same files.
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self.running =
            Some(start_manifest(&self.workspace.manifest(), &Overrides::default()).await);
    }

    /// Stops the system; its files stay until the returned workspace is dropped.
    pub async fn stop(mut self) -> Workspace {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self.workspace
    }
}

/// Loads the manifest at `path` with `overrides` and starts it, within [`START_TIMEOUT`].
pub async fn start_manifest(path: &Path, overrides: &Overrides) -> Standalone {
    let manifest = Manifest::load(path, overrides).expect("a valid manifest");
    tokio::time::timeout(START_TIMEOUT, Standalone::start(manifest))
        .await
        .expect("the system starts in time")
        .expect("the system starts")
}

/// Every event of `domain`/`root` in `store`.
pub async fn history(store: &dyn EventStore, domain: &str, root: Uuid) -> Vec<StoredEvent> {
    store
        .read_history(&HistoryKey::main(domain, root), 0, None)
        .await
        .expect("read the history")
}

/// Asserts that `events` are numbered 0, 1, 2, ... without gaps or duplicates.
pub fn assert_gapless(events: &[StoredEvent]) {
    let sequences: Vec<u32> = events.iter().map(|e| e.sequence).collect();
    let expected: Vec<u32> = (0..).take(events.len()).collect();
    assert_eq!(sequences, expected, "sequences must be 0..n without gaps");
}

// ---------------------------------------------------------------------------------------------
// Commands, responses and clients
// ---------------------------------------------------------------------------------------------

/// An `Echo` command carrying `payload`.
pub fn echo(payload: impl Into<Vec<u8>>) -> Any {
    pack(&Echo {
        payload: payload.into(),
    })
}

/// A `Multi` command: `count` events carrying `payload`.
pub fn multi(count: u32, payload: impl Into<Vec<u8>>) -> Any {
    pack(&Multi {
        count,
        payload: payload.into(),
    })
}

/// The `Echoed` event inside `event`.
pub fn echoed(event: &Any) -> Echoed {
    Echoed::decode(event.value.as_slice()).expect("an Echoed event")
}

/// The sequences of the events in a response.
pub fn sequences(response: &CommandResponse) -> Vec<u32> {
    pages(response)
        .iter()
        .map(|page| page.sequence_num().expect("every event has a sequence"))
        .collect()
}

/// The `Echoed` events of a response.
pub fn echoed_events(response: &CommandResponse) -> Vec<Echoed> {
    pages(response)
        .iter()
        .map(|page| echoed(page.event.as_ref().expect("an event")))
        .collect()
}

/// The event pages of a response.
pub fn pages(response: &CommandResponse) -> &[angzarr_proto::EventPage] {
    &response.events.as_ref().expect("an event book").pages
}

/// The correlation id a response carries.
pub fn correlation_id(response: &CommandResponse) -> &str {
    &response
        .events
        .as_ref()
        .and_then(|book| book.cover.as_ref())
        .expect("a cover")
        .correlation_id
}

/// A `BusinessCoordinator` client of one domain, over its coordinator's Unix socket.
#[derive(Debug, Clone)]
pub struct Client {
    inner: BusinessCoordinatorClient<Channel>,
    domain: String,
}

impl Client {
    /// Connects to `<socket_dir>/<domain>.sock`.
    pub async fn connect(socket_dir: &Path, domain: &str) -> Self {
        Self {
            inner: BusinessCoordinatorClient::new(
                connect(&socket_dir.join(format!("{domain}.sock"))).await,
            ),
            domain: domain.to_string(),
        }
    }

    /// A command book for `root` with one `command`, nothing else set.
    pub fn book(&self, root: Uuid, command: Any) -> CommandBook {
        CommandBook {
            cover: Some(Cover::for_root(self.domain.clone(), root)),
            pages: vec![CommandPage {
                sequence: None,
                command: Some(command),
            }],
            ..CommandBook::default()
        }
    }

    /// Sends `book`.
    pub async fn send(&self, book: CommandBook) -> Result<CommandResponse, Status> {
        self.inner
            .clone()
            .handle(book)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Sends `command` to `root`.
    pub async fn run(&self, root: Uuid, command: Any) -> Result<CommandResponse, Status> {
        self.send(self.book(root, command)).await
    }

    /// Sends `command` to `root`; panics unless it succeeds.
    pub async fn ok(&self, root: Uuid, command: Any) -> CommandResponse {
        self.run(root, command).await.expect("the command succeeds")
    }
}

/// A gRPC channel over the Unix socket at `path`.
pub async fn connect(path: &Path) -> Channel {
    angzarr_transport::channel(path)
        .await
        .unwrap_or_else(|err| panic!("connect to {}: {err}", path.display()))
}

/// Asserts that `result` failed with `code` and returns the status message.
pub fn expect_status<T: std::fmt::Debug>(result: Result<T, Status>, code: tonic::Code) -> String {
    match result {
        Ok(value) => panic!("expected {code:?}, got a success: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status.message().to_string()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The angzarr-standalone binary as a child process
// ---------------------------------------------------------------------------------------------

/// `angzarr-standalone run` as a child process, started and serving.
#[derive(Debug)]
pub struct RuntimeProcess {
    child: Child,
    summary: String,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl RuntimeProcess {
    /// `angzarr-standalone run -c <manifest>`, for [`spawn_command`](Self::spawn_command).
    pub fn command(manifest: &Path) -> Command {
        let mut command = standalone_command(["run", "-c"]);
        command.arg(manifest).env("ANGZARR_LOG", "warn");
        command
    }

    /// Runs `angzarr-standalone run -c <manifest>`; see [`spawn_command`](Self::spawn_command).
    pub async fn spawn(manifest: &Path) -> Self {
        Self::spawn_command(Self::command(manifest)).await
    }

    /// Runs `command` (from [`command`](Self::command)) and waits until it has printed its
    /// start-up summary, which it does once every coordinator serves.
    pub async fn spawn_command(mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn angzarr-standalone");
        let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout")).lines();
        let mut summary = String::new();
        let read_summary = async {
            while let Some(line) = stdout.next_line().await.expect("read stdout") {
                let done = line.starts_with("Stop with");
                summary.push_str(&line);
                summary.push('\n');
                if done {
                    return true;
                }
            }
            false
        };
        let complete = tokio::time::timeout(START_TIMEOUT, read_summary)
            .await
            .expect("angzarr-standalone starts in time");
        assert!(
            complete,
            "angzarr-standalone exited before serving:\n{summary}"
        );
        Self {
            child,
            summary,
            _stdout: stdout,
        }
    }

    /// The runtime's pid.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the runtime has not been reaped")
    }

    /// The start-up summary it printed.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The pid of component `name`'s business-logic process, from the summary.
    pub fn component_pid(&self, name: &str) -> u32 {
        self.summary
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .and_then(|line| {
                let mut words = line.split_whitespace();
                words.find(|w| *w == "pid")?;
                words.next()?.parse().ok()
            })
            .unwrap_or_else(|| panic!("no pid of {name} in the summary:\n{}", self.summary))
    }

    /// SIGKILLs the runtime and reaps it; returns the signal that ended it.
    pub async fn kill_hard(self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.end_with(Signal::SIGKILL).await.signal()
    }

    /// SIGTERMs the runtime and waits until it has stopped; returns its exit code.
    pub async fn terminate(self) -> Option<i32> {
        self.terminated().await.code()
    }

    /// SIGTERMs the runtime and waits until it has stopped; returns how it ended (which says
    /// the signal, when one killed it).
    pub async fn terminated(self) -> std::process::ExitStatus {
        self.end_with(Signal::SIGTERM).await
    }

    async fn end_with(mut self, signal: Signal) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).expect("a pid"));
        nix::sys::signal::kill(pid, signal).expect("signal the runtime");
        tokio::time::timeout(START_TIMEOUT, self.child.wait())
            .await
            .expect("the runtime ends in time")
            .expect("reap the runtime")
    }
}

// ---------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // pid (comm) state ...; comm may contain spaces, so look after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// The inodes of the sockets process `pid` (`"self"` for this one) has open.
pub fn socket_inodes(pid: &str) -> HashSet<u64> {
    let dir = format!("/proc/{pid}/fd");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("read {dir}: {err}"))
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// One socket of `/proc/net/tcp` or `/proc/net/tcp6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    /// The table it came from.
    pub table: &'static str,
    /// Local address, as the kernel prints it.
    pub local: String,
    /// State (`0A` is LISTEN).
    pub state: String,
    /// The socket's inode.
    pub inode: u64,
}

/// Every TCP socket of this network namespace.
pub fn tcp_sockets() -> Vec<TcpSocket> {
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        // A kernel without IPv6 has no tcp6 table.
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            {
                sockets.push(TcpSocket {
                    table,
                    local: (*local).to_string(),
                    state: (*state).to_string(),
                    inode: inode.parse().unwrap_or(0),
                });
            }
        }
    }
    sockets
}

/// The inode of the Unix socket bound at `path`, from `/proc/net/unix`.
pub fn unix_socket_inodes(path: &Path) -> HashSet<u64> {
    let text = std::fs::read_to_string("/proc/net/unix").expect("read /proc/net/unix");
    let wanted = path.to_string_lossy();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(7).copied() == Some(wanted.as_ref()))
                .then(|| fields.get(6)?.parse().ok())
                .flatten()
        })
        .collect()
}
