//! The runtime end to end: a real `angzarr-standalone` process (durable SQLite in a temp dir,
//! the synthetic aggregate as its business logic) driven over its coordinator socket.
//!
//! Every command is `Echo{payload}` with a fresh idempotency key, so each one takes the full
//! path: idempotency lookup, aggregate lock, load, business logic over gRPC, append with the
//! idempotency record (and a snapshot every 100 events), publish, answer. The runtime's CPU
//! time and memory come from `/proc/<pid>`, the business logic's from its own pid (a child
//! of the runtime), so the load generator is never counted.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use angzarr_proto::business_coordinator_client::BusinessCoordinatorClient;
use angzarr_proto::{CommandBook, CommandPage, CommandResponse, Cover, CoverExt};
use angzarr_synthetic_aggregate::{Echo, pack};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::fixtures::{DOMAIN, root};
use crate::load::{self, Outcome};
use crate::options::{Group, Plan};
use crate::processes::Server;
use crate::procstat::{self, Memory};
use crate::report::Scenario;

/// Which aggregates the clients' commands go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Over this many aggregates, no two clients ever on the same one at once.
    Many(usize),
    /// All on one aggregate (they queue on its lock).
    One,
}

impl Spread {
    /// The aggregate of client `client`'s `n`-th command when `clients` run.
    fn aggregate(self, client: usize, n: usize, clients: usize) -> usize {
        match self {
            Spread::Many(count) => (client + n * clients) % count.max(1),
            // Far from the indices the "many" scenarios use.
            Spread::One => 1 << 40,
        }
    }
}

/// The runtime process as the e2e scenarios found it.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    /// Seconds from spawning `angzarr-standalone` to its coordinator socket accepting.
    pub start_seconds: f64,
    /// Memory of the runtime once ready, before any command.
    pub idle: Memory,
    /// Memory of the business-logic process once ready.
    pub logic_idle: Option<Memory>,
}

/// A temp dir for sockets and stores, with a short path (socket addresses are limited).
pub(crate) fn temp_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("angzarr-bench.")
        .tempdir()
        .map_err(Error::io("cannot create a temp dir"))
}

/// The command every echo and e2e request sends.
pub fn command(root: Uuid, payload_bytes: usize) -> CommandBook {
    CommandBook {
        cover: Some(Cover::for_root(DOMAIN, root)),
        pages: vec![CommandPage {
            sequence: None,
            command: Some(pack(&Echo {
                payload: vec![0x5a; payload_bytes],
            })),
        }],
        idempotency_key: Uuid::new_v4().to_string(),
        ..CommandBook::default()
    }
}

fn check(response: CommandResponse) -> std::result::Result<(), String> {
    match response.events.map(|book| book.pages.len()) {
        Some(1) => Ok(()),
        other => Err(format!("expected one event in the response, got {other:?}")),
    }
}

/// Drives `clients` clients, each on its own connection to `socket`, through a warm-up and a
/// measured phase, and watches the CPU time of `server` and its children and `server`'s peak
/// memory during the phase.
pub(crate) async fn drive_coordinator(
    plan: &Plan,
    socket: &Path,
    clients: usize,
    spread: Spread,
    server: u32,
) -> Result<Outcome> {
    let mut watched = vec![server];
    watched.extend(
        procstat::children(server)
            .map_err(Error::io(format!("cannot list the children of {server}")))?,
    );
    let mut callers = Vec::with_capacity(clients);
    for client in 0..clients {
        let channel = angzarr_transport::channel(socket.to_path_buf())
            .await
            .map_err(|err| Error::setup(&format!("cannot connect to {}", socket.display()), err))?;
        let grpc = BusinessCoordinatorClient::new(channel);
        let payload_bytes = plan.payload_bytes;
        let mut n = 0;
        callers.push(move || {
            let book = command(root(spread.aggregate(client, n, clients)), payload_bytes);
            n += 1;
            let mut grpc = grpc.clone();
            async move {
                match grpc.handle(book).await {
                    Ok(response) => check(response.into_inner()),
                    Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
                }
            }
        });
    }
    // Best effort: without the right to reset it, the peak is the process's lifetime peak.
    let _ = procstat::reset_peak(server);
    let mut outcome = load::drive(callers, plan.warmup, plan.stop, &watched).await?;
    outcome.memory = procstat::memory(server).ok();
    Ok(outcome)
}

fn manifest(logic: &Path) -> String {
    format!(
        "# Written by angzarr-bench.\n\
         socket_dir = \"sockets\"\n\
         \n\
         [storage]\n\
         path = \"events.db\"\n\
         durability = \"full\"\n\
         \n\
         [components.{DOMAIN}]\n\
         kind = \"aggregate\"\n\
         command = [{:?}]\n",
        logic.display().to_string()
    )
}

/// Starts the runtime and runs the e2e scenarios: each client count over many aggregates,
/// then each on one aggregate.
pub async fn run(plan: &Plan) -> Result<(RuntimeInfo, Vec<Scenario>)> {
    let standalone = plan.binary("angzarr-standalone")?;
    let logic = plan.binary("angzarr-synthetic-aggregate")?;
    let dir = temp_dir()?;
    let manifest_path = dir.path().join("angzarr.toml");
    std::fs::write(&manifest_path, manifest(&logic)).map_err(Error::io(format!(
        "cannot write {}",
        manifest_path.display()
    )))?;
    let socket = dir.path().join("sockets").join(format!("{DOMAIN}.sock"));
    let started = Instant::now();
    let server = Server::start(
        "angzarr-standalone",
        &standalone,
        &["run", "-c", &manifest_path.to_string_lossy()],
        &[("ANGZARR_LOG", OsStr::new("warn"))],
        dir.path().join("standalone.stderr"),
        &socket,
    )
    .await?;
    let result = measure(plan, &server, &socket, started).await;
    server.stop().await;
    result
}

async fn measure(
    plan: &Plan,
    server: &Server,
    socket: &Path,
    started: Instant,
) -> Result<(RuntimeInfo, Vec<Scenario>)> {
    let pid = server.pid();
    let start_seconds = started.elapsed().as_secs_f64();
    let idle = procstat::memory(pid).map_err(Error::io("cannot read the runtime's memory"))?;
    let logic_idle = procstat::children(pid)
        .ok()
        .and_then(|children| children.first().copied())
        .and_then(|child| procstat::memory(child).ok());
    let mut scenarios = Vec::new();
    for (spread, label, aggregates) in [
        (Spread::Many(plan.aggregates), "many", Some(plan.aggregates)),
        (Spread::One, "one", Some(1)),
    ] {
        for &clients in &plan.clients {
            let outcome = drive_coordinator(plan, socket, clients, spread, pid).await?;
            scenarios.push(Scenario::from_outcome(
                Group::E2e,
                format!("e2e-{label}-{clients}"),
                format!("runtime e2e, {label} aggregate(s)"),
                clients,
                aggregates,
                &outcome,
            ));
        }
    }
    Ok((
        RuntimeInfo {
            start_seconds,
            idle,
            logic_idle,
        },
        scenarios,
    ))
}
