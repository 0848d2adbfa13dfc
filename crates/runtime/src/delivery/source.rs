//! Where a subscriber's events come from: this process's store, or another process's log.
//!
//! In one process every subscriber reads the local store. When several runtimes form one
//! system, a subscriber may want domains another process owns; that process has its own log
//! with its own global positions. So each (subscriber, source process) pair gets a worker of
//! its own with a checkpoint of its own (`<subscriber>@<process>`, see
//! [`Subscriber::checkpoint_name`](super::Subscriber::checkpoint_name)), reading through an
//! [`EventSource`]. The worker does not care where the events come from: the same ordering,
//! retries, parking and checkpoints apply.

use std::sync::Arc;

use async_trait::async_trait;

use crate::bus::{BusReceiver, EventBus};
use crate::error::Result;
use crate::storage::{EventStore, StoredEvent};

/// What one read of a log returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    /// The events read (possibly only the wanted ones).
    pub events: Vec<StoredEvent>,
    /// Everything up to here has been read.
    pub reached: u64,
}

/// A log a delivery worker reads, in position order.
#[async_trait]
pub trait EventSource: Send + Sync + 'static {
    /// The process whose log this is; `None` for this process's own store.
    fn process(&self) -> Option<&str>;

    /// Up to `limit` events after position `after`, in position order, and how far the log
    /// was read. May leave out events the subscriber did not ask for (then `reached` can lie
    /// beyond the last event, and the checkpoint moves there). `reached == after` when
    /// nothing more is known right now.
    async fn read_after(&self, after: u64, limit: usize) -> Result<Read>;

    /// The event at `position`, if there is one (for re-drives of parked events).
    async fn event_at(&self, position: u64) -> Result<Option<StoredEvent>>;

    /// Wake-ups: a message means something may have been appended.
    fn wake_ups(&self) -> Box<dyn BusReceiver>;
}

/// This process's own store, woken by its bus.
pub struct LocalSource {
    store: Arc<dyn EventStore>,
    bus: Option<Arc<dyn EventBus>>,
}

impl std::fmt::Debug for LocalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSource").finish_non_exhaustive()
    }
}

impl LocalSource {
    /// The log of `store`; `bus` says when something was appended.
    pub fn new(store: Arc<dyn EventStore>, bus: Arc<dyn EventBus>) -> Self {
        Self {
            store,
            bus: Some(bus),
        }
    }

    /// The log of `store` with no bus: readers poll.
    pub fn polled(store: Arc<dyn EventStore>) -> Self {
        Self { store, bus: None }
    }
}

#[async_trait]
impl EventSource for LocalSource {
    fn process(&self) -> Option<&str> {
        None
    }

    async fn read_after(&self, after: u64, limit: usize) -> Result<Read> {
        let events = self.store.read_global(after, limit).await?;
        let reached = events.last().map_or(after, |e| e.position);
        Ok(Read { events, reached })
    }

    async fn event_at(&self, position: u64) -> Result<Option<StoredEvent>> {
        Ok(self
            .store
            .read_global(position.saturating_sub(1), 1)
            .await?
            .into_iter()
            .find(|e| e.position == position))
    }

    fn wake_ups(&self) -> Box<dyn BusReceiver> {
        match &self.bus {
            Some(bus) => bus.subscribe(),
            None => crate::bus::NoBus.subscribe(),
        }
    }
}
