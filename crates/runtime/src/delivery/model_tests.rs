//! The delivery worker against its model, with proptest (DESIGN.md §2.1).
//!
//! A scenario interleaves appends (published through the `OrderedPublisher` onto a bus that
//! drops the batches it is told to and lags past two), stretches of worker progress, waits,
//! crashes (the worker task aborted anywhere, even inside a delivery) and graceful stops, each
//! followed by a restart; events carry what the handler does with them (succeed, fail for good,
//! be unavailable a few times, take a while). The model: the subscriber wants the events of two
//! of three domains; each incarnation of the worker delivers exactly the next wanted events
//! after the checkpoint it started from, in global order, skipping none (poison events are
//! parked instead, each once); a checkpoint never moves backwards or past an event that was
//! neither delivered nor parked; so an event is delivered again only when a crash came before
//! its checkpoint moved. Parked events are re-driven at random moments, some after their
//! component was fixed: a fixed one is delivered once and leaves the parked list, the others
//! stay parked with one more attempt. At the end everything wanted was delivered (poison only
//! by a re-drive after its fix), every other poison event is still parked, and the checkpoint
//! is the head.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use angzarr_proto::Target;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use prost_types::Any;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::*;
use crate::bus::EventBatch;
use crate::publisher::OrderedPublisher;
use crate::storage::memory::MemoryEventStore;
use crate::storage::model::config;
use crate::storage::{AppendRequest, HistoryKey, NewEvent};

/// Cases run when `PROPTEST_CASES` is not set.
const CASES: u32 = 48;
const DOMAINS: [&str; 3] = ["wanted-a", "wanted-b", "ignored"];
const NAME: &str = "model-projector";

/// What the handler does with an event (its payload says so).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Ok,
    /// Fails as a bad event every time: parked after the attempts.
    Poison,
    /// The component is unavailable for the first `n` attempts.
    Flaky(u8),
    /// Takes `n` milliseconds (a crash may come meanwhile).
    Slow(u8),
}

impl Kind {
    fn encode(self) -> Vec<u8> {
        match self {
            Kind::Ok => vec![0],
            Kind::Poison => vec![1],
            Kind::Flaky(n) => vec![2, n],
            Kind::Slow(n) => vec![3, n],
        }
    }

