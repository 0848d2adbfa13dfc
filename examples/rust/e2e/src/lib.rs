//! The whole example shop under a real `angzarr-standalone`, for the end-to-end features.
//!
//! [`Shop::start`] writes a manifest listing every component of the specification into a
//! fresh temporary directory, runs the `angzarr-standalone` binary on it and connects to the
//! gateway and the admin socket like any client would. [`Shop::settle`] waits until every
//! subscriber has handled everything stored, which is what lets a test observe "nothing else
//! happened" without sleeping.
//!
//! `E2E_SHOP` chooses the shop [`Shop::start`] runs: `rust` (the default), `python`
//! (`examples/python/angzarr.toml`: every component in Python, from the virtualenv that
//! `clients/python/test.sh` makes: `.venv`, or `$E2E_PYTHON_VENV`) or `mixed`
//! (`examples/mixed.toml`: both languages). Not `ANGZARR_*`: the runtime reads those as
//! manifest keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_client::RowStore;
use angzarr_proto::command_gateway_client::CommandGatewayClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{
    CommandBook, CommandResponse, Cover, CoverExt, EventBook, EventPage, Query, Topology,
    TopologyRequest,
};
use angzarr_standalone_integration::{RuntimeProcess, bin_path, repo_root, short_temp_dir};
use futures::TryStreamExt;
use prost_types::Any;
use tempfile::TempDir;
use tonic::Status;
use tonic::transport::Channel;
use uuid::Uuid;

/// What kind of component, as the manifest spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Commands in, events out.
    Aggregate,
    /// Events of one domain in, commands out.
    Saga,
    /// Events of several domains in, correlated; its own events and commands out.
    ProcessManager,
    /// Events in, rows out.
    Projector,
}

impl Kind {
    fn manifest_name(self) -> &'static str {
        match self {
            Kind::Aggregate => "aggregate",
            Kind::Saga => "saga",
            Kind::ProcessManager => "process_manager",
            Kind::Projector => "projector",
        }
    }
}

/// Every component of the shop: (component name, kind, binary).
pub const COMPONENTS: &[(&str, Kind, &str)] = &[
    ("customer", Kind::Aggregate, "example-customer"),
    ("product", Kind::Aggregate, "example-product"),
    ("inventory", Kind::Aggregate, "example-inventory"),
    ("cart", Kind::Aggregate, "example-cart"),
    ("order", Kind::Aggregate, "example-order"),
    ("fulfillment", Kind::Aggregate, "example-fulfillment"),
    (
        "saga-order-fulfillment",
        Kind::Saga,
        "example-saga-order-fulfillment",
    ),
    (
        "saga-order-customer",
        Kind::Saga,
        "example-saga-order-customer",
    ),
    (
        "saga-order-inventory",
        Kind::Saga,
        "example-saga-order-inventory",
    ),
    (
        "saga-cart-inventory",
        Kind::Saga,
        "example-saga-cart-inventory",
    ),
    (
        "order-fulfillment",
        Kind::ProcessManager,
        "example-pm-order-fulfillment",
    ),
    (
        "order-status",
        Kind::ProcessManager,
        "example-pm-order-status",
    ),
    (
        "projector-order-web",
        Kind::Projector,
        "example-projector-order-web",
    ),
    (
        "projector-order-accounting",
        Kind::Projector,
        "example-projector-order-accounting",
    ),
    (
        "projector-customer-loyalty",
        Kind::Projector,
        "example-projector-customer-loyalty",
    ),
    (
        "projector-inventory-stock",
        Kind::Projector,
        "example-projector-inventory-stock",
    ),
];

/// The environment variable choosing the shop [`Shop::start`] runs (see the crate's docs).
pub const SHOP_ENV: &str = "E2E_SHOP";

/// How long [`Shop::settle`] waits for the cascade of one step.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The manifest of the whole shop in `dir`: sockets, store and projection files all inside it,
/// components run from `bin_dir`.
pub fn manifest(dir: &Path, bin_dir: &Path) -> String {
    let mut toml = format!(
        "socket_dir = {sockets:?}\n\n[storage]\npath = {db:?}\ndurability = \"normal\"\n\n\
         [delivery]\nretry_backoff_secs = 0.02\nmax_retry_backoff_secs = 0.2\n",
        sockets = dir.join("s").display().to_string(),
        db = dir.join("events.db").display().to_string(),
    );
    for (name, kind, binary) in COMPONENTS {
        toml.push_str(&format!(
            "\n[components.{name}]\nkind = \"{}\"\ncommand = [{:?}]\n",
            kind.manifest_name(),
            bin_dir.join(binary).display().to_string(),
        ));
        if *kind == Kind::Projector {
            toml.push_str(&format!(
                "env = {{ ANGZARR_PROJECTION_DB = {:?} }}\n",
                projection_db(dir, name).display().to_string()
            ));
        }
    }
    toml
}

