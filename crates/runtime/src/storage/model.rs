//! Model-based property tests every [`EventStore`] adapter runs (DESIGN.md §2.2, §2.3, §2.7).
//!
//! The conformance suite checks each promise with a hand-written case; the cases we did not
//! think of are the ones adapters get wrong. Here proptest generates random sequences of
//! operations (appends with right and stale sequences, several events, snapshots, idempotency
//! keys used twice, checkpoints, parking, editions created and deleted, malformed requests,
//! reopening the store) over several aggregates of two domains, applies each to the store and
//! to [`Model`], a deliberately naive store of a few vectors and maps, and compares after every
//! step: the outcome of the operation (committed events, or which error), then everything a
//! reader can see (every history loaded with and without its snapshot, read in full, the
//! global log, the head, every idempotency record, checkpoint, parked record, edition, root and
//! correlation). A failure shrinks to a short sequence of operations and is printed.
//!
//! An adapter crate runs it with one line in its test binary (the factory must reopen the same
//! store on every `open`, as for [`conformance`](super::conformance)):
//!
//! ```text
//! angzarr_runtime::event_store_model!(MyFactory::new());
//! ```
//!
//! It expands into one `#[test]` `event_store_model`, which runs [`DEFAULT_CASES`] cases
//! (`PROPTEST_CASES` overrides) and keeps failing seeds in `proptest-regressions/` of the
//! calling crate, replayed first on every later run.

use std::collections::{BTreeMap, BTreeSet};

use angzarr_proto::{Causation, EventRef, Snapshot, causation};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use prost_types::{Any, Timestamp};
use uuid::Uuid;

use super::conformance::StoreFactory;
use super::{
    AppendRequest, Checkpoint, Edition, EventStore, HistoryKey, IdempotencyRecord, LoadOptions,
    LoadedHistory, NewEvent, ParkRequest, StorageError, StorageResult, StoredEvent,
};

/// Cases run when `PROPTEST_CASES` is not set: bounded so the test command stays fast.
pub const DEFAULT_CASES: u32 = 48;

/// Longest generated sequence of operations.
const MAX_OPS: usize = 40;

/// Runs the model-based test against the stores a factory expression opens, as one `#[test]`
/// `event_store_model`; failing seeds are kept in `proptest-regressions/event_store_model.txt`
/// of the calling crate. See the [module docs](crate::storage::model).
#[macro_export]
macro_rules! event_store_model {
    ($factory:expr) => {
        #[test]
        fn event_store_model() {
            $crate::storage::model::check_against_model(
                || $factory,
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/proptest-regressions/event_store_model.txt"
                ),
            );
        }
    };
}

/// Runs random operation sequences against a fresh store from `new_store` for each case and
/// against the model; panics with the shortest failing sequence found. `regressions` is the
/// file failing seeds are written to and replayed from.
pub fn check_against_model<F: StoreFactory>(new_store: impl Fn() -> F, regressions: &'static str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let mut runner = TestRunner::new(config(DEFAULT_CASES, regressions));
    let result = runner.run(&vec(op(), 1..=MAX_OPS), |ops| {
        runtime.block_on(async {
            let factory = new_store();
            run(&factory, &ops).await
        })
    });
    if let Err(failure) = result {
        panic!("the store disagrees with the model: {failure}");
    }
}

