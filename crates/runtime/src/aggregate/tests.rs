//! The aggregate pipeline against the in-memory store and scripted business logic.

use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use angzarr_proto::{CommandPage, Cover, CoverExt, EventPage};
use async_trait::async_trait;
use prost_types::Any;

use super::*;
use crate::storage::memory::MemoryEventStore;
use crate::test_support::RecordingBus;

const DOMAIN: &str = "counter";

type Decide = dyn Fn(&ContextualCommand) -> Result<EventBook> + Send + Sync;

/// Business logic that runs a closure and counts its calls.
struct ScriptedLogic {
    decide: Box<Decide>,
    calls: AtomicUsize,
    seen: StdMutex<Vec<ContextualCommand>>,
}

impl ScriptedLogic {
    fn new(
        decide: impl Fn(&ContextualCommand) -> Result<EventBook> + Send + Sync + 'static,
    ) -> Self {
        Self {
            decide: Box::new(decide),
            calls: AtomicUsize::new(0),
            seen: StdMutex::new(Vec::new()),
        }
    }

    /// Emits `count` events per command, offering the history length as snapshot state.
    fn emitting(count: usize) -> Self {
        Self::new(move |request| Ok(events(count, history_len(request))))
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn last_seen(&self) -> ContextualCommand {
        self.seen
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("called")
    }
}

#[async_trait]
impl AggregateLogic for ScriptedLogic {
    fn component(&self) -> &str {
        "counter-logic"
    }

    async fn handle(&self, command: ContextualCommand) -> Result<EventBook> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().expect("lock").push(command.clone());
        (self.decide)(&command)
    }
}

fn any(type_url: &str, value: &[u8]) -> Any {
    Any {
        type_url: type_url.to_string(),
        value: value.to_vec(),
    }
}

/// Events in the history handed to the logic: the snapshot's count plus the pages.
fn history_len(request: &ContextualCommand) -> u64 {
    let prior = request.events.as_ref().expect("prior events");
    let from_snapshot = prior
        .snapshot
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .map(|s| u64::from_le_bytes(s.value.as_slice().try_into().expect("u64 state")))
        .unwrap_or(0);
    from_snapshot + prior.pages.len() as u64
}

fn events(count: usize, before: u64) -> EventBook {
    EventBook {
        pages: (0..count)
            .map(|_| EventPage {
                event: Some(any("type.googleapis.com/test.Incremented", b"")),
                ..EventPage::default()
            })
            .collect(),
        snapshot_state: Some(any(
            "type.googleapis.com/test.Count",
            &(before + count as u64).to_le_bytes(),
        )),
        ..EventBook::default()
    }
}