fn projection_db(dir: &Path, projector: &str) -> PathBuf {
    dir.join(format!("{projector}.db"))
}

/// Where a manifest is and puts things.
#[derive(Debug)]
struct Layout {
    manifest: PathBuf,
    sockets: PathBuf,
    db: PathBuf,
    /// The directory of the projectors' `<name>.db` files.
    projections: PathBuf,
}

/// The directory of this build's binaries.
fn bin_dir() -> Result<PathBuf, String> {
    bin_path("angzarr-standalone")
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "the binaries have no directory".to_string())
}

/// The running shop.
pub struct Shop {
    dir: TempDir,
    /// Where the manifest puts the sockets, the event store and the projectors' rows.
    layout: Layout,
    runtime: Option<RuntimeProcess>,
    gateway: CommandGatewayClient<Channel>,
    query: EventQueryClient<Channel>,
    admin: RuntimeClient<Channel>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Shop {
    /// Starts a fresh shop: the one `E2E_SHOP` names, by default the Rust one with the
    /// test manifest ([`manifest`]).
    pub async fn start() -> Result<Self, String> {
        match std::env::var(SHOP_ENV).as_deref() {
            Err(_) | Ok("" | "rust") => Self::start_rust().await,
            Ok("python") => {
                Self::start_manifest("examples/python/angzarr.toml", "examples/python/.angzarr")
                    .await
            }
            Ok("mixed") => Self::start_manifest("examples/mixed.toml", ".angzarr/mixed").await,
            Ok(other) => Err(format!(
                "{SHOP_ENV}={other}: expected rust (the default), python or mixed"
            )),
        }
    }

    async fn start_rust() -> Result<Self, String> {
        for (_, _, binary) in COMPONENTS {
            // Fails with "run cargo build --bins first" when one is missing.
            bin_path(binary);
        }
        let dir = short_temp_dir();
        let text = manifest(dir.path(), &bin_dir()?);
        let layout = Layout {
            manifest: dir.path().join("angzarr.toml"),
            sockets: dir.path().join("s"),
            db: dir.path().join("events.db"),
            projections: dir.path().to_path_buf(),
        };
        Self::run(dir, layout, &text).await
    }

    /// Starts a fresh shop with the demo manifest, the repository's `angzarr.toml`.
    pub async fn start_demo() -> Result<Self, String> {
        Self::start_manifest("angzarr.toml", ".angzarr").await
    }

    /// Starts a fresh shop with one of the repository's manifests (`manifest`, relative to
    /// the repository's root) as is but for its programs ([`relocated`]), copied to the same
    /// place in a temporary directory: its sockets, store and projections (under `state`,
    /// relative to the root) land there.
    async fn start_manifest(manifest: &str, state: &str) -> Result<Self, String> {
        let path = repo_root().join(manifest);
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("read {}: {err}", path.display()))?;
        let venv = std::env::var_os("E2E_PYTHON_VENV").map(PathBuf::from);
        let text = relocated(&text, path.parent().unwrap_or(&path), &bin_dir()?, venv)?;
        let dir = short_temp_dir();
        let state = dir.path().join(state);
        let layout = Layout {
            manifest: dir.path().join(manifest),
            sockets: state.join("sockets"),
            db: state.join("events.db"),
            projections: state.join("projections"),
        };
        Self::run(dir, layout, &text).await
    }

