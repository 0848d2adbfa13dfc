//! Dry runs: a command rehearsed on the state as of a point in history, storing nothing.
//!
//! A dry run takes the steps of a real command up to the decision (validate, load,
//! [`contextual`](super::contextual), the business logic, `new_events`) and stops there, so a
//! rehearsal and the real thing cannot disagree. It cannot write: the history is read through
//! [`ReadOnlyStore`], a view of the store without a single write method, and nothing here
//! reaches the publisher or the router. The only call out is `BusinessLogic.Handle`, which by
//! contract decides without side effects.

use angzarr_proto::{
    CommandResponse, DryRunRequest, EventBook, EventPage, EventPageExt, dry_run_request,
};
use prost_types::Timestamp;

use super::{AggregateCoordinator, Command, contextual, editions};
use crate::error::{Error, Result};
use crate::storage::{EventStore, HistoryKey, LoadOptions, LoadedHistory, NewEvent, StoredEvent};

/// The read half of the event store: all a dry run is given.
#[derive(Clone, Copy)]
pub(crate) struct ReadOnlyStore<'a>(&'a dyn EventStore);

impl<'a> ReadOnlyStore<'a> {
    pub(crate) fn new(store: &'a dyn EventStore) -> Self {
        Self(store)
    }

    async fn load(&self, key: &HistoryKey) -> Result<LoadedHistory> {
        Ok(self.0.load(key, LoadOptions::default()).await?)
    }

    async fn read_history(
        &self,
        key: &HistoryKey,
        from: u32,
        to: Option<u32>,
    ) -> Result<Vec<StoredEvent>> {
        Ok(self.0.read_history(key, from, to).await?)
    }

    /// NOT_FOUND unless `key` is main or a created edition.
    pub(crate) async fn check_edition(&self, key: &HistoryKey) -> Result<()> {
        editions::check_exists(self.0, key).await
    }

    /// The history as the business logic would have seen it at `as_of`: a snapshot only when
    /// it lies at or before that point, and the events after it up to that point.
    async fn history_as_of(&self, key: &HistoryKey, as_of: AsOf) -> Result<LoadedHistory> {
        match as_of {
            AsOf::Now => self.load(key).await,
            AsOf::Sequence(last) => {
                let current = self.load(key).await?;
                if last >= current.next_sequence {
                    return Err(Error::InvalidArgument(format!(
                        "as-of sequence {last} is beyond {key}, {}",
                        match current.next_sequence {
                            0 => "which has no events".to_string(),
                            next => format!("whose last event is {}", next - 1),
                        }
                    )));
                }
                let history = match current.snapshot {
                    Some(snapshot) if snapshot.sequence <= last => LoadedHistory {
                        events: current
                            .events
                            .into_iter()
                            .filter(|e| e.sequence <= last)
                            .collect(),
                        snapshot: Some(snapshot),
                        next_sequence: last + 1,
                    },
                    _ => LoadedHistory {
                        events: self.read_history(key, 0, Some(last + 1)).await?,
                        snapshot: None,
                        next_sequence: last + 1,
                    },
                };
                Ok(history)
            }
            AsOf::Time(at) => {
                let stored = self.read_history(key, 0, None).await?;
                let upto: Vec<StoredEvent> = stored
                    .into_iter()
                    .take_while(|e| not_after(&e.created_at, &at))
                    .collect();
                let Some(last) = upto.last().map(|e| e.sequence) else {
                    return Ok(LoadedHistory::default());
                };
                let snapshot = self
                    .load(key)
                    .await?
                    .snapshot
                    .filter(|s| s.sequence <= last);
                let from = snapshot.as_ref().map_or(0, |s| s.sequence + 1);
                Ok(LoadedHistory {
                    events: upto.into_iter().filter(|e| e.sequence >= from).collect(),
                    snapshot,
                    next_sequence: last + 1,
                })
            }
        }
    }
}

fn not_after(time: &Timestamp, limit: &Timestamp) -> bool {
    (time.seconds, time.nanos) <= (limit.seconds, limit.nanos)
}

/// The point in history a dry run runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AsOf {
    Now,
    /// After the event with this sequence.
    Sequence(u32),
    /// After every event stored at or before this time.
    Time(Timestamp),
}

impl AsOf {
    fn of(as_of: Option<dry_run_request::AsOf>) -> Self {
        match as_of {
            None => AsOf::Now,
            Some(dry_run_request::AsOf::AsOfSequence(n)) => AsOf::Sequence(n),
            Some(dry_run_request::AsOf::AsOfTime(t)) => AsOf::Time(t),
        }
    }
}

impl AggregateCoordinator {
    /// Rehearses a command (see the module docs and `DryRunRequest`): the events it would
    /// store, numbered as they would be, or its rejection. Stores nothing.
    pub async fn dry_run(&self, request: DryRunRequest) -> Result<CommandResponse> {
        let as_of = AsOf::of(request.as_of);
        let book = request
            .command
            .ok_or_else(|| Error::InvalidArgument("the dry run has no command".into()))?;
        let command = self.validate(book)?;
        let store = ReadOnlyStore::new(&*self.store);
        store.check_edition(&command.key).await?;
        let history = store.history_as_of(&command.key, as_of).await?;
        if let Some(expected) = command.expected
            && expected != history.next_sequence
        {
            return Err(Error::Conflict {
                key: command.key.clone(),
                expected,
                actual: history.next_sequence,
            });
        }
        let output = self.logic.handle(contextual(&command, &history)).await?;
        let events = self.new_events(&command, &output)?;
        Ok(would_be(&command, history.next_sequence, events))
    }
}

/// The answer a real command would have given, without positions or times (nothing was
/// stored).
fn would_be(command: &Command, next: u32, events: Vec<NewEvent>) -> CommandResponse {
    let pages: Vec<EventPage> = (next..)
        .zip(events)
        .map(|(sequence, event)| {
            let mut page = EventPage {
                event: Some(event.event),
                causation: event.causation,
                ..EventPage::default()
            };
            page.set_sequence_num(sequence);
            page
        })
        .collect();
    let next_sequence = next.saturating_add(u32::try_from(pages.len()).unwrap_or(u32::MAX));
    CommandResponse {
        events: Some(EventBook {
            cover: Some(command.key.cover(&command.correlation_id)),
            pages,
            next_sequence,
            ..EventBook::default()
        }),
        projections: Vec::new(),
    }
}
