//! The delivery worker against the in-memory store and scripted subscribers.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use angzarr_proto::{EventPageExt, Target};
use prost_types::Any;
use uuid::Uuid;

use super::*;
use crate::bus::NoBus;
use crate::storage::memory::MemoryEventStore;
use crate::storage::{AppendRequest, HistoryKey, NewEvent};
use crate::test_support::append_events;

type Fail = dyn Fn(u64, u32) -> Option<Error> + Send + Sync;

/// Records every delivered position; fails as `fail(position, attempt)` says.
struct Recorder {
    name: String,
    filter: EventFilter,
    max_batch: usize,
    delivered: Mutex<Vec<u64>>,
    batches: Mutex<Vec<usize>>,
    attempts: Mutex<std::collections::HashMap<u64, u32>>,
    fail: Box<Fail>,
}

impl Recorder {
    fn new(domains: &[&str], max_batch: usize) -> Self {
        Self::failing(domains, max_batch, |_, _| None)
    }

    fn failing(
        domains: &[&str],
        max_batch: usize,
        fail: impl Fn(u64, u32) -> Option<Error> + Send + Sync + 'static,
    ) -> Self {
        let targets: Vec<Target> = domains
            .iter()
            .map(|d| Target {
                editions: Vec::new(),
                domain: d.to_string(),
                types: vec![],
            })
            .collect();
        Self {
            name: "recorder".into(),
            filter: EventFilter::from_targets(&targets),
            max_batch,
            delivered: Mutex::new(Vec::new()),
            batches: Mutex::new(Vec::new()),
            attempts: Mutex::new(Default::default()),
            fail: Box::new(fail),
        }
    }

    fn delivered(&self) -> Vec<u64> {
        self.delivered.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Subscriber for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn component_type(&self) -> &'static str {
        "projector"
    }
    fn filter(&self) -> &EventFilter {
        &self.filter
    }
    fn max_batch(&self) -> usize {
        self.max_batch
    }
    async fn deliver(&self, book: &EventBook, _sync: bool) -> Result<Outcome> {
        for page in &book.pages {
            let attempt = {
                let mut attempts = self.attempts.lock().expect("lock");
                let entry = attempts.entry(page.position).or_default();
                *entry += 1;
                *entry
            };
            if let Some(err) = (self.fail)(page.position, attempt) {
                return Err(err);
            }
        }
        // Sequences within one delivery are consecutive in one history.
        let sequences: Vec<u32> = book.pages.iter().filter_map(|p| p.sequence_num()).collect();
        assert!(
            sequences.windows(2).all(|w| w[1] == w[0] + 1),
            "{sequences:?}"
        );
        self.batches.lock().expect("lock").push(book.pages.len());
        self.delivered
            .lock()
            .expect("lock")
            .extend(book.pages.iter().map(|p| p.position));
        Ok(Outcome::Nothing)
    }
}

async fn append(store: &MemoryEventStore, domain: &str, root: u128, count: usize) {
    append_events(store, domain, root, count).await;
}

fn fast() -> DeliveryOptions {
    DeliveryOptions {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        poll_interval: Duration::from_millis(20),
        read_batch: 7,
        ..DeliveryOptions::default()
    }
}

struct Running {
    handle: SubscriberHandle,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Running {
    async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.expect("worker ends cleanly");
    }
}

fn start<S: EventStore>(store: &Arc<S>, subscriber: Arc<Recorder>) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let (handle, task) = spawn(
        subscriber,
        store.clone(),
        &NoBus,
        Arc::new(SyncRegistry::default()),
        fast(),
        stop_rx,
    );
    Running { handle, task, stop }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn every_wanted_event_arrives_once_in_global_order_and_the_checkpoint_reaches_the_head() {
    let store = Arc::new(MemoryEventStore::new());
    for round in 0..5 {
        for root in 0..4 {
            append(
                &store,
                if root % 2 == 0 { "a" } else { "b" },
                root,
                1 + round % 3,
            )
            .await;
        }
    }
    let head = store.head_position().await.expect("head");
    let recorder = Arc::new(Recorder::new(&["a", "b"], 100));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(head, deadline()).await);
    assert_eq!(recorder.delivered(), (1..=head).collect::<Vec<_>>());
    assert_eq!(
        store.checkpoint("recorder").await.expect("checkpoint"),
        head
    );
    assert_eq!(running.handle.delivered(), head);
    running.stop().await;
}

