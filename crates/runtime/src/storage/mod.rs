//! The storage API: narrow primitives every event store adapter implements.
//!
//! The store is the log (DESIGN.md §2.1): everything else (bus, subscribers, responses) is
//! derived from what an adapter commits here. Adapters must keep these promises, and the
//! conformance suite ([`conformance`], feature `conformance`) checks each of them:
//!
//! - **Gapless per history.** The events of one `(domain, edition, root)` have sequences
//!   0, 1, 2, ... without gaps or duplicates. [`EventStore::append`] succeeds only when
//!   `expected_next` equals the history's current next sequence; otherwise it fails with
//!   [`StorageError::Conflict`] and writes nothing.
//! - **Atomic.** The events, snapshot, idempotency record and checkpoint of one
//!   [`AppendRequest`] commit together or not at all.
//! - **Global order.** Every committed event gets a global position (starting at 1) in commit
//!   order, and no reader can observe position N+1 before position N.
//! - **Durable.** After `append` returns `Ok`, the data survives a crash of the process (and,
//!   with the durable setting, of the machine).
//! - **Editions share, never copy.** An edition created with [`EventStore::create_edition`]
//!   reads main's events up to its divergence sequence and stores only its own events after
//!   it; nothing an edition does changes main. Deleting an edition removes only its own data,
//!   and the global positions of its events are never handed out again.

use std::fmt;
use std::sync::Arc;

use angzarr_proto::{Causation, Cover, CoverExt, EventBook, EventPage, EventPageExt, Snapshot};
use async_trait::async_trait;
use prost_types::{Any, Timestamp};
use uuid::Uuid;

pub mod memory;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

#[cfg(any(test, feature = "conformance"))]
pub mod faulty;
#[cfg(any(test, feature = "conformance"))]
pub mod model;

/// The address of one history: `(domain, edition, root)`. The main timeline is the empty
/// edition (DESIGN.md §2.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HistoryKey {
    /// The domain, e.g. `customer`.
    pub domain: String,
    /// The edition; empty for the main timeline.
    pub edition: String,
    /// The aggregate root.
    pub root: Uuid,
}

impl HistoryKey {
    /// A history on the main timeline.
    pub fn main(domain: impl Into<String>, root: Uuid) -> Self {
        Self {
            domain: domain.into(),
            edition: String::new(),
            root,
        }
    }

    /// The same aggregate on the edition `edition` (empty: main).
    pub fn with_edition(&self, edition: impl Into<String>) -> Self {
        Self {
            edition: edition.into(),
            ..self.clone()
        }
    }

    /// Whether this is the main timeline.
    pub fn is_main(&self) -> bool {
        self.edition.is_empty()
    }

    /// A cover naming this history, with the given correlation id.
    pub fn cover(&self, correlation_id: &str) -> Cover {
        let mut cover = Cover::for_root(self.domain.clone(), self.root);
        cover.edition = self.edition.clone();
        cover.correlation_id = correlation_id.to_string();
        cover
    }
}

/// Longest edition name.
pub const MAX_EDITION_NAME: usize = 64;

/// Checks an edition name: 1 to [`MAX_EDITION_NAME`] ASCII letters, digits, `-`, `_` or `.`.
/// (`*` is kept free as the "every edition" wildcard of subscriptions.)
pub fn validate_edition_name(name: &str) -> StorageResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_EDITION_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "invalid edition name {name:?}: use 1 to {MAX_EDITION_NAME} ASCII letters, digits, '-', '_' or '.'"
        )))
    }
}

/// A named branch of one aggregate's main history (see [`EventStore::create_edition`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Edition {
    /// The edition's history: the aggregate's domain and root, and the edition's name.
    pub key: HistoryKey,
    /// The last main sequence the edition shares; its own events start at `divergence + 1`.
    pub divergence: u32,
    /// When it was created.
    pub created_at: Timestamp,
}

impl fmt::Display for HistoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.edition.is_empty() {
            write!(f, "{}/{}", self.domain, self.root)
        } else {
            write!(f, "{}@{}/{}", self.domain, self.edition, self.root)
        }
    }
}

/// An event to append; the store assigns sequence, position and time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The domain event.
    pub event: Any,
    /// What caused it.
    pub causation: Option<Causation>,
}