/// `cases` unless `PROPTEST_CASES` says otherwise; failing seeds persisted in `regressions`
/// and replayed first.
pub fn config(cases: u32, regressions: &'static str) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------------------------

const DOMAINS: [&str; 2] = ["orders", "invoices"];
const EDITION: &str = "what-if";
/// The empty name is invalid (a checkpoint, parked event or idempotency key without a name).
const SUBSCRIBERS: [&str; 3] = ["projector", "saga", ""];
const COMMANDS: [&str; 4] = ["command-a", "command-b", "command-c", ""];
const CORRELATIONS: [&str; 2] = ["workflow-1", "workflow-2"];
const EVENT_TYPE: &str = "type.googleapis.com/angzarr.model.Happened";
const STATE_TYPE: &str = "type.googleapis.com/angzarr.model.State";
/// Every history the operations touch: three aggregates (two domains, a root shared by both),
/// each on main and on the edition [`EDITION`].
const HISTORIES: usize = 6;

fn history(index: usize) -> HistoryKey {
    let (domain, root) = [(0, 1), (0, 2), (1, 1)][index % 3];
    let main = HistoryKey::main(DOMAINS[domain], Uuid::from_u128(root));
    if index < 3 {
        main
    } else {
        main.with_edition(EDITION)
    }
}

/// One step of a generated sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// An append (right or stale sequence, with or without snapshot, key and checkpoint).
    Append(Append),
    /// An append the request checks refuse.
    Malformed {
        /// Which history.
        history: usize,
        /// What is wrong with it.
        defect: Defect,
    },
    /// `put_snapshot` within or beyond the history.
    PutSnapshot {
        /// Which history.
        history: usize,
        /// Where.
        at: SnapshotAt,
        /// With a state or without one.
        state: bool,
    },
    /// `put_checkpoint` near the head (forwards or backwards).
    PutCheckpoint {
        /// Index into the subscribers (the last one has no name).
        subscriber: usize,
        /// Relative to the head.
        position: i8,
    },
    /// `park` near the head.
    Park {
        /// Index into the subscribers.
        subscriber: usize,
        /// Relative to the head.
        position: i8,
        /// Attempts recorded.
        attempts: u32,
    },
    /// `remove_parked` of the n-th parked record (or an unknown id).
    RemoveParked {
        /// Which record, modulo their number (an unknown id when there is none).
        nth: usize,
    },
    /// `update_parked` of the n-th parked record.
    UpdateParked {
        /// Which record, modulo their number.
        nth: usize,
        /// Attempts to add.
        attempts: u32,
    },
    /// `create_edition` (the main key or a bad name are refused).
    CreateEdition {
        /// Which history (a main one: an invalid name).
        history: usize,
        /// The divergence, relative to main's last event (positive: beyond it).
        divergence: i8,
    },
    /// `delete_edition`.
    DeleteEdition {
        /// Which history.
        history: usize,
    },
    /// `read_history(from, to)`.
    ReadHistory {
        /// Which history.
        history: usize,
        /// First sequence.
        from: u32,
        /// End (exclusive).
        to: Option<u32>,
    },
    /// `read_global(after, limit)`.
    ReadGlobal {
        /// Position to read after.
        after: u64,
        /// Most events.
        limit: usize,
    },
    /// `read_correlated(id, after, limit)`.
    ReadCorrelated {
        /// Index into the correlation ids.
        correlation: usize,
        /// Position to read after.
        after: u64,
        /// Most events.
        limit: usize,
    },
    /// `list_roots` in pages.
    ListRoots {
        /// Index into the domains.
        domain: usize,
        /// Page size.
        limit: usize,
    },
    /// `load_with_idempotency`.
    LoadWithIdempotency {
        /// Which history.
        history: usize,
        /// Whether to start from the snapshot.
        use_snapshot: bool,
        /// Index into the idempotency keys.
        command: usize,
    },
    /// Drops the store and opens it again.
    Reopen,
}

/// A generated append.
#[derive(Debug, Clone)]
pub struct Append {
    history: usize,
    /// 0: the history's next sequence; otherwise off by that much (stale or ahead).
    offset: i8,
    events: Vec<Cause>,
    correlation: usize,
    snapshot: Option<(SnapshotAt, bool)>,
    command: Option<usize>,
    checkpoint: Option<(usize, i8)>,
}

/// The causation of a generated event.
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    /// None.
    Nothing,
    /// A command id.
    Command,
    /// An event reference.
    Event,
}

/// Where a snapshot lies: `Back(n)` is `n` before the last event (beyond the history when
/// there are not that many); `Beyond(n)` at the next sequence plus `n`.
#[derive(Debug, Clone, Copy)]
pub enum SnapshotAt {
    /// Within the history.
    Back(u32),
    /// At or after its next sequence.
    Beyond(u32),
}

/// What makes a generated request malformed.
#[derive(Debug, Clone, Copy)]
pub enum Defect {
    /// No domain.
    NoDomain,
    /// An idempotency record counting other events than the request's.
    RecordMismatch,
    /// A snapshot beyond the history after the append.
    SnapshotBeyond,
    /// An idempotency record without a key.
    EmptyKey,
    /// A checkpoint without a subscriber.
    NamelessCheckpoint,
}

