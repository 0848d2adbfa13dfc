//! Delivery of stored events to subscribers: projectors, sagas, process managers.
//!
//! The store is the log (DESIGN.md §2.1). Each subscriber has a durable checkpoint: the global
//! position it has handled. Its [`worker`](spawn) reads the log from there in global order,
//! hands the events its descriptor asks for to the component, and moves the checkpoint after
//! each successful delivery. The bus only wakes the worker up; a worker that was asleep, missed
//! bus messages or restarted simply reads on from its checkpoint, so a lossy or absent bus
//! delays events but never loses them. A crash between delivery and checkpoint redelivers the
//! event (at least once, with its position, so components can recognise a repeat); commands
//! emitted by sagas and process managers carry idempotency keys derived from the source
//! position, so their effect happens once.
//!
//! A delivery that fails is retried with exponential backoff. Failures that mean "not now"
//! (the component is down, the store is unavailable) are retried until they pass; any other
//! failure counts as an attempt, and after `max_attempts` the event is *parked*: a dead-letter
//! record with the error and the number of attempts is written together with the checkpoint
//! move, the failure is logged with the correlation id, and the subscriber goes on. Parked
//! events can be listed and re-driven ([`SubscriberHandle::redrive`]).

pub mod process_manager;
pub mod projector;
pub mod saga;
pub mod source;
pub mod speculative;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_proto::EventBook;
use angzarr_telemetry::TraceIndex;
use async_trait::async_trait;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, warn};

use crate::bus::{BusMessage, BusReceiver, EventBus};
use crate::error::{Error, Result};
use crate::metrics::{SubscriberMetrics, Telemetry};
use crate::storage::{
    Checkpoint, EventStore, ParkRequest, ParkedRecord, StorageError, StoredEvent, event_book,
};
use crate::subscription::EventFilter;
pub use source::{EventSource, LocalSource, Read};
pub use speculative::Speculated;
pub use sync::{Outcome, SyncInterest, SyncRegistry};

/// A component that receives events.
#[async_trait]
pub trait Subscriber: Send + Sync + 'static {
    /// The component's name.
    fn name(&self) -> &str;

    /// The name of its checkpoint (and parked records): the component's name for this
    /// process's log, `<name>@<process>` for another process's log, whose positions are its
    /// own. Sagas and process managers also derive their commands' idempotency keys from it,
    /// so positions of two logs never collide.
    fn checkpoint_name(&self) -> &str {
        self.name()
    }

    /// `"projector"`, `"saga"` or `"process_manager"`.
    fn component_type(&self) -> &'static str;

    /// What it subscribes to.
    fn filter(&self) -> &EventFilter;

    /// Most events handed over in one delivery. Sagas and process managers take one at a
    /// time, so that idempotency keys derived from the source position are stable.
    fn max_batch(&self) -> usize;

    /// Handles consecutive events of one history. `sync` asks for the synchronous form (a
    /// command waits on the outcome). Must tolerate a redelivery of the same positions.
    async fn deliver(&self, book: &EventBook, sync: bool) -> Result<Outcome>;

    /// What the component would do with these events (each book consecutive events of one
    /// history), with nothing written: no checkpoint, projection, command or state (see
    /// [`speculative`]). Components that cannot promise that refuse with `Unimplemented`.
    async fn speculate(&self, _books: &[EventBook]) -> Result<Speculated> {
        Err(Error::Unimplemented(format!(
            "{} cannot run speculatively",
            self.name()
        )))
    }
}

/// Tunables of delivery.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Failed attempts (other than "component unavailable") before an event is parked.
    pub max_attempts: u32,
    /// First retry delay; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How often a worker looks at the store without being woken (covers a lossy or absent
    /// bus).
    pub poll_interval: Duration,
    /// Events read from the store at a time.
    pub read_batch: usize,
    /// Where deliveries are counted, and where they find the trace of their event's command.
    pub telemetry: Telemetry,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            read_batch: 256,
            telemetry: Telemetry::default(),
        }
    }
}

/// A request to a running worker.
enum Request {
    Redrive(ParkedRecord, oneshot::Sender<Result<bool>>),
}

