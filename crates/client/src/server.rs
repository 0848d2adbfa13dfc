//! Serving business logic where the runtime expects it.
//!
//! The runtime starts each business-logic process with `ANGZARR_SOCKET=<path>`, waits until
//! `grpc.health.v1` on that socket answers SERVING, and stops the process with SIGTERM. gRPC
//! reflection is served too, so the message types of the domain can be found by generic tools
//! and by `angzarr send` without sharing `.proto` files.
//!
//! Every call from the runtime runs in a `handle` span carrying the call's correlation id (from
//! the `baggage` header) and, with the `otel` feature, continuing the runtime's trace (from the
//! `traceparent` header): spans and log lines of your handlers are part of the command's trace.

use std::convert::Infallible;
use std::ffi::OsString;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use prost::Message;
use tokio::net::UnixListener;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http::{Request, Response};
use tonic::server::NamedService;
use tonic_health::ServingStatus;

/// The environment variable holding the socket path to serve on.
pub const SOCKET_ENV: &str = "ANGZARR_SOCKET";

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `ANGZARR_SOCKET` is unset or empty.
    #[error(
        "{SOCKET_ENV} is not set. This program is business logic that the Angzarr runtime starts \
         (`angzarr-standalone run`), and the runtime sets {SOCKET_ENV}; to run it by hand, set \
         {SOCKET_ENV}=/path/to/a.sock"
    )]
    SocketNotSet,
    /// The socket could not be bound.
    #[error(transparent)]
    Bind(#[from] angzarr_transport::Error),
    /// A file descriptor set given for reflection is not valid.
    #[error("invalid file descriptor set for gRPC reflection: {0}")]
    DescriptorSet(String),
    /// The SIGTERM/SIGINT handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
    /// The gRPC server stopped with an error.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// The socket path from `ANGZARR_SOCKET`.
pub fn socket_path_from_env() -> Result<PathBuf, Error> {
    socket_path_from_value(std::env::var_os(SOCKET_ENV))
}

/// The socket path from a value of `ANGZARR_SOCKET` (unset and empty are errors).
pub fn socket_path_from_value(value: Option<OsString>) -> Result<PathBuf, Error> {
    match value {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(Error::SocketNotSet),
    }
}

/// Completes on the first SIGTERM or SIGINT. Installs the handlers at once, so a signal that
/// arrives before the future is polled is not lost.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        }
    })
}

/// Serves `service` (e.g. `CommandRouter::into_server()` or any generated tonic server) on the
/// socket named by `ANGZARR_SOCKET`, with health and reflection, until SIGTERM or SIGINT.
///
/// `file_descriptor_sets` are encoded `FileDescriptorSet`s registered with gRPC reflection:
/// pass [`angzarr_proto::FILE_DESCRIPTOR_SET`] and your domain's own set, so that tools can
/// resolve your command and event types.
pub async fn serve<S>(service: S, file_descriptor_sets: &[&[u8]]) -> Result<(), Error>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let path = socket_path_from_env()?;
    let shutdown = shutdown_signal()?;
    let listener = angzarr_transport::bind(&path)?;
    tracing::info!(socket = %path.display(), service = S::NAME, "serving");
    let result = serve_listener(listener, service, file_descriptor_sets, shutdown).await;
    // The socket lives in the runtime's directory; leave no stale file behind.
    let _ = std::fs::remove_file(&path);
    result
}

