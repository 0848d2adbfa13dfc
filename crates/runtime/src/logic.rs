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
                .max_decoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES)
                .max_encoding_message_size(angzarr_proto::MAX_LOGIC_MESSAGE_BYTES),
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

    /// What every call checks before it sends `request`: the component is up, and the
    /// request fits in [`MAX_LOGIC_MESSAGE_BYTES`](angzarr_proto::MAX_LOGIC_MESSAGE_BYTES).
    /// (Sent anyway, an oversized request fails inside HTTP/2 and looks like a lost
    /// connection, which callers would retry forever.)
    pub fn admit(&self, request: &impl prost::Message) -> Result<()> {
        self.check_available()?;
        let bytes = request.encoded_len();
        if bytes > angzarr_proto::MAX_LOGIC_MESSAGE_BYTES {
            return Err(Error::TooLarge {
                component: self.component.to_string(),
                message: format!(
                    "the request is {bytes} bytes, more than the {} MiB a message to business logic may carry; nothing was stored (a long history needs snapshots)",
                    angzarr_proto::MAX_LOGIC_MESSAGE_BYTES >> 20
                ),
            });
        }
        Ok(())
    }

    /// The runtime error for a failed call.
    pub fn map_status(&self, status: tonic::Status) -> Error {
        if is_size_limit(&status) {
            return Error::TooLarge {
                component: self.component.to_string(),
                message: format!(
                    "a message between it and the runtime is larger than allowed ({}); nothing was stored",
                    status.message()
                ),
            };
        }
        // Transport failures surface as UNAVAILABLE (refused, reset) or as another code with
        // the transport error as source (UNKNOWN for a reset stream, CANCELLED when the
        // connection closed before the request went out); a status the component sent has no
        // source. Either way the component is not reachable: callers retry, never reject.
        let transport = std::error::Error::source(&status).is_some();
        if status.code() != tonic::Code::Unavailable && !transport {
            return Error::Rejected {
                code: status.code(),
                message: status.message().to_string(),
            };
        }
        let reason = match self.availability.unavailable_reason(self.component) {
            Some(reason) => reason,
            None if transport => format!("connection lost: {}", status.message()),
            None => format!("call failed: {}", status.message()),
        };
        Error::Unavailable {
            component: self.component.to_string(),
            reason,
        }
    }
}

/// Whether `status` is a gRPC size limit refusing a message: tonic's own (on either side) or
/// grpc-core's (a Python component). Their texts are the only mark; `limit_tests` pins them.
fn is_size_limit(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
    ) && ["message length too large", "larger than max"]
        .iter()
        .any(|mark| status.message().contains(mark))
}

#[async_trait]
impl AggregateLogic for GrpcAggregateLogic {
    fn component(&self) -> &str {
        &self.component
    }

