//! W3C trace context and the correlation id in gRPC metadata.
//!
//! Every gRPC call the runtime makes to business logic carries
//!
//! - `traceparent` (and `tracestate` when there is one): the W3C trace context of the span
//!   making the call, so a span opened in the business logic joins the command's trace
//!   (only with the `otel` feature: without a trace backend there is no trace to join);
//! - `baggage: angzarr.correlation_id=<id>` (W3C Baggage): the command's correlation id, so the
//!   business logic's logs and spans can carry it without decoding the request.
//!
//! Calls coming in (a client's command, a component calling the gateway) are read the same way:
//! a `traceparent` makes the command a child of the caller's span.
//!
//! The events of a command are delivered later, by other tasks; [`TraceIndex`] remembers which
//! span stored which global positions, so each delivery continues the trace of the command that
//! stored its event (within the last [`TraceIndex::CAPACITY`] appends of this process).

use tonic::metadata::{MetadataMap, MetadataValue};

/// The W3C `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C `tracestate` header.
pub const TRACESTATE: &str = "tracestate";
/// The W3C `baggage` header.
pub const BAGGAGE: &str = "baggage";
/// The baggage key of the correlation id.
pub const CORRELATION_BAGGAGE_KEY: &str = "angzarr.correlation_id";

/// Where the trace of some work continues: a remote span's identity, or nothing.
///
/// Without the `otel` feature this is always empty and every operation is a no-op.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceContext {
    #[cfg(feature = "otel")]
    span: Option<opentelemetry::trace::SpanContext>,
}

impl TraceContext {
    /// The context of the current `tracing` span (empty when it is not traced).
    pub fn current() -> Self {
        Self::of(&tracing::Span::current())
    }

    /// The context of `span` (empty when it is not traced).
    #[allow(unused_variables)]
    pub fn of(span: &tracing::Span) -> Self {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            if span.is_disabled() {
                return Self::default();
            }
            let context = span.context();
            let span_context = context.span().span_context().clone();
            if span_context.is_valid() {
                return Self {
                    span: Some(span_context),
                };
            }
        }
        Self::default()
    }

    /// Whether there is a trace to continue.
    pub fn is_empty(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.span.is_none()
        }
        #[cfg(not(feature = "otel"))]
        {
            true
        }
    }

    /// The trace id in hex, if any.
    pub fn trace_id(&self) -> Option<String> {
        #[cfg(feature = "otel")]
        {
            self.span.as_ref().map(|s| s.trace_id().to_string())
        }
        #[cfg(not(feature = "otel"))]
        {
            None
        }
    }

    /// Reads `traceparent`/`tracestate` through `get` (a header lookup).
    #[allow(unused_variables)]
    pub fn extract<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::propagation::TextMapPropagator;
            use opentelemetry::trace::TraceContextExt;
            struct Headers<'a> {
                parent: Option<&'a str>,
                state: Option<&'a str>,
            }
            impl opentelemetry::propagation::Extractor for Headers<'_> {
                fn get(&self, key: &str) -> Option<&str> {
                    match key {
                        TRACEPARENT => self.parent,
                        TRACESTATE => self.state,
                        _ => None,
                    }
                }
                fn keys(&self) -> Vec<&str> {
                    vec![TRACEPARENT, TRACESTATE]
                }
            }
            let headers = Headers {
                parent: get(TRACEPARENT),
                state: get(TRACESTATE),
            };
            if headers.parent.is_none() {
                return Self::default();
            }
            let context =
                opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&headers);
            let span = context.span().span_context().clone();
            if span.is_valid() {
                return Self { span: Some(span) };
            }
        }
        Self::default()
    }

    /// Reads the trace context of an incoming gRPC request.
    pub fn from_metadata(metadata: &MetadataMap) -> Self {
        Self::extract(|key| metadata.get(key).and_then(|v| v.to_str().ok()))
    }

    /// Reads the trace context of incoming HTTP headers.
    pub fn from_headers(headers: &tonic::codegen::http::HeaderMap) -> Self {
        Self::extract(|key| headers.get(key).and_then(|v| v.to_str().ok()))
    }

    /// Writes `traceparent` (and `tracestate`) through `set`; nothing when empty.
    #[allow(unused_variables, unused_mut)]
    pub fn inject(&self, mut set: impl FnMut(&'static str, String)) {
        #[cfg(feature = "otel")]
        if let Some(span) = &self.span {
            let flags = if span.is_sampled() { "01" } else { "00" };
            set(
                TRACEPARENT,
                format!("00-{}-{}-{flags}", span.trace_id(), span.span_id()),
            );
            let state = span.trace_state().header();
            if !state.is_empty() {
                set(TRACESTATE, state);
            }
        }
    }

    /// Makes `span` a child of this context (when there is one and the span is traced).
    #[allow(unused_variables)]
    pub fn set_parent_of(&self, span: &tracing::Span) {
        #[cfg(feature = "otel")]
        if let Some(remote) = &self.span {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let context = opentelemetry::Context::new().with_remote_span_context(remote.clone());
            let _ = span.set_parent(context);
        }
    }
}

