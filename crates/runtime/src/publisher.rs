//! Publishes committed events on the bus in global-position order, each exactly once.
//!
//! Coordinators append concurrently (the store groups their appends into one commit) and
//! their tasks wake up in no particular order afterwards, so publishing straight from each
//! task would put position 7 on the bus before position 6. The [`OrderedPublisher`] keeps the
//! last position it published: a batch that would leave a gap first publishes the missing
//! events, read from the store (they are committed, their owners just have not got here yet);
//! a batch already covered that way is skipped when it arrives. So the bus carries the global
//! log in order without gaps or repeats, and an append whose task was cancelled after the
//! commit (a client that hung up) is still published, at the next commit at the latest.
//!
//! The bus stays a fast path (DESIGN.md §2.1): if the store cannot be read for a gap, the
//! batch is published anyway and subscribers recover from the store by their checkpoints.

use std::sync::Arc;

use angzarr_telemetry::{TraceContext, TraceIndex};
use tokio::sync::Mutex;
use tracing::warn;

use crate::bus::EventBus;
use crate::storage::{EventStore, StoredEvent};

/// Most events read from the store in one gap-filling step.
const GAP_READ_LIMIT: usize = 1024;

/// Puts committed events on a bus in global order (see the module docs).
pub struct OrderedPublisher {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn EventStore>,
    /// The last position put on the bus.
    published: Mutex<u64>,
    /// Where the trace of each published batch continues.
    traces: TraceIndex,
}

impl std::fmt::Debug for OrderedPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedPublisher").finish_non_exhaustive()
    }
}

impl OrderedPublisher {
    /// A publisher for events committed from now on (everything up to the store's current
    /// head counts as already published: subscribers read the past from the store).
    pub async fn new(
        bus: Arc<dyn EventBus>,
        store: Arc<dyn EventStore>,
    ) -> crate::storage::StorageResult<Self> {
        let head = store.head_position().await?;
        Ok(Self::starting_after(bus, store, head))
    }

    /// A publisher whose next expected position is `head + 1`.
    pub fn starting_after(bus: Arc<dyn EventBus>, store: Arc<dyn EventStore>, head: u64) -> Self {
        Self {
            bus,
            store,
            published: Mutex::new(head),
            traces: TraceIndex::default(),
        }
    }

    /// This publisher remembering in `traces` which span published which positions, so
    /// deliveries can continue the trace (see [`crate::metrics::Telemetry`]).
    pub fn with_traces(mut self, traces: TraceIndex) -> Self {
        self.traces = traces;
        self
    }

    /// The bus events are published on.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// Publishes events that were just committed together (in position order).
    pub async fn publish(&self, committed: Vec<StoredEvent>) {
        let (Some(first), Some(last)) = (
            committed.first().map(|e| e.position),
            committed.last().map(|e| e.position),
        ) else {
            return;
        };
        self.traces.record(first, last, &TraceContext::current());
        let mut published = self.published.lock().await;
        if first > *published + 1 {
            self.fill_gap(&mut published, first).await;
        }
        let fresh: Vec<StoredEvent> = committed
            .into_iter()
            .filter(|event| event.position > *published)
            .collect();
        if let Some(last) = fresh.last().map(|e| e.position) {
            *published = last;
            self.bus.publish(fresh.into());
        }
    }

    /// Publishes the committed events between the last published position and `until`.
    async fn fill_gap(&self, published: &mut u64, until: u64) {
        while *published + 1 < until {
            let wanted = usize::try_from(until - *published - 1)
                .unwrap_or(GAP_READ_LIMIT)
                .min(GAP_READ_LIMIT);
            match self.store.read_global(*published, wanted).await {
                Ok(events) => {
                    let events: Vec<StoredEvent> = events
                        .into_iter()
                        .filter(|event| event.position < until)
                        .collect();
                    let Some(last) = events.last().map(|e| e.position) else {
                        // Nothing more is committed below `until`; publish what we have.
                        return;
                    };
                    *published = last;
                    self.bus.publish(events.into());
                }
                Err(err) => {
                    warn!(error = %err, "could not read committed events to keep the bus in order; subscribers will catch up from the store");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryEventStore;
    use crate::test_support::{RecordingBus, append_events};

    async fn append(store: &MemoryEventStore, root: u128, count: usize) -> Vec<StoredEvent> {
        append_events(store, "d", root, count).await
    }

    fn setup() -> (Arc<RecordingBus>, Arc<MemoryEventStore>) {
        (
            Arc::new(RecordingBus::default()),
            Arc::new(MemoryEventStore::default()),
        )
    }

    #[tokio::test]
    async fn in_order_batches_pass_straight_through() {
        let (bus, store) = setup();
        let publisher = OrderedPublisher::new(bus.clone(), store.clone())
            .await
            .expect("publisher");
        let a = append(&store, 1, 2).await;
        let b = append(&store, 2, 1).await;
        publisher.publish(a).await;
        publisher.publish(b).await;
        assert_eq!(bus.batches(), vec![vec![1, 2], vec![3]]);
    }

    #[tokio::test]
    async fn a_late_batch_is_published_first_from_the_store_and_skipped_when_it_arrives() {
        let (bus, store) = setup();
        let publisher = OrderedPublisher::new(bus.clone(), store.clone())
            .await
            .expect("publisher");
        let a = append(&store, 1, 2).await;
        let b = append(&store, 2, 3).await;
        let c = append(&store, 3, 1).await;
        publisher.publish(c).await;
        publisher.publish(a).await;
        publisher.publish(b).await;
        assert_eq!(bus.positions(), vec![1, 2, 3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn events_committed_before_start_are_not_published() {
        let (bus, store) = setup();
        append(&store, 1, 3).await;
        let publisher = OrderedPublisher::new(bus.clone(), store.clone())
            .await
            .expect("publisher");
        let next = append(&store, 1, 1).await;
        publisher.publish(next).await;
        assert_eq!(bus.positions(), vec![4]);
    }

    #[tokio::test]
    async fn concurrent_publishers_keep_global_order_without_repeats() {
        let (bus, store) = setup();
        let publisher = Arc::new(
            OrderedPublisher::new(bus.clone(), store.clone())
                .await
                .expect("publisher"),
        );
        let mut batches = Vec::new();
        for root in 0..50 {
            batches.push(append(&store, root, 1 + (root as usize % 3)).await);
        }
        let total: usize = batches.iter().map(Vec::len).sum();
        // Publish in a scrambled order from many tasks.
        batches.reverse();
        let tasks: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let publisher = publisher.clone();
                tokio::spawn(async move { publisher.publish(batch).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let expected: Vec<u64> = (1..=total as u64).collect();
        assert_eq!(bus.positions(), expected);
    }
}