#[tokio::test]
async fn only_subscribed_domains_are_delivered_but_the_position_passes_the_rest() {
    let store = Arc::new(MemoryEventStore::new());
    append(&store, "a", 1, 2).await;
    append(&store, "b", 2, 3).await;
    append(&store, "a", 3, 1).await;
    let recorder = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(6, deadline()).await);
    assert_eq!(recorder.delivered(), vec![1, 2, 6]);
    running.stop().await;
    assert_eq!(store.checkpoint("recorder").await.expect("checkpoint"), 6);
}

#[tokio::test]
async fn deliveries_group_consecutive_events_of_one_history_up_to_the_batch_size() {
    let store = Arc::new(MemoryEventStore::new());
    append(&store, "a", 1, 5).await;
    append(&store, "a", 2, 1).await;
    let recorder = Arc::new(Recorder::new(&["a"], 2));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(6, deadline()).await);
    assert_eq!(*recorder.batches.lock().expect("lock"), vec![2, 2, 1, 1]);
    running.stop().await;
}

#[tokio::test]
async fn events_appended_later_arrive_without_a_bus_and_a_restart_resumes_from_the_checkpoint() {
    let store = Arc::new(MemoryEventStore::new());
    append(&store, "a", 1, 2).await;
    let recorder = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(2, deadline()).await);
    append(&store, "a", 1, 2).await;
    assert!(
        running.handle.wait_for(4, deadline()).await,
        "found by polling"
    );
    running.stop().await;

    append(&store, "a", 2, 3).await;
    let again = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, again.clone());
    assert!(running.handle.wait_for(7, deadline()).await);
    assert_eq!(again.delivered(), vec![5, 6, 7], "nothing delivered twice");
    running.stop().await;
}

#[tokio::test]
async fn an_unavailable_component_is_waited_for_not_parked() {
    let store = Arc::new(MemoryEventStore::new());
    append(&store, "a", 1, 1).await;
    let recorder = Arc::new(Recorder::failing(&["a"], 1, |_, attempt| {
        (attempt <= 6).then(|| Error::Unavailable {
            component: "recorder".into(),
            reason: "restarting".into(),
        })
    }));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(1, deadline()).await);
    assert_eq!(recorder.delivered(), vec![1]);
    assert!(store.list_parked(None).await.expect("list").is_empty());
    running.stop().await;
}

#[tokio::test]
async fn an_event_too_large_for_the_component_is_parked_not_retried_forever() {
    let store = Arc::new(MemoryEventStore::new());
    append(&store, "a", 1, 2).await;
    let recorder = Arc::new(Recorder::failing(&["a"], 1, |position, _| {
        (position == 1).then(|| Error::TooLarge {
            component: "recorder".into(),
            message: "the request is 70000000 bytes".into(),
        })
    }));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(2, deadline()).await);
    assert_eq!(recorder.delivered(), vec![2]);
    let parked = store.list_parked(Some("recorder")).await.expect("list");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].position, 1);
    assert!(
        parked[0].error.contains("70000000 bytes"),
        "{:?}",
        parked[0]
    );
    running.stop().await;
}

#[tokio::test]
async fn a_poison_event_is_parked_after_the_attempts_and_the_rest_go_on() {
    let store = Arc::new(MemoryEventStore::new());
    append(&store, "a", 1, 5).await;
    let poison_fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fixed = poison_fixed.clone();
    let recorder = Arc::new(Recorder::failing(&["a"], 100, move |position, _| {
        (position == 3 && !fixed.load(Ordering::SeqCst)).then(|| Error::Rejected {
            code: tonic::Code::Internal,
            message: "cannot project".into(),
        })
    }));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(5, deadline()).await);
    assert_eq!(
        recorder.delivered(),
        vec![1, 2, 4, 5],
        "the group was split to isolate 3"
    );
    let parked = store.list_parked(Some("recorder")).await.expect("list");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].position, 3);
    assert_eq!(parked[0].attempts, 3);
    assert!(
        parked[0].error.contains("cannot project"),
        "{}",
        parked[0].error
    );

    // A re-drive while it still fails keeps it parked, with one more attempt.
    assert!(
        !running
            .handle
            .redrive(parked[0].clone())
            .await
            .expect("redrive")
    );
    let still = store.list_parked(None).await.expect("list");
    assert_eq!(still[0].attempts, 4);

    poison_fixed.store(true, Ordering::SeqCst);
    assert!(
        running
            .handle
            .redrive(parked[0].clone())
            .await
            .expect("redrive")
    );
    assert!(store.list_parked(None).await.expect("list").is_empty());
    assert_eq!(recorder.delivered(), vec![1, 2, 4, 5, 3]);
    running.stop().await;
}

