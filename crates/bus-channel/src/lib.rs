//! The in-process channel bus: every committed batch goes to every subscriber of this
//! process through a bounded tokio broadcast channel.
//!
//! Publishing never waits. A subscriber that falls more than `capacity` batches behind loses
//! the oldest ones and is told so ([`BusMessage::Lagged`]); it then catches up from the store,
//! which is always the source of truth.

#![warn(missing_docs)]

use angzarr_runtime::bus::{BusMessage, BusReceiver, EventBatch, EventBus};
use async_trait::async_trait;
use tokio::sync::broadcast;

/// The channel bus.
#[derive(Debug, Clone)]
pub struct ChannelBus {
    sender: broadcast::Sender<EventBatch>,
}

impl ChannelBus {
    /// Default number of batches a subscriber may fall behind before it lags.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// A bus where each subscriber buffers up to `capacity` batches (at least 1).
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }
}

impl Default for ChannelBus {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl EventBus for ChannelBus {
    fn publish(&self, batch: EventBatch) {
        // An error only means nobody is subscribed right now; the store has the events.
        let _ = self.sender.send(batch);
    }

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        Box::new(ChannelReceiver {
            receiver: self.sender.subscribe(),
        })
    }
}

struct ChannelReceiver {
    receiver: broadcast::Receiver<EventBatch>,
}

#[async_trait]
impl BusReceiver for ChannelReceiver {
    async fn recv(&mut self) -> Option<BusMessage> {
        match self.receiver.recv().await {
            Ok(batch) => Some(BusMessage::Events(batch)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(BusMessage::Lagged(missed)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_runtime::bus::conformance::BusFactory;
    use angzarr_runtime::storage::{HistoryKey, StoredEvent};
    use std::sync::Arc;

    struct Channels;

    #[async_trait]
    impl BusFactory for Channels {
        async fn bus(&self, capacity: usize) -> Arc<dyn EventBus> {
            Arc::new(ChannelBus::new(capacity))
        }
    }

    angzarr_runtime::event_bus_conformance!(Channels);

    fn batch(position: u64) -> EventBatch {
        vec![StoredEvent {
            key: HistoryKey::main("d", uuid::Uuid::nil()),
            sequence: 0,
            position,
            created_at: prost_types::Timestamp::default(),
            event: prost_types::Any::default(),
            correlation_id: String::new(),
            causation: None,
        }]
        .into()
    }

    fn position(message: Option<BusMessage>) -> u64 {
        match message {
            Some(BusMessage::Events(b)) => b[0].position,
            other => panic!("expected events, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_batch_in_order() {
        let bus = ChannelBus::new(16);
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for p in 1..=5 {
            bus.publish(batch(p));
        }
        for p in 1..=5 {
            assert_eq!(position(a.recv().await), p);
            assert_eq!(position(b.recv().await), p);
        }
    }

    #[tokio::test]
    async fn slow_subscriber_is_told_it_lagged_and_publisher_never_blocks() {
        let bus = ChannelBus::new(2);
        let mut slow = bus.subscribe();
        for p in 1..=10 {
            bus.publish(batch(p)); // would block forever if publishing waited for readers
        }
        match slow.recv().await {
            Some(BusMessage::Lagged(missed)) => assert_eq!(missed, 8),
            other => panic!("expected lag, got {other:?}"),
        }
        assert_eq!(position(slow.recv().await), 9);
        assert_eq!(position(slow.recv().await), 10);
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine_and_closing_ends_receivers() {
        let bus = ChannelBus::new(4);
        bus.publish(batch(1));
        let mut rx = bus.subscribe();
        drop(bus);
        assert!(rx.recv().await.is_none());
    }
}
