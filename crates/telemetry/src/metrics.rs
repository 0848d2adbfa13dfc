//! Counters, gauges and histograms that belong to one runtime, and their Prometheus text form.
//!
//! Why not a global recorder: two runtimes in one process (tests do that) must not add up each
//! other's counts, and a test that sends N commands must read exactly N. So every metric here
//! is a plain handle (an `Arc` of atomics) owned by whoever registered it, and a scrape is an
//! explicit [`MetricFamily`] snapshot that the owner builds. The same snapshot is encoded as
//! Prometheus text ([`encode_text`]) and, with the `otel` feature, sent over OTLP.
//!
//! Hot paths hold resolved handles ([`Family::get`] once, then [`Counter::inc`] or
//! [`Histogram::observe`]: one or two relaxed atomic adds); label lookups are for set-up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Upper bounds (seconds) for latencies: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds for sizes (events or requests per batch): 1 to 1024.
pub const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A distribution of observed values over fixed buckets.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    bounds: &'static [f64],
    /// One per bound plus the overflow (`+Inf`) bucket; not cumulative.
    counts: Box<[AtomicU64]>,
    /// The sum of the observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these (ascending) upper bounds.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self(Arc::new(HistogramCells {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let cells = &self.0;
        let index = cells
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(cells.bounds.len());
        cells.counts[index].fetch_add(1, Ordering::Relaxed);
        let _ = cells
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: std::time::Duration) {
        self.observe(duration.as_secs_f64());
    }

    /// The current state: cumulative buckets, sum, count.
    pub fn value(&self) -> Value {
        let cells = &self.0;
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(cells.bounds.len());
        for (bound, count) in cells.bounds.iter().zip(cells.counts.iter()) {
            cumulative += count.load(Ordering::Relaxed);
            buckets.push((*bound, cumulative));
        }
        let count = cumulative + cells.counts[cells.bounds.len()].load(Ordering::Relaxed);
        Value::Histogram {
            buckets,
            sum: f64::from_bits(cells.sum.load(Ordering::Relaxed)),
            count,
        }
    }
}

/// What a family's members are.
pub trait Metric: Clone + Send + Sync + 'static {
    /// The kind reported for the family.
    const KIND: Kind;
    /// The member's current value.
    fn value(&self) -> Value;
}

impl Metric for Counter {
    const KIND: Kind = Kind::Counter;
    fn value(&self) -> Value {
        Value::Number(self.get() as f64)
    }
}

impl Metric for Histogram {
    const KIND: Kind = Kind::Histogram;
    fn value(&self) -> Value {
        Histogram::value(self)
    }
}

/// One metric name with a member per combination of label values.
pub struct Family<M: Metric> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    make: fn() -> M,
    members: Mutex<BTreeMap<Vec<String>, M>>,
}

impl<M: Metric> std::fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family").field("name", &self.name).finish()
    }
}

impl Family<Counter> {
    /// A counter family.
    pub fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        Self::new(name, help, labels, Counter::default)
    }
}

impl<M: Metric> Family<M> {
    /// A family whose members are made by `make`.
    pub fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        make: fn() -> M,
    ) -> Self {
        Self {
            name,
            help,
            labels,
            make,
            members: Mutex::default(),
        }
    }

    /// The member with these label values (one per label name, in order), created at zero.
    pub fn get(&self, values: &[&str]) -> M {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let key: Vec<String> = values.iter().map(ToString::to_string).collect();
        self.members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert_with(self.make)
            .clone()
    }

    /// The family's current values.
    pub fn collect(&self) -> MetricFamily {
        let members = self.members.lock().unwrap_or_else(|p| p.into_inner());
        MetricFamily {
            name: self.name.to_string(),
            help: self.help.to_string(),
            kind: M::KIND,
            samples: members
                .iter()
                .map(|(values, metric)| Sample {
                    labels: self
                        .labels
                        .iter()
                        .map(ToString::to_string)
                        .zip(values.iter().cloned())
                        .collect(),
                    value: metric.value(),
                })
                .collect(),
        }
    }
}

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets only when the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution over buckets.
    Histogram,
}

