//! The events the storage scenarios write, built in one place so that the raw-SQLite
//! baseline, the event store scenarios and the criterion benches store identical rows, shaped
//! like the rows the runtime writes for the synthetic aggregate's `Echoed` event.

use angzarr_proto::{Causation, Snapshot, causation};
use angzarr_runtime::storage::{AppendRequest, EventStore, HistoryKey, NewEvent};
use angzarr_synthetic_aggregate::{Counter, Echoed, pack};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The domain every scenario writes to (also the e2e component's name).
pub const DOMAIN: &str = "bench";

/// Aggregate root number `index` (deterministic, so runs are comparable).
pub fn root(index: usize) -> Uuid {
    Uuid::from_u128(0xbe4c_0000_0000_4000_8000_0000_0000_0000 | index as u128)
}

/// Builds append requests over a set of aggregates in turn, tracking each one's next
/// sequence, so every request appends at the right place.
#[derive(Debug, Clone)]
pub struct EventFactory {
    keys: Vec<HistoryKey>,
    next: Vec<u32>,
    cursor: usize,
    event: NewEvent,
    correlation_id: String,
}

impl EventFactory {
    /// Events over the aggregates `first .. first + count`, with `payload_bytes` of payload.
    pub fn new(first: usize, count: usize, payload_bytes: usize) -> Self {
        let count = count.max(1);
        let event = Echoed {
            payload: vec![0x5a; payload_bytes],
            snapshot_sequence: None,
            pages_received: 0,
            prior_events: 0,
        };
        Self {
            keys: (first..first + count)
                .map(|i| HistoryKey::main(DOMAIN, root(i)))
                .collect(),
            next: vec![0; count],
            cursor: 0,
            event: NewEvent {
                event: pack(&event),
                causation: Some(Causation {
                    cause: Some(causation::Cause::CommandId(Uuid::new_v4().to_string())),
                }),
            },
            correlation_id: Uuid::new_v4().to_string(),
        }
    }

    /// The next request: `size` events for the next aggregate in turn.
    pub fn next_request(&mut self, size: usize) -> AppendRequest {
        let index = self.cursor;
        self.cursor = (self.cursor + 1) % self.keys.len();
        let expected_next = self.next[index];
        self.next[index] = expected_next.saturating_add(u32::try_from(size).unwrap_or(u32::MAX));
        AppendRequest {
            key: self.keys[index].clone(),
            expected_next,
            correlation_id: self.correlation_id.clone(),
            events: vec![self.event.clone(); size],
            snapshot: None,
            idempotency: None,
            checkpoint: None,
        }
    }
}

/// The snapshot the synthetic aggregate would have offered after `events` events.
pub fn snapshot_after(events: u32) -> Snapshot {
    Snapshot {
        sequence: events.saturating_sub(1),
        state: Some(pack(&Counter {
            events: u64::from(events),
        })),
    }
}

/// Gives the aggregate `index` a history of `events` events (appended `batch` at a time) and
/// a snapshot at its last event; returns its key.
pub async fn build_history(
    store: &dyn EventStore,
    index: usize,
    events: u32,
    batch: usize,
) -> Result<HistoryKey> {
    let mut factory = EventFactory::new(index, 1, 64);
    let mut written = 0usize;
    let total = events as usize;
    while written < total {
        let size = batch.min(total - written);
        store
            .append(factory.next_request(size))
            .await
            .map_err(|err| Error::setup("cannot build a history", err))?;
        written += size;
    }
    let key = HistoryKey::main(DOMAIN, root(index));
    store
        .put_snapshot(&key, snapshot_after(events))
        .await
        .map_err(|err| Error::setup("cannot store a snapshot", err))?;
    Ok(key)
}
