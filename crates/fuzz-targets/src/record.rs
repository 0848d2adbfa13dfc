//! `BusinessCoordinator.Record`: bytes from the wire -> `angzarr.EventBook` (prost, as tonic
//! decodes it) -> [`AggregateCoordinator::record`](angzarr_runtime::aggregate::AggregateCoordinator::record)
//! (cover, editions, types, sequence numbers) against the in-memory store, then the same book
//! again (a client's retry).
//!
//! Promises checked: nothing panics; a refused book leaves the store exactly as it was; an
//! accepted one appends exactly its events, unchanged and in order, to one history of the
//! domain served, at the consecutive sequences after that history's head, and the answer names
//! what was stored; a retry of a book that gave its sequence is refused as stale and writes
//! nothing.

use angzarr_proto::event_page::Sequence;
use angzarr_proto::{EventBook, EventPage, EventPageExt};
use prost::Message;
use prost_types::Any;

use crate::fixture::{self, EDITION, SEEDED_ROOT, System};

/// Runs one input.
pub fn run(data: &[u8]) {
    // An undecodable request is refused by tonic before any handler runs.
    let Ok(book) = EventBook::decode(data) else {
        return;
    };
    fixture::runtime().block_on(check(book));
}

async fn check(book: EventBook) {
    let system = System::start().await;
    let before = system.state(&[]).await;
    let first = system.coordinator.record(book.clone()).await;
    let after = system.state(&[]).await;
    match &first {
        Err(err) => {
            assert_eq!(before, after, "a refused record ({err}) changed the store");
            assert!(!err.to_string().is_empty(), "an error without a message");
            assert_ne!(err.to_status().code(), tonic::Code::Ok);
        }
        Ok(response) => {
            assert!(
                after.log.starts_with(&before.log),
                "a record changed events already in the log"
            );
            let appended = &after.log[before.log.len()..];
            assert_eq!(
                appended.len(),
                book.pages.len(),
                "the log grew by other than the events given"
            );
            for (stored, given) in appended.iter().zip(&book.pages) {
                assert_eq!(
                    Some(&stored.event),
                    given.event.as_ref(),
                    "an event was stored other than given"
                );
            }
            if let Some(first) = appended.first() {
                assert!(
                    appended.iter().all(|e| e.key == first.key),
                    "one record reached several histories"
                );
                let head = before
                    .log
                    .iter()
                    .filter(|e| e.key == first.key)
                    .map(|e| e.sequence + 1)
                    .max();
                // An edition's history starts with main's events before its divergence, which
                // the global log does not list under the edition: only check main's.
                if first.key.edition.is_empty() {
                    assert_eq!(
                        first.sequence,
                        head.unwrap_or(0),
                        "a record did not continue its history"
                    );
                }
                let sequences: Vec<u32> = appended.iter().map(|e| e.sequence).collect();
                let consecutive: Vec<u32> = (first.sequence..).take(appended.len()).collect();
                assert_eq!(sequences, consecutive, "a record left a gap");
            }
            let answered: Vec<(Option<u32>, u64)> = response
                .events
                .iter()
                .flat_map(|b| &b.pages)
                .map(|p| (p.sequence_num(), p.position))
                .collect();
            let stored: Vec<(Option<u32>, u64)> = appended
                .iter()
                .map(|e| (Some(e.sequence), e.position))
                .collect();
            assert_eq!(
                answered, stored,
                "the answer names other events than were stored"
            );
        }
    }
    let numbered = book
        .pages
        .iter()
        .any(|p| matches!(p.sequence, Some(Sequence::Num(_))));
    let retry = system.coordinator.record(book).await;
    let after_retry = system.state(&[]).await;
    match (&first, &retry) {
        (Ok(first), Ok(_)) if numbered && first.events.iter().any(|b| !b.pages.is_empty()) => {
            panic!("a numbered record was accepted twice")
        }
        (_, Err(err)) => assert_eq!(
            after, after_retry,
            "a refused retry ({err}) changed the store"
        ),
        _ => {}
    }
}

/// Valid books and near misses: new and seeded aggregates, the edition, sequences given
/// (right, stale, ahead, disagreeing, force-writes), events without a type, no cover.
pub fn seeds() -> Vec<Vec<u8>> {
    let page = |sequence: Option<Sequence>, name: &str| EventPage {
        sequence,
        event: Some(Any {
            type_url: fixture::type_url(name),
            value: vec![1, 2],
        }),
        ..EventPage::default()
    };
    let book = |root: u128, edition: &str, pages: Vec<EventPage>| EventBook {
        cover: Some(fixture::cover(root, edition)),
        pages,
        ..EventBook::default()
    };
    let books = vec![
        book(2, "", vec![page(None, "Imported")]),
        book(
            SEEDED_ROOT,
            "",
            vec![page(Some(Sequence::Num(3)), "Imported")],
        ),
        book(
            SEEDED_ROOT,
            "",
            vec![page(Some(Sequence::Num(1)), "Imported")],
        ),
        book(
            SEEDED_ROOT,
            "",
            vec![page(Some(Sequence::Num(9)), "Imported")],
        ),
        book(
            3,
            "",
            vec![
                page(Some(Sequence::Num(0)), "A"),
                page(Some(Sequence::Num(1)), "B"),
            ],
        ),
        book(
            3,
            "",
            vec![
                page(Some(Sequence::Num(0)), "A"),
                page(Some(Sequence::Num(0)), "B"),
            ],
        ),
        book(
            4,
            "",
            vec![page(None, "A"), page(Some(Sequence::Force(true)), "B")],
        ),
        book(SEEDED_ROOT, EDITION, vec![page(None, "InEdition")]),
        book(SEEDED_ROOT, "no-such-edition", vec![page(None, "Lost")]),
        book(
            5,
            "",
            vec![EventPage {
                event: None,
                ..EventPage::default()
            }],
        ),
        book(6, "", Vec::new()),
        EventBook {
            cover: None,
            pages: vec![page(None, "Orphan")],
            ..EventBook::default()
        },
    ];
    books.into_iter().map(|b| b.encode_to_vec()).collect()
}
