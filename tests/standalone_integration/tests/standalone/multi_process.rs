//! Several `angzarr-standalone` processes forming one system through a shared IPC directory
//! (issue #9): real runtime processes, real local sockets, synthetic components.
//!
//! Each process has its own workspace (manifest `<process>.toml`, socket dir `s/`, store
//! `events.db`) under one temporary root; `ipc/` in that root is the shared IPC directory.
//! The synthetic projector appends one line per event and skips events it already wrote, so
//! its log shows exactly what was delivered; sagas echo each `Echoed` of their input domain
//! to their target domain under the same root, so counts are exact.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_proto::command_gateway_client::CommandGatewayClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{
    CommandBook, CommandPage, Cover, CoverExt, EventPageExt, SynchronizeRequest, TopologyRequest,
    UuidExt,
};
use angzarr_standalone_integration::{
    Client, RuntimeProcess, bin_path, connect, echo, finish, short_temp_dir, standalone_command,
    wait_until,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio_stream::StreamExt;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);

/// Quick retries and polling, so a process coming and going resolves quickly.
const FAST: &str = "[delivery]\nretry_backoff_secs = 0.02\nmax_retry_backoff_secs = 0.2\n\
     poll_interval_secs = 0.2\n\n[supervisor]\nready_timeout_secs = 30\n";

/// Several runtime processes under one temporary root with one IPC directory.
struct Cluster {
    root: TempDir,
}

impl Cluster {
    fn new() -> Self {
        Self {
            root: short_temp_dir(),
        }
    }

    fn ipc_dir(&self) -> PathBuf {
        self.root.path().join("ipc")
    }

    /// The workspace directory of `process`.
    fn dir(&self, process: &str) -> PathBuf {
        self.root.path().join(process)
    }

    fn socket_dir(&self, process: &str) -> PathBuf {
        self.dir(process).join("s")
    }

    /// Writes `<process>/<process>.toml` with `components` (and `[ipc]` when `ipc`).
    /// With `ipc` false, `extra` is written as is (e.g. an `[ipc]` section of its own).
    fn manifest(&self, process: &str, ipc: bool, extra: &str, components: &[Component]) -> PathBuf {
        let dir = self.dir(process);
        std::fs::create_dir_all(&dir).expect("workspace");
        let mut toml = format!("socket_dir = \"s\"\n\n[storage]\npath = \"events.db\"\n\n{FAST}\n");
        if ipc {
            toml.push_str(&format!(
                "[ipc]\ndir = {:?}\n{extra}\n",
                self.ipc_dir().display().to_string()
            ));
        } else {
            toml.push_str(extra);
            toml.push('\n');
        }
        for component in components {
            toml.push_str(&component.toml(&dir));
        }
        let path = dir.join(format!("{process}.toml"));
        std::fs::write(&path, toml).expect("write the manifest");
        path
    }

    fn log(&self, process: &str, projector: &str) -> PathBuf {
        self.dir(process).join(format!("{projector}.log"))
    }
}

/// A synthetic component of a manifest.
enum Component {
    Aggregate(&'static str),
    Saga {
        name: &'static str,
        input: &'static str,
        target: &'static str,
    },
    Projector {
        name: &'static str,
        inputs: &'static [&'static str],
    },
}

impl Component {
    fn toml(&self, dir: &Path) -> String {
        let subscriber = bin_path("angzarr-synthetic-subscriber")
            .display()
            .to_string();
        match self {
            Component::Aggregate(name) => format!(
                "[components.{name}]\nkind = \"aggregate\"\ncommand = [{:?}]\n\n",
                bin_path("angzarr-synthetic-aggregate")
                    .display()
                    .to_string()
            ),
            Component::Saga {
                name,
                input,
                target,
            } => format!(
                "[components.{name}]\nkind = \"saga\"\ncommand = [{subscriber:?}]\n\
                 env = {{ SYNTHETIC_KIND = \"saga\", SYNTHETIC_INPUTS = {input:?}, SYNTHETIC_TARGET = {target:?} }}\n\n"
            ),
            Component::Projector { name, inputs } => format!(
                "[components.{name}]\nkind = \"projector\"\ncommand = [{subscriber:?}]\n\
                 env = {{ SYNTHETIC_KIND = \"projector\", SYNTHETIC_INPUTS = {:?}, SYNTHETIC_LOG = {:?} }}\n\n",
                inputs.join(","),
                dir.join(format!("{name}.log")).display().to_string()
            ),
        }
    }
}

