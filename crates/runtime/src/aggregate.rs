//! The aggregate pipeline: load, decide, append, publish, answer.
//!
//! One [`AggregateCoordinator`] serves one domain. For each command it
//! 1. validates the request (nothing is touched for a malformed one),
//! 2. takes the aggregate's lock (one command per aggregate at a time, DESIGN.md §2.4),
//! 3. answers a repeated idempotency key with the original response, without running the
//!    business logic again,
//! 4. takes snapshot + later events from the hot-history cache ([`HistoryCache`]) or loads
//!    them (in the same store read as step 3), and calls the business logic,
//! 5. appends the returned events with the expected sequence, together with the idempotency
//!    record and (per policy) a snapshot, in one atomic step (a duplicate key that got in
//!    meanwhile is refused there and answered as in step 3),
//! 6. publishes the committed events (in global order, see [`crate::publisher`]) and answers
//!    with them.
//!
//! A business rejection is returned at once and never retried. A sequence conflict (another
//! writer got in between) re-runs the business logic on fresh state, unless the client named
//! an expected sequence, in which case it gets `ABORTED` with the current one (§2.5).

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use angzarr_proto::{
    Causation, CommandBook, CommandResponse, ContextualCommand, EventBook, EventPageExt, Snapshot,
    causation,
};
use prost::Message;
use sha2::{Digest, Sha256};
use tracing::field::Empty;
use tracing::{Instrument, debug, debug_span, error, info_span, warn};
use uuid::Uuid;

pub use cache::HistoryCache;

use crate::error::{Error, Result};
use crate::logic::AggregateLogic;
use crate::metrics::{CommandMetrics, Outcome, Telemetry};
use crate::publisher::OrderedPublisher;
use crate::storage::{
    AppendRequest, EventStore, HistoryKey, IdempotencyRecord, LoadOptions, LoadedHistory, NewEvent,
    StorageError, StoredEvent, event_book,
};

/// Namespace of generated correlation ids (UUIDv5 of the command's bytes).
const CORRELATION_NAMESPACE: Uuid = Uuid::from_u128(0x6a2b_7c1e_5f0d_4c3a_9e8b_1d2f_3a4b_5c6d);

/// Tunables of the aggregate pipeline.
#[derive(Debug, Clone)]
pub struct AggregateOptions {
    /// Store a snapshot whenever a history crosses a multiple of this many events (0 = never).
    /// Only used when the business logic returns `snapshot_state`.
    pub snapshot_every: u32,
    /// How often a command without an explicit expected sequence is re-run after a sequence
    /// conflict before giving up with `ABORTED`.
    pub max_conflict_retries: u32,
    /// Most events one command may produce.
    pub max_events_per_command: usize,
    /// Bytes of hot histories kept in memory (see [`HistoryCache`]; 0 turns it off). Used
    /// when the coordinator does not share a cache given by
    /// [`AggregateCoordinator::with_history_cache`].
    pub history_cache_bytes: usize,
}

impl Default for AggregateOptions {
    fn default() -> Self {
        Self {
            snapshot_every: 100,
            max_conflict_retries: 8,
            max_events_per_command: 10_000,
            history_cache_bytes: 16 << 20,
        }
    }
}

/// Serves the commands of one domain.
pub struct AggregateCoordinator {
    domain: String,
    store: Arc<dyn EventStore>,
    publisher: Arc<OrderedPublisher>,
    logic: Arc<dyn AggregateLogic>,
    options: AggregateOptions,
    locks: AggregateLocks,
    histories: Arc<HistoryCache>,
    metrics: CommandMetrics,
}

impl std::fmt::Debug for AggregateCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateCoordinator")
            .field("domain", &self.domain)
            .field("component", &self.logic.component())
            .finish_non_exhaustive()
    }
}

/// What a command starts from.
struct Prepared {
    history: LoadedHistory,
    /// Whether `history` came from the cache (and may be stale).
    cached: bool,
    /// The record of the command's idempotency key, when it was already executed.
    done: Option<IdempotencyRecord>,
}

