//! What-if (issue 12): dry runs at past points of a real cart, speculative runs of
//! subscribers, editions, and correlation queries, against the real runtime.
//!
//! "Nothing was written" is checked from outside: the whole log and its head, every
//! subscriber's checkpoint and the synthetic projector's log file are compared before and
//! after. "No subscriber fired" gets a positive control: a real command afterwards, once
//! delivered, must be the only thing the projector added.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_proto::command_gateway_client::CommandGatewayClient;
use angzarr_proto::editions_client::EditionsClient;
use angzarr_proto::event_query_client::EventQueryClient;
use angzarr_proto::speculation_client::SpeculationClient;
use angzarr_proto::{
    CommandBook, CommandResponse, Cover, CoverExt, CreateEditionRequest, DryRunRequest,
    EditionRequest, EventBook, EventPageExt, ListEditionsRequest, Query, SpeculateRequest,
    SpeculateResponse, SynchronizeRequest, UuidExt, dry_run_request,
};
use angzarr_runtime::storage::{EventStore, HistoryKey, StoredEvent};
use angzarr_standalone_integration::{
    Client, SystemConfig, TestSystem, assert_gapless, bin_path, connect, echo, echoed,
    expect_status, finish, sequences, short_temp_dir, wait_until,
};
use angzarr_synthetic_aggregate::{Counter, Joined, Seen};
use example_proto::cart::{AddItem, CreateCart, RemoveItem};
use prost::{Message, Name};
use prost_types::Any;
use tokio::process::Command;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

/// Fast polling, so subscribers catch up without waiting on the bus.
const FAST_DELIVERY: &str = "[delivery]\nmax_attempts = 3\nretry_backoff_secs = 0.01\n\
     max_retry_backoff_secs = 0.05\npoll_interval_secs = 0.2\nsync_timeout_secs = 20\n";

fn pack<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

