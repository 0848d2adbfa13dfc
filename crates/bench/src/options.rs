//! Command-line options, and the [`Plan`] they resolve to (what the library runs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::error::{Error, Result};

const LONG_ABOUT: &str = "\
Measures the Angzarr runtime end to end and, in the same run, the limits underneath it, then
reports throughput, latency percentiles (HDR histogram), CPU time per command and memory of
the runtime process, and the ratios the targets are stated in.

Scenarios (select with --scenario; all run by default, in this order):
  sqlite  raw SQLite: event rows appended with rusqlite directly, one transaction per event
          and --batch events per transaction (WAL, synchronous=FULL, the runtime's schema)
  store   the same rows through the runtime's SqliteEventStore: --batch events per append,
          and single-event appends from 32 concurrent tasks (group commit)
  load    loading a --history-event aggregate with and without a snapshot, and a 10-event
          one with a snapshot
  echo    a bare tonic echo (one gRPC hop) in its own process over a Unix socket, at each
          client count
  e2e     angzarr-standalone (its own process, durable SQLite in a temp dir) with the
          synthetic aggregate: client -> coordinator -> business logic -> store -> response,
          at each client count, over --aggregates aggregates and all on one aggregate
  lag     projector lag: the same runtime plus the synthetic projector under the steady load
          of one client; the time from each event's commit to its delivery (p50/p99); then
          the same with the projector in a second runtime process (the IPC bus)

Clients are closed-loop: each sends its next request when the previous one answered. Every
measured phase follows a warm-up. CPU seconds and peak RSS are read from /proc for the
runtime (and the echo server) only, never the load generator.

The binaries are found next to this executable (or in --bin-dir): angzarr-standalone,
angzarr-synthetic-aggregate and angzarr-bench itself (the echo server). Benchmark release
builds only: `cargo build --release --bins && ./target/release/angzarr-bench`, or
`scripts/bench`, which does both.";

/// Scenario groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// Raw rusqlite appends (the durable-commit baseline).
    Sqlite,
    /// Appends through the runtime's SQLite event store.
    Store,
    /// History loads with and without a snapshot.
    Load,
    /// A bare tonic echo over a Unix socket (the one-hop baseline).
    Echo,
    /// The runtime end to end.
    E2e,
    /// Projector lag (commit to delivery) under steady load.
    Lag,
}

/// `angzarr-bench`: the runtime against raw SQLite and a bare gRPC echo, in one run.
#[derive(Debug, Clone, Parser)]
#[command(name = "angzarr-bench", version, about, long_about = LONG_ABOUT)]
pub struct Options {
    /// Print the report as JSON on stdout instead of the human table.
    #[arg(long)]
    pub json: bool,
    /// A smoke run: short phases, clients 1 and 8, 1 000 aggregates, a 10 000-event history.
    /// Explicit flags still win.
    #[arg(long)]
    pub quick: bool,
    /// Run only these scenario groups (repeat or comma-separate). Default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Group>,
    /// Concurrent clients of the echo and e2e scenarios [default: 1,8,32,128].
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Distinct aggregates the "many aggregates" scenarios spread commands over
    /// [default: 10000].
    #[arg(long)]
    pub aggregates: Option<usize>,
    /// Seconds each measured phase runs [default: 3].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds of warm-up before each measured phase [default: 1].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Stop each measured phase after this many requests (events for sqlite/store) instead
    /// of after --duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Bytes of payload in each command and event [default: 64].
    #[arg(long)]
    pub payload_bytes: Option<usize>,
    /// Events per transaction (raw SQLite) and per append (store) [default: 100].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Events in the long history of the load scenario [default: 100000].
    #[arg(long)]
    pub history: Option<u32>,
    /// Directory holding angzarr-standalone, angzarr-synthetic-aggregate and angzarr-bench
    /// [default: the directory of this executable].
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Serve the echo baseline on $ANGZARR_SOCKET until SIGTERM (the harness starts itself
    /// this way; not for humans).
    #[arg(long, hide = true)]
    pub serve_echo: bool,
}

/// When a measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this long.
    After(Duration),
    /// After this many requests (or events).
    Count(u64),
}

