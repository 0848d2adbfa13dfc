//! The gateway's requests: the first byte picks a method of `CommandGateway`, `EventQuery`,
//! `EventStream` or `Editions`, the rest is its request message from the wire (prost, as tonic
//! decodes it), handed to the real [`GatewayService`](angzarr_runtime::gateway::GatewayService)
//! over the in-memory store, whose streams are read to their end.
//!
//! Promises checked: nothing panics and every stream ends; queries, subscriptions and dry runs
//! never change the store; a refused command or edition request changes nothing; the events
//! of one `GetEvents` stream come in increasing position order.

use angzarr_proto::command_gateway_server::CommandGateway;
use angzarr_proto::editions_server::Editions;
use angzarr_proto::event_query_server::EventQuery;
use angzarr_proto::event_stream_server::EventStream;
use angzarr_proto::{
    AggregateRootsRequest, CommandBook, CreateEditionRequest, DryRunRequest, EditionRequest,
    EventBook, EventStreamFilter, ExecuteStreamCountRequest, ExecuteStreamTimeRequest,
    ListEditionsRequest, Query, SequenceRange, SequenceSet, SynchronizeRequest, TemporalQuery,
    dry_run_request, query, temporal_query,
};
use prost::Message;
use tonic::{Request, Status};

use crate::fixture::{self, DOMAIN, EDITION, SEEDED_CORRELATION, SEEDED_ROOT, System};

/// Most stream items kept per call (the seeded store is small; this only bounds memory).
const MAX_ITEMS: usize = 1000;

/// The methods, in the order of the selector byte (modulo their number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Execute,
    ExecuteStream,
    ExecuteStreamCount,
    ExecuteStreamTime,
    DryRun,
    Subscribe,
    GetEvents,
    GetAggregateRoots,
    Synchronize,
    CreateEdition,
    GetEdition,
    ListEditions,
    DeleteEdition,
}

const METHODS: [Method; 13] = [
    Method::Execute,
    Method::ExecuteStream,
    Method::ExecuteStreamCount,
    Method::ExecuteStreamTime,
    Method::DryRun,
    Method::Subscribe,
    Method::GetEvents,
    Method::GetAggregateRoots,
    Method::Synchronize,
    Method::CreateEdition,
    Method::GetEdition,
    Method::ListEditions,
    Method::DeleteEdition,
];

impl Method {
    /// Whether an accepted request may change the store.
    fn writes(self) -> bool {
        matches!(
            self,
            Method::Execute
                | Method::ExecuteStream
                | Method::ExecuteStreamCount
                | Method::ExecuteStreamTime
                | Method::CreateEdition
                | Method::DeleteEdition
        )
    }

    fn selector(self) -> u8 {
        let index = METHODS.iter().position(|m| *m == self).unwrap_or_default();
        u8::try_from(index).unwrap_or_default()
    }
}

/// What a call came to: refused at once, or the items of its stream (a unary answer is a
/// stream of one).
struct Outcome {
    items: Vec<Result<Vec<EventBook>, Status>>,
}

impl Outcome {
    fn refused(status: Status) -> Self {
        Self {
            items: vec![Err(status)],
        }
    }

    /// Refused: the first thing the client got was an error.
    fn is_refused(&self) -> bool {
        matches!(self.items.first(), Some(Err(_)))
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(selector) % METHODS.len()];
    fixture::runtime().block_on(check(method, body));
}

async fn check(method: Method, body: &[u8]) {
    let system = System::start().await;
    let before = system.state(&[]).await;
    // An undecodable request is refused by tonic before any handler runs.
    let Some(outcome) = call(&system, method, body).await else {
        return;
    };
    let after = system.state(&[]).await;
    for item in &outcome.items {
        if let Err(status) = item {
            assert_ne!(status.code(), tonic::Code::Ok, "an error with status OK");
        }
    }
    if !method.writes() {
        assert_eq!(before, after, "{method:?} changed the store");
    } else if outcome.is_refused() {
        let status = outcome.items.first();
        assert_eq!(
            before, after,
            "a refused {method:?} ({status:?}) changed the store"
        );
    }
    if method == Method::GetEvents {
        let positions: Vec<u64> = outcome
            .items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .flatten()
            .flat_map(|book| book.pages.iter().map(|p| p.position))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "GetEvents streamed positions out of order: {positions:?}"
        );
    }
}

fn decode<M: Message + Default>(body: &[u8]) -> Option<Request<M>> {
    M::decode(body).ok().map(Request::new)
}

