//! `Speculation.Run`: bytes from the wire -> `angzarr.SpeculateRequest` (prost, as tonic decodes
//! it) -> the real [`GatewayService`](angzarr_runtime::gateway::GatewayService) over the same
//! seeded store, with one subscriber: a projector of the fuzz domain's `Happened` events (its
//! delivery worker running, as in the runtime) that answers every speculative run with one
//! projection per book and writes nothing. The request's given events (validated), or its query
//! (read from the store), are filtered by the projector's inputs and grouped into books.
//!
//! Promises checked: nothing panics; nothing changes: not the store, not the projector's
//! checkpoint; an accepted run hands the projector only events its inputs accept, reports how
//! many it handed over and the projector's projections; a refused one says why.

use std::sync::{Arc, Mutex};

use angzarr_proto::speculation_server::Speculation;
use angzarr_proto::{
    EventBook, EventPage, Projection, Query, SequenceRange, SpeculateRequest, Target, query,
};
use angzarr_runtime::Result;
use angzarr_runtime::delivery::speculative::Speculated;
use angzarr_runtime::delivery::{Outcome, Subscriber};
use angzarr_runtime::subscription::EventFilter;
use async_trait::async_trait;
use prost::Message;
use prost_types::Any;
use tonic::Request;

use crate::fixture::{self, DOMAIN, SEEDED_CORRELATION, SEEDED_ROOT, System};

/// The projector's name.
pub(crate) const PROJECTOR: &str = "spec";

/// Runs one input.
pub fn run(data: &[u8]) {
    // An undecodable request is refused by tonic before any handler runs.
    let Ok(request) = SpeculateRequest::decode(data) else {
        return;
    };
    fixture::runtime().block_on(check(request));
}

/// A projector that records what it was given and writes nothing.
struct Recording {
    filter: EventFilter,
    given: Mutex<Vec<EventBook>>,
}

#[async_trait]
impl Subscriber for Recording {
    fn name(&self) -> &str {
        PROJECTOR
    }

    fn component_type(&self) -> &'static str {
        "projector"
    }

    fn filter(&self) -> &EventFilter {
        &self.filter
    }

    fn max_batch(&self) -> usize {
        10
    }

    async fn deliver(&self, _book: &EventBook, _sync: bool) -> Result<Outcome> {
        Ok(Outcome::Nothing)
    }

    async fn speculate(&self, books: &[EventBook]) -> Result<Speculated> {
        self.given
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(books.iter().cloned());
        Ok(Speculated {
            projections: books
                .iter()
                .map(|book| Projection {
                    cover: book.cover.clone(),
                    projector: PROJECTOR.into(),
                    sequence: u32::try_from(book.pages.len()).unwrap_or(u32::MAX),
                    projection: None,
                })
                .collect(),
            ..Speculated::default()
        })
    }
}

async fn check(request: SpeculateRequest) {
    let projector = Arc::new(Recording {
        filter: EventFilter::from_targets(&[Target {
            domain: DOMAIN.into(),
            types: vec!["Happened".into()],
            editions: Vec::new(),
        }]),
        given: Mutex::new(Vec::new()),
    });
    let system = System::start_with_subscriber(projector.clone()).await;
    let before = system.state(&[]).await;
    let checkpoint = system.checkpoint(PROJECTOR).await;
    let answer = system.gateway.run(Request::new(request)).await;
    assert_eq!(
        system.state(&[]).await,
        before,
        "a speculative run changed the store"
    );
    assert_eq!(
        system.checkpoint(PROJECTOR).await,
        checkpoint,
        "a speculative run moved the projector's checkpoint"
    );
    let given = std::mem::take(&mut *projector.given.lock().unwrap_or_else(|p| p.into_inner()));
    match answer {
        Err(status) => {
            assert_ne!(status.code(), tonic::Code::Ok, "an error with status OK");
            assert!(!status.message().is_empty(), "an error without a message");
        }
        Ok(response) => {
            let response = response.into_inner();
            assert_eq!(response.component_type, "projector");
            let pages: usize = given.iter().map(|b| b.pages.len()).sum();
            assert_eq!(
                usize::try_from(response.events_delivered).ok(),
                Some(pages),
                "events_delivered is not what the projector was given"
            );
            for book in &given {
                assert!(!book.pages.is_empty(), "an empty book was handed over");
                let domain = book.cover.as_ref().map(|c| c.domain.as_str());
                assert_eq!(
                    domain,
                    Some(DOMAIN),
                    "a book of another domain was handed over"
                );
                for page in &book.pages {
                    let event = page.event.as_ref().expect("a page without an event");
                    // The type's name is what follows the URL's last '/'; the projector asks
                    // for `Happened` of any package.
                    let name = event.type_url.rsplit('/').next().unwrap_or_default();
                    assert_eq!(
                        name.rsplit('.').next(),
                        Some("Happened"),
                        "an event the projector does not subscribe to: {}",
                        event.type_url
                    );
                }
            }
            assert_eq!(
                response.projections.len(),
                given.len(),
                "the answer lost or invented projections"
            );
        }
    }
}

/// Given events (accepted, filtered, refused) and queries (an aggregate, a range, a
/// correlation id), the wrong component, both or neither.
pub fn seeds() -> Vec<Vec<u8>> {
    let page = |name: &str| EventPage {
        event: Some(Any {
            type_url: fixture::type_url(name),
            value: vec![1],
        }),
        ..EventPage::default()
    };
    let book = |domain: &str, pages: Vec<EventPage>| EventBook {
        cover: Some(angzarr_proto::Cover {
            domain: domain.into(),
            ..fixture::cover(9, "")
        }),
        pages,
        ..EventBook::default()
    };
    let given = |events: Vec<EventBook>| SpeculateRequest {
        component: PROJECTOR.into(),
        events,
        query: None,
    };
    let asked = |query: Query| SpeculateRequest {
        component: PROJECTOR.into(),
        events: Vec::new(),
        query: Some(query),
    };
    let seeded = Some(fixture::cover(SEEDED_ROOT, ""));
    let requests = vec![
        given(vec![book(DOMAIN, vec![page("Happened"), page("Other")])]),
        given(vec![book("elsewhere", vec![page("Happened")])]),
        given(vec![book(DOMAIN, vec![EventPage::default()])]),
        given(vec![EventBook::default()]),
        asked(Query {
            cover: seeded.clone(),
            selection: None,
        }),
        asked(Query {
            cover: seeded.clone(),
            selection: Some(query::Selection::Range(SequenceRange {
                lower: 1,
                upper: Some(2),
            })),
        }),
        asked(Query {
            cover: Some(angzarr_proto::Cover {
                correlation_id: SEEDED_CORRELATION.into(),
                ..Default::default()
            }),
            selection: None,
        }),
        SpeculateRequest {
            component: "nobody".into(),
            ..given(vec![book(DOMAIN, vec![page("Happened")])])
        },
        SpeculateRequest {
            query: Some(Query {
                cover: seeded,
                selection: None,
            }),
            ..given(vec![book(DOMAIN, vec![page("Happened")])])
        },
        given(Vec::new()),
    ];
    requests.into_iter().map(|r| r.encode_to_vec()).collect()
}