/// A projector log line without its position (positions are per process): (domain, root,
/// sequence, type, correlation id).
type Line = (String, String, u32, String, String);

/// What a projector's log says, and how many events it wrote more than once.
fn projected(path: &Path) -> (BTreeSet<Line>, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<Line> = text
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 6, "a projector line has 6 fields: {line:?}");
            (
                f[1].to_string(),
                f[2].to_string(),
                f[3].parse().expect("sequence"),
                f[4].to_string(),
                f[5].to_string(),
            )
        })
        .collect();
    let count = lines.len();
    let set: BTreeSet<_> = lines.into_iter().collect();
    let repeated = count - set.len();
    (set, repeated)
}

/// An event as every process would describe it: (domain, root, sequence, type, payload,
/// correlation id). Positions and causations name per-process positions and are left out.
type Described = (String, Uuid, u32, String, Vec<u8>, String);

/// Every event in the log of the process serving `socket_dir`, from its gateway.
async fn events_of(socket_dir: &Path) -> Vec<Described> {
    let head = RuntimeClient::new(connect(&socket_dir.join("runtime.sock")).await)
        .get_topology(TopologyRequest { local_only: true })
        .await
        .expect("topology")
        .into_inner()
        .head_position;
    if head == 0 {
        return Vec::new();
    }
    let mut stream = EventQueryClient::new(connect(&socket_dir.join("gateway.sock")).await)
        .synchronize(SynchronizeRequest {
            after_position: 0,
            domains: vec![],
            until_position: head,
            ..Default::default()
        })
        .await
        .expect("synchronize")
        .into_inner();
    let mut events = Vec::new();
    while let Some(book) = stream.next().await {
        let book = book.expect("a book");
        let cover = book.cover.expect("cover");
        let root = cover.root.as_ref().expect("root").to_uuid().expect("uuid");
        for page in book.pages {
            let event = page.event.clone().expect("event");
            events.push((
                cover.domain.clone(),
                root,
                page.sequence_num().unwrap_or_default(),
                event.type_url,
                event.value,
                cover.correlation_id.clone(),
            ));
        }
    }
    events
}

fn of_domain(events: &[Described], domain: &str) -> Vec<Described> {
    events.iter().filter(|e| e.0 == domain).cloned().collect()
}

fn root(i: u32) -> Uuid {
    Uuid::from_u128(0xA000 + u128::from(i))
}

/// A command through the gateway of the process serving `socket_dir` (any domain: commands
/// for domains owned elsewhere are forwarded).
async fn via_gateway(
    socket_dir: &Path,
    domain: &str,
    root: Uuid,
    payload: &str,
) -> Result<(), tonic::Status> {
    let book = CommandBook {
        cover: Some(Cover::for_root(domain, root)),
        pages: vec![CommandPage {
            sequence: None,
            command: Some(echo(payload)),
        }],
        ..CommandBook::default()
    };
    CommandGatewayClient::new(connect(&socket_dir.join("gateway.sock")).await)
        .execute(book)
        .await
        .map(|_| ())
}

