//! A full disk: the store is capped at its current size (`PRAGMA max_page_count` on the
//! writer's connection, through [`SqliteEventStore::limit_pages`]), which SQLite reports
//! exactly as it reports a full disk (`SQLITE_FULL`), deterministically and without root.

use super::*;
use angzarr_runtime::storage::{IdempotencyRecord, StorageResult};

/// An event too big for the free room of the pages the store already has.
fn big(key: &HistoryKey, expected_next: u32, label: &str) -> AppendRequest {
    let mut request = request(key, expected_next, &[label, label]);
    for event in &mut request.events {
        event.event.value = vec![b'x'; 64 * 1024];
    }
    request
}

/// `PRAGMA integrity_check` of the file, from a connection of its own.
fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open a second connection");
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check")
}

/// Caps the store at the pages it has now.
async fn fill_up(store: &SqliteEventStore, path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open a second connection");
    let pages: u64 = conn
        .query_row("PRAGMA page_count", [], |row| row.get(0))
        .expect("page_count");
    let applied = store.limit_pages(pages).await.expect("cap the store");
    assert!(applied >= pages, "{applied} < {pages}");
}

fn assert_full(result: StorageResult<Vec<StoredEvent>>) {
    match result {
        Err(StorageError::Backend(err)) => {
            assert!(
                matches!(err.downcast_ref::<Error>(), Some(Error::Full { .. })),
                "{err:?}"
            );
            let message = StorageError::Backend(err).to_string();
            assert!(message.contains("the event store is full"), "{message}");
            assert!(
                message.contains("nothing of this write was stored"),
                "{message}"
            );
        }
        other => panic!("expected a full store, got {other:?}"),
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_append_clearly_writes_nothing_and_appends_continue_after() {
    let files = TempStore::new();
    let store = files.open_sqlite();
    let key = HistoryKey::main("full", Uuid::new_v4());
    let before = store
        .append(request(&key, 0, &["a", "b", "c"]))
        .await
        .expect("append");
    fill_up(&store, &files.path()).await;

    let keyed = AppendRequest {
        idempotency: Some(IdempotencyRecord {
            key: "full-1".into(),
            command_hash: vec![1],
            history: key.clone(),
            first_sequence: 3,
            event_count: 2,
            correlation_id: "sqlite-test".into(),
        }),
        checkpoint: Some(Checkpoint {
            subscriber: "full".into(),
            position: 3,
        }),
        ..big(&key, 3, "too-big")
    };
    assert_full(store.append(keyed.clone()).await);
    assert_full(
        store
            .append(big(&HistoryKey::main("full", Uuid::new_v4()), 0, "new"))
            .await,
    );

    // Nothing partial, and reads go on.
    assert_eq!(
        store.read_history(&key, 0, None).await.expect("read"),
        before
    );
    assert_eq!(store.head_position().await.expect("head"), 3);
    assert_eq!(store.read_global(0, 100).await.expect("read"), before);
    assert_eq!(store.idempotency("full-1").await.expect("read"), None);
    assert_eq!(store.checkpoint("full").await.expect("read"), 0);
    let loaded = store
        .load(&key, LoadOptions::default())
        .await
        .expect("load");
    assert_eq!(loaded.next_sequence, 3);
    assert_eq!(integrity(&files.path()), "ok");

    // Space again: the same append goes through, gapless.
    store.limit_pages(1 << 30).await.expect("lift the cap");
    let after = store
        .append(keyed)
        .await
        .expect("append after the disk was freed");
    assert_eq!(sequences(&after), [3, 4]);
    assert_eq!(positions(&after), [4, 5]);
    assert_eq!(store.checkpoint("full").await.expect("read"), 3);
    store.close().await;
    assert_eq!(integrity(&files.path()), "ok");
}

/// A group commit in which one request hits the full disk: every caller's answer says what
/// was stored (an `Ok` means stored, an error means nothing of it), whatever SQLite rolled
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_in_a_group_commit_answers_every_request_truthfully() {
    let files = TempStore::new();
    let store = Arc::new(files.open_sqlite());
    let small_key = |i: usize| HistoryKey::main(format!("small-{i}"), Uuid::from_u128(i as u128));
    store
        .append(request(&small_key(0), 0, &["seed"]))
        .await
        .expect("append");
    fill_up(&store, &files.path()).await;
    let before = store.stats();

    let blocker = ExternalWriteLock::take(&files.path());
    let mut tasks = Vec::new();
    for i in 0..6 {
        // Small requests fit in the free room of the last page; big ones do not.
        let request = if i % 3 == 1 {
            big(
                &HistoryKey::main("big", Uuid::from_u128(i as u128)),
                0,
                "big",
            )
        } else {
            request(&small_key(i + 1), 0, &["s"])
        };
        let key = request.key.clone();
        let writer = store.clone();
        tasks.push((
            key,
            tokio::spawn(async move { writer.append(request).await }),
        ));
        wait_until_submitted(&store, before.submitted + i as u64 + 1).await;
    }
    blocker.release();

    let mut stored = 1;
    for (key, task) in tasks {
        let answer = task.await.expect("task");
        let history = store.read_history(&key, 0, None).await.expect("read");
        match answer {
            Ok(events) => {
                assert_eq!(history, events, "{key}: answered Ok, so stored");
                stored += events.len();
            }
            Err(err) => assert_eq!(history, [], "{key}: answered {err}, so nothing stored"),
        }
    }
    let log = store.read_global(0, 100).await.expect("read");
    assert_eq!(
        log.len(),
        stored,
        "the log holds exactly what was answered Ok"
    );
    assert_eq!(
        positions(&log),
        (1..=stored as u64).collect::<Vec<_>>(),
        "gapless"
    );
    assert_eq!(integrity(&files.path()), "ok");
}
