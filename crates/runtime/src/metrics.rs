//! What the runtime counts, and the handles its pipelines count with.
//!
//! One [`Telemetry`] per runtime: its [`RuntimeMetrics`] (no global registry, so two runtimes
//! in one process count apart) and the [`TraceIndex`] through which deliveries continue the
//! trace of the command that stored their event. Components take a clone at construction and
//! resolve their labelled handles once ([`RuntimeMetrics::command`],
//! [`RuntimeMetrics::subscriber`]); the hot path is then a couple of relaxed atomic adds.
//!
//! Gauges that describe the present (lag, parked events, component states) are not kept here:
//! [`crate::admin::RuntimeService::metric_families`] computes them at each scrape.

use std::sync::Arc;
use std::time::Duration;

use angzarr_telemetry::TraceIndex;
use angzarr_telemetry::metrics::{
    Counter, Family, Histogram, LATENCY_BUCKETS, MetricFamily, SIZE_BUCKETS,
};

use crate::error::Error;

/// The runtime's telemetry handles. Cheap to clone; `Default` is a fresh, unshared set (for
/// tests and tools that do not scrape).
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    /// Counters and histograms.
    pub metrics: Arc<RuntimeMetrics>,
    /// Which span stored which positions.
    pub traces: TraceIndex,
}

/// How a command ended, as counted in `angzarr_commands_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Events stored (or an idempotent retry answered).
    Ok,
    /// The business logic refused it.
    Rejected,
    /// A stale expected sequence, or conflicts beyond the retries.
    Conflict,
    /// The business logic could not be reached.
    Unavailable,
    /// Malformed, unknown domain, or a reused idempotency key: refused before anything ran.
    Invalid,
    /// A storage failure or an invalid answer from the business logic.
    Error,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Rejected,
        Outcome::Conflict,
        Outcome::Unavailable,
        Outcome::Invalid,
        Outcome::Error,
    ];

    /// The outcome of a command's result.
    pub fn of<T>(result: &Result<T, Error>) -> Self {
        match result {
            Ok(_) => Outcome::Ok,
            Err(Error::Rejected { .. }) => Outcome::Rejected,
            Err(Error::Conflict { .. }) => Outcome::Conflict,
            Err(Error::Unavailable { .. }) => Outcome::Unavailable,
            Err(
                Error::NotFound(_)
                | Error::InvalidArgument(_)
                | Error::AlreadyExists(_)
                | Error::Unimplemented(_),
            ) => Outcome::Invalid,
            Err(Error::LogicFault { .. } | Error::TooLarge { .. } | Error::Storage(_)) => {
                Outcome::Error
            }
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Conflict => "conflict",
            Outcome::Unavailable => "unavailable",
            Outcome::Invalid => "invalid",
            Outcome::Error => "error",
        }
    }
}

/// The runtime's counters and histograms.
#[derive(Debug)]
pub struct RuntimeMetrics {
    commands: Family<Counter>,
    command_seconds: Family<Histogram>,
    events_appended: Family<Counter>,
    deliveries: Family<Counter>,
    delivery_seconds: Family<Histogram>,
    events_parked: Family<Counter>,
    bus_dropped: Family<Counter>,
    bus_catch_ups: Family<Counter>,
    commit_batch: Family<Histogram>,
    commit_seconds: Family<Histogram>,
}

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn size() -> Histogram {
    Histogram::new(SIZE_BUCKETS)
}