fn root(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn key(n: u128) -> HistoryKey {
    HistoryKey::main(DOMAIN, root(n))
}

fn command(n: u128) -> CommandBook {
    CommandBook {
        cover: Some(Cover::for_root(DOMAIN, root(n))),
        pages: vec![CommandPage {
            sequence: None,
            command: Some(any("type.googleapis.com/test.Increment", b"")),
        }],
        ..CommandBook::default()
    }
}

fn with_key(mut book: CommandBook, idempotency_key: &str) -> CommandBook {
    book.idempotency_key = idempotency_key.to_string();
    book
}

fn expecting(mut book: CommandBook, sequence: u32) -> CommandBook {
    book.pages[0].sequence = Some(sequence);
    book
}

struct Fixture {
    store: Arc<MemoryEventStore>,
    bus: Arc<RecordingBus>,
    logic: Arc<ScriptedLogic>,
    coordinator: AggregateCoordinator,
}

fn fixture_with(logic: ScriptedLogic, options: AggregateOptions) -> Fixture {
    fixture_on(Arc::new(MemoryEventStore::new()), logic, options)
}

fn fixture_on(
    store: Arc<MemoryEventStore>,
    logic: ScriptedLogic,
    options: AggregateOptions,
) -> Fixture {
    let bus = Arc::new(RecordingBus::default());
    let logic = Arc::new(logic);
    let publisher = Arc::new(OrderedPublisher::starting_after(
        bus.clone(),
        store.clone(),
        0,
    ));
    let coordinator =
        AggregateCoordinator::new(DOMAIN, store.clone(), publisher, logic.clone(), options);
    Fixture {
        store,
        bus,
        logic,
        coordinator,
    }
}

fn fixture(logic: ScriptedLogic) -> Fixture {
    fixture_with(logic, AggregateOptions::default())
}

fn sequences(response: &CommandResponse) -> Vec<u32> {
    response
        .events
        .as_ref()
        .expect("events")
        .pages
        .iter()
        .map(|p| p.sequence_num().expect("numbered"))
        .collect()
}

async fn stored(store: &MemoryEventStore, n: u128) -> Vec<StoredEvent> {
    store.read_history(&key(n), 0, None).await.expect("read")
}

#[tokio::test]
async fn events_are_numbered_from_the_history_and_published_in_order() {
    let f = fixture(ScriptedLogic::emitting(2));
    let first = f.coordinator.handle(command(1)).await.expect("first");
    let second = f.coordinator.handle(command(1)).await.expect("second");
    let other = f.coordinator.handle(command(2)).await.expect("other");
    assert_eq!(sequences(&first), vec![0, 1]);
    assert_eq!(sequences(&second), vec![2, 3]);
    assert_eq!(
        sequences(&other),
        vec![0, 1],
        "each aggregate has its own sequence"
    );
    assert_eq!(second.events.as_ref().expect("events").next_sequence, 4);
    let stored: Vec<u32> = stored(&f.store, 1)
        .await
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(stored, vec![0, 1, 2, 3]);
    assert_eq!(f.bus.positions(), vec![1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn the_logic_sees_the_prior_history_and_the_command() {
    let f = fixture(ScriptedLogic::emitting(1));
    f.coordinator.handle(command(1)).await.expect("first");
    f.coordinator.handle(command(1)).await.expect("second");
    let seen = f.logic.last_seen();
    let prior = seen.events.expect("events");
    assert_eq!(prior.pages.len(), 1);
    assert_eq!(prior.next_sequence, 1);
    assert_eq!(prior.cover.expect("cover").domain, DOMAIN);
    let sent = seen.command.expect("command");
    assert_eq!(
        sent.pages[0].command.as_ref().expect("command").type_url,
        "type.googleapis.com/test.Increment"
    );
}

#[tokio::test]
async fn a_rejection_passes_through_unchanged_and_stores_nothing() {
    let f = fixture(ScriptedLogic::new(|_| {
        Err(Error::Rejected {
            code: tonic::Code::FailedPrecondition,
            message: "insufficient points: have 3, need 5".into(),
        })
    }));
    let err = f
        .coordinator
        .handle(command(1))
        .await
        .expect_err("rejected");
    let status = err.to_status();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), "insufficient points: have 3, need 5");
    assert_eq!(f.logic.calls(), 1, "a rejection is never retried");
    assert_eq!(f.store.head_position().await.expect("head"), 0);
    assert!(f.bus.positions().is_empty());
}

#[tokio::test]
async fn a_stale_expected_sequence_is_aborted_with_the_current_one() {
    let f = fixture(ScriptedLogic::emitting(1));
    for _ in 0..3 {
        f.coordinator.handle(command(1)).await.expect("setup");
    }
    let err = f
        .coordinator
        .handle(expecting(command(1), 1))
        .await
        .expect_err("stale");
    let status = err.to_status();
    assert_eq!(status.code(), tonic::Code::Aborted);
    assert!(
        status.message().contains('3'),
        "message names the current next sequence: {}",
        status.message()
    );
    assert_eq!(
        f.logic.calls(),
        3,
        "the logic is not called for a stale command"
    );
    assert_eq!(stored(&f.store, 1).await.len(), 3);
    let ok = f
        .coordinator
        .handle(expecting(command(1), 3))
        .await
        .expect("current sequence accepted");
    assert_eq!(sequences(&ok), vec![3]);
}

/// Logic that, on its first call, lets another writer append to the same history first.
fn racing_logic(store: Arc<MemoryEventStore>) -> ScriptedLogic {
    let raced = Arc::new(AtomicUsize::new(0));
    ScriptedLogic::new(move |request| {
        if raced.fetch_add(1, Ordering::SeqCst) == 0 {
            let store = store.clone();
            let next = request.events.as_ref().expect("events").next_sequence;
            // The other writer: runs to completion before this decision is appended.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                runtime.block_on(append_behind(&store, next));
            })
            .join()
            .expect("other writer");
        }
        Ok(events(1, history_len(request)))
    })
}

