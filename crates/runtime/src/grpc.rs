//! The gRPC edge: coordinator services over the runtime's types. Errors become statuses here
//! and nowhere else (DESIGN.md §3).

use std::sync::Arc;

use angzarr_proto::business_coordinator_server::{BusinessCoordinator, BusinessCoordinatorServer};
use angzarr_proto::{CommandBook, CommandResponse, EventBook};
use tonic::{Request, Response, Status};

use crate::aggregate::AggregateCoordinator;
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
        let command = request.into_inner();
        let own_domain = command
            .cover
            .as_ref()
            .is_some_and(|c| c.domain == self.coordinator.domain());
        let result = match &self.dispatcher {
            // Another domain is refused by the coordinator with a clear NOT_FOUND.
            Some(dispatcher) if own_domain => dispatcher.handle(command).await,
            _ => self.coordinator.handle(command).await,
        };
        result.map(Response::new).map_err(|err| {
            log_error(&err);
            err.to_status()
        })
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
}

fn log_error(err: &crate::Error) {
    match err {
        crate::Error::Storage(_) | crate::Error::LogicFault { .. } => {
            tracing::error!(%err, "command failed")
        }
        crate::Error::Unavailable { .. } => tracing::warn!(%err, "command failed"),
        _ => tracing::debug!(%err, "command refused"),
    }
}