impl Default for RuntimeMetrics {
    fn default() -> Self {
        Self {
            commands: Family::counter(
                "angzarr_commands_total",
                "Commands handled, by domain and outcome (ok, rejected, conflict, unavailable, invalid, error).",
                &["domain", "outcome"],
            ),
            command_seconds: Family::new(
                "angzarr_command_duration_seconds",
                "Time from receiving a command to its answer (lock, load, business logic, append, publish).",
                &["domain"],
                latency,
            ),
            events_appended: Family::counter(
                "angzarr_events_appended_total",
                "Events stored by commands (and recorded event books), by domain.",
                &["domain"],
            ),
            deliveries: Family::counter(
                "angzarr_deliveries_total",
                "Deliveries to subscribers, by subscriber and outcome (ok, failed: retried or parked).",
                &["subscriber", "outcome"],
            ),
            delivery_seconds: Family::new(
                "angzarr_delivery_duration_seconds",
                "Time a subscriber took to handle one delivery (including the commands it emitted).",
                &["subscriber"],
                latency,
            ),
            events_parked: Family::counter(
                "angzarr_events_parked_total",
                "Events a subscriber gave up on after repeated failures.",
                &["subscriber"],
            ),
            bus_dropped: Family::counter(
                "angzarr_bus_dropped_batches_total",
                "Bus messages a subscriber missed because it fell behind (it catches up from the store).",
                &["subscriber"],
            ),
            bus_catch_ups: Family::counter(
                "angzarr_bus_catch_ups_total",
                "Times a subscriber was told it lagged on the bus and caught up from the store.",
                &["subscriber"],
            ),
            commit_batch: Family::new(
                "angzarr_store_commit_batch_size",
                "Write requests (appends, checkpoints, ...) grouped into one store transaction.",
                &[],
                size,
            ),
            commit_seconds: Family::new(
                "angzarr_store_commit_duration_seconds",
                "Time to apply and commit one group of writes (including the fsync with durability full).",
                &[],
                latency,
            ),
        }
    }
}

impl RuntimeMetrics {
    /// The handles of one aggregate domain.
    pub fn command(&self, domain: &str) -> CommandMetrics {
        CommandMetrics {
            outcomes: Outcome::ALL.map(|o| self.commands.get(&[domain, o.as_str()])),
            seconds: self.command_seconds.get(&[domain]),
            appended: self.events_appended.get(&[domain]),
        }
    }

    /// The events-appended counter of `domain` (process managers' own state events).
    pub fn appended(&self, domain: &str) -> Counter {
        self.events_appended.get(&[domain])
    }

    /// The handles of one subscriber.
    pub fn subscriber(&self, name: &str) -> SubscriberMetrics {
        SubscriberMetrics {
            ok: self.deliveries.get(&[name, "ok"]),
            failed: self.deliveries.get(&[name, "failed"]),
            seconds: self.delivery_seconds.get(&[name]),
            parked: self.events_parked.get(&[name]),
            dropped: self.bus_dropped.get(&[name]),
            catch_ups: self.bus_catch_ups.get(&[name]),
        }
    }

    /// The handles of the store's writer.
    pub fn store(&self) -> StoreMetrics {
        StoreMetrics {
            commit_batch: self.commit_batch.get(&[]),
            commit_seconds: self.commit_seconds.get(&[]),
        }
    }

    /// Every counter and histogram, for a scrape.
    pub fn collect(&self) -> Vec<MetricFamily> {
        vec![
            self.commands.collect(),
            self.command_seconds.collect(),
            self.events_appended.collect(),
            self.deliveries.collect(),
            self.delivery_seconds.collect(),
            self.events_parked.collect(),
            self.bus_dropped.collect(),
            self.bus_catch_ups.collect(),
            self.commit_batch.collect(),
            self.commit_seconds.collect(),
        ]
    }
}

/// What an aggregate coordinator counts.
#[derive(Debug, Clone)]
pub struct CommandMetrics {
    outcomes: [Counter; 6],
    seconds: Histogram,
    appended: Counter,
}

impl CommandMetrics {
    /// Counts one command.
    pub fn finished(&self, outcome: Outcome, elapsed: Duration) {
        let index = Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or_default();
        self.outcomes[index].inc();
        self.seconds.observe_duration(elapsed);
    }

    /// Counts stored events.
    pub fn appended(&self, events: usize) {
        self.appended.add(events as u64);
    }
}

/// What a delivery worker counts.
#[derive(Debug, Clone)]
pub struct SubscriberMetrics {
    /// Successful deliveries.
    pub ok: Counter,
    /// Failed attempts.
    pub failed: Counter,
    /// Delivery time.
    pub seconds: Histogram,
    /// Parked events.
    pub parked: Counter,
    /// Bus messages missed.
    pub dropped: Counter,
    /// Lag notices.
    pub catch_ups: Counter,
}

/// What a store's writer counts (adapters report into it).
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Requests per transaction.
    pub commit_batch: Histogram,
    /// Time per transaction.
    pub commit_seconds: Histogram,
}