/// Calls `method` with `body` decoded as its request; `None` when it does not decode.
async fn call(system: &System, method: Method, body: &[u8]) -> Option<Outcome> {
    let gateway = &system.gateway;
    let unary = |result: Result<EventBook, Status>| Outcome {
        items: vec![result.map(|book| vec![book])],
    };
    let books = async |result: Result<tonic::Response<_>, Status>| match result {
        Ok(response) => Outcome {
            items: fixture::drain(response.into_inner(), &system.shutdown, MAX_ITEMS)
                .await
                .into_iter()
                .map(|item| item.map(|book| vec![book]))
                .collect(),
        },
        Err(status) => Outcome::refused(status),
    };
    Some(match method {
        Method::Execute => unary(
            CommandGateway::execute(gateway, decode::<CommandBook>(body)?)
                .await
                .map(|r| r.into_inner().events.unwrap_or_default()),
        ),
        Method::ExecuteStream => {
            books(CommandGateway::execute_stream(gateway, decode(body)?).await).await
        }
        Method::ExecuteStreamCount => {
            books(CommandGateway::execute_stream_response_count(gateway, decode(body)?).await).await
        }
        Method::ExecuteStreamTime => {
            books(CommandGateway::execute_stream_response_time(gateway, decode(body)?).await).await
        }
        Method::DryRun => unary(
            CommandGateway::dry_run(gateway, decode(body)?)
                .await
                .map(|r| r.into_inner().events.unwrap_or_default()),
        ),
        Method::Subscribe => books(EventStream::subscribe(gateway, decode(body)?).await).await,
        Method::GetEvents => books(EventQuery::get_events(gateway, decode(body)?).await).await,
        Method::GetAggregateRoots => {
            match EventQuery::get_aggregate_roots(gateway, decode(body)?).await {
                Ok(response) => Outcome {
                    items: fixture::drain(response.into_inner(), &system.shutdown, MAX_ITEMS)
                        .await
                        .into_iter()
                        .map(|item| item.map(|_| Vec::new()))
                        .collect(),
                },
                Err(status) => Outcome::refused(status),
            }
        }
        Method::Synchronize => books(EventQuery::synchronize(gateway, decode(body)?).await).await,
        Method::CreateEdition => unary(
            Editions::create(gateway, decode(body)?)
                .await
                .map(|_| EventBook::default()),
        ),
        Method::GetEdition => unary(
            Editions::get(gateway, decode(body)?)
                .await
                .map(|_| EventBook::default()),
        ),
        Method::ListEditions => unary(
            Editions::list(gateway, decode(body)?)
                .await
                .map(|_| EventBook::default()),
        ),
        Method::DeleteEdition => unary(
            Editions::delete(gateway, decode(body)?)
                .await
                .map(|_| EventBook::default()),
        ),
    })
}

/// A valid request of each method, and a few near misses.
pub fn seeds() -> Vec<Vec<u8>> {
    let root = || Some(fixture::cover(SEEDED_ROOT, "").root.unwrap_or_default());
    let command = fixture::command(2, "Do", &[1, 2], "gateway-key");
    let query = |selection| Query {
        cover: Some(fixture::cover(SEEDED_ROOT, "")),
        selection,
    };
    let edition_cover = Some(fixture::cover(SEEDED_ROOT, EDITION));
    let seeds: Vec<(Method, Vec<u8>)> = vec![
        (Method::Execute, command.encode_to_vec()),
        (Method::ExecuteStream, command.encode_to_vec()),
        (
            Method::ExecuteStreamCount,
            ExecuteStreamCountRequest {
                command: Some(command.clone()),
                count: 2,
            }
            .encode_to_vec(),
        ),
        (
            Method::ExecuteStreamTime,
            ExecuteStreamTimeRequest {
                command: Some(command.clone()),
                duration: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
            }
            .encode_to_vec(),
        ),
        (
            Method::DryRun,
            DryRunRequest {
                command: Some(fixture::command(SEEDED_ROOT, "Do", &[1], "")),
                as_of: Some(dry_run_request::AsOf::AsOfSequence(1)),
            }
            .encode_to_vec(),
        ),
        (
            Method::Subscribe,
            EventStreamFilter {
                correlation_id: SEEDED_CORRELATION.into(),
                domains: vec![DOMAIN.into()],
                types: vec!["Happened".into()],
                editions: vec!["*".into()],
            }
            .encode_to_vec(),
        ),
        (Method::GetEvents, query(None).encode_to_vec()),
        (
            Method::GetEvents,
            query(Some(query::Selection::Range(SequenceRange {
                lower: 1,
                upper: Some(2),
            })))
            .encode_to_vec(),
        ),
        (
            Method::GetEvents,
            query(Some(query::Selection::Sequences(SequenceSet {
                values: vec![2, 0],
            })))
            .encode_to_vec(),
        ),
        (
            Method::GetEvents,
            query(Some(query::Selection::Temporal(TemporalQuery {
                point_in_time: Some(temporal_query::PointInTime::AsOfSequence(1)),
            })))
            .encode_to_vec(),
        ),
        (
            Method::GetEvents,
            Query {
                cover: Some(angzarr_proto::Cover {
                    correlation_id: SEEDED_CORRELATION.into(),
                    ..Default::default()
                }),
                selection: None,
            }
            .encode_to_vec(),
        ),
        (
            Method::GetEvents,
            Query {
                cover: edition_cover.clone(),
                selection: None,
            }
            .encode_to_vec(),
        ),
        (
            Method::GetAggregateRoots,
            AggregateRootsRequest {
                domain: DOMAIN.into(),
            }
            .encode_to_vec(),
        ),
        (
            Method::Synchronize,
            SynchronizeRequest {
                after_position: 1,
                domains: vec![DOMAIN.into()],
                editions: vec![EDITION.into()],
                until_position: 3,
            }
            .encode_to_vec(),
        ),
        (
            Method::Synchronize,
            SynchronizeRequest::default().encode_to_vec(),
        ),
        (
            Method::CreateEdition,
            CreateEditionRequest {
                cover: Some(fixture::cover(SEEDED_ROOT, "e2")),
                divergence_sequence: 2,
            }
            .encode_to_vec(),
        ),
        (
            Method::GetEdition,
            EditionRequest {
                cover: edition_cover.clone(),
            }
            .encode_to_vec(),
        ),
        (
            Method::ListEditions,
            ListEditionsRequest {
                domain: DOMAIN.into(),
                root: root(),
            }
            .encode_to_vec(),
        ),
        (
            Method::DeleteEdition,
            EditionRequest {
                cover: edition_cover,
            }
            .encode_to_vec(),
        ),
    ];
    seeds
        .into_iter()
        .map(|(method, body)| {
            let mut input = vec![method.selector()];
            input.extend(body);
            input
        })
        .collect()
}
