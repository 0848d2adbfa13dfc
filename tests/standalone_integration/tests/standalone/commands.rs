//! The aggregate pipeline seen from a client: numbering, concurrency, optimistic concurrency,
//! rejections, idempotency, correlation ids and snapshots.

use std::collections::BTreeSet;

use angzarr_standalone_integration::{
    Client, SystemConfig, TestSystem, assert_gapless, correlation_id, echo, echoed, echoed_events,
    expect_status, multi, pages, sequences,
};
use angzarr_synthetic_aggregate::{Reject, pack};
use futures::future::join_all;
use tonic::Code;
use uuid::Uuid;

/// A running system with one synthetic aggregate, `echo`, and a client of it.
async fn echo_system() -> (TestSystem, Client) {
    TestSystem::start_with_client(&SystemConfig::new(&["echo"]), "echo").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_are_gapless_per_aggregate_and_independent_across_aggregates() {
    let (system, client) = echo_system().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());

    let mut positions = Vec::new();
    for n in 0..5u32 {
        let response = client.ok(a, echo(format!("a{n}"))).await;
        assert_eq!(sequences(&response), vec![n]);
        assert_eq!(response.events.as_ref().expect("book").next_sequence, n + 1);
        positions.extend(pages(&response).iter().map(|p| p.position));
    }
    let response = client.ok(a, multi(5, "five")).await;
    assert_eq!(sequences(&response), vec![5, 6, 7, 8, 9]);
    assert_eq!(response.events.as_ref().expect("book").next_sequence, 10);
    positions.extend(pages(&response).iter().map(|p| p.position));

    let response = client.ok(b, echo("b0")).await;
    assert_eq!(
        sequences(&response),
        vec![0],
        "another aggregate starts at 0"
    );
    positions.extend(pages(&response).iter().map(|p| p.position));

    // Global positions follow commit order: 1, 2, 3, ... without gaps.
    assert_eq!(positions, (1..=11).collect::<Vec<u64>>());
    let history_a = system.history("echo", a).await;
    assert_eq!(history_a.len(), 10);
    assert_gapless(&history_a);
    assert_gapless(&system.history("echo", b).await);
    assert_eq!(system.head().await, 11);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_on_one_aggregate_all_succeed_without_gaps_or_duplicates() {
    const CLIENTS: usize = 32;
    const COMMANDS: usize = 4;
    let (system, _) = echo_system().await;
    let root = Uuid::new_v4();

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(system.client("echo").await);
    }
    let runs = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| async move {
            let mut acked = Vec::new();
            for i in 0..COMMANDS {
                let payload = format!("{c}-{i}");
                let response = client.ok(root, echo(payload.clone())).await;
                let sequences = sequences(&response);
                assert_eq!(sequences.len(), 1);
                acked.push((sequences[0], payload));
            }
            acked
        });
    let acked: Vec<(u32, String)> = join_all(runs).await.into_iter().flatten().collect();

    let total = CLIENTS * COMMANDS;
    let acked_sequences: BTreeSet<u32> = acked.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        acked_sequences.len(),
        total,
        "no sequence is acknowledged twice"
    );
    let history = system.history("echo", root).await;
    assert_eq!(history.len(), total);
    assert_gapless(&history);
    for (sequence, payload) in &acked {
        let stored = echoed(&history[*sequence as usize].event);
        assert_eq!(stored.payload, payload.as_bytes(), "event at {sequence}");
    }
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_to_different_aggregates_run_in_parallel_and_stay_correct() {
    const AGGREGATES: usize = 8;
    const COMMANDS: u32 = 10;
    let (system, client) = echo_system().await;
    let roots: Vec<Uuid> = (0..AGGREGATES).map(|_| Uuid::new_v4()).collect();

    let runs = roots.iter().map(|root| {
        let client = client.clone();
        let root = *root;
        async move {
            for n in 0..COMMANDS {
                let response = client.ok(root, echo(format!("{root}-{n}"))).await;
                assert_eq!(sequences(&response), vec![n], "aggregate {root}");
            }
        }
    });
    join_all(runs).await;

    for root in &roots {
        let history = system.history("echo", *root).await;
        assert_eq!(history.len(), COMMANDS as usize);
        assert_gapless(&history);
        for event in &history {
            let expected = format!("{root}-{}", event.sequence);
            assert_eq!(echoed(&event.event).payload, expected.as_bytes());
        }
    }
    assert_eq!(
        system.head().await,
        (AGGREGATES as u64) * u64::from(COMMANDS)
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_expected_sequence_is_aborted_with_the_current_one_and_changes_nothing() {
    let (system, client) = echo_system().await;
    let root = Uuid::new_v4();
    client.ok(root, multi(3, "x")).await;
    let before = system.history("echo", root).await;
    let head = system.head().await;

    for stale in [0, 1, 2, 10] {
        let mut book = client.book(root, echo("late"));
        book.pages[0].sequence = Some(stale);
        let message = expect_status(client.send(book).await, Code::Aborted);
        assert!(
            message.contains("next sequence is 3"),
            "the message names the current next sequence: {message}"
        );
    }
    assert_eq!(system.history("echo", root).await, before);
    assert_eq!(system.head().await, head);

    let mut book = client.book(root, echo("on time"));
    book.pages[0].sequence = Some(3);
    let response = client
        .send(book)
        .await
        .expect("the current sequence is accepted");
    assert_eq!(sequences(&response), vec![3]);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_passes_the_message_through_and_changes_nothing() {
    let (system, client) = echo_system().await;
    let root = Uuid::new_v4();
    client.ok(root, echo("first")).await;
    let before = system.history("echo", root).await;
    let head = system.head().await;

    let text = "credit limit exceeded: 120 > 100 (ünïcode, \"quotes\", 100%)";
    let reject = pack(&Reject {
        message: text.to_string(),
    });
    let message = expect_status(
        client.run(root, reject.clone()).await,
        Code::FailedPrecondition,
    );
    assert_eq!(message, text, "the business logic's message, unchanged");
    let fresh = Uuid::new_v4();
    expect_status(client.run(fresh, reject).await, Code::FailedPrecondition);

    assert_eq!(system.history("echo", root).await, before);
    assert!(system.history("echo", fresh).await.is_empty());
    assert_eq!(system.head().await, head);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_gets_the_first_response_and_stores_nothing_more() {
    let (system, client) = echo_system().await;
    let root = Uuid::new_v4();
    let mut book = client.book(root, multi(3, "once"));
    book.idempotency_key = "order-42".into();

    let first = client.send(book.clone()).await.expect("first");
    assert_eq!(sequences(&first), vec![0, 1, 2]);
    let retry = client.send(book.clone()).await.expect("retry");
    assert_eq!(
        retry, first,
        "same events, sequences, positions, correlation id"
    );
    let retries = join_all((0..8).map(|_| client.send(book.clone()))).await;
    for retry in retries {
        assert_eq!(retry.expect("concurrent retry"), first);
    }
    assert_eq!(system.history("echo", root).await.len(), 3);
    let head = system.head().await;
    assert_eq!(head, 3);

    // The same key for another command (other payload, other aggregate) is refused.
    let mut other = client.book(root, multi(3, "twice"));
    other.idempotency_key = "order-42".into();
    let message = expect_status(client.send(other).await, Code::AlreadyExists);
    assert!(message.contains("order-42"), "{message}");
    let elsewhere = Uuid::new_v4();
    let mut other = book.clone();
    other.cover = client.book(elsewhere, echo("")).cover;
    expect_status(client.send(other).await, Code::AlreadyExists);
    assert_eq!(system.history("echo", root).await.len(), 3);
    assert!(system.history("echo", elsewhere).await.is_empty());
    assert_eq!(system.head().await, head);

    // Concurrent first sends of a new key execute once.
    let mut fresh = client.book(root, echo("raced"));
    fresh.idempotency_key = "order-43".into();
    let raced = join_all((0..8).map(|_| client.send(fresh.clone()))).await;
    let raced: Vec<_> = raced.into_iter().map(|r| r.expect("raced send")).collect();
    assert!(raced.iter().all(|r| *r == raced[0]), "all get one answer");
    assert_eq!(sequences(&raced[0]), vec![3]);
    assert_eq!(system.history("echo", root).await.len(), 4);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_correlation_id_is_kept_and_a_missing_one_is_derived_from_the_command() {
    let (system, client) = echo_system().await;
    let root = Uuid::new_v4();

    let mut book = client.book(root, multi(3, "given"));
    book.cover.as_mut().expect("cover").correlation_id = "workflow-7".into();
    let response = client.send(book).await.expect("given");
    assert_eq!(correlation_id(&response), "workflow-7");
    let stored = system.history("echo", root).await;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|e| e.correlation_id == "workflow-7"));

    // Without one, the id is a UUIDv5 of the command's bytes: the same command gets the
    // same id (even though it executes twice), another command another id.
    let other = Uuid::new_v4();
    let same = client.book(other, echo("derived"));
    let first = client.send(same.clone()).await.expect("first");
    let second = client.send(same).await.expect("second");
    let derived = correlation_id(&first).to_string();
    assert_eq!(correlation_id(&second), derived);
    let parsed = Uuid::parse_str(&derived).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 5, "{derived}");
    let different = client.ok(other, echo("different")).await;
    assert_ne!(correlation_id(&different), derived);
    let stored = system.history("echo", other).await;
    let ids: Vec<&str> = stored.iter().map(|e| e.correlation_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            derived.as_str(),
            derived.as_str(),
            correlation_id(&different)
        ]
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_taken_when_a_multiple_is_crossed_and_handed_to_the_logic() {
    let config = SystemConfig::new(&["echo"]).snapshot_every(5);
    let (system, client) = TestSystem::start_with_client(&config, "echo").await;
    let root = Uuid::new_v4();

    // Echo k runs on k prior events; the last snapshot is at the end of the last full block
    // of 5 (sequence 4 after 5 events, 9 after 10), and the logic gets the events after it.
    for k in 0..13u32 {
        let response = client.ok(root, echo(format!("{k}"))).await;
        let seen = &echoed_events(&response)[0];
        let snapshot = (k >= 5).then(|| k / 5 * 5 - 1);
        assert_eq!(seen.snapshot_sequence, snapshot, "echo {k}");
        assert_eq!(
            seen.pages_received,
            k - snapshot.map_or(0, |s| s + 1),
            "echo {k}"
        );
        assert_eq!(seen.prior_events, u64::from(k), "echo {k}");
    }
    // After 12 events the 13th command saw the snapshot at 9 plus 2 events.
    let key = angzarr_runtime::storage::HistoryKey::main("echo", root);
    let store = system.runtime().store();
    let snapshot = store
        .get_snapshot(&key)
        .await
        .expect("read")
        .expect("a snapshot");
    assert_eq!(snapshot.sequence, 9);

    // Several events crossing a multiple: the snapshot lands on the last of them (head - 1).
    client.ok(root, multi(7, "block")).await; // sequences 13..=19
    let snapshot = store
        .get_snapshot(&key)
        .await
        .expect("read")
        .expect("a snapshot");
    assert_eq!(snapshot.sequence, 19);
    let seen = &echoed_events(&client.ok(root, echo("after")).await)[0];
    assert_eq!(seen.snapshot_sequence, Some(19));
    assert_eq!(seen.pages_received, 0);
    assert_eq!(seen.prior_events, 20);
    assert_gapless(&system.history("echo", root).await);
    system.stop().await;
}
