//! The event bus: a fast path that tells in-process (or, later, other-process) subscribers
//! about committed events.
//!
//! The bus is never the only copy of anything (DESIGN.md §2.1). A subscriber that misses a
//! message, lags behind or restarts recovers from the store by its checkpoint; a bus message
//! only saves it a read. So `publish` never blocks and never fails, and a slow receiver
//! loses messages (it is told, with [`BusMessage::Lagged`]) instead of slowing writers.

use std::sync::Arc;

use async_trait::async_trait;

use crate::storage::StoredEvent;

/// Events committed together, in position order.
pub type EventBatch = Arc<[StoredEvent]>;

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum BusMessage {
    /// Newly committed events.
    Events(EventBatch),
    /// Messages were dropped for this subscriber; catch up from the store.
    Lagged(u64),
}

/// A subscription to the bus.
#[async_trait]
pub trait BusReceiver: Send {
    /// The next message, or `None` when the bus is closed.
    async fn recv(&mut self) -> Option<BusMessage>;
}

/// A bus adapter.
pub trait EventBus: Send + Sync + 'static {
    /// Publishes committed events. Never blocks, never fails.
    fn publish(&self, batch: EventBatch);

    /// Subscribes to everything published from now on.
    fn subscribe(&self) -> Box<dyn BusReceiver>;
}

/// A bus that publishes nowhere (for setups where every subscriber polls the store).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoBus;

struct ClosedReceiver;

#[async_trait]
impl BusReceiver for ClosedReceiver {
    async fn recv(&mut self) -> Option<BusMessage> {
        None
    }
}

impl EventBus for NoBus {
    fn publish(&self, _batch: EventBatch) {}

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        Box::new(ClosedReceiver)
    }
}