fn op() -> impl Strategy<Value = Op> {
    let index = |n: usize| 0..n;
    let at = || {
        prop_oneof![
            3 => (0u32..4).prop_map(SnapshotAt::Back),
            1 => (0u32..3).prop_map(SnapshotAt::Beyond),
        ]
    };
    let cause = prop_oneof![
        Just(Cause::Nothing),
        Just(Cause::Command),
        Just(Cause::Event)
    ];
    let append = (
        index(HISTORIES),
        prop_oneof![6 => Just(0i8), 1 => -3i8..=3],
        vec(cause, 0..4),
        index(CORRELATIONS.len()),
        proptest::option::weighted(0.3, (at(), any::<bool>())),
        proptest::option::weighted(0.4, index(COMMANDS.len())),
        proptest::option::weighted(0.3, (index(SUBSCRIBERS.len()), -3i8..=3)),
    )
        .prop_map(
            |(history, offset, events, correlation, snapshot, command, checkpoint)| {
                Op::Append(Append {
                    history,
                    offset,
                    events,
                    correlation,
                    snapshot,
                    command,
                    checkpoint,
                })
            },
        );
    let defect = prop_oneof![
        Just(Defect::NoDomain),
        Just(Defect::RecordMismatch),
        Just(Defect::SnapshotBeyond),
        Just(Defect::EmptyKey),
        Just(Defect::NamelessCheckpoint),
    ];
    prop_oneof![
        12 => append,
        1 => (index(HISTORIES), defect).prop_map(|(history, defect)| Op::Malformed { history, defect }),
        2 => (index(HISTORIES), at(), any::<bool>())
            .prop_map(|(history, at, state)| Op::PutSnapshot { history, at, state }),
        2 => (index(SUBSCRIBERS.len()), -3i8..=3)
            .prop_map(|(subscriber, position)| Op::PutCheckpoint { subscriber, position }),
        1 => (index(SUBSCRIBERS.len()), -3i8..=1, 1u32..5)
            .prop_map(|(subscriber, position, attempts)| Op::Park { subscriber, position, attempts }),
        1 => any::<usize>().prop_map(|nth| Op::RemoveParked { nth }),
        1 => (any::<usize>(), 0u32..3).prop_map(|(nth, attempts)| Op::UpdateParked { nth, attempts }),
        2 => (index(HISTORIES), -4i8..=1)
            .prop_map(|(history, divergence)| Op::CreateEdition { history, divergence }),
        1 => index(HISTORIES).prop_map(|history| Op::DeleteEdition { history }),
        1 => (index(HISTORIES), 0u32..8, proptest::option::of(0u32..8))
            .prop_map(|(history, from, to)| Op::ReadHistory { history, from, to }),
        1 => (0u64..40, 1usize..6).prop_map(|(after, limit)| Op::ReadGlobal { after, limit }),
        1 => (index(CORRELATIONS.len()), 0u64..40, 1usize..6).prop_map(
            |(correlation, after, limit)| Op::ReadCorrelated { correlation, after, limit }
        ),
        1 => (index(DOMAINS.len()), 1usize..3)
            .prop_map(|(domain, limit)| Op::ListRoots { domain, limit }),
        1 => (index(HISTORIES), any::<bool>(), index(COMMANDS.len())).prop_map(
            |(history, use_snapshot, command)| Op::LoadWithIdempotency { history, use_snapshot, command }
        ),
        1 => Just(Op::Reopen),
    ]
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/// Why an operation was refused, as far as the model can tell (messages aside).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// [`StorageError::Conflict`].
    Conflict {
        /// The history.
        key: HistoryKey,
        /// Expected next sequence.
        expected: u32,
        /// Actual next sequence.
        actual: u32,
    },
    /// [`StorageError::DuplicateIdempotencyKey`] with the stored record.
    Duplicate(Box<IdempotencyRecord>),
    /// [`StorageError::Invalid`].
    Invalid,
    /// [`StorageError::NotFound`].
    NotFound,
    /// [`StorageError::EditionExists`].
    EditionExists(HistoryKey),
}

impl Refusal {
    /// The refusal an error means; `None` for errors no operation here may cause.
    fn of(err: &StorageError) -> Option<Self> {
        Some(match err {
            StorageError::Conflict {
                key,
                expected,
                actual,
            } => Refusal::Conflict {
                key: key.clone(),
                expected: *expected,
                actual: *actual,
            },
            StorageError::DuplicateIdempotencyKey(record) => Refusal::Duplicate(record.clone()),
            StorageError::Invalid(_) => Refusal::Invalid,
            StorageError::NotFound(_) => Refusal::NotFound,
            StorageError::EditionExists(key) => Refusal::EditionExists(key.clone()),
            StorageError::Backend(_) | StorageError::Closed => return None,
        })
    }
}

/// A parked record as the model knows it (the store picks the time).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parked {
    id: u64,
    subscriber: String,
    position: u64,
    error: String,
    attempts: u32,
}

/// What the store should hold: the log by position (deleted events leave `None`), each
/// history's own events as positions, and the rest in maps.
#[derive(Debug, Default, Clone)]
pub struct Model {
    log: Vec<Option<StoredEvent>>,
    own: BTreeMap<HistoryKey, Vec<u64>>,
    editions: BTreeMap<HistoryKey, Edition>,
    snapshots: BTreeMap<HistoryKey, Snapshot>,
    idempotency: BTreeMap<String, IdempotencyRecord>,
    checkpoints: BTreeMap<String, u64>,
    parked: Vec<Parked>,
    /// The highest parked id handed out so far: ids are never handed out twice.
    last_parked_id: u64,
}

impl Model {
    fn event(&self, position: u64) -> Option<&StoredEvent> {
        self.log.get(position as usize - 1)?.as_ref()
    }

