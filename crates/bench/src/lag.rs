//! Projector lag: how long after its commit an event reaches a projector, under steady load.
//!
//! A real `angzarr-standalone` runs the synthetic aggregate and the synthetic projector, which
//! appends, per event it receives, the microseconds from the event's commit (`created_at`) to
//! its delivery (`SYNTHETIC_LAG_LOG`). One closed-loop client drives the aggregate as in the
//! e2e scenarios (a steady load below saturation on a small machine: with 8 clients on 2
//! cores the projector falls behind, and the lag measures the queue, not the path);
//! afterwards the projector's lags go into a histogram.

use std::ffi::OsStr;
use std::path::Path;
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

fn manifest(logic: &Path, subscriber: &Path, lag_log: &Path, log: &Path) -> String {
    format!(
        "# Written by angzarr-bench.\n\
         socket_dir = \"sockets\"\n\
         [storage]\npath = \"events.db\"\ndurability = \"full\"\n\
         [components.{DOMAIN}]\nkind = \"aggregate\"\ncommand = [{:?}]\n\
         [components.projector-lag]\nkind = \"projector\"\ncommand = [{:?}]\n\
         env = {{ SYNTHETIC_KIND = \"projector\", SYNTHETIC_INPUTS = \"{DOMAIN}\", \
         SYNTHETIC_LOG = {:?}, SYNTHETIC_LAG_LOG = {:?} }}\n",
        logic.display().to_string(),
        subscriber.display().to_string(),
        log.display().to_string(),
        lag_log.display().to_string(),
    )
}

fn lags(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Runs the projector-lag scenario.
pub async fn run(plan: &Plan) -> Result<Scenario> {
    let standalone = plan.binary("angzarr-standalone")?;
    let logic = plan.binary("angzarr-synthetic-aggregate")?;
    let subscriber = plan.binary("angzarr-synthetic-subscriber")?;
    let dir = temp_dir()?;
    let lag_log = dir.path().join("lag.log");
    let manifest_path = dir.path().join("angzarr.toml");
    let text = manifest(
        &logic,
        &subscriber,
        &lag_log,
        &dir.path().join("projector.log"),
    );
    std::fs::write(&manifest_path, text).map_err(Error::io(format!(
        "cannot write {}",
        manifest_path.display()
    )))?;
    let socket = dir.path().join("sockets").join(format!("{DOMAIN}.sock"));
    let server = Server::start(
        "angzarr-standalone",
        &standalone,
        &["run", "-c", &manifest_path.to_string_lossy()],
        &[("ANGZARR_LOG", OsStr::new("warn"))],
        dir.path().join("standalone.stderr"),
        &socket,
    )
    .await?;
    let result = measure(plan, &server, &socket, &lag_log).await;
    server.stop().await;
    result
}

async fn measure(plan: &Plan, server: &Server, socket: &Path, lag_log: &Path) -> Result<Scenario> {
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
    let scenario = Scenario::from_outcome(
        Group::Lag,
        format!("lag-many-{CLIENTS}"),
        "projector lag, commit -> delivery".to_string(),
        CLIENTS,
        Some(plan.aggregates),
        &outcome,
    );
    Ok(scenario)
}