    async fn handle(&self, command: ContextualCommand) -> Result<EventBook> {
        self.link().admit(&command)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Down(Option<&'static str>);

    impl Availability for Down {
        fn unavailable_reason(&self, _component: &str) -> Option<String> {
            self.0.map(str::to_string)
        }
    }

    fn map(status: tonic::Status, availability: &dyn Availability) -> Error {
        ComponentLink {
            component: "crashy",
            availability,
        }
        .map_status(status)
    }

    fn with_transport_source(mut status: tonic::Status) -> tonic::Status {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "connection closed");
        status.set_source(Arc::new(io));
        status
    }

    #[test]
    fn a_status_the_component_sent_is_its_answer() {
        for code in [
            tonic::Code::Cancelled,
            tonic::Code::Unknown,
            tonic::Code::FailedPrecondition,
            tonic::Code::Internal,
        ] {
            match map(tonic::Status::new(code, "no"), &AlwaysAvailable) {
                Error::Rejected { code: got, message } => {
                    assert_eq!((got, message.as_str()), (code, "no"));
                }
                other => panic!("{code:?}: expected Rejected, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_transport_failure_under_any_code_is_unavailable_naming_the_component() {
        // hyper reports a request dropped with its connection as CANCELLED (with the hyper
        // error as source); a reset stream as UNKNOWN. Neither is the component's answer.
        for code in [
            tonic::Code::Cancelled,
            tonic::Code::Unknown,
            tonic::Code::Internal,
        ] {
            let status = with_transport_source(tonic::Status::new(code, "operation was canceled"));
            match map(status, &AlwaysAvailable) {
                Error::Unavailable { component, reason } => {
                    assert_eq!(component, "crashy");
                    assert_eq!(reason, "connection lost: operation was canceled");
                }
                other => panic!("{code:?}: expected Unavailable, got {other:?}"),
            }
        }
        match map(tonic::Status::unavailable("refused"), &AlwaysAvailable) {
            Error::Unavailable { reason, .. } => assert_eq!(reason, "call failed: refused"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[test]
    fn the_supervisors_reason_wins_when_it_knows_the_component_is_down() {
        let status = with_transport_source(tonic::Status::cancelled("operation was canceled"));
        match map(status, &Down(Some("restarting in 1s"))) {
            Error::Unavailable { reason, .. } => assert_eq!(reason, "restarting in 1s"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use angzarr_proto::business_logic_server::{BusinessLogic, BusinessLogicServer};
    use angzarr_proto::{EventPage, MAX_LOGIC_MESSAGE_BYTES};
    use tonic::{Request, Response, Status};

    use super::*;

    /// Answers every command with one event of `answer_bytes` bytes; counts its calls.
    struct Sized {
        answer_bytes: usize,
        calls: Arc<AtomicUsize>,
    }

    fn book_of(bytes: usize) -> EventBook {
        EventBook {
            pages: vec![EventPage {
                event: Some(prost_types::Any {
                    type_url: "type.googleapis.com/test.Big".into(),
                    value: vec![7; bytes],
                }),
                ..EventPage::default()
            }],
            ..EventBook::default()
        }
    }

    #[tonic::async_trait]
    impl BusinessLogic for Sized {
        async fn handle(
            &self,
            _request: Request<ContextualCommand>,
        ) -> std::result::Result<Response<EventBook>, Status> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(Response::new(book_of(self.answer_bytes)))
        }

        async fn get_descriptor(
            &self,
            _request: Request<GetDescriptorRequest>,
        ) -> std::result::Result<Response<ComponentDescriptor>, Status> {
            Err(Status::unimplemented("not asked"))
        }
    }

    struct Served {
        logic: GrpcAggregateLogic,
        calls: Arc<AtomicUsize>,
        _dir: tempfile::TempDir,
    }

    /// `GrpcAggregateLogic` to a component that accepts up to the limit, as the client
    /// libraries' servers do.
    async fn serve(answer_bytes: usize) -> Served {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("big.sock");
        let listener = angzarr_transport::bind(&socket).expect("bind");
        let calls = Arc::new(AtomicUsize::new(0));
        let service = BusinessLogicServer::new(Sized {
            answer_bytes,
            calls: calls.clone(),
        })
        .max_decoding_message_size(MAX_LOGIC_MESSAGE_BYTES);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(angzarr_transport::incoming(listener)),
        );
        let channel = angzarr_transport::channel(&socket).await.expect("connect");
        Served {
            logic: GrpcAggregateLogic::new("big", channel, Arc::new(AlwaysAvailable)),
            calls,
            _dir: dir,
        }
    }

    fn command_with_history(bytes: usize) -> ContextualCommand {
        ContextualCommand {
            events: Some(book_of(bytes)),
            command: None,
        }
    }

    fn expect_too_large(result: Result<EventBook>) -> String {
        match result {
            Err(err @ Error::TooLarge { .. }) => {
                assert_eq!(err.to_status().code(), tonic::Code::ResourceExhausted);
                let Error::TooLarge { component, message } = err else {
                    unreachable!()
                };
                assert_eq!(component, "big");
                message
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_request_over_the_limit_is_refused_before_it_is_sent() {
        let served = serve(10).await;
        let message = expect_too_large(
            served
                .logic
                .handle(command_with_history(MAX_LOGIC_MESSAGE_BYTES))
                .await,
        );
        assert!(
            message.contains("64 MiB") && message.contains("snapshots"),
            "{message}"
        );
        assert_eq!(served.calls.load(Ordering::SeqCst), 0, "nothing was sent");
    }

    #[tokio::test]
    async fn a_request_under_the_limit_is_sent_even_past_tonics_default() {
        let served = serve(10).await;
        let answer = served
            .logic
            .handle(command_with_history(MAX_LOGIC_MESSAGE_BYTES - 1024))
            .await
            .expect("sent");
        assert_eq!(
            answer.pages[0].event.as_ref().map(|e| e.value.len()),
            Some(10)
        );
        assert_eq!(served.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_too_large_naming_the_component() {
        let served = serve(MAX_LOGIC_MESSAGE_BYTES + 1).await;
        let message = expect_too_large(served.logic.handle(command_with_history(10)).await);
        assert!(message.contains("larger than allowed"), "{message}");
        assert_eq!(served.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_component_refusing_a_message_as_too_large_is_recognised() {
        // tonic (a Rust component with a smaller limit) and grpc-core (Python), as sent.
        for status in [
            Status::out_of_range(
                "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
            ),
            Status::resource_exhausted("Received message larger than max (5000000 vs. 4194304)"),
        ] {
            let err = ComponentLink {
                component: "big",
                availability: &AlwaysAvailable,
            }
            .map_status(status);
            assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
        }
        let own = ComponentLink {
            component: "big",
            availability: &AlwaysAvailable,
        }
        .map_status(Status::out_of_range("the index is past the end"));
        assert!(matches!(own, Error::Rejected { .. }), "{own:?}");
    }
}
