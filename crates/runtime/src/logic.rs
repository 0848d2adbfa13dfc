//! How the runtime reaches a component's business logic.
//!
//! The coordinator talks to an [`AggregateLogic`]; in production that is
//! [`GrpcAggregateLogic`], a gRPC client over the component's Unix socket that first asks an
//! [`Availability`] (the supervisor) whether the component is up, so a restarting component
//! answers `UNAVAILABLE` at once instead of after a connect timeout.

use std::sync::Arc;

use angzarr_proto::business_logic_client::BusinessLogicClient;
use angzarr_proto::{ComponentDescriptor, ContextualCommand, EventBook, GetDescriptorRequest};
use async_trait::async_trait;
use tonic::transport::Channel;

use crate::error::{Error, Result};

/// Business logic of one aggregate domain.
#[async_trait]
pub trait AggregateLogic: Send + Sync + 'static {
    /// The component's name (for error messages).
    fn component(&self) -> &str;

    /// Runs the business logic. A business rejection is [`Error::Rejected`]; an unreachable
    /// component is [`Error::Unavailable`].
    async fn handle(&self, command: ContextualCommand) -> Result<EventBook>;
}

/// Whether a component can take calls right now.
pub trait Availability: Send + Sync + 'static {
    /// `None` when the component is up; otherwise why it is not (e.g. "restarting").
    fn unavailable_reason(&self, component: &str) -> Option<String>;

    /// The component's process id, when it runs as a process.
    fn pid(&self, _component: &str) -> Option<u32> {
        None
    }

    /// How often the component was restarted.
    fn restarts(&self, _component: &str) -> u32 {
        0
    }

    /// A one-word name of the component's state, for metrics and `/status`: `serving`,
    /// `starting`, `restarting`, `failed`, `stopping`, `stopped` (or `unavailable`).
    fn state_name(&self, component: &str) -> &'static str {
        match self.unavailable_reason(component) {
            None => "serving",
            Some(_) => "unavailable",
        }
    }

    /// The components it knows, in a stable order (for status before the system is wired).
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Every component is always available (tests, and components not under supervision).
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysAvailable;

impl Availability for AlwaysAvailable {
    fn unavailable_reason(&self, _component: &str) -> Option<String> {
        None
    }
}

/// [`AggregateLogic`] over gRPC.
#[derive(Clone)]
pub struct GrpcAggregateLogic {
    component: String,
    client: BusinessLogicClient<Channel>,
    availability: Arc<dyn Availability>,
}

impl GrpcAggregateLogic {
    /// A client for `component` over `channel`.
    pub fn new(
        component: impl Into<String>,
        channel: Channel,
        availability: Arc<dyn Availability>,
    ) -> Self {
        Self {
            component: component.into(),
            // Generous limits: histories can be large; the runtime enforces its own limits.
            client: BusinessLogicClient::new(channel)
                .max_decoding_message_size(64 * 1024 * 1024)
                .max_encoding_message_size(64 * 1024 * 1024),
            availability,
        }
    }

    /// Asks the component to describe itself.
    pub async fn descriptor(&self) -> Result<ComponentDescriptor> {
        self.check_available()?;
        let mut client = self.client.clone();
        client
            .get_descriptor(GetDescriptorRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| self.map_status(status))
    }

    fn check_available(&self) -> Result<()> {
        self.link().check_available()
    }

    fn map_status(&self, status: tonic::Status) -> Error {
        self.link().map_status(status)
    }

    fn link(&self) -> ComponentLink<'_> {
        ComponentLink {
            component: &self.component,
            availability: &*self.availability,
        }
    }
}

/// How any gRPC call to a business-logic component turns into runtime errors: refused while
/// the supervisor says the component is down, and transport failures become
/// [`Error::Unavailable`] naming it; every other status is the component's own answer
/// ([`Error::Rejected`]).
#[derive(Clone, Copy)]
pub struct ComponentLink<'a> {
    /// The component's name.
    pub component: &'a str,
    /// Whether it is up.
    pub availability: &'a dyn Availability,
}

impl ComponentLink<'_> {
    /// `Err(Unavailable)` while the component is down.
    pub fn check_available(&self) -> Result<()> {
        match self.availability.unavailable_reason(self.component) {
            None => Ok(()),
            Some(reason) => Err(Error::Unavailable {
                component: self.component.to_string(),
                reason,
            }),
        }
    }

    /// The runtime error for a failed call.
    pub fn map_status(&self, status: tonic::Status) -> Error {
        match status.code() {
            // Transport failures surface as UNAVAILABLE (refused, reset) or as UNKNOWN with a
            // transport source; either way the component is not reachable.
            tonic::Code::Unavailable => Error::Unavailable {
                component: self.component.to_string(),
                reason: match self.availability.unavailable_reason(self.component) {
                    Some(reason) => reason,
                    None => format!("call failed: {}", status.message()),
                },
            },
            tonic::Code::Unknown if std::error::Error::source(&status).is_some() => {
                Error::Unavailable {
                    component: self.component.to_string(),
                    reason: format!("connection lost: {}", status.message()),
                }
            }
            code => Error::Rejected {
                code,
                message: status.message().to_string(),
            },
        }
    }
}

#[async_trait]
impl AggregateLogic for GrpcAggregateLogic {
    fn component(&self) -> &str {
        &self.component
    }

    async fn handle(&self, command: ContextualCommand) -> Result<EventBook> {
        self.check_available()?;
        let mut client = self.client.clone();
        let correlation_id = command
            .command
            .as_ref()
            .and_then(|c| c.cover.as_ref())
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        client
            .handle(angzarr_telemetry::propagation::request(
                command,
                &correlation_id,
            ))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| self.map_status(status))
    }
}