/// A validated command.
struct Command {
    key: HistoryKey,
    correlation_id: String,
    command_id: String,
    expected: Option<u32>,
    idempotency: Option<(String, Vec<u8>)>,
    book: CommandBook,
    /// What caused it, for spans: `command:<id>` or `event:<domain>/<root>#<sequence>`.
    causation: String,
}

impl AggregateCoordinator {
    /// A coordinator for `domain` backed by `logic`.
    pub fn new(
        domain: impl Into<String>,
        store: Arc<dyn EventStore>,
        publisher: Arc<OrderedPublisher>,
        logic: Arc<dyn AggregateLogic>,
        options: AggregateOptions,
    ) -> Self {
        let domain = domain.into();
        Self {
            metrics: Telemetry::default().metrics.command(&domain),
            domain,
            store,
            publisher,
            logic,
            histories: Arc::new(HistoryCache::new(options.history_cache_bytes)),
            options,
            locks: AggregateLocks::default(),
        }
    }

    /// This coordinator keeping its hot histories in `cache` (one budget for several domains).
    pub fn with_history_cache(mut self, cache: Arc<HistoryCache>) -> Self {
        self.histories = cache;
        self
    }

    /// This coordinator counting into `telemetry`'s metrics.
    pub fn with_telemetry(mut self, telemetry: &Telemetry) -> Self {
        self.metrics = telemetry.metrics.command(&self.domain);
        self
    }

    /// The correlation id a command runs under: the one it carries, or else a UUIDv5 of its
    /// bytes (so a retry of the same command gets the same id).
    pub fn correlation_id_for(book: &CommandBook) -> String {
        match book.cover.as_ref().map(|c| c.correlation_id.as_str()) {
            Some(given) if !given.is_empty() => given.to_string(),
            _ => Uuid::new_v5(&CORRELATION_NAMESPACE, &book.encode_to_vec()).to_string(),
        }
    }

    /// The domain served.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Executes a command (see the module docs).
    ///
    /// Runs in a `command` span carrying the domain, root, correlation id, causation and (once
    /// stored) the first sequence, so every log line about the command names its correlation
    /// id; the outcome is counted in the runtime's metrics and logged here, once.
    pub async fn handle(&self, book: CommandBook) -> Result<CommandResponse> {
        let started = Instant::now();
        let command = match self.validate(book) {
            Ok(command) => command,
            Err(err) => {
                self.metrics.finished(Outcome::Invalid, started.elapsed());
                debug!(domain = %self.domain, %err, "command refused");
                return Err(err);
            }
        };
        let span = info_span!(
            "command",
            domain = %command.key.domain,
            root = %command.key.root,
            correlation_id = %command.correlation_id,
            causation = %command.causation,
            sequence = Empty,
            outcome = Empty,
            otel.status_code = Empty,
        );
        let result = self.execute(command).instrument(span.clone()).await;
        let outcome = Outcome::of(&result);
        self.metrics.finished(outcome, started.elapsed());
        span.record("outcome", outcome.as_str());
        let _entered = span.enter();
        match &result {
            Ok(response) => {
                if let Some(first) = response
                    .events
                    .as_ref()
                    .and_then(|book| book.pages.first())
                    .and_then(EventPageExt::sequence_num)
                {
                    span.record("sequence", first);
                }
            }
            Err(err) => {
                if matches!(outcome, Outcome::Error | Outcome::Unavailable) {
                    span.record("otel.status_code", "ERROR");
                }
                match outcome {
                    Outcome::Error => error!(%err, "command failed"),
                    Outcome::Unavailable => warn!(%err, "command failed"),
                    _ => debug!(%err, "command refused"),
                }
            }
        }
        result
    }

