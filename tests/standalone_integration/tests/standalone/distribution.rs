//! Event distribution: projectors, sagas and process managers that never lose or repeat work,
//! with crashes on purpose (issue: event distribution; DESIGN.md §2.1, §2.3, §2.5, §2.6).
//!
//! The subscribers are `angzarr-synthetic-subscriber` processes. The projector appends one
//! line per event to a log file and skips positions it already wrote (like a projector that
//! stores its position with its read model), so the log shows exactly what was delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_proto::runtime_client::RuntimeClient;
use angzarr_proto::{
    AnyExt, CommandResponse, ListParkedRequest, RedriveRequest, SyncMode, TopologyRequest,
};
use angzarr_runtime::storage::{EventStore, StoredEvent};
use angzarr_standalone_integration::{
    Client, RuntimeProcess, SystemConfig, TestSystem, Workspace, connect, echo, echoed, wait_until,
};
use uuid::Uuid;

/// Fast retries and polling, so failures and a silent bus resolve quickly.
const FAST_DELIVERY: &str = "[delivery]\nmax_attempts = 3\nretry_backoff_secs = 0.01\n\
     max_retry_backoff_secs = 0.05\npoll_interval_secs = 0.2\nsync_timeout_secs = 20\n";

const WAIT: Duration = Duration::from_secs(30);

/// One line of the synthetic projector's log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Projected {
    position: u64,
    domain: String,
    root: String,
    sequence: u32,
    event_type: String,
    correlation_id: String,
}

fn read_log(path: &Path) -> Vec<Projected> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 6, "a log line has 6 fields: {line:?}");
            Projected {
                position: fields[0].parse().expect("position"),
                domain: fields[1].into(),
                root: fields[2].into(),
                sequence: fields[3].parse().expect("sequence"),
                event_type: fields[4].into(),
                correlation_id: fields[5].into(),
            }
        })
        .collect()
}

fn log_path(workspace_dir: &Path, name: &str) -> PathBuf {
    workspace_dir.join(format!("{name}.log"))
}

/// Every event of the store, in global order.
async fn all_events(store: &dyn EventStore) -> Vec<StoredEvent> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &StoredEvent| e.position);
        let batch = store.read_global(after, 1000).await.expect("read the log");
        if batch.is_empty() {
            return events;
        }
        events.extend(batch);
    }
}

/// Waits until `subscriber`'s durable checkpoint reaches the log's head.
async fn wait_caught_up(system: &TestSystem, subscriber: &str) {
    let store = system.runtime().store();
    wait_until(&format!("{subscriber} catches up"), WAIT, || {
        let store = store.clone();
        async move {
            let head = store.head_position().await.expect("head");
            store.checkpoint(subscriber).await.expect("checkpoint") == head
        }
    })
    .await;
}

/// Asserts the projector log holds exactly the events of `domains` in the store, each once,
/// in global order, with matching metadata.
fn assert_projected_exactly(log: &[Projected], events: &[StoredEvent], domains: &[&str]) {
    let expected: Vec<Projected> = events
        .iter()
        .filter(|e| domains.contains(&e.key.domain.as_str()))
        .map(|e| Projected {
            position: e.position,
            domain: e.key.domain.clone(),
            root: e.key.root.to_string(),
            sequence: e.sequence,
            event_type: e.event.short_type_name().to_string(),
            correlation_id: e.correlation_id.clone(),
        })
        .collect();
    assert_eq!(
        log,
        expected.as_slice(),
        "every event once, in global order"
    );
}

fn projector_config(aggregates: &[&str], log: &Path, inputs: &[&str]) -> SystemConfig {
    SystemConfig::new(aggregates)
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "projector-all",
            "projector",
            inputs,
            &[("SYNTHETIC_LOG", &log.display().to_string())],
        )
}

