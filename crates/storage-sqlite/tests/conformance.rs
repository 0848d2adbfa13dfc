//! The SQLite event store: the shared conformance suite, then what only SQLite has (WAL,
//! durability pragmas, group commit, schema checks, `:memory:`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use angzarr_runtime::storage::conformance::{self, StoreFactory};
use angzarr_runtime::storage::{
    AppendRequest, Checkpoint, EventStore, HistoryKey, LoadOptions, NewEvent, StorageError,
    StoredEvent,
};
use angzarr_storage_sqlite::{Durability, Error, SqliteEventStore, SqliteOptions};
use async_trait::async_trait;
use prost_types::Any;
use tempfile::TempDir;
use uuid::Uuid;

/// A store in a file of its own temporary directory; every `open` opens that same file.
struct TempStore {
    dir: TempDir,
    options: fn(PathBuf) -> SqliteOptions,
}

impl TempStore {
    fn new() -> Self {
        Self::with(SqliteOptions::new)
    }

    fn with(options: fn(PathBuf) -> SqliteOptions) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        Self { dir, options }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("events.db")
    }

    fn open_sqlite(&self) -> SqliteEventStore {
        SqliteEventStore::open((self.options)(self.path())).expect("open the SQLite store")
    }
}

#[async_trait]
impl StoreFactory for TempStore {
    /// Opens the store and, unless they are turned off, waits for its filters of stored keys,
    /// so that every promise is checked with "certainly absent" answered from memory.
    async fn open(&self) -> Arc<dyn EventStore> {
        let store = self.open_sqlite();
        if (self.options)(self.path()).known_keys_bytes > 0 {
            assert!(
                known_keys_loaded(&store).await,
                "the key filters never loaded"
            );
        }
        Arc::new(store)
    }
}

/// Waits (at most 10 s) for the store's filters of stored keys.
async fn known_keys_loaded(store: &SqliteEventStore) -> bool {
    tokio::time::timeout(Duration::from_secs(10), store.known_keys_loaded())
        .await
        .expect("the key filters took more than 10 s to load")
}

angzarr_runtime::event_store_conformance!(TempStore::new());

/// The same promises with `synchronous = NORMAL` and with reads on the writer's connection.
mod variants {
    use super::*;

    mod normal_durability {
        use super::*;
        angzarr_runtime::event_store_conformance!(TempStore::with(|path| {
            SqliteOptions::new(path).with_durability(Durability::Normal)
        }));
    }

    mod a_queue_of_one_write {
        use super::*;
        angzarr_runtime::event_store_conformance!(TempStore::with(|path| {
            SqliteOptions::new(path).with_max_queued_writes(1)
        }));
    }

    /// Every question read from the file, by `pread`: no key filters, no memory map.
    mod reading_everything_from_the_file {
        use super::*;
        angzarr_runtime::event_store_conformance!(TempStore::with(|path| {
            SqliteOptions::new(path)
                .with_known_keys_bytes(0)
                .with_mmap_bytes(0)
        }));
    }

    mod no_reader_pool {
        use super::*;
        angzarr_runtime::event_store_conformance!(TempStore::with(|path| SqliteOptions {
            readers: 0,
            ..SqliteOptions::new(path)
        }));
    }
}

/// Every `open` gives a new, empty in-memory store; fine for every case but reopening.
struct InMemory;