#[tokio::test]
async fn a_conflict_with_another_writer_is_retried_on_fresh_state() {
    let store = Arc::new(MemoryEventStore::new());
    let f = fixture_on(
        store.clone(),
        racing_logic(store.clone()),
        AggregateOptions::default(),
    );
    let response = f.coordinator.handle(command(1)).await.expect("retried");
    assert_eq!(f.logic.calls(), 2, "decided again after the conflict");
    assert_eq!(sequences(&response), vec![1]);
    let history = stored(&store, 1).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].correlation_id, "other-writer");
    // Both commits reach the bus, in order (the other writer's through gap filling).
    assert_eq!(f.bus.positions(), vec![1, 2]);
}

#[tokio::test]
async fn a_conflict_with_an_explicit_expected_sequence_is_not_retried() {
    let store = Arc::new(MemoryEventStore::new());
    let f = fixture_on(
        store.clone(),
        racing_logic(store.clone()),
        AggregateOptions::default(),
    );
    let err = f
        .coordinator
        .handle(expecting(command(1), 0))
        .await
        .expect_err("conflict");
    assert_eq!(err.to_status().code(), tonic::Code::Aborted);
    assert!(
        err.to_string().contains('1'),
        "names the current sequence: {err}"
    );
    assert_eq!(f.logic.calls(), 1);
    assert_eq!(
        stored(&store, 1).await.len(),
        1,
        "only the other writer's event"
    );
}

#[tokio::test]
async fn concurrent_commands_on_one_aggregate_are_serialized_without_gaps() {
    let f = Arc::new(fixture(ScriptedLogic::emitting(1)));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move { f.coordinator.handle(command(7)).await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(sequences(&task.await.expect("task").expect("accepted")));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..64).collect::<Vec<u32>>());
    assert_eq!(f.logic.calls(), 64, "no conflicts within one coordinator");
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_original_response() {
    let f = fixture(ScriptedLogic::emitting(2));
    let first = f
        .coordinator
        .handle(with_key(command(1), "k-1"))
        .await
        .expect("first");
    let again = f
        .coordinator
        .handle(with_key(command(1), "k-1"))
        .await
        .expect("again");
    assert_eq!(first, again);
    assert_eq!(f.logic.calls(), 1, "executed once");
    assert_eq!(stored(&f.store, 1).await.len(), 2);
    let stored_cause = stored(&f.store, 1).await[0].causation.clone();
    assert_eq!(
        stored_cause.and_then(|c| c.cause),
        Some(causation::Cause::CommandId("k-1".into())),
        "events are caused by the command, named by its idempotency key"
    );
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_command_is_refused() {
    let f = fixture(ScriptedLogic::emitting(1));
    f.coordinator
        .handle(with_key(command(1), "k-1"))
        .await
        .expect("first");
    let mut different = with_key(command(1), "k-1");
    different.pages[0].command = Some(any("type.googleapis.com/test.Decrement", b""));
    let err = f.coordinator.handle(different).await.expect_err("refused");
    assert_eq!(err.to_status().code(), tonic::Code::AlreadyExists);
    assert_eq!(f.logic.calls(), 1);
    assert_eq!(stored(&f.store, 1).await.len(), 1);
}

#[tokio::test]
async fn a_given_correlation_id_is_kept_on_every_event() {
    let f = fixture(ScriptedLogic::emitting(3));
    let mut book = command(1);
    book.cover.as_mut().expect("cover").correlation_id = "order-42".into();
    let response = f.coordinator.handle(book).await.expect("accepted");
    let cover = response.events.expect("events").cover.expect("cover");
    assert_eq!(cover.correlation_id, "order-42");
    let stored = stored(&f.store, 1).await;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|e| e.correlation_id == "order-42"));
}

#[tokio::test]
async fn a_missing_correlation_id_is_derived_from_the_command_bytes() {
    let correlation = |response: CommandResponse| {
        response
            .events
            .expect("events")
            .cover
            .expect("cover")
            .correlation_id
    };
    let f = fixture(ScriptedLogic::emitting(1));
    let a = correlation(f.coordinator.handle(command(1)).await.expect("a"));
    let b = correlation(f.coordinator.handle(command(1)).await.expect("b"));
    let c = correlation(f.coordinator.handle(command(2)).await.expect("c"));
    assert_eq!(a, b, "same command bytes, same id");
    assert_ne!(a, c, "different command, different id");
    let parsed = Uuid::parse_str(&a).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 5);
    assert!(
        stored(&f.store, 2)
            .await
            .iter()
            .all(|e| e.correlation_id == c)
    );
}