/// A broadcast bus that drops every `k`-th batch and holds at most `capacity` batches per
/// receiver (a slow receiver lags).
struct LossyBus {
    sender: tokio::sync::broadcast::Sender<crate::bus::EventBatch>,
    every: usize,
    published: std::sync::atomic::AtomicUsize,
}

struct LossyReceiver(tokio::sync::broadcast::Receiver<crate::bus::EventBatch>);

#[async_trait]
impl BusReceiver for LossyReceiver {
    async fn recv(&mut self) -> Option<BusMessage> {
        use tokio::sync::broadcast::error::RecvError;
        match self.0.recv().await {
            Ok(batch) => Some(BusMessage::Events(batch)),
            Err(RecvError::Lagged(n)) => Some(BusMessage::Lagged(n)),
            Err(RecvError::Closed) => None,
        }
    }
}

impl EventBus for LossyBus {
    fn publish(&self, batch: crate::bus::EventBatch) {
        let n = self.published.fetch_add(1, Ordering::SeqCst) + 1;
        if !n.is_multiple_of(self.every) {
            let _ = self.sender.send(batch);
        }
    }

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        Box::new(LossyReceiver(self.sender.subscribe()))
    }
}

/// A subscriber that blocks until released, then records like [`Recorder`].
struct Stalled {
    inner: Recorder,
    release: tokio::sync::Semaphore,
}

#[async_trait]
impl Subscriber for Stalled {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn component_type(&self) -> &'static str {
        "projector"
    }
    fn filter(&self) -> &EventFilter {
        self.inner.filter()
    }
    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }
    async fn deliver(&self, book: &EventBook, sync: bool) -> Result<Outcome> {
        let _permit = self.release.acquire().await.expect("semaphore open");
        self.inner.deliver(book, sync).await
    }
}

#[tokio::test]
async fn a_lossy_bus_and_a_stalled_subscriber_lose_nothing() {
    let store = Arc::new(MemoryEventStore::new());
    let bus = Arc::new(LossyBus {
        sender: tokio::sync::broadcast::channel(2).0,
        every: 3,
        published: Default::default(),
    });
    let publisher = crate::publisher::OrderedPublisher::new(bus.clone(), store.clone())
        .await
        .expect("publisher");
    let stalled = Arc::new(Stalled {
        inner: Recorder::new(&["a", "b"], 3),
        release: tokio::sync::Semaphore::new(0),
    });
    let (stop, stop_rx) = watch::channel(false);
    let options = DeliveryOptions {
        // Far longer than the test: only the bus (and its gaps) can wake the worker.
        poll_interval: Duration::from_secs(3600),
        ..fast()
    };
    let (handle, task) = spawn(
        stalled.clone(),
        store.clone(),
        &*bus,
        Arc::new(SyncRegistry::default()),
        options,
        stop_rx,
    );
    // The subscriber is stalled while 60 commits are published (a third of them dropped,
    // and far more than the bus holds for it).
    for round in 0..60u128 {
        let domain = if round % 2 == 0 { "a" } else { "b" };
        let key = HistoryKey::main(domain, Uuid::from_u128(round % 7));
        let next = store
            .load(&key, Default::default())
            .await
            .expect("load")
            .next_sequence;
        let committed = store
            .append(AppendRequest {
                key,
                expected_next: next,
                correlation_id: "c".into(),
                events: vec![NewEvent {
                    event: Any {
                        type_url: "type.googleapis.com/test.Happened".into(),
                        value: vec![],
                    },
                    causation: None,
                }],
                snapshot: None,
                idempotency: None,
                checkpoint: None,
            })
            .await
            .expect("append");
        publisher.publish(committed).await;
    }
    stalled.release.add_permits(1_000);
    // The 60th batch was dropped (every third is); one more commit, which the bus keeps, wakes
    // the worker, and it reads everything it missed from the store.
    append(&store, "a", 99, 1).await;
    let last = store.read_global(60, 1).await.expect("read");
    publisher.publish(last).await;
    assert!(
        handle.wait_for(61, deadline()).await,
        "at {}",
        handle.position()
    );
    assert_eq!(stalled.inner.delivered(), (1..=61).collect::<Vec<_>>());
    stop.send_replace(true);
    task.await.expect("worker ends");
}

mod faults;
mod process_manager_faults;
