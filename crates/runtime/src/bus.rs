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
use crate::subscription::EventFilter;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

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

    /// Subscribes to the events `filter` accepts, published from now on. A batch with none of
    /// them is not delivered at all. The default filters on receipt; an adapter that crosses a
    /// process boundary filters before writing (the IPC bus), so nobody pays for what it did
    /// not ask for.
    fn subscribe_to(&self, filter: EventFilter) -> Box<dyn BusReceiver> {
        Box::new(FilteredReceiver {
            inner: self.subscribe(),
            filter,
        })
    }
}

/// Keeps only the events a filter accepts.
struct FilteredReceiver {
    inner: Box<dyn BusReceiver>,
    filter: EventFilter,
}

#[async_trait]
impl BusReceiver for FilteredReceiver {
    async fn recv(&mut self) -> Option<BusMessage> {
        loop {
            match self.inner.recv().await? {
                BusMessage::Events(batch) => {
                    if let Some(kept) = filter_batch(&self.filter, &batch) {
                        return Some(BusMessage::Events(kept));
                    }
                }
                lagged @ BusMessage::Lagged(_) => return Some(lagged),
            }
        }
    }
}

/// The events of `batch` that `filter` accepts (the batch itself when it accepts all);
/// `None` when it accepts none.
pub fn filter_batch(filter: &EventFilter, batch: &EventBatch) -> Option<EventBatch> {
    let wanted = batch.iter().filter(|e| filter.matches(e)).count();
    match wanted {
        0 => None,
        n if n == batch.len() => Some(batch.clone()),
        _ => Some(
            batch
                .iter()
                .filter(|e| filter.matches(e))
                .cloned()
                .collect::<Vec<_>>()
                .into(),
        ),
    }
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