/// The shop-like flow of the first test: commands to alpha and beta; a saga echoes alpha to
/// gamma; a projector sees all three domains.
const ALPHA: u32 = 20;
const BETA: u32 = 10;
/// alpha's events (one more: the idempotent retry's first run), beta's, and gamma's echoes.
const LINES: u32 = 2 * (ALPHA + 1) + BETA;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_split_across_three_processes_stores_and_projects_what_one_process_does() {
    let saga = Component::Saga {
        name: "saga-alpha-gamma",
        input: "alpha",
        target: "gamma",
    };
    let projector = || Component::Projector {
        name: "projector-all",
        inputs: &["alpha", "beta", "gamma"],
    };

    // The reference: everything in one process.
    let single = Cluster::new();
    let manifest = single.manifest(
        "all",
        false,
        "",
        &[
            Component::Aggregate("alpha"),
            Component::Aggregate("beta"),
            Component::Aggregate("gamma"),
            Component::Saga {
                name: "saga-alpha-gamma",
                input: "alpha",
                target: "gamma",
            },
            projector(),
        ],
    );
    let all = RuntimeProcess::spawn(&manifest).await;
    let s = single.socket_dir("all");
    run_flow(&s, &s, &s).await;
    let log = single.log("all", "projector-all");
    wait_for_lines(&log, LINES).await;
    let reference_events = events_of(&s).await;
    let (reference_projection, repeated) = projected(&log);
    assert_eq!(repeated, 0);
    all.terminate().await;

    // The same, split: one owns alpha and gamma, two owns beta and runs the saga (whose
    // target lives in one), three runs the projector of all three domains.
    let cluster = Cluster::new();
    let one = cluster.manifest(
        "one",
        true,
        "",
        &[Component::Aggregate("alpha"), Component::Aggregate("gamma")],
    );
    let two = cluster.manifest("two", true, "", &[Component::Aggregate("beta"), saga]);
    let three = cluster.manifest("three", true, "", &[projector()]);
    // Started in reverse order: subscribers find their sources when those appear.
    let p3 = RuntimeProcess::spawn(&three).await;
    let p2 = RuntimeProcess::spawn(&two).await;
    let p1 = RuntimeProcess::spawn(&one).await;
    assert!(p1.summary().contains("process  one"), "{}", p1.summary());
    let (s1, s2) = (cluster.socket_dir("one"), cluster.socket_dir("two"));
    // alpha's commands go through two's gateway (forwarded to one), beta's straight to two.
    run_flow(&s2, &s2, &s1).await;
    let log = cluster.log("three", "projector-all");
    wait_for_lines(&log, LINES).await;
    wait_until("gamma has every echo", WAIT, || {
        let s1 = s1.clone();
        async move { of_domain(&events_of(&s1).await, "gamma").len() == ALPHA as usize + 1 }
    })
    .await;

    let mut split_events = events_of(&s1).await;
    split_events.extend(events_of(&s2).await);
    let sorted = |mut v: Vec<Described>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(split_events),
        sorted(reference_events),
        "the processes together store exactly what one process stores"
    );
    let (projection, repeated) = projected(&log);
    assert_eq!(repeated, 0, "no event was projected twice");
    assert_eq!(
        projection, reference_projection,
        "the same projection as in one process"
    );

    // Status and the CLI work against any process: two shows who owns what, and finds
    // alpha's events at one.
    let status = finish({
        let mut c = tokio::process::Command::new(bin_path("angzarr"));
        c.arg("--socket-dir").arg(&s2).arg("status");
        c
    })
    .await;
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    for expected in [
        "processes:",
        "one",
        "owns alpha, gamma",
        "two",
        "owns beta",
        "three",
        "saga-alpha-gamma",
        "from one",
    ] {
        assert!(
            status.stdout.contains(expected),
            "status lacks {expected:?}:\n{}",
            status.stdout
        );
    }
    let events = finish({
        let mut c = tokio::process::Command::new(bin_path("angzarr"));
        c.arg("--socket-dir")
            .arg(&s2)
            .args(["events", "alpha", &root(1).to_string(), "--json"]);
        c
    })
    .await;
    assert_eq!(events.code, Some(0), "{}", events.stderr);
    assert_eq!(events.stdout.lines().count(), 1, "{}", events.stdout);

    p1.terminate().await;
    p2.terminate().await;
    p3.terminate().await;
}

/// Sends the flow: alpha's commands to `alpha_at`'s gateway, beta's to `beta_at`'s
/// coordinator; waits for nothing else (`owner` is where alpha lives, for the check that a
/// forwarded command's answer is the owner's).
async fn run_flow(alpha_at: &Path, beta_at: &Path, owner: &Path) {
    for i in 0..ALPHA {
        via_gateway(alpha_at, "alpha", root(i), &format!("a{i}"))
            .await
            .expect("an alpha command");
    }
    let beta = Client::connect(beta_at, "beta").await;
    for i in 0..BETA {
        beta.ok(root(i), echo(format!("b{i}"))).await;
    }
    // A retry of a forwarded command with the same idempotency key is answered, not executed.
    let mut retry = Client::connect(owner, "alpha")
        .await
        .book(root(0), echo("a0"));
    retry.idempotency_key = "retry-once".into();
    let gateway = CommandGatewayClient::new(connect(&alpha_at.join("gateway.sock")).await);
    let first = gateway
        .clone()
        .execute(retry.clone())
        .await
        .expect("first")
        .into_inner();
    let again = gateway
        .clone()
        .execute(retry)
        .await
        .expect("again")
        .into_inner();
    assert_eq!(
        first, again,
        "a retry through another process gets the first answer"
    );
}