async fn gateway(system: &TestSystem) -> Channel {
    connect(&system.workspace().socket_dir().join("gateway.sock")).await
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
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

/// Everything a what-if call could have changed: the log, its head, the checkpoints of
/// `subscribers` and the contents of `files`.
#[derive(Debug, PartialEq)]
struct World {
    events: Vec<StoredEvent>,
    head: u64,
    checkpoints: BTreeMap<String, u64>,
    files: Vec<String>,
}

async fn world(system: &TestSystem, subscribers: &[&str], files: &[PathBuf]) -> World {
    let store = system.runtime().store();
    let mut checkpoints = BTreeMap::new();
    for subscriber in subscribers {
        let position = store.checkpoint(subscriber).await.expect("checkpoint");
        checkpoints.insert(subscriber.to_string(), position);
    }
    World {
        events: all_events(store.as_ref()).await,
        head: store.head_position().await.expect("head"),
        checkpoints,
        files: files.iter().map(|f| read(f)).collect(),
    }
}

/// Waits until every subscriber's checkpoint is the log's head (sagas and process managers
/// add events, so the head may move while waiting).
async fn settle(system: &TestSystem, subscribers: &[&str]) {
    let store = system.runtime().store();
    wait_until("every subscriber catches up", WAIT, || {
        let store = store.clone();
        async move {
            let head = store.head_position().await.expect("head");
            for subscriber in subscribers {
                if store.checkpoint(subscriber).await.expect("checkpoint") != head {
                    return false;
                }
            }
            true
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Dry runs on the example cart
// ---------------------------------------------------------------------------------------------

fn cart_system() -> SystemConfig {
    SystemConfig::new(&[])
        .with_toml(FAST_DELIVERY)
        .with_toml(&format!(
            "[components.cart]\nkind = \"aggregate\"\ncommand = [{:?}]\n",
            bin_path("example-cart").display().to_string()
        ))
}

fn cart_command(root: Uuid, command: Any) -> CommandBook {
    CommandBook {
        cover: Some(Cover::for_root("cart", root)),
        pages: vec![angzarr_proto::CommandPage {
            sequence: None,
            command: Some(command),
        }],
        ..CommandBook::default()
    }
}

fn add(product: &str) -> Any {
    pack(&AddItem {
        product_id: product.into(),
        name: product.to_lowercase(),
        quantity: 2,
        unit_price_cents: 2500,
    })
}

fn remove(product: &str) -> Any {
    pack(&RemoveItem {
        product_id: product.into(),
    })
}

fn at(sequence: u32) -> Option<dry_run_request::AsOf> {
    Some(dry_run_request::AsOf::AsOfSequence(sequence))
}

fn type_names(response: &CommandResponse) -> Vec<String> {
    response
        .events
        .iter()
        .flat_map(|book| &book.pages)
        .map(|p| {
            p.event
                .as_ref()
                .map(|e| {
                    e.type_url
                        .rsplit('.')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_of_a_cart_at_past_sequences_change_nothing_and_fire_nothing() {
    let mut config = cart_system();
    let logs = short_temp_dir();
    let projector_log = logs.path().join("projector.log");
    config = config.subscriber(
        "projector-cart",
        "projector",
        &["cart"],
        &[("SYNTHETIC_LOG", &projector_log.display().to_string())],
    );
    let (system, cart) = TestSystem::start_with_client(&config, "cart").await;
    let root = Uuid::new_v4();
    // 0 CartCreated, 1 ItemAdded(WIDGET-A), 2 ItemRemoved(WIDGET-A), 3 ItemAdded(GADGET-B)
    let history = [
        pack(&CreateCart {
            customer_id: "alice@example.com".into(),
        }),
        add("WIDGET-A"),
        remove("WIDGET-A"),
        add("GADGET-B"),
    ];
    for command in history {
        cart.ok(root, command).await;
    }
    settle(&system, &["projector-cart"]).await;
    let files = [projector_log.clone()];
    let before = world(&system, &["projector-cart"], &files).await;
    assert_eq!(before.events.len(), 4);
    assert_eq!(read(&projector_log).lines().count(), 4);

    let mut coordinator =
        angzarr_proto::business_coordinator_client::BusinessCoordinatorClient::new(
            connect(&system.workspace().socket_dir().join("cart.sock")).await,
        );
    let mut gateway = CommandGatewayClient::new(gateway(&system).await);
    let dry_run = |command: Any, as_of| DryRunRequest {
        command: Some(CommandBook {
            idempotency_key: format!("dry-{}", Uuid::new_v4()),
            ..cart_command(root, command)
        }),
        as_of,
    };

    // The item can be removed only where it was in the cart: after sequence 1, not before
    // it was added nor after it was removed.
    for (as_of, accepted) in [(0, false), (1, true), (2, false), (3, false)] {
        let answer = coordinator
            .dry_run(dry_run(remove("WIDGET-A"), at(as_of)))
            .await;
        if accepted {
            let response = answer.expect("accepted").into_inner();
            assert_eq!(sequences(&response), [as_of + 1], "numbered as it would be");
            assert_eq!(type_names(&response), ["ItemRemoved"]);
            let page = &response.events.as_ref().expect("events").pages[0];
            assert_eq!(page.position, 0, "not stored");
        } else {
            // The cart's rejection for a product not in it.
            let message = expect_status(answer.map(|r| r.into_inner()), Code::NotFound);
            assert!(message.contains("not in cart"), "as of {as_of}: {message}");
        }
    }
    // The current state refuses it too; through the gateway, like a real command.
    let now = gateway.dry_run(dry_run(remove("WIDGET-A"), None)).await;
    expect_status(now.map(|r| r.into_inner()), Code::NotFound);
    let gadget = gateway
        .dry_run(dry_run(remove("GADGET-B"), None))
        .await
        .expect("GADGET-B is in the cart now")
        .into_inner();
    assert_eq!(sequences(&gadget), [4]);
    let readd = gateway
        .dry_run(dry_run(add("WIDGET-A"), at(0)))
        .await
        .expect("an item can be added right after creation")
        .into_inner();
    assert_eq!(sequences(&readd), [1]);
    // As of a time: after event 1 was stored the item was in the cart; before the cart
    // existed, creating it was possible.
    let stored = system.history("cart", root).await;
    let time = |t| Some(dry_run_request::AsOf::AsOfTime(t));
    let then = coordinator
        .dry_run(dry_run(remove("WIDGET-A"), time(stored[1].created_at)))
        .await
        .expect("in the cart at that time")
        .into_inner();
    assert_eq!(sequences(&then), [2]);
    let before_creation = prost_types::Timestamp {
        seconds: stored[0].created_at.seconds - 3600,
        nanos: 0,
    };
    let create = coordinator
        .dry_run(dry_run(
            pack(&CreateCart {
                customer_id: "bob@example.com".into(),
            }),
            time(before_creation),
        ))
        .await
        .expect("no cart yet")
        .into_inner();
    assert_eq!(sequences(&create), [0]);
    let beyond = coordinator
        .dry_run(dry_run(remove("GADGET-B"), at(9)))
        .await;
    expect_status(beyond.map(|r| r.into_inner()), Code::InvalidArgument);

    assert_eq!(
        world(&system, &["projector-cart"], &files).await,
        before,
        "the store, the checkpoint and the projection are as they were"
    );
    let store = system.runtime().store();
    assert_eq!(
        store
            .get_snapshot(&HistoryKey::main("cart", root))
            .await
            .expect("snapshot"),
        None
    );

    // Positive control: a real command reaches the projector, and is all it ever got.
    cart.ok(root, remove("GADGET-B")).await;
    settle(&system, &["projector-cart"]).await;
    let lines: Vec<String> = read(&projector_log).lines().map(String::from).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[4].starts_with("5 cart "), "{lines:?}");
    system.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Speculative runs
// ---------------------------------------------------------------------------------------------

fn speculation_system(log: &Path) -> SystemConfig {
    SystemConfig::new(&["alpha", "beta"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "projector-alpha",
            "projector",
            &["alpha"],
            &[("SYNTHETIC_LOG", &log.display().to_string())],
        )
        .subscriber(
            "saga-alpha-beta",
            "saga",
            &["alpha"],
            &[("SYNTHETIC_TARGET", "beta")],
        )
        .subscriber(
            "pm-alpha",
            "process_manager",
            &["alpha"],
            &[("SYNTHETIC_TARGET", "beta")],
        )
}

const SUBSCRIBERS: [&str; 3] = ["projector-alpha", "saga-alpha-beta", "pm-alpha"];

fn query_of(domain: &str, root: Uuid) -> Query {
    Query {
        cover: Some(Cover::for_root(domain, root)),
        selection: None,
    }
}

async fn speculate(
    client: &mut SpeculationClient<Channel>,
    component: &str,
    events: Vec<EventBook>,
    query: Option<Query>,
) -> Result<SpeculateResponse, tonic::Status> {
    client
        .run(SpeculateRequest {
            component: component.into(),
            events,
            query,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// An `Echoed` event given by a caller (never stored).
fn given(domain: &str, root: Uuid, correlation: &str, sequence: u32, payload: &str) -> EventBook {
    let mut cover = Cover::for_root(domain, root);
    cover.correlation_id = correlation.into();
    let mut page = angzarr_proto::EventPage {
        event: Some(pack(&angzarr_synthetic_aggregate::Echoed {
            payload: payload.as_bytes().to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    };
    page.set_sequence_num(sequence);
    EventBook {
        cover: Some(cover),
        pages: vec![page],
        ..EventBook::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speculative_runs_leave_projections_checkpoints_and_other_domains_untouched() {
    let logs = short_temp_dir();
    let log = logs.path().join("projector.log");
    let (system, alpha) = TestSystem::start_with_client(&speculation_system(&log), "alpha").await;
    let root = Uuid::new_v4();
    let mut book = alpha.book(root, echo("one"));
    book.cover.as_mut().expect("cover").correlation_id = "flow-1".into();
    alpha.send(book.clone()).await.expect("one");
    book.pages[0].command = Some(echo("two"));
    alpha.send(book).await.expect("two");
    settle(&system, &SUBSCRIBERS).await;
    let files = [log.clone()];
    let before = world(&system, &SUBSCRIBERS, &files).await;
    let beta_before = system.history("beta", root).await;
    assert!(
        !beta_before.is_empty(),
        "the saga and the process manager acted for real"
    );

    let mut client = SpeculationClient::new(gateway(&system).await);
    // The projector over the stored history: what it would answer, on its current model.
    let projected = speculate(
        &mut client,
        "projector-alpha",
        vec![],
        Some(query_of("alpha", root)),
    )
    .await
    .expect("projector");
    assert_eq!(projected.component_type, "projector");
    assert_eq!(projected.events_delivered, 2);
    assert_eq!(projected.projections.len(), 1);
    let counter = |p: &angzarr_proto::Projection| {
        Counter::decode(p.projection.as_ref().expect("projection").value.as_slice())
            .expect("a Counter")
            .events
    };
    assert_eq!(counter(&projected.projections[0]), 2, "nothing new for it");
    // ... and over events given by the caller (and one of another domain it ignores).
    let new_root = Uuid::new_v4();
    let projected = speculate(
        &mut client,
        "projector-alpha",
        vec![
            given("alpha", new_root, "what-if", 0, "w0"),
            given("beta", new_root, "what-if", 0, "ignored"),
            given("alpha", new_root, "what-if", 1, "w1"),
        ],
        None,
    )
    .await
    .expect("projector on given events");
    assert_eq!(projected.events_delivered, 2);
    assert_eq!(
        projected
            .projections
            .iter()
            .map(counter)
            .collect::<Vec<_>>(),
        [3, 4],
        "each delivery sees the ones before it"
    );

    // The saga: the commands it would send, stamped like real ones, none executed.
    let saga = speculate(
        &mut client,
        "saga-alpha-beta",
        vec![],
        Some(query_of("alpha", root)),
    )
    .await
    .expect("saga");
    let stored = system.history("alpha", root).await;
    assert_eq!(saga.commands.len(), 2);
    for (command, source) in saga.commands.iter().zip(&stored) {
        let cover = command.cover.as_ref().expect("cover");
        assert_eq!(cover.domain, "beta");
        assert_eq!(cover.root_uuid(), Some(root));
        assert_eq!(cover.correlation_id, "flow-1");
        assert_eq!(
            command.idempotency_key,
            format!("saga-alpha-beta:{}:0", source.position),
            "the key a real delivery uses"
        );
    }
    let what_if = speculate(
        &mut client,
        "saga-alpha-beta",
        vec![given("alpha", new_root, "what-if", 0, "try-me")],
        None,
    )
    .await
    .expect("saga on a given event");
    let [command] = what_if.commands.try_into().expect("one command");
    let echo_payload = angzarr_synthetic_aggregate::Echo::decode(
        command.pages[0]
            .command
            .as_ref()
            .expect("command")
            .value
            .as_slice(),
    )
    .expect("an Echo")
    .payload;
    assert_eq!(echo_payload, b"try-me");

    // The process manager: its state events numbered after its (empty) state, its commands.
    let pm = speculate(
        &mut client,
        "pm-alpha",
        vec![
            given("alpha", new_root, "pm-what-if", 0, "a"),
            given("alpha", new_root, "pm-what-if", 1, "b"),
        ],
        None,
    )
    .await
    .expect("process manager");
    let state: Vec<(u32, String)> = pm
        .state_events
        .iter()
        .flat_map(|b| &b.pages)
        .map(|p| {
            let event = p.event.as_ref().expect("event");
            (p.sequence_num().expect("numbered"), event.type_url.clone())
        })
        .collect();
    assert_eq!(state, [(0, Seen::type_url()), (1, Joined::type_url())]);
    assert_eq!(
        pm.commands.len(),
        1,
        "joined once, though it saw two events"
    );

    assert_eq!(
        world(&system, &SUBSCRIBERS, &files).await,
        before,
        "no event, checkpoint or projection changed"
    );
    assert_eq!(system.history("beta", root).await, beta_before);
    assert!(system.history("beta", new_root).await.is_empty());
    let pm_root =
        angzarr_runtime::delivery::process_manager::process_manager_root("pm-alpha", "pm-what-if");
    assert!(system.history("pm-alpha", pm_root).await.is_empty());

    // Bad input is refused and changes nothing.
    let cases = [
        (
            "nobody",
            vec![],
            Some(query_of("alpha", root)),
            Code::NotFound,
        ),
        (
            "projector-alpha",
            vec![given("alpha", root, "x", 0, "x")],
            Some(query_of("alpha", root)),
            Code::InvalidArgument,
        ),
        ("projector-alpha", vec![], None, Code::InvalidArgument),
        (
            "projector-alpha",
            vec![],
            Some(query_of("nowhere", root)),
            Code::NotFound,
        ),
    ];
    for (component, events, query, code) in cases {
        let refused = speculate(&mut client, component, events, query).await;
        expect_status(refused, code);
    }
    assert_eq!(world(&system, &SUBSCRIBERS, &files).await, before);
    system.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Editions
// ---------------------------------------------------------------------------------------------

fn edition_cover(domain: &str, root: Uuid, name: &str) -> Cover {
    let mut cover = Cover::for_root(domain, root);
    cover.edition = name.into();
    cover
}

async fn get_events(queries: &mut EventQueryClient<Channel>, query: Query) -> Vec<EventBook> {
    let mut stream = queries.get_events(query).await.expect("query").into_inner();
    let mut books = Vec::new();
    while let Some(book) = stream.next().await {
        books.push(book.expect("a page"));
    }
    books
}

/// (position, sequence, edition) of every page.
fn pages_of(books: &[EventBook]) -> Vec<(u64, u32, String)> {
    books
        .iter()
        .flat_map(|b| {
            let edition = b
                .cover
                .as_ref()
                .map(|c| c.edition.clone())
                .unwrap_or_default();
            b.pages.iter().map(move |p| {
                (
                    p.position,
                    p.sequence_num().unwrap_or(u32::MAX),
                    edition.clone(),
                )
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editions_branch_an_aggregate_without_touching_main() {
    let logs = short_temp_dir();
    let main_log = logs.path().join("main.log");
    let all_log = logs.path().join("all.log");
    let config = SystemConfig::new(&["alpha"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "projector-main",
            "projector",
            &["alpha"],
            &[("SYNTHETIC_LOG", &main_log.display().to_string())],
        )
        .subscriber(
            "projector-editions",
            "projector",
            &["alpha"],
            &[
                ("SYNTHETIC_LOG", &all_log.display().to_string()),
                ("SYNTHETIC_EDITIONS", "*"),
            ],
        );
    let (system, alpha) = TestSystem::start_with_client(&config, "alpha").await;
    let root = Uuid::new_v4();
    for i in 0..5 {
        alpha.ok(root, echo(format!("main-{i}"))).await;
    }
    let main_before = system.history("alpha", root).await;
    let mut editions = EditionsClient::new(gateway(&system).await);
    let create = |cover: Cover, divergence: u32| CreateEditionRequest {
        cover: Some(cover),
        divergence_sequence: divergence,
    };

    let created = editions
        .create(create(edition_cover("alpha", root, "try"), 2))
        .await
        .expect("created")
        .into_inner();
    assert_eq!((created.divergence_sequence, created.next_sequence), (2, 3));
    let head = system.head().await;
    for (request, code) in [
        (
            create(edition_cover("alpha", root, "try"), 1),
            Code::AlreadyExists,
        ),
        (
            create(edition_cover("alpha", Uuid::new_v4(), "try"), 0),
            Code::NotFound,
        ),
        (
            create(edition_cover("alpha", root, "late"), 5),
            Code::InvalidArgument,
        ),
        (
            create(edition_cover("alpha", root, "bad name"), 0),
            Code::InvalidArgument,
        ),
        (
            create(edition_cover("nowhere", root, "try"), 0),
            Code::NotFound,
        ),
    ] {
        let message = expect_status(editions.create(request).await, code);
        assert!(!message.is_empty());
    }
    assert_eq!(system.head().await, head, "refusals wrote nothing");

    // Concurrent writers on the edition: gapless after the divergence, main untouched.
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let alpha = alpha.clone();
            tokio::spawn(async move {
                for n in 0..5 {
                    let mut book = alpha.book(root, echo(format!("try-{writer}-{n}")));
                    book.cover.as_mut().expect("cover").edition = "try".into();
                    alpha.send(book).await.expect("a command on the edition");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let store = system.runtime().store();
    let edition = store
        .read_history(
            &HistoryKey::main("alpha", root).with_edition("try"),
            0,
            None,
        )
        .await
        .expect("the edition's history");
    assert_gapless(&edition);
    assert_eq!(edition.len(), 33);
    assert_eq!(edition[..3], main_before[..3], "shared with main");
    assert!(edition[3..].iter().all(|e| e.key.edition == "try"));
    assert_eq!(
        system.history("alpha", root).await,
        main_before,
        "main unchanged"
    );
    // The logic saw the shared part of main: the first edition event followed 3 events.
    assert_eq!(echoed(&edition[3].event).prior_events, 3);

    // Queries name the edition; main stays the default.
    let mut queries = EventQueryClient::new(gateway(&system).await);
    let branch = pages_of(
        &get_events(
            &mut queries,
            Query {
                cover: Some(edition_cover("alpha", root, "try")),
                selection: None,
            },
        )
        .await,
    );
    assert_eq!(branch.len(), 33);
    assert_eq!(branch[2].2, "", "shared events are main's");
    assert_eq!(branch[3].2, "try");
    let main = pages_of(&get_events(&mut queries, query_of("alpha", root)).await);
    assert_eq!(main.len(), 5);

    // Subscribers see edition events only when they ask.
    alpha.ok(root, echo("main-marker")).await;
    settle(&system, &["projector-main", "projector-editions"]).await;
    let main_lines = read(&main_log).lines().count();
    let all_lines = read(&all_log).lines().count();
    assert_eq!(main_lines, 6, "main only by default");
    assert_eq!(all_lines, 36, "everything for the one that asked");
    let head = system.head().await;
    let synchronized = |editions: Vec<String>| SynchronizeRequest {
        after_position: 0,
        domains: vec![],
        editions,
        ..Default::default()
    };
    for (editions, expected) in [(vec![], 6), (vec!["try".to_string()], 36)] {
        let mut stream = queries
            .synchronize(synchronized(editions))
            .await
            .expect("synchronize")
            .into_inner();
        let mut seen = Vec::new();
        while seen.last().is_none_or(|(position, _, _)| *position < head) {
            let book = stream.next().await.expect("more").expect("a page");
            seen.extend(pages_of(&[book]));
        }
        assert_eq!(seen.len(), expected);
    }

    // A dry run on the edition, then list, inspect and delete.
    let mut book = alpha.book(root, echo("rehearsal"));
    book.cover.as_mut().expect("cover").edition = "try".into();
    let rehearsed = CommandGatewayClient::new(gateway(&system).await)
        .dry_run(DryRunRequest {
            command: Some(book.clone()),
            as_of: at(10),
        })
        .await
        .expect("dry run on the edition")
        .into_inner();
    assert_eq!(sequences(&rehearsed), [11]);
    let listed = editions
        .list(ListEditionsRequest {
            domain: "alpha".into(),
            root: None,
        })
        .await
        .expect("list")
        .into_inner()
        .editions;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].next_sequence, 33);
    let shown = editions
        .get(EditionRequest {
            cover: Some(edition_cover("alpha", root, "try")),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(shown.cover.expect("cover").edition, "try");
    let deleted = editions
        .delete(EditionRequest {
            cover: Some(edition_cover("alpha", root, "try")),
        })
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(deleted.events_removed, 30);
    expect_status(
        editions
            .get(EditionRequest {
                cover: Some(edition_cover("alpha", root, "try")),
            })
            .await,
        Code::NotFound,
    );
    expect_status(alpha.send(book).await, Code::NotFound);
    let main_after: Vec<StoredEvent> = system.history("alpha", root).await;
    assert_eq!(
        main_after[..5],
        main_before[..],
        "main survives the deletion"
    );
    let mut gone = queries
        .get_events(Query {
            cover: Some(edition_cover("alpha", root, "try")),
            selection: None,
        })
        .await
        .expect("stream")
        .into_inner();
    let status = gone.next().await.expect("an answer").expect_err("refused");
    assert_eq!(status.code(), Code::NotFound);
    // The name is free again.
    editions
        .create(create(edition_cover("alpha", root, "try"), 4))
        .await
        .expect("created again");
    system.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Correlation queries
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correlation_query_returns_a_saga_cascade_across_three_domains_in_order() {
    let config = SystemConfig::new(&["alpha", "beta", "gamma"])
        .with_toml(FAST_DELIVERY)
        .subscriber(
            "saga-ab",
            "saga",
            &["alpha"],
            &[("SYNTHETIC_TARGET", "beta")],
        )
        .subscriber(
            "saga-bg",
            "saga",
            &["beta"],
            &[("SYNTHETIC_TARGET", "gamma")],
        );
    let (system, alpha) = TestSystem::start_with_client(&config, "alpha").await;
    let root = Uuid::new_v4();
    let send = |correlation: &'static str, payload: &'static str| {
        let alpha: Client = alpha.clone();
        async move {
            let mut book = alpha.book(root, echo(payload));
            book.cover.as_mut().expect("cover").correlation_id = correlation.into();
            alpha.send(book).await.expect("sent");
        }
    };
    send("cascade", "c1").await;
    send("other", "o1").await;
    send("cascade", "c2").await;
    settle(&system, &["saga-ab", "saga-bg"]).await;
    assert_eq!(system.history("gamma", root).await.len(), 3);

    let expected: Vec<StoredEvent> = all_events(system.runtime().store().as_ref())
        .await
        .into_iter()
        .filter(|e| e.correlation_id == "cascade")
        .collect();
    assert_eq!(expected.len(), 6);
    let mut queries = EventQueryClient::new(gateway(&system).await);
    let correlation = |domain: &str| Query {
        cover: Some(Cover {
            domain: domain.into(),
            correlation_id: "cascade".into(),
            ..Cover::default()
        }),
        selection: None,
    };
    let books = get_events(&mut queries, correlation("")).await;
    let positions: Vec<u64> = pages_of(&books).iter().map(|p| p.0).collect();
    assert_eq!(
        positions,
        expected.iter().map(|e| e.position).collect::<Vec<_>>(),
        "every event of the workflow, in global order"
    );
    let domains: Vec<String> = books
        .iter()
        .flat_map(|b| {
            let cover = b.cover.clone().expect("cover");
            assert_eq!(cover.correlation_id, "cascade");
            b.pages.iter().map(move |_| cover.domain.clone())
        })
        .collect();
    for domain in ["alpha", "beta", "gamma"] {
        assert_eq!(
            domains.iter().filter(|d| *d == domain).count(),
            2,
            "{domains:?}"
        );
    }
    let beta = pages_of(&get_events(&mut queries, correlation("beta")).await);
    assert_eq!(beta.len(), 2, "one domain's part of the workflow");
    let mut one = query_of("alpha", root);
    one.cover.as_mut().expect("cover").correlation_id = "other".into();
    assert_eq!(pages_of(&get_events(&mut queries, one).await).len(), 1);
    let mut with_range = correlation("");
    with_range.selection = Some(angzarr_proto::query::Selection::Range(
        angzarr_proto::SequenceRange {
            lower: 1,
            upper: None,
        },
    ));
    let mut refused = queries
        .get_events(with_range)
        .await
        .expect("stream")
        .into_inner();
    let status = refused
        .next()
        .await
        .expect("an answer")
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);

    // The CLI prints the same workflow.
    let mut command = Command::new(bin_path("angzarr"));
    command
        .args([
            "events",
            "--correlation",
            "cascade",
            "--json",
            "--socket-dir",
        ])
        .arg(system.workspace().socket_dir())
        .kill_on_drop(true);
    let finished = finish(command).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let printed: Vec<u64> = finished
        .stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            value["position"].as_u64().expect("position")
        })
        .collect();
    assert_eq!(printed, positions);
    let root_text = root.to_string();
    let uuid = angzarr_proto::Uuid::from_uuid(root);
    assert_eq!(uuid.to_uuid().expect("uuid").to_string(), root_text);
    system.stop().await;
}
