//! The shop under `angzarr-standalone`, as the chaos run drives it: started on the e2e
//! manifest in a temporary directory, SIGKILLed (the runtime, or one business-logic process)
//! and started again on the same files, and watched through the admin socket for every
//! business-logic pid it ever ran.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_client::RowStore;
use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{Topology, TopologyRequest};
use angzarr_standalone_integration::{RuntimeProcess, bin_path, process_gone, short_temp_dir};
use example_e2e::{COMPONENTS, Kind, lagging, manifest, parked};
use prost_types::Any;
use tempfile::TempDir;
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::rng::Rng;

/// How long a killed component may take to be serving again, the old processes of a killed
/// runtime to be gone, or the system to settle.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// Rows of one projector, by key.
pub type Rows = Vec<(String, Any)>;

/// The running shop and what the run did to it.
pub struct System {
    dir: TempDir,
    runtime: Option<RuntimeProcess>,
    admin: RuntimeClient<Channel>,
    /// Every business-logic process seen (start-up summaries, topology polls): its pid and
    /// start time, so that a pid the kernel reuses for another process does not count.
    pub pids_seen: BTreeMap<u32, Option<u64>>,
    /// Every runtime pid started.
    pub runtime_pids: Vec<u32>,
    pub runtime_kills: u32,
    /// Of which kills of a runtime still starting.
    pub start_up_kills: u32,
    /// Kills of business-logic processes, by component.
    pub component_kills: Vec<String>,
}

