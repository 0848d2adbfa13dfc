//! The client-facing services: `CommandGateway`, `EventStream` and `EventQuery`.
//!
//! Every streaming call has its own producer task that reads the store (never a shared
//! buffer) and writes into a bounded [`outbox`]: a slow client holds up only itself and is
//! dropped with a clear status when it stops reading; large histories are read and sent in
//! pages, never built whole in memory.

mod cursor;
pub mod outbox;
pub mod tail;
mod what_if;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use angzarr_proto::command_gateway_server::{CommandGateway, CommandGatewayServer};
use angzarr_proto::event_query_server::{EventQuery, EventQueryServer};
use angzarr_proto::event_stream_server::{EventStream, EventStreamServer};
use angzarr_proto::{
    AggregateRoot, AggregateRootsRequest, AnyExt, CommandBook, CommandResponse, EventBook,
    EventStreamFilter, ExecuteStreamCountRequest, ExecuteStreamTimeRequest, Query,
    SynchronizeRequest, UuidExt, query, temporal_query,
};
use angzarr_telemetry::TraceContext;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::{Request, Response, Status};
use tracing::{Instrument, debug};
use uuid::Uuid;

use crate::bus::EventBus;
use crate::error::Error;
use crate::router::Dispatcher;
use crate::storage::{EventStore, StoredEvent};
use crate::subscription::Editions;
use cursor::QueryCursor;
use outbox::{Closed, Outbox, OutboxStream, outbox};
use tail::{LogTail, group_into_books};

/// Events per page of `GetEvents`.
const PAGE: u32 = 1000;
/// Roots per store round trip of `GetAggregateRoots`.
const ROOTS_PAGE: usize = 500;

/// Tunables of the client-facing streams.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Messages buffered per streaming client.
    pub stream_buffer: usize,
    /// How long a client may leave a full buffer unread before it is dropped.
    pub slow_client_timeout: Duration,
    /// How often live streams look at the store when the bus is silent.
    pub poll_interval: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            stream_buffer: 256,
            slow_client_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// The three client-facing services over one runtime.
#[derive(Clone)]
pub struct GatewayService {
    dispatcher: Arc<Dispatcher>,
    store: Arc<dyn EventStore>,
    bus: Arc<dyn EventBus>,
    domains: Arc<BTreeSet<String>>,
    options: GatewayOptions,
    shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for GatewayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayService")
            .field("domains", &self.domains)
            .finish_non_exhaustive()
    }
}

type BookStream = OutboxStream<EventBook>;