    async fn execute(&self, command: Command) -> Result<CommandResponse> {
        let lock = self.locks.lock(&command.key);
        let _guard = lock.lock().await;
        // Under the lock: an edition cannot be deleted between this check and the append.
        editions::check_exists(&*self.store, &command.key).await?;
        let mut attempt = 0;
        loop {
            match self.attempt(&command, attempt == 0).await {
                Err(Error::Storage(StorageError::Conflict {
                    expected, actual, ..
                })) => {
                    if command.expected.is_some() || attempt >= self.options.max_conflict_retries {
                        return Err(Error::Conflict {
                            key: command.key.clone(),
                            expected: command.expected.unwrap_or(expected),
                            actual,
                        });
                    }
                    attempt += 1;
                    debug!(
                        attempt,
                        "sequence conflict with another writer; re-running on fresh state"
                    );
                }
                Err(Error::Storage(StorageError::DuplicateIdempotencyKey(record))) => {
                    let hash = command.idempotency.as_ref().map(|(_, h)| h.as_slice());
                    return self.replay(&record, hash.unwrap_or_default()).await;
                }
                other => return other,
            }
        }
    }

    /// The history of `key`, from the cache or the store (`cached` says which), and the record
    /// of `idempotency_key` when the command was already executed. The caller holds the
    /// aggregate's lock and puts the history back ([`HistoryCache::put`]) once it knows what
    /// the history has become.
    async fn history(
        &self,
        key: &HistoryKey,
        idempotency_key: Option<&str>,
        correlation_id: &str,
    ) -> Result<Prepared> {
        let span = debug_span!("store.load", correlation_id);
        let options = LoadOptions::default();
        Ok(match (self.histories.take(key), idempotency_key) {
            (Some(history), None) => Prepared {
                history,
                cached: true,
                done: None,
            },
            (Some(history), Some(idempotency_key)) => Prepared {
                done: self
                    .store
                    .idempotency(idempotency_key)
                    .instrument(span)
                    .await?,
                history,
                cached: true,
            },
            (None, None) => Prepared {
                history: self.store.load(key, options).instrument(span).await?,
                cached: false,
                done: None,
            },
            (None, Some(idempotency_key)) => {
                let (done, history) = self
                    .store
                    .load_with_idempotency(key, options, idempotency_key)
                    .instrument(span)
                    .await?;
                Prepared {
                    history,
                    cached: false,
                    done,
                }
            }
        })
    }

    /// One load-decide-append round; the first one also checks the idempotency key (later
    /// ones learn of a duplicate from the append).
    async fn attempt(&self, command: &Command, first: bool) -> Result<CommandResponse> {
        let correlation_id = command.correlation_id.as_str();
        let key = &command.key;
        let idempotency_key = command
            .idempotency
            .as_ref()
            .filter(|_| first)
            .map(|(idempotency_key, _)| idempotency_key.as_str());
        let Prepared {
            mut history,
            cached,
            done,
        } = self.history(key, idempotency_key, correlation_id).await?;
        if let (Some(record), Some((_, hash))) = (done, &command.idempotency) {
            self.histories.put(key, history);
            return self.replay(&record, hash).await;
        }
        if let Some(expected) = command.expected
            && expected != history.next_sequence
        {
            if cached {
                // A refusal is not based on what might be stale: ask the store.
                history = self.history(key, None, correlation_id).await?.history;
            }
            if expected != history.next_sequence {
                let actual = history.next_sequence;
                self.histories.put(key, history);
                return Err(Error::Conflict {
                    key: key.clone(),
                    expected,
                    actual,
                });
            }
        }
        let decided = self
            .logic
            .handle(contextual(command, &history))
            .instrument(debug_span!(
                "logic.handle",
                component = self.logic.component(),
                correlation_id
            ))
            .await
            .and_then(|output| Ok((self.new_events(command, &output)?, output)));
        let (events, output) = match decided {
            Ok(decided) => decided,
            Err(err) => {
                // Nothing was written: the history is still what it was.
                self.histories.put(key, history);
                return Err(err);
            }
        };
        let snapshot = self.snapshot_for(history.next_sequence, events.len(), output);
        let idempotency =
            command
                .idempotency
                .as_ref()
                .map(|(idempotency_key, hash)| IdempotencyRecord {
                    key: idempotency_key.clone(),
                    command_hash: hash.clone(),
                    history: key.clone(),
                    first_sequence: history.next_sequence,
                    event_count: u32::try_from(events.len()).unwrap_or(u32::MAX),
                    correlation_id: command.correlation_id.clone(),
                });
        let append_span = debug_span!(
            "store.append",
            correlation_id,
            domain = %key.domain,
            root = %key.root,
            sequence = history.next_sequence,
            events = events.len(),
        );
        let next_before = history.next_sequence;
        // On any failure the cached history is dropped: a conflict says it is stale, and
        // after another error the store's state is not known here.
        let committed = self
            .store
            .append(AppendRequest {
                key: key.clone(),
                expected_next: next_before,
                correlation_id: command.correlation_id.clone(),
                events,
                snapshot: snapshot.clone(),
                idempotency,
                checkpoint: None,
            })
            .instrument(append_span)
            .await?;
        self.metrics.appended(committed.len());
        self.histories
            .put(key, cache::advanced(history, &committed, snapshot));
        Ok(self
            .publish_and_answer(key, &command.correlation_id, next_before, committed)
            .await)
    }