#[tokio::test]
async fn snapshots_are_stored_per_policy_and_used_when_loading() {
    let options = AggregateOptions {
        snapshot_every: 3,
        ..AggregateOptions::default()
    };
    let f = fixture_with(ScriptedLogic::emitting(1), options);
    f.coordinator.handle(command(1)).await.expect("0");
    f.coordinator.handle(command(1)).await.expect("1");
    assert_eq!(f.store.get_snapshot(&key(1)).await.expect("get"), None);
    f.coordinator.handle(command(1)).await.expect("2");
    let snapshot = f
        .store
        .get_snapshot(&key(1))
        .await
        .expect("get")
        .expect("snapshot after crossing 3 events");
    assert_eq!(snapshot.sequence, 2);
    f.coordinator.handle(command(1)).await.expect("3");
    let seen = f.logic.last_seen().events.expect("events");
    assert_eq!(seen.snapshot.as_ref().map(|s| s.sequence), Some(2));
    assert!(seen.pages.is_empty(), "no events after the snapshot yet");
    f.coordinator.handle(command(1)).await.expect("4");
    let seen = f.logic.last_seen().events.expect("events");
    assert_eq!(seen.pages.len(), 1, "only events after the snapshot");
    assert_eq!(seen.pages[0].sequence_num(), Some(3));
    assert_eq!(history_len(&f.logic.last_seen()), 4);
}

#[tokio::test]
async fn no_snapshot_without_state_or_with_the_policy_off() {
    let off = fixture_with(
        ScriptedLogic::emitting(5),
        AggregateOptions {
            snapshot_every: 0,
            ..AggregateOptions::default()
        },
    );
    off.coordinator.handle(command(1)).await.expect("accepted");
    assert_eq!(off.store.get_snapshot(&key(1)).await.expect("get"), None);
    let stateless = fixture_with(
        ScriptedLogic::new(|_| {
            let mut book = events(5, 0);
            book.snapshot_state = None;
            Ok(book)
        }),
        AggregateOptions {
            snapshot_every: 1,
            ..AggregateOptions::default()
        },
    );
    stateless
        .coordinator
        .handle(command(1))
        .await
        .expect("accepted");
    assert_eq!(
        stateless.store.get_snapshot(&key(1)).await.expect("get"),
        None
    );
}

#[tokio::test]
async fn too_many_events_is_a_logic_fault_and_stores_nothing() {
    let f = fixture_with(
        ScriptedLogic::emitting(4),
        AggregateOptions {
            max_events_per_command: 3,
            ..AggregateOptions::default()
        },
    );
    let err = f.coordinator.handle(command(1)).await.expect_err("fault");
    assert!(matches!(err, Error::LogicFault { .. }), "{err:?}");
    assert!(err.to_string().contains("counter-logic"), "{err}");
    assert_eq!(f.store.head_position().await.expect("head"), 0);
}

#[tokio::test]
async fn an_untyped_event_is_a_logic_fault() {
    let f = fixture(ScriptedLogic::new(|_| {
        Ok(EventBook {
            pages: vec![EventPage::default()],
            ..EventBook::default()
        })
    }));
    let err = f.coordinator.handle(command(1)).await.expect_err("fault");
    assert!(matches!(err, Error::LogicFault { .. }), "{err:?}");
    assert_eq!(f.store.head_position().await.expect("head"), 0);
}

#[tokio::test]
async fn malformed_commands_are_refused_before_anything_runs() {
    let f = fixture(ScriptedLogic::emitting(1));
    let mut no_cover = command(1);
    no_cover.cover = None;
    let mut other_domain = command(1);
    other_domain.cover.as_mut().expect("cover").domain = "orders".into();
    let mut no_pages = command(1);
    no_pages.pages.clear();
    let mut untyped = command(1);
    untyped.pages[0].command = Some(Any::default());
    let mut edition = command(1);
    edition.cover.as_mut().expect("cover").edition = "v2".into();
    let mut bad_edition = command(1);
    bad_edition.cover.as_mut().expect("cover").edition = "no spaces".into();
    let mut bad_root = command(1);
    bad_root.cover.as_mut().expect("cover").root = Some(angzarr_proto::Uuid {
        value: vec![1, 2, 3],
    });
    let cases = [
        (no_cover, tonic::Code::InvalidArgument),
        (other_domain, tonic::Code::NotFound),
        (no_pages, tonic::Code::InvalidArgument),
        (untyped, tonic::Code::InvalidArgument),
        // An edition must be created before commands can go to it.
        (edition, tonic::Code::NotFound),
        (bad_edition, tonic::Code::InvalidArgument),
        (bad_root, tonic::Code::InvalidArgument),
    ];
    for (book, code) in cases {
        let err = f.coordinator.handle(book).await.expect_err("refused");
        assert_eq!(err.to_status().code(), code, "{err}");
    }
    assert_eq!(f.logic.calls(), 0);
    assert_eq!(f.store.head_position().await.expect("head"), 0);
}