    fn decode(bytes: &[u8]) -> Self {
        match bytes {
            [1] => Kind::Poison,
            [2, n] => Kind::Flaky(*n),
            [3, n] => Kind::Slow(*n),
            _ => Kind::Ok,
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Commits events to a history and publishes them (or the bus drops them).
    Append {
        domain: usize,
        root: u128,
        events: Vec<Kind>,
        dropped: bool,
    },
    /// Lets the worker run for a few scheduler turns.
    Run { turns: u8 },
    /// Waits until the worker has handled the head.
    Settle,
    /// Aborts the worker task wherever it is, then restarts it.
    Crash,
    /// Stops the worker gracefully, then restarts it.
    Restart,
    /// Re-drives the `pick`-th parked event (if any), after fixing the component for it when
    /// `fix` is set.
    Redrive { pick: usize, fix: bool },
}

#[derive(Debug, Clone)]
struct Scenario {
    max_batch: usize,
    read_batch: usize,
    /// Poll the store only once an hour: only the bus (and waits) wake the worker.
    bus_only: bool,
    steps: Vec<Step>,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        8 => Just(Kind::Ok),
        1 => Just(Kind::Poison),
        1 => (1u8..4).prop_map(Kind::Flaky),
        1 => (1u8..3).prop_map(Kind::Slow),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let step = prop_oneof![
        6 => (0..DOMAINS.len(), 0u128..3, vec(kind(), 1..4), proptest::bool::weighted(0.3))
            .prop_map(|(domain, root, events, dropped)| Step::Append { domain, root, events, dropped }),
        3 => (0u8..40).prop_map(|turns| Step::Run { turns }),
        1 => Just(Step::Settle),
        2 => Just(Step::Crash),
        1 => Just(Step::Restart),
        1 => (0usize..4, any::<bool>()).prop_map(|(pick, fix)| Step::Redrive { pick, fix }),
    ];
    (1usize..4, 1usize..8, any::<bool>(), vec(step, 1..30)).prop_map(
        |(max_batch, read_batch, bus_only, steps)| Scenario {
            max_batch,
            read_batch,
            bus_only,
            steps,
        },
    )
}

/// The component: records every successful delivery with the worker incarnation it came from.
struct Handler {
    filter: EventFilter,
    max_batch: usize,
    incarnation: AtomicUsize,
    delivered: Mutex<Vec<(usize, u64)>>,
    attempts: Mutex<HashMap<u64, u8>>,
    /// Poison events the component was fixed for: they succeed from then on.
    fixed: Mutex<BTreeSet<u64>>,
}

impl Handler {
    fn new(max_batch: usize) -> Self {
        let targets: Vec<Target> = DOMAINS[..2]
            .iter()
            .map(|domain| Target {
                domain: domain.to_string(),
                types: Vec::new(),
                editions: Vec::new(),
            })
            .collect();
        Self {
            filter: EventFilter::from_targets(&targets),
            max_batch,
            incarnation: AtomicUsize::new(0),
            delivered: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            fixed: Mutex::new(BTreeSet::new()),
        }
    }

    fn delivered(&self) -> Vec<(usize, u64)> {
        self.delivered.lock().expect("lock").clone()
    }

    /// The failure of one event's attempt, if it fails.
    fn attempt(&self, position: u64, kind: Kind) -> Option<Error> {
        match kind {
            Kind::Poison if self.fixed.lock().expect("lock").contains(&position) => None,
            Kind::Poison => Some(Error::Rejected {
                code: tonic::Code::InvalidArgument,
                message: format!("cannot handle {position}"),
            }),
            Kind::Flaky(failures) => {
                let mut attempts = self.attempts.lock().expect("lock");
                let attempt = attempts.entry(position).or_default();
                *attempt += 1;
                (*attempt <= failures).then(|| Error::Unavailable {
                    component: NAME.into(),
                    reason: "restarting".into(),
                })
            }
            Kind::Ok | Kind::Slow(_) => None,
        }
    }
}

#[async_trait]
impl Subscriber for Handler {
    fn name(&self) -> &str {
        NAME
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
            let kind = Kind::decode(page.event.as_ref().map_or(&[], |e| &e.value));
            if let Some(err) = self.attempt(page.position, kind) {
                return Err(err);
            }
            if let Kind::Slow(ms) = kind {
                tokio::time::sleep(Duration::from_millis(ms.into())).await;
            }
        }
        let incarnation = self.incarnation.load(Ordering::SeqCst);
        let mut delivered = self.delivered.lock().expect("lock");
        delivered.extend(book.pages.iter().map(|p| (incarnation, p.position)));
        Ok(Outcome::Nothing)
    }
}

/// A broadcast bus holding two batches per receiver (more make it lag) that drops a batch
/// when told to.
struct DroppingBus {
    sender: broadcast::Sender<EventBatch>,
    drop_next: AtomicBool,
}

struct Receiver(broadcast::Receiver<EventBatch>);

#[async_trait]
impl BusReceiver for Receiver {
    async fn recv(&mut self) -> Option<BusMessage> {
        match self.0.recv().await {
            Ok(batch) => Some(BusMessage::Events(batch)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(BusMessage::Lagged(missed)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

impl EventBus for DroppingBus {
    fn publish(&self, batch: EventBatch) {
        if !self.drop_next.swap(false, Ordering::SeqCst) {
            let _ = self.sender.send(batch);
        }
    }

    fn subscribe(&self) -> Box<dyn BusReceiver> {
        Box::new(Receiver(self.sender.subscribe()))
    }
}

/// One run of the worker: where it started and how to end it.
struct Incarnation {
    start: u64,
    handle: SubscriberHandle,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

struct World {
    store: Arc<MemoryEventStore>,
    bus: Arc<DroppingBus>,
    publisher: OrderedPublisher,
    handler: Arc<Handler>,
    options: DeliveryOptions,
    /// The checkpoint each incarnation started from.
    starts: Vec<u64>,
    kinds: HashMap<u64, Kind>,
    /// Poison events re-driven after their fix.
    redriven: BTreeSet<u64>,
}

type Checked = std::result::Result<(), TestCaseError>;

impl World {
    async fn new(scenario: &Scenario) -> Self {
        let store = Arc::new(MemoryEventStore::new());
        let bus = Arc::new(DroppingBus {
            sender: broadcast::channel(2).0,
            drop_next: AtomicBool::new(false),
        });
        let publisher = OrderedPublisher::new(bus.clone(), store.clone())
            .await
            .expect("publisher");
        let poll_interval = if scenario.bus_only {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(5)
        };
        let options = DeliveryOptions {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            poll_interval,
            read_batch: scenario.read_batch,
            ..DeliveryOptions::default()
        };
        Self {
            store,
            bus,
            publisher,
            handler: Arc::new(Handler::new(scenario.max_batch)),
            options,
            starts: Vec::new(),
            kinds: HashMap::new(),
            redriven: BTreeSet::new(),
        }
    }

    async fn start(&mut self) -> Incarnation {
        let start = self.store.checkpoint(NAME).await.expect("checkpoint");
        self.handler
            .incarnation
            .store(self.starts.len(), Ordering::SeqCst);
        self.starts.push(start);
        let (stop, stop_rx) = watch::channel(false);
        let (handle, task) = spawn(
            self.handler.clone(),
            self.store.clone(),
            &*self.bus,
            Arc::new(SyncRegistry::default()),
            self.options.clone(),
            stop_rx,
        );
        Incarnation {
            start,
            handle,
            task,
            stop,
        }
    }

    async fn append(&mut self, domain: usize, root: u128, events: &[Kind], dropped: bool) {
        let key = HistoryKey::main(DOMAINS[domain], Uuid::from_u128(root));
        let next = self.store.load(&key, Default::default()).await;
        let request = AppendRequest {
            key,
            expected_next: next.expect("load").next_sequence,
            correlation_id: format!("workflow-{root}"),
            events: (events.iter())
                .map(|kind| NewEvent {
                    event: Any {
                        type_url: "type.googleapis.com/test.Happened".into(),
                        value: kind.encode(),
                    },
                    causation: None,
                })
                .collect(),
            snapshot: None,
            idempotency: None,
            checkpoint: None,
        };
        let committed = self.store.append(request).await.expect("append");
        for (event, kind) in committed.iter().zip(events) {
            self.kinds.insert(event.position, *kind);
        }
        self.bus.drop_next.store(dropped, Ordering::SeqCst);
        self.publisher.publish(committed).await;
    }

    async fn settle(&self, running: &Incarnation) -> Checked {
        let head = self.store.head_position().await.expect("head");
        let deadline = Instant::now() + Duration::from_secs(20);
        prop_assert!(
            running.handle.wait_for(head, deadline).await,
            "the worker stopped at {} of {}",
            running.handle.position(),
            head
        );
        Ok(())
    }

    /// Wanted events in position order: those to deliver, and the poison ones to park.
    async fn wanted(&self) -> (Vec<u64>, Vec<u64>) {
        let log = self.store.read_global(0, usize::MAX).await.expect("read");
        let wanted = log.iter().filter(|e| self.handler.filter.matches(e));
        wanted
            .map(|e| e.position)
            .partition(|p| self.kinds[p] != Kind::Poison)
    }

    /// What each restart may assume: the checkpoint moved only past events that were
    /// delivered (by an earlier incarnation) or parked, and never backwards.
    async fn check_restart(&self, previous: u64, start: u64) -> Checked {
        prop_assert!(
            start >= previous,
            "the checkpoint went back from {} to {}",
            previous,
            start
        );
        let (good, poison) = self.wanted().await;
        let delivered: BTreeSet<u64> = self.handler.delivered().iter().map(|d| d.1).collect();
        for position in good.iter().filter(|&&p| p <= start) {
            prop_assert!(
                delivered.contains(position),
                "the checkpoint {} passed {} which was never delivered",
                start,
                position
            );
        }
        let parked = self.parked().await;
        for position in (poison.iter()).filter(|&&p| p <= start && !self.redriven.contains(&p)) {
            prop_assert!(
                parked.contains(position),
                "the checkpoint {} passed poison {} which was not parked",
                start,
                position
            );
        }
        Ok(())
    }

    /// Re-drives a parked event: fixed, it is delivered once and leaves the list; not fixed,
    /// it stays with one more attempt and nothing is delivered.
    async fn redrive(&mut self, running: &Incarnation, pick: usize, fix: bool) -> Checked {
        let parked = self.store.list_parked(Some(NAME)).await.expect("parked");
        let Some(record) = parked.get(pick % parked.len().max(1)).cloned() else {
            return Ok(());
        };
        if fix {
            self.handler
                .fixed
                .lock()
                .expect("lock")
                .insert(record.position);
        }
        let delivered_before = self.handler.delivered().len();
        let redriven = running.handle.redrive(record.clone()).await;
        prop_assert!(
            matches!(redriven, Ok(done) if done == fix),
            "re-driving {} (fixed: {}) answered {:?}",
            record.position,
            fix,
            redriven
        );
        let after = self.store.list_parked(Some(NAME)).await.expect("parked");
        let still = after.iter().find(|r| r.id == record.id);
        if fix {
            self.redriven.insert(record.position);
            prop_assert!(still.is_none(), "{} is still parked", record.position);
            let delivered = self.handler.delivered();
            prop_assert!(
                delivered[delivered_before..]
                    .iter()
                    .any(|d| d.1 == record.position),
                "re-driving {} delivered nothing",
                record.position
            );
        } else {
            prop_assert_eq!(
                still.map(|r| r.attempts),
                Some(record.attempts + 1),
                "a failed re-drive keeps the record with one more attempt"
            );
        }
        Ok(())
    }

    async fn parked(&self) -> Vec<u64> {
        let parked = self.store.list_parked(Some(NAME)).await.expect("parked");
        parked.iter().map(|r| r.position).collect()
    }

    /// Each incarnation delivered exactly the next wanted events after its start, in order;
    /// a redelivery only of what a crash left above the next start.
    async fn check_deliveries(&self) -> Checked {
        let (good, _) = self.wanted().await;
        let delivered = self.handler.delivered();
        for (incarnation, &start) in self.starts.iter().enumerate() {
            let got: Vec<u64> = (delivered.iter())
                .filter(|d| d.0 == incarnation && !self.redriven.contains(&d.1))
                .map(|d| d.1)
                .collect();
            let due: Vec<u64> = good.iter().copied().filter(|&p| p > start).collect();
            prop_assert!(
                got.len() <= due.len() && got == due[..got.len()],
                "incarnation {} (from checkpoint {}) delivered {:?}, not the next of {:?}",
                incarnation,
                start,
                got,
                due
            );
        }
        for &position in &self.redriven {
            let times = delivered.iter().filter(|d| d.1 == position).count();
            prop_assert_eq!(
                times,
                1,
                "re-driven {} was delivered {} times",
                position,
                times
            );
        }
        let mut first_seen: HashMap<u64, usize> = HashMap::new();
        for &(incarnation, position) in &delivered {
            let first = *first_seen.entry(position).or_insert(incarnation);
            if first != incarnation {
                let start = self.starts[incarnation];
                prop_assert!(
                    position > start,
                    "{} was delivered again though the checkpoint ({}) had passed it",
                    position,
                    start
                );
            }
        }
        Ok(())
    }
}

async fn stop(running: Incarnation, crash: bool) {
    if crash {
        running.task.abort();
    } else {
        running.stop.send_replace(true);
    }
    let _ = running.task.await;
}

async fn run(scenario: &Scenario) -> Checked {
    let mut world = World::new(scenario).await;
    let mut running = world.start().await;
    for step in &scenario.steps {
        match step {
            Step::Append {
                domain,
                root,
                events,
                dropped,
            } => world.append(*domain, *root, events, *dropped).await,
            Step::Run { turns } => {
                for _ in 0..*turns {
                    tokio::task::yield_now().await;
                }
            }
            Step::Settle => world.settle(&running).await?,
            Step::Redrive { pick, fix } => world.redrive(&running, *pick, *fix).await?,
            Step::Crash | Step::Restart => {
                let previous = running.start;
                stop(running, matches!(step, Step::Crash)).await;
                running = world.start().await;
                world.check_restart(previous, running.start).await?;
            }
        }
    }
    world.settle(&running).await?;
    stop(running, false).await;

    world.check_deliveries().await?;
    let (good, poison) = world.wanted().await;
    let delivered: BTreeSet<u64> = world.handler.delivered().iter().map(|d| d.1).collect();
    let expected: BTreeSet<u64> = good.iter().chain(&world.redriven).copied().collect();
    prop_assert_eq!(
        delivered,
        expected,
        "every wanted event was delivered, poison only when re-driven after its fix"
    );
    let still_parked: Vec<u64> = (poison.iter())
        .filter(|p| !world.redriven.contains(p))
        .copied()
        .collect();
    prop_assert_eq!(
        world.parked().await,
        still_parked,
        "each poison event parked once, until a fixed re-drive"
    );
    let head = world.store.head_position().await.expect("head");
    let checkpoint = world.store.checkpoint(NAME).await.expect("checkpoint");
    prop_assert_eq!(checkpoint, head, "the checkpoint reaches the head");
    Ok(())
}

#[test]
fn deliveries_follow_the_model_through_crashes_drops_and_failures() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let regressions = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/delivery_model.txt"
    );
    let mut runner = TestRunner::new(config(CASES, regressions));
    let result = runner.run(&scenario(), |scenario| runtime.block_on(run(&scenario)));
    if let Err(failure) = result {
        panic!("delivery disagrees with the model: {failure}");
    }
}