    fn new_events(&self, command: &Command, output: &EventBook) -> Result<Vec<NewEvent>> {
        if output.pages.len() > self.options.max_events_per_command {
            return Err(self.fault(format!(
                "{} events for one command; the limit is {} (aggregate.max_events_per_command)",
                output.pages.len(),
                self.options.max_events_per_command
            )));
        }
        let causation = Causation {
            cause: Some(causation::Cause::CommandId(command.command_id.clone())),
        };
        output
            .pages
            .iter()
            .enumerate()
            .map(|(index, page)| match &page.event {
                _ if matches!(
                    page.sequence,
                    Some(angzarr_proto::event_page::Sequence::Force(_))
                ) =>
                {
                    Err(self.fault(format!(
                        "event {index} asks for a force-write (EventPage.force), which Angzarr does not support"
                    )))
                }
                Some(event) if !event.type_url.is_empty() => Ok(NewEvent {
                    event: event.clone(),
                    causation: Some(causation.clone()),
                }),
                _ => Err(self.fault(format!("event {index} has no type"))),
            })
            .collect()
    }

    /// A snapshot when the new events cross a multiple of `snapshot_every`.
    fn snapshot_for(&self, next: u32, count: usize, output: EventBook) -> Option<Snapshot> {
        let every = self.options.snapshot_every;
        let state = output.snapshot_state?;
        let count = u32::try_from(count).ok().filter(|c| *c > 0)?;
        let head = next.checked_add(count)?;
        (every > 0 && head / every > next / every).then(|| Snapshot {
            sequence: head - 1,
            state: Some(state),
        })
    }

    async fn publish_and_answer(
        &self,
        key: &HistoryKey,
        correlation_id: &str,
        next_before: u32,
        committed: Vec<StoredEvent>,
    ) -> CommandResponse {
        let mut book = event_book(key, correlation_id, &committed);
        if committed.is_empty() {
            book.next_sequence = next_before;
        } else {
            let span = debug_span!(
                "publish",
                correlation_id,
                first_position = committed[0].position,
                events = committed.len(),
            );
            self.publisher.publish(committed).instrument(span).await;
        }
        CommandResponse {
            events: Some(book),
            projections: Vec::new(),
        }
    }

