//! OTLP/gRPC export (feature `otel`): spans through the OpenTelemetry SDK's batch processor,
//! metrics by converting a [`MetricFamily`] snapshot into an OTLP metrics request.
//!
//! Endpoints are `http://host:port` (a collector, Jaeger, ...) or `unix:///path/to.sock` (a
//! collector listening on a Unix socket, as the tests' receiver does).

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as proto;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tonic::transport::Channel;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::Error;
use crate::logging::OtlpOptions;
use crate::metrics::{Kind, MetricFamily, Value};

/// The instrumentation scope of everything Angzarr exports.
pub const SCOPE: &str = "angzarr";

/// A lazily connecting channel to `endpoint`. Must be called inside a Tokio runtime.
pub fn channel(endpoint: &str) -> Result<Channel, Error> {
    let invalid = |reason: String| Error::Endpoint {
        endpoint: endpoint.to_string(),
        reason,
    };
    if let Some(path) = endpoint.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if !path.starts_with('/') {
            return Err(invalid("a unix endpoint needs an absolute path".into()));
        }
        return Ok(angzarr_transport::channel_lazy(std::path::Path::new(path)));
    }
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(invalid(
            "use http://host:port or unix:///path/to.sock".into(),
        ));
    }
    tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map(|e| e.connect_lazy())
        .map_err(|e| invalid(e.to_string()))
}

/// The OpenTelemetry layer exporting spans to `options.endpoint`, and its provider (flush and
/// shut it down before exit).
pub(crate) fn trace_layer(
    options: &OtlpOptions,
) -> Result<(Box<dyn Layer<Registry> + Send + Sync>, SdkTracerProvider), Error> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_channel(channel(&options.endpoint)?)
        .with_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Exporter(e.to_string()))?;
    let ratio = options.sample_ratio.clamp(0.0, 1.0);
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(options.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer(SCOPE);
    let filter = EnvFilter::try_new(&options.filter).map_err(|e| Error::Endpoint {
        endpoint: options.endpoint.clone(),
        reason: format!("invalid span filter {:?}: {e}", options.filter),
    })?;
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter)
        .boxed();
    Ok((layer, provider))
}

/// Sends metric snapshots to an OTLP collector (cumulative temporality: each export carries
/// the totals since the process started).
#[derive(Debug, Clone)]
pub struct MetricsExporter {
    client: MetricsServiceClient<Channel>,
    service_name: String,
    start_unix_nano: u64,
}

impl MetricsExporter {
    /// An exporter to `endpoint` for the service `service_name`. Must be called inside a Tokio
    /// runtime.
    pub fn new(endpoint: &str, service_name: &str) -> Result<Self, Error> {
        Ok(Self {
            client: MetricsServiceClient::new(channel(endpoint)?),
            service_name: service_name.to_string(),
            start_unix_nano: unix_nanos(),
        })
    }

    /// Sends one snapshot.
    pub async fn export(&self, families: &[MetricFamily]) -> Result<(), Error> {
        let request = self.request(families, unix_nanos());
        self.client
            .clone()
            .export(request)
            .await
            .map(|_| ())
            .map_err(|status| Error::Exporter(status.message().to_string()))
    }

    /// The OTLP request for a snapshot taken at `now_unix_nano`.
    pub fn request(
        &self,
        families: &[MetricFamily],
        now_unix_nano: u64,
    ) -> ExportMetricsServiceRequest {
        let metrics = families
            .iter()
            .map(|family| self.metric(family, now_unix_nano))
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![proto::ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![string_attribute("service.name", &self.service_name)],
                    ..Default::default()
                }),
                scope_metrics: vec![proto::ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.into(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn metric(&self, family: &MetricFamily, now: u64) -> proto::Metric {
        let start = self.start_unix_nano;
        let numbers = || {
            family
                .samples
                .iter()
                .filter_map(|sample| match sample.value {
                    Value::Number(value) => Some(proto::NumberDataPoint {
                        attributes: attributes(&sample.labels),
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        value: Some(proto::number_data_point::Value::AsDouble(value)),
                        ..Default::default()
                    }),
                    Value::Histogram { .. } => None,
                })
                .collect()
        };
        let cumulative = proto::AggregationTemporality::Cumulative as i32;
        let data = match family.kind {
            Kind::Counter => proto::metric::Data::Sum(proto::Sum {
                data_points: numbers(),
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
            Kind::Gauge => proto::metric::Data::Gauge(proto::Gauge {
                data_points: numbers(),
            }),
            Kind::Histogram => proto::metric::Data::Histogram(proto::Histogram {
                data_points: family
                    .samples
                    .iter()
                    .filter_map(|sample| match &sample.value {
                        Value::Histogram {
                            buckets,
                            sum,
                            count,
                        } => Some(histogram_point(
                            attributes(&sample.labels),
                            buckets,
                            *sum,
                            *count,
                            start,
                            now,
                        )),
                        Value::Number(_) => None,
                    })
                    .collect(),
                aggregation_temporality: cumulative,
            }),
        };
        proto::Metric {
            name: family.name.clone(),
            description: family.help.clone(),
            data: Some(data),
            ..Default::default()
        }
    }
}

fn histogram_point(
    attributes: Vec<KeyValue>,
    buckets: &[(f64, u64)],
    sum: f64,
    count: u64,
    start: u64,
    now: u64,
) -> proto::HistogramDataPoint {
    // OTLP buckets are per bucket (not cumulative) and one longer than the bounds.
    let mut bucket_counts = Vec::with_capacity(buckets.len() + 1);
    let mut previous = 0;
    for (_, cumulative) in buckets {
        bucket_counts.push(cumulative - previous);
        previous = *cumulative;
    }
    bucket_counts.push(count - previous);
    proto::HistogramDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        count,
        sum: Some(sum),
        bucket_counts,
        explicit_bounds: buckets.iter().map(|(bound, _)| *bound).collect(),
        ..Default::default()
    }
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(key, value)| string_attribute(key, value))
        .collect()
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Family, Histogram};

    #[tokio::test]
    async fn snapshots_become_otlp_sums_gauges_and_histograms() {
        let exporter = MetricsExporter::new("unix:///tmp/nowhere.sock", "svc").expect("exporter");
        let counter = Family::counter("c_total", "c", &["domain"]);
        counter.get(&["a"]).add(2);
        let histogram = Family::new("h_seconds", "h", &[], || Histogram::new(&[1.0, 2.0]));
        histogram.get(&[]).observe(0.5);
        histogram.get(&[]).observe(3.0);
        let gauge = MetricFamily::gauge(
            "g",
            "g",
            vec![crate::metrics::Sample::number(&[("x", "y")], 7.0)],
        );
        let request = exporter.request(&[counter.collect(), histogram.collect(), gauge], 42);
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let Some(proto::metric::Data::Sum(sum)) = &metrics[0].data else {
            panic!("a sum: {:?}", metrics[0]);
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.data_points[0].value,
            Some(proto::number_data_point::Value::AsDouble(2.0))
        );
        let Some(proto::metric::Data::Histogram(h)) = &metrics[1].data else {
            panic!("a histogram");
        };
        assert_eq!(h.data_points[0].bucket_counts, vec![1, 0, 1]);
        assert_eq!(h.data_points[0].explicit_bounds, vec![1.0, 2.0]);
        assert_eq!(h.data_points[0].count, 2);
        assert!(matches!(
            metrics[2].data,
            Some(proto::metric::Data::Gauge(_))
        ));
    }
}
