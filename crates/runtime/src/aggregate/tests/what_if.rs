//! Dry runs and editions through the coordinator, against the in-memory store.

use angzarr_proto::{DryRunRequest, dry_run_request};

use super::*;

fn dry(book: CommandBook, as_of: Option<dry_run_request::AsOf>) -> DryRunRequest {
    DryRunRequest {
        command: Some(book),
        as_of,
    }
}

fn at(sequence: u32) -> Option<dry_run_request::AsOf> {
    Some(dry_run_request::AsOf::AsOfSequence(sequence))
}

fn on_edition(mut book: CommandBook, edition: &str) -> CommandBook {
    book.cover.as_mut().expect("cover").edition = edition.to_string();
    book
}

fn edition_cover(n: u128, edition: &str) -> Cover {
    let mut cover = Cover::for_root(DOMAIN, root(n));
    cover.edition = edition.to_string();
    cover
}

/// Everything a dry run could have touched: the log, the head, the bus, records.
async fn everything(f: &Fixture) -> (Vec<StoredEvent>, u64, Vec<u64>) {
    (
        f.store.read_global(0, 10_000).await.expect("log"),
        f.store.head_position().await.expect("head"),
        f.bus.positions(),
    )
}

#[tokio::test]
async fn a_dry_run_numbers_the_would_be_events_and_stores_nothing() {
    let f = fixture(ScriptedLogic::emitting(2));
    for _ in 0..2 {
        f.coordinator.handle(command(1)).await.expect("setup");
    }
    let before = everything(&f).await;
    let response = f
        .coordinator
        .dry_run(dry(with_key(command(1), "rehearsal"), None))
        .await
        .expect("rehearsed");
    assert_eq!(
        sequences(&response),
        vec![4, 5],
        "numbered as they would be"
    );
    let book = response.events.expect("events");
    assert!(
        book.pages
            .iter()
            .all(|p| p.position == 0 && p.created_at.is_none())
    );
    assert_eq!(book.next_sequence, 6);
    assert!(!book.cover.expect("cover").correlation_id.is_empty());
    assert_eq!(everything(&f).await, before, "nothing stored or published");
    assert_eq!(
        f.store.idempotency("rehearsal").await.expect("read"),
        None,
        "no idempotency record"
    );
    let real = f
        .coordinator
        .handle(with_key(command(1), "rehearsal"))
        .await
        .expect("the real thing");
    assert_eq!(
        sequences(&real),
        vec![4, 5],
        "the rehearsal and the real thing agree"
    );
}

#[tokio::test]
async fn a_dry_run_at_a_past_sequence_sees_the_history_up_to_it() {
    let f = fixture(ScriptedLogic::emitting(1));
    for _ in 0..4 {
        f.coordinator.handle(command(1)).await.expect("setup");
    }
    for as_of in 0..4u32 {
        let response = f
            .coordinator
            .dry_run(dry(command(1), at(as_of)))
            .await
            .expect("rehearsed");
        assert_eq!(sequences(&response), vec![as_of + 1]);
        let seen = f.logic.last_seen();
        assert_eq!(history_len(&seen), u64::from(as_of) + 1, "as of {as_of}");
        assert_eq!(seen.events.expect("prior").next_sequence, as_of + 1);
    }
    let calls = f.logic.calls();
    let beyond = f
        .coordinator
        .dry_run(dry(command(1), at(4)))
        .await
        .expect_err("beyond the history");
    assert_eq!(beyond.to_status().code(), tonic::Code::InvalidArgument);
    assert!(beyond.to_string().contains("last event is 3"), "{beyond}");
    let missing = f
        .coordinator
        .dry_run(dry(command(2), at(0)))
        .await
        .expect_err("no history");
    assert!(missing.to_string().contains("no events"), "{missing}");
    assert_eq!(f.logic.calls(), calls, "bad input runs nothing");
}