    /// The response of an already executed command.
    async fn replay(&self, record: &IdempotencyRecord, hash: &[u8]) -> Result<CommandResponse> {
        if record.command_hash != hash {
            return Err(Error::AlreadyExists(format!(
                "idempotency key {:?} was already used for a different command; use a new key for a new command",
                record.key
            )));
        }
        let to = record.first_sequence.saturating_add(record.event_count);
        let events = self
            .store
            .read_history(&record.history, record.first_sequence, Some(to))
            .await?;
        debug!(key = %record.key, "idempotent retry answered from the store");
        let mut book = event_book(&record.history, &record.correlation_id, &events);
        book.next_sequence = to;
        Ok(CommandResponse {
            events: Some(book),
            projections: Vec::new(),
        })
    }

    /// Stores events handed in directly (`BusinessCoordinator.Record`).
    pub async fn record(&self, book: EventBook) -> Result<CommandResponse> {
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("the event book has no cover".into()))?;
        let key = self.history_key(cover)?;
        let correlation_id = if cover.correlation_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            cover.correlation_id.clone()
        };
        let expected = recorded_start(&book.pages)?;
        let events = book
            .pages
            .iter()
            .enumerate()
            .map(|(index, page)| match &page.event {
                Some(event) if !event.type_url.is_empty() => Ok(NewEvent {
                    event: event.clone(),
                    causation: page.causation.clone(),
                }),
                _ => Err(Error::InvalidArgument(format!("event {index} has no type"))),
            })
            .collect::<Result<Vec<_>>>()?;
        let lock = self.locks.lock(&key);
        let _guard = lock.lock().await;
        editions::check_exists(&*self.store, &key).await?;
        let Prepared {
            mut history,
            cached,
            ..
        } = self.history(&key, None, &correlation_id).await?;
        if cached && expected.is_some_and(|e| e != history.next_sequence) {
            // A refusal is not based on what might be stale: ask the store.
            history = self.history(&key, None, &correlation_id).await?.history;
        }
        let next = history.next_sequence;
        if let Some(expected) = expected.filter(|e| *e != next) {
            self.histories.put(&key, history);
            return Err(Error::Conflict {
                key,
                expected,
                actual: next,
            });
        }
        let committed = self
            .store
            .append(AppendRequest {
                key: key.clone(),
                expected_next: next,
                correlation_id: correlation_id.clone(),
                events,
                snapshot: None,
                idempotency: None,
                checkpoint: None,
            })
            .await
            .map_err(|err| match err {
                StorageError::Conflict {
                    key,
                    expected,
                    actual,
                } => Error::Conflict {
                    key,
                    expected,
                    actual,
                },
                other => Error::Storage(other),
            })?;
        self.metrics.appended(committed.len());
        self.histories
            .put(&key, cache::advanced(history, &committed, None));
        Ok(self
            .publish_and_answer(&key, &correlation_id, next, committed)
            .await)
    }

    fn history_key(&self, cover: &angzarr_proto::Cover) -> Result<HistoryKey> {
        if cover.domain != self.domain {
            return Err(Error::NotFound(format!(
                "this coordinator serves domain {:?}, not {:?}",
                self.domain, cover.domain
            )));
        }
        if !cover.edition.is_empty() {
            crate::storage::validate_edition_name(&cover.edition)?;
        }
        let root = cover
            .root
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("the cover has no root".into()))?;
        let root = angzarr_proto::UuidExt::to_uuid(root)
            .map_err(|e| Error::InvalidArgument(format!("invalid root: {e}")))?;
        Ok(HistoryKey::main(self.domain.clone(), root).with_edition(cover.edition.clone()))
    }

    fn validate(&self, mut book: CommandBook) -> Result<Command> {
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("the command book has no cover".into()))?;
        let key = self.history_key(cover)?;
        if book.pages.is_empty() {
            return Err(Error::InvalidArgument(
                "the command book has no commands".into(),
            ));
        }
        for (index, page) in book.pages.iter().enumerate() {
            match &page.command {
                Some(command) if !command.type_url.is_empty() => {}
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "command {index} has no type (set CommandPage.command to a packed Any)"
                    )));
                }
            }
        }
        let expected = book.pages.first().and_then(|p| p.sequence);
        let command_hash = Sha256::digest(
            CommandBook {
                cover: Some(key.cover("")),
                pages: book.pages.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
        )
        .to_vec();
        let correlation_id = Self::correlation_id_for(&book);
        if let Some(cover) = book.cover.as_mut() {
            cover.correlation_id = correlation_id.clone();
        }
        let (idempotency, command_id) = if book.idempotency_key.is_empty() {
            (None, Uuid::new_v4().to_string())
        } else {
            let key = book.idempotency_key.clone();
            (Some((key.clone(), command_hash)), key)
        };
        if idempotency.is_none() {
            warn_once_without_key();
        }
        let causation = match book.causation.as_ref().and_then(|c| c.cause.as_ref()) {
            Some(causation::Cause::Event(source)) => format!(
                "event:{}/{}#{}",
                source.domain,
                source
                    .root
                    .as_ref()
                    .and_then(|r| angzarr_proto::UuidExt::to_uuid(r).ok())
                    .unwrap_or_default(),
                source.sequence
            ),
            _ => format!("command:{command_id}"),
        };
        Ok(Command {
            causation,
            key,
            correlation_id,
            command_id,
            expected,
            idempotency,
            book,
        })
    }

    fn fault(&self, message: String) -> Error {
        Error::LogicFault {
            component: self.logic.component().to_string(),
            message,
        }
    }
}

