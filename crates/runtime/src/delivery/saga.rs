//! Delivery to a saga over gRPC, and execution of the commands it emits.

use std::sync::Arc;

use angzarr_proto::saga_client::SagaClient;
use angzarr_proto::{CommandBook, CommandRejection, EventBook};
use async_trait::async_trait;
use tonic::transport::Channel;

use super::{Outcome, Subscriber};
use crate::emitted::{Compensator, run_emitted, source_ref};
use crate::error::Result;
use crate::logic::{Availability, ComponentLink};
use crate::router::CommandExecutor;
use crate::subscription::EventFilter;

/// A saga component reached over gRPC.
pub struct GrpcSaga {
    name: String,
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
        Self {
            name: name.into(),
            filter,
            client: SagaClient::new(channel)
                .max_decoding_message_size(64 * 1024 * 1024)
                .max_encoding_message_size(64 * 1024 * 1024),
            availability,
            executor,
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
        self.link().check_available()?;
        let mut client = self.client.clone();
        Ok(client
            .handle_rejection(rejection)
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

    fn component_type(&self) -> &'static str {
        "saga"
    }

    fn filter(&self) -> &EventFilter {
        &self.filter
    }

    fn max_batch(&self) -> usize {
        1
    }

    async fn deliver(&self, book: &EventBook, _sync: bool) -> Result<Outcome> {
        let source = source_ref(book)?;
        self.link().check_available()?;
        let mut client = self.client.clone();
        let commands = client
            .handle(book.clone())
            .await
            .map_err(|status| self.link().map_status(status))?
            .into_inner()
            .commands;
        let run = run_emitted(&*self.executor, &self.name, book, &source, commands, self).await?;
        Ok(Outcome::Commands {
            sent: run.sent,
            responses: run.responses,
        })
    }
}