/// The handle of a running subscriber.
#[derive(Clone)]
pub struct SubscriberHandle {
    subscriber: Arc<dyn Subscriber>,
    source: Option<String>,
    log: Arc<dyn EventSource>,
    position: watch::Receiver<u64>,
    wake: Arc<Notify>,
    requests: mpsc::Sender<Request>,
    delivered: Arc<DeliveredCounts>,
}

impl std::fmt::Debug for SubscriberHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberHandle")
            .field("name", &self.subscriber.name())
            .field("position", &*self.position.borrow())
            .finish_non_exhaustive()
    }
}

impl SubscriberHandle {
    /// The component's name.
    pub fn name(&self) -> &str {
        self.subscriber.name()
    }

    /// Its checkpoint's name (see [`Subscriber::checkpoint_name`]).
    pub fn checkpoint_name(&self) -> &str {
        self.subscriber.checkpoint_name()
    }

    /// The process whose log it reads; `None` for this process's own.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The event at `position` of the log it reads.
    pub async fn event_at(&self, position: u64) -> Result<Option<StoredEvent>> {
        self.log.event_at(position).await
    }

    /// Its component type.
    pub fn component_type(&self) -> &'static str {
        self.subscriber.component_type()
    }

    /// What it subscribes to.
    pub fn filter(&self) -> &EventFilter {
        self.subscriber.filter()
    }

    /// The global position handled so far.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Events delivered since start.
    pub fn delivered(&self) -> u64 {
        self.delivered.by_domain().values().sum()
    }

    /// Events delivered since start, per source domain.
    pub fn delivered_by_domain(&self) -> BTreeMap<String, u64> {
        self.delivered.by_domain()
    }

    /// Waits until the subscriber has handled everything up to `position`; `false` at the
    /// deadline.
    pub async fn wait_for(&self, position: u64, deadline: Instant) -> bool {
        self.wake.notify_one();
        let mut watch = self.position.clone();
        tokio::time::timeout_at(deadline, watch.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|changed| changed.is_ok())
    }

    /// Runs the component speculatively on `books`, outside its worker: its checkpoint and
    /// everything else stay as they are (see [`Subscriber::speculate`]).
    pub async fn speculate(&self, books: &[EventBook]) -> Result<Speculated> {
        self.subscriber.speculate(books).await
    }

    /// Delivers a parked event again (one attempt, outside the normal order). `Ok(true)`:
    /// delivered and removed from the parked list; `Ok(false)`: failed again (the record
    /// keeps the new error).
    pub async fn redrive(&self, record: ParkedRecord) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Redrive(record, reply))
            .await
            .map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    fn stopped(&self) -> Error {
        Error::Unavailable {
            component: self.name().to_string(),
            reason: "its delivery worker has stopped".into(),
        }
    }
}

/// Starts the delivery worker of `subscriber`. It runs until `stop` turns true.
pub fn spawn(
    subscriber: Arc<dyn Subscriber>,
    store: Arc<dyn EventStore>,
    bus: &dyn EventBus,
    registry: Arc<SyncRegistry>,
    options: DeliveryOptions,
    stop: watch::Receiver<bool>,
) -> (SubscriberHandle, JoinHandle<()>) {
    let source: Arc<dyn EventSource> = Arc::new(LocalSource::polled(store.clone()));
    let wake_ups = bus.subscribe();
    start(subscriber, source, wake_ups, store, registry, options, stop)
}

/// Starts a delivery worker that reads `source` (another process's log, say) and keeps its
/// checkpoint and parked records in `store` under the subscriber's
/// [`checkpoint_name`](Subscriber::checkpoint_name). It runs until `stop` turns true.
pub fn spawn_from(
    subscriber: Arc<dyn Subscriber>,
    source: Arc<dyn EventSource>,
    store: Arc<dyn EventStore>,
    registry: Arc<SyncRegistry>,
    options: DeliveryOptions,
    stop: watch::Receiver<bool>,
) -> (SubscriberHandle, JoinHandle<()>) {
    let wake_ups = source.wake_ups();
    start(subscriber, source, wake_ups, store, registry, options, stop)
}