    /// The history's own events (not those it shares with main).
    fn own_events(&self, key: &HistoryKey) -> Vec<StoredEvent> {
        let positions = self.own.get(key).map(Vec::as_slice).unwrap_or_default();
        positions
            .iter()
            .filter_map(|&p| self.event(p).cloned())
            .collect()
    }

    /// Every event of a history in sequence order: main's up to an edition's divergence,
    /// then its own.
    fn events(&self, key: &HistoryKey) -> Vec<StoredEvent> {
        let mut events = match self.editions.get(key) {
            Some(edition) => self
                .own_events(&key.with_edition(""))
                .into_iter()
                .take_while(|e| e.sequence <= edition.divergence)
                .collect(),
            None => Vec::new(),
        };
        events.extend(self.own_events(key));
        events
    }

    fn next_sequence(&self, key: &HistoryKey) -> u32 {
        if let Some(last) = self.own_events(key).last() {
            return last.sequence + 1;
        }
        self.editions.get(key).map_or(0, |e| e.divergence + 1)
    }

    fn head(&self) -> u64 {
        self.log
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |index| index as u64 + 1)
    }

    fn live(&self) -> impl Iterator<Item = &StoredEvent> {
        self.log.iter().flatten()
    }

    fn load(&self, key: &HistoryKey, use_snapshot: bool) -> LoadedHistory {
        let snapshot = if use_snapshot {
            self.snapshots.get(key).cloned().or_else(|| {
                let divergence = self.editions.get(key)?.divergence;
                let main = self.snapshots.get(&key.with_edition(""))?;
                (main.sequence <= divergence).then(|| main.clone())
            })
        } else {
            None
        };
        let events = self
            .events(key)
            .into_iter()
            .filter(|e| snapshot.as_ref().is_none_or(|s| e.sequence > s.sequence))
            .collect();
        LoadedHistory {
            snapshot,
            events,
            next_sequence: self.next_sequence(key),
        }
    }

    fn keep_snapshot(&mut self, key: &HistoryKey, snapshot: Snapshot) {
        let older = self
            .snapshots
            .get(key)
            .is_some_and(|stored| stored.sequence > snapshot.sequence);
        if !older {
            self.snapshots.insert(key.clone(), snapshot);
        }
    }

    fn move_checkpoint(&mut self, subscriber: &str, position: u64) {
        let stored = self.checkpoints.entry(subscriber.to_string()).or_default();
        *stored = (*stored).max(position);
    }

    /// Applies an append the model's way; committed events get a zero time (the store's is
    /// adopted afterwards).
    fn append(&mut self, request: &AppendRequest) -> Result<Vec<StoredEvent>, Refusal> {
        let count = request.events.len() as u32;
        let after = request.expected_next + count;
        let record_fits = |r: &IdempotencyRecord| {
            !r.key.is_empty()
                && r.history == request.key
                && r.first_sequence == request.expected_next
                && r.event_count == count
        };
        if request.key.domain.is_empty()
            || request
                .snapshot
                .as_ref()
                .is_some_and(|s| s.sequence >= after)
            || request
                .idempotency
                .as_ref()
                .is_some_and(|r| !record_fits(r))
            || request
                .checkpoint
                .as_ref()
                .is_some_and(|c| c.subscriber.is_empty())
        {
            return Err(Refusal::Invalid);
        }
        if let Some(stored) = request
            .idempotency
            .as_ref()
            .and_then(|r| self.idempotency.get(&r.key))
        {
            return Err(Refusal::Duplicate(Box::new(stored.clone())));
        }
        let actual = self.next_sequence(&request.key);
        if actual != request.expected_next {
            return Err(Refusal::Conflict {
                key: request.key.clone(),
                expected: request.expected_next,
                actual,
            });
        }
        let mut committed = Vec::new();
        for (sequence, new) in (request.expected_next..).zip(&request.events) {
            let event = StoredEvent {
                key: request.key.clone(),
                sequence,
                position: self.log.len() as u64 + 1,
                created_at: Timestamp::default(),
                event: new.event.clone(),
                correlation_id: request.correlation_id.clone(),
                causation: new.causation.clone(),
            };
            self.own
                .entry(request.key.clone())
                .or_default()
                .push(event.position);
            self.log.push(Some(event.clone()));
            committed.push(event);
        }
        if let Some(snapshot) = &request.snapshot {
            self.keep_snapshot(&request.key, snapshot.clone());
        }
        if let Some(record) = &request.idempotency {
            self.idempotency.insert(record.key.clone(), record.clone());
        }
        if let Some(checkpoint) = &request.checkpoint {
            self.move_checkpoint(&checkpoint.subscriber, checkpoint.position);
        }
        Ok(committed)
    }

    /// Takes over the times the store gave committed events.
    fn adopt_times(&mut self, committed: &[StoredEvent]) {
        for event in committed {
            if let Some(Some(ours)) = self.log.get_mut(event.position as usize - 1) {
                ours.created_at = event.created_at;
            }
        }
    }

    fn put_snapshot(&mut self, key: &HistoryKey, snapshot: Snapshot) -> Result<(), Refusal> {
        if snapshot.sequence >= self.next_sequence(key) {
            return Err(Refusal::Invalid);
        }
        self.keep_snapshot(key, snapshot);
        Ok(())
    }

    fn create_edition(&mut self, key: &HistoryKey, divergence: u32) -> Result<u32, Refusal> {
        let name_ok = !key.edition.is_empty()
            && key.edition.len() <= super::MAX_EDITION_NAME
            && key
                .edition
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(Refusal::Invalid);
        }
        let main_next = self.next_sequence(&key.with_edition(""));
        if main_next == 0 {
            return Err(Refusal::NotFound);
        }
        if divergence >= main_next {
            return Err(Refusal::Invalid);
        }
        if self.editions.contains_key(key) || !self.own_events(key).is_empty() {
            return Err(Refusal::EditionExists(key.clone()));
        }
        Ok(divergence)
    }

    fn delete_edition(&mut self, key: &HistoryKey) -> Option<u64> {
        self.editions.remove(key)?;
        let mut removed = 0;
        for position in self.own.remove(key).unwrap_or_default() {
            removed += u64::from(self.log[position as usize - 1].take().is_some());
        }
        self.snapshots.remove(key);
        self.idempotency.retain(|_, record| record.history != *key);
        Some(removed)
    }

    fn roots(&self, domain: &str) -> Vec<Uuid> {
        let roots: BTreeSet<[u8; 16]> = self
            .live()
            .filter(|e| e.key.domain == domain && e.key.is_main())
            .map(|e| *e.key.root.as_bytes())
            .collect();
        roots.into_iter().map(Uuid::from_bytes).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Running a sequence
// ---------------------------------------------------------------------------------------------

type Checked = Result<(), TestCaseError>;

/// Applies `ops` to a store opened by `factory` and to the model, comparing after each.
pub async fn run(factory: &impl StoreFactory, ops: &[Op]) -> Checked {
    let mut store = factory.open().await;
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        if let Op::Reopen = op {
            drop(store);
            store = factory.open().await;
        } else {
            apply(&*store, &mut model, step, op)
                .await
                .map_err(|e| at_step(e, step, op))?;
        }
        compare(&*store, &model)
            .await
            .map_err(|e| at_step(e, step, op))?;
    }
    Ok(())
}

