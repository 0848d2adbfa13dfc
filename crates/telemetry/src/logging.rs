//! One place that sets up `tracing` for Angzarr's processes: logs to stderr (human or JSON,
//! filtered by an environment variable) and, with the `otel` feature and an endpoint, spans to
//! an OTLP collector, each layer with its own filter.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::Error;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event, with the fields of its spans (the command's correlation id).
    #[default]
    Human,
    /// One JSON object per event, its spans' fields under `span` and `spans`.
    Json,
}

/// Where spans go over OTLP.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpOptions {
    /// `http://host:port` (OTLP/gRPC) or `unix:///path/to/otlp.sock`.
    pub endpoint: String,
    /// `service.name` of this process's resource.
    pub service_name: String,
    /// Which spans are exported (an `EnvFilter` directive, e.g. `info,angzarr=debug`).
    pub filter: String,
    /// Fraction of new traces sampled (0..=1); a traced caller's decision is kept.
    pub sample_ratio: f64,
}

impl OtlpOptions {
    /// The options the OpenTelemetry environment variables give a process (the runtime sets
    /// them for the business logic it starts): `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME` (else `service_name`). `None` when
    /// no endpoint is set.
    pub fn from_env(service_name: &str) -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
        Some(Self {
            endpoint,
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| service_name.to_string()),
            filter: var("ANGZARR_TRACE").unwrap_or_else(|| "info".into()),
            sample_ratio: 1.0,
        })
    }
}

/// What [`init`] sets up.
#[derive(Debug, Clone)]
pub struct Logging {
    /// The environment variable holding the log filter (`ANGZARR_LOG`, `RUST_LOG`).
    pub filter_env: &'static str,
    /// The filter when the variable is unset or invalid.
    pub default_filter: &'static str,
    /// Human or JSON.
    pub format: LogFormat,
    /// Colours in human output.
    pub ansi: bool,
    /// Span export, if any.
    pub otlp: Option<OtlpOptions>,
}

/// Keeps the exporters of [`init`] alive; [`shutdown`](Self::shutdown) (or dropping it) sends
/// what is buffered.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.provider.is_some()
        }
        #[cfg(not(feature = "otel"))]
        {
            false
        }
    }

    /// Exports what is buffered and stops the exporters. Blocks until done (call it from a
    /// thread that may block, e.g. `spawn_blocking`, while the Tokio runtime still runs).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take() {
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global `tracing` subscriber. With OTLP options it must run inside a Tokio
/// runtime (the exporter's connection lives there).
pub fn init(logging: Logging) -> Result<TelemetryGuard, Error> {
    let (layers, guard) = layers(logging)?;
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|err| Error::AlreadyInitialized(err.to_string()))?;
    Ok(guard)
}

/// The layers [`init`] installs, for callers that compose their own subscriber.
pub fn layers(logging: Logging) -> Result<(Vec<BoxedLayer>, TelemetryGuard), Error> {
    let filter = EnvFilter::try_from_env(logging.filter_env)
        .unwrap_or_else(|_| EnvFilter::new(logging.default_filter));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt: BoxedLayer = match logging.format {
        LogFormat::Human => stderr.with_ansi(logging.ansi).with_filter(filter).boxed(),
        LogFormat::Json => stderr.json().with_filter(filter).boxed(),
    };
    #[allow(unused_mut)]
    let mut layers = vec![fmt];
    #[allow(unused_mut)]
    let mut guard = TelemetryGuard::default();
    if let Some(otlp) = logging.otlp {
        #[cfg(feature = "otel")]
        {
            let (layer, provider) = crate::otlp::trace_layer(&otlp)?;
            layers.push(layer);
            guard.provider = Some(provider);
        }
        #[cfg(not(feature = "otel"))]
        {
            return Err(Error::NotCompiled(otlp.endpoint));
        }
    }
    Ok((layers, guard))
}
