//! The IPC bus passes the bus conformance suite every adapter runs (DESIGN.md §2.7), through
//! the same framing, per-subscriber queues and writer tasks that serve other processes; and
//! over a real local socket, a subscriber of another process gets only what it asked for.

use std::sync::Arc;
use std::time::Duration;

use angzarr_bus_ipc::IpcBus;
use angzarr_bus_ipc::frame::{Body, Hello, stored_events};
use angzarr_bus_ipc::remote::connect;
use angzarr_proto::Target;
use angzarr_runtime::bus::EventBus;
use angzarr_runtime::bus::conformance::BusFactory;
use angzarr_runtime::storage::{HistoryKey, StoredEvent};
use async_trait::async_trait;
use tokio::sync::watch;

struct Ipc;

#[async_trait]
impl BusFactory for Ipc {
    async fn bus(&self, capacity: usize) -> Arc<dyn EventBus> {
        Arc::new(IpcBus::new("conformance", 0, capacity))
    }
}

angzarr_runtime::event_bus_conformance!(Ipc);

fn event(domain: &str, type_name: &str, position: u64) -> StoredEvent {
    StoredEvent {
        key: HistoryKey::main(domain, uuid::Uuid::from_u128(u128::from(position))),
        sequence: 0,
        position,
        created_at: prost_types::Timestamp::default(),
        event: prost_types::Any {
            type_url: format!("type.googleapis.com/examples.{type_name}"),
            value: vec![],
        },
        correlation_id: String::new(),
        causation: None,
    }
}

fn hello(protocol: u32) -> Hello {
    Hello {
        protocol,
        subscriber: "test/projector".into(),
        targets: vec![
            Target {
                domain: "order".into(),
                types: vec!["OrderCreated".into()],
                ..Target::default()
            },
            Target {
                domain: "cart".into(),
                ..Target::default()
            },
        ],
        all: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_over_the_socket_receives_only_the_domains_and_types_it_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("p.bus.sock");
    // Room for every frame: this test is about filtering, not lagging.
    let bus = IpcBus::new("publisher", 0, 1024);
    let (stop_tx, stop) = watch::channel(false);
    let server = bus.serve(&socket, stop).expect("serve");
    bus.publish(vec![event("order", "OrderCreated", 1)].into());
    let (mut reader, head) = connect(&socket, &hello(angzarr_bus_ipc::PROTOCOL_VERSION))
        .await
        .expect("subscribe");
    assert_eq!(head, 1, "the welcome names the last position published");

    let kinds = [
        ("order", "OrderCreated"),
        ("order", "OrderPaid"),
        ("cart", "ItemAdded"),
        ("fulfillment", "Shipped"),
    ];
    let published: Vec<StoredEvent> = (2..=401u64)
        .map(|p| {
            let (domain, type_name) = kinds[(p % 4) as usize];
            event(domain, type_name, p)
        })
        .collect();
    for batch in published.chunks(3) {
        bus.publish(batch.to_vec().into());
    }
    let wanted: Vec<u64> = published
        .iter()
        .filter(|e| {
            e.key.domain == "cart"
                || (e.key.domain == "order" && e.event.type_url.ends_with("OrderCreated"))
        })
        .map(|e| e.position)
        .collect();
    let mut received = Vec::new();
    while received.last() != wanted.last() {
        let frame = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .expect("a frame in time")
            .expect("a readable frame")
            .expect("the connection stays open");
        match frame.body {
            Some(Body::Events(events)) => {
                for e in stored_events(events).expect("events") {
                    received.push(e.position);
                }
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!(
        received, wanted,
        "only what the subscriber asked for, in order"
    );
    stop_tx.send(true).expect("stop");
    server.await.expect("the listener stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_of_another_protocol_version_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("p.bus.sock");
    let bus = IpcBus::new("publisher", 0, 64);
    let (_stop_tx, stop) = watch::channel(false);
    let _server = bus.serve(&socket, stop).expect("serve");
    let err = connect(&socket, &hello(angzarr_bus_ipc::PROTOCOL_VERSION + 1))
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("refused") && text.contains("protocol version"),
        "{text}"
    );
}