fn at_step(err: TestCaseError, step: usize, op: &Op) -> TestCaseError {
    TestCaseError::fail(format!("after step {step} ({op:?}): {err}"))
}

/// A storage call that must not fail for reasons the model does not know (I/O, closed).
fn read<T>(result: StorageResult<T>, what: &str) -> Result<T, TestCaseError> {
    result.map_err(|err| TestCaseError::fail(format!("{what} failed: {err}")))
}

/// The store's answer as the model would give it.
fn outcome<T>(result: StorageResult<T>, what: &str) -> Result<Result<T, Refusal>, TestCaseError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => match Refusal::of(&err) {
            Some(refusal) => Ok(Err(refusal)),
            None => Err(TestCaseError::fail(format!("{what} failed: {err}"))),
        },
    }
}

fn untimed(events: &[StoredEvent]) -> Vec<StoredEvent> {
    let mut events = events.to_vec();
    for event in &mut events {
        event.created_at = Timestamp::default();
    }
    events
}

/// A position near the head (never below 0).
fn near_head(model: &Model, offset: i8) -> u64 {
    model.head().saturating_add_signed(offset.into())
}

fn snapshot(sequence: u32, state: bool, step: usize) -> Snapshot {
    Snapshot {
        sequence,
        state: state.then(|| Any {
            type_url: STATE_TYPE.into(),
            value: format!("state-{step}").into_bytes(),
        }),
    }
}

/// The snapshot sequence `at` names for a history whose next sequence is `next`.
fn snapshot_sequence(at: SnapshotAt, next: u32) -> u32 {
    match at {
        SnapshotAt::Back(back) => next.checked_sub(back + 1).unwrap_or(next + back),
        SnapshotAt::Beyond(ahead) => next + ahead,
    }
}

