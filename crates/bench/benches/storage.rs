//! Micro-benchmarks of the SQLite event store through the runtime's `EventStore` trait:
//! appends of 1, 10 and 100 events per call (durable, `synchronous = FULL`), and loads of
//! 10, 1 000 and 100 000-event histories with and without their snapshot.
//!
//! `cargo bench -p angzarr-bench --bench storage`

use std::hint::black_box;

use angzarr_bench::fixtures::{EventFactory, build_history};
use angzarr_bench::sqlite::open_store;
use angzarr_runtime::storage::{EventStore, LoadOptions};
use angzarr_storage_sqlite::Durability;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    Runtime::new().expect("tokio runtime")
}

fn append(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(&dir.path().join("append.db"), Durability::Full).expect("store");
    let mut group = c.benchmark_group("append");
    for batch in [1usize, 10, 100] {
        // A fresh range of aggregates per batch size, so sequences always line up.
        let mut factory = EventFactory::new(batch * 10_000, 1_000, 64);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            b.iter(|| {
                let request = factory.next_request(batch);
                rt.block_on(store.append(request)).expect("append")
            });
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    // Durability does not change reads; `Normal` only makes the 100 000-event setup faster.
    let store = open_store(&dir.path().join("load.db"), Durability::Normal).expect("store");
    let histories: Vec<_> = [10u32, 1_000, 100_000]
        .into_iter()
        .enumerate()
        .map(|(index, events)| {
            let key = rt
                .block_on(build_history(&store, index, events, 1_000))
                .expect("history");
            (events, key)
        })
        .collect();
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    for (events, key) in &histories {
        for use_snapshot in [false, true] {
            let name = if use_snapshot { "snapshot" } else { "full" };
            group.throughput(Throughput::Elements(u64::from(*events)));
            group.bench_with_input(BenchmarkId::new(name, events), key, |b, key| {
                b.iter(|| {
                    let loaded = rt
                        .block_on(store.load(key, LoadOptions { use_snapshot }))
                        .expect("load");
                    black_box(loaded)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, append, load);
criterion_main!(benches);
