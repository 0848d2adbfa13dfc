//! The gRPC edge: coordinator services over the runtime's types. Errors become statuses here
//! and nowhere else (DESIGN.md §3).

use std::sync::Arc;

use angzarr_proto::business_coordinator_server::{BusinessCoordinator, BusinessCoordinatorServer};
use angzarr_proto::{CommandBook, CommandResponse, EventBook};
use tonic::{Request, Response, Status};

use crate::aggregate::AggregateCoordinator;

/// `angzarr.BusinessCoordinator` for one domain.
#[derive(Debug, Clone)]
pub struct BusinessCoordinatorService {
    coordinator: Arc<AggregateCoordinator>,
}

impl BusinessCoordinatorService {
    /// Wraps a coordinator.
    pub fn new(coordinator: Arc<AggregateCoordinator>) -> Self {
        Self { coordinator }
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
        self.coordinator
            .handle(request.into_inner())
            .await
            .map(Response::new)
            .map_err(|err| {
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
