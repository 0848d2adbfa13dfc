//! The store's filters of stored idempotency keys and histories: a new key or a new history is
//! answered from memory, anything stored (before or since opening) is still found, and only
//! one store may have the file open, since the filters see only its own writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_runtime::storage::{
    AppendRequest, EventStore, HistoryKey, IdempotencyRecord, LoadOptions, NewEvent,
};
use angzarr_storage_sqlite::{Error, SqliteEventStore, SqliteOptions};
use prost_types::Any;
use uuid::Uuid;

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("events.db")
}

fn open(path: &Path) -> SqliteEventStore {
    SqliteEventStore::open(SqliteOptions::new(path)).expect("open the store")
}

/// Waits (at most 10 s) for the filters and asserts they loaded.
async fn loaded(store: &SqliteEventStore) {
    let loaded = tokio::time::timeout(Duration::from_secs(10), store.known_keys_loaded())
        .await
        .expect("the key filters took more than 10 s to load");
    assert!(loaded, "the key filters never loaded");
    assert!(store.knows_stored_keys());
}

/// Appends one event to `key` at `expected_next`, recorded under `idempotency_key`.
async fn append(store: &SqliteEventStore, key: &HistoryKey, expected_next: u32, command: &str) {
    store
        .append(AppendRequest {
            key: key.clone(),
            expected_next,
            correlation_id: format!("correlation-{command}"),
            events: vec![NewEvent {
                event: Any {
                    type_url: "type.googleapis.com/test.Happened".into(),
                    value: command.as_bytes().to_vec(),
                },
                causation: None,
            }],
            snapshot: None,
            idempotency: Some(IdempotencyRecord {
                key: command.into(),
                command_hash: vec![1, 2, 3],
                history: key.clone(),
                first_sequence: expected_next,
                event_count: 1,
                correlation_id: format!("correlation-{command}"),
            }),
            checkpoint: None,
        })
        .await
        .expect("append");
}