#[tokio::test]
async fn record_appends_given_events_and_checks_the_sequence() {
    let f = fixture(ScriptedLogic::emitting(1));
    // Two events, numbered from `sequence` when it is given.
    let book = |sequence: Option<u32>| {
        let pages = (0..2)
            .map(|i| {
                let mut page = EventPage {
                    event: Some(any("type.googleapis.com/test.Imported", b"x")),
                    ..EventPage::default()
                };
                if let Some(sequence) = sequence {
                    page.set_sequence_num(sequence + i);
                }
                page
            })
            .collect();
        EventBook {
            cover: Some(Cover::for_root(DOMAIN, root(1))),
            pages,
            ..EventBook::default()
        }
    };
    let response = f.coordinator.record(book(None)).await.expect("recorded");
    assert_eq!(sequences(&response), vec![0, 1]);
    let err = f
        .coordinator
        .record(book(Some(0)))
        .await
        .expect_err("stale");
    assert_eq!(err.to_status().code(), tonic::Code::Aborted);
    f.coordinator.record(book(Some(2))).await.expect("current");
    assert_eq!(stored(&f.store, 1).await.len(), 4);
    assert_eq!(f.logic.calls(), 0, "recording does not run business logic");
}

#[tokio::test]
async fn record_refuses_force_writes_and_numbers_that_disagree_and_stores_nothing() {
    use angzarr_proto::event_page::Sequence;
    let f = fixture(ScriptedLogic::emitting(1));
    let book = |sequences: &[Option<Sequence>]| EventBook {
        cover: Some(Cover::for_root(DOMAIN, root(1))),
        pages: sequences
            .iter()
            .map(|sequence| EventPage {
                sequence: *sequence,
                event: Some(any("type.googleapis.com/test.Imported", b"x")),
                ..EventPage::default()
            })
            .collect(),
        ..EventBook::default()
    };
    let cases = [
        (vec![Some(Sequence::Force(true))], "force-write"),
        (vec![None, Some(Sequence::Force(false))], "force-write"),
        (
            vec![Some(Sequence::Num(0)), Some(Sequence::Num(0))],
            "consecutive",
        ),
        (vec![None, None, Some(Sequence::Num(1))], "before the start"),
        (
            vec![Some(Sequence::Num(3)), None, Some(Sequence::Num(4))],
            "consecutive",
        ),
    ];
    for (sequences, says) in cases {
        let err = f
            .coordinator
            .record(book(&sequences))
            .await
            .expect_err("refused");
        assert_eq!(
            err.to_status().code(),
            tonic::Code::InvalidArgument,
            "{err}"
        );
        assert!(err.to_string().contains(says), "{sequences:?}: {err}");
    }
    assert_eq!(f.store.head_position().await.expect("head"), 0);
    // A later page alone may say where the book starts.
    let response = f
        .coordinator
        .record(book(&[None, Some(Sequence::Num(1))]))
        .await
        .expect("numbers agree with the history");
    assert_eq!(sequences(&response), vec![0, 1]);
    let err = f
        .coordinator
        .record(book(&[None, Some(Sequence::Num(1))]))
        .await
        .expect_err("stale");
    assert_eq!(err.to_status().code(), tonic::Code::Aborted);
    assert_eq!(stored(&f.store, 1).await.len(), 2);
}

#[tokio::test]
async fn a_force_write_from_the_logic_is_a_fault_and_stores_nothing() {
    let f = fixture(ScriptedLogic::new(|_| {
        Ok(EventBook {
            pages: vec![EventPage {
                sequence: Some(angzarr_proto::event_page::Sequence::Force(true)),
                event: Some(any("type.googleapis.com/test.Overwrote", b"x")),
                ..EventPage::default()
            }],
            ..EventBook::default()
        })
    }));
    let err = f.coordinator.handle(command(1)).await.expect_err("fault");
    assert!(matches!(err, Error::LogicFault { .. }), "{err:?}");
    assert!(err.to_string().contains("force-write"), "{err}");
    assert_eq!(f.store.head_position().await.expect("head"), 0);
}

