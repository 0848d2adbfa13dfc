//! The conformance suite every [`EventBus`] adapter runs (DESIGN.md §2.7).
//!
//! A bus is only a fast path, but subscribers still rely on what it promises: batches of one
//! publisher arrive in the order they were published, a filtered subscription never sees what
//! it did not ask for, a slow or vanished subscriber never holds up a publisher, and a
//! subscriber that fell behind is told so (then recovers from the store). An adapter crate
//! implements [`BusFactory`] and runs the suite with one line in its tests:
//!
//! ```text
//! angzarr_runtime::event_bus_conformance!(MyFactory::default());
//! ```
//!
//! The macro expands into a module `event_bus_conformance` with one `#[tokio::test]` per case.
//! To add a case, write an `async fn name(factory: &impl BusFactory)` here and add its name to
//! the list in the macro.

use std::sync::Arc;
use std::time::Duration;

use angzarr_proto::Target;
use async_trait::async_trait;
use prost_types::{Any, Timestamp};
use tokio::time::Instant;
use uuid::Uuid;

use super::{BusMessage, BusReceiver, EventBatch, EventBus};
use crate::storage::{HistoryKey, StoredEvent};
use crate::subscription::EventFilter;

/// Makes the bus under test.
#[async_trait]
pub trait BusFactory: Send + Sync {
    /// A fresh bus whose subscribers each buffer about `capacity` batches before they lag
    /// (adapters may add what their transport buffers on top, e.g. a pipe's kernel buffer).
    async fn bus(&self, capacity: usize) -> Arc<dyn EventBus>;
}

/// Runs every bus conformance case against a factory expression, as one `#[tokio::test]` per
/// case inside a module `event_bus_conformance`.
#[macro_export]
macro_rules! event_bus_conformance {
    ($factory:expr) => {
        $crate::event_bus_conformance!(@cases $factory;
            batches_arrive_in_publish_order_at_every_subscriber,
            a_filtered_subscriber_only_sees_what_it_asked_for,
            a_slow_subscriber_lags_without_blocking_the_publisher_and_then_catches_up,
            a_vanished_subscriber_never_blocks_the_publisher_or_the_others,
            publishing_without_subscribers_is_fine,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        mod event_bus_conformance {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let factory = $factory;
                    $crate::bus::conformance::$case(&factory).await;
                }
            )+
        }
    };
}

/// How long a case waits for a message that must come.
const WAIT: Duration = Duration::from_secs(10);

/// An event of `domain` with type `examples.<type_name>` at `position`.
fn event(domain: &str, type_name: &str, position: u64) -> StoredEvent {
    StoredEvent {
        key: HistoryKey::main(domain, Uuid::from_u128(u128::from(position % 7))),
        sequence: u32::try_from(position).unwrap_or(u32::MAX),
        position,
        created_at: Timestamp::default(),
        event: Any {
            type_url: format!("type.googleapis.com/examples.{type_name}"),
            value: position.to_be_bytes().to_vec(),
        },
        correlation_id: format!("corr-{position}"),
        causation: None,
    }
}

fn batch(events: Vec<StoredEvent>) -> EventBatch {
    events.into()
}

/// The next message, failing the case after [`WAIT`].
async fn next(receiver: &mut Box<dyn BusReceiver>, what: &str) -> BusMessage {
    match tokio::time::timeout(WAIT, receiver.recv()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("the bus closed while waiting for {what}"),
        Err(_) => panic!("nothing arrived within {WAIT:?} while waiting for {what}"),
    }
}

/// Receives until the events up to `last` have arrived; returns every position seen.
async fn positions_until(receiver: &mut Box<dyn BusReceiver>, last: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.last().copied() != Some(last) {
        match next(receiver, &format!("position {last}")).await {
            BusMessage::Events(batch) => seen.extend(batch.iter().map(|e| e.position)),
            BusMessage::Lagged(_) => panic!("a subscriber that keeps up must not lag"),
        }
    }
    seen
}

