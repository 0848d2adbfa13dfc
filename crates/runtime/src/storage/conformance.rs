//! The conformance suite every [`EventStore`] adapter runs (DESIGN.md §2.7).
//!
//! The storage API is narrow, but its promises (gapless, atomic, commit-ordered, durable) are
//! exactly the ones event stores in the field get wrong under concurrency. Writing them down
//! once, as executable cases, keeps every adapter honest in the same way. An adapter crate
//! implements [`StoreFactory`] and runs the whole suite with one line in its test binary:
//!
//! ```text
//! angzarr_runtime::event_store_conformance!(MyFactory::new());
//! ```
//!
//! The macro expands into a module `event_store_conformance` with one `#[tokio::test]` per
//! case (so the calling crate needs `tokio` as a dev-dependency); the factory expression is
//! evaluated once per case, so every case starts from an empty store. To add a case, write an
//! `async fn name(factory: &impl StoreFactory)` here and add its name to the list in the
//! macro.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use angzarr_proto::{Causation, Snapshot, causation};
use async_trait::async_trait;
use prost_types::Any;
use uuid::Uuid;

use super::{
    AppendRequest, Checkpoint, Edition, EventStore, HistoryKey, IdempotencyRecord, LoadOptions,
    LoadedHistory, NewEvent, ParkRequest, StorageError, StorageResult, StoredEvent,
};

/// Opens the store under test.
///
/// Every call must open the *same* underlying store (the same file, database or shared
/// state), so that data written through one handle is found through a handle opened after the
/// first was dropped. The factory owns whatever the store lives in (e.g. a temporary
/// directory) and cleans it up when dropped.
#[async_trait]
pub trait StoreFactory: Send + Sync {
    /// Opens (or reopens) the store. Panics when it cannot: this is test support.
    async fn open(&self) -> Arc<dyn EventStore>;
}