async fn wait_for_lines(log: &Path, lines: u32) {
    let log = log.to_path_buf();
    wait_until(
        &format!("{} has {lines} lines", log.display()),
        WAIT,
        || {
            let log = log.clone();
            async move { projected(&log).0.len() >= lines as usize }
        },
    )
    .await;
}

/// How many gamma events exist per root, from the log of the process serving `socket_dir`.
async fn gamma_per_root(socket_dir: &Path) -> Vec<usize> {
    let events = events_of(socket_dir).await;
    (0..KILL_FLOW)
        .map(|i| {
            events
                .iter()
                .filter(|e| e.0 == "gamma" && e.1 == root(i))
                .count()
        })
        .collect()
}

const KILL_FLOW: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_owner_of_a_sagas_target_mid_flow_loses_nothing_and_repeats_nothing() {
    let cluster = Cluster::new();
    let src = cluster.manifest("src", true, "", &[Component::Aggregate("alpha")]);
    let tgt = cluster.manifest("tgt", true, "", &[Component::Aggregate("gamma")]);
    let mid = cluster.manifest(
        "mid",
        true,
        "",
        &[Component::Saga {
            name: "saga-alpha-gamma",
            input: "alpha",
            target: "gamma",
        }],
    );
    let p_src = RuntimeProcess::spawn(&src).await;
    let p_tgt = RuntimeProcess::spawn(&tgt).await;
    let p_mid = RuntimeProcess::spawn(&mid).await;
    let (s_src, s_tgt, s_mid) = (
        cluster.socket_dir("src"),
        cluster.socket_dir("tgt"),
        cluster.socket_dir("mid"),
    );
    let alpha = Client::connect(&s_src, "alpha").await;
    for i in 0..KILL_FLOW / 2 {
        alpha.ok(root(i), echo(format!("a{i}"))).await;
    }
    // Mid-flow: some echoes are in gamma, the saga is still working on others.
    wait_until("some echoes reached gamma", WAIT, || {
        let s_tgt = s_tgt.clone();
        async move { gamma_per_root(&s_tgt).await.iter().sum::<usize>() >= 5 }
    })
    .await;
    assert_eq!(p_tgt.kill_hard().await, Some(9));

    // The others keep serving their own domains; commands for gamma name its owner.
    for i in KILL_FLOW / 2..KILL_FLOW {
        alpha.ok(root(i), echo(format!("a{i}"))).await;
    }
    let refused = via_gateway(&s_mid, "gamma", root(999), "direct").await;
    let status = refused.expect_err("gamma's owner is down");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("tgt"),
        "names the process: {}",
        status.message()
    );

    // It returns (its registration is stale and taken over) and everything arrives, once.
    let p_tgt = RuntimeProcess::spawn(&tgt).await;
    let expected = vec![1; KILL_FLOW as usize];
    wait_until("every echo reached gamma", WAIT, || {
        let s_tgt = s_tgt.clone();
        async move { gamma_per_root(&s_tgt).await.iter().sum::<usize>() >= KILL_FLOW as usize }
    })
    .await;
    assert_eq!(
        gamma_per_root(&s_tgt).await,
        expected,
        "each alpha event echoed exactly once"
    );
    let alpha_events = of_domain(&events_of(&s_src).await, "alpha");
    assert_eq!(alpha_events.len(), KILL_FLOW as usize);
    let gamma_events = events_of(&s_tgt).await;
    assert_eq!(
        gamma_events.len(),
        KILL_FLOW as usize,
        "nothing else was stored in gamma"
    );
    p_mid.terminate().await;
    p_tgt.terminate().await;
    p_src.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_that_stops_reading_never_holds_up_the_publisher_and_catches_up_filtered() {
    let cluster = Cluster::new();
    // A small bus buffer, so the stopped reader's share overflows quickly.
    let src = cluster.manifest(
        "src",
        true,
        "buffer = 8",
        &[Component::Aggregate("alpha"), Component::Aggregate("gamma")],
    );
    let reader = cluster.manifest(
        "reader",
        true,
        "",
        &[Component::Projector {
            name: "projector-alpha",
            inputs: &["alpha"],
        }],
    );
    let p_src = RuntimeProcess::spawn(&src).await;
    let p_reader = RuntimeProcess::spawn(&reader).await;
    let log = cluster.log("reader", "projector-alpha");
    let s_src = cluster.socket_dir("src");
    let alpha = Client::connect(&s_src, "alpha").await;
    let gamma = Client::connect(&s_src, "gamma").await;
    alpha.ok(root(0), echo("first")).await;
    wait_for_lines(&log, 1).await;

    // The reader's runtime stops reading (SIGSTOP): its socket and buffer fill up; the
    // publisher goes on (every command below is answered) and drops what does not fit.
    let reader_pid = Pid::from_raw(i32::try_from(p_reader.pid()).expect("pid"));
    kill(reader_pid, Signal::SIGSTOP).expect("stop the reader");
    let big = "x".repeat(64 * 1024);
    const COUNT: u32 = 300;
    for i in 1..=COUNT {
        alpha.ok(root(i % 10), echo(format!("{i}:{big}"))).await;
        gamma.ok(root(i % 10), echo(format!("{i}"))).await;
    }
    kill(reader_pid, Signal::SIGCONT).expect("continue the reader");

    // It catches up from the log: every alpha event once, and nothing of gamma.
    wait_for_lines(&log, COUNT + 1).await;
    let (projection, repeated) = projected(&log);
    assert_eq!(repeated, 0, "no event was projected twice");
    assert_eq!(projection.len(), COUNT as usize + 1);
    assert!(
        projection.iter().all(|(domain, ..)| domain == "alpha"),
        "a subscriber of alpha received another domain's events"
    );
    p_reader.terminate().await;
    p_src.terminate().await;
}

