//! Projector lag: how long after its commit an event reaches a projector, under steady load.
//!
//! A real `angzarr-standalone` runs the synthetic aggregate and the synthetic projector, which
//! appends, per event it receives, the microseconds from the event's commit (`created_at`) to
//! its delivery (`SYNTHETIC_LAG_LOG`). One closed-loop client drives the aggregate as in the
//! e2e scenarios (a steady load below saturation on a small machine: with 8 clients on 2
//! cores the projector falls behind, and the lag measures the queue, not the path);
//! afterwards the projector's lags go into a histogram.
//!
//! The same load is then run with the projector in a second runtime process, the two joined
//! by an `[ipc]` directory: the event crosses the IPC bus (publisher-side filtering, a local
//! socket, the subscriber's source) instead of the in-process channel bus.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::e2e::{Spread, drive_coordinator, temp_dir};
use crate::error::{Error, Result};
use crate::fixtures::DOMAIN;
use crate::load::Recorder;
use crate::options::{Group, Plan};
use crate::processes::Server;
use crate::report::Scenario;

/// Clients of the steady load (see the module docs).
const CLIENTS: usize = 1;
/// How long the projector may take to catch up after the load stops.
const CATCH_UP: Duration = Duration::from_secs(60);

/// Where the pieces run: one process, or the aggregate and the projector in two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    OneProcess,
    TwoProcesses,
}

fn header(sockets: &str, store: &str) -> String {
    format!(
        "# Written by angzarr-bench.\n\
         socket_dir = {sockets:?}\n\
         [storage]\npath = {store:?}\ndurability = \"full\"\n"
    )
}

fn aggregate(logic: &Path) -> String {
    format!(
        "[components.{DOMAIN}]\nkind = \"aggregate\"\ncommand = [{:?}]\n",
        logic.display().to_string()
    )
}

fn projector(subscriber: &Path, lag_log: &Path, log: &Path) -> String {
    format!(
        "[components.projector-lag]\nkind = \"projector\"\ncommand = [{:?}]\n\
         env = {{ SYNTHETIC_KIND = \"projector\", SYNTHETIC_INPUTS = \"{DOMAIN}\", \
         SYNTHETIC_LOG = {:?}, SYNTHETIC_LAG_LOG = {:?} }}\n",
        subscriber.display().to_string(),
        log.display().to_string(),
        lag_log.display().to_string(),
    )
}

fn ipc(process: &str) -> String {
    format!("[ipc]\ndir = \"ipc\"\nprocess = {process:?}\n")
}

fn lags(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Runs the projector-lag scenarios: in one process (the channel bus), then across two (the
/// IPC bus), at the same load.
pub async fn run(plan: &Plan) -> Result<Vec<Scenario>> {
    let mut scenarios = vec![run_one(plan, Placement::OneProcess).await?];
    scenarios.push(run_one(plan, Placement::TwoProcesses).await?);
    Ok(scenarios)
}

async fn run_one(plan: &Plan, placement: Placement) -> Result<Scenario> {
    let standalone = plan.binary("angzarr-standalone")?;
    let logic = plan.binary("angzarr-synthetic-aggregate")?;
    let subscriber = plan.binary("angzarr-synthetic-subscriber")?;
    let dir = temp_dir()?;
    let lag_log = dir.path().join("lag.log");
    let projector = projector(&subscriber, &lag_log, &dir.path().join("projector.log"));
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text)
            .map(|()| path.clone())
            .map_err(Error::io(format!("cannot write {}", path.display())))
    };
    let env = [("ANGZARR_LOG", OsStr::new("warn"))];
    let start = |name: &'static str, manifest: PathBuf, socket: PathBuf| {
        let standalone = standalone.clone();
        let stderr = dir.path().join(format!("{name}.stderr"));
        async move {
            Server::start(
                name,
                &standalone,
                &["run", "-c", &manifest.to_string_lossy()],
                &env,
                stderr,
                &socket,
            )
            .await
        }
    };
    let socket = dir.path().join("sockets").join(format!("{DOMAIN}.sock"));
    let mut servers = Vec::new();
    match placement {
        Placement::OneProcess => {
            let text = header("sockets", "events.db") + &aggregate(&logic) + &projector;
            let manifest = write("angzarr.toml", text)?;
            servers.push(start("angzarr-standalone", manifest, socket.clone()).await?);
        }
        Placement::TwoProcesses => {
            let text = header("sockets", "events.db") + &ipc("owner") + &aggregate(&logic);
            let owner = write("owner.toml", text)?;
            servers.push(start("angzarr-standalone (owner)", owner, socket.clone()).await?);
            let text = header("reader-sockets", "reader.db") + &ipc("reader") + &projector;
            let reader = write("reader.toml", text)?;
            let ready = dir.path().join("reader-sockets").join("projector-lag.sock");
            servers.push(start("angzarr-standalone (reader)", reader, ready).await?);
        }
    }
    let result = measure(plan, &servers[0], &socket, &lag_log, placement).await;
    for server in servers.into_iter().rev() {
        server.stop().await;
    }
    result
}

async fn measure(
    plan: &Plan,
    server: &Server,
    socket: &Path,
    lag_log: &Path,
    placement: Placement,
) -> Result<Scenario> {
    let spread = Spread::Many(plan.aggregates);
    let mut outcome = drive_coordinator(plan, socket, CLIENTS, spread, server.pid()).await?;
    // Warm-up and measured commands all reach the projector; wait for every one of them.
    let expected = outcome.completed;
    let deadline = Instant::now() + CATCH_UP;
    let mut seen = lags(lag_log);
    while (seen.len() as u64) < expected {
        if Instant::now() > deadline {
            return Err(Error::Setup(format!(
                "the projector received {} of at least {expected} events within {CATCH_UP:?}",
                seen.len()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = lags(lag_log);
    }
    let mut recorder = Recorder::default();
    for lag in &seen {
        recorder.record(Duration::from_micros(*lag));
    }
    outcome.latency = recorder;
    let (id, title) = match placement {
        Placement::OneProcess => ("lag-many", "projector lag, commit -> delivery"),
        Placement::TwoProcesses => (
            "lag-ipc-many",
            "projector lag across processes (IPC bus), commit -> delivery",
        ),
    };
    let scenario = Scenario::from_outcome(
        Group::Lag,
        format!("{id}-{CLIENTS}"),
        title.to_string(),
        CLIENTS,
        Some(plan.aggregates),
        &outcome,
    );
    Ok(scenario)
}
