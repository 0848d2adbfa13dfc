//! Following the log from a position: catch-up from the store, then live.
//!
//! A tail never takes events from the bus: the bus only says "something was appended", and the
//! tail reads on from its position in the store. So the switch from catch-up to live has no
//! gap and no duplicate, and a lagging or lossy bus only delays it (by at most the poll
//! interval).

use std::sync::Arc;
use std::time::Duration;

use angzarr_proto::EventBook;
use tokio::sync::watch;

use crate::bus::{BusReceiver, EventBus};
use crate::error::{Error, Result};
use crate::storage::{EventStore, StoredEvent, event_book};

/// Events read per store round trip.
const TAIL_BATCH: usize = 500;

/// A cursor over the global log.
pub struct LogTail {
    store: Arc<dyn EventStore>,
    bus: Option<Box<dyn BusReceiver>>,
    position: u64,
    poll: Duration,
    shutdown: watch::Receiver<bool>,
}

impl LogTail {
    /// A tail that yields events after `after`. It subscribes to the bus at once, so nothing
    /// appended from now on is missed even before the first [`next`](Self::next).
    /// [`next`](Self::next) fails with `UNAVAILABLE` once `shutdown` turns true, so live
    /// streams end when the runtime stops.
    pub fn new(
        store: Arc<dyn EventStore>,
        bus: &dyn EventBus,
        after: u64,
        poll: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            bus: Some(bus.subscribe()),
            position: after,
            poll,
            shutdown,
        }
    }

    /// The last position returned.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next events after the position, waiting until there are some.
    pub async fn next(&mut self) -> Result<Vec<StoredEvent>> {
        loop {
            if *self.shutdown.borrow() {
                return Err(Error::Unavailable {
                    component: "runtime".into(),
                    reason: "it is shutting down; reconnect from the last position received".into(),
                });
            }
            let events = self.store.read_global(self.position, TAIL_BATCH).await?;
            if let Some(last) = events.last() {
                self.position = last.position;
                return Ok(events);
            }
            let bus = async {
                match self.bus.as_mut() {
                    Some(bus) => bus.recv().await.is_some(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                open = bus => if !open { self.bus = None },
                () = tokio::time::sleep(self.poll) => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }
}

/// Groups consecutive events of one history and correlation id into event books.
pub fn group_into_books<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> Vec<EventBook> {
    let mut books = Vec::new();
    let mut run: Vec<StoredEvent> = Vec::new();
    for event in events {
        let continues = run.last().is_some_and(|last| {
            last.key == event.key && last.correlation_id == event.correlation_id
        });
        if !continues && !run.is_empty() {
            books.push(book_of(&run));
            run.clear();
        }
        run.push(event.clone());
    }
    if !run.is_empty() {
        books.push(book_of(&run));
    }
    books
}

fn book_of(run: &[StoredEvent]) -> EventBook {
    event_book(&run[0].key, &run[0].correlation_id, run)
}
