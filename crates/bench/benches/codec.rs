//! Micro-benchmark of protobuf encoding and decoding of an `EventBook` of 100 pages (the
//! shape the runtime hands the business logic and returns to clients).
//!
//! `cargo bench -p angzarr-bench --bench codec`

use std::hint::black_box;

use angzarr_bench::fixtures::{DOMAIN, EventFactory};
use angzarr_proto::EventBook;
use angzarr_runtime::storage::{StoredEvent, event_book};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use prost_types::Timestamp;

/// A book of `pages` stored events of one aggregate, as the store would return them.
fn book(pages: usize) -> EventBook {
    let request = EventFactory::new(0, 1, 64).next_request(pages);
    let events: Vec<StoredEvent> = (0u32..)
        .zip(&request.events)
        .map(|(sequence, event)| StoredEvent {
            key: request.key.clone(),
            sequence,
            position: u64::from(sequence) + 1,
            created_at: Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            },
            event: event.event.clone(),
            correlation_id: request.correlation_id.clone(),
            causation: event.causation.clone(),
        })
        .collect();
    assert_eq!(request.key.domain, DOMAIN);
    event_book(&request.key, &request.correlation_id, &events)
}

fn codec(c: &mut Criterion) {
    let book = book(100);
    let bytes = book.encode_to_vec();
    let mut group = c.benchmark_group("event_book_100_pages");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&book).encode_to_vec()));
    group.bench_function("decode", |b| {
        b.iter(|| EventBook::decode(black_box(bytes.as_slice())).expect("decode"))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
