//! Fakes shared by the runtime's unit tests.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::bus::{BusMessage, BusReceiver, EventBatch, EventBus};
use crate::storage::memory::MemoryEventStore;
use crate::storage::{AppendRequest, EventStore, HistoryKey, NewEvent, StoredEvent};

/// Appends `count` events to `domain`/`root` (correlation id `corr-<root>`) at its next
/// sequence and returns what was committed.
pub(crate) async fn append_events(
    store: &MemoryEventStore,
    domain: &str,
    root: u128,
    count: usize,
) -> Vec<StoredEvent> {
    let key = HistoryKey::main(domain, uuid::Uuid::from_u128(root));
    let next = store
        .load(&key, Default::default())
        .await
        .expect("load")
        .next_sequence;
    store
        .append(AppendRequest {
            key,
            expected_next: next,
            correlation_id: format!("corr-{root}"),
            events: (0..count)
                .map(|_| NewEvent {
                    event: prost_types::Any {
                        type_url: "type.googleapis.com/test.Happened".into(),
                        value: vec![],
                    },
                    causation: None,
                })
                .collect(),
            snapshot: None,
            idempotency: None,
            checkpoint: None,
        })
        .await
        .expect("append")
}

/// A bus that records the positions of everything published.
#[derive(Default)]
pub(crate) struct RecordingBus {
    batches: Mutex<Vec<Vec<u64>>>,
}

struct Never;

#[async_trait]
impl BusReceiver for Never {
    async fn recv(&mut self) -> Option<BusMessage> {
        None
    }
}

impl EventBus for RecordingBus {
    fn publish(&self, batch: EventBatch) {
        let positions = batch.iter().map(|e| e.position).collect();
        self.batches.lock().expect("lock").push(positions);
    }

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        Box::new(Never)
    }
}

impl RecordingBus {
    /// Published batches, as lists of positions.
    pub(crate) fn batches(&self) -> Vec<Vec<u64>> {
        self.batches.lock().expect("lock").clone()
    }

    /// Every published position, in publishing order.
    pub(crate) fn positions(&self) -> Vec<u64> {
        self.batches().into_iter().flatten().collect()
    }
}