#[tokio::test]
async fn a_dry_run_uses_a_snapshot_only_at_or_before_its_point() {
    let options = AggregateOptions {
        snapshot_every: 2,
        ..AggregateOptions::default()
    };
    let f = fixture_with(ScriptedLogic::emitting(1), options);
    for _ in 0..5 {
        f.coordinator.handle(command(1)).await.expect("setup");
    }
    let latest = f.store.get_snapshot(&key(1)).await.expect("get");
    assert_eq!(latest.map(|s| s.sequence), Some(3));
    // (as of, snapshot handed to the logic, pages after it)
    for (as_of, snapshot, pages) in [(4, Some(3), 1), (3, Some(3), 0), (2, None, 3)] {
        f.coordinator
            .dry_run(dry(command(1), at(as_of)))
            .await
            .expect("rehearsed");
        let seen = f.logic.last_seen();
        let prior = seen.events.as_ref().expect("prior");
        assert_eq!(
            prior.snapshot.as_ref().map(|s| s.sequence),
            snapshot,
            "as of {as_of}"
        );
        assert_eq!(prior.pages.len(), pages, "as of {as_of}");
        assert_eq!(history_len(&seen), u64::from(as_of) + 1, "as of {as_of}");
    }
}

#[tokio::test]
async fn a_dry_run_at_a_time_sees_the_events_stored_by_then() {
    let f = fixture(ScriptedLogic::emitting(1));
    for _ in 0..3 {
        f.coordinator.handle(command(1)).await.expect("setup");
    }
    let stored = stored(&f.store, 1).await;
    let time = stored[1].created_at;
    let expected = stored
        .iter()
        .filter(|e| (e.created_at.seconds, e.created_at.nanos) <= (time.seconds, time.nanos))
        .count();
    let at_time = |t: prost_types::Timestamp| Some(dry_run_request::AsOf::AsOfTime(t));
    let response = f
        .coordinator
        .dry_run(dry(command(1), at_time(time)))
        .await
        .expect("rehearsed");
    assert_eq!(sequences(&response), vec![expected as u32]);
    assert_eq!(history_len(&f.logic.last_seen()), expected as u64);

    let before_everything = prost_types::Timestamp {
        seconds: stored[0].created_at.seconds - 60,
        nanos: 0,
    };
    let response = f
        .coordinator
        .dry_run(dry(command(1), at_time(before_everything)))
        .await
        .expect("rehearsed");
    assert_eq!(
        sequences(&response),
        vec![0],
        "before the aggregate existed"
    );
    assert_eq!(history_len(&f.logic.last_seen()), 0);
}

#[tokio::test]
async fn a_rejection_or_stale_sequence_in_a_dry_run_is_returned_like_a_real_one() {
    let f = fixture(ScriptedLogic::new(|request| {
        if history_len(request) >= 2 {
            Err(Error::Rejected {
                code: tonic::Code::FailedPrecondition,
                message: "enough already".into(),
            })
        } else {
            Ok(events(1, history_len(request)))
        }
    }));
    f.coordinator.handle(command(1)).await.expect("0");
    f.coordinator.handle(command(1)).await.expect("1");
    let now = f
        .coordinator
        .dry_run(dry(command(1), None))
        .await
        .expect_err("rejected now");
    assert_eq!(now.to_status().code(), tonic::Code::FailedPrecondition);
    assert_eq!(now.to_status().message(), "enough already");
    let then = f
        .coordinator
        .dry_run(dry(command(1), at(0)))
        .await
        .expect("accepted as of sequence 0");
    assert_eq!(sequences(&then), vec![1]);
    let stale = f
        .coordinator
        .dry_run(dry(expecting(command(1), 2), at(0)))
        .await
        .expect_err("stale");
    assert_eq!(stale.to_status().code(), tonic::Code::Aborted);
    let fresh = f
        .coordinator
        .dry_run(dry(expecting(command(1), 1), at(0)))
        .await
        .expect("expected sequence as of the point");
    assert_eq!(sequences(&fresh), vec![1]);
    assert_eq!(f.store.head_position().await.expect("head"), 2);
}