fn new_event(step: usize, index: usize, cause: Cause) -> NewEvent {
    let label = format!("event-{step}-{index}");
    let cause = match cause {
        Cause::Nothing => None,
        Cause::Command => Some(causation::Cause::CommandId(format!("command-of-{label}"))),
        Cause::Event => Some(causation::Cause::Event(EventRef {
            domain: DOMAINS[index % 2].into(),
            root: None,
            edition: String::new(),
            sequence: index as u32,
            position: step as u64,
        })),
    };
    NewEvent {
        event: Any {
            type_url: EVENT_TYPE.into(),
            value: label.into_bytes(),
        },
        causation: cause.map(|cause| Causation { cause: Some(cause) }),
    }
}

fn append_request(model: &Model, step: usize, append: &Append) -> AppendRequest {
    let key = history(append.history);
    let next = model.next_sequence(&key);
    let expected_next = match next.checked_add_signed(append.offset.into()) {
        Some(expected) => expected,
        None => next + append.offset.unsigned_abs() as u32,
    };
    let events: Vec<NewEvent> = (append.events.iter().enumerate())
        .map(|(index, &cause)| new_event(step, index, cause))
        .collect();
    let after = expected_next + events.len() as u32;
    let correlation_id = CORRELATIONS[append.correlation].to_string();
    AppendRequest {
        snapshot: append
            .snapshot
            .map(|(at, state)| snapshot(snapshot_sequence(at, after), state, step)),
        idempotency: append.command.map(|command| IdempotencyRecord {
            key: COMMANDS[command].into(),
            command_hash: format!("hash-{step}").into_bytes(),
            history: key.clone(),
            first_sequence: expected_next,
            event_count: events.len() as u32,
            correlation_id: correlation_id.clone(),
        }),
        checkpoint: append.checkpoint.map(|(subscriber, offset)| Checkpoint {
            subscriber: SUBSCRIBERS[subscriber].into(),
            position: near_head(model, offset),
        }),
        key,
        expected_next,
        correlation_id,
        events,
    }
}

fn malformed_request(model: &Model, step: usize, history: usize, defect: Defect) -> AppendRequest {
    let mut request = append_request(
        model,
        step,
        &Append {
            history,
            offset: 0,
            events: vec![Cause::Nothing],
            correlation: 0,
            snapshot: None,
            command: None,
            checkpoint: None,
        },
    );
    let record = IdempotencyRecord {
        key: COMMANDS[0].into(),
        command_hash: Vec::new(),
        history: request.key.clone(),
        first_sequence: request.expected_next,
        event_count: 1,
        correlation_id: request.correlation_id.clone(),
    };
    match defect {
        Defect::NoDomain => request.key.domain.clear(),
        Defect::RecordMismatch => {
            request.idempotency = Some(IdempotencyRecord {
                event_count: 2,
                ..record
            })
        }
        Defect::SnapshotBeyond => {
            request.snapshot = Some(snapshot(request.expected_next + 1, true, step))
        }
        Defect::EmptyKey => {
            request.idempotency = Some(IdempotencyRecord {
                key: String::new(),
                ..record
            })
        }
        Defect::NamelessCheckpoint => {
            request.checkpoint = Some(Checkpoint {
                subscriber: String::new(),
                position: 1,
            })
        }
    }
    request
}

/// The outcomes must match; committed events are compared without their time, which the
/// model then takes over.
async fn check_append(
    store: &dyn EventStore,
    model: &mut Model,
    request: AppendRequest,
) -> Checked {
    let what = format!("append to {} at {}", request.key, request.expected_next);
    let want = model.append(&request);
    let got = outcome(store.append(request).await, &what)?;
    match (&got, &want) {
        (Ok(committed), Ok(expected)) => {
            prop_assert_eq!(&untimed(committed), expected, "{} committed", what);
            model.adopt_times(committed);
        }
        _ => prop_assert_eq!(got.map(|c| untimed(&c)), want, "{}", what),
    }
    Ok(())
}

fn nth_parked(model: &Model, nth: usize) -> u64 {
    match model.parked.len() {
        0 => model.last_parked_id + 1000,
        len => model.parked[nth % len].id,
    }
}

