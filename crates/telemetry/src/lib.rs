//! Angzarr's observability plumbing, shared by the runtime, `angzarr-standalone` and the Rust
//! client library.
//!
//! - [`metrics`]: counters and histograms owned by one runtime (no global registry), a scrape
//!   snapshot, and its Prometheus text form.
//! - [`propagation`]: W3C `traceparent`/`tracestate` and the correlation id (W3C `baggage`)
//!   in gRPC metadata, and the index that lets deliveries continue a command's trace.
//! - [`logging`]: the `tracing` subscriber: human or JSON logs on stderr and, with the `otel`
//!   feature, OTLP span export.
//! - `otlp` (feature `otel`): the exporters, over `http://host:port` or a Unix socket.
//!
//! Without the `otel` feature nothing of OpenTelemetry is compiled in: propagation and the
//! trace index are no-ops and asking for OTLP export is an error.

#![warn(missing_docs)]

pub mod logging;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otlp;
pub mod propagation;

pub use logging::{LogFormat, Logging, OtlpOptions, TelemetryGuard};
pub use propagation::{TraceContext, TraceIndex};

/// Whether this build can export over OTLP (the `otel` feature).
pub const OTLP_COMPILED: bool = cfg!(feature = "otel");

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// OTLP export was asked for in a build without it.
    #[error(
        "OTLP export to {0} was asked for, but this build has no OTLP support (build with `--features otel`)"
    )]
    NotCompiled(String),
    /// The endpoint is not `http(s)://host:port` or `unix:///path`.
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// The exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
    /// A `tracing` subscriber is already installed.
    #[error("a tracing subscriber is already installed: {0}")]
    AlreadyInitialized(String),
}
