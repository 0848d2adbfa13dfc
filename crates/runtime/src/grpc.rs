//! The gRPC edge: coordinator services over the runtime's types. Errors become statuses here
//! and nowhere else (DESIGN.md §3).

use std::sync::Arc;

use std::time::Duration;

use angzarr_proto::business_coordinator_server::{BusinessCoordinator, BusinessCoordinatorServer};
use angzarr_proto::projector_coordinator_server::ProjectorCoordinator;
use angzarr_proto::saga_coordinator_server::SagaCoordinator;
use angzarr_proto::{
    CommandBook, CommandResponse, DryRunRequest, EventBook, Projection, SagaResponse,
};
use angzarr_telemetry::TraceContext;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::aggregate::AggregateCoordinator;
use crate::delivery::{Outcome, SubscriberHandle, SyncRegistry};
use crate::router::Dispatcher;

/// `angzarr.BusinessCoordinator` for one domain.
#[derive(Debug, Clone)]
pub struct BusinessCoordinatorService {
    coordinator: Arc<AggregateCoordinator>,
    dispatcher: Option<Arc<Dispatcher>>,
}

impl BusinessCoordinatorService {
    /// Serves one coordinator; commands run without sync modes (no subscribers).
    pub fn new(coordinator: Arc<AggregateCoordinator>) -> Self {
        Self {
            coordinator,
            dispatcher: None,
        }
    }

    /// Serves one coordinator; commands of its domain go through `dispatcher`, which honours
    /// their sync mode.
    pub fn with_dispatcher(
        coordinator: Arc<AggregateCoordinator>,
        dispatcher: Arc<Dispatcher>,
    ) -> Self {
        Self {
            coordinator,
            dispatcher: Some(dispatcher),
        }
    }

    /// The tonic server for this service, with the runtime's message size limit.
    pub fn into_server(self, max_message_bytes: usize) -> BusinessCoordinatorServer<Self> {
        BusinessCoordinatorServer::new(self)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes.saturating_mul(4))
    }
}

#[tonic::async_trait]
impl BusinessCoordinator for BusinessCoordinatorService {
    async fn handle(
        &self,
        request: Request<CommandBook>,
    ) -> Result<Response<CommandResponse>, Status> {
        let (metadata, _, mut command) = request.into_parts();
        let correlation_id = crate::gateway::stamp_correlation_id(&mut command);
        let span = tracing::info_span!(
            "coordinator.handle",
            domain = self.coordinator.domain(),
            %correlation_id
        );
        TraceContext::from_metadata(&metadata).set_parent_of(&span);
        let own_domain = command
            .cover
            .as_ref()
            .is_some_and(|c| c.domain == self.coordinator.domain());
        // The coordinator logs the outcome inside the command's span.
        let result = match &self.dispatcher {
            // Another domain is refused by the coordinator with a clear NOT_FOUND.
            Some(dispatcher) if own_domain => dispatcher.handle(command).instrument(span).await,
            _ => self.coordinator.handle(command).instrument(span).await,
        };
        result.map(Response::new).map_err(|err| err.to_status())
    }

    async fn record(
        &self,
        request: Request<EventBook>,
    ) -> Result<Response<CommandResponse>, Status> {
        self.coordinator
            .record(request.into_inner())
            .await
            .map(Response::new)
            .map_err(|err| {
                log_error(&err);
                err.to_status()
            })
    }

    async fn dry_run(
        &self,
        request: Request<DryRunRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        self.coordinator
            .dry_run(request.into_inner())
            .await
            .map(Response::new)
            .map_err(|err| {
                log_error(&err);
                err.to_status()
            })
    }
}

fn log_error(err: &crate::Error) {
    match err {
        crate::Error::Storage(_)
        | crate::Error::LogicFault { .. }
        | crate::Error::TooLarge { .. } => {
            tracing::error!(%err, "command failed")
        }
        crate::Error::Unavailable { .. } => tracing::warn!(%err, "command failed"),
        _ => tracing::debug!(%err, "command refused"),
    }
}