/// Sends `count` echoes to each of `roots` aggregates of `domain`, from concurrent clients.
async fn load(client: &Client, roots: &[Uuid], count: usize, tag: &str) -> Vec<CommandResponse> {
    let mut tasks = Vec::new();
    for (r, root) in roots.iter().enumerate() {
        let client = client.clone();
        let root = *root;
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            let mut responses = Vec::new();
            for i in 0..count {
                responses.push(client.ok(root, echo(format!("{tag}-{r}-{i}"))).await);
            }
            responses
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_sees_every_event_once_in_global_order_and_its_checkpoint_reaches_the_head() {
    let dir = angzarr_standalone_integration::short_temp_dir();
    let log = log_path(dir.path(), "projector");
    let config = projector_config(&["alpha", "beta", "gamma"], &log, &["alpha", "beta"]);
    let system = TestSystem::start(&config).await;
    let roots: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    let (alpha, beta, gamma) = (
        system.client("alpha").await,
        system.client("beta").await,
        system.client("gamma").await,
    );
    let (a, b, g) = tokio::join!(
        load(&alpha, &roots, 5, "a"),
        load(&beta, &roots, 5, "b"),
        load(&gamma, &roots[..2], 3, "g"),
    );
    assert_eq!(a.len() + b.len() + g.len(), 30 + 30 + 6);
    wait_caught_up(&system, "projector-all").await;
    let store = system.runtime().store();
    let events = all_events(store.as_ref()).await;
    assert_eq!(events.len(), 66);
    assert_projected_exactly(&read_log(&log), &events, &["alpha", "beta"]);
    assert_eq!(
        store.checkpoint("projector-all").await.expect("checkpoint"),
        store.head_position().await.expect("head"),
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bus_everything_still_arrives_through_the_store() {
    let dir = angzarr_standalone_integration::short_temp_dir();
    let log = log_path(dir.path(), "projector");
    let config =
        projector_config(&["alpha"], &log, &["alpha"]).with_toml("[bus]\nkind = \"none\"\n");
    let system = TestSystem::start(&config).await;
    let client = system.client("alpha").await;
    let roots: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    load(&client, &roots, 4, "quiet").await;
    wait_caught_up(&system, "projector-all").await;
    let events = all_events(system.runtime().store().as_ref()).await;
    assert_projected_exactly(&read_log(&log), &events, &["alpha"]);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_between_delivery_and_checkpoint_gets_the_event_again_and_applies_it_once()
 {
    let dir = angzarr_standalone_integration::short_temp_dir();
    let log = log_path(dir.path(), "projector");
    let config = SystemConfig::new(&["alpha"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "projector-all",
            "projector",
            &["alpha"],
            &[
                ("SYNTHETIC_LOG", &log.display().to_string()),
                ("SYNTHETIC_EXIT_PAYLOAD", "crash-after-writing"),
            ],
        );
    let system = TestSystem::start(&config).await;
    let supervisor = system.runtime().supervisor().clone();
    let client = system.client("alpha").await;
    let root = Uuid::new_v4();
    client.ok(root, echo("before")).await;
    client.ok(root, echo("crash-after-writing")).await;
    client.ok(root, echo("after")).await;
    wait_caught_up(&system, "projector-all").await;
    assert!(
        supervisor.restarts("projector-all") >= 1,
        "the projector crashed after writing and was restarted"
    );
    let events = all_events(system.runtime().store().as_ref()).await;
    assert_projected_exactly(&read_log(&log), &events, &["alpha"]);
    system.stop().await;
}

/// The saga chain of the sync-mode and crash tests: alpha -> beta -> gamma.
fn saga_chain(config: SystemConfig) -> SystemConfig {
    config
        .subscriber(
            "saga-alpha-beta",
            "saga",
            &["alpha"],
            &[("SYNTHETIC_TARGET", "beta")],
        )
        .subscriber(
            "saga-beta-gamma",
            "saga",
            &["beta"],
            &[("SYNTHETIC_TARGET", "gamma")],
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_modes_none_simple_and_cascade() {
    let dir = angzarr_standalone_integration::short_temp_dir();
    let log = log_path(dir.path(), "projector");
    let config = saga_chain(projector_config(
        &["alpha", "beta", "gamma"],
        &log,
        &["alpha", "beta", "gamma"],
    ));
    let system = TestSystem::start(&config).await;
    let alpha = system.client("alpha").await;
    let root = Uuid::new_v4();

    let none = alpha.ok(root, echo("none")).await;
    assert!(none.projections.is_empty(), "NONE returns no projections");

    let mut simple = alpha.book(root, echo("simple"));
    simple.sync_mode = SyncMode::Simple as i32;
    let simple = alpha.send(simple).await.expect("SIMPLE");
    assert_eq!(simple.projections.len(), 1, "{:?}", simple.projections);
    let projection = &simple.projections[0];
    assert_eq!(projection.projector, "projector-all");
    let cover = projection.cover.as_ref().expect("cover");
    assert_eq!(cover.domain, "alpha");
    assert_eq!(
        projection.sequence, 1,
        "the projection of this command's event"
    );

    let mut cascade = alpha.book(root, echo("cascade"));
    cascade.sync_mode = SyncMode::Cascade as i32;
    let cascade = alpha.send(cascade).await.expect("CASCADE");
    let domains: BTreeSet<String> = cascade
        .projections
        .iter()
        .map(|p| p.cover.as_ref().expect("cover").domain.clone())
        .collect();
    assert_eq!(
        domains,
        ["alpha", "beta", "gamma"].map(String::from).into(),
        "projections across the two-hop saga chain"
    );
    // The cascade's events are stored with the command's correlation id.
    let correlation = cascade
        .events
        .as_ref()
        .and_then(|b| b.cover.as_ref())
        .expect("cover")
        .correlation_id
        .clone();
    let events = all_events(system.runtime().store().as_ref()).await;
    let cascade_domains: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.correlation_id == correlation)
        .map(|e| e.key.domain.as_str())
        .collect();
    assert_eq!(cascade_domains, ["alpha", "beta", "gamma"].into());

    // Each subscriber still saw each event once: no double delivery between the paths.
    wait_caught_up(&system, "projector-all").await;
    let events = all_events(system.runtime().store().as_ref()).await;
    assert_projected_exactly(&read_log(&log), &events, &["alpha", "beta", "gamma"]);
    system.stop().await;
}

/// Payloads of the `Echoed` events of `domain`, with how often each occurs.
fn payload_counts(events: &[StoredEvent], domain: &str) -> BTreeMap<Vec<u8>, usize> {
    let mut counts = BTreeMap::new();
    for event in events.iter().filter(|e| e.key.domain == domain) {
        *counts.entry(echoed(&event.event).payload).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_killed_mid_cascade_resumes_without_losing_or_repeating_saga_commands() {
    let workspace = Workspace::with_manifest(
        &saga_chain(SystemConfig::new(&["alpha", "beta", "gamma"]).with_toml(FAST_DELIVERY))
            .manifest_toml(),
    );
    let runtime = RuntimeProcess::spawn(&workspace.manifest()).await;
    let alpha = Client::connect(&workspace.socket_dir(), "alpha").await;
    // Load, and kill the runtime while the sagas are still working through it.
    let roots: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
    let acknowledged = load(&alpha, &roots, 6, "kill").await;
    runtime.kill_hard().await;

    let runtime = RuntimeProcess::spawn(&workspace.manifest()).await;
    let runtime_client =
        RuntimeClient::new(connect(&workspace.socket_dir().join("runtime.sock")).await);
    wait_until("both sagas catch up", WAIT, || {
        let mut client = runtime_client.clone();
        async move {
            let topology = client
                .get_topology(TopologyRequest::default())
                .await
                .expect("topology")
                .into_inner();
            topology
                .nodes
                .iter()
                .filter(|n| n.component_type == "saga")
                .all(|n| n.checkpoint == topology.head_position)
                && topology.nodes.iter().any(|n| n.component_type == "saga")
        }
    })
    .await;
    runtime.terminate().await;

    let store = workspace.open_store();
    let events = all_events(&store).await;
    let alpha_payloads = payload_counts(&events, "alpha");
    assert_eq!(alpha_payloads.len(), acknowledged.len());
    assert!(alpha_payloads.values().all(|n| *n == 1));
    for domain in ["beta", "gamma"] {
        assert_eq!(
            payload_counts(&events, domain),
            alpha_payloads,
            "every {domain} command executed exactly once"
        );
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_saga_command_is_compensated_and_the_compensation_is_in_the_store() {
    let config = SystemConfig::new(&["alpha", "beta"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "saga-alpha-beta",
            "saga",
            &["alpha"],
            &[("SYNTHETIC_TARGET", "beta")],
        );
    let system = TestSystem::start(&config).await;
    let alpha = system.client("alpha").await;
    let root = Uuid::new_v4();
    alpha.ok(root, echo("reject")).await;
    alpha.ok(root, echo("fine")).await;
    // Follow-up commands (and the compensation) run inside the saga's delivery, before its
    // checkpoint moves: caught up means everything the saga causes is stored.
    wait_caught_up(&system, "saga-alpha-beta").await;
    let events = all_events(system.runtime().store().as_ref()).await;
    let alpha_payloads: Vec<String> = events
        .iter()
        .filter(|e| e.key.domain == "alpha")
        .map(|e| String::from_utf8_lossy(&echoed(&e.event).payload).into_owned())
        .collect();
    let compensations: Vec<&String> = alpha_payloads
        .iter()
        .filter(|p| p.starts_with("compensated:"))
        .collect();
    assert_eq!(compensations.len(), 1, "{alpha_payloads:?}");
    assert!(
        compensations[0].contains("rejected by saga-alpha-beta"),
        "the compensation names the rejection: {}",
        compensations[0]
    );
    let compensation = events
        .iter()
        .find(|e| echoed(&e.event).payload.starts_with(b"compensated:"))
        .expect("the compensation event");
    let rejected_source = events
        .iter()
        .find(|e| e.key.domain == "alpha" && echoed(&e.event).payload == b"reject")
        .expect("the event whose command was rejected");
    assert_eq!(compensation.key.root, root, "sent to the source aggregate");
    assert_eq!(
        compensation.correlation_id, rejected_source.correlation_id,
        "the compensation keeps the workflow's correlation id"
    );
    let beta_payloads = payload_counts(&events, "beta");
    assert!(beta_payloads.contains_key(b"fine".as_slice()));
    assert!(
        !beta_payloads.contains_key(b"reject".as_slice()),
        "the rejection stored nothing"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_parked_the_rest_go_on_and_a_redrive_delivers_it() {
    let dir = angzarr_standalone_integration::short_temp_dir();
    let log = log_path(dir.path(), "projector");
    let poisoned = SystemConfig::new(&["alpha"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "projector-all",
            "projector",
            &["alpha"],
            &[
                ("SYNTHETIC_LOG", &log.display().to_string()),
                ("SYNTHETIC_FAIL_PAYLOAD", "poison"),
            ],
        );
    let mut system = TestSystem::start(&poisoned).await;
    let client = system.client("alpha").await;
    let root = Uuid::new_v4();
    for payload in ["one", "poison", "three", "four"] {
        client.ok(root, echo(payload)).await;
    }
    wait_caught_up(&system, "projector-all").await;
    let positions: Vec<u64> = read_log(&log).iter().map(|p| p.position).collect();
    assert_eq!(positions, vec![1, 3, 4], "the others went on");

    let socket = system.workspace().socket_dir().join("runtime.sock");
    let mut admin = RuntimeClient::new(connect(&socket).await);
    let parked = admin
        .list_parked(ListParkedRequest::default())
        .await
        .expect("list")
        .into_inner()
        .parked;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].position, 2);
    assert_eq!(parked[0].subscriber, "projector-all");
    assert_eq!(parked[0].attempts, 3);
    assert!(parked[0].error.contains("poison"), "{}", parked[0].error);

    // Still poisonous: a re-drive fails and keeps it parked.
    let again = admin
        .redrive(RedriveRequest {
            id: parked[0].id,
            subscriber: String::new(),
        })
        .await
        .expect("redrive")
        .into_inner();
    assert_eq!(again.redelivered, 0);
    assert_eq!(again.still_parked.len(), 1);

    // The projector is fixed (started without the poison rule); the re-drive delivers it.
    let fixed = poisoned.clone();
    let fixed_toml = fixed
        .manifest_toml()
        .replace(", SYNTHETIC_FAIL_PAYLOAD = \"poison\"", "");
    std::fs::write(system.workspace().manifest(), fixed_toml).expect("rewrite the manifest");
    system.restart().await;
    let mut admin = RuntimeClient::new(connect(&socket).await);
    let redriven = admin
        .redrive(RedriveRequest {
            id: 0,
            subscriber: "projector-all".into(),
        })
        .await
        .expect("redrive")
        .into_inner();
    assert_eq!(redriven.redelivered, 1);
    assert!(redriven.still_parked.is_empty());
    let parked = admin
        .list_parked(ListParkedRequest::default())
        .await
        .expect("list")
        .into_inner()
        .parked;
    assert!(parked.is_empty());
    let positions: Vec<u64> = read_log(&log).iter().map(|p| p.position).collect();
    assert_eq!(
        positions,
        vec![1, 3, 4, 2],
        "the parked event, delivered late"
    );
    system.stop().await;
}

/// A process manager joining alpha and beta by correlation id, commanding gamma.
fn join_config() -> SystemConfig {
    SystemConfig::new(&["alpha", "beta", "gamma"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "pm-join",
            "process_manager",
            &["alpha", "beta"],
            &[("SYNTHETIC_TARGET", "gamma")],
        )
}

async fn send_correlated(client: &Client, correlation: &str, payload: &str) {
    let mut book = client.book(Uuid::new_v4(), echo(payload));
    book.cover.as_mut().expect("cover").correlation_id = correlation.into();
    client.send(book).await.expect("accepted");
}

fn joined_count(events: &[StoredEvent], correlation: &str) -> usize {
    events
        .iter()
        .filter(|e| e.key.domain == "gamma")
        .filter(|e| echoed(&e.event).payload == format!("joined:{correlation}").into_bytes())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_manager_joins_two_domains_in_either_order_and_across_a_restart() {
    let mut system = TestSystem::start(&join_config()).await;
    let (alpha, beta) = (system.client("alpha").await, system.client("beta").await);

    send_correlated(&alpha, "order-1", "a").await;
    send_correlated(&beta, "order-1", "b").await;
    send_correlated(&beta, "order-2", "b").await;
    send_correlated(&alpha, "order-2", "a").await;
    // Only one side of order-3 before the restart.
    send_correlated(&alpha, "order-3", "a").await;
    wait_caught_up(&system, "pm-join").await;
    let events = all_events(system.runtime().store().as_ref()).await;
    assert_eq!(joined_count(&events, "order-1"), 1);
    assert_eq!(joined_count(&events, "order-2"), 1, "the other order");
    assert_eq!(joined_count(&events, "order-3"), 0, "not yet");

    system.restart().await;
    let beta = system.client("beta").await;
    send_correlated(&beta, "order-3", "b").await;
    // A duplicate trigger changes nothing.
    send_correlated(&beta, "order-1", "b-again").await;
    wait_caught_up(&system, "pm-join").await;
    let events = all_events(system.runtime().store().as_ref()).await;
    for order in ["order-1", "order-2", "order-3"] {
        assert_eq!(
            joined_count(&events, order),
            1,
            "{order} joined exactly once"
        );
    }
    // The process manager's own state is in the store, under its own domain.
    let state: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.key.domain == "pm-join")
        .collect();
    let joins = state
        .iter()
        .filter(|e| e.event.short_type_name() == "Joined")
        .count();
    assert_eq!(joins, 3, "one Joined state event per correlation id");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topology_shows_components_and_flows_with_counts() {
    let dir = angzarr_standalone_integration::short_temp_dir();
    let log = log_path(dir.path(), "projector");
    let config = projector_config(&["alpha", "beta"], &log, &["beta"]).subscriber(
        "saga-alpha-beta",
        "saga",
        &["alpha"],
        &[("SYNTHETIC_TARGET", "beta")],
    );
    let system = TestSystem::start(&config).await;
    let alpha = system.client("alpha").await;
    for i in 0..3 {
        alpha.ok(Uuid::new_v4(), echo(format!("t{i}"))).await;
    }
    wait_caught_up(&system, "saga-alpha-beta").await;
    wait_caught_up(&system, "projector-all").await;
    let socket = system.workspace().socket_dir().join("runtime.sock");
    let topology = RuntimeClient::new(connect(&socket).await)
        .get_topology(TopologyRequest::default())
        .await
        .expect("topology")
        .into_inner();
    assert_eq!(topology.head_position, 6);
    let nodes: BTreeMap<&str, &str> = topology
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.component_type.as_str()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("alpha", "aggregate"),
            ("beta", "aggregate"),
            ("projector-all", "projector"),
            ("saga-alpha-beta", "saga"),
        ]
        .into()
    );
    let edge = |from: &str, to: &str| {
        topology
            .edges
            .iter()
            .find(|e| e.from == from && e.to == to)
            .unwrap_or_else(|| panic!("an edge {from} -> {to}: {:?}", topology.edges))
            .count
    };
    assert_eq!(
        edge("alpha", "saga-alpha-beta"),
        3,
        "events delivered to the saga"
    );
    assert_eq!(edge("saga-alpha-beta", "beta"), 3, "commands the saga sent");
    assert_eq!(
        edge("beta", "projector-all"),
        3,
        "events delivered to the projector"
    );
    assert_eq!(edge("clients", "alpha"), 3, "client commands");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_execution_returns_the_sagas_downstream_events_with_the_same_correlation_id() {
    use angzarr_proto::ExecuteStreamCountRequest;
    use angzarr_proto::command_gateway_client::CommandGatewayClient;
    use futures::StreamExt;

    let config =
        saga_chain(SystemConfig::new(&["alpha", "beta", "gamma"]).with_toml(FAST_DELIVERY));
    let system = TestSystem::start(&config).await;
    let alpha = system.client("alpha").await;
    let mut gateway = CommandGatewayClient::new(
        connect(&system.workspace().socket_dir().join("gateway.sock")).await,
    );
    let stream = gateway
        .execute_stream_response_count(ExecuteStreamCountRequest {
            command: Some(alpha.book(Uuid::new_v4(), echo("streamed"))),
            count: 3,
        })
        .await
        .expect("stream")
        .into_inner();
    let books: Vec<_> =
        tokio::time::timeout(WAIT, stream.map(|b| b.expect("a book")).collect::<Vec<_>>())
            .await
            .expect("three events arrive and the stream ends");
    let correlation = books[0]
        .cover
        .as_ref()
        .expect("cover")
        .correlation_id
        .clone();
    assert!(!correlation.is_empty());
    let domains: Vec<String> = books
        .iter()
        .map(|b| {
            let cover = b.cover.as_ref().expect("cover");
            assert_eq!(cover.correlation_id, correlation, "one workflow");
            cover.domain.clone()
        })
        .collect();
    assert_eq!(
        domains,
        ["alpha", "beta", "gamma"],
        "the command's event, then the cascade's"
    );
    system.stop().await;
}
