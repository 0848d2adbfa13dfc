//! The delivery worker while the store fails, loses answers or hangs
//! ([`FaultyStore`](crate::storage::faulty::FaultyStore) around the in-memory store): it
//! redelivers, never skips, and its handle never reports a position that is not durable.

use super::*;
use crate::storage::faulty::{Fault, FaultyStore, Gate, Op, Rule, injected};

/// Ten events of domain `a` in three histories (positions 1..=10); `fast()` reads 7 at a time.
async fn ten_events() -> (Arc<MemoryEventStore>, Arc<FaultyStore>) {
    let memory = Arc::new(MemoryEventStore::new());
    for (root, count) in [(1, 4), (2, 3), (3, 3)] {
        append(&memory, "a", root, count).await;
    }
    let faulty = Arc::new(FaultyStore::new(memory.clone()));
    (memory, faulty)
}

#[tokio::test]
async fn a_subscriber_whose_checkpoint_write_fails_redelivers_after_a_crash_and_never_skips() {
    let (memory, store) = ten_events().await;
    let gate = Gate::new();
    store.script(Rule::on(Op::PutCheckpoint, Fault::Fail(injected("disk full"))).times(2));
    store.script(Rule::on(Op::PutCheckpoint, Fault::Stall(gate.clone())));
    let first = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, first.clone());
    // Two failed writes, the third hangs: the worker is stuck after its first read of 7.
    gate.arrived(1).await;
    assert_eq!(first.delivered(), (1..=7).collect::<Vec<_>>());
    assert_eq!(running.handle.position(), 0, "only durable positions count");
    assert_eq!(memory.checkpoint("recorder").await.expect("checkpoint"), 0);

    // The process dies with the checkpoint unwritten; the next one starts from the store.
    running.task.abort();
    assert!(running.task.await.expect_err("aborted").is_cancelled());
    store.heal();
    gate.open();
    let second = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, second.clone());
    assert!(running.handle.wait_for(10, deadline()).await);
    assert_eq!(
        second.delivered(),
        (1..=10).collect::<Vec<_>>(),
        "1..=7 again, then the rest: nothing skipped"
    );
    assert_eq!(memory.checkpoint("recorder").await.expect("checkpoint"), 10);
    running.stop().await;
}

#[tokio::test]
async fn a_checkpoint_write_whose_answer_was_lost_is_repeated_and_delivery_goes_on() {
    let (memory, store) = ten_events().await;
    store.script(Rule::on(Op::PutCheckpoint, Fault::FailAfter(injected("answer lost"))).times(3));
    let recorder = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(10, deadline()).await);
    assert_eq!(store.injected(Op::PutCheckpoint), 3);
    assert_eq!(
        recorder.delivered(),
        (1..=10).collect::<Vec<_>>(),
        "once each"
    );
    assert_eq!(memory.checkpoint("recorder").await.expect("checkpoint"), 10);
    running.stop().await;
}

#[tokio::test]
async fn failing_log_reads_and_checkpoint_reads_are_retried_and_lose_nothing() {
    let (memory, store) = ten_events().await;
    store.script(Rule::on(Op::Checkpoint, Fault::Fail(injected("busy"))).times(2));
    store.script(
        Rule::on(Op::ReadGlobal, Fault::Fail(injected("read error")))
            .on_call(2)
            .times(3),
    );
    let recorder = Arc::new(Recorder::new(&["a"], 100));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(10, deadline()).await);
    assert_eq!(store.injected(Op::Checkpoint), 2);
    assert_eq!(store.injected(Op::ReadGlobal), 3);
    assert_eq!(recorder.delivered(), (1..=10).collect::<Vec<_>>());
    assert_eq!(memory.checkpoint("recorder").await.expect("checkpoint"), 10);
    running.stop().await;
}

#[tokio::test]
async fn a_poison_event_whose_parking_fails_is_parked_once_the_store_works() {
    let (memory, store) = ten_events().await;
    store.script(Rule::on(Op::Park, Fault::Fail(injected("write failed"))).times(2));
    let recorder = Arc::new(Recorder::failing(&["a"], 1, |position, _| {
        (position == 5).then(|| Error::Rejected {
            code: tonic::Code::Internal,
            message: "cannot project".into(),
        })
    }));
    let running = start(&store, recorder.clone());
    assert!(running.handle.wait_for(10, deadline()).await);
    assert_eq!(store.injected(Op::Park), 2);
    let expected: Vec<u64> = (1..=10).filter(|p| *p != 5).collect();
    assert_eq!(recorder.delivered(), expected);
    let parked = memory.list_parked(None).await.expect("list");
    assert_eq!(parked.len(), 1, "parked once");
    assert_eq!(parked[0].position, 5);
    running.stop().await;
}