/// Reads until `receiver` has seen the last position published (whether or not it lagged on
/// the way; a lag is reported, never silent); returns whether it lagged. When it goes quiet
/// before that (a bus may drop the newest batches of a full subscriber), one more batch is
/// published, which must reach it: after a lag, what comes next still arrives.
async fn read_through_lags(
    bus: &dyn EventBus,
    receiver: &mut Box<dyn BusReceiver>,
    published: u64,
) -> bool {
    const QUIET: Duration = Duration::from_millis(200);
    let (mut last, mut newest, mut lagged) = (0, published, false);
    while last < newest {
        match tokio::time::timeout(QUIET, receiver.recv()).await {
            Ok(Some(BusMessage::Events(batch))) => {
                for e in batch.iter() {
                    assert!(
                        e.position > last,
                        "batches out of order: {} after {last}",
                        e.position
                    );
                    last = e.position;
                }
            }
            Ok(Some(BusMessage::Lagged(_))) => lagged = true,
            Ok(None) => panic!("the bus closed while waiting for position {newest}"),
            Err(_) => {
                // Publishing inside the loop on every lag would push out, on a full ring, the
                // very batch the subscriber is about to read; probe only when it is quiet.
                assert!(
                    newest < published + 50,
                    "nothing new arrived after {} probes (last seen {last})",
                    newest - published
                );
                newest += 1;
                bus.publish(batch(vec![event("order", "Happened", newest)]));
            }
        }
    }
    lagged
}

/// Publishes `count` batches and fails the case if that takes long: publishing never waits
/// for subscribers.
fn publish_quickly(bus: &dyn EventBus, batches: impl IntoIterator<Item = EventBatch>) {
    let started = Instant::now();
    for batch in batches {
        bus.publish(batch);
    }
    assert!(
        started.elapsed() < WAIT,
        "publishing took {:?}: a publisher must never wait for subscribers",
        started.elapsed()
    );
}

/// Two subscribers of one bus see every batch, in publish order, whatever its domain.
pub async fn batches_arrive_in_publish_order_at_every_subscriber(factory: &impl BusFactory) {
    let bus = factory.bus(1024).await;
    let mut a = bus.subscribe();
    let mut b = bus.subscribe();
    let domains = ["order", "cart", "fulfillment"];
    let batches = (1..=300u64).map(|p| {
        let domain = domains[(p % 3) as usize];
        batch(vec![event(domain, "Happened", p)])
    });
    publish_quickly(&*bus, batches.collect::<Vec<_>>());
    let expected: Vec<u64> = (1..=300).collect();
    assert_eq!(positions_until(&mut a, 300).await, expected);
    assert_eq!(positions_until(&mut b, 300).await, expected);
}

/// A subscription to some domains and types gets exactly those events, trimmed out of mixed
/// batches, and nothing of batches without any.
pub async fn a_filtered_subscriber_only_sees_what_it_asked_for(factory: &impl BusFactory) {
    let bus = factory.bus(1024).await;
    let filter = EventFilter::from_targets(&[
        Target {
            editions: Vec::new(),
            domain: "order".into(),
            types: vec!["OrderCreated".into()],
        },
        Target {
            editions: Vec::new(),
            domain: "cart".into(),
            types: vec![],
        },
    ]);
    let mut filtered = bus.subscribe_to(filter.clone());
    let mut everything = bus.subscribe();
    let mut published = Vec::new();
    for p in 1..=200u64 {
        let (domain, type_name) = match p % 4 {
            0 => ("order", "OrderCreated"),
            1 => ("order", "OrderPaid"),
            2 => ("cart", "ItemAdded"),
            _ => ("fulfillment", "Shipped"),
        };
        published.push(event(domain, type_name, p));
    }
    // Mixed batches of four, and one batch with nothing wanted at the end.
    let mut batches: Vec<EventBatch> = published.chunks(4).map(|c| batch(c.to_vec())).collect();
    batches.push(batch(vec![event("fulfillment", "Shipped", 201)]));
    publish_quickly(&*bus, batches);
    let wanted: Vec<u64> = published
        .iter()
        .filter(|e| filter.matches(e))
        .map(|e| e.position)
        .collect();
    let last = *wanted.last().expect("some wanted events");
    let seen = positions_until(&mut filtered, last).await;
    assert_eq!(seen, wanted, "the filtered subscriber saw other events");
    // The unwanted last batch went to the unfiltered subscriber only: once it has it, the
    // filtered one has had every chance to receive it too.
    positions_until(&mut everything, 201).await;
    bus.publish(batch(vec![event("cart", "ItemAdded", 202)]));
    match next(&mut filtered, "position 202").await {
        BusMessage::Events(batch) => {
            let positions: Vec<u64> = batch.iter().map(|e| e.position).collect();
            assert_eq!(
                positions,
                [202],
                "an unwanted batch reached a filtered subscriber"
            );
        }
        BusMessage::Lagged(_) => panic!("a subscriber that keeps up must not lag"),
    }
}

