//! Delivery to a saga over gRPC, and execution of the commands it emits.

use std::sync::Arc;

use angzarr_proto::saga_client::SagaClient;
use angzarr_proto::{CommandBook, CommandRejection, EventBook};
use angzarr_telemetry::propagation::request;
use async_trait::async_trait;
use tonic::transport::Channel;
use tracing::Instrument;

use super::{Outcome, Subscriber, call_span, correlation_of};
use crate::emitted::{Compensator, run_emitted, source_ref};
use crate::error::Result;
use crate::logic::{Availability, ComponentLink};
use crate::router::CommandExecutor;
use crate::subscription::EventFilter;

/// A saga component reached over gRPC.
#[derive(Clone)]
pub struct GrpcSaga {
    name: String,
    checkpoint: String,
    filter: EventFilter,
    client: SagaClient<Channel>,
    availability: Arc<dyn Availability>,
    executor: Arc<dyn CommandExecutor>,
}

impl GrpcSaga {
    /// A saga named `name`, subscribed to `filter`, reached over `channel`, whose commands
    /// go to `executor`.
    pub fn new(
        name: impl Into<String>,
        filter: EventFilter,
        channel: Channel,
        availability: Arc<dyn Availability>,
        executor: Arc<dyn CommandExecutor>,
    ) -> Self {
        let name = name.into();
        Self {
            checkpoint: name.clone(),
            name,
            filter,
            client: SagaClient::new(channel)
                .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
                .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES),
            availability,
            executor,
        }
    }

    /// The same saga reading another process's log: `filter` is what it wants from there;
    /// its checkpoint and idempotency keys are `<name>@<process>`.
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
impl Compensator for GrpcSaga {
    async fn compensate(&self, rejection: CommandRejection) -> Result<Vec<CommandBook>> {
        self.link().admit(&rejection)?;
        let mut client = self.client.clone();
        let correlation_id = rejection
            .command
            .as_ref()
            .and_then(|c| c.cover.as_ref())
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        Ok(client
            .handle_rejection(request(rejection, &correlation_id))
            .instrument(tracing::debug_span!(
                "logic.handle_rejection",
                component = %self.name,
                correlation_id
            ))
            .await
            .map_err(|status| self.link().map_status(status))?
            .into_inner()
            .commands)
    }
}

#[async_trait]
impl Subscriber for GrpcSaga {
    fn name(&self) -> &str {
        &self.name
    }

    fn checkpoint_name(&self) -> &str {
        &self.checkpoint
    }

    fn component_type(&self) -> &'static str {
        "saga"
    }

    fn filter(&self) -> &EventFilter {
        &self.filter
    }

    fn max_batch(&self) -> usize {
        1
    }

    /// Asks `Saga.Handle` (side-effect free by contract) event by event and reports the
    /// commands, stamped, without executing them.
    async fn speculate(&self, books: &[EventBook]) -> Result<super::Speculated> {
        let mut speculated = super::Speculated::default();
        for trigger in super::speculative::single_events(books) {
            let source = source_ref(&trigger)?;
            self.link().admit(&trigger)?;
            let commands = self
                .client
                .clone()
                .handle(trigger.clone())
                .await
                .map_err(|status| self.link().map_status(status))?
                .into_inner()
                .commands;
            speculated.commands.extend(super::speculative::stamped(
                &self.name, &trigger, &source, commands,
            ));
        }
        Ok(speculated)
    }

    async fn deliver(&self, book: &EventBook, _sync: bool) -> Result<Outcome> {
        let source = source_ref(book)?;
        self.link().admit(book)?;
        let mut client = self.client.clone();
        let commands = client
            .handle(request(book.clone(), correlation_of(book)))
            .instrument(call_span(&self.name, book))
            .await
            .map_err(|status| self.link().map_status(status))?
            .into_inner()
            .commands;
        let run = run_emitted(
            &*self.executor,
            &self.name,
            &self.checkpoint,
            book,
            &source,
            commands,
            self,
        )
        .await?;
        Ok(Outcome::Commands {
            sent: run.sent,
            responses: run.responses,
        })
    }
}