    async fn run(dir: TempDir, layout: Layout, manifest: &str) -> Result<Self, String> {
        let path = &layout.manifest;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("create {}: {err}", parent.display()))?;
        }
        std::fs::write(path, manifest).map_err(|err| format!("write {}: {err}", path.display()))?;
        let runtime = RuntimeProcess::spawn(path).await;
        let (gateway, query, admin) = connect(&layout.sockets).await?;
        Ok(Self {
            dir,
            layout,
            runtime: Some(runtime),
            gateway,
            query,
            admin,
        })
    }

    /// The runtime's socket directory (for the CLI: `--socket-dir`).
    pub fn socket_dir(&self) -> &Path {
        &self.layout.sockets
    }

    /// Stops the runtime (SIGTERM, waiting for it to finish), moves the checkpoint of
    /// `subscriber` back to the start of the log, and starts the runtime again on the same
    /// files: every event is delivered to that subscriber again, everything else is kept.
    pub async fn restart_replaying(&mut self, subscriber: &str) -> Result<(), String> {
        if let Some(runtime) = self.runtime.take() {
            let status = runtime.terminated().await;
            if !status.success() {
                return Err(format!("the runtime did not stop cleanly: {status}"));
            }
        }
        let db = &self.layout.db;
        let conn = rusqlite::Connection::open(db)
            .map_err(|err| format!("open {}: {err}", db.display()))?;
        let moved = conn
            .execute(
                "DELETE FROM checkpoints WHERE subscriber = ?1",
                [subscriber],
            )
            .map_err(|err| format!("reset the checkpoint of {subscriber}: {err}"))?;
        if moved != 1 {
            return Err(format!("{subscriber} had no checkpoint to move back"));
        }
        drop(conn);
        let runtime = RuntimeProcess::spawn(&self.layout.manifest).await;
        let (gateway, query, admin) = connect(&self.layout.sockets).await?;
        self.runtime = Some(runtime);
        self.gateway = gateway;
        self.query = query;
        self.admin = admin;
        Ok(())
    }

    /// Sends a command through the gateway.
    pub async fn execute(&self, command: CommandBook) -> Result<CommandResponse, Status> {
        self.gateway
            .clone()
            .execute(command)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Waits until every saga, process manager and projector has handled everything stored,
    /// and nothing is parked. Errs after [`SETTLE_TIMEOUT`] with the lagging components.
    pub async fn settle(&self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            let topology = self.topology().await?;
            let behind = lagging(&topology);
            let parked = parked(&topology);
            if !parked.is_empty() {
                return Err(format!(
                    "events were parked (a component failed them repeatedly): {}; see \
                     `angzarr parked`",
                    parked.join(", ")
                ));
            }
            if behind.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "the system did not settle within {SETTLE_TIMEOUT:?}: head {}, behind: {}",
                    topology.head_position,
                    behind.join(", ")
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    async fn topology(&self) -> Result<Topology, String> {
        self.admin
            .clone()
            .get_topology(TopologyRequest::default())
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| format!("topology: {status:?}"))
    }

    /// The whole history of one aggregate (or process manager): each event with the
    /// correlation id it was stored under.
    pub async fn history(
        &self,
        domain: &str,
        root: Uuid,
    ) -> Result<Vec<(String, EventPage)>, String> {
        let query = Query {
            cover: Some(Cover::for_root(domain, root)),
            selection: None,
        };
        let failed = |status: Status| format!("get events of {domain} {root}: {status:?}");
        let books: Vec<EventBook> = self
            .query
            .clone()
            .get_events(query)
            .await
            .map_err(failed)?
            .into_inner()
            .try_collect()
            .await
            .map_err(failed)?;
        Ok(books
            .into_iter()
            .flat_map(|book| {
                let correlation = book.cover.map(|c| c.correlation_id).unwrap_or_default();
                book.pages
                    .into_iter()
                    .map(move |page| (correlation.clone(), page))
            })
            .collect())
    }

    /// Every row the projector `name` has written.
    pub fn rows(&self, projector: &str) -> Result<Vec<(String, Any)>, String> {
        let path = projection_db(&self.layout.projections, projector);
        if !path.exists() {
            return Err(format!(
                "{projector} has no row store at {}",
                path.display()
            ));
        }
        RowStore::open(&path)
            .and_then(|store| store.rows())
            .map_err(|status| format!("rows of {projector}: {}", status.message()))
    }
}

/// `manifest`, the text of a manifest in `dir`, with each component's program made absolute
/// so that it runs from anywhere: programs of `target/debug/` are taken from this build (the
/// binaries' directory `bins`), those of `.venv/bin/` from `venv/bin/` when given (the
/// e2e runner passes `$E2E_PYTHON_VENV`), other relative ones (with a `/`, as the runtime
/// resolves them) from `dir`. Errs naming a program that does not exist.
pub fn relocated(
    manifest: &str,
    dir: &Path,
    bins: &Path,
    venv: Option<PathBuf>,
) -> Result<String, String> {
    let mut text = String::with_capacity(manifest.len());
    for line in manifest.lines() {
        let program = line
            .strip_prefix("command = [\"")
            .and_then(|rest| rest.split('"').next())
            .filter(|p| p.contains('/') && Path::new(p).is_relative());
        let Some(program) = program else {
            text.push_str(line);
            text.push('\n');
            continue;
        };
        let name = Path::new(program).file_name().unwrap_or_default();
        let path = if program.contains("target/debug/") {
            bins.join(name)
        } else if let (Some(venv), true) = (&venv, program.contains(".venv/bin/")) {
            venv.join("bin").join(name)
        } else {
            dir.join(program)
        };
        if !path.is_file() {
            let hint = if program.contains(".venv/") {
                "clients/python/test.sh installs the Python shop in .venv"
            } else {
                "run `cargo build --workspace --bins` first"
            };
            return Err(format!("{} does not exist: {hint}", path.display()));
        }
        let quoted = format!("{:?}", path.display().to_string());
        text.push_str(&line.replacen(&format!("\"{program}\""), &quoted, 1));
        text.push('\n');
    }
    Ok(text)
}

