//! One small runtime per input: the in-memory store with a seeded history and an edition, the
//! real coordinator, dispatcher and gateway over it, and business logic whose decision is
//! spelled by the command itself (so the fuzzer reaches every outcome from the bytes alone).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use angzarr_bus_channel::ChannelBus;
use angzarr_proto::{
    CommandBook, CommandPage, ContextualCommand, Cover, EventBook, EventPage, UuidExt,
};
use angzarr_runtime::aggregate::{AggregateCoordinator, AggregateOptions};
use angzarr_runtime::delivery::sync::SyncRegistry;
use angzarr_runtime::delivery::{self, DeliveryOptions, Subscriber};
use angzarr_runtime::gateway::{GatewayOptions, GatewayService};
use angzarr_runtime::logic::AggregateLogic;
use angzarr_runtime::publisher::OrderedPublisher;
use angzarr_runtime::router::{CommandRouter, Dispatcher};
use angzarr_runtime::storage::memory::MemoryEventStore;
use angzarr_runtime::storage::{
    AppendRequest, Edition, EventStore, HistoryKey, IdempotencyRecord, NewEvent, StoredEvent,
};
use angzarr_runtime::{Error, Result};
use async_trait::async_trait;
use futures::{FutureExt, Stream, StreamExt};
use prost_types::Any;
use tokio::sync::watch;

/// The one domain served.
pub(crate) const DOMAIN: &str = "fuzz";
/// The aggregate that has a history before every input (three events, an edition).
pub(crate) const SEEDED_ROOT: u128 = 1;
/// The edition of [`SEEDED_ROOT`] that exists before every input (diverging at sequence 1).
pub(crate) const EDITION: &str = "e1";
/// The correlation id of the seeded history.
pub(crate) const SEEDED_CORRELATION: &str = "seeded";
/// The idempotency key the seeded history was stored with.
pub(crate) const SEEDED_KEY: &str = "seeded-key";
/// Most events one command may produce here (the logic can return more).
pub(crate) const MAX_EVENTS: usize = 2;

/// A current-thread runtime with timers (the gateway's outboxes and tails use them).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime can always be built")
}

/// A type URL of the fuzz logic's messages.
pub(crate) fn type_url(name: &str) -> String {
    format!("type.googleapis.com/fuzz.{name}")
}

/// A cover of `root` in the domain served.
pub(crate) fn cover(root: u128, edition: &str) -> Cover {
    Cover {
        root: Some(angzarr_proto::Uuid::from_uuid(uuid::Uuid::from_u128(root))),
        domain: DOMAIN.into(),
        correlation_id: String::new(),
        edition: edition.into(),
    }
}

/// A command of type `fuzz.<name>` with `value` to `root` (see [`FuzzLogic`] for what the
/// name and value make the logic do).
pub(crate) fn command(root: u128, name: &str, value: &[u8], key: &str) -> CommandBook {
    CommandBook {
        cover: Some(cover(root, "")),
        pages: vec![CommandPage {
            sequence: None,
            command: Some(Any {
                type_url: type_url(name),
                value: value.to_vec(),
            }),
        }],
        idempotency_key: key.into(),
        ..Default::default()
    }
}

/// Business logic decided by the first command: `...Reject` is refused, `...Down` is
/// unavailable, `...Fault` returns an event without a type; anything else emits
/// `value.len() % 4` events (more than [`MAX_EVENTS`] is the logic's fault) carrying the
/// value, and offers its state for a snapshot when the value's length is odd.
#[derive(Debug)]
pub(crate) struct FuzzLogic;

#[async_trait]
impl AggregateLogic for FuzzLogic {
    fn component(&self) -> &str {
        "fuzz-logic"
    }

    async fn handle(&self, command: ContextualCommand) -> Result<EventBook> {
        let any = command
            .command
            .and_then(|book| book.pages.into_iter().next())
            .and_then(|page| page.command)
            .unwrap_or_default();
        if any.type_url.ends_with("Reject") {
            return Err(Error::Rejected {
                code: tonic::Code::FailedPrecondition,
                message: "the fuzz logic refuses this".into(),
            });
        }
        if any.type_url.ends_with("Down") {
            return Err(Error::Unavailable {
                component: "fuzz-logic".into(),
                reason: "it is down".into(),
            });
        }
        let page = |event: Option<Any>| EventPage {
            event,
            ..Default::default()
        };
        if any.type_url.ends_with("Fault") {
            return Ok(EventBook {
                pages: vec![page(None)],
                ..Default::default()
            });
        }
        let event = Any {
            type_url: type_url("Happened"),
            value: any.value.clone(),
        };
        Ok(EventBook {
            pages: (0..any.value.len() % 4)
                .map(|_| page(Some(event.clone())))
                .collect(),
            snapshot_state: (any.value.len() % 2 == 1).then(|| Any {
                type_url: type_url("State"),
                value: any.value,
            }),
            ..Default::default()
        })
    }
}

/// The runtime one input runs against.
pub(crate) struct System {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) coordinator: Arc<AggregateCoordinator>,
    pub(crate) gateway: GatewayService,
    /// Turning it true ends every live stream (with `UNAVAILABLE`).
    pub(crate) shutdown: watch::Sender<bool>,
}

impl System {
    /// A fresh system: the seeded history (three events of [`SEEDED_ROOT`], the last with
    /// idempotency key [`SEEDED_KEY`]) and its edition [`EDITION`].
    pub(crate) async fn start() -> Self {
        Self::start_with(None).await
    }

    /// [`start`](Self::start) with `subscriber` running (its delivery worker has handled the
    /// seeded history when this returns).
    pub(crate) async fn start_with_subscriber(subscriber: Arc<dyn Subscriber>) -> Self {
        Self::start_with(Some(subscriber)).await
    }