/// `angzarr-standalone run` on `manifest` must fail with an error containing every part of
/// `expected`, having started nothing of its own.
async fn refused(manifest: &Path, expected: &[&str]) {
    let mut command = standalone_command(["run", "-c"]);
    command.arg(manifest).env("ANGZARR_LOG", "warn");
    let run = finish(command).await;
    assert_ne!(run.code, Some(0), "it must not start:\n{}", run.stdout);
    for part in expected {
        assert!(
            run.stderr.contains(part),
            "the error lacks {part:?}:\n{}",
            run.stderr
        );
    }
    let logic = manifest.parent().expect("dir").join("s").join("logic");
    assert!(
        !logic.exists(),
        "no component was started (found {})",
        logic.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn misconfigured_processes_are_refused_with_clear_errors_before_anything_starts() {
    let cluster = Cluster::new();
    let owner = cluster.manifest("owner", true, "", &[Component::Aggregate("alpha")]);
    let p_owner = RuntimeProcess::spawn(&owner).await;

    // A second owner of alpha.
    let second = cluster.manifest(
        "second",
        true,
        "",
        &[Component::Aggregate("beta"), Component::Aggregate("alpha")],
    );
    refused(
        &second,
        &[
            "domain \"alpha\"",
            "already owned",
            "\"owner\"",
            &p_owner.pid().to_string(),
        ],
    )
    .await;

    // A second process with the same name.
    let dir = cluster.dir("again");
    std::fs::create_dir_all(&dir).expect("dir");
    let again = dir.join("owner.toml");
    std::fs::write(
        &again,
        std::fs::read_to_string(cluster.manifest(
            "again",
            true,
            "",
            &[Component::Aggregate("delta")],
        ))
        .expect("manifest"),
    )
    .expect("write");
    refused(&again, &["named \"owner\"", "already running"]).await;

    // An IPC directory that is not a directory.
    let file = cluster.root.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("file");
    let bad_dir = cluster.manifest(
        "bad",
        false,
        &format!("[ipc]\ndir = {:?}\n", file.display().to_string()),
        &[Component::Aggregate("beta")],
    );
    refused(&bad_dir, &["IPC directory", "not a directory"]).await;

    // A live process of another protocol version (a registration whose lock is held).
    let lock_path = cluster.ipc_dir().join("future.lock");
    let lock = std::fs::File::create(&lock_path).expect("lock file");
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .expect("hold the lock");
    std::fs::write(
        cluster.ipc_dir().join("future.json"),
        format!(
            r#"{{"protocol": 999, "process": "future", "pid": {}, "domains": ["zeta"], "socket_dir": "/nonexistent", "bus_socket": "/nonexistent.sock"}}"#,
            std::process::id()
        ),
    )
    .expect("registration");
    let newer = cluster.manifest("newer", true, "", &[Component::Aggregate("beta")]);
    refused(
        &newer,
        &["\"future\"", "protocol version 999", "this one speaks 1"],
    )
    .await;

    p_owner.terminate().await;
}

/// The README's example pair (`examples/multi/order.toml` and `fulfillment.toml`) as written,
/// but for where the programs are: the whole shop in two processes, walked through with
/// `scripts/shop-walk` against the order process. The shipment is stored by the other
/// process, the reservations it commits come back to this one, and the CLI finds both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_pair_of_manifests_runs_the_readme_walk() {
    let root = short_temp_dir();
    let dir = root.path().join("examples/multi");
    std::fs::create_dir_all(&dir).expect("dir");
    let bin_dir = bin_path("angzarr-standalone")
        .parent()
        .expect("the target directory")
        .display()
        .to_string();
    for name in ["order.toml", "fulfillment.toml"] {
        let text = std::fs::read_to_string(
            angzarr_standalone_integration::repo_root()
                .join("examples/multi")
                .join(name),
        )
        .expect("the example manifest");
        let text = text.replace("\"../../target/debug/", &format!("\"{bin_dir}/"));
        std::fs::write(dir.join(name), text).expect("write");
    }
    let order = RuntimeProcess::spawn(&dir.join("order.toml")).await;
    let fulfillment = RuntimeProcess::spawn(&dir.join("fulfillment.toml")).await;
    let walk = tokio::process::Command::new(
        angzarr_standalone_integration::repo_root().join("scripts/shop-walk"),
    )
    .env(
        "ANGZARR_SOCKET_DIR",
        dir.join("../../.angzarr/order/sockets"),
    )
    .env("ANGZARR_CLI", bin_path("angzarr"))
    .kill_on_drop(true)
    .output()
    .await
    .expect("run scripts/shop-walk");
    let out = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        walk.status.code(),
        String::from_utf8_lossy(&walk.stdout),
        String::from_utf8_lossy(&walk.stderr)
    );
    assert!(walk.status.success(), "{out}");
    for effect in [
        "examples.order.OrderCompleted",
        "examples.fulfillment.ShipmentCreated",
        "examples.inventory.ReservationCommitted",
        r#""reason":"order:"#,
        r#""to_status":"completed""#,
    ] {
        assert!(out.contains(effect), "missing {effect}:\n{out}");
    }
    fulfillment.terminate().await;
    order.terminate().await;
}