fn start(
    subscriber: Arc<dyn Subscriber>,
    source: Arc<dyn EventSource>,
    wake_ups: Box<dyn BusReceiver>,
    store: Arc<dyn EventStore>,
    registry: Arc<SyncRegistry>,
    options: DeliveryOptions,
    stop: watch::Receiver<bool>,
) -> (SubscriberHandle, JoinHandle<()>) {
    let (position_tx, position) = watch::channel(0);
    let (requests_tx, requests) = mpsc::channel(16);
    let wake = Arc::new(Notify::new());
    let delivered = Arc::new(DeliveredCounts::default());
    let handle = SubscriberHandle {
        subscriber: subscriber.clone(),
        source: source.process().map(str::to_string),
        log: source.clone(),
        position,
        wake: wake.clone(),
        requests: requests_tx,
        delivered: delivered.clone(),
    };
    let span = info_span!("subscriber", name = %subscriber.checkpoint_name());
    let metrics = options.telemetry.metrics.subscriber(subscriber.name());
    let traces = options.telemetry.traces.clone();
    let worker = Worker {
        metrics,
        traces,
        subscriber,
        source,
        store,
        registry,
        options,
        stop,
        position: position_tx,
        wake,
        requests,
        delivered,
        bus: Some(wake_ups),
    };
    let task = tokio::spawn(worker.run().instrument(span));
    (handle, task)
}

/// Events delivered per source domain (the topology's edge counts).
#[derive(Debug, Default)]
struct DeliveredCounts(Mutex<BTreeMap<String, u64>>);