/// The whole `main` of a business-logic process: logs to stderr (filter from `RUST_LOG`,
/// default `info`), [`serve`]s `service` with reflection over Angzarr's own messages and
/// `file_descriptor_sets`, and turns the outcome into the exit code (printing why it failed).
///
/// ```no_run
/// # async fn doc(service: angzarr_proto::business_logic_server::BusinessLogicServer<angzarr_client::CommandRouter<prost_types::Timestamp>>) {
/// // #[tokio::main] async fn main() -> std::process::ExitCode {
/// angzarr_client::run("clock", service, &[]).await
/// # ;
/// # }
/// ```
pub async fn run<S>(name: &str, service: S, file_descriptor_sets: &[&[u8]]) -> ExitCode
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let telemetry = init_telemetry(name);
    let mut sets = vec![angzarr_proto::FILE_DESCRIPTOR_SET];
    sets.extend_from_slice(file_descriptor_sets);
    let result = serve(service, &sets).await;
    if let Some(telemetry) = telemetry {
        // Send the last spans while the runtime still runs the exporter's connection.
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up logging for a business-logic process: stderr, filter from `RUST_LOG` (default
/// `info`); with the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set (the runtime sets it
/// when its manifest has `[telemetry] otlp_endpoint`), spans are exported over OTLP as
/// `OTEL_SERVICE_NAME` (else `name`). Keep the guard until the process ends and
/// [`shutdown`](angzarr_telemetry::TelemetryGuard::shutdown) it to send the last spans.
/// `None` when a subscriber was already installed (the first one stays). Call it inside a
/// Tokio runtime. [`run`] does all this.
pub fn init_telemetry(name: &str) -> Option<angzarr_telemetry::TelemetryGuard> {
    let otlp =
        angzarr_telemetry::OtlpOptions::from_env(name).filter(|_| angzarr_telemetry::OTLP_COMPILED);
    let logging = angzarr_telemetry::Logging {
        filter_env: "RUST_LOG",
        default_filter: "info",
        format: angzarr_telemetry::LogFormat::Human,
        ansi: std::io::stderr().is_terminal(),
        otlp,
    };
    match angzarr_telemetry::logging::init(logging) {
        Ok(guard) => Some(guard),
        Err(angzarr_telemetry::Error::AlreadyInitialized(_)) => None,
        Err(err) => {
            eprintln!("{name}: {err}; continuing without span export");
            None
        }
    }
}

/// The span of one call from the runtime: a child of the caller's span (`traceparent`), with
/// the command's correlation id (`baggage`). Health checks and reflection get none.
fn call_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    if path.starts_with("/grpc.") {
        return tracing::Span::none();
    }
    let correlation_id = request
        .headers()
        .get(angzarr_telemetry::propagation::BAGGAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(angzarr_telemetry::propagation::correlation_from_baggage)
        .unwrap_or_default();
    let span = tracing::info_span!(
        "handle",
        rpc = path,
        correlation_id = %correlation_id,
        otel.kind = "server",
    );
    angzarr_telemetry::TraceContext::from_headers(request.headers()).set_parent_of(&span);
    span
}

/// The current span's W3C trace context and `correlation_id` on an outgoing request (e.g. a
/// command a projector sends to the gateway), so what it causes joins the same trace.
pub fn traced_request<T>(message: T, correlation_id: &str) -> tonic::Request<T> {
    angzarr_telemetry::propagation::request(message, correlation_id)
}

/// Serves `service` plus health and reflection on an already bound `listener` until
/// `shutdown` completes, then drains in-flight calls. The lower-level half of [`serve`], for
/// tests and for callers that pick the socket and the shutdown trigger themselves.
pub async fn serve_listener<S, F>(
    listener: UnixListener,
    service: S,
    file_descriptor_sets: &[&[u8]],
    shutdown: F,
) -> Result<(), Error>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()>,
{
    let mut reflection = tonic_reflection::server::Builder::configure();
    for encoded in file_descriptor_sets {
        let set = prost_types::FileDescriptorSet::decode(*encoded)
            .map_err(|err| Error::DescriptorSet(err.to_string()))?;
        reflection = reflection.register_file_descriptor_set(set);
    }
    let reflection = reflection
        .build_v1()
        .map_err(|err| Error::DescriptorSet(err.to_string()))?;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<S>().await;
    let shutdown = async move {
        shutdown.await;
        // Anyone watching health learns before the connections close.
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        health.set_not_serving::<S>().await;
    };

    tonic::transport::Server::builder()
        .trace_fn(call_span)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(service)
        .serve_with_incoming_shutdown(angzarr_transport::incoming(listener), shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommandRouter;
    use angzarr_proto::GetDescriptorRequest;
    use angzarr_proto::business_logic_client::BusinessLogicClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    #[test]
    fn socket_env_must_be_set_and_non_empty() {
        assert!(matches!(
            socket_path_from_value(None),
            Err(Error::SocketNotSet)
        ));
        assert!(matches!(
            socket_path_from_value(Some(OsString::new())),
            Err(Error::SocketNotSet)
        ));
        assert_eq!(
            socket_path_from_value(Some("/x/y.sock".into())).expect("path"),
            PathBuf::from("/x/y.sock")
        );
        assert!(
            Error::SocketNotSet
                .to_string()
                .contains("angzarr-standalone run")
        );
    }

    #[test]
    fn bad_descriptor_set_is_reported() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let tmp = tempfile::tempdir().expect("tempdir");
            let listener = angzarr_transport::bind(&tmp.path().join("x.sock")).expect("bind");
            let server = CommandRouter::<prost_types::Timestamp>::new("x").into_server();
            let result = serve_listener(listener, server, &[b"\xff\xff"], async {}).await;
            assert!(matches!(result, Err(Error::DescriptorSet(_))), "{result:?}");
        });
    }

    async fn reflect(
        client: &mut ServerReflectionClient<tonic::transport::Channel>,
        request: MessageRequest,
    ) -> MessageResponse {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let mut responses = client
            .server_reflection_info(tokio_stream::once(request))
            .await
            .expect("reflection call")
            .into_inner();
        let response: ServerReflectionResponse = responses
            .message()
            .await
            .expect("reflection stream")
            .expect("one response");
        response.message_response.expect("message response")
    }

    #[tokio::test]
    async fn serves_logic_health_and_reflection_until_shutdown() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("logic.sock");
        let listener = angzarr_transport::bind(&path).expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = CommandRouter::<prost_types::Timestamp>::new("clock").into_server();
        let task = tokio::spawn(async move {
            serve_listener(
                listener,
                server,
                &[angzarr_proto::FILE_DESCRIPTOR_SET],
                async {
                    let _ = stopped.await;
                },
            )
            .await
        });

        let channel = angzarr_transport::channel(&path).await.expect("connect");
        let health = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(
            health.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving
        );

        let descriptor = BusinessLogicClient::new(channel.clone())
            .get_descriptor(GetDescriptorRequest {})
            .await
            .expect("descriptor")
            .into_inner();
        assert_eq!(descriptor.name, "clock");

        let mut reflection = ServerReflectionClient::new(channel);
        let MessageResponse::ListServicesResponse(list) =
            reflect(&mut reflection, MessageRequest::ListServices(String::new())).await
        else {
            panic!("expected a service list");
        };
        let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"angzarr.BusinessLogic"), "{names:?}");
        let found = reflect(
            &mut reflection,
            MessageRequest::FileContainingSymbol("angzarr.CommandBook".into()),
        )
        .await;
        assert!(
            matches!(found, MessageResponse::FileDescriptorResponse(_)),
            "{found:?}"
        );

        stop.send(()).expect("server alive");
        task.await.expect("join").expect("clean shutdown");
    }
}