#[async_trait]
impl StoreFactory for InMemory {
    async fn open(&self) -> Arc<dyn EventStore> {
        Arc::new(SqliteEventStore::open(SqliteOptions::in_memory()).expect("open :memory:"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_store_keeps_every_promise_but_reopening() {
    conformance::sequences_start_at_zero_and_are_gapless(&InMemory).await;
    conformance::stale_expected_next_conflicts_and_writes_nothing(&InMemory).await;
    conformance::a_conflicting_step_writes_none_of_its_parts(&InMemory).await;
    conformance::malformed_requests_are_invalid_and_write_nothing(&InMemory).await;
    conformance::snapshots_beyond_the_history_are_invalid(&InMemory).await;
    conformance::global_positions_follow_commit_order(&InMemory).await;
    conformance::read_global_pages_through_the_log(&InMemory).await;
    conformance::concurrent_appends_to_one_history_stay_gapless(&InMemory).await;
    conformance::concurrent_appends_to_different_histories_all_succeed(&InMemory).await;
    conformance::readers_never_see_a_position_before_the_ones_below_it(&InMemory).await;
    conformance::load_starts_from_the_latest_snapshot(&InMemory).await;
    conformance::put_snapshot_keeps_only_the_newest(&InMemory).await;
    conformance::idempotency_keys_are_recorded_once(&InMemory).await;
    conformance::checkpoints_never_move_backwards(&InMemory).await;
    conformance::editions_are_separate_histories(&InMemory).await;
    conformance::read_history_returns_the_requested_range(&InMemory).await;
    conformance::an_edition_shares_main_up_to_its_divergence(&InMemory).await;
    conformance::an_edition_loads_from_its_own_snapshot_or_an_early_one_of_main(&InMemory).await;
    conformance::creating_an_edition_checks_aggregate_divergence_and_name(&InMemory).await;
    conformance::concurrent_appends_to_an_edition_stay_gapless(&InMemory).await;
    conformance::correlated_events_are_read_across_histories_in_global_order(&InMemory).await;
}

#[tokio::test]
async fn in_memory_store_reports_its_settings() {
    let store = SqliteEventStore::open(SqliteOptions::in_memory()).expect("open :memory:");
    let diagnostics = store.diagnostics().await.expect("read the diagnostics");
    assert_eq!(diagnostics.journal_mode, "memory");
    assert_eq!(diagnostics.schema_version, 4);
    assert_eq!(store.path(), Path::new(":memory:"));
}

#[tokio::test]
async fn durability_is_applied_to_the_writer_connection() {
    assert_eq!(
        SqliteOptions::new("x.db").durability,
        Durability::Full,
        "FULL is the default"
    );
    for (durability, level) in [(Durability::Full, 2), (Durability::Normal, 1)] {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let options = SqliteOptions::new(dir.path().join("events.db")).with_durability(durability);
        let store = SqliteEventStore::open(options).expect("open the store");
        let diagnostics = store.diagnostics().await.expect("read the diagnostics");
        assert_eq!(diagnostics.synchronous, level, "{durability:?}");
        assert_eq!(durability.synchronous_level(), level);
        assert_eq!(diagnostics.journal_mode, "wal");
        assert_eq!(diagnostics.schema_version, 4);
    }
}

#[tokio::test]
async fn connections_read_the_file_through_a_memory_map_of_the_size_asked() {
    for (bytes, expected) in [(None, 256 << 20), (Some(1 << 20), 1 << 20), (Some(0), 0)] {
        let files = TempStore::new();
        let options = SqliteOptions::new(files.path());
        let options = match bytes {
            Some(bytes) => options.with_mmap_bytes(bytes),
            None => options,
        };
        let store = SqliteEventStore::open(options).expect("open the store");
        let diagnostics = store.diagnostics().await.expect("read the diagnostics");
        assert_eq!(diagnostics.mmap_size, expected, "asked for {bytes:?}");
    }
    let store = SqliteEventStore::open(SqliteOptions::in_memory()).expect("open :memory:");
    let diagnostics = store.diagnostics().await.expect("read the diagnostics");
    assert_eq!(diagnostics.mmap_size, 0, "nothing to map in memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_checkpoints_run_on_their_own_thread_not_in_a_commit() {
    let files =
        TempStore::with(|path| SqliteOptions::new(path).with_durability(Durability::Normal));
    let store = files.open_sqlite();
    let diagnostics = store.diagnostics().await.expect("read the diagnostics");
    assert_eq!(diagnostics.wal_autocheckpoint, 0, "no commit checkpoints");
    let db_size = || std::fs::metadata(files.path()).map_or(0, |m| m.len());
    let empty = db_size();
    // About 2 MiB of events, all in the WAL until something checkpoints them.
    let payload = "x".repeat(2048);
    for i in 0..32u32 {
        let key = HistoryKey::main("checkpointed", Uuid::from_u128(u128::from(i)));
        let labels: Vec<&str> = std::iter::repeat_n(payload.as_str(), 32).collect();
        store
            .append(request(&key, 0, &labels))
            .await
            .expect("append");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while db_size() < empty + 2 * 1024 * 1024 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the checkpoint thread never copied the WAL into the database ({} bytes)",
            db_size()
        );
        tokio::task::yield_now().await;
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_takes_every_queued_append_in_one_transaction() {
    const APPENDS: usize = 64;
    let files = TempStore::new();
    let store = Arc::new(files.open_sqlite());
    let before = store.stats();

    // Hold the write lock from another connection, so the appends pile up in the queue.
    let blocker = ExternalWriteLock::take(&files.path());
    let tasks: Vec<_> = (0..APPENDS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = HistoryKey::main(format!("group-{i}"), Uuid::new_v4());
                store
                    .append(request(&key, 0, &[&format!("e{i}")]))
                    .await
                    .expect("a queued append commits")
            })
        })
        .collect();
    // While the lock is held the writer gets stuck on its first batch; everything submitted
    // after that batch was taken waits for the next one.
    wait_until_submitted(&store, before.submitted + APPENDS as u64).await;
    blocker.release();

    let mut positions = Vec::new();
    for task in tasks {
        let events = task.await.expect("an appending task failed");
        positions.extend(events.iter().map(|e| e.position));
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=APPENDS as u64).collect::<Vec<_>>());

    let after = store.stats();
    let transactions = after.transactions - before.transactions;
    assert!(
        transactions <= 2,
        "{APPENDS} queued appends took {transactions} commits"
    );
    assert_eq!(after.requests - before.requests, APPENDS as u64);
    assert_eq!(after.queued, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_write_queue_holds_callers_back_until_there_is_room() {
    const ROOM: usize = 4;
    const APPENDS: usize = 16;
    let files = TempStore::with(|path| SqliteOptions::new(path).with_max_queued_writes(ROOM));
    let store = Arc::new(files.open_sqlite());
    let before = store.stats();

    let blocker = ExternalWriteLock::take(&files.path());
    let tasks: Vec<_> = (0..APPENDS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = HistoryKey::main(format!("queue-{i}"), Uuid::new_v4());
                store
                    .append(request(&key, 0, &[&format!("e{i}")]))
                    .await
                    .expect("a held-back append commits once there is room")
            })
        })
        .collect();
    wait_until_submitted(&store, before.submitted + ROOM as u64).await;
    // On this one thread every task has now run up to where it waits: for the writer, or
    // for room in its queue.
    for _ in 0..APPENDS {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        store.stats().submitted - before.submitted,
        ROOM as u64,
        "no more than the room was queued"
    );
    blocker.release();

    let mut positions = Vec::new();
    for task in tasks {
        let events = task.await.expect("an appending task failed");
        positions.extend(events.iter().map(|e| e.position));
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=APPENDS as u64).collect::<Vec<_>>());
    assert_eq!(store.stats().queued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_request_in_a_batch_rolls_back_only_itself() {
    let files = TempStore::new();
    let store = Arc::new(files.open_sqlite());
    let contended = HistoryKey::main("batch", Uuid::new_v4());
    store
        .append(request(&contended, 0, &["first"]))
        .await
        .expect("append the first event");
    let before = store.stats();

    let blocker = ExternalWriteLock::take(&files.path());
    let spawn = |key: HistoryKey, expected: u32, label: &'static str| {
        let store = store.clone();
        tokio::spawn(async move { store.append(request(&key, expected, &[label, label])).await })
    };
    // Submitted in this order while the writer is stuck; however the three split into at most
    // two batches, the stale request shares one with a request that commits.
    let other = HistoryKey::main("batch-other", Uuid::new_v4());
    let ok_first = spawn(contended.clone(), 1, "ok-first");
    wait_until_submitted(&store, before.submitted + 1).await;
    let stale = spawn(contended.clone(), 1, "stale");
    wait_until_submitted(&store, before.submitted + 2).await;
    let ok_other = spawn(other.clone(), 0, "ok-other");
    wait_until_submitted(&store, before.submitted + 3).await;
    blocker.release();

    let first = ok_first
        .await
        .expect("task")
        .expect("the first append commits");
    assert_eq!(sequences(&first), [1, 2]);
    match stale.await.expect("task") {
        Err(StorageError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (1, 3)),
        other => panic!("the stale append must conflict, got {other:?}"),
    }
    let second = ok_other
        .await
        .expect("task")
        .expect("the other append commits");
    assert_eq!(sequences(&second), [0, 1]);
    assert_eq!(
        positions(&[first, second].concat()),
        [2, 3, 4, 5],
        "the rolled-back request left no gap"
    );
    let transactions = store.stats().transactions - before.transactions;
    assert!(
        transactions <= 2,
        "three queued appends took {transactions} commits"
    );
}

#[tokio::test]
async fn a_request_failing_after_its_first_writes_leaves_nothing_behind() {
    let files = TempStore::new();
    let store = files.open_sqlite();
    let key = HistoryKey::main("midway", Uuid::new_v4());
    // The checkpoint is written after the events and fails (SQLite integers are signed), so
    // only the request's savepoint stands between its events and the log.
    let failing = AppendRequest {
        checkpoint: Some(Checkpoint {
            subscriber: "midway".into(),
            position: u64::MAX,
        }),
        ..request(&key, 0, &["a", "b"])
    };
    match store.append(failing).await {
        Err(StorageError::Invalid(message)) => assert!(message.contains("checkpoint"), "{message}"),
        other => panic!("an out-of-range checkpoint must be invalid, got {other:?}"),
    }
    assert_eq!(store.head_position().await.expect("read the head"), 0);
    let history = store.read_history(&key, 0, None).await.expect("read");
    assert_eq!(
        history,
        [],
        "the events of the failed request were rolled back"
    );
    let next = store
        .append(request(&key, 0, &["a"]))
        .await
        .expect("append");
    assert_eq!(positions(&next), [1]);
}

#[tokio::test]
async fn closing_stops_the_store_and_reopening_finds_everything() {
    let files = TempStore::new();
    let key = HistoryKey::main("close", Uuid::new_v4());
    let store = files.open_sqlite();
    let committed = store
        .append(request(&key, 0, &["a", "b"]))
        .await
        .expect("append");
    store.close().await;
    store.close().await;

    assert!(matches!(
        store.append(request(&key, 2, &["late"])).await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(
        store.load(&key, LoadOptions::default()).await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(
        store.head_position().await,
        Err(StorageError::Closed)
    ));
    drop(store);

    let store = files.open_sqlite();
    let history = store.read_history(&key, 0, None).await.expect("read");
    assert_eq!(history, committed);
    let next = store
        .append(request(&key, 2, &["c"]))
        .await
        .expect("append after reopening");
    assert_eq!(positions(&next), [3]);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("notes.txt");
    let text = "these are notes, not a database\n".repeat(256);
    std::fs::write(&path, &text).expect("write the file");

    match SqliteEventStore::open(SqliteOptions::new(&path)) {
        Err(err @ Error::NotADatabase { .. }) => {
            assert!(err.to_string().contains("notes.txt"), "{err}");
            assert!(err.to_string().contains("not a SQLite database"), "{err}");
        }
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).expect("read the file"), text);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let files = TempStore::new();
    drop(files.open_sqlite());
    let conn = rusqlite::Connection::open(files.path()).expect("open the file");
    conn.pragma_update(None, "user_version", 99)
        .expect("bump the schema version");
    drop(conn);

    match SqliteEventStore::open(SqliteOptions::new(files.path())) {
        Err(
            err @ Error::UnsupportedSchema {
                found: 99,
                supported: 4,
                ..
            },
        ) => assert!(err.to_string().contains("use a newer angzarr"), "{err}"),
        other => panic!("expected UnsupportedSchema, got {other:?}"),
    }
}

#[tokio::test]
async fn a_version_1_store_is_upgraded_in_place() {
    let files = TempStore::new();
    {
        let store = files.open_sqlite();
        store
            .put_checkpoint(angzarr_runtime::storage::Checkpoint {
                subscriber: "kept".into(),
                position: 3,
            })
            .await
            .expect("checkpoint");
        store.close().await;
    }
    // What a version-1 file looks like: no parked table, nothing of version 3.
    let conn = rusqlite::Connection::open(files.path()).expect("open the file");
    conn.execute_batch(&format!(
        "DROP TABLE parked; {DOWNGRADE_FROM_V3} PRAGMA user_version = 1;"
    ))
    .expect("downgrade to version 1");
    drop(conn);

    let store = files.open_sqlite();
    assert_eq!(store.checkpoint("kept").await.expect("checkpoint"), 3);
    store
        .park(angzarr_runtime::storage::ParkRequest {
            subscriber: "s".into(),
            position: 1,
            error: "e".into(),
            attempts: 1,
        })
        .await
        .expect("parking works after the upgrade");
    store.close().await;
    let conn = rusqlite::Connection::open(files.path()).expect("open the file");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version");
    assert_eq!(version, 4);
}

#[tokio::test]
async fn a_version_3_store_keeps_its_parked_events_and_never_reuses_their_ids() {
    let files = TempStore::new();
    let parked = |position: u64| angzarr_runtime::storage::ParkRequest {
        subscriber: "s".into(),
        position,
        error: "e".into(),
        attempts: 1,
    };
    {
        let store = files.open_sqlite();
        for position in [1, 2] {
            store.park(parked(position)).await.expect("park");
        }
        store.close().await;
    }
    // Version 3 had a plain rowid as the parked id.
    let conn = rusqlite::Connection::open(files.path()).expect("open the file");
    conn.execute_batch(&format!(
        "DROP TABLE parked; {PARKED_V3} INSERT INTO parked VALUES (1, 's', 1, 'e', 1, 0), (2, 's', 2, 'e', 1, 0); \
         PRAGMA user_version = 3;"
    ))
    .expect("downgrade to version 3");
    drop(conn);

    let store = files.open_sqlite();
    let kept = store.list_parked(None).await.expect("list");
    assert_eq!(
        kept.iter().map(|r| (r.id, r.position)).collect::<Vec<_>>(),
        [(1, 1), (2, 2)]
    );
    assert!(store.remove_parked(2).await.expect("remove"));
    let id = store.park(parked(3)).await.expect("park after the upgrade");
    assert_eq!(
        id, 3,
        "the id of the removed record is not handed out again"
    );
}

/// The parked table of versions 2 and 3.
const PARKED_V3: &str = "CREATE TABLE parked (id INTEGER PRIMARY KEY, subscriber TEXT NOT NULL, \
     position INTEGER NOT NULL, error TEXT NOT NULL, attempts INTEGER NOT NULL, \
     parked_at INTEGER NOT NULL) STRICT; CREATE INDEX parked_by_subscriber ON parked (subscriber, id);";

/// What version 3 added to version 2.
const DOWNGRADE_FROM_V3: &str =
    "DROP TABLE editions; DROP INDEX events_by_correlation; DROP TABLE position_floor;";

#[tokio::test]
async fn a_version_2_store_gets_editions_and_the_correlation_index() {
    let files = TempStore::new();
    let main = HistoryKey::main("upgraded", Uuid::new_v4());
    {
        let store = files.open_sqlite();
        store
            .append(AppendRequest {
                correlation_id: "before-the-upgrade".into(),
                ..request(&main, 0, &["m0", "m1"])
            })
            .await
            .expect("append");
        store.close().await;
    }
    let conn = rusqlite::Connection::open(files.path()).expect("open the file");
    conn.execute_batch(&format!("{DOWNGRADE_FROM_V3} PRAGMA user_version = 2;"))
        .expect("downgrade to version 2");
    drop(conn);

    let store = files.open_sqlite();
    assert_eq!(
        store
            .diagnostics()
            .await
            .expect("diagnostics")
            .schema_version,
        4
    );
    let correlated = store
        .read_correlated("before-the-upgrade", 0, 10)
        .await
        .expect("correlated events of the old file");
    assert_eq!(correlated.len(), 2);
    let edition = main.with_edition("after-the-upgrade");
    store
        .create_edition(&edition, 0)
        .await
        .expect("editions work after the upgrade");
    assert_eq!(
        store
            .read_history(&edition, 0, None)
            .await
            .expect("read")
            .len(),
        1
    );
    store.close().await;
    let conn = rusqlite::Connection::open(files.path()).expect("open the file");
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT position FROM events WHERE correlation_id = 'x' AND position > 0 ORDER BY position",
            [],
            |row| row.get(3),
        )
        .expect("query plan");
    assert!(plan.contains("events_by_correlation"), "{plan}");
}

#[tokio::test]
async fn a_database_of_another_application_is_refused() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).expect("create a database");
    conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
        .expect("create a table");
    drop(conn);

    match SqliteEventStore::open(SqliteOptions::new(&path)) {
        Err(err @ Error::ForeignDatabase { .. }) => {
            assert!(err.to_string().contains("another application"), "{err}");
        }
        other => panic!("expected ForeignDatabase, got {other:?}"),
    }
    let conn = rusqlite::Connection::open(&path).expect("reopen the database");
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .expect("count the tables");
    assert_eq!(tables, 1, "the database was left alone");
}