/// Appends one event to aggregate 1 behind the coordinator's back (another writer).
async fn append_behind(store: &MemoryEventStore, next: u32) {
    store
        .append(AppendRequest {
            key: key(1),
            expected_next: next,
            correlation_id: "other-writer".into(),
            events: vec![NewEvent {
                event: any("type.googleapis.com/test.Incremented", b""),
                causation: None,
            }],
            snapshot: None,
            idempotency: None,
            checkpoint: None,
        })
        .await
        .expect("the other writer appends");
}

#[tokio::test]
async fn the_logic_sees_from_the_cache_exactly_what_a_load_would_return() {
    let f = fixture_with(
        ScriptedLogic::emitting(2),
        AggregateOptions {
            snapshot_every: 5,
            ..AggregateOptions::default()
        },
    );
    // Crosses snapshots at 5 and 10 and leaves events after each.
    for round in 0..7 {
        let expected = f
            .store
            .load(&key(1), LoadOptions::default())
            .await
            .expect("load");
        f.coordinator
            .handle(command(1))
            .await
            .unwrap_or_else(|err| panic!("round {round}: {err}"));
        let seen = f.logic.last_seen().events.expect("prior events");
        let mut loaded = event_book(
            &key(1),
            &seen.cover.as_ref().expect("cover").correlation_id,
            &expected.events,
        );
        loaded.snapshot = expected.snapshot.clone();
        loaded.next_sequence = expected.next_sequence;
        assert_eq!(seen, loaded, "round {round}");
    }
    let (histories, bytes) = f.coordinator.histories.usage();
    assert_eq!(histories, 1, "the aggregate is hot");
    assert!(bytes > 0);
}

#[tokio::test]
async fn a_stale_cached_history_never_writes_and_is_replaced_by_a_fresh_load() {
    let f = fixture(ScriptedLogic::emitting(1));
    f.coordinator.handle(command(1)).await.expect("cached now");
    append_behind(&f.store, 1).await;

    let response = f.coordinator.handle(command(1)).await.expect("retried");
    assert_eq!(
        sequences(&response),
        vec![2],
        "after the other writer's event"
    );
    assert_eq!(
        f.logic.calls(),
        3,
        "decided on the stale history, then on the fresh one"
    );
    let prior = f.logic.last_seen().events.expect("prior events");
    assert_eq!(
        prior.next_sequence, 2,
        "the second decision saw the other writer"
    );
    let history = stored(&f.store, 1).await;
    assert_eq!(
        history.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(history[1].correlation_id, "other-writer");

    // An explicit expected sequence is checked against the store, not the cache.
    append_behind(&f.store, 3).await;
    let response = f
        .coordinator
        .handle(expecting(command(1), 4))
        .await
        .expect("the store says 4 is next, whatever the cache says");
    assert_eq!(sequences(&response), vec![4]);
    let err = f
        .coordinator
        .handle(expecting(command(1), 4))
        .await
        .expect_err("now stale");
    assert_eq!(err.to_status().code(), tonic::Code::Aborted);
}

#[tokio::test]
async fn a_rejection_keeps_the_cached_history_and_a_cache_of_zero_bytes_reads_every_time() {
    let rejecting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logic = {
        let rejecting = rejecting.clone();
        ScriptedLogic::new(move |request| {
            if rejecting.load(Ordering::SeqCst) {
                return Err(Error::Rejected {
                    code: tonic::Code::FailedPrecondition,
                    message: "no".into(),
                });
            }
            Ok(events(1, history_len(request)))
        })
    };
    let f = fixture(logic);
    f.coordinator.handle(command(1)).await.expect("stored");
    rejecting.store(true, Ordering::SeqCst);
    f.coordinator
        .handle(command(1))
        .await
        .expect_err("rejected");
    assert_eq!(f.coordinator.histories.usage().0, 1, "still cached");
    rejecting.store(false, Ordering::SeqCst);
    let response = f.coordinator.handle(command(1)).await.expect("stored");
    assert_eq!(sequences(&response), vec![1]);

    let uncached = fixture_with(
        ScriptedLogic::emitting(1),
        AggregateOptions {
            history_cache_bytes: 0,
            ..AggregateOptions::default()
        },
    );
    uncached
        .coordinator
        .handle(command(1))
        .await
        .expect("stored");
    append_behind(&uncached.store, 1).await;
    let response = uncached
        .coordinator
        .handle(command(1))
        .await
        .expect("stored");
    assert_eq!(sequences(&response), vec![2]);
    assert_eq!(
        uncached.logic.calls(),
        2,
        "no stale decision without a cache"
    );
    assert_eq!(uncached.coordinator.histories.usage(), (0, 0));
}

mod faults;
mod what_if;
