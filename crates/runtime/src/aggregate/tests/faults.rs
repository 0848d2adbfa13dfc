//! The aggregate pipeline while the store fails, loses answers or stalls
//! ([`FaultyStore`](crate::storage::faulty::FaultyStore) around the in-memory store).

use super::*;
use crate::storage::faulty::{Fault, FaultyStore, Gate, Op, Rule, injected};

struct Faulty {
    store: Arc<FaultyStore>,
    bus: Arc<RecordingBus>,
    logic: Arc<ScriptedLogic>,
    coordinator: Arc<AggregateCoordinator>,
}

fn faulty(logic: ScriptedLogic) -> Faulty {
    let store = Arc::new(FaultyStore::new(Arc::new(MemoryEventStore::new())));
    let bus = Arc::new(RecordingBus::default());
    let logic = Arc::new(logic);
    let publisher = Arc::new(OrderedPublisher::starting_after(
        bus.clone(),
        store.clone(),
        0,
    ));
    let coordinator = Arc::new(AggregateCoordinator::new(
        DOMAIN,
        store.clone(),
        publisher,
        logic.clone(),
        AggregateOptions::default(),
    ));
    Faulty {
        store,
        bus,
        logic,
        coordinator,
    }
}

impl Faulty {
    /// What the store really holds for aggregate `n`: (sequence, position) pairs.
    async fn committed(&self, n: u128) -> Vec<(u32, u64)> {
        let events = self
            .store
            .inner()
            .read_history(&key(n), 0, None)
            .await
            .expect("read");
        events.iter().map(|e| (e.sequence, e.position)).collect()
    }

    /// Every position in the log, in order.
    async fn log(&self) -> Vec<u64> {
        let events = self.store.inner().read_global(0, 1000).await.expect("read");
        events.iter().map(|e| e.position).collect()
    }
}

fn positions(response: &CommandResponse) -> Vec<u64> {
    let book = response.events.as_ref().expect("events");
    book.pages.iter().map(|p| p.position).collect()
}

#[tokio::test]
async fn a_failed_append_is_internal_stores_nothing_and_the_next_command_works() {
    let f = faulty(ScriptedLogic::emitting(2));
    f.store.script(Rule::on(
        Op::Append,
        Fault::Fail(injected("the disk went away")),
    ));
    let err = f.coordinator.handle(command(1)).await.expect_err("fails");
    let status = err.to_status();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert!(
        status.message().contains("storage failure") && status.message().contains("disk"),
        "{status:?}"
    );
    assert_eq!(f.committed(1).await, []);
    assert_eq!(f.bus.positions(), Vec::<u64>::new(), "nothing published");

    let next = f.coordinator.handle(command(1)).await.expect("next");
    assert_eq!(sequences(&next), [0, 1]);
    assert_eq!(positions(&next), [1, 2]);
    assert_eq!(f.committed(1).await, [(0, 1), (1, 2)]);
}

#[tokio::test]
async fn a_lost_answer_retried_with_its_key_returns_the_original_events_once() {
    let f = faulty(ScriptedLogic::emitting(2));
    f.store.script(Rule::on(
        Op::Append,
        Fault::FailAfter(injected("connection reset after commit")),
    ));
    let book = with_key(command(1), "order-7");
    let err = f.coordinator.handle(book.clone()).await.expect_err("lost");
    assert_eq!(err.to_status().code(), tonic::Code::Internal);
    assert_eq!(f.committed(1).await, [(0, 1), (1, 2)], "it did commit");

    let retried = f.coordinator.handle(book.clone()).await.expect("retry");
    assert_eq!(sequences(&retried), [0, 1]);
    assert_eq!(positions(&retried), [1, 2], "the original events");
    assert_eq!(f.logic.calls(), 1, "the retry is answered from the record");
    let again = f.coordinator.handle(book).await.expect("again");
    assert_eq!(positions(&again), [1, 2]);
    assert_eq!(f.committed(1).await, [(0, 1), (1, 2)], "nothing twice");

    // The torn events were never published by their command; the next commit fills the gap.
    let next = f.coordinator.handle(command(1)).await.expect("next");
    assert_eq!(sequences(&next), [2, 3]);
    assert_eq!(f.bus.positions(), [1, 2, 3, 4], "the bus skips nothing");
}