/// Components with parked events, as `name (N parked)`.
pub fn parked(topology: &Topology) -> Vec<String> {
    topology
        .nodes
        .iter()
        .filter(|n| n.parked > 0)
        .map(|n| format!("{} ({} parked)", n.name, n.parked))
        .collect()
}

/// Subscribers whose checkpoint is behind the head of the log, as `name at N`.
pub fn lagging(topology: &Topology) -> Vec<String> {
    topology
        .nodes
        .iter()
        .filter(|node| node.component_type != "aggregate")
        .filter(|node| node.checkpoint < topology.head_position)
        .map(|node| format!("{} at {}", node.name, node.checkpoint))
        .collect()
}

async fn connect(
    sockets: &Path,
) -> Result<
    (
        CommandGatewayClient<Channel>,
        EventQueryClient<Channel>,
        RuntimeClient<Channel>,
    ),
    String,
> {
    let gateway = angzarr_transport::channel(&sockets.join("gateway.sock"))
        .await
        .map_err(|err| format!("connect to the gateway: {err}"))?;
    let admin = angzarr_transport::channel(&sockets.join("runtime.sock"))
        .await
        .map_err(|err| format!("connect to the runtime: {err}"))?;
    Ok((
        CommandGatewayClient::new(gateway.clone()),
        EventQueryClient::new(gateway),
        RuntimeClient::new(admin),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_lists_every_component_with_its_kind() {
        let text = manifest(Path::new("/tmp/x"), Path::new("/bin"));
        for (name, kind, binary) in COMPONENTS {
            assert!(
                text.contains(&format!(
                    "[components.{name}]\nkind = \"{}\"",
                    kind.manifest_name()
                )),
                "{name}"
            );
            assert!(text.contains(&format!("\"/bin/{binary}\"")), "{binary}");
        }
        assert_eq!(text.matches("ANGZARR_PROJECTION_DB").count(), 4);
    }

    #[test]
    fn relocated_programs_run_from_anywhere() {
        let tmp = short_temp_dir();
        let (dir, bins, venv) = (
            tmp.path().join("m"),
            tmp.path().join("b"),
            tmp.path().join("v"),
        );
        for file in [
            bins.join("example-cart"),
            dir.join("../.venv/bin/shop-order"),
            venv.join("bin/shop-order"),
            dir.join("tools/x"),
        ] {
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&file, "").expect("write");
        }
        let manifest = "[components.cart]\ncommand = [\"../target/debug/example-cart\", \"-v\"]\n\
                        command = [\"../.venv/bin/shop-order\"]\ncommand = [\"tools/x\"]\n\
                        command = [\"python3\"]\n";
        let quoted = |path: PathBuf| format!("{:?}", path.display().to_string());
        let expected = format!(
            "[components.cart]\ncommand = [{}, \"-v\"]\ncommand = [{}]\ncommand = [{}]\n\
             command = [\"python3\"]\n",
            quoted(bins.join("example-cart")),
            quoted(dir.join("../.venv/bin/shop-order")),
            quoted(dir.join("tools/x")),
        );
        assert_eq!(relocated(manifest, &dir, &bins, None), Ok(expected));
        let in_venv = relocated(manifest, &dir, &bins, Some(venv.clone())).expect("relocated");
        assert!(
            in_venv.contains(&quoted(venv.join("bin/shop-order"))),
            "{in_venv}"
        );

        let missing = relocated(
            "command = [\".venv/bin/shop-nothing\"]\n",
            &dir,
            &bins,
            None,
        );
        let error = missing.expect_err("a missing program");
        assert!(
            error.contains("shop-nothing does not exist: clients/python/test.sh"),
            "{error}"
        );
    }

    #[test]
    fn lagging_ignores_aggregates() {
        let node = |name: &str, kind: &str, checkpoint| angzarr_proto::TopologyNode {
            name: name.into(),
            component_type: kind.into(),
            checkpoint,
            ..Default::default()
        };
        let topology = Topology {
            nodes: vec![
                node("cart", "aggregate", 0),
                node("p", "projector", 4),
                node("s", "saga", 5),
            ],
            edges: vec![],
            head_position: 5,
            ..Default::default()
        };
        assert_eq!(lagging(&topology), vec!["p at 4".to_string()]);
    }
}
