//! The command request path: bytes from the wire -> `angzarr.CommandBook` (prost, as tonic
//! decodes it) -> [`AggregateCoordinator::handle`](angzarr_runtime::aggregate::AggregateCoordinator::handle)
//! (validation, covers, `Any` payloads, editions, expected sequences, idempotency keys)
//! against the in-memory store, then the same book again (a client's retry).
//!
//! Promises checked: nothing panics; a refused command leaves the store exactly as it was; an
//! accepted one appends exactly the events it answers with, to the domain served; a retry of
//! an accepted command with an idempotency key is answered with the same events and writes
//! nothing.

use angzarr_proto::{Causation, CommandBook, CommandPage, EventRef, causation};
use prost::Message;
use prost_types::Any;

use crate::fixture::{self, DOMAIN, EDITION, SEEDED_KEY, SEEDED_ROOT, System};

/// Runs one input.
pub fn run(data: &[u8]) {
    // An undecodable request is refused by tonic before any handler runs.
    let Ok(book) = CommandBook::decode(data) else {
        return;
    };
    fixture::runtime().block_on(check(book));
}

async fn check(book: CommandBook) {
    let system = System::start().await;
    let key = book.idempotency_key.clone();
    let before = system.state(&[&key]).await;
    let first = system.coordinator.handle(book.clone()).await;
    let after = system.state(&[&key]).await;
    match &first {
        Err(err) => {
            assert_eq!(before, after, "a refused command ({err}) changed the store");
            assert!(!err.to_string().is_empty(), "an error without a message");
            assert_ne!(err.to_status().code(), tonic::Code::Ok);
        }
        Ok(response) => {
            let answered = response
                .events
                .as_ref()
                .expect("an accepted command is answered with its events");
            assert!(
                after.log.starts_with(&before.log),
                "an accepted command changed events already in the log"
            );
            let appended = &after.log[before.log.len()..];
            let replayed = before.idempotency.first().is_some_and(Option::is_some);
            let expected = if replayed { 0 } else { answered.pages.len() };
            assert_eq!(
                appended.len(),
                expected,
                "the log grew by other than the events answered (replay: {replayed})"
            );
            let positions: Vec<u64> = answered.pages.iter().map(|p| p.position).collect();
            if !replayed {
                assert_eq!(
                    appended.iter().map(|e| e.position).collect::<Vec<_>>(),
                    positions,
                    "the answer names other positions than were appended"
                );
            }
            assert!(
                appended.iter().all(|e| e.key.domain == DOMAIN),
                "events were stored outside the domain served"
            );
            assert!(answered.pages.len() <= fixture::MAX_EVENTS);
        }
    }
    let retry = system.coordinator.handle(book).await;
    let after_retry = system.state(&[&key]).await;
    match (&first, &retry) {
        (Ok(first), Ok(retry)) if !key.is_empty() => {
            let pages = |r: &angzarr_proto::CommandResponse| {
                r.events
                    .as_ref()
                    .map(|b| b.pages.clone())
                    .unwrap_or_default()
            };
            assert_eq!(
                pages(first),
                pages(retry),
                "a retry with the same idempotency key got other events"
            );
            assert_eq!(after, after_retry, "an idempotent retry wrote something");
        }
        (Ok(_), Err(err)) if !key.is_empty() => {
            panic!("a retry of an accepted command with an idempotency key failed: {err}")
        }
        (_, Err(err)) => assert_eq!(
            after, after_retry,
            "a refused retry ({err}) changed the store"
        ),
        _ => {}
    }
}

/// Valid commands and near misses: new and seeded aggregates, an edition, stale and exact
/// expected sequences, idempotency keys (new and already used), rejections, logic faults,
/// too many events, snapshots, a saga's causation.
pub fn seeds() -> Vec<Vec<u8>> {
    use fixture::command;
    let mut books = vec![
        command(2, "Do", &[1], "key-1"),
        command(SEEDED_ROOT, "Do", &[1, 2], ""),
        command(3, "Do", &[1, 2, 3], "key-3"),
        command(4, "DoReject", &[1], "key-4"),
        command(5, "DoFault", &[], ""),
        command(6, "DoDown", &[], "key-6"),
        command(SEEDED_ROOT, "Do", &[7], SEEDED_KEY),
    ];
    let mut expected = command(SEEDED_ROOT, "Do", &[1], "key-7");
    expected.pages[0].sequence = Some(3);
    books.push(expected.clone());
    expected.pages[0].sequence = Some(0);
    books.push(expected);
    let mut edition = command(SEEDED_ROOT, "Do", &[1], "key-8");
    if let Some(cover) = edition.cover.as_mut() {
        cover.edition = EDITION.into();
    }
    books.push(edition.clone());
    if let Some(cover) = edition.cover.as_mut() {
        cover.edition = "no-such-edition".into();
    }
    books.push(edition);
    let mut saga = command(7, "Do", &[1], "saga:9:0");
    saga.causation = Some(Causation {
        cause: Some(causation::Cause::Event(EventRef {
            domain: "other".into(),
            root: Some(angzarr_proto::UuidExt::from_uuid(uuid::Uuid::from_u128(9))),
            sequence: 4,
            ..Default::default()
        })),
    });
    saga.sync_mode = 2;
    books.push(saga);
    let mut two = command(8, "Do", &[1], "");
    two.pages.push(CommandPage {
        sequence: None,
        command: Some(Any {
            type_url: fixture::type_url("Also"),
            value: vec![2],
        }),
    });
    books.push(two);
    books.push(CommandBook::default());
    books.into_iter().map(|b| b.encode_to_vec()).collect()
}