/// Adds the trace context of the current span and the correlation id to an outgoing request.
pub fn inject_current(metadata: &mut MetadataMap, correlation_id: &str) {
    TraceContext::current().inject(|key, value| {
        if let Ok(value) = MetadataValue::try_from(value) {
            metadata.insert(key, value);
        }
    });
    if !correlation_id.is_empty()
        && let Ok(value) = MetadataValue::try_from(correlation_baggage(correlation_id))
    {
        metadata.insert(BAGGAGE, value);
    }
}

/// A request for `message` carrying the current trace context and `correlation_id`.
pub fn request<T>(message: T, correlation_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    inject_current(request.metadata_mut(), correlation_id);
    request
}

/// The `baggage` header value carrying `correlation_id` (percent-encoded as W3C Baggage
/// requires).
pub fn correlation_baggage(correlation_id: &str) -> String {
    let mut out = String::with_capacity(CORRELATION_BAGGAGE_KEY.len() + 1 + correlation_id.len());
    out.push_str(CORRELATION_BAGGAGE_KEY);
    out.push('=');
    for byte in correlation_id.bytes() {
        // baggage-octet: printable ASCII except space, '"', ',', ';', '\' (and '%' itself).
        if byte.is_ascii_graphic() && !matches!(byte, b'"' | b',' | b';' | b'\\' | b'%') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The correlation id in a `baggage` header value, if it has one.
pub fn correlation_from_baggage(baggage: &str) -> Option<String> {
    baggage.split(',').find_map(|member| {
        let member = member.split(';').next()?.trim();
        let (key, value) = member.split_once('=')?;
        (key.trim() == CORRELATION_BAGGAGE_KEY).then(|| percent_decode(value.trim()))
    })
}

fn percent_decode(value: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(high * 16 + low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which span stored which global positions, for the last [`Self::CAPACITY`] appends, so
/// deliveries continue the trace of the command that stored their event.
///
/// Without the `otel` feature, or when no trace is recorded, it stays empty.
#[derive(Debug, Clone, Default)]
pub struct TraceIndex {
    #[cfg(feature = "otel")]
    entries: std::sync::Arc<
        std::sync::Mutex<std::collections::BTreeMap<u64, (u64, opentelemetry::trace::SpanContext)>>,
    >,
}

impl TraceIndex {
    /// How many appends are remembered.
    pub const CAPACITY: usize = 16 * 1024;

    /// Remembers that positions `first..=last` were stored under `context`.
    #[allow(unused_variables)]
    pub fn record(&self, first: u64, last: u64, context: &TraceContext) {
        #[cfg(feature = "otel")]
        if let Some(span) = &context.span {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.insert(first, (last, span.clone()));
            while entries.len() > Self::CAPACITY {
                entries.pop_first();
            }
        }
    }

    /// The context that stored `position`, if remembered.
    #[allow(unused_variables)]
    pub fn lookup(&self, position: u64) -> TraceContext {
        #[cfg(feature = "otel")]
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, (last, span))) = entries.range(..=position).next_back()
                && position <= *last
            {
                return TraceContext {
                    span: Some(span.clone()),
                };
            }
        }
        TraceContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correlation_id_survives_baggage_encoding() {
        for id in [
            "plain-uuid-1234",
            "with space, comma; and \"quotes\" %",
            "ünïcode",
        ] {
            let header = correlation_baggage(id);
            assert!(!header.contains(' '), "{header}");
            assert_eq!(correlation_from_baggage(&header).as_deref(), Some(id));
        }
        assert_eq!(
            correlation_from_baggage("other=1, angzarr.correlation_id=abc;prop=x").as_deref(),
            Some("abc")
        );
        assert_eq!(correlation_from_baggage("other=1"), None);
    }

    #[test]
    fn requests_carry_the_correlation_baggage() {
        let request = request((), "c-1");
        assert_eq!(
            request
                .metadata()
                .get(BAGGAGE)
                .and_then(|v| v.to_str().ok()),
            Some("angzarr.correlation_id=c-1")
        );
    }

    #[cfg(feature = "otel")]
    #[test]
    fn traceparent_round_trips_and_the_index_finds_positions() {
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let context = TraceContext::extract(|key| (key == TRACEPARENT).then_some(header));
        assert_eq!(
            context.trace_id().as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        let mut written = Vec::new();
        context.inject(|key, value| written.push((key, value)));
        assert_eq!(written, vec![(TRACEPARENT, header.to_string())]);
        assert!(TraceContext::extract(|_| Some("garbage")).is_empty());

        let index = TraceIndex::default();
        index.record(10, 12, &context);
        assert_eq!(index.lookup(11), context);
        assert!(index.lookup(13).is_empty());
        assert!(index.lookup(9).is_empty());
    }
}