impl DeliveredCounts {
    fn add(&self, domain: &str, count: usize) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(domain.to_string()).or_default() += count as u64;
    }

    fn by_domain(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Why a worker loop ended early.
struct Stopped;

struct Worker {
    subscriber: Arc<dyn Subscriber>,
    source: Arc<dyn EventSource>,
    store: Arc<dyn EventStore>,
    registry: Arc<SyncRegistry>,
    options: DeliveryOptions,
    stop: watch::Receiver<bool>,
    position: watch::Sender<u64>,
    wake: Arc<Notify>,
    requests: mpsc::Receiver<Request>,
    delivered: Arc<DeliveredCounts>,
    bus: Option<Box<dyn BusReceiver>>,
    metrics: SubscriberMetrics,
    traces: TraceIndex,
}

impl Worker {
    async fn run(mut self) {
        let Ok(start) = self.initial_checkpoint().await else {
            return;
        };
        self.position.send_replace(start);
        let mut persisted = start;
        debug!(checkpoint = start, "delivery starts");
        loop {
            if self.catch_up(&mut persisted).await.is_err() {
                return;
            }
            if self.wait_for_work().await.is_err() {
                return;
            }
        }
    }

    /// The checkpoint's name (the component's, qualified by the source process).
    fn name(&self) -> &str {
        self.subscriber.checkpoint_name()
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn initial_checkpoint(&mut self) -> std::result::Result<u64, Stopped> {
        let mut backoff = self.options.initial_backoff;
        loop {
            match self
                .store
                .checkpoint(self.subscriber.checkpoint_name())
                .await
            {
                Ok(position) => return Ok(position),
                Err(err) => {
                    warn!(error = %err, "cannot read the checkpoint; retrying");
                    self.pause(&mut backoff).await?;
                }
            }
        }
    }

    /// Sleeps for the backoff (doubling it), or returns early when stopping.
    async fn pause(&mut self, backoff: &mut Duration) -> std::result::Result<(), Stopped> {
        let delay = *backoff;
        *backoff = (*backoff * 2).min(self.options.max_backoff);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.stop.wait_for(|stop| *stop) => {}
        }
        if self.stopping() {
            Err(Stopped)
        } else {
            Ok(())
        }
    }

    /// Waits until something may have been appended, a request arrives, or the poll interval
    /// passes.
    async fn wait_for_work(&mut self) -> std::result::Result<(), Stopped> {
        enum Woken {
            Bus(bool),
            Request(Option<Request>),
            Other,
            Stop,
        }
        let metrics = &self.metrics;
        let bus = async {
            match self.bus.as_mut() {
                Some(bus) => match bus.recv().await {
                    Some(BusMessage::Events(_)) => true,
                    Some(BusMessage::Lagged(missed)) => {
                        // Nothing is lost: the next read from the store covers the gap.
                        metrics.dropped.add(missed);
                        metrics.catch_ups.inc();
                        true
                    }
                    None => false,
                },
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            open = bus => Woken::Bus(open),
            request = self.requests.recv() => Woken::Request(request),
            () = self.wake.notified() => Woken::Other,
            () = tokio::time::sleep(self.options.poll_interval) => Woken::Other,
            _ = self.stop.wait_for(|stop| *stop) => Woken::Stop,
        };
        match woken {
            // The bus is gone; polling keeps delivery going.
            Woken::Bus(false) => self.bus = None,
            Woken::Request(Some(request)) => self.serve(request).await,
            // Every handle is gone: the runtime is shutting down.
            Woken::Stop | Woken::Request(None) => return Err(Stopped),
            Woken::Bus(true) | Woken::Other => {}
        }
        Ok(())
    }

    /// Delivers everything after the current position. The checkpoint is written once per
    /// batch read from the log (not per delivery: that would cost a commit per event), and
    /// the position the handle reports is always a durable one. A crash in between only
    /// means a redelivery of what the batch had delivered, which every subscriber tolerates
    /// (positions for projectors, idempotency keys for sagas; process managers commit their
    /// checkpoint with their state).
    async fn catch_up(&mut self, persisted: &mut u64) -> std::result::Result<(), Stopped> {
        let mut backoff = self.options.initial_backoff;
        loop {
            let after = *self.position.borrow();
            let read = match self.source.read_after(after, self.options.read_batch).await {
                Ok(read) => read,
                Err(err) => {
                    if backoff == self.options.initial_backoff {
                        warn!(error = %err, after, source = self.source.process().unwrap_or("local"), "cannot read the log; retrying");
                    }
                    self.pause(&mut backoff).await?;
                    continue;
                }
            };
            let reached = read.reached;
            if reached <= after {
                return Ok(());
            }
            self.deliver_all(&read.events).await?;
            if reached > *persisted {
                self.put_checkpoint(reached).await?;
                *persisted = reached;
            }
            self.position.send_replace(reached);
        }
    }

    async fn deliver_all(&mut self, events: &[StoredEvent]) -> std::result::Result<(), Stopped> {
        let filter = self.subscriber.filter().clone();
        let max_batch = self.subscriber.max_batch().max(1);
        let mut index = 0;
        while index < events.len() {
            if self.stopping() {
                return Err(Stopped);
            }
            let first = &events[index];
            if !filter.matches(first) {
                index += 1;
                continue;
            }
            let mut end = index + 1;
            while end < events.len()
                && end - index < max_batch
                && filter.matches(&events[end])
                && events[end].key == first.key
                && events[end].correlation_id == first.correlation_id
            {
                end += 1;
            }
            self.deliver_group(&events[index..end]).await?;
            index = end;
        }
        Ok(())
    }

    /// Delivers one group (retrying, then parking), in a `deliver` span that continues the
    /// trace of the command that stored the first event.
    async fn deliver_group(&mut self, group: &[StoredEvent]) -> std::result::Result<(), Stopped> {
        let first = &group[0];
        let span = info_span!(
            "deliver",
            subscriber = self.subscriber.name(),
            component_type = self.subscriber.component_type(),
            correlation_id = %first.correlation_id,
            domain = %first.key.domain,
            root = %first.key.root,
            sequence = first.sequence,
            position = first.position,
            events = group.len(),
        );
        self.traces.lookup(first.position).set_parent_of(&span);
        self.deliver_group_in_span(group).instrument(span).await
    }

    async fn deliver_group_in_span(
        &mut self,
        group: &[StoredEvent],
    ) -> std::result::Result<(), Stopped> {
        let first = &group[0];
        let last = group[group.len() - 1].position;
        let book = event_book(&first.key, &first.correlation_id, group);
        let sync = self.registry.is_interested(&first.correlation_id);
        let mut backoff = self.options.initial_backoff;
        let mut attempts = 0;
        loop {
            let started = std::time::Instant::now();
            let result = self.subscriber.deliver(&book, sync).await;
            self.metrics.seconds.observe_duration(started.elapsed());
            match result {
                Ok(outcome) => {
                    self.metrics.ok.inc();
                    self.delivered.add(&first.key.domain, group.len());
                    self.registry.record(
                        &first.correlation_id,
                        self.subscriber.name(),
                        first.position,
                        last,
                        outcome,
                    );
                    return Ok(());
                }
                Err(err) if is_transient(&err) => {
                    self.metrics.failed.inc();
                    if backoff == self.options.initial_backoff {
                        warn!(error = %err, position = first.position, correlation_id = %first.correlation_id, "delivery waits for the component");
                    }
                    self.pause(&mut backoff).await?;
                }
                Err(err) => {
                    self.metrics.failed.inc();
                    attempts += 1;
                    if attempts < self.options.max_attempts {
                        debug!(error = %err, attempts, "delivery failed; retrying");
                        self.pause(&mut backoff).await?;
                        continue;
                    }
                    if group.len() > 1 {
                        // Find the event that fails: deliver one at a time.
                        for single in group.chunks(1) {
                            Box::pin(self.deliver_group(single)).await?;
                        }
                        return Ok(());
                    }
                    return self.park(first, err.to_string(), attempts).await;
                }
            }
        }
    }

    async fn park(
        &mut self,
        event: &StoredEvent,
        error: String,
        attempts: u32,
    ) -> std::result::Result<(), Stopped> {
        warn!(
            position = event.position,
            correlation_id = %event.correlation_id,
            domain = %event.key.domain,
            root = %event.key.root,
            sequence = event.sequence,
            attempts,
            %error,
            "event parked: the subscriber goes on without it (list and re-drive parked events with the runtime service)"
        );
        let mut backoff = self.options.initial_backoff;
        loop {
            let request = ParkRequest {
                subscriber: self.name().to_string(),
                position: event.position,
                error: error.clone(),
                attempts,
            };
            match self.store.park(request).await {
                Ok(_) => {
                    self.metrics.parked.inc();
                    return Ok(());
                }
                Err(err) => {
                    warn!(error = %err, "cannot park the event; retrying");
                    self.pause(&mut backoff).await?;
                }
            }
        }
    }

    async fn put_checkpoint(&mut self, position: u64) -> std::result::Result<(), Stopped> {
        let mut backoff = self.options.initial_backoff;
        loop {
            let checkpoint = Checkpoint {
                subscriber: self.name().to_string(),
                position,
            };
            match self.store.put_checkpoint(checkpoint).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    warn!(error = %err, position, "cannot move the checkpoint; retrying");
                    self.pause(&mut backoff).await?;
                }
            }
        }
    }

    async fn serve(&mut self, request: Request) {
        match request {
            Request::Redrive(record, reply) => {
                let _ = reply.send(self.redrive(record).await);
            }
        }
    }

    async fn redrive(&mut self, record: ParkedRecord) -> Result<bool> {
        let event = self
            .source
            .event_at(record.position)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no event at position {}", record.position)))?;
        let book = event_book(
            &event.key,
            &event.correlation_id,
            std::slice::from_ref(&event),
        );
        match self.subscriber.deliver(&book, false).await {
            Ok(_) => {
                self.delivered.add(&event.key.domain, 1);
                self.store.remove_parked(record.id).await?;
                debug!(position = record.position, "parked event re-driven");
                Ok(true)
            }
            Err(err) => {
                self.store
                    .update_parked(record.id, &err.to_string(), 1)
                    .await?;
                warn!(position = record.position, correlation_id = %event.correlation_id, error = %err, "re-drive failed; the event stays parked");
                Ok(false)
            }
        }
    }
}

/// The correlation id of a delivered book.
pub(crate) fn correlation_of(book: &EventBook) -> &str {
    book.cover
        .as_ref()
        .map(|c| c.correlation_id.as_str())
        .unwrap_or_default()
}

/// A `logic.handle` span for a call to `component` about `book`.
pub(crate) fn call_span(component: &str, book: &EventBook) -> tracing::Span {
    tracing::debug_span!(
        "logic.handle",
        component,
        correlation_id = correlation_of(book)
    )
}

/// Failures that mean "not now" rather than "this event cannot be handled".
fn is_transient(err: &Error) -> bool {
    matches!(
        err,
        Error::Unavailable { .. }
            | Error::Storage(
                StorageError::Backend(_) | StorageError::Closed | StorageError::Conflict { .. }
            )
    )
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