#[tokio::test]
async fn a_stalled_append_holds_only_its_own_aggregate() {
    let f = faulty(ScriptedLogic::emitting(1));
    let gate = Gate::new();
    f.store
        .script(Rule::on(Op::Append, Fault::Stall(gate.clone())).for_key(&key(1)));
    let spawn = |n: u128| {
        let coordinator = f.coordinator.clone();
        tokio::spawn(async move { coordinator.handle(command(n)).await })
    };
    let stalled = spawn(1);
    gate.arrived(1).await;
    let queued = spawn(1);

    // Other aggregates go on while aggregate 1's append hangs.
    for n in 2..5 {
        let other = f.coordinator.handle(command(n)).await.expect("other");
        assert_eq!(sequences(&other), [0]);
    }
    assert!(!stalled.is_finished() && !queued.is_finished());
    assert_eq!(f.logic.calls(), 4, "the queued command waits for the lock");

    gate.open();
    let first = stalled.await.expect("task").expect("stalled command");
    let second = queued.await.expect("task").expect("queued command");
    assert_eq!(sequences(&first), [0]);
    assert_eq!(sequences(&second), [1]);
    assert_eq!(f.committed(1).await.len(), 2);
    assert_eq!(f.log().await, [1, 2, 3, 4, 5], "positions gapless");
}

/// A storage error after the hot-history cache was filled: whatever the store did (nothing,
/// or commit with the answer lost), the next command sees the true history and gets the
/// right sequence; nothing is lost, nothing doubled.
#[tokio::test]
async fn a_storage_error_after_the_cache_was_filled_never_gives_a_wrong_sequence() {
    let f = faulty(ScriptedLogic::emitting(1));
    f.coordinator
        .handle(command(1))
        .await
        .expect("fills the cache");
    assert_eq!(f.coordinator.histories.usage().0, 1, "the aggregate is hot");

    let faults = [
        Fault::Fail(injected("write failed")),
        Fault::FailAfter(injected("answer lost")),
        Fault::Fail(injected("write failed again")),
        Fault::FailAfter(injected("answer lost again")),
    ];
    let mut committed = 1;
    for (round, fault) in faults.into_iter().enumerate() {
        let tears = matches!(fault, Fault::FailAfter(_));
        f.store.script(Rule::on(Op::Append, fault));
        f.coordinator
            .handle(command(1))
            .await
            .expect_err("the append fails");
        committed += u32::from(tears);
        let next = f
            .coordinator
            .handle(command(1))
            .await
            .unwrap_or_else(|err| panic!("round {round}: {err}"));
        assert_eq!(sequences(&next), [committed], "round {round}");
        committed += 1;
        let seen = f.logic.last_seen().events.expect("prior events");
        assert_eq!(
            seen.next_sequence,
            committed - 1,
            "round {round}: the logic saw the whole history"
        );
    }
    let stored = f.committed(1).await;
    let expected: Vec<(u32, u64)> = (0..committed).map(|s| (s, u64::from(s) + 1)).collect();
    assert_eq!(stored, expected, "gapless, nothing lost, nothing twice");
}

#[tokio::test]
async fn a_failed_idempotency_read_on_a_hot_aggregate_changes_nothing() {
    let f = faulty(ScriptedLogic::emitting(1));
    f.coordinator
        .handle(with_key(command(1), "k0"))
        .await
        .expect("fills the cache");
    f.store.script(Rule::on(
        Op::Idempotency,
        Fault::Fail(injected("read failed")),
    ));
    let err = f
        .coordinator
        .handle(with_key(command(1), "k1"))
        .await
        .expect_err("fails");
    assert_eq!(err.to_status().code(), tonic::Code::Internal);
    assert_eq!(f.logic.calls(), 1, "the logic did not run");
    let next = f
        .coordinator
        .handle(with_key(command(1), "k1"))
        .await
        .expect("retried");
    assert_eq!(sequences(&next), [1]);
    assert_eq!(f.committed(1).await, [(0, 1), (1, 2)]);
}
