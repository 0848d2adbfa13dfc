//! An in-memory event store for unit tests and dry runs.
//!
//! One mutex guards the whole model, so every promise of the storage API (gapless sequences,
//! atomic steps, positions in commit order) holds trivially: an append is checked and applied
//! while the lock is held. Clones share the state, which lets a test "reopen" the store by
//! handing out another clone after dropping the first. Nothing survives the process.
//!
//! The log is a vector indexed by position - 1; a deleted edition's events leave `None`
//! behind, so positions are never handed out twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use angzarr_proto::Snapshot;
use async_trait::async_trait;
use prost_types::Timestamp;

use super::{
    AppendRequest, Checkpoint, Edition, EventStore, HistoryKey, IdempotencyRecord, LoadOptions,
    LoadedHistory, ParkRequest, ParkedRecord, StorageError, StorageResult, StoredEvent,
    validate_edition_name,
};

/// An [`EventStore`] kept in memory. Cheap to clone; clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryEventStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The global log; the event at index `i` has position `i + 1` (`None`: deleted).
    log: Vec<Option<StoredEvent>>,
    /// Per history, the indexes of its own events in `log`, in sequence order.
    histories: HashMap<HistoryKey, Vec<usize>>,
    /// Created editions by their history key.
    editions: BTreeMap<HistoryKey, Edition>,
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
    /// The next sequence of a history: after its own last event, else after an edition's
    /// divergence, else 0.
    fn next_sequence(&self, key: &HistoryKey) -> u32 {
        match self.own(key).last() {
            Some(last) => last.sequence.saturating_add(1),
            None => self
                .editions
                .get(key)
                .map_or(0, |e| e.divergence.saturating_add(1)),
        }
    }

    fn own(&self, key: &HistoryKey) -> Vec<&StoredEvent> {
        self.histories
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|&index| self.log[index].as_ref())
            .collect()
    }

    /// A history's events in sequence order: an edition's shared part of main, then its own.
    fn events(&self, key: &HistoryKey) -> Vec<&StoredEvent> {
        let mut events = match self.editions.get(key) {
            Some(edition) => self
                .own(&key.with_edition(""))
                .into_iter()
                .filter(|e| e.sequence <= edition.divergence)
                .collect(),
            None => Vec::new(),
        };
        events.extend(self.own(key));
        events
    }

    /// The snapshot `load` starts from: the history's own, or for an edition main's when it
    /// lies at or before the divergence.
    fn snapshot_for_load(&self, key: &HistoryKey) -> Option<Snapshot> {
        if let Some(own) = self.snapshots.get(key) {
            return Some(own.clone());
        }
        let edition = self.editions.get(key)?;
        self.snapshots
            .get(&key.with_edition(""))
            .filter(|s| s.sequence <= edition.divergence)
            .cloned()
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
            self.log.push(Some(stored.clone()));
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
            .then(|| state.snapshot_for_load(key))
            .flatten();
        let first = snapshot.as_ref().map_or(0, |s| u64::from(s.sequence) + 1);
        let events = state
            .events(key)
            .into_iter()
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
            .into_iter()
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
        Ok(state
            .log
            .iter()
            .skip(start)
            .flatten()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn head_position(&self) -> StorageResult<u64> {
        let state = self.state();
        Ok(state
            .log
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |index| index as u64 + 1))
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
                key.domain == domain
                    && key.edition.is_empty()
                    && events.iter().any(|&i| state.log[i].is_some())
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

    async fn create_edition(&self, key: &HistoryKey, divergence: u32) -> StorageResult<Edition> {
        validate_edition_name(&key.edition)?;
        let mut state = self.state();
        let main_next = state.next_sequence(&key.with_edition(""));
        if main_next == 0 {
            return Err(StorageError::NotFound(format!(
                "no aggregate {}/{} to branch: it has no events on the main timeline",
                key.domain, key.root
            )));
        }
        if divergence >= main_next {
            return Err(StorageError::Invalid(format!(
                "divergence sequence {divergence} is beyond {}/{}, whose last event is {}",
                key.domain,
                key.root,
                main_next - 1
            )));
        }
        if state.editions.contains_key(key) || !state.own(key).is_empty() {
            return Err(StorageError::EditionExists(key.clone()));
        }
        let edition = Edition {
            key: key.clone(),
            divergence,
            created_at: now(),
        };
        state.editions.insert(key.clone(), edition.clone());
        Ok(edition)
    }

    async fn edition(&self, key: &HistoryKey) -> StorageResult<Option<Edition>> {
        Ok(self.state().editions.get(key).cloned())
    }

    async fn list_editions(
        &self,
        domain: Option<&str>,
        root: Option<uuid::Uuid>,
    ) -> StorageResult<Vec<Edition>> {
        let mut editions: Vec<Edition> = self
            .state()
            .editions
            .values()
            .filter(|e| domain.is_none_or(|d| e.key.domain == d))
            .filter(|e| root.is_none_or(|r| e.key.root == r))
            .cloned()
            .collect();
        editions.sort_by(|a, b| {
            (&a.key.domain, a.key.root.as_bytes(), &a.key.edition).cmp(&(
                &b.key.domain,
                b.key.root.as_bytes(),
                &b.key.edition,
            ))
        });
        Ok(editions)
    }

    async fn delete_edition(&self, key: &HistoryKey) -> StorageResult<Option<u64>> {
        let mut state = self.state();
        if state.editions.remove(key).is_none() {
            return Ok(None);
        }
        let mut removed = 0;
        for index in state.histories.remove(key).unwrap_or_default() {
            removed += u64::from(state.log[index].take().is_some());
        }
        state.snapshots.remove(key);
        state.idempotency.retain(|_, record| record.history != *key);
        Ok(Some(removed))
    }

    async fn read_correlated(
        &self,
        correlation_id: &str,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<StoredEvent>> {
        let state = self.state();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(state
            .log
            .iter()
            .skip(start)
            .flatten()
            .filter(|e| e.correlation_id == correlation_id)
            .take(limit)
            .cloned()
            .collect())
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