async fn apply(store: &dyn EventStore, model: &mut Model, step: usize, op: &Op) -> Checked {
    match op {
        Op::Append(append) => {
            let request = append_request(model, step, append);
            check_append(store, model, request).await?;
        }
        Op::Malformed { history, defect } => {
            let request = malformed_request(model, step, *history, *defect);
            check_append(store, model, request).await?;
        }
        Op::PutSnapshot { history, at, state } => {
            let key = self::history(*history);
            let sequence = snapshot_sequence(*at, model.next_sequence(&key));
            let snapshot = snapshot(sequence, *state, step);
            let got = outcome(
                store.put_snapshot(&key, snapshot.clone()).await,
                "put_snapshot",
            )?;
            prop_assert_eq!(got, model.put_snapshot(&key, snapshot));
        }
        Op::PutCheckpoint {
            subscriber,
            position,
        } => {
            let subscriber = SUBSCRIBERS[*subscriber];
            let position = near_head(model, *position);
            let checkpoint = Checkpoint {
                subscriber: subscriber.into(),
                position,
            };
            let got = outcome(store.put_checkpoint(checkpoint).await, "put_checkpoint")?;
            let want = if subscriber.is_empty() {
                Err(Refusal::Invalid)
            } else {
                model.move_checkpoint(subscriber, position);
                Ok(())
            };
            prop_assert_eq!(got, want);
        }
        Op::Park {
            subscriber,
            position,
            attempts,
        } => {
            let request = ParkRequest {
                subscriber: SUBSCRIBERS[*subscriber].into(),
                position: near_head(model, *position),
                error: format!("failure-{step}"),
                attempts: *attempts,
            };
            match outcome(store.park(request.clone()).await, "park")? {
                Ok(id) => {
                    prop_assert!(!request.subscriber.is_empty(), "a nameless park succeeded");
                    prop_assert!(
                        id > model.last_parked_id,
                        "parked id {} was not above every id handed out before ({})",
                        id,
                        model.last_parked_id
                    );
                    model.last_parked_id = id;
                    model.move_checkpoint(&request.subscriber, request.position);
                    model.parked.push(Parked {
                        id,
                        subscriber: request.subscriber,
                        position: request.position,
                        error: request.error,
                        attempts: request.attempts,
                    });
                }
                Err(refusal) => {
                    prop_assert!(request.subscriber.is_empty(), "park refused: {:?}", refusal);
                    prop_assert_eq!(refusal, Refusal::Invalid);
                }
            }
        }
        Op::RemoveParked { nth } => {
            let id = nth_parked(model, *nth);
            let removed = read(store.remove_parked(id).await, "remove_parked")?;
            let known = model.parked.iter().any(|p| p.id == id);
            model.parked.retain(|p| p.id != id);
            prop_assert_eq!(removed, known, "remove_parked({})", id);
        }
        Op::UpdateParked { nth, attempts } => {
            let id = nth_parked(model, *nth);
            let error = format!("again-{step}");
            let updated = read(
                store.update_parked(id, &error, *attempts).await,
                "update_parked",
            )?;
            let record = model.parked.iter_mut().find(|p| p.id == id);
            prop_assert_eq!(updated, record.is_some(), "update_parked({})", id);
            if let Some(record) = record {
                record.error = error;
                record.attempts += attempts;
            }
        }
        Op::CreateEdition {
            history,
            divergence,
        } => {
            let key = self::history(*history);
            let main_next = model.next_sequence(&key.with_edition(""));
            let divergence =
                (main_next.saturating_sub(1)).saturating_add_signed((*divergence).into());
            let got = outcome(
                store.create_edition(&key, divergence).await,
                "create_edition",
            )?;
            match (got, model.create_edition(&key, divergence)) {
                (Ok(edition), Ok(divergence)) => {
                    prop_assert_eq!(&edition.key, &key);
                    prop_assert_eq!(edition.divergence, divergence);
                    model.editions.insert(key, edition);
                }
                (got, want) => prop_assert_eq!(
                    got.map(|e| e.divergence),
                    want,
                    "create_edition({}, {})",
                    key,
                    divergence
                ),
            }
        }
        Op::DeleteEdition { history } => {
            let key = self::history(*history);
            let removed = read(store.delete_edition(&key).await, "delete_edition")?;
            prop_assert_eq!(
                removed,
                model.delete_edition(&key),
                "delete_edition({})",
                key
            );
        }
        Op::ReadHistory { history, from, to } => {
            let key = self::history(*history);
            let got = read(store.read_history(&key, *from, *to).await, "read_history")?;
            let want: Vec<StoredEvent> = model
                .events(&key)
                .into_iter()
                .filter(|e| e.sequence >= *from && to.is_none_or(|to| e.sequence < to))
                .collect();
            prop_assert_eq!(got, want, "read_history({}, {}, {:?})", key, from, to);
        }
        Op::ReadGlobal { after, limit } => {
            let got = read(store.read_global(*after, *limit).await, "read_global")?;
            let want: Vec<StoredEvent> = (model.live())
                .filter(|e| e.position > *after)
                .take(*limit)
                .cloned()
                .collect();
            prop_assert_eq!(got, want, "read_global({}, {})", after, limit);
        }
        Op::ReadCorrelated {
            correlation,
            after,
            limit,
        } => {
            let id = CORRELATIONS[*correlation];
            let got = read(
                store.read_correlated(id, *after, *limit).await,
                "read_correlated",
            )?;
            let want: Vec<StoredEvent> = (model.live())
                .filter(|e| e.correlation_id == id && e.position > *after)
                .take(*limit)
                .cloned()
                .collect();
            prop_assert_eq!(got, want, "read_correlated({}, {}, {})", id, after, limit);
        }
        Op::ListRoots { domain, limit } => {
            let domain = DOMAINS[*domain];
            let mut pages = Vec::new();
            let mut after = None;
            loop {
                let page = read(store.list_roots(domain, after, *limit).await, "list_roots")?;
                prop_assert!(page.len() <= *limit, "a page of {} roots", page.len());
                let Some(&last) = page.last() else { break };
                after = Some(last);
                pages.extend(page);
            }
            prop_assert_eq!(pages, model.roots(domain), "roots of {}", domain);
        }
        Op::LoadWithIdempotency {
            history,
            use_snapshot,
            command,
        } => {
            let key = self::history(*history);
            let command = COMMANDS[*command];
            let options = LoadOptions {
                use_snapshot: *use_snapshot,
            };
            let got = read(
                store.load_with_idempotency(&key, options, command).await,
                "load_with_idempotency",
            )?;
            let want = (
                model.idempotency.get(command).cloned(),
                model.load(&key, *use_snapshot),
            );
            prop_assert_eq!(got, want, "load_with_idempotency({}, {})", key, command);
        }
        Op::Reopen => {}
    }
    Ok(())
}