/// An event as committed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The history it belongs to.
    pub key: HistoryKey,
    /// Its sequence within the history (0-based).
    pub sequence: u32,
    /// Its position in the global log (1-based, commit order).
    pub position: u64,
    /// When it was committed.
    pub created_at: Timestamp,
    /// The domain event.
    pub event: Any,
    /// The workflow it belongs to.
    pub correlation_id: String,
    /// What caused it.
    pub causation: Option<Causation>,
}

impl StoredEvent {
    /// The event as a protobuf page.
    pub fn to_page(&self) -> EventPage {
        let mut page = EventPage {
            sequence: None,
            created_at: Some(self.created_at),
            event: Some(self.event.clone()),
            causation: self.causation.clone(),
            position: self.position,
        };
        page.set_sequence_num(self.sequence);
        page
    }
}

/// Builds an [`EventBook`] from events of one history.
pub fn event_book(key: &HistoryKey, correlation_id: &str, events: &[StoredEvent]) -> EventBook {
    EventBook {
        cover: Some(key.cover(correlation_id)),
        snapshot: None,
        pages: events.iter().map(StoredEvent::to_page).collect(),
        snapshot_state: None,
        next_sequence: events.last().map_or(0, |e| e.sequence + 1),
    }
}

/// Remembers which command produced which events, so a retry gets the original answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The command's idempotency key (global).
    pub key: String,
    /// A hash of the command, to refuse reuse of a key for a different command.
    pub command_hash: Vec<u8>,
    /// The history the command ran against.
    pub history: HistoryKey,
    /// Sequence of the first event it produced (the history's next sequence if it produced none).
    pub first_sequence: u32,
    /// How many events it produced.
    pub event_count: u32,
    /// Correlation id of the command.
    pub correlation_id: String,
}

/// A subscriber's durable position in the global log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The subscriber (component name).
    pub subscriber: String,
    /// The last global position it has fully handled.
    pub position: u64,
}

/// One atomic step: events, and optionally the snapshot, idempotency record and checkpoint
/// that belong with them.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// The history to append to.
    pub key: HistoryKey,
    /// The sequence the first event gets; must equal the history's next sequence.
    pub expected_next: u32,
    /// Correlation id stamped on every event.
    pub correlation_id: String,
    /// The events (may be empty when only the idempotency record or checkpoint is written).
    pub events: Vec<NewEvent>,
    /// A snapshot to store with the events. Its sequence must lie within the history as it
    /// will be after this append.
    pub snapshot: Option<Snapshot>,
    /// The idempotency record of the command that produced the events.
    pub idempotency: Option<IdempotencyRecord>,
    /// A checkpoint to move in the same transaction.
    pub checkpoint: Option<Checkpoint>,
}

impl AppendRequest {
    /// The checks every adapter makes before touching storage; a request that fails them is
    /// [`StorageError::Invalid`] and writes nothing. Returns the history's next sequence as it
    /// will be after this append.
    pub fn validate(&self) -> StorageResult<u32> {
        let invalid = |message: String| Err(StorageError::Invalid(message));
        if self.key.domain.is_empty() {
            return invalid("the history has no domain".into());
        }
        let next = u32::try_from(self.events.len())
            .ok()
            .and_then(|count| self.expected_next.checked_add(count));
        let Some(next) = next else {
            return invalid(format!(
                "{} events after sequence {} overflow the sequence range of {}",
                self.events.len(),
                self.expected_next,
                self.key
            ));
        };
        if let Some(snapshot) = &self.snapshot
            && snapshot.sequence >= next
        {
            return invalid(format!(
                "snapshot at sequence {} lies beyond {}, whose next sequence will be {next}",
                snapshot.sequence, self.key
            ));
        }
        if let Some(record) = &self.idempotency {
            let count = u32::try_from(self.events.len()).unwrap_or(u32::MAX);
            if record.key.is_empty() {
                return invalid("the idempotency key is empty".into());
            }
            if record.history != self.key
                || record.first_sequence != self.expected_next
                || record.event_count != count
            {
                return invalid(format!(
                    "idempotency record {:?} names {} events from {} of {}, but the request appends {count} from {} of {}",
                    record.key,
                    record.event_count,
                    record.first_sequence,
                    record.history,
                    self.expected_next,
                    self.key
                ));
            }
        }
        if let Some(checkpoint) = &self.checkpoint
            && checkpoint.subscriber.is_empty()
        {
            return invalid("the checkpoint has no subscriber".into());
        }
        Ok(next)
    }
}

