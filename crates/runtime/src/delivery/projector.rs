//! Delivery to a projector over gRPC.

use std::sync::Arc;

use angzarr_proto::EventBook;
use angzarr_proto::projector_client::ProjectorClient;
use angzarr_telemetry::propagation::request;
use async_trait::async_trait;
use tonic::transport::Channel;
use tracing::Instrument;

use super::{Outcome, Subscriber, call_span, correlation_of};
use crate::error::Result;
use crate::logic::{Availability, ComponentLink};
use crate::subscription::EventFilter;

/// Most events in one projector delivery.
const PROJECTOR_BATCH: usize = 100;

/// A projector component reached over gRPC.
#[derive(Clone)]
pub struct GrpcProjector {
    name: String,
    checkpoint: String,
    filter: EventFilter,
    client: ProjectorClient<Channel>,
    availability: Arc<dyn Availability>,
}

impl GrpcProjector {
    /// A projector named `name`, subscribed to `filter`, reached over `channel`.
    pub fn new(
        name: impl Into<String>,
        filter: EventFilter,
        channel: Channel,
        availability: Arc<dyn Availability>,
    ) -> Self {
        let name = name.into();
        Self {
            checkpoint: name.clone(),
            name,
            filter,
            client: ProjectorClient::new(channel)
                .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
                .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES),
            availability,
        }
    }

    /// The same projector reading another process's log: `filter` is what it wants from
    /// there; its checkpoint is `<name>@<process>`.
    pub fn for_source(&self, process: &str, filter: EventFilter) -> Self {
        Self {
            checkpoint: format!("{}@{process}", self.name),
            filter,
            ..self.clone()
        }
    }

    fn link(&self) -> ComponentLink<'_> {
        ComponentLink {
            component: &self.name,
            availability: &*self.availability,
        }
    }
}

#[async_trait]
impl Subscriber for GrpcProjector {
    fn name(&self) -> &str {
        &self.name
    }

    fn checkpoint_name(&self) -> &str {
        &self.checkpoint
    }

    fn component_type(&self) -> &'static str {
        "projector"
    }

    fn filter(&self) -> &EventFilter {
        &self.filter
    }

    fn max_batch(&self) -> usize {
        PROJECTOR_BATCH
    }

    /// Asks `Projector.HandleSpeculative`, which writes nothing; a projector without it is
    /// refused, because its `Handle` writes its read model.
    async fn speculate(&self, books: &[EventBook]) -> Result<super::Speculated> {
        let request = angzarr_proto::SpeculativeProjectionRequest {
            books: books.to_vec(),
        };
        self.link().admit(&request)?;
        let projections = self
            .client
            .clone()
            .handle_speculative(request)
            .await
            .map_err(|status| match status.code() {
                tonic::Code::Unimplemented => crate::Error::Unimplemented(format!(
                    "projector {} cannot run speculatively: it does not implement angzarr.Projector/HandleSpeculative (its Handle writes its read model)",
                    self.name
                )),
                _ => self.link().map_status(status),
            })?
            .into_inner()
            .projections;
        Ok(super::Speculated {
            projections: projections
                .into_iter()
                .map(|mut projection| {
                    if projection.projector.is_empty() {
                        projection.projector = self.name.clone();
                    }
                    projection
                })
                .collect(),
            ..super::Speculated::default()
        })
    }

    async fn deliver(&self, book: &EventBook, sync: bool) -> Result<Outcome> {
        self.link().admit(book)?;
        let mut client = self.client.clone();
        if sync {
            let mut projection = client
                .handle_sync(request(book.clone(), correlation_of(book)))
                .instrument(call_span(&self.name, book))
                .await
                .map_err(|status| self.link().map_status(status))?
                .into_inner();
            if projection.projector.is_empty() {
                projection.projector = self.name.clone();
            }
            Ok(Outcome::Projection(projection))
        } else {
            client
                .handle(request(book.clone(), correlation_of(book)))
                .instrument(call_span(&self.name, book))
                .await
                .map_err(|status| self.link().map_status(status))?;
            Ok(Outcome::Nothing)
        }
    }
}
