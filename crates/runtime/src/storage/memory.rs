//! An in-memory event store for unit tests and dry runs.
//!
//! One mutex guards the whole model, so every promise of the storage API (gapless sequences,
//! atomic steps, positions in commit order) holds trivially: an append is checked and applied
//! while the lock is held. Clones share the state, which lets a test "reopen" the store by
//! handing out another clone after dropping the first. Nothing survives the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use angzarr_proto::Snapshot;
use async_trait::async_trait;
use prost_types::Timestamp;

use super::{
    AppendRequest, Checkpoint, EventStore, HistoryKey, IdempotencyRecord, LoadOptions,
    LoadedHistory, ParkRequest, ParkedRecord, StorageError, StorageResult, StoredEvent,
};

/// An [`EventStore`] kept in memory. Cheap to clone; clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryEventStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The global log; the event at index `i` has position `i + 1`.
    log: Vec<StoredEvent>,
    /// Per history, the indexes of its events in `log`, in sequence order.
    histories: HashMap<HistoryKey, Vec<usize>>,
    snapshots: HashMap<HistoryKey, Snapshot>,
    idempotency: HashMap<String, IdempotencyRecord>,
    checkpoints: HashMap<String, u64>,
    /// Parked events by id.
    parked: std::collections::BTreeMap<u64, ParkedRecord>,
    next_parked_id: u64,
}

impl MemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is only changed after every check passed, so a panic while the lock was
        // held cannot have left it half-updated.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn next_sequence(&self, key: &HistoryKey) -> u32 {
        let count = self.histories.get(key).map_or(0, Vec::len);
        // `validate` keeps every history within the u32 range.
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    fn events(&self, key: &HistoryKey) -> impl Iterator<Item = &StoredEvent> {
        self.histories
            .get(key)
            .into_iter()
            .flatten()
            .map(|&index| &self.log[index])
    }

    fn store_snapshot(&mut self, key: &HistoryKey, snapshot: Snapshot) {
        let newer = self
            .snapshots
            .get(key)
            .is_none_or(|stored| snapshot.sequence >= stored.sequence);
        if newer {
            self.snapshots.insert(key.clone(), snapshot);
        }
    }

    fn move_checkpoint(&mut self, checkpoint: Checkpoint) {
        let position = self.checkpoints.entry(checkpoint.subscriber).or_default();
        *position = (*position).max(checkpoint.position);
    }

    fn append(&mut self, request: AppendRequest) -> StorageResult<Vec<StoredEvent>> {
        request.validate()?;
        if let Some(record) = &request.idempotency
            && let Some(existing) = self.idempotency.get(&record.key)
        {
            return Err(StorageError::DuplicateIdempotencyKey(Box::new(
                existing.clone(),
            )));
        }
        let actual = self.next_sequence(&request.key);
        if actual != request.expected_next {
            return Err(StorageError::Conflict {
                key: request.key,
                expected: request.expected_next,
                actual,
            });
        }
        let created_at = now();
        let mut committed = Vec::with_capacity(request.events.len());
        for (sequence, event) in (request.expected_next..).zip(request.events) {
            let stored = StoredEvent {
                key: request.key.clone(),
                sequence,
                position: self.log.len() as u64 + 1,
                created_at,
                event: event.event,
                correlation_id: request.correlation_id.clone(),
                causation: event.causation,
            };
            self.histories
                .entry(request.key.clone())
                .or_default()
                .push(self.log.len());
            self.log.push(stored.clone());
            committed.push(stored);
        }
        if let Some(snapshot) = request.snapshot {
            self.store_snapshot(&request.key, snapshot);
        }
        if let Some(record) = request.idempotency {
            self.idempotency.insert(record.key.clone(), record);
        }
        if let Some(checkpoint) = request.checkpoint {
            self.move_checkpoint(checkpoint);
        }
        Ok(committed)
    }
}