/// An event of another process that a subscriber keeps failing on is parked under
/// `<subscriber>@<process>`, listed with the event from that process's log, and the
/// subscriber goes on with the next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_event_of_another_process_is_parked_with_its_source() {
    let cluster = Cluster::new();
    let src = cluster.manifest("src", true, "", &[Component::Aggregate("alpha")]);
    let dir = cluster.dir("sink");
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("projector-alpha.log");
    let sink = cluster.manifest(
        "sink",
        true,
        &format!(
            "\n[components.projector-alpha]\nkind = \"projector\"\ncommand = [{:?}]\n\
             env = {{ SYNTHETIC_KIND = \"projector\", SYNTHETIC_INPUTS = \"alpha\", \
             SYNTHETIC_LOG = {:?}, SYNTHETIC_FAIL_PAYLOAD = \"poison\" }}\n",
            bin_path("angzarr-synthetic-subscriber")
                .display()
                .to_string(),
            log.display().to_string()
        ),
        &[],
    );
    let p_src = RuntimeProcess::spawn(&src).await;
    let p_sink = RuntimeProcess::spawn(&sink).await;
    let alpha = Client::connect(&cluster.socket_dir("src"), "alpha").await;
    alpha.ok(root(1), echo("fine")).await;
    alpha.ok(root(2), echo("poison")).await;
    alpha.ok(root(3), echo("fine too")).await;
    wait_for_lines(&log, 2).await;

    let runtime = || async {
        RuntimeClient::new(connect(&cluster.socket_dir("sink").join("runtime.sock")).await)
    };
    let parked = runtime()
        .await
        .list_parked(angzarr_proto::ListParkedRequest::default())
        .await
        .expect("list parked")
        .into_inner()
        .parked;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].subscriber, "projector-alpha@src");
    let book = parked[0].event.as_ref().expect("the event, from src's log");
    let cover = book.cover.as_ref().expect("cover");
    assert_eq!(cover.domain, "alpha");
    assert_eq!(
        cover.root.as_ref().expect("root").to_uuid().expect("uuid"),
        root(2)
    );
    let (projection, _) = projected(&log);
    assert!(projection.iter().all(|line| line.1 != root(2).to_string()));
    p_sink.terminate().await;
    p_src.terminate().await;
}