/// `angzarr.ProjectorCoordinator` and `angzarr.SagaCoordinator` for one subscriber.
///
/// In this runtime every subscriber is fed by its own ordered, checkpointed worker, so these
/// services do not deliver anything themselves: they accept stored events (pages with a
/// position), make sure the subscriber has handled them, and report what that delivery
/// produced. A projection or the emitted commands are only known when this call was waiting
/// before the worker reached the events; otherwise `HandleSync` answers `FAILED_PRECONDITION`
/// (send the command with `SYNC_MODE_SIMPLE` or `SYNC_MODE_CASCADE` to get them reliably).
#[derive(Debug, Clone)]
pub struct SubscriberCoordinatorService {
    subscriber: SubscriberHandle,
    registry: Arc<SyncRegistry>,
    timeout: Duration,
}

impl SubscriberCoordinatorService {
    /// Serves `subscriber`, waiting at most `timeout` per call.
    pub fn new(
        subscriber: SubscriberHandle,
        registry: Arc<SyncRegistry>,
        timeout: Duration,
    ) -> Self {
        Self {
            subscriber,
            registry,
            timeout,
        }
    }

    /// Waits until the subscriber has handled the book's events; returns what was recorded
    /// for them while this call waited.
    async fn handled(&self, book: &EventBook) -> Result<Vec<Outcome>, Status> {
        let positions: Vec<u64> = book.pages.iter().map(|p| p.position).collect();
        if positions.is_empty() || positions.contains(&0) {
            return Err(Status::invalid_argument(
                "only stored events can be routed: every page needs its global position (read them with the event queries)",
            ));
        }
        let correlation_id = book
            .cover
            .as_ref()
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        let interest = self.registry.register(&correlation_id);
        let (from, to) = (
            positions.iter().copied().min().unwrap_or_default(),
            positions.iter().copied().max().unwrap_or_default(),
        );
        let deadline = tokio::time::Instant::now() + self.timeout;
        if !self.subscriber.wait_for(to, deadline).await {
            return Err(Status::deadline_exceeded(format!(
                "{} has not reached position {to} within {:?} (it is at {})",
                self.subscriber.name(),
                self.timeout,
                self.subscriber.position()
            )));
        }
        Ok(interest.outcomes(self.subscriber.name(), from, to))
    }

    fn not_kept(&self) -> Status {
        Status::failed_precondition(format!(
            "{} handled these events before this call; what it produced is not kept (send the command with SYNC_MODE_SIMPLE or SYNC_MODE_CASCADE to get it)",
            self.subscriber.name()
        ))
    }
}

#[tonic::async_trait]
impl ProjectorCoordinator for SubscriberCoordinatorService {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<()>, Status> {
        self.handled(request.get_ref()).await?;
        Ok(Response::new(()))
    }

    async fn handle_sync(
        &self,
        request: Request<EventBook>,
    ) -> Result<Response<Projection>, Status> {
        self.handled(request.get_ref())
            .await?
            .into_iter()
            .rev()
            .find_map(|outcome| match outcome {
                Outcome::Projection(projection) => Some(Response::new(projection)),
                _ => None,
            })
            .ok_or_else(|| self.not_kept())
    }
}

#[tonic::async_trait]
impl SagaCoordinator for SubscriberCoordinatorService {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<()>, Status> {
        self.handled(request.get_ref()).await?;
        Ok(Response::new(()))
    }

    async fn handle_sync(
        &self,
        request: Request<EventBook>,
    ) -> Result<Response<SagaResponse>, Status> {
        let outcomes = self.handled(request.get_ref()).await?;
        if outcomes.is_empty() {
            return Err(self.not_kept());
        }
        let commands = outcomes
            .into_iter()
            .flat_map(|outcome| match outcome {
                Outcome::Commands { sent, .. } => sent,
                _ => Vec::new(),
            })
            .collect();
        Ok(Response::new(SagaResponse { commands }))
    }
}
