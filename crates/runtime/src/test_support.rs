//! Fakes shared by the runtime's unit tests.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::bus::{BusMessage, BusReceiver, EventBatch, EventBus};

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