    async fn start_with(subscriber: Option<Arc<dyn Subscriber>>) -> Self {
        let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
        seed(&*store).await;
        let bus = Arc::new(ChannelBus::new(64));
        let (shutdown, stop) = watch::channel(false);
        let mut subscribers = Vec::new();
        if let Some(subscriber) = subscriber {
            let (handle, _worker) = delivery::spawn(
                subscriber,
                store.clone(),
                &*bus,
                Arc::new(SyncRegistry::default()),
                DeliveryOptions::default(),
                stop.clone(),
            );
            let head = store
                .head_position()
                .await
                .expect("the memory store answers");
            let caught_up = handle
                .wait_for(head, tokio::time::Instant::now() + Duration::from_secs(10))
                .await;
            assert!(
                caught_up,
                "the subscriber did not handle the seeded history"
            );
            subscribers.push(handle);
        }
        let publisher = Arc::new(
            OrderedPublisher::new(bus.clone(), store.clone())
                .await
                .expect("the memory store answers"),
        );
        let coordinator = Arc::new(AggregateCoordinator::new(
            DOMAIN,
            store.clone(),
            publisher,
            Arc::new(FuzzLogic),
            AggregateOptions {
                snapshot_every: 2,
                max_conflict_retries: 2,
                max_events_per_command: MAX_EVENTS,
                history_cache_bytes: 1 << 20,
            },
        ));
        let router = Arc::new(CommandRouter::new([coordinator.clone()]));
        let dispatcher = Arc::new(Dispatcher::new(
            router,
            subscribers,
            Arc::new(SyncRegistry::default()),
            Duration::from_secs(1),
        ));
        let gateway = GatewayService::new(
            dispatcher,
            store.clone(),
            bus,
            BTreeSet::from([DOMAIN.to_string()]),
            GatewayOptions {
                stream_buffer: 4,
                ..GatewayOptions::default()
            },
            stop,
        );
        Self {
            store,
            coordinator,
            gateway,
            shutdown,
        }
    }

    /// A subscriber's checkpoint.
    pub(crate) async fn checkpoint(&self, subscriber: &str) -> u64 {
        self.store
            .checkpoint(subscriber)
            .await
            .expect("the memory store answers")
    }

    /// Everything a client could observe of the store, for "a refusal changes nothing".
    pub(crate) async fn state(&self, idempotency_keys: &[&str]) -> StoreState {
        let store = &*self.store;
        let log = store
            .read_global(0, usize::MAX)
            .await
            .expect("the memory store answers");
        let mut keys: Vec<HistoryKey> = log.iter().map(|e| e.key.clone()).collect();
        keys.sort();
        keys.dedup();
        let mut snapshots = Vec::new();
        for key in keys {
            let snapshot = store.get_snapshot(&key).await.expect("memory store");
            snapshots.push((key, snapshot));
        }
        let mut idempotency = Vec::new();
        for key in idempotency_keys.iter().chain([&SEEDED_KEY]) {
            let record = store.idempotency(key).await.expect("memory store");
            idempotency.push(record);
        }
        StoreState {
            head: store.head_position().await.expect("memory store"),
            editions: store.list_editions(None, None).await.expect("memory store"),
            log,
            snapshots,
            idempotency,
        }
    }
}

/// What [`System::state`] observes.
#[derive(Debug, PartialEq)]
pub(crate) struct StoreState {
    pub(crate) head: u64,
    pub(crate) log: Vec<StoredEvent>,
    pub(crate) editions: Vec<Edition>,
    pub(crate) snapshots: Vec<(HistoryKey, Option<angzarr_proto::Snapshot>)>,
    pub(crate) idempotency: Vec<Option<IdempotencyRecord>>,
}

async fn seed(store: &dyn EventStore) {
    let key = HistoryKey::main(DOMAIN, uuid::Uuid::from_u128(SEEDED_ROOT));
    let event = |n: u8| NewEvent {
        event: Any {
            type_url: type_url("Happened"),
            value: vec![n],
        },
        causation: None,
    };
    store
        .append(AppendRequest {
            key: key.clone(),
            expected_next: 0,
            correlation_id: SEEDED_CORRELATION.into(),
            events: vec![event(0), event(1), event(2)],
            snapshot: None,
            idempotency: Some(IdempotencyRecord {
                key: SEEDED_KEY.into(),
                command_hash: vec![0; 32],
                history: key.clone(),
                first_sequence: 0,
                event_count: 3,
                correlation_id: SEEDED_CORRELATION.into(),
            }),
            checkpoint: None,
        })
        .await
        .expect("seeding an empty store");
    store
        .create_edition(&key.with_edition(EDITION), 1)
        .await
        .expect("creating the seeded edition");
}

/// Reads `stream` to its end: what it yields without waiting, then (once it would wait for
/// something new in the log) after shutting live streams down, which ends them. At most
/// `limit` items are kept; panics if the stream does not end after the shutdown.
pub(crate) async fn drain<T, S>(
    stream: S,
    shutdown: &watch::Sender<bool>,
    limit: usize,
) -> Vec<std::result::Result<T, tonic::Status>>
where
    S: Stream<Item = std::result::Result<T, tonic::Status>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut items = Vec::new();
    let mut idle = 0u32;
    loop {
        match stream.next().now_or_never() {
            Some(Some(item)) => {
                idle = 0;
                if items.len() < limit {
                    items.push(item);
                }
            }
            Some(None) => return items,
            None => {
                idle += 1;
                if idle == 64 {
                    let _ = shutdown.send(true);
                }
                assert!(
                    idle < 10_000,
                    "a stream did not end after the runtime shut down"
                );
                tokio::task::yield_now().await;
            }
        }
    }
}