impl System {
    /// Writes the e2e manifest of the whole shop, with restarts fast and never given up on
    /// (the run kills the same component more often than a crash loop allows), and starts it.
    pub async fn start() -> Self {
        let dir = short_temp_dir();
        let bins = bin_path("angzarr-standalone")
            .parent()
            .map(Path::to_path_buf)
            .expect("the binaries' directory");
        // Synchronous commands wait for subscribers a killed process may hold up; they give
        // up well before the client's call timeout (their answer then lacks those results,
        // which is the documented behaviour).
        let shop = manifest(dir.path(), &bins);
        assert!(
            shop.contains("[delivery]\n"),
            "the shop's manifest has a [delivery] table"
        );
        let text = format!(
            "{}\n[supervisor]\nrestart_backoff_secs = 0.05\nmax_restart_backoff_secs = 0.5\n\
             max_restarts = 1000000\n",
            shop.replace("[delivery]\n", "[delivery]\nsync_timeout_secs = 3.0\n")
        );
        std::fs::write(dir.path().join("angzarr.toml"), text).expect("write the manifest");
        let admin = RuntimeClient::new(angzarr_transport::channel_lazy(
            dir.path().join("s/runtime.sock"),
        ));
        let mut system = Self {
            dir,
            runtime: None,
            admin,
            pids_seen: BTreeMap::new(),
            runtime_pids: Vec::new(),
            runtime_kills: 0,
            start_up_kills: 0,
            component_kills: Vec::new(),
        };
        system.spawn_runtime().await;
        system
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn sockets(&self) -> PathBuf {
        self.dir().join("s")
    }

    fn manifest(&self) -> PathBuf {
        self.dir().join("angzarr.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.dir().join("events.db")
    }

    async fn spawn_runtime(&mut self) {
        let runtime = RuntimeProcess::spawn(&self.manifest()).await;
        self.runtime_pids.push(runtime.pid());
        for (name, _, _) in COMPONENTS {
            self.saw(runtime.component_pid(name));
        }
        self.runtime = Some(runtime);
    }

    /// The runtime's topology (components, their pids and checkpoints); remembers the pids.
    pub async fn topology(&mut self) -> Result<Topology, String> {
        let call = self.admin.get_topology(TopologyRequest::default());
        let topology = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .map_err(|_| "topology: no answer within 5s".to_string())?
            .map_err(|status| format!("topology: {status:?}"))?
            .into_inner();
        for node in topology.nodes.iter().filter(|n| n.pid != 0) {
            self.saw(node.pid);
        }
        Ok(topology)
    }

    fn saw(&mut self, pid: u32) {
        self.pids_seen.entry(pid).or_insert_with(|| start_time(pid));
    }

    /// The business-logic processes seen that are still alive.
    pub fn survivors(&self) -> Vec<u32> {
        self.pids_seen
            .iter()
            .filter(|(pid, started)| started.is_some() && start_time(**pid) == **started)
            .map(|(pid, _)| *pid)
            .collect()
    }

    /// SIGKILLs the runtime, checks that its business-logic processes die with it, and starts
    /// it again on the same files; sometimes kills that start too, early on.
    pub async fn kill_runtime(&mut self, rng: &mut Rng) {
        // The current children, as far as the runtime can still say.
        let children: Vec<u32> = match self.topology().await {
            Ok(topology) => topology
                .nodes
                .iter()
                .map(|n| n.pid)
                .filter(|p| *p != 0)
                .collect(),
            Err(_) => Vec::new(),
        };
        let runtime = self.runtime.take().expect("the runtime is running");
        let signal = runtime.kill_hard().await;
        assert_eq!(signal, Some(9), "the runtime died of SIGKILL");
        self.runtime_kills += 1;
        wait_for(
            "the killed runtime's business-logic processes to be gone",
            || children.iter().all(|pid| process_gone(*pid)),
        )
        .await;
        self.no_process_uses_the_directory().await;
        if rng.chance(0.3) {
            self.kill_during_start_up(rng).await;
        }
        self.spawn_runtime().await;
    }

    /// Starts the runtime and SIGKILLs it within its first `0..400 ms`: while it opens the
    /// store, spawns components or catches subscribers up. Its children must die with it.
    async fn kill_during_start_up(&mut self, rng: &mut Rng) {
        let mut starting = RuntimeProcess::command(&self.manifest())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn angzarr-standalone");
        // The chaos schedule: a random moment of the start-up.
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        starting.start_kill().expect("SIGKILL the starting runtime");
        starting.wait().await.expect("reap the starting runtime");
        self.runtime_kills += 1;
        self.start_up_kills += 1;
        self.no_process_uses_the_directory().await;
    }

    /// Waits until no process (a business-logic process of a runtime that was killed) uses
    /// the run's directory any more.
    async fn no_process_uses_the_directory(&self) {
        let dir = self.dir().to_path_buf();
        wait_for("the killed runtime's processes to be gone", || {
            processes_mentioning(&dir).is_empty()
        })
        .await;
    }

    /// SIGKILLs the business-logic process of a random serving component and waits until the
    /// supervisor has it serving again under a new pid. Returns the component's name.
    pub async fn kill_component(&mut self, rng: &mut Rng) -> Result<String, String> {
        let topology = self.topology().await?;
        let serving: Vec<(String, u32)> = topology
            .nodes
            .iter()
            .filter(|n| n.pid != 0 && n.state == "serving")
            .map(|n| (n.name.clone(), n.pid))
            .collect();
        if serving.is_empty() {
            return Err(format!("no component is serving: {topology:?}"));
        }
        let index = usize::try_from(rng.below(serving.len() as u64)).unwrap_or(0);
        let (name, pid) = serving[index].clone();
        sigkill(pid)
            .await
            .map_err(|err| format!("kill {name} ({pid}): {err}"))?;
        self.component_kills.push(name.clone());
        let deadline = Instant::now() + RECOVERY_TIMEOUT;
        loop {
            if let Ok(topology) = self.topology().await {
                let node = topology.nodes.iter().find(|n| n.name == name);
                if node.is_some_and(|n| n.pid != 0 && n.pid != pid && n.state == "serving") {
                    break;
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{name} was not serving again {RECOVERY_TIMEOUT:?} after its kill"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
        if !process_gone(pid) {
            return Err(format!("{name}'s killed process {pid} is still there"));
        }
        Ok(name)
    }

    /// Waits until every saga, process manager and projector has handled the whole log and
    /// nothing is parked (a parked event is a failure: it was not delivered).
    pub async fn settle(&mut self) -> Result<u64, String> {
        let deadline = Instant::now() + RECOVERY_TIMEOUT;
        loop {
            let topology = self.topology().await?;
            let parked = parked(&topology);
            if !parked.is_empty() {
                return Err(format!("events were parked: {}", parked.join(", ")));
            }
            let behind = lagging(&topology);
            if behind.is_empty() {
                return Ok(topology.head_position);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not settled within {RECOVERY_TIMEOUT:?}: head {}, behind: {}",
                    topology.head_position,
                    behind.join(", ")
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the runtime the way an operator does (SIGTERM), which must succeed.
    pub async fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            let status = runtime.terminated().await;
            assert!(
                status.success(),
                "the runtime did not stop cleanly: {status}"
            );
        }
    }

    /// Every projector's rows (the runtime must be stopped).
    pub fn projections(&self) -> Vec<(String, Rows)> {
        projectors()
            .map(|name| {
                let path = self.projection_db(name);
                let rows = RowStore::open(&path)
                    .and_then(|store| store.rows())
                    .unwrap_or_else(|status| panic!("rows of {name}: {}", status.message()));
                (name.to_string(), rows)
            })
            .collect()
    }

    /// Forgets every projection: removes the projectors' row files and their checkpoints, so
    /// that the next start replays the whole log into empty read models (runtime stopped).
    pub fn forget_projections(&self) {
        let conn = rusqlite::Connection::open(self.store()).expect("open the event store");
        for name in projectors() {
            conn.execute("DELETE FROM checkpoints WHERE subscriber = ?1", [name])
                .expect("delete a projector's checkpoint");
            let db = self.projection_db(name);
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", db.display()));
                if file.exists() {
                    std::fs::remove_file(&file).expect("remove a projection file");
                }
            }
        }
    }

    /// Starts the runtime again on the same files (after [`stop`](Self::stop)).
    pub async fn restart(&mut self) {
        assert!(self.runtime.is_none(), "stop the runtime first");
        self.spawn_runtime().await;
    }

    fn projection_db(&self, projector: &str) -> PathBuf {
        self.dir().join(format!("{projector}.db"))
    }
}

fn projectors() -> impl Iterator<Item = &'static str> {
    COMPONENTS
        .iter()
        .filter(|(_, kind, _)| *kind == Kind::Projector)
        .map(|(name, _, _)| *name)
}

/// When process `pid` started (clock ticks after boot, `/proc/<pid>/stat` field 22); `None`
/// when it is gone or a zombie.
fn start_time(pid: u32) -> Option<u64> {
    if process_gone(pid) {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after "pid (comm)": state is field 3, so start time is the 20th after the ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// SIGKILLs process `pid` (with kill(1): the crate needs no bindings for one signal).
async fn sigkill(pid: u32) -> Result<(), String> {
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .map_err(|err| format!("run kill: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -KILL {pid}: {status}"))
    }
}

/// Polls `condition` until it holds; panics naming `what` after [`RECOVERY_TIMEOUT`].
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + RECOVERY_TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// Processes (other than this one) whose environment mentions `dir`: the business-logic
/// processes of a runtime in `dir` carry their socket path there. After the run: none.
pub fn processes_mentioning(dir: &Path) -> Vec<u32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && !process_gone(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}
