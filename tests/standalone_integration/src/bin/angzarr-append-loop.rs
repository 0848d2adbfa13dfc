//! The victim of the SQLite crash test (`tests/standalone/crash.rs`): appends through
//! `SqliteEventStore` (`synchronous = FULL`) from several writers at once, forever, and prints
//! a line for every acknowledged append, until it is killed.
//!
//! `angzarr-append-loop <database file> <writers>`. Writer `w` owns the aggregate
//! `crash/<w + 1>`: it reads where its history stands, then appends one to three events at a
//! time, each carrying `<w>:<sequence>` and the append an idempotency key, and after each
//! `Ok` prints `ack <w> <first sequence> <count> <first position>` (flushed before it goes
//! on). A line that is printed was acknowledged; the test checks each one survived.

use std::io::Write;
use std::sync::Arc;

use angzarr_runtime::storage::{
    AppendRequest, EventStore, HistoryKey, IdempotencyRecord, LoadOptions, NewEvent,
};
use angzarr_storage_sqlite::{Durability, SqliteEventStore, SqliteOptions};
use uuid::Uuid;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(writers)) = (args.next(), args.next()) else {
        return Err("usage: angzarr-append-loop <database file> <writers>".into());
    };
    let writers: u32 = writers.parse()?;
    let options = SqliteOptions::new(path).with_durability(Durability::Full);
    let store = Arc::new(SqliteEventStore::open(options)?);
    let tasks: Vec<_> = (0..writers)
        .map(|writer| tokio::spawn(append_forever(store.clone(), writer)))
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The history writer `w` appends to.
fn history(writer: u32) -> HistoryKey {
    HistoryKey::main("crash", Uuid::from_u128(u128::from(writer) + 1))
}

async fn append_forever(store: Arc<SqliteEventStore>, writer: u32) -> Result<(), Failure> {
    let key = history(writer);
    let mut next = store
        .load(&key, LoadOptions::default())
        .await?
        .next_sequence;
    loop {
        let count = 1 + next % 3;
        let events = (next..next + count)
            .map(|sequence| NewEvent {
                event: prost_types::Any {
                    type_url: "type.googleapis.com/test.Appended".into(),
                    value: format!("{writer}:{sequence}").into_bytes(),
                },
                causation: None,
            })
            .collect();
        let committed = store
            .append(AppendRequest {
                key: key.clone(),
                expected_next: next,
                correlation_id: format!("crash-{writer}"),
                events,
                snapshot: None,
                idempotency: Some(IdempotencyRecord {
                    key: format!("crash-{writer}-{next}"),
                    command_hash: vec![],
                    history: key.clone(),
                    first_sequence: next,
                    event_count: count,
                    correlation_id: format!("crash-{writer}"),
                }),
                checkpoint: None,
            })
            .await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "ack {writer} {next} {count} {}", committed[0].position)?;
        out.flush()?;
        next += count;
    }
}