fn history(n: u128) -> HistoryKey {
    HistoryKey::main("known", Uuid::from_u128(n + 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_and_a_new_history_are_answered_without_a_read() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = open(&db(&dir));
    loaded(&store).await;
    let fresh = history(7);
    let before = store.reads();

    assert_eq!(
        store.idempotency("never-used").await.expect("look up"),
        None
    );
    let loaded_history = store
        .load(&fresh, LoadOptions::default())
        .await
        .expect("load");
    assert_eq!(loaded_history.next_sequence, 0);
    assert!(loaded_history.events.is_empty() && loaded_history.snapshot.is_none());
    let (record, both) = store
        .load_with_idempotency(&fresh, LoadOptions::default(), "never-used")
        .await
        .expect("load with the key");
    assert_eq!((record, both), (None, loaded_history));
    assert_eq!(
        store.reads(),
        before,
        "nothing was read for what cannot exist"
    );

    append(&store, &fresh, 0, "first").await;
    let record = store.idempotency("first").await.expect("look up");
    assert_eq!(record.map(|r| r.first_sequence), Some(0));
    let after_append = store
        .load(&fresh, LoadOptions::default())
        .await
        .expect("load");
    assert_eq!(after_append.next_sequence, 1);
    assert_eq!(after_append.events.len(), 1);
    assert_eq!(store.reads(), before + 2, "what is stored is read");

    // An edition shares main's events, so its history is always read.
    let edition = HistoryKey {
        edition: "what-if".into(),
        ..history(8)
    };
    store
        .load(&edition, LoadOptions::default())
        .await
        .expect("load the edition");
    assert_eq!(store.reads(), before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_stored_before_opening_is_found_after_the_scan() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = open(&db(&dir));
    for n in 0..300 {
        append(&store, &history(n), 0, &format!("command-{n}")).await;
    }
    store.close().await;
    drop(store);

    let store = open(&db(&dir));
    loaded(&store).await;
    for n in 0..300 {
        let record = store
            .idempotency(&format!("command-{n}"))
            .await
            .expect("look up");
        assert_eq!(record.map(|r| r.history), Some(history(n)), "command-{n}");
        let (record, loaded_history) = store
            .load_with_idempotency(&history(n), LoadOptions::default(), "a-new-key")
            .await
            .expect("load");
        assert_eq!(record, None);
        assert_eq!(loaded_history.next_sequence, 1, "history {n}");
    }
    let before = store.reads();
    assert_eq!(store.idempotency("a-new-key").await.expect("look up"), None);
    assert_eq!(
        store
            .load(&history(300), LoadOptions::default())
            .await
            .expect("load")
            .next_sequence,
        0
    );
    assert!(
        store.reads() <= before + 1,
        "new keys are answered from memory (one false positive allowed)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_on_the_same_file_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let first = open(&db(&dir));
    append(&first, &history(1), 0, "kept").await;

    match SqliteEventStore::open(SqliteOptions::new(db(&dir))) {
        Err(err @ Error::InUse { .. }) => {
            let message = err.to_string();
            assert!(message.contains("events.db"), "{message}");
            assert!(message.contains("in use"), "{message}");
        }
        other => panic!("a second store opened the file: {other:?}"),
    }
    // The refused open changed nothing.
    assert_eq!(
        first
            .load(&history(1), LoadOptions::default())
            .await
            .expect("load")
            .next_sequence,
        1
    );

    drop(first);
    let second = open(&db(&dir));
    loaded(&second).await;
    assert!(second.idempotency("kept").await.expect("look up").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_filters_off_every_question_reads() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = SqliteEventStore::open(SqliteOptions::new(db(&dir)).with_known_keys_bytes(0))
        .expect("open the store");
    assert!(!store.known_keys_loaded().await);
    assert!(!store.knows_stored_keys());
    let before = store.reads();
    assert_eq!(
        store.idempotency("never-used").await.expect("look up"),
        None
    );
    store
        .load(&history(1), LoadOptions::default())
        .await
        .expect("load");
    assert_eq!(store.reads(), before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_store_knows_its_keys_at_once() {
    let store = SqliteEventStore::open(SqliteOptions::in_memory()).expect("open :memory:");
    assert!(store.knows_stored_keys(), "a new database holds nothing");
    let before = store.reads();
    assert_eq!(
        store.idempotency("never-used").await.expect("look up"),
        None
    );
    assert_eq!(store.reads(), before);
    append(&store, &history(1), 0, "used").await;
    assert!(store.idempotency("used").await.expect("look up").is_some());
    // Two in-memory stores are two databases: no lock between them.
    let other = SqliteEventStore::open(SqliteOptions::in_memory()).expect("open :memory:");
    assert_eq!(other.idempotency("used").await.expect("look up"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_past_their_capacity_report_it_and_still_find_everything() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let small = || {
        let mut options = SqliteOptions::new(db(&dir));
        // 2 048 bits per filter: about 204 items at 1% false positives.
        options.known_keys_bytes = 512;
        options
    };
    let store = SqliteEventStore::open(small()).expect("open the store");
    loaded(&store).await;
    let empty = store.known_keys_fill().expect("filters on");
    assert_eq!(
        (empty.idempotency_keys, empty.histories, empty.capacity),
        (0, 0, 204)
    );
    for n in 0..300 {
        append(&store, &history(n), 0, &format!("command-{n}")).await;
    }
    // A retry's key and a second event of a history are not new to the filters.
    append(&store, &history(0), 1, "command-0-again").await;
    let full = store.known_keys_fill().expect("filters on");
    for (what, added) in [
        ("keys", full.idempotency_keys),
        ("histories", full.histories),
    ] {
        // A false positive on insert is not counted: a few fewer than 300 (301 keys).
        assert!(
            (full.capacity..=301).contains(&added),
            "{what}: {added} added, capacity {}",
            full.capacity
        );
    }

    // Past capacity nothing is lost: every key and history is found, now and after reopening.
    drop(store);
    let store = SqliteEventStore::open(small()).expect("reopen the store");
    loaded(&store).await;
    let scanned = store.known_keys_fill().expect("filters on");
    assert!(scanned.histories > scanned.capacity, "{scanned:?}");
    for n in 0..300 {
        let record = store
            .idempotency(&format!("command-{n}"))
            .await
            .expect("look up")
            .expect("a stored key is found");
        assert_eq!(record.history, history(n));
        let loaded = store
            .load(&history(n), LoadOptions::default())
            .await
            .expect("load");
        assert_eq!(loaded.next_sequence, if n == 0 { 2 } else { 1 });
    }
}