/// Runs every conformance case against the store a factory expression opens, as one
/// `#[tokio::test]` per case inside a module `event_store_conformance`.
///
/// The expression is evaluated once per case; names it uses are resolved in the module that
/// invokes the macro. See the [module docs](crate::storage::conformance).
#[macro_export]
macro_rules! event_store_conformance {
    ($factory:expr) => {
        $crate::event_store_conformance!(@cases $factory;
            sequences_start_at_zero_and_are_gapless,
            stale_expected_next_conflicts_and_writes_nothing,
            a_conflicting_step_writes_none_of_its_parts,
            malformed_requests_are_invalid_and_write_nothing,
            snapshots_beyond_the_history_are_invalid,
            global_positions_follow_commit_order,
            read_global_pages_through_the_log,
            concurrent_appends_to_one_history_stay_gapless,
            concurrent_appends_to_different_histories_all_succeed,
            readers_never_see_a_position_before_the_ones_below_it,
            load_starts_from_the_latest_snapshot,
            put_snapshot_keeps_only_the_newest,
            idempotency_keys_are_recorded_once,
            checkpoints_never_move_backwards,
            editions_are_separate_histories,
            read_history_returns_the_requested_range,
            reopening_keeps_everything,
            parking_moves_the_checkpoint_and_keeps_a_record,
            roots_are_listed_per_domain_in_pages,
            an_edition_shares_main_up_to_its_divergence,
            an_edition_loads_from_its_own_snapshot_or_an_early_one_of_main,
            creating_an_edition_checks_aggregate_divergence_and_name,
            concurrent_appends_to_an_edition_stay_gapless,
            deleting_an_edition_leaves_main_and_never_reuses_positions,
            editions_are_listed_per_domain_and_root_and_survive_reopening,
            correlated_events_are_read_across_histories_in_global_order,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        mod event_store_conformance {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let factory = $factory;
                    $crate::storage::conformance::$case(&factory).await;
                }
            )+
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

/// A new history is empty with next sequence 0; appends get 0, 1, 2, ... and reads return
/// exactly what `append` returned.
pub async fn sequences_start_at_zero_and_are_gapless(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("gapless");
    assert_eq!(
        load(&*store, &key, true).await,
        LoadedHistory::default(),
        "a new history is empty"
    );
    assert_eq!(
        history(&*store, &key).await,
        [],
        "a new history has no events"
    );

    let first = append_ok(&*store, request(&key, 0, ["a", "b", "c"])).await;
    assert_eq!(sequences(&first), [0, 1, 2]);
    assert_eq!(labels(&first), ["a", "b", "c"]);
    for stored in &first {
        assert_eq!(stored.key, key);
        assert_eq!(stored.correlation_id, CORRELATION);
        let label = label(stored);
        assert_eq!(
            stored.event,
            new_event(&label).event,
            "the event is kept as given"
        );
        assert_eq!(
            stored.causation,
            new_event(&label).causation,
            "causation is kept"
        );
    }

    let second = append_ok(&*store, request(&key, 3, ["d", "e"])).await;
    assert_eq!(sequences(&second), [3, 4]);

    let all = [first, second].concat();
    assert_eq!(
        history(&*store, &key).await,
        all,
        "reads return what append returned"
    );
    let loaded = load(&*store, &key, false).await;
    assert_eq!(loaded.events, all);
    assert_eq!(loaded.next_sequence, 5);
}

/// An append whose `expected_next` is not the history's next sequence (behind or ahead)
/// fails with `Conflict { expected, actual }` and writes nothing.
pub async fn stale_expected_next_conflicts_and_writes_nothing(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("conflict");
    let committed = append_ok(&*store, request(&key, 0, ["x", "y"])).await;

    for expected in [0, 1, 3, 7] {
        let result = store.append(request(&key, expected, ["late"])).await;
        expect_conflict(result, &key, expected, 2);
    }
    let result = store.append(request(&key, 1, NONE)).await;
    expect_conflict(result, &key, 1, 2);

    assert_eq!(
        history(&*store, &key).await,
        committed,
        "nothing was written"
    );
    assert_eq!(head(&*store).await, 2, "no position was used");
    let next = append_ok(&*store, request(&key, 2, ["z"])).await;
    assert_eq!(sequences(&next), [2], "the history goes on where it was");
    assert_eq!(positions(&next), [3], "conflicts consumed no position");
}

/// Events, snapshot, idempotency record and checkpoint of one request commit together: a
/// conflicting request writes none of them, the same step with the right sequence writes all.
pub async fn a_conflicting_step_writes_none_of_its_parts(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("atomic");
    let first = append_ok(&*store, request(&key, 0, ["first"])).await;
    let step = |expected: u32| AppendRequest {
        snapshot: Some(snapshot(expected + 1, "state")),
        idempotency: Some(record("atomic-command", &key, expected, 2)),
        checkpoint: Some(Checkpoint {
            subscriber: "atomic-subscriber".into(),
            position: 42,
        }),
        ..request(&key, expected, ["x", "y"])
    };

    expect_conflict(store.append(step(0)).await, &key, 0, 1);
    assert_eq!(history(&*store, &key).await, first, "no event was written");
    assert_eq!(head(&*store).await, 1, "no position was used");
    assert_eq!(
        get_snapshot(&*store, &key).await,
        None,
        "no snapshot was written"
    );
    assert_eq!(
        idempotency(&*store, "atomic-command").await,
        None,
        "no idempotency record was written"
    );
    assert_eq!(
        checkpoint(&*store, "atomic-subscriber").await,
        0,
        "the checkpoint did not move"
    );

    let committed = append_ok(&*store, step(1)).await;
    assert_eq!(sequences(&committed), [1, 2]);
    assert_eq!(
        get_snapshot(&*store, &key).await,
        Some(snapshot(2, "state"))
    );
    assert_eq!(
        idempotency(&*store, "atomic-command").await,
        Some(record("atomic-command", &key, 1, 2))
    );
    assert_eq!(checkpoint(&*store, "atomic-subscriber").await, 42);
    assert_eq!(head(&*store).await, 3);
}

/// Requests that break the rules of [`AppendRequest::validate`] fail with `Invalid`, even when
/// their sequence is also wrong, and write nothing.
pub async fn malformed_requests_are_invalid_and_write_nothing(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("malformed");
    let committed = append_ok(&*store, request(&key, 0, ["only"])).await;
    let other = self::key("malformed-other");

    let malformed = [
        (
            "empty domain",
            request(&HistoryKey::main("", key.root), 0, ["x"]),
        ),
        ("sequence overflow", request(&key, u32::MAX, ["x", "y"])),
        (
            "idempotency record with the wrong first sequence",
            AppendRequest {
                idempotency: Some(record("malformed-1", &key, 0, 1)),
                ..request(&key, 1, ["x"])
            },
        ),
        (
            "idempotency record with the wrong event count",
            AppendRequest {
                idempotency: Some(record("malformed-2", &key, 1, 2)),
                ..request(&key, 1, ["x"])
            },
        ),
        (
            "idempotency record of another history",
            AppendRequest {
                idempotency: Some(record("malformed-3", &other, 1, 1)),
                ..request(&key, 1, ["x"])
            },
        ),
        (
            "empty idempotency key",
            AppendRequest {
                idempotency: Some(record("", &key, 1, 1)),
                ..request(&key, 1, ["x"])
            },
        ),
        (
            "checkpoint without subscriber",
            AppendRequest {
                checkpoint: Some(Checkpoint {
                    subscriber: String::new(),
                    position: 1,
                }),
                ..request(&key, 1, ["x"])
            },
        ),
    ];
    for (what, request) in malformed {
        expect_invalid(store.append(request).await, what);
    }
    expect_invalid(
        store
            .put_checkpoint(Checkpoint {
                subscriber: String::new(),
                position: 1,
            })
            .await,
        "put_checkpoint without subscriber",
    );

    assert_eq!(
        history(&*store, &key).await,
        committed,
        "nothing was written"
    );
    assert_eq!(head(&*store).await, 1);
    for command in ["malformed-1", "malformed-2", "malformed-3", ""] {
        assert_eq!(idempotency(&*store, command).await, None);
    }
}

/// A snapshot must describe an event of the history as it will be after the append (or as
/// it is, for `put_snapshot`); anything beyond is `Invalid` and writes nothing.
pub async fn snapshots_beyond_the_history_are_invalid(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("snapshot-range");

    let on_empty = AppendRequest {
        snapshot: Some(snapshot(0, "nothing")),
        ..request(&key, 0, NONE)
    };
    expect_invalid(
        store.append(on_empty).await,
        "a snapshot of an empty history",
    );
    let beyond = AppendRequest {
        snapshot: Some(snapshot(2, "beyond")),
        ..request(&key, 0, ["a", "b"])
    };
    expect_invalid(
        store.append(beyond).await,
        "a snapshot after the last event",
    );
    assert_eq!(history(&*store, &key).await, [], "no event was written");
    assert_eq!(get_snapshot(&*store, &key).await, None);
    assert_eq!(head(&*store).await, 0);

    let last = AppendRequest {
        snapshot: Some(snapshot(1, "last")),
        ..request(&key, 0, ["a", "b"])
    };
    append_ok(&*store, last).await;
    assert_eq!(get_snapshot(&*store, &key).await, Some(snapshot(1, "last")));

    for sequence in [2, 9] {
        let result = store.put_snapshot(&key, snapshot(sequence, "beyond")).await;
        expect_invalid(result, "put_snapshot after the last event");
    }
    let result = store
        .put_snapshot(&self::key("snapshot-none"), snapshot(0, "none"))
        .await;
    expect_invalid(result, "put_snapshot on an empty history");
    assert_eq!(get_snapshot(&*store, &key).await, Some(snapshot(1, "last")));
}

/// Positions start at 1 and grow by exactly 1 per event in commit order, across histories;
/// failed appends use none.
pub async fn global_positions_follow_commit_order(factory: &impl StoreFactory) {
    let store = factory.open().await;
    assert_eq!(head(&*store).await, 0, "an empty log has head 0");
    assert_eq!(
        read_global(&*store, 0, 10).await,
        [],
        "an empty log reads empty"
    );

    let (a, b, c) = (key("order-a"), key("order-b"), key("order-c"));
    let mut committed = Vec::new();
    for (key, expected, labels, want) in [
        (&a, 0, &["a0", "a1"][..], &[1, 2][..]),
        (&b, 0, &["b0"][..], &[3][..]),
        (&a, 2, &["a2"][..], &[4][..]),
        (&c, 0, &["c0", "c1", "c2"][..], &[5, 6, 7][..]),
    ] {
        let events = append_ok(&*store, request(key, expected, labels.iter().copied())).await;
        assert_eq!(positions(&events), want, "positions of {labels:?}");
        committed.extend(events);
    }
    expect_conflict(store.append(request(&a, 0, ["stale"])).await, &a, 0, 3);

    let log = read_global(&*store, 0, 100).await;
    assert_eq!(log, committed, "the log holds the events in commit order");
    assert_eq!(positions(&log), (1..=7).collect::<Vec<_>>());
    assert_eq!(head(&*store).await, 7);

    let after = append_ok(&*store, request(&b, 1, ["b1"])).await;
    assert_eq!(positions(&after), [8], "the failed append used no position");
}

/// `read_global(after, limit)` returns at most `limit` events with position `> after`.
pub async fn read_global_pages_through_the_log(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let (a, b) = (key("pages-a"), key("pages-b"));
    for round in 0..5u32 {
        let key = if round % 2 == 0 { &a } else { &b };
        let expected = sequences(&history(&*store, key).await).len();
        let expected = u32::try_from(expected).expect("a small history");
        append_ok(&*store, request(key, expected, ["p", "q"])).await;
    }

    let mut after = 0;
    let mut page_sizes = Vec::new();
    let mut all = Vec::new();
    loop {
        let page = read_global(&*store, after, 3).await;
        let Some(last) = page.last() else { break };
        after = last.position;
        page_sizes.push(page.len());
        all.extend(page);
    }
    assert_eq!(page_sizes, [3, 3, 3, 1]);
    assert_eq!(positions(&all), (1..=10).collect::<Vec<_>>());

    assert_eq!(positions(&read_global(&*store, 3, 3).await), [4, 5, 6]);
    assert_eq!(positions(&read_global(&*store, 9, 3).await), [10]);
    assert_eq!(read_global(&*store, 10, 3).await, []);
    assert_eq!(read_global(&*store, 100, 3).await, []);
    assert_eq!(
        read_global(&*store, 0, 0).await,
        [],
        "limit 0 reads nothing"
    );
    assert_eq!(read_global(&*store, 0, 1000).await, all);
}

/// Many tasks appending to one history, each retrying on conflict with a fresh read, end with
/// every event stored exactly once under gapless sequences.
pub async fn concurrent_appends_to_one_history_stay_gapless(factory: &impl StoreFactory) {
    const TASKS: usize = 8;
    const APPENDS: usize = 10;
    let store = factory.open().await;
    let key = key("contended");

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                for i in 0..APPENDS {
                    append_with_retries(&*store, &key, &format!("t{task}-{i}")).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("an appending task failed");
    }

    let all = history(&*store, &key).await;
    let total = TASKS * APPENDS;
    assert_eq!(sequences(&all), (0..total as u32).collect::<Vec<_>>());
    let stored: BTreeSet<String> = labels(&all).into_iter().collect();
    assert_eq!(stored.len(), total, "every event is stored exactly once");
    for task in 0..TASKS {
        let mine: Vec<String> = labels(&all)
            .into_iter()
            .filter(|l| l.starts_with(&format!("t{task}-")))
            .collect();
        let want: Vec<String> = (0..APPENDS).map(|i| format!("t{task}-{i}")).collect();
        assert_eq!(
            mine, want,
            "task {task}'s events are in the order it appended them"
        );
    }
    let log = read_global(&*store, 0, total + 10).await;
    assert_eq!(positions(&log), (1..=total as u64).collect::<Vec<_>>());
}

/// Many tasks appending to their own histories all succeed at once: no conflicts between
/// different aggregates, and the log still has every position exactly once.
pub async fn concurrent_appends_to_different_histories_all_succeed(factory: &impl StoreFactory) {
    const TASKS: usize = 16;
    const APPENDS: u32 = 5;
    let store = factory.open().await;

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = key(&format!("parallel-{task}"));
                for sequence in 0..APPENDS {
                    let events = store
                        .append(request(&key, sequence, [format!("{task}-{sequence}")]))
                        .await
                        .expect("appends to separate histories never conflict");
                    assert_eq!(sequences(&events), [sequence]);
                }
                key
            })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.expect("an appending task failed"));
    }

    let total = TASKS * APPENDS as usize;
    assert_eq!(head(&*store).await, total as u64);
    let log = read_global(&*store, 0, total + 10).await;
    assert_eq!(positions(&log), (1..=total as u64).collect::<Vec<_>>());
    for key in &keys {
        let events = history(&*store, key).await;
        assert_eq!(sequences(&events), (0..APPENDS).collect::<Vec<_>>());
        let mine: Vec<u64> = log
            .iter()
            .filter(|e| &e.key == key)
            .map(|e| e.position)
            .collect();
        assert_eq!(mine, positions(&events), "the log agrees with the history");
    }
}