impl GatewayService {
    /// The services over `dispatcher` (commands) and `store` (queries); `domains` are the
    /// histories that exist here (aggregates and process managers). Live streams end with
    /// `UNAVAILABLE` when `shutdown` turns true.
    pub fn new(
        dispatcher: Arc<Dispatcher>,
        store: Arc<dyn EventStore>,
        bus: Arc<dyn EventBus>,
        domains: BTreeSet<String>,
        options: GatewayOptions,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            dispatcher,
            store,
            bus,
            domains: Arc::new(domains),
            options,
            shutdown,
        }
    }

    /// The tonic servers, limited to `max_message_bytes` per request.
    pub fn into_servers(
        self,
        max_message_bytes: usize,
    ) -> (
        CommandGatewayServer<Self>,
        EventStreamServer<Self>,
        EventQueryServer<Self>,
    ) {
        let limit = max_message_bytes;
        (
            CommandGatewayServer::new(self.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit.saturating_mul(4)),
            EventStreamServer::new(self.clone()).max_decoding_message_size(limit),
            EventQueryServer::new(self)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit.saturating_mul(4)),
        )
    }

    fn outbox(&self) -> (Outbox<EventBook>, BookStream) {
        outbox(self.options.stream_buffer, self.options.slow_client_timeout)
    }

    fn tail_from(&self, after: u64) -> LogTail {
        LogTail::new(
            self.store.clone(),
            &*self.bus,
            after,
            self.options.poll_interval,
            self.shutdown.clone(),
        )
    }

    fn check_domain(&self, domain: &str) -> Result<(), Status> {
        if self.domains.contains(domain) {
            Ok(())
        } else {
            Err(Status::not_found(format!(
                "no domain {domain:?} here; known: {}",
                self.domains.iter().cloned().collect::<Vec<_>>().join(", ")
            )))
        }
    }

    /// Runs `command`, then streams its events and every later event with its correlation id,
    /// until `limit` says stop or the client leaves.
    async fn execute_stream(&self, command: CommandBook, limit: Limit) -> BookStream {
        let span = tracing::Span::current();
        let (outbox, stream) = self.outbox();
        // Tail from the head before executing, so no correlated event can slip past.
        let head = self.store.head_position().await;
        let this = self.clone();
        tokio::spawn(
            async move {
                let head = match head {
                    Ok(head) => head,
                    Err(err) => return outbox.fail(Error::from(err).to_status()).await,
                };
                let tail = this.tail_from(head);
                let response = match this.dispatcher.handle(command).await {
                    Ok(response) => response,
                    Err(err) => return outbox.fail(err.to_status()).await,
                };
                let _ = this.stream_correlated(&outbox, response, tail, limit).await;
            }
            .instrument(span),
        );
        stream
    }

    async fn stream_correlated(
        &self,
        outbox: &Outbox<EventBook>,
        response: CommandResponse,
        mut tail: LogTail,
        limit: Limit,
    ) -> Result<(), Closed> {
        let first = response.events.unwrap_or_default();
        let correlation_id = first
            .cover
            .as_ref()
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        let sent: HashSet<u64> = first.pages.iter().map(|p| p.position).collect();
        let mut count = first.pages.len() as u64;
        outbox.send(first).await?;
        // A duration beyond what the clock can represent is no deadline (it never comes).
        let deadline = limit.duration.and_then(|d| Instant::now().checked_add(d));
        loop {
            if limit.count.is_some_and(|max| count >= max) {
                return Ok(());
            }
            let next = async {
                tokio::select! {
                    events = tail.next() => Some(events),
                    () = outbox.closed() => None,
                }
            };
            let events = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, next).await {
                    Ok(events) => events,
                    Err(_) => return Ok(()),
                },
                None => next.await,
            };
            let events = match events {
                None => return Err(Closed::ClientGone),
                Some(Err(err)) => {
                    outbox.fail(err.to_status()).await;
                    return Ok(());
                }
                Some(Ok(events)) => events,
            };
            let mut wanted: Vec<&StoredEvent> = events
                .iter()
                .filter(|e| e.correlation_id == correlation_id && !sent.contains(&e.position))
                .collect();
            if let Some(max) = limit.count {
                let room = usize::try_from(max - count).unwrap_or(usize::MAX);
                wanted.truncate(room);
            }
            for book in group_into_books(wanted) {
                count += book.pages.len() as u64;
                outbox.send(book).await?;
            }
        }
    }

    async fn stream_history(&self, outbox: &Outbox<EventBook>, query: Query) -> Result<(), Status> {
        let mut cursor = QueryCursor::open(self, query).await?;
        while let Some(events) = cursor.next_page().await? {
            // One book per run of one history and correlation id: the cover carries both.
            for book in group_into_books(&events) {
                if outbox.send(book).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// When a streamed execution ends (besides the client leaving).
#[derive(Debug, Clone, Copy, Default)]
struct Limit {
    count: Option<u64>,
    duration: Option<Duration>,
}

/// What `GetEvents` selects from one history.
enum Selection {
    All,
    Range { lower: u32, upper: Option<u32> },
    Set(BTreeSet<u32>),
    AsOfSequence(u32),
    AsOfTime(prost_types::Timestamp),
}

impl Selection {
    fn of(selection: Option<query::Selection>) -> Result<Self, Status> {
        Ok(match selection {
            None => Selection::All,
            Some(query::Selection::Range(range)) => {
                if range.upper.is_some_and(|upper| upper < range.lower) {
                    return Err(Status::invalid_argument(format!(
                        "the range's upper bound {} is below its lower bound {}",
                        range.upper.unwrap_or_default(),
                        range.lower
                    )));
                }
                Selection::Range {
                    lower: range.lower,
                    upper: range.upper,
                }
            }
            Some(query::Selection::Sequences(set)) => {
                Selection::Set(set.values.into_iter().collect())
            }
            Some(query::Selection::Temporal(temporal)) => match temporal.point_in_time {
                Some(temporal_query::PointInTime::AsOfSequence(n)) => Selection::AsOfSequence(n),
                Some(temporal_query::PointInTime::AsOfTime(t)) => Selection::AsOfTime(t),
                None => {
                    return Err(Status::invalid_argument(
                        "a temporal query needs as_of_time or as_of_sequence",
                    ));
                }
            },
        })
    }

    fn from(&self) -> u32 {
        match self {
            Selection::Range { lower, .. } => *lower,
            Selection::Set(set) => set.first().copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// Exclusive end, if bounded.
    fn to(&self) -> Option<u32> {
        match self {
            Selection::Range { upper, .. } => upper.map(|u| u.saturating_add(1)),
            Selection::Set(set) => Some(set.last().map_or(0, |last| last.saturating_add(1))),
            Selection::AsOfSequence(n) => Some(n.saturating_add(1)),
            _ => None,
        }
    }

    /// The selected events of a page, and whether the selection ends within it.
    fn keep(&self, events: Vec<StoredEvent>) -> (Vec<StoredEvent>, bool) {
        match self {
            Selection::Set(set) => (
                events
                    .into_iter()
                    .filter(|e| set.contains(&e.sequence))
                    .collect(),
                false,
            ),
            Selection::AsOfTime(t) => {
                let at = (t.seconds, t.nanos);
                let total = events.len();
                let kept: Vec<StoredEvent> = events
                    .into_iter()
                    .take_while(|e| (e.created_at.seconds, e.created_at.nanos) <= at)
                    .collect();
                let done = kept.len() < total;
                (kept, done)
            }
            _ => (events, false),
        }
    }
}

/// The span of a gateway call: the root of a command's trace, or a child of the caller's
/// span when the request carries a W3C `traceparent`. The command gets its correlation id
/// here (the one it carries, or the one the coordinator would derive), so the span has it.
fn gateway_span(
    method: &'static str,
    metadata: &tonic::metadata::MetadataMap,
    command: Option<&mut CommandBook>,
) -> tracing::Span {
    let correlation_id = command.map(stamp_correlation_id).unwrap_or_default();
    let span = tracing::info_span!("gateway.execute", method, %correlation_id);
    TraceContext::from_metadata(metadata).set_parent_of(&span);
    span
}

/// Sets the command's correlation id to the one it will run under, and returns it.
pub(crate) fn stamp_correlation_id(command: &mut CommandBook) -> String {
    let correlation_id = crate::aggregate::AggregateCoordinator::correlation_id_for(command);
    if let Some(cover) = command.cover.as_mut() {
        cover.correlation_id = correlation_id.clone();
    }
    correlation_id
}

fn respond(stream: BookStream) -> Response<BookStream> {
    Response::new(stream)
}

#[tonic::async_trait]
impl CommandGateway for GatewayService {
    async fn execute(
        &self,
        request: Request<CommandBook>,
    ) -> Result<Response<CommandResponse>, Status> {
        let (metadata, _, mut command) = request.into_parts();
        let span = gateway_span("Execute", &metadata, Some(&mut command));
        self.dispatcher
            .handle(command)
            .instrument(span)
            .await
            .map(Response::new)
            .map_err(|err| err.to_status())
    }

    async fn dry_run(
        &self,
        request: Request<angzarr_proto::DryRunRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        let span = tracing::info_span!("gateway.dry_run");
        self.dry_run_command(request.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
    }

    type ExecuteStreamStream = BookStream;

    async fn execute_stream(
        &self,
        request: Request<CommandBook>,
    ) -> Result<Response<BookStream>, Status> {
        let (metadata, _, mut command) = request.into_parts();
        let span = gateway_span("ExecuteStream", &metadata, Some(&mut command));
        let stream = GatewayService::execute_stream(self, command, Limit::default());
        Ok(respond(stream.instrument(span).await))
    }

    type ExecuteStreamResponseCountStream = BookStream;

    async fn execute_stream_response_count(
        &self,
        request: Request<ExecuteStreamCountRequest>,
    ) -> Result<Response<BookStream>, Status> {
        let (metadata, _, request) = request.into_parts();
        let mut command = request
            .command
            .ok_or_else(|| Status::invalid_argument("no command"))?;
        let span = gateway_span("ExecuteStreamResponseCount", &metadata, Some(&mut command));
        if request.count == 0 {
            return Err(Status::invalid_argument("count must be at least 1"));
        }
        let limit = Limit {
            count: Some(u64::from(request.count)),
            duration: None,
        };
        Ok(respond(
            GatewayService::execute_stream(self, command, limit)
                .instrument(span)
                .await,
        ))
    }

    type ExecuteStreamResponseTimeStream = BookStream;

    async fn execute_stream_response_time(
        &self,
        request: Request<ExecuteStreamTimeRequest>,
    ) -> Result<Response<BookStream>, Status> {
        let (metadata, _, request) = request.into_parts();
        let mut command = request
            .command
            .ok_or_else(|| Status::invalid_argument("no command"))?;
        let span = gateway_span("ExecuteStreamResponseTime", &metadata, Some(&mut command));
        let duration = request
            .duration
            .and_then(|d| Duration::try_from(d).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| Status::invalid_argument("duration must be positive"))?;
        let limit = Limit {
            count: None,
            duration: Some(duration),
        };
        Ok(respond(
            GatewayService::execute_stream(self, command, limit)
                .instrument(span)
                .await,
        ))
    }
}

#[tonic::async_trait]
impl EventStream for GatewayService {
    type SubscribeStream = BookStream;

    async fn subscribe(
        &self,
        request: Request<EventStreamFilter>,
    ) -> Result<Response<BookStream>, Status> {
        let filter = request.into_inner();
        if filter.correlation_id.is_empty() {
            return Err(Status::invalid_argument(
                "an empty filter would stream everything; set correlation_id (use EventQuery.Synchronize to follow the whole log)",
            ));
        }
        what_if::check_editions(&filter.editions)?;
        let editions = Editions::of(&filter.editions);
        let head = self
            .store
            .head_position()
            .await
            .map_err(|e| Error::from(e).to_status())?;
        let mut tail = self.tail_from(head);
        let (outbox, stream) = self.outbox();
        tokio::spawn(async move {
            let wanted = |e: &StoredEvent| {
                e.correlation_id == filter.correlation_id
                    && editions.allows(&e.key.edition)
                    && (filter.domains.is_empty() || filter.domains.contains(&e.key.domain))
                    && (filter.types.is_empty()
                        || filter.types.iter().any(|t| {
                            t == e.event.short_type_name() || t == e.event.full_type_name()
                        }))
            };
            follow(&outbox, &mut tail, wanted).await;
        });
        Ok(respond(stream))
    }
}

/// Streams every event of `tail` that `wanted` accepts until the client leaves.
async fn follow(
    outbox: &Outbox<EventBook>,
    tail: &mut LogTail,
    wanted: impl Fn(&StoredEvent) -> bool,
) {
    loop {
        let events = tokio::select! {
            events = tail.next() => events,
            () = outbox.closed() => return,
        };
        match events {
            Ok(events) => {
                for book in group_into_books(events.iter().filter(|e| wanted(e))) {
                    if outbox.send(book).await.is_err() {
                        debug!("a live stream ended: its client left or stopped reading");
                        return;
                    }
                }
            }
            Err(err) => return outbox.fail(err.to_status()).await,
        }
    }
}

/// Streams the events of `tail` that `wanted` accepts up to position `until`, then ends.
async fn follow_until(
    outbox: &Outbox<EventBook>,
    tail: &mut LogTail,
    until: u64,
    wanted: impl Fn(&StoredEvent) -> bool,
) {
    while tail.position() < until {
        let events = tokio::select! {
            events = tail.next() => events,
            () = outbox.closed() => return,
        };
        match events {
            Ok(events) => {
                let kept = events.iter().filter(|e| e.position <= until && wanted(e));
                for book in group_into_books(kept) {
                    if outbox.send(book).await.is_err() {
                        return;
                    }
                }
            }
            Err(err) => return outbox.fail(err.to_status()).await,
        }
    }
}

#[tonic::async_trait]
impl EventQuery for GatewayService {
    type GetEventsStream = BookStream;

    async fn get_events(&self, request: Request<Query>) -> Result<Response<BookStream>, Status> {
        let query = request.into_inner();
        // Refuse a malformed query before the stream starts.
        Selection::of(query.selection.clone())?;
        let (outbox, stream) = self.outbox();
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(status) = this.stream_history(&outbox, query).await {
                outbox.fail(status).await;
            }
        });
        Ok(respond(stream))
    }

    type GetAggregateRootsStream = OutboxStream<AggregateRoot>;

    async fn get_aggregate_roots(
        &self,
        request: Request<AggregateRootsRequest>,
    ) -> Result<Response<OutboxStream<AggregateRoot>>, Status> {
        let domain = request.into_inner().domain;
        self.check_domain(&domain)?;
        let (outbox, stream) = outbox(self.options.stream_buffer, self.options.slow_client_timeout);
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut after: Option<Uuid> = None;
            loop {
                let roots = match store.list_roots(&domain, after, ROOTS_PAGE).await {
                    Ok(roots) => roots,
                    Err(err) => return outbox.fail(Error::from(err).to_status()).await,
                };
                for root in &roots {
                    let message = AggregateRoot {
                        domain: domain.clone(),
                        root: Some(angzarr_proto::Uuid::from_uuid(*root)),
                    };
                    if outbox.send(message).await.is_err() {
                        return;
                    }
                }
                if roots.len() < ROOTS_PAGE {
                    return;
                }
                after = roots.last().copied();
            }
        });
        Ok(Response::new(stream))
    }

    type SynchronizeStream = BookStream;

    async fn synchronize(
        &self,
        request: Request<SynchronizeRequest>,
    ) -> Result<Response<BookStream>, Status> {
        let request = request.into_inner();
        for domain in &request.domains {
            self.check_domain(domain)?;
        }
        what_if::check_editions(&request.editions)?;
        let editions = Editions::of(&request.editions);
        let mut tail = self.tail_from(request.after_position);
        let (outbox, stream) = self.outbox();
        let until = request.until_position;
        tokio::spawn(async move {
            let domains: HashSet<String> = request.domains.into_iter().collect();
            let wanted = |e: &StoredEvent| {
                editions.allows(&e.key.edition)
                    && (domains.is_empty() || domains.contains(&e.key.domain))
            };
            if until == 0 {
                follow(&outbox, &mut tail, wanted).await;
            } else {
                follow_until(&outbox, &mut tail, until, wanted).await;
            }
        });
        Ok(respond(stream))
    }
}
