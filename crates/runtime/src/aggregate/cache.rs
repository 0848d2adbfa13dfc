//! Hot histories: the snapshot, the events after it and the next sequence of recently used
//! aggregates, so a command to one of them needs no store read.
//!
//! Why: a load is a thread hand-off and an SQLite read transaction whose pages the last commit
//! has just made stale; it was the largest share of a command's CPU after the commit itself. The
//! coordinator runs one command per aggregate at a time (DESIGN.md §2.4) and is the only writer
//! of its domain's main timelines, so after its own commit it knows the new state without
//! reading it back.
//!
//! Why it is safe: every append still names the expected next sequence, and the store checks it
//! in the same transaction. A stale entry (someone else appended) can only make an append fail
//! with a conflict, never write; the coordinator then drops the entry and decides again on a
//! fresh load. Entries are taken out while a command runs and put back only when the command's
//! outcome says what the history is (committed, or untouched by a rejection), so an error in
//! between leaves nothing behind. Only main timelines are cached: editions are created and
//! deleted outside the coordinator.

use std::sync::Mutex;

use hashlink::LruCache;

use crate::storage::{HistoryKey, LoadedHistory, StoredEvent};

/// Bytes counted per event on top of its payload, type URL and correlation id (the key, the
/// metadata and the allocations' headers).
const EVENT_OVERHEAD: usize = 160;

/// Recently used histories, least recently used evicted first, within a byte budget.
pub struct HistoryCache {
    budget: usize,
    entries: Mutex<Entries>,
}

struct Entries {
    histories: LruCache<HistoryKey, (LoadedHistory, usize)>,
    bytes: usize,
}

impl std::fmt::Debug for HistoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.lock();
        f.debug_struct("HistoryCache")
            .field("budget", &self.budget)
            .field("histories", &entries.histories.len())
            .field("bytes", &entries.bytes)
            .finish()
    }
}

impl HistoryCache {
    /// A cache holding at most about `budget` bytes of histories (0 turns it off). A history
    /// larger than an eighth of the budget is never kept, so one long history cannot push out
    /// every other.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            entries: Mutex::new(Entries {
                histories: LruCache::new_unbounded(),
                bytes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing here can panic half-way through an update.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the history of `key` out of the cache (the caller holds the aggregate's lock and
    /// [`put`](Self::put)s it back when it knows what the history has become).
    pub(super) fn take(&self, key: &HistoryKey) -> Option<LoadedHistory> {
        let mut entries = self.lock();
        let (history, bytes) = entries.histories.remove(key)?;
        entries.bytes -= bytes;
        Some(history)
    }

    /// Keeps `history` as the current state of `key` (main timelines only); an older entry
    /// goes either way.
    pub(super) fn put(&self, key: &HistoryKey, history: LoadedHistory) {
        let bytes = weight(&history);
        if !key.is_main() || bytes > self.budget / 8 {
            drop(self.take(key));
            return;
        }
        let mut entries = self.lock();
        if let Some((_, old)) = entries.histories.insert(key.clone(), (history, bytes)) {
            entries.bytes -= old;
        }
        entries.bytes += bytes;
        while entries.bytes > self.budget {
            match entries.histories.remove_lru() {
                Some((_, (_, evicted))) => entries.bytes -= evicted,
                None => break,
            }
        }
    }

    /// Histories and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        let entries = self.lock();
        (entries.histories.len(), entries.bytes)
    }
}

/// `history` after `committed` was appended to it, and the snapshot `snapshot_at` (its
/// sequence) stored with it, if any: the events a load would now return.
pub(super) fn advanced(
    mut history: LoadedHistory,
    committed: &[StoredEvent],
    snapshot: Option<angzarr_proto::Snapshot>,
) -> LoadedHistory {
    history.events.extend_from_slice(committed);
    if let Some(last) = committed.last() {
        history.next_sequence = last.sequence.saturating_add(1);
    }
    if let Some(snapshot) = snapshot {
        let at = snapshot.sequence;
        history.events.retain(|event| event.sequence > at);
        history.snapshot = Some(snapshot);
    }
    history
}

fn weight(history: &LoadedHistory) -> usize {
    let events: usize = history
        .events
        .iter()
        .map(|e| e.event.value.len() + e.event.type_url.len() + e.correlation_id.len())
        .sum();
    let snapshot = history
        .snapshot
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .map_or(0, |state| state.value.len() + state.type_url.len());
    events + history.events.len() * EVENT_OVERHEAD + snapshot + EVENT_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn history(events: u32, payload: usize) -> LoadedHistory {
        let key = HistoryKey::main("d", Uuid::nil());
        LoadedHistory {
            snapshot: None,
            events: (0..events)
                .map(|sequence| StoredEvent {
                    key: key.clone(),
                    sequence,
                    position: u64::from(sequence) + 1,
                    created_at: prost_types::Timestamp::default(),
                    event: prost_types::Any {
                        type_url: "t".into(),
                        value: vec![0; payload],
                    },
                    correlation_id: String::new(),
                    causation: None,
                })
                .collect(),
            next_sequence: events,
        }
    }

    #[test]
    fn keeps_main_histories_within_the_budget_evicting_the_least_recently_used() {
        let one = weight(&history(1, 100));
        let cache = HistoryCache::new(one * 8);
        let keys: Vec<HistoryKey> = (0..9u128)
            .map(|i| HistoryKey::main("d", Uuid::from_u128(i)))
            .collect();
        for key in &keys {
            cache.put(key, history(1, 100));
        }
        assert_eq!(cache.usage(), (8, one * 8), "the ninth evicted the first");
        assert!(cache.take(&keys[0]).is_none());
        let taken = cache.take(&keys[8]).expect("the newest is kept");
        assert_eq!(taken.next_sequence, 1);
        assert_eq!(cache.usage(), (7, one * 7), "taking removes");

        let edition = HistoryKey::main("d", Uuid::nil()).with_edition("what-if");
        cache.put(&edition, history(1, 1));
        assert!(cache.take(&edition).is_none(), "editions are never cached");
        cache.put(&keys[1], history(1_000, 100));
        assert!(cache.take(&keys[1]).is_none(), "too large for the budget");
        assert!(HistoryCache::new(0).take(&keys[2]).is_none());
    }

    #[test]
    fn an_advanced_history_is_what_a_load_would_return() {
        let loaded = history(3, 1);
        let committed = history(5, 1).events.split_off(3);
        let plain = advanced(loaded.clone(), &committed, None);
        assert_eq!(plain.next_sequence, 5);
        assert_eq!(
            plain.events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );

        let snapshot = angzarr_proto::Snapshot {
            sequence: 4,
            state: None,
        };
        let snapshotted = advanced(loaded.clone(), &committed, Some(snapshot.clone()));
        assert_eq!(snapshotted.snapshot, Some(snapshot));
        assert!(
            snapshotted.events.is_empty(),
            "all folded into the snapshot"
        );
        assert_eq!(snapshotted.next_sequence, 5);

        let untouched = advanced(loaded, &[], None);
        assert_eq!(untouched.next_sequence, 3);
    }
}