/// A subscriber that reads nothing while thousands of batches are published: publishing does
/// not wait; the subscriber is told it lagged, never gets batches out of order, and receives
/// what is published once it reads again.
pub async fn a_slow_subscriber_lags_without_blocking_the_publisher_and_then_catches_up(
    factory: &impl BusFactory,
) {
    let bus = factory.bus(4).await;
    let mut slow = bus.subscribe();
    let mut fast = bus.subscribe();
    // Enough bytes to fill any pipe or socket buffer on top of the subscriber's own.
    let payload = "x".repeat(1024);
    let count = 20_000u64;
    let mut fast_seen = 0u64;
    for p in 1..=count {
        let mut e = event("order", "Happened", p);
        e.correlation_id = payload.clone();
        publish_quickly(&*bus, [batch(vec![e])]);
        // The fast subscriber keeps up now and then (drained without waiting).
        if p % 256 == 0 {
            while let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_millis(1), fast.recv()).await
            {
                if let BusMessage::Events(batch) = message {
                    fast_seen = batch.last().map_or(fast_seen, |e| e.position);
                }
            }
        }
    }
    let lagged = read_through_lags(&*bus, &mut slow, count).await;
    assert!(
        lagged,
        "a subscriber that read nothing of {count} batches was not told it lagged"
    );
    assert!(
        fast_seen > 0,
        "the other subscriber received nothing meanwhile"
    );
}

/// A subscriber that goes away (its receiver dropped) changes nothing for the others.
pub async fn a_vanished_subscriber_never_blocks_the_publisher_or_the_others(
    factory: &impl BusFactory,
) {
    let bus = factory.bus(8).await;
    let gone = bus.subscribe();
    let mut stays = bus.subscribe();
    bus.publish(batch(vec![event("order", "Happened", 1)]));
    drop(gone);
    publish_quickly(
        &*bus,
        (2..=2000u64)
            .map(|p| batch(vec![event("order", "Happened", p)]))
            .collect::<Vec<_>>(),
    );
    // It reads after the fact, so it may lag; then what is published next reaches it.
    read_through_lags(&*bus, &mut stays, 2000).await;
}

/// Publishing with nobody listening neither fails nor blocks, and a later subscriber gets
/// what is published after it subscribed.
pub async fn publishing_without_subscribers_is_fine(factory: &impl BusFactory) {
    let bus = factory.bus(4).await;
    publish_quickly(
        &*bus,
        (1..=100u64)
            .map(|p| batch(vec![event("order", "Happened", p)]))
            .collect::<Vec<_>>(),
    );
    let mut late = bus.subscribe();
    bus.publish(batch(vec![event("order", "Happened", 101)]));
    match next(&mut late, "position 101").await {
        BusMessage::Events(batch) => {
            let positions: Vec<u64> = batch.iter().map(|e| e.position).collect();
            assert_eq!(positions, [101]);
        }
        BusMessage::Lagged(_) => panic!("nothing was missed after subscribing"),
    }
}