/// The current time, truncated to microseconds like the durable stores keep it.
fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    Timestamp {
        seconds: i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX),
        nanos: i32::try_from(micros % 1_000_000).unwrap_or(0) * 1_000,
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn load(&self, key: &HistoryKey, options: LoadOptions) -> StorageResult<LoadedHistory> {
        let state = self.state();
        let snapshot = options
            .use_snapshot
            .then(|| state.snapshots.get(key).cloned())
            .flatten();
        let first = snapshot.as_ref().map_or(0, |s| u64::from(s.sequence) + 1);
        let events = state
            .events(key)
            .filter(|e| u64::from(e.sequence) >= first)
            .cloned()
            .collect();
        Ok(LoadedHistory {
            snapshot,
            events,
            next_sequence: state.next_sequence(key),
        })
    }

    async fn read_history(
        &self,
        key: &HistoryKey,
        from: u32,
        to: Option<u32>,
    ) -> StorageResult<Vec<StoredEvent>> {
        let state = self.state();
        Ok(state
            .events(key)
            .filter(|e| e.sequence >= from && to.is_none_or(|to| e.sequence < to))
            .cloned()
            .collect())
    }

    async fn append(&self, request: AppendRequest) -> StorageResult<Vec<StoredEvent>> {
        self.state().append(request)
    }

    async fn put_snapshot(&self, key: &HistoryKey, snapshot: Snapshot) -> StorageResult<()> {
        let mut state = self.state();
        let next = state.next_sequence(key);
        if snapshot.sequence >= next {
            return Err(StorageError::Invalid(format!(
                "snapshot at sequence {} lies beyond {key}, whose next sequence is {next}",
                snapshot.sequence
            )));
        }
        state.store_snapshot(key, snapshot);
        Ok(())
    }

    async fn get_snapshot(&self, key: &HistoryKey) -> StorageResult<Option<Snapshot>> {
        Ok(self.state().snapshots.get(key).cloned())
    }

    async fn read_global(&self, after: u64, limit: usize) -> StorageResult<Vec<StoredEvent>> {
        let state = self.state();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(state.log.iter().skip(start).take(limit).cloned().collect())
    }

    async fn head_position(&self) -> StorageResult<u64> {
        Ok(self.state().log.len() as u64)
    }

    async fn idempotency(&self, key: &str) -> StorageResult<Option<IdempotencyRecord>> {
        Ok(self.state().idempotency.get(key).cloned())
    }

    async fn checkpoint(&self, subscriber: &str) -> StorageResult<u64> {
        Ok(self
            .state()
            .checkpoints
            .get(subscriber)
            .copied()
            .unwrap_or(0))
    }

    async fn put_checkpoint(&self, checkpoint: Checkpoint) -> StorageResult<()> {
        if checkpoint.subscriber.is_empty() {
            return Err(StorageError::Invalid(
                "the checkpoint has no subscriber".into(),
            ));
        }
        self.state().move_checkpoint(checkpoint);
        Ok(())
    }

    async fn list_roots(
        &self,
        domain: &str,
        after: Option<uuid::Uuid>,
        limit: usize,
    ) -> StorageResult<Vec<uuid::Uuid>> {
        let state = self.state();
        let mut roots: Vec<uuid::Uuid> = state
            .histories
            .iter()
            .filter(|(key, events)| {
                key.domain == domain && key.edition.is_empty() && !events.is_empty()
            })
            .map(|(key, _)| key.root)
            .filter(|root| after.is_none_or(|after| root.as_bytes() > after.as_bytes()))
            .collect();
        roots.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        roots.truncate(limit);
        Ok(roots)
    }

    async fn park(&self, request: ParkRequest) -> StorageResult<u64> {
        if request.subscriber.is_empty() {
            return Err(StorageError::Invalid(
                "the parked event has no subscriber".into(),
            ));
        }
        let mut state = self.state();
        state.next_parked_id += 1;
        let id = state.next_parked_id;
        state.move_checkpoint(Checkpoint {
            subscriber: request.subscriber.clone(),
            position: request.position,
        });
        state.parked.insert(
            id,
            ParkedRecord {
                id,
                subscriber: request.subscriber,
                position: request.position,
                error: request.error,
                attempts: request.attempts,
                parked_at: now(),
            },
        );
        Ok(id)
    }

    async fn list_parked(&self, subscriber: Option<&str>) -> StorageResult<Vec<ParkedRecord>> {
        Ok(self
            .state()
            .parked
            .values()
            .filter(|record| subscriber.is_none_or(|s| record.subscriber == s))
            .cloned()
            .collect())
    }

    async fn update_parked(&self, id: u64, error: &str, attempts: u32) -> StorageResult<bool> {
        let mut state = self.state();
        let Some(record) = state.parked.get_mut(&id) else {
            return Ok(false);
        };
        record.error = error.to_string();
        record.attempts = record.attempts.saturating_add(attempts);
        record.parked_at = now();
        Ok(true)
    }

    async fn remove_parked(&self, id: u64) -> StorageResult<bool> {
        Ok(self.state().parked.remove(&id).is_some())
    }
}

/// Every `open` hands out another clone, so data written before a "close" (dropping the
/// previous handle) is still there.
#[cfg(any(test, feature = "conformance"))]
#[async_trait]
impl super::conformance::StoreFactory for MemoryEventStore {
    async fn open(&self) -> Arc<dyn EventStore> {
        Arc::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryEventStore;

    crate::event_store_conformance!(MemoryEventStore::new());
}