/// Everything a reader can see must be what the model holds, and the log must keep its
/// shape: positions increasing from 1, gapless unless an edition was deleted.
async fn compare(store: &dyn EventStore, model: &Model) -> Checked {
    let log = read(store.read_global(0, 100_000).await, "read_global")?;
    let want: Vec<StoredEvent> = model.live().cloned().collect();
    prop_assert_eq!(&log, &want, "the global log");
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    prop_assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "positions out of order: {:?}",
        positions
    );
    if model.log.iter().all(Option::is_some) {
        prop_assert!(
            positions.iter().copied().eq(1..=positions.len() as u64),
            "a gap in the log: {:?}",
            positions
        );
    }
    prop_assert_eq!(read(store.head_position().await, "head")?, model.head());

    for key in (0..HISTORIES).map(history) {
        for use_snapshot in [true, false] {
            let loaded = read(store.load(&key, LoadOptions { use_snapshot }).await, "load")?;
            let want = model.load(&key, use_snapshot);
            prop_assert_eq!(loaded, want, "load {} (snapshot: {})", key, use_snapshot);
        }
        let events = read(store.read_history(&key, 0, None).await, "read_history")?;
        prop_assert_eq!(events, model.events(&key), "history of {}", key);
        let snapshot = read(store.get_snapshot(&key).await, "get_snapshot")?;
        prop_assert_eq!(
            snapshot.as_ref(),
            model.snapshots.get(&key),
            "snapshot of {}",
            key
        );
        let edition = read(store.edition(&key).await, "edition")?;
        prop_assert_eq!(
            edition.as_ref(),
            model.editions.get(&key),
            "edition {}",
            key
        );
    }
    let editions = read(store.list_editions(None, None).await, "list_editions")?;
    let want: Vec<&Edition> = model.editions.values().collect();
    prop_assert_eq!(editions.iter().collect::<Vec<_>>(), want, "the editions");

    for command in COMMANDS {
        let record = read(store.idempotency(command).await, "idempotency")?;
        prop_assert_eq!(
            record.as_ref(),
            model.idempotency.get(command),
            "key {:?}",
            command
        );
    }
    for subscriber in SUBSCRIBERS.iter().filter(|s| !s.is_empty()) {
        let position = read(store.checkpoint(subscriber).await, "checkpoint")?;
        let want = model.checkpoints.get(*subscriber).copied().unwrap_or(0);
        prop_assert_eq!(position, want, "checkpoint of {}", subscriber);
    }
    let parked: Vec<Parked> = read(store.list_parked(None).await, "list_parked")?
        .into_iter()
        .map(|r| Parked {
            id: r.id,
            subscriber: r.subscriber,
            position: r.position,
            error: r.error,
            attempts: r.attempts,
        })
        .collect();
    prop_assert_eq!(&parked, &model.parked, "the parked events");
    for domain in DOMAINS {
        let roots = read(store.list_roots(domain, None, 100).await, "list_roots")?;
        prop_assert_eq!(roots, model.roots(domain), "roots of {}", domain);
    }
    for id in CORRELATIONS {
        let events = read(
            store.read_correlated(id, 0, 100_000).await,
            "read_correlated",
        )?;
        let want: Vec<StoredEvent> = model
            .live()
            .filter(|e| e.correlation_id == id)
            .cloned()
            .collect();
        prop_assert_eq!(events, want, "events of {}", id);
    }
    Ok(())
}

/// The in-memory store against the model.
#[cfg(test)]
mod tests {
    use crate::storage::memory::MemoryEventStore;

    crate::event_store_model!(MemoryEventStore::new());
}