#[tokio::test]
async fn commands_to_an_edition_run_on_its_history_and_leave_main_alone() {
    let f = fixture(ScriptedLogic::emitting(1));
    for _ in 0..3 {
        f.coordinator.handle(command(1)).await.expect("setup");
    }
    let main_before = stored(&f.store, 1).await;
    let info = f
        .coordinator
        .create_edition(&edition_cover(1, "try"), 0)
        .await
        .expect("created");
    assert_eq!((info.edition.divergence, info.next_sequence), (0, 1));

    let response = f
        .coordinator
        .handle(on_edition(command(1), "try"))
        .await
        .expect("runs on the edition");
    assert_eq!(sequences(&response), vec![1]);
    assert_eq!(
        response
            .events
            .expect("events")
            .cover
            .expect("cover")
            .edition,
        "try"
    );
    assert_eq!(history_len(&f.logic.last_seen()), 1, "main's event 0 only");
    let second = f
        .coordinator
        .handle(on_edition(command(1), "try"))
        .await
        .expect("again");
    assert_eq!(sequences(&second), vec![2]);
    assert_eq!(stored(&f.store, 1).await, main_before, "main never changes");
    let stale = f
        .coordinator
        .handle(expecting(on_edition(command(1), "try"), 1))
        .await
        .expect_err("the edition has moved on");
    assert_eq!(stale.to_status().code(), tonic::Code::Aborted);

    let rehearsal = f
        .coordinator
        .dry_run(dry(on_edition(command(1), "try"), at(1)))
        .await
        .expect("dry run on the edition");
    assert_eq!(sequences(&rehearsal), vec![2]);

    let info = f
        .coordinator
        .edition(&edition_cover(1, "try"))
        .await
        .expect("inspect");
    assert_eq!(info.next_sequence, 3);
}

#[tokio::test]
async fn editions_are_refused_clearly_and_deleted_with_their_events() {
    let f = fixture(ScriptedLogic::emitting(1));
    f.coordinator.handle(command(1)).await.expect("setup");
    let cases = [
        (
            edition_cover(2, "try"),
            0,
            tonic::Code::NotFound,
            "no aggregate",
        ),
        (
            edition_cover(1, "try"),
            1,
            tonic::Code::InvalidArgument,
            "last event is 0",
        ),
        (
            edition_cover(1, ""),
            0,
            tonic::Code::InvalidArgument,
            "names no edition",
        ),
        (
            edition_cover(1, "a b"),
            0,
            tonic::Code::InvalidArgument,
            "invalid edition name",
        ),
    ];
    for (cover, divergence, code, words) in cases {
        let err = f
            .coordinator
            .create_edition(&cover, divergence)
            .await
            .expect_err("refused");
        assert_eq!(err.to_status().code(), code, "{err}");
        assert!(err.to_status().message().contains(words), "{err}");
    }
    f.coordinator
        .create_edition(&edition_cover(1, "try"), 0)
        .await
        .expect("created");
    let duplicate = f
        .coordinator
        .create_edition(&edition_cover(1, "try"), 0)
        .await
        .expect_err("duplicate");
    assert_eq!(duplicate.to_status().code(), tonic::Code::AlreadyExists);
    assert!(duplicate.to_status().message().contains("already exists"));

    f.coordinator
        .handle(on_edition(command(1), "try"))
        .await
        .expect("on the edition");
    let removed = f
        .coordinator
        .delete_edition(&edition_cover(1, "try"))
        .await
        .expect("deleted");
    assert_eq!(removed, 1);
    for err in [
        f.coordinator
            .handle(on_edition(command(1), "try"))
            .await
            .expect_err("gone"),
        f.coordinator
            .delete_edition(&edition_cover(1, "try"))
            .await
            .expect_err("gone"),
        f.coordinator
            .edition(&edition_cover(1, "try"))
            .await
            .expect_err("gone"),
    ] {
        assert_eq!(err.to_status().code(), tonic::Code::NotFound, "{err}");
    }
    assert_eq!(stored(&f.store, 1).await.len(), 1, "main keeps its event");
}