#[tokio::test]
async fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("missing").join("events.db");
    match SqliteEventStore::open(SqliteOptions::new(&path)) {
        Err(err @ Error::Sqlite { .. }) => {
            assert!(
                err.to_string().contains("cannot open the event store"),
                "{err}"
            );
            assert!(err.to_string().contains("missing"), "{err}");
        }
        other => panic!("expected an open error, got {other:?}"),
    }
}

#[path = "conformance/faults.rs"]
mod faults;

// ---------------------------------------------------------------------------------------------

/// Another connection holding SQLite's write lock, like a second process would.
struct ExternalWriteLock(rusqlite::Connection);

impl ExternalWriteLock {
    fn take(path: &Path) -> Self {
        let conn = rusqlite::Connection::open(path).expect("open a second connection");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        Self(conn)
    }

    fn release(self) {
        self.0
            .execute_batch("COMMIT")
            .expect("release the write lock");
    }
}

/// Waits (with a deadline, without sleeping) until `count` requests reached the writer's queue.
async fn wait_until_submitted(store: &SqliteEventStore, count: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.stats().submitted < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} requests were submitted",
            store.stats().submitted
        );
        tokio::task::yield_now().await;
    }
}

fn request(key: &HistoryKey, expected_next: u32, labels: &[&str]) -> AppendRequest {
    AppendRequest {
        key: key.clone(),
        expected_next,
        correlation_id: "sqlite-test".into(),
        events: labels
            .iter()
            .map(|label| NewEvent {
                event: Any {
                    type_url: "type.googleapis.com/test.Happened".into(),
                    value: label.as_bytes().to_vec(),
                },
                causation: None,
            })
            .collect(),
        snapshot: None,
        idempotency: None,
        checkpoint: None,
    }
}

fn sequences(events: &[StoredEvent]) -> Vec<u32> {
    events.iter().map(|e| e.sequence).collect()
}

fn positions(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}