/// A family's value at one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// `angzarr_...`
    pub name: String,
    /// One line for people.
    pub help: String,
    /// Its kind.
    pub kind: Kind,
    /// One per label combination.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// A gauge family from computed samples.
    pub fn gauge(name: &str, help: &str, samples: Vec<Sample>) -> Self {
        Self {
            name: name.to_string(),
            help: help.to_string(),
            kind: Kind::Gauge,
            samples,
        }
    }

    /// A counter family from computed samples (counts kept elsewhere).
    pub fn counter(name: &str, help: &str, samples: Vec<Sample>) -> Self {
        Self {
            kind: Kind::Counter,
            ..Self::gauge(name, help, samples)
        }
    }
}

/// One labelled value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: Value,
}

impl Sample {
    /// A plain number with these labels.
    pub fn number(labels: &[(&str, &str)], value: f64) -> Self {
        Self {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: Value::Number(value),
        }
    }
}

/// A sample's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter's or a gauge's value.
    Number(f64),
    /// A histogram: cumulative counts per upper bound (without `+Inf`), sum and count.
    Histogram {
        /// `(upper bound, observations <= bound)`.
        buckets: Vec<(f64, u64)>,
        /// Sum of all observations.
        sum: f64,
        /// Number of observations (the `+Inf` bucket).
        count: u64,
    },
}

/// The content type of [`encode_text`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes families in the Prometheus text exposition format (version 0.0.4).
pub fn encode_text(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    for family in families {
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for sample in &family.samples {
            match &sample.value {
                Value::Number(value) => {
                    line(&mut out, &family.name, &sample.labels, None, *value);
                }
                Value::Histogram {
                    buckets,
                    sum,
                    count,
                } => {
                    let bucket = format!("{}_bucket", family.name);
                    for (bound, cumulative) in buckets {
                        let le = format_number(*bound);
                        line(
                            &mut out,
                            &bucket,
                            &sample.labels,
                            Some(&le),
                            *cumulative as f64,
                        );
                    }
                    line(
                        &mut out,
                        &bucket,
                        &sample.labels,
                        Some("+Inf"),
                        *count as f64,
                    );
                    let sum_name = format!("{}_sum", family.name);
                    line(&mut out, &sum_name, &sample.labels, None, *sum);
                    let count_name = format!("{}_count", family.name);
                    line(&mut out, &count_name, &sample.labels, None, *count as f64);
                }
            }
        }
    }
    out
}

fn line(out: &mut String, name: &str, labels: &[(String, String)], le: Option<&str>, value: f64) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (key, value) in labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(le.map(|le| ("le", le)))
        {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_number(value));
    out.push('\n');
}

fn format_number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Integers print without a fraction; everything else in Rust's shortest round-trip form.
        format!("{value}")
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_encode_as_prometheus_text() {
        let commands = Family::counter("angzarr_t_total", "Things \"done\".", &["domain"]);
        commands.get(&["a"]).add(3);
        commands.get(&["b\"x"]).inc();
        let latency = Family::new("angzarr_t_seconds", "Latency.", &[], || {
            Histogram::new(&[0.1, 1.0])
        });
        let h = latency.get(&[]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        let text = encode_text(&[commands.collect(), latency.collect()]);
        assert_eq!(
            text,
            "# HELP angzarr_t_total Things \"done\".\n\
             # TYPE angzarr_t_total counter\n\
             angzarr_t_total{domain=\"a\"} 3\n\
             angzarr_t_total{domain=\"b\\\"x\"} 1\n\
             # HELP angzarr_t_seconds Latency.\n\
             # TYPE angzarr_t_seconds histogram\n\
             angzarr_t_seconds_bucket{le=\"0.1\"} 1\n\
             angzarr_t_seconds_bucket{le=\"1\"} 2\n\
             angzarr_t_seconds_bucket{le=\"+Inf\"} 3\n\
             angzarr_t_seconds_sum 5.55\n\
             angzarr_t_seconds_count 3\n"
        );
    }

    #[test]
    fn the_same_labels_give_the_same_member() {
        let family = Family::counter("c_total", "c", &["a", "b"]);
        family.get(&["x", "y"]).inc();
        family.get(&["x", "y"]).inc();
        assert_eq!(family.get(&["x", "y"]).get(), 2);
        assert_eq!(family.collect().samples.len(), 1);
    }
}