/// While writers commit, a reader following the log never sees position N+1 before N, and
/// everything up to `head_position` is readable.
pub async fn readers_never_see_a_position_before_the_ones_below_it(factory: &impl StoreFactory) {
    const WRITERS: usize = 4;
    const APPENDS: usize = 40;
    const PAGE: usize = 16;
    let store = factory.open().await;
    let writers_done = Arc::new(AtomicBool::new(false));

    let reader = {
        let (store, writers_done) = (store.clone(), writers_done.clone());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            let mut seen = 0u64;
            loop {
                let finished = writers_done.load(Ordering::Acquire);
                let head = head(&*store).await;
                assert!(
                    head >= seen,
                    "head_position {head} is behind what was read ({seen})"
                );
                let page = read_global(&*store, seen, PAGE).await;
                for event in &page {
                    assert_eq!(
                        event.position,
                        seen + 1,
                        "position {} was visible before position {}",
                        event.position,
                        seen + 1
                    );
                    seen = event.position;
                }
                if page.len() < PAGE {
                    assert!(
                        seen >= head,
                        "head_position said {head}, but only {seen} positions were readable"
                    );
                }
                if finished && seen == head {
                    return seen;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the reader did not catch up with the writers (at {seen} of {head})"
                );
                tokio::task::yield_now().await;
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = key(&format!("follow-{writer}"));
                let mut next = 0;
                for i in 0..APPENDS {
                    let labels: Vec<String> = (0..i % 3 + 1)
                        .map(|j| format!("{writer}-{i}-{j}"))
                        .collect();
                    let events = append_ok(&*store, request(&key, next, labels)).await;
                    next += u32::try_from(events.len()).expect("a small batch");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer failed");
    }
    writers_done.store(true, Ordering::Release);

    let seen = reader.await.expect("the reader failed");
    let total: usize = (0..APPENDS).map(|i| i % 3 + 1).sum::<usize>() * WRITERS;
    assert_eq!(seen, total as u64, "the reader saw every position");
}

/// `load` with a snapshot returns it and only the later events; without one (or when asked
/// not to use it) it returns every event. `next_sequence` is always the history's.
pub async fn load_starts_from_the_latest_snapshot(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("load");
    let all = append_ok(&*store, request(&key, 0, ["a", "b", "c", "d", "e"])).await;

    let without = load(&*store, &key, true).await;
    assert_eq!(without.snapshot, None);
    assert_eq!(without.events, all, "no snapshot yet: every event");
    assert_eq!(without.next_sequence, 5);

    store
        .put_snapshot(&key, snapshot(2, "at-2"))
        .await
        .expect("put a snapshot");
    let from_snapshot = load(&*store, &key, true).await;
    assert_eq!(from_snapshot.snapshot, Some(snapshot(2, "at-2")));
    assert_eq!(
        from_snapshot.events,
        all[3..],
        "only the events after the snapshot"
    );
    assert_eq!(from_snapshot.next_sequence, 5);

    let full = load(&*store, &key, false).await;
    assert_eq!(
        full.snapshot, None,
        "the snapshot is not used when not asked for"
    );
    assert_eq!(full.events, all);
    assert_eq!(full.next_sequence, 5);

    let at_head = AppendRequest {
        snapshot: Some(snapshot(5, "at-5")),
        ..request(&key, 5, ["f"])
    };
    append_ok(&*store, at_head).await;
    let current = load(&*store, &key, true).await;
    assert_eq!(current.snapshot, Some(snapshot(5, "at-5")));
    assert_eq!(current.events, [], "the snapshot covers every event");
    assert_eq!(current.next_sequence, 6);
}

/// Only the newest snapshot per history is kept; an older one (via `put_snapshot` or an
/// append) is ignored, one at the same sequence replaces the stored one.
pub async fn put_snapshot_keeps_only_the_newest(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("snapshots");
    append_ok(&*store, request(&key, 0, ["0", "1", "2", "3", "4", "5"])).await;

    for (put, want) in [
        (snapshot(3, "three"), snapshot(3, "three")),
        (snapshot(1, "one"), snapshot(3, "three")),
        (snapshot(4, "four"), snapshot(4, "four")),
        (snapshot(4, "four-again"), snapshot(4, "four-again")),
    ] {
        store
            .put_snapshot(&key, put.clone())
            .await
            .expect("put a snapshot");
        assert_eq!(
            get_snapshot(&*store, &key).await,
            Some(want),
            "after putting {put:?}"
        );
    }

    let older = AppendRequest {
        snapshot: Some(snapshot(2, "older")),
        ..request(&key, 6, ["6"])
    };
    append_ok(&*store, older).await;
    assert_eq!(
        get_snapshot(&*store, &key).await,
        Some(snapshot(4, "four-again")),
        "an append's older snapshot is ignored"
    );

    let newer = AppendRequest {
        snapshot: Some(snapshot(7, "seven")),
        ..request(&key, 7, ["7"])
    };
    append_ok(&*store, newer).await;
    assert_eq!(
        get_snapshot(&*store, &key).await,
        Some(snapshot(7, "seven"))
    );
    assert_eq!(
        load(&*store, &key, true).await.snapshot,
        Some(snapshot(7, "seven"))
    );
}

/// An idempotency key is recorded with its step and can be looked up; reusing it fails with
/// `DuplicateIdempotencyKey` carrying the first record (even when the sequence is stale too)
/// and writes nothing.
pub async fn idempotency_keys_are_recorded_once(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let (a, b) = (key("idempotent-a"), key("idempotent-b"));
    assert_eq!(idempotency(&*store, "command-1").await, None);

    let first = record("command-1", &a, 0, 2);
    append_ok(
        &*store,
        AppendRequest {
            idempotency: Some(first.clone()),
            ..request(&a, 0, ["a0", "a1"])
        },
    )
    .await;
    assert_eq!(idempotency(&*store, "command-1").await, Some(first.clone()));
    assert_eq!(idempotency(&*store, "command-unknown").await, None);

    let reuses = [
        (
            "another history",
            AppendRequest {
                idempotency: Some(record("command-1", &b, 0, 1)),
                ..request(&b, 0, ["b0"])
            },
        ),
        (
            "the same history",
            AppendRequest {
                idempotency: Some(record("command-1", &a, 2, 1)),
                ..request(&a, 2, ["a2"])
            },
        ),
        (
            "a stale sequence",
            AppendRequest {
                idempotency: Some(record("command-1", &a, 0, 2)),
                ..request(&a, 0, ["a0", "a1"])
            },
        ),
    ];
    for (what, request) in reuses {
        match store.append(request).await {
            Err(StorageError::DuplicateIdempotencyKey(existing)) => {
                assert_eq!(*existing, first, "reuse on {what} names the first record");
            }
            other => panic!("reusing a key on {what} must fail as a duplicate, got {other:?}"),
        }
    }
    assert_eq!(history(&*store, &b).await, [], "nothing was written");
    assert_eq!(sequences(&history(&*store, &a).await), [0, 1]);
    assert_eq!(head(&*store).await, 2);

    let no_events = record("command-2", &b, 0, 0);
    let committed = append_ok(
        &*store,
        AppendRequest {
            idempotency: Some(no_events.clone()),
            ..request(&b, 0, NONE)
        },
    )
    .await;
    assert_eq!(committed, [], "a command may produce no events");
    assert_eq!(idempotency(&*store, "command-2").await, Some(no_events));
    assert_eq!(head(&*store).await, 2);
}

/// Checkpoints start at 0 and never move backwards, whether moved alone or with an append.
pub async fn checkpoints_never_move_backwards(factory: &impl StoreFactory) {
    let store = factory.open().await;
    assert_eq!(
        checkpoint(&*store, "projector").await,
        0,
        "no checkpoint yet"
    );

    for (put, want) in [(5, 5), (3, 5), (5, 5), (7, 7)] {
        store
            .put_checkpoint(Checkpoint {
                subscriber: "projector".into(),
                position: put,
            })
            .await
            .expect("put a checkpoint");
        assert_eq!(
            checkpoint(&*store, "projector").await,
            want,
            "after putting {put}"
        );
    }
    assert_eq!(
        checkpoint(&*store, "saga").await,
        0,
        "subscribers are independent"
    );

    let key = key("checkpointed");
    for (sequence, put, want) in [(0, 6, 7), (1, 9, 9)] {
        append_ok(
            &*store,
            AppendRequest {
                checkpoint: Some(Checkpoint {
                    subscriber: "projector".into(),
                    position: put,
                }),
                ..request(&key, sequence, ["e"])
            },
        )
        .await;
        assert_eq!(
            checkpoint(&*store, "projector").await,
            want,
            "after appending {put}"
        );
    }
}

/// `(domain, edition, root)` addresses a history: another edition or domain with the same
/// root has its own sequences and snapshot, while all share the global log.
pub async fn editions_are_separate_histories(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let root = Uuid::new_v4();
    let main = HistoryKey::main("orders", root);
    let edition = HistoryKey {
        edition: "what-if".into(),
        ..main.clone()
    };
    let other_domain = HistoryKey::main("invoices", root);

    append_ok(&*store, request(&main, 0, ["m0", "m1"])).await;
    let branch = append_ok(&*store, request(&edition, 0, ["w0"])).await;
    assert_eq!(
        sequences(&branch),
        [0],
        "the edition starts its own sequence"
    );
    append_ok(&*store, request(&other_domain, 0, ["i0"])).await;
    expect_conflict(
        store.append(request(&edition, 2, ["w1"])).await,
        &edition,
        2,
        1,
    );

    assert_eq!(labels(&history(&*store, &main).await), ["m0", "m1"]);
    let loaded = load(&*store, &edition, true).await;
    assert_eq!(labels(&loaded.events), ["w0"]);
    assert_eq!(loaded.events[0].key, edition, "events name their edition");
    assert_eq!(loaded.next_sequence, 1);
    assert_eq!(labels(&history(&*store, &other_domain).await), ["i0"]);

    store
        .put_snapshot(&main, snapshot(1, "main"))
        .await
        .expect("put a snapshot on main");
    assert_eq!(get_snapshot(&*store, &edition).await, None);
    assert_eq!(get_snapshot(&*store, &other_domain).await, None);
    assert_eq!(head(&*store).await, 4, "all histories share one log");
}

/// `read_history(from, to)` returns the events with `from <= sequence < to`, in order.
pub async fn read_history_returns_the_requested_range(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let key = key("ranges");
    append_ok(&*store, request(&key, 0, ["0", "1", "2"])).await;
    append_ok(&*store, request(&key, 3, ["3", "4", "5"])).await;

    let cases: [(u32, Option<u32>, &[u32]); 9] = [
        (0, None, &[0, 1, 2, 3, 4, 5]),
        (2, None, &[2, 3, 4, 5]),
        (2, Some(4), &[2, 3]),
        (0, Some(1), &[0]),
        (0, Some(100), &[0, 1, 2, 3, 4, 5]),
        (4, Some(4), &[]),
        (5, Some(2), &[]),
        (6, None, &[]),
        (10, Some(20), &[]),
    ];
    for (from, to, want) in cases {
        let events = store
            .read_history(&key, from, to)
            .await
            .expect("read a range");
        assert_eq!(sequences(&events), want, "range {from}..{to:?}");
    }
    assert_eq!(
        store
            .read_history(&self::key("ranges-unknown"), 0, None)
            .await
            .expect("read an unknown history"),
        [],
    );
}

/// Everything committed survives closing the store and opening it again, and the reopened
/// store goes on with the next sequence and position.
pub async fn reopening_keeps_everything(factory: &impl StoreFactory) {
    let key = key("reopen");
    let store = factory.open().await;
    let committed = append_ok(
        &*store,
        AppendRequest {
            snapshot: Some(snapshot(1, "kept")),
            idempotency: Some(record("reopen-command", &key, 0, 3)),
            checkpoint: Some(Checkpoint {
                subscriber: "reopen-subscriber".into(),
                position: 3,
            }),
            ..request(&key, 0, ["a", "b", "c"])
        },
    )
    .await;
    drop(store);

    let store = factory.open().await;
    assert_eq!(history(&*store, &key).await, committed);
    assert_eq!(read_global(&*store, 0, 10).await, committed);
    assert_eq!(head(&*store).await, 3);
    assert_eq!(get_snapshot(&*store, &key).await, Some(snapshot(1, "kept")));
    assert_eq!(
        idempotency(&*store, "reopen-command").await,
        Some(record("reopen-command", &key, 0, 3))
    );
    assert_eq!(checkpoint(&*store, "reopen-subscriber").await, 3);
    let loaded = load(&*store, &key, true).await;
    assert_eq!(loaded.events, committed[2..]);
    assert_eq!(loaded.next_sequence, 3);

    let next = append_ok(&*store, request(&key, 3, ["d"])).await;
    assert_eq!(sequences(&next), [3]);
    assert_eq!(positions(&next), [4]);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// No events, for requests that only carry a record, snapshot or checkpoint.
const NONE: [&str; 0] = [];
const CORRELATION: &str = "conformance-correlation";
const EVENT_TYPE: &str = "type.googleapis.com/angzarr.conformance.Happened";
const STATE_TYPE: &str = "type.googleapis.com/angzarr.conformance.State";

fn key(domain: &str) -> HistoryKey {
    HistoryKey::main(domain, Uuid::new_v4())
}

/// An event whose payload is its label, caused by a command named after it.
fn new_event(label: &str) -> NewEvent {
    NewEvent {
        event: Any {
            type_url: EVENT_TYPE.into(),
            value: label.as_bytes().to_vec(),
        },
        causation: Some(Causation {
            cause: Some(causation::Cause::CommandId(format!("command-{label}"))),
        }),
    }
}

fn request<L: AsRef<str>>(
    key: &HistoryKey,
    expected_next: u32,
    labels: impl IntoIterator<Item = L>,
) -> AppendRequest {
    AppendRequest {
        key: key.clone(),
        expected_next,
        correlation_id: CORRELATION.into(),
        events: labels.into_iter().map(|l| new_event(l.as_ref())).collect(),
        snapshot: None,
        idempotency: None,
        checkpoint: None,
    }
}

fn snapshot(sequence: u32, state: &str) -> Snapshot {
    Snapshot {
        sequence,
        state: Some(Any {
            type_url: STATE_TYPE.into(),
            value: state.as_bytes().to_vec(),
        }),
    }
}

fn record(command: &str, history: &HistoryKey, first: u32, count: u32) -> IdempotencyRecord {
    IdempotencyRecord {
        key: command.into(),
        command_hash: format!("hash-of-{command}").into_bytes(),
        history: history.clone(),
        first_sequence: first,
        event_count: count,
        correlation_id: CORRELATION.into(),
    }
}

fn label(event: &StoredEvent) -> String {
    String::from_utf8_lossy(&event.event.value).into_owned()
}

fn labels(events: &[StoredEvent]) -> Vec<String> {
    events.iter().map(label).collect()
}

fn sequences(events: &[StoredEvent]) -> Vec<u32> {
    events.iter().map(|e| e.sequence).collect()
}

fn positions(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

async fn append_ok(store: &dyn EventStore, request: AppendRequest) -> Vec<StoredEvent> {
    let what = format!("append to {} at {}", request.key, request.expected_next);
    store
        .append(request)
        .await
        .unwrap_or_else(|err| panic!("{what} failed: {err}"))
}

/// Appends one event at the current end of the history, re-reading after every conflict.
async fn append_with_retries(store: &dyn EventStore, key: &HistoryKey, label: &str) {
    loop {
        let next = load(store, key, true).await.next_sequence;
        match store.append(request(key, next, [label])).await {
            Ok(events) => {
                assert_eq!(sequences(&events), [next]);
                return;
            }
            Err(StorageError::Conflict {
                expected, actual, ..
            }) => {
                assert_eq!(expected, next);
                assert!(
                    actual > next,
                    "a conflict means another writer got there first"
                );
            }
            Err(other) => panic!("append to {key} failed: {other}"),
        }
    }
}

async fn load(store: &dyn EventStore, key: &HistoryKey, use_snapshot: bool) -> LoadedHistory {
    store
        .load(key, LoadOptions { use_snapshot })
        .await
        .expect("load a history")
}

async fn history(store: &dyn EventStore, key: &HistoryKey) -> Vec<StoredEvent> {
    store
        .read_history(key, 0, None)
        .await
        .expect("read a history")
}

async fn read_global(store: &dyn EventStore, after: u64, limit: usize) -> Vec<StoredEvent> {
    store
        .read_global(after, limit)
        .await
        .expect("read the global log")
}

async fn head(store: &dyn EventStore) -> u64 {
    store.head_position().await.expect("read the head position")
}

async fn get_snapshot(store: &dyn EventStore, key: &HistoryKey) -> Option<Snapshot> {
    store.get_snapshot(key).await.expect("read a snapshot")
}

async fn idempotency(store: &dyn EventStore, command: &str) -> Option<IdempotencyRecord> {
    store
        .idempotency(command)
        .await
        .expect("read an idempotency record")
}

async fn checkpoint(store: &dyn EventStore, subscriber: &str) -> u64 {
    store
        .checkpoint(subscriber)
        .await
        .expect("read a checkpoint")
}

fn expect_conflict<T: std::fmt::Debug>(
    result: StorageResult<T>,
    key: &HistoryKey,
    expected: u32,
    actual: u32,
) {
    match result {
        Err(StorageError::Conflict {
            key: conflict_key,
            expected: conflict_expected,
            actual: conflict_actual,
        }) => {
            assert_eq!(&conflict_key, key, "the conflict names the history");
            assert_eq!(
                conflict_expected, expected,
                "the conflict names the expectation"
            );
            assert_eq!(
                conflict_actual, actual,
                "the conflict names the actual next sequence"
            );
        }
        other => panic!(
            "expected a conflict on {key} (expected {expected}, actual {actual}), got {other:?}"
        ),
    }
}

fn expect_invalid<T: std::fmt::Debug>(result: StorageResult<T>, what: &str) {
    match result {
        Err(StorageError::Invalid(message)) => {
            assert!(!message.is_empty(), "{what}: the error says what is wrong");
        }
        other => panic!("{what} must be refused as invalid, got {other:?}"),
    }
}

/// Parking records the failure and moves the subscriber's checkpoint in one step; records are
/// listed oldest first (per subscriber when asked), updated by a failed re-drive, removed once,
/// and survive reopening.
pub async fn parking_moves_the_checkpoint_and_keeps_a_record(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let park = |subscriber: &str, position: u64| ParkRequest {
        subscriber: subscriber.into(),
        position,
        error: format!("failed at {position}"),
        attempts: 5,
    };
    let first = store.park(park("projector", 4)).await.expect("park");
    assert_eq!(
        checkpoint(&*store, "projector").await,
        4,
        "moved past the event"
    );
    let second = store.park(park("saga", 2)).await.expect("park");
    let third = store.park(park("projector", 9)).await.expect("park");
    assert!(first < second && second < third, "ids increase");
    assert_eq!(checkpoint(&*store, "projector").await, 9);

    let all = store.list_parked(None).await.expect("list");
    let ids: Vec<u64> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, [first, second, third], "oldest first");
    assert_eq!(all[0].subscriber, "projector");
    assert_eq!(all[0].position, 4);
    assert_eq!(all[0].error, "failed at 4");
    assert_eq!(all[0].attempts, 5);
    let projector = store.list_parked(Some("projector")).await.expect("list");
    assert_eq!(
        projector.iter().map(|r| r.position).collect::<Vec<_>>(),
        [4, 9]
    );

    // Parking an older position never moves a checkpoint backwards.
    store.park(park("projector", 1)).await.expect("park");
    assert_eq!(checkpoint(&*store, "projector").await, 9);

    assert!(
        store
            .update_parked(first, "still failing", 2)
            .await
            .expect("update")
    );
    assert!(!store.update_parked(9_999, "x", 1).await.expect("update"));
    assert!(store.remove_parked(third).await.expect("remove"));
    assert!(
        !store.remove_parked(third).await.expect("remove"),
        "removed once"
    );
    let invalid = store.park(park("", 3)).await;
    assert!(
        matches!(invalid, Err(StorageError::Invalid(_))),
        "{invalid:?}"
    );
    drop(store);

    let store = factory.open().await;
    let kept = store.list_parked(Some("projector")).await.expect("list");
    assert_eq!(kept.iter().map(|r| r.position).collect::<Vec<_>>(), [4, 1]);
    assert_eq!(kept[0].error, "still failing");
    assert_eq!(kept[0].attempts, 7);
    assert_eq!(
        store.list_parked(Some("saga")).await.expect("list").len(),
        1
    );
}

/// `list_roots` lists each root with events once, per domain and main timeline only, in byte
/// order, paged by `after`.
pub async fn roots_are_listed_per_domain_in_pages(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let mut roots: Vec<Uuid> = (1..=5u128).map(|n| Uuid::from_u128(n << 100 | 7)).collect();
    for root in &roots {
        let key = HistoryKey::main("listed", *root);
        append_ok(&*store, request(&key, 0, ["a", "b"])).await;
    }
    append_ok(
        &*store,
        request(&HistoryKey::main("other", roots[0]), 0, ["x"]),
    )
    .await;
    let mut edition = HistoryKey::main("listed", Uuid::from_u128(99));
    edition.edition = "v2".into();
    append_ok(&*store, request(&edition, 0, ["e"])).await;

    roots.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let first = store.list_roots("listed", None, 3).await.expect("list");
    assert_eq!(first, roots[..3]);
    let rest = store
        .list_roots("listed", first.last().copied(), 3)
        .await
        .expect("list");
    assert_eq!(rest, roots[3..]);
    assert_eq!(
        store.list_roots("other", None, 10).await.expect("list"),
        [Uuid::from_u128(1 << 100 | 7)],
        "domains are separate"
    );
    assert!(
        store
            .list_roots("nothing", None, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Editions and correlation queries
// ---------------------------------------------------------------------------------------------

async fn create_edition(store: &dyn EventStore, key: &HistoryKey, divergence: u32) -> Edition {
    store
        .create_edition(key, divergence)
        .await
        .unwrap_or_else(|err| panic!("create {key} at {divergence}: {err}"))
}

/// An edition reads main's events up to its divergence, then its own, numbered on from
/// there; writing to it never changes main, and main's later events never show in it.
pub async fn an_edition_shares_main_up_to_its_divergence(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let main = key("branched");
    let edition = main.with_edition("what-if");
    let main_events = append_ok(&*store, request(&main, 0, ["m0", "m1", "m2", "m3"])).await;

    let created = create_edition(&*store, &edition, 1).await;
    assert_eq!(created.key, edition);
    assert_eq!(created.divergence, 1);
    assert_eq!(
        store.edition(&edition).await.expect("edition"),
        Some(created)
    );
    let loaded = load(&*store, &edition, true).await;
    assert_eq!(
        labels(&loaded.events),
        ["m0", "m1"],
        "the shared part of main"
    );
    assert_eq!(
        loaded.events,
        main_events[..2],
        "shared events are main's own"
    );
    assert_eq!(loaded.next_sequence, 2, "numbered on after the divergence");

    expect_conflict(
        store.append(request(&edition, 4, ["w"])).await,
        &edition,
        4,
        2,
    );
    let own = append_ok(&*store, request(&edition, 2, ["e2", "e3"])).await;
    assert_eq!(sequences(&own), [2, 3]);
    assert_eq!(
        positions(&own),
        [5, 6],
        "edition events join the global log"
    );
    assert!(
        own.iter().all(|e| e.key == edition),
        "own events name the edition"
    );
    assert_eq!(
        labels(&history(&*store, &edition).await),
        ["m0", "m1", "e2", "e3"]
    );
    let range = store
        .read_history(&edition, 1, Some(3))
        .await
        .expect("read a range");
    assert_eq!(labels(&range), ["m1", "e2"]);
    assert_eq!(load(&*store, &edition, true).await.next_sequence, 4);

    append_ok(&*store, request(&main, 4, ["m4"])).await;
    assert_eq!(
        labels(&history(&*store, &main).await),
        ["m0", "m1", "m2", "m3", "m4"],
        "main never changes through its edition"
    );
    assert_eq!(
        labels(&history(&*store, &edition).await),
        ["m0", "m1", "e2", "e3"],
        "main's later events stay out of the edition"
    );
}

/// An edition starts from its own snapshot, or from main's when it lies at or before the
/// divergence; never from a main snapshot taken after it.
pub async fn an_edition_loads_from_its_own_snapshot_or_an_early_one_of_main(
    factory: &impl StoreFactory,
) {
    let store = factory.open().await;
    let main = key("snapshots");
    append_ok(
        &*store,
        AppendRequest {
            snapshot: Some(snapshot(1, "main@1")),
            ..request(&main, 0, ["m0", "m1", "m2", "m3"])
        },
    )
    .await;
    let early = main.with_edition("early");
    create_edition(&*store, &early, 2).await;
    let loaded = load(&*store, &early, true).await;
    assert_eq!(loaded.snapshot, Some(snapshot(1, "main@1")));
    assert_eq!(labels(&loaded.events), ["m2"]);

    store
        .put_snapshot(&main, snapshot(3, "main@3"))
        .await
        .expect("a later snapshot on main");
    let loaded = load(&*store, &early, true).await;
    assert_eq!(
        loaded.snapshot, None,
        "main keeps only its newest snapshot, which lies after the divergence"
    );
    assert_eq!(labels(&loaded.events), ["m0", "m1", "m2"]);

    append_ok(
        &*store,
        AppendRequest {
            snapshot: Some(snapshot(3, "early@3")),
            ..request(&early, 3, ["e3", "e4"])
        },
    )
    .await;
    let loaded = load(&*store, &early, true).await;
    assert_eq!(loaded.snapshot, Some(snapshot(3, "early@3")));
    assert_eq!(labels(&loaded.events), ["e4"]);
    assert_eq!(loaded.next_sequence, 5);
    assert_eq!(
        get_snapshot(&*store, &main).await,
        Some(snapshot(3, "main@3"))
    );
    expect_invalid(
        store.put_snapshot(&early, snapshot(5, "beyond")).await,
        "a snapshot beyond the edition",
    );
    store
        .put_snapshot(&early, snapshot(4, "early@4"))
        .await
        .expect("a snapshot within the edition");
    assert_eq!(
        load(&*store, &early, true).await.snapshot,
        Some(snapshot(4, "early@4"))
    );
    let without = load(&*store, &early, false).await;
    assert_eq!(labels(&without.events), ["m0", "m1", "m2", "e3", "e4"]);
}

/// Creating an edition refuses, writing nothing, an aggregate without events, a divergence
/// beyond main's last event, a bad name, and a name already taken (or already holding events).
pub async fn creating_an_edition_checks_aggregate_divergence_and_name(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let main = key("checked");
    append_ok(&*store, request(&main, 0, ["m0", "m1"])).await;
    let missing = key("checked").with_edition("v1");
    match store.create_edition(&missing, 0).await {
        Err(StorageError::NotFound(message)) => {
            assert!(message.contains(&missing.root.to_string()), "{message}");
        }
        other => panic!("an edition of a missing aggregate must be NotFound, got {other:?}"),
    }
    expect_invalid(
        store.create_edition(&main.with_edition("v1"), 2).await,
        "a divergence beyond the last event",
    );
    for bad in ["", "with space", "star*", &"x".repeat(65)] {
        expect_invalid(
            store.create_edition(&main.with_edition(bad), 0).await,
            "a bad edition name",
        );
    }
    create_edition(&*store, &main.with_edition("v1"), 1).await;
    match store.create_edition(&main.with_edition("v1"), 0).await {
        Err(StorageError::EditionExists(existing)) => {
            assert_eq!(existing, main.with_edition("v1"));
        }
        other => panic!("a duplicate edition must be EditionExists, got {other:?}"),
    }
    // A history written under an edition name without creating it shares nothing; it
    // cannot be turned into an edition afterwards.
    let raw = main.with_edition("raw");
    append_ok(&*store, request(&raw, 0, ["r0"])).await;
    assert!(matches!(
        store.create_edition(&raw, 0).await,
        Err(StorageError::EditionExists(_))
    ));
    assert_eq!(
        store
            .edition(&main.with_edition("v1"))
            .await
            .expect("edition")
            .map(|e| e.divergence),
        Some(1),
        "the duplicate changed nothing"
    );
    assert_eq!(store.edition(&raw).await.expect("edition"), None);
    assert_eq!(
        store.list_editions(None, None).await.expect("list").len(),
        1,
        "only the edition that was created"
    );
    assert_eq!(head(&*store).await, 3, "refusals wrote no events");
}

/// Concurrent writers on one edition get gapless sequences after the divergence.
pub async fn concurrent_appends_to_an_edition_stay_gapless(factory: &impl StoreFactory) {
    let store = factory.open().await;
    let main = key("concurrent-edition");
    append_ok(&*store, request(&main, 0, ["m0", "m1", "m2"])).await;
    let edition = main.with_edition("busy");
    create_edition(&*store, &edition, 1).await;
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = store.clone();
            let edition = edition.clone();
            tokio::spawn(async move {
                for n in 0..5 {
                    append_with_retries(&*store, &edition, &format!("w{writer}-{n}")).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer finished");
    }
    let events = history(&*store, &edition).await;
    assert_eq!(sequences(&events), (0..42).collect::<Vec<u32>>());
    assert_eq!(labels(&events[..2]), ["m0", "m1"]);
    assert_eq!(labels(&history(&*store, &main).await), ["m0", "m1", "m2"]);
}

/// Deleting an edition removes its events, snapshot and idempotency records and nothing
/// else; the name can be used again, and removed positions are never handed out again.
pub async fn deleting_an_edition_leaves_main_and_never_reuses_positions(
    factory: &impl StoreFactory,
) {
    let store = factory.open().await;
    let main = key("deleted");
    let main_events = append_ok(&*store, request(&main, 0, ["m0", "m1"])).await;
    let edition = main.with_edition("gone");
    let other = main.with_edition("kept");
    create_edition(&*store, &edition, 0).await;
    create_edition(&*store, &other, 1).await;
    let kept = append_ok(&*store, request(&other, 2, ["k2"])).await;
    append_ok(
        &*store,
        AppendRequest {
            snapshot: Some(snapshot(2, "gone@2")),
            idempotency: Some(record("edition-command", &edition, 1, 2)),
            ..request(&edition, 1, ["g1", "g2"])
        },
    )
    .await;
    assert_eq!(head(&*store).await, 5);

    assert_eq!(
        store.delete_edition(&edition).await.expect("delete"),
        Some(2)
    );
    assert_eq!(store.edition(&edition).await.expect("edition"), None);
    assert_eq!(history(&*store, &edition).await, [], "its events are gone");
    assert_eq!(get_snapshot(&*store, &edition).await, None);
    assert_eq!(idempotency(&*store, "edition-command").await, None);
    assert_eq!(
        history(&*store, &main).await,
        main_events,
        "main is untouched"
    );
    assert_eq!(labels(&history(&*store, &other).await), ["m0", "m1", "k2"]);
    let log = read_global(&*store, 0, 100).await;
    assert_eq!(positions(&log), [1, 2, 3], "the log no longer shows them");
    assert_eq!(log[2], kept[0]);
    assert_eq!(head(&*store).await, 3);
    assert_eq!(store.delete_edition(&edition).await.expect("delete"), None);

    create_edition(&*store, &edition, 1).await;
    let again = append_ok(&*store, request(&edition, 2, ["again"])).await;
    assert_eq!(sequences(&again), [2]);
    assert_eq!(positions(&again), [6], "positions 4 and 5 are never reused");
    let next = append_ok(&*store, request(&main, 2, ["m2"])).await;
    assert_eq!(positions(&next), [7]);
    drop(store);

    let store = factory.open().await;
    let after_reopen = append_ok(&*store, request(&main, 3, ["m3"])).await;
    assert_eq!(positions(&after_reopen), [8]);
}

/// Editions are listed by domain and root, in order, and survive reopening.
pub async fn editions_are_listed_per_domain_and_root_and_survive_reopening(
    factory: &impl StoreFactory,
) {
    let store = factory.open().await;
    let low = HistoryKey::main("listing", Uuid::from_u128(1 << 100));
    let high = HistoryKey::main("listing", Uuid::from_u128(2 << 100));
    let elsewhere = HistoryKey::main("listing-other", Uuid::from_u128(1 << 100));
    for history in [&low, &high, &elsewhere] {
        append_ok(&*store, request(history, 0, ["a", "b"])).await;
    }
    create_edition(&*store, &high.with_edition("b"), 0).await;
    create_edition(&*store, &low.with_edition("b"), 1).await;
    create_edition(&*store, &low.with_edition("a"), 0).await;
    create_edition(&*store, &elsewhere.with_edition("a"), 0).await;
    drop(store);

    let store = factory.open().await;
    let names = |editions: Vec<Edition>| -> Vec<String> {
        editions.iter().map(|e| format!("{}", e.key)).collect()
    };
    let all = store.list_editions(None, None).await.expect("list");
    assert_eq!(
        names(all),
        [
            format!("{}", low.with_edition("a")),
            format!("{}", low.with_edition("b")),
            format!("{}", high.with_edition("b")),
            format!("{}", elsewhere.with_edition("a")),
        ]
    );
    let domain = store
        .list_editions(Some("listing"), None)
        .await
        .expect("list");
    assert_eq!(domain.len(), 3);
    let one = store
        .list_editions(Some("listing"), Some(low.root))
        .await
        .expect("list");
    assert_eq!(one.len(), 2);
    assert_eq!(one[1].divergence, 1);
    assert!(
        store
            .list_editions(Some("nothing"), None)
            .await
            .expect("list")
            .is_empty()
    );
}

/// `read_correlated` returns one workflow's events from every history, in global order, paged
/// by position.
pub async fn correlated_events_are_read_across_histories_in_global_order(
    factory: &impl StoreFactory,
) {
    let store = factory.open().await;
    let with = |key: &HistoryKey, next: u32, label: &str, correlation: &str| AppendRequest {
        correlation_id: correlation.into(),
        ..request(key, next, [label])
    };
    let (a, b, c) = (key("corr-a"), key("corr-b"), key("corr-c"));
    append_ok(&*store, with(&a, 0, "a0", "flow")).await;
    append_ok(&*store, with(&b, 0, "b0", "other")).await;
    append_ok(&*store, with(&b, 1, "b1", "flow")).await;
    append_ok(&*store, with(&c, 0, "c0", "flow")).await;
    append_ok(&*store, with(&a, 1, "a1", "other")).await;
    append_ok(&*store, with(&a, 2, "a2", "flow")).await;

    let flow = store.read_correlated("flow", 0, 100).await.expect("read");
    assert_eq!(labels(&flow), ["a0", "b1", "c0", "a2"]);
    assert_eq!(positions(&flow), [1, 3, 4, 6]);
    assert!(flow.iter().all(|e| e.correlation_id == "flow"));
    let page = store.read_correlated("flow", 1, 2).await.expect("read");
    assert_eq!(labels(&page), ["b1", "c0"]);
    let rest = store.read_correlated("flow", 4, 2).await.expect("read");
    assert_eq!(labels(&rest), ["a2"]);
    assert!(
        store
            .read_correlated("none", 0, 10)
            .await
            .expect("read")
            .is_empty()
    );
}