/// Parks an event a subscriber keeps failing on (see [`EventStore::park`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkRequest {
    /// The subscriber that gave up.
    pub subscriber: String,
    /// The event's global position.
    pub position: u64,
    /// The last error.
    pub error: String,
    /// How often delivery was tried.
    pub attempts: u32,
}

/// A parked event: a dead-letter record kept until it is re-driven.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedRecord {
    /// Assigned by the store, increasing.
    pub id: u64,
    /// The subscriber that gave up.
    pub subscriber: String,
    /// The event's global position (the event itself stays in the log).
    pub position: u64,
    /// The last error.
    pub error: String,
    /// How often delivery was tried.
    pub attempts: u32,
    /// When it was parked (or last failed a re-drive).
    pub parked_at: Timestamp,
}

/// What [`EventStore::load`] returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadedHistory {
    /// The latest snapshot, if one was used.
    pub snapshot: Option<Snapshot>,
    /// The events after the snapshot (all events without one), in sequence order.
    pub events: Vec<StoredEvent>,
    /// The sequence the next event will get (0 for a new history).
    pub next_sequence: u32,
}

/// Errors of the storage API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// `expected_next` was stale. Re-read the history and decide again; nothing was written.
    #[error("sequence conflict on {key}: expected next sequence {expected}, but it is {actual}")]
    Conflict {
        /// The history.
        key: HistoryKey,
        /// What the caller expected.
        expected: u32,
        /// The actual next sequence.
        actual: u32,
    },
    /// The idempotency key is already recorded; nothing was written. The existing record
    /// says which events the first command produced.
    #[error("idempotency key {key:?} was already used", key = .0.key)]
    DuplicateIdempotencyKey(Box<IdempotencyRecord>),
    /// The request itself is malformed (e.g. a snapshot beyond the history). Nothing written.
    #[error("invalid storage request: {0}")]
    Invalid(String),
    /// What the request refers to does not exist (e.g. an edition of an aggregate without
    /// events). Nothing written.
    #[error("{0}")]
    NotFound(String),
    /// An edition of that name already exists for the aggregate. Nothing written; pick
    /// another name or delete the existing edition first.
    #[error("edition {:?} of {}/{} already exists", .0.edition, .0.domain, .0.root)]
    EditionExists(HistoryKey),
    /// The backend failed (I/O, corruption, disk full). Nothing was half-written.
    #[error("storage failure: {0}")]
    Backend(Arc<dyn std::error::Error + Send + Sync>),
    /// The store was closed.
    #[error("the event store is closed")]
    Closed,
}

impl StorageError {
    /// Wraps a backend error.
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StorageError::Backend(Arc::new(err))
    }
}

/// Result alias of the storage API.
pub type StorageResult<T> = Result<T, StorageError>;

/// Options of [`EventStore::load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Start from the latest snapshot when there is one.
    pub use_snapshot: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { use_snapshot: true }
    }
}