/// A resolved run: every default applied, the binary directory found.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Groups to run.
    pub groups: Vec<Group>,
    /// Client counts of the echo and e2e scenarios.
    pub clients: Vec<usize>,
    /// Aggregates of the "many aggregates" scenarios.
    pub aggregates: usize,
    /// Warm-up before each measured phase.
    pub warmup: Duration,
    /// When each measured phase ends.
    pub stop: Stop,
    /// Payload bytes per command / event.
    pub payload_bytes: usize,
    /// Events per transaction / append in the batched storage scenarios.
    pub batch: usize,
    /// Events of the long history of the load scenario.
    pub history: u32,
    /// Where the sibling binaries are.
    pub bin_dir: PathBuf,
    /// Whether the binaries are a release build (judged from the directory name).
    pub release: bool,
    /// Print progress lines on stderr.
    pub progress: bool,
}

impl Options {
    /// Applies the defaults (the `--quick` ones when asked) and finds the binaries' directory.
    pub fn plan(&self) -> Result<Plan> {
        let quick = self.quick;
        let pick = |value: Option<f64>, normal: f64, fast: f64| {
            value.unwrap_or(if quick { fast } else { normal })
        };
        let seconds = |value: f64, flag: &str| {
            Duration::try_from_secs_f64(value)
                .map_err(|_| Error::Setup(format!("--{flag} must be a number of seconds >= 0")))
        };
        let duration = seconds(pick(self.duration, 3.0, 0.5), "duration")?;
        let stop = match self.requests {
            Some(count) => Stop::Count(count.max(1)),
            None => Stop::After(duration),
        };
        let clients = match (self.clients.is_empty(), quick) {
            (false, _) => self.clients.clone(),
            (true, false) => vec![1, 8, 32, 128],
            (true, true) => vec![1, 8],
        };
        if clients.contains(&0) {
            return Err(Error::Setup("--clients must be at least 1".into()));
        }
        let bin_dir = match &self.bin_dir {
            Some(dir) => dir.clone(),
            None => own_dir()?,
        };
        Ok(Plan {
            groups: if self.scenario.is_empty() {
                Group::value_variants().to_vec()
            } else {
                self.scenario.clone()
            },
            clients,
            aggregates: self
                .aggregates
                .unwrap_or(if quick { 1_000 } else { 10_000 })
                .max(1),
            warmup: seconds(pick(self.warmup, 1.0, 0.2), "warmup")?,
            stop,
            payload_bytes: self.payload_bytes.unwrap_or(64),
            batch: self.batch.unwrap_or(100).max(1),
            history: self
                .history
                .unwrap_or(if quick { 10_000 } else { 100_000 })
                .max(20),
            release: bin_dir.ends_with("release"),
            bin_dir,
            progress: !self.json,
        })
    }
}

/// The directory of this executable; for a test binary in `target/<profile>/deps`, its
/// parent, where cargo puts the workspace's binaries.
fn own_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(Error::io("cannot find this executable"))?;
    let dir = exe
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::Setup(format!("{} has no directory", exe.display())))?;
    match dir.file_name() {
        Some(name) if name == "deps" => Ok(dir.parent().map_or(dir.clone(), Path::to_path_buf)),
        _ => Ok(dir),
    }
}

impl Plan {
    /// Whether `group` is selected.
    pub fn runs(&self, group: Group) -> bool {
        self.groups.contains(&group)
    }

    /// A sibling binary, or [`Error::MissingBinary`].
    pub fn binary(&self, name: &'static str) -> Result<PathBuf> {
        let path = self.bin_dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::MissingBinary {
                name,
                dir: self.bin_dir.clone(),
            })
        }
    }

    /// A progress line on stderr.
    pub fn say(&self, what: &str) {
        if self.progress {
            eprintln!("angzarr-bench: {what} ...");
        }
    }
}