/// What the business logic is given: the history (snapshot, events after it, next sequence)
/// and the command. Real commands and dry runs build it here alike, so a rehearsal and the
/// real thing cannot disagree.
fn contextual(command: &Command, history: &LoadedHistory) -> ContextualCommand {
    let mut prior = event_book(&command.key, &command.correlation_id, &history.events);
    prior.snapshot = history.snapshot.clone();
    prior.next_sequence = history.next_sequence;
    ContextualCommand {
        events: Some(prior),
        command: Some(command.book.clone()),
    }
}

/// The sequence a `Record` expects its first event at, if it says: every page that carries a
/// number must agree on it (page `i` numbered `start + i`). A force-write is refused: the
/// product documents reserve `EventPage.force`, Angzarr never overwrites history.
fn recorded_start(pages: &[angzarr_proto::EventPage]) -> Result<Option<u32>> {
    let mut start: Option<(usize, u32)> = None;
    for (index, page) in pages.iter().enumerate() {
        let number = match page.sequence {
            None => continue,
            Some(angzarr_proto::event_page::Sequence::Force(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "event {index} asks for a force-write (EventPage.force), which Angzarr does not support: history is never overwritten; leave the sequence unset or give the next one"
                )));
            }
            Some(angzarr_proto::event_page::Sequence::Num(number)) => number,
        };
        match start {
            Some((first, start)) if u64::from(number) != u64::from(start) + index as u64 => {
                return Err(Error::InvalidArgument(format!(
                    "event {index} says sequence {number}, but event {first} puts it at {}: the events of one Record are consecutive",
                    u64::from(start) + index as u64
                )));
            }
            Some(_) => {}
            None => match u32::try_from(index)
                .ok()
                .and_then(|index| number.checked_sub(index))
            {
                Some(implied) => start = Some((index, implied)),
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "event {index} says sequence {number}, which puts the first event before the start of the history"
                    )));
                }
            },
        }
    }
    Ok(start.map(|(_, start)| start))
}

fn warn_once_without_key() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        warn!("commands without an idempotency key cannot be retried safely; set CommandBook.idempotency_key");
    });
}

/// One async mutex per aggregate, created on demand and dropped when unused.
#[derive(Default)]
struct AggregateLocks {
    locks: StdMutex<HashMap<HistoryKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl AggregateLocks {
    fn lock(&self, key: &HistoryKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Forget locks nobody holds, so the map stays as small as the set of busy aggregates.
        if locks.len() > 1024 {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(key.clone()).or_default().clone()
    }
}

mod cache;
mod dry_run;
mod editions;

pub use editions::EditionInfo;
#[cfg(test)]
mod tests;