/// The event store: the log and everything that must commit with it.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// The latest snapshot (when asked for) and the events after it.
    async fn load(&self, key: &HistoryKey, options: LoadOptions) -> StorageResult<LoadedHistory>;

    /// Events of one history with `from <= sequence < to` (`to = None`: to the end), in order.
    async fn read_history(
        &self,
        key: &HistoryKey,
        from: u32,
        to: Option<u32>,
    ) -> StorageResult<Vec<StoredEvent>>;

    /// Appends atomically (see [`AppendRequest`]) and returns the committed events.
    async fn append(&self, request: AppendRequest) -> StorageResult<Vec<StoredEvent>>;

    /// Stores a snapshot outside of an append. Keeps only the newest snapshot per history; an
    /// older one than what is stored is ignored.
    async fn put_snapshot(&self, key: &HistoryKey, snapshot: Snapshot) -> StorageResult<()>;

    /// The newest snapshot of a history.
    async fn get_snapshot(&self, key: &HistoryKey) -> StorageResult<Option<Snapshot>>;

    /// Up to `limit` events with position `> after`, in position order.
    async fn read_global(&self, after: u64, limit: usize) -> StorageResult<Vec<StoredEvent>>;

    /// The highest position of a committed event still in the log (0 when there is none).
    async fn head_position(&self) -> StorageResult<u64>;

    /// The record stored for an idempotency key.
    async fn idempotency(&self, key: &str) -> StorageResult<Option<IdempotencyRecord>>;

    /// [`idempotency`](Self::idempotency) of `idempotency_key` and [`load`](Self::load) of
    /// `key` together: what a command with a key needs before it runs. A store that can read
    /// both at once (one thread hand-off, one read transaction) should.
    async fn load_with_idempotency(
        &self,
        key: &HistoryKey,
        options: LoadOptions,
        idempotency_key: &str,
    ) -> StorageResult<(Option<IdempotencyRecord>, LoadedHistory)> {
        let record = self.idempotency(idempotency_key).await?;
        Ok((record, self.load(key, options).await?))
    }

    /// A subscriber's checkpoint (0 when it has none).
    async fn checkpoint(&self, subscriber: &str) -> StorageResult<u64>;

    /// Moves a subscriber's checkpoint (never backwards: a lower position is ignored).
    async fn put_checkpoint(&self, checkpoint: Checkpoint) -> StorageResult<()>;

    /// Roots of `domain` (main timeline) that have events, in ascending UUID byte order,
    /// starting after `after`; at most `limit` (page through with the last one returned).
    async fn list_roots(
        &self,
        domain: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StorageResult<Vec<Uuid>>;

    /// Records a parked event and moves the subscriber's checkpoint to its position (never
    /// backwards), in one atomic step, so the subscriber goes on without losing the event.
    /// Returns the record's id.
    async fn park(&self, request: ParkRequest) -> StorageResult<u64>;

    /// Parked events, oldest first; only `subscriber`'s when given.
    async fn list_parked(&self, subscriber: Option<&str>) -> StorageResult<Vec<ParkedRecord>>;

    /// Records another failed attempt of a parked event (a re-drive that failed again):
    /// replaces its error, adds `attempts`, and refreshes `parked_at`. `false` when no such record.
    async fn update_parked(&self, id: u64, error: &str, attempts: u32) -> StorageResult<bool>;

    /// Removes a parked event (it was re-driven). `false` when no such record.
    async fn remove_parked(&self, id: u64) -> StorageResult<bool>;

    /// Creates the edition `key.edition` of the aggregate `(key.domain, key.root)`, sharing
    /// main's events `0..=divergence`. Fails, writing nothing, with
    /// [`StorageError::Invalid`] for a bad name or a divergence beyond main's last event,
    /// [`StorageError::NotFound`] when main has no events for the aggregate, and
    /// [`StorageError::EditionExists`] when the edition exists (or already has events).
    ///
    /// From then on `load`, `read_history`, `append` and `put_snapshot` on `key` see main's
    /// events up to the divergence followed by the edition's own; `load` starts from the
    /// edition's own snapshot, or from main's when that lies at or before the divergence. A
    /// history under an edition name that was never created shares nothing with main.
    async fn create_edition(&self, key: &HistoryKey, divergence: u32) -> StorageResult<Edition>;

    /// The edition `key` names, if it was created.
    async fn edition(&self, key: &HistoryKey) -> StorageResult<Option<Edition>>;

    /// Created editions, of `domain` and `root` when given, ordered by domain, root bytes
    /// and name.
    async fn list_editions(
        &self,
        domain: Option<&str>,
        root: Option<Uuid>,
    ) -> StorageResult<Vec<Edition>>;

    /// Deletes an edition: its record, its own events, snapshot and idempotency records, in
    /// one atomic step. Main is untouched, and the global positions of the removed events
    /// are never assigned again (readers of the log simply no longer see them). Returns how
    /// many events were removed, or `None` when there is no such edition.
    async fn delete_edition(&self, key: &HistoryKey) -> StorageResult<Option<u64>>;

    /// Up to `limit` events with this correlation id and a position `> after`, in position
    /// order, from every domain and edition.
    async fn read_correlated(
        &self,
        correlation_id: &str,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<StoredEvent>>;
}
