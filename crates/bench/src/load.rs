//! The closed-loop load generator: N clients, each sending its next request as soon as the
//! previous one answered, through a warm-up and then a measured phase.
//!
//! Only requests that *start* inside the measured phase count, and the phase ends when the
//! last of them has answered, so throughput is `completed / (last answer - phase start)`
//! and no request is cut in half. The CPU time of the watched processes is sampled at the
//! phase's start and end.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::options::Stop;
use crate::procstat;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

/// A latency histogram in nanoseconds (1 ns .. 1 h, 3 significant digits).
#[derive(Debug, Clone)]
pub struct Recorder(Histogram<u64>);

impl Default for Recorder {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("constant, valid bounds"))
    }
}

impl Recorder {
    /// Records one duration.
    pub fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.0.saturating_record(nanos.max(1));
    }

    /// Adds another recorder's samples.
    pub fn merge(&mut self, other: &Recorder) {
        // Both have the same bounds; saturate rather than fail if they ever differ.
        if self.0.add(&other.0).is_err() {
            for value in other.0.iter_recorded() {
                self.0
                    .saturating_record_n(value.value_iterated_to(), value.count_at_value());
            }
        }
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The percentiles.
    pub fn latency(&self) -> Latency {
        let us = |nanos: u64| nanos as f64 / 1_000.0;
        if self.0.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: us(self.0.value_at_quantile(0.50)),
            p90_us: us(self.0.value_at_quantile(0.90)),
            p99_us: us(self.0.value_at_quantile(0.99)),
            max_us: us(self.0.max()),
            mean_us: self.0.mean() / 1_000.0,
        }
    }
}

/// One measured phase of a load run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Requests started in the phase and answered successfully.
    pub completed: u64,
    /// Requests started in the phase that failed.
    pub errors: u64,
    /// The first failure, verbatim.
    pub first_error: Option<String>,
    /// From the phase's start to the last answer.
    pub elapsed: Duration,
    /// Latencies of the successful requests.
    pub latency: Recorder,
    /// CPU time each watched process used during the phase (same order as given).
    pub cpu: Vec<Duration>,
    /// Memory of the server under load (set by callers that watch one).
    pub memory: Option<procstat::Memory>,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        per_second(self.completed, self.elapsed)
    }
}

/// `count` per `elapsed`, 0 for an empty interval.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

struct ClientTally {
    completed: u64,
    errors: u64,
    first_error: Option<String>,
    last_answer: Instant,
    latency: Recorder,
}

/// Runs `clients` (each a function returning the next request's future) through `warmup`
/// and then the measured phase, watching the CPU time of `watched` process ids.
pub async fn drive<F, Fut>(
    clients: Vec<F>,
    warmup: Duration,
    stop: Stop,
    watched: &[u32],
) -> Result<Outcome>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<(), String>> + Send + 'static,
{
    let phase_start = Instant::now() + warmup;
    let deadline = match stop {
        Stop::After(duration) => Some(phase_start + duration),
        Stop::Count(_) => None,
    };
    let budget = Arc::new(AtomicU64::new(match stop {
        Stop::Count(count) => count,
        Stop::After(_) => u64::MAX,
    }));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(run_client(client, phase_start, deadline, budget.clone())))
        .collect();
    tokio::time::sleep_until(phase_start.into()).await;
    let cpu_before = cpu_times(watched)?;
    let mut outcome = Outcome {
        completed: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latency: Recorder::default(),
        cpu: Vec::new(),
        memory: None,
    };
    let mut last_answer = phase_start;
    for task in tasks {
        let tally = task
            .await
            .map_err(|err| Error::setup("a load client panicked", err))?;
        outcome.completed += tally.completed;
        outcome.errors += tally.errors;
        outcome.first_error = outcome.first_error.or(tally.first_error);
        outcome.latency.merge(&tally.latency);
        last_answer = last_answer.max(tally.last_answer);
    }
    let cpu_after = cpu_times(watched)?;
    outcome.elapsed = last_answer.saturating_duration_since(phase_start);
    outcome.cpu = cpu_before
        .iter()
        .zip(&cpu_after)
        .map(|(before, after)| after.saturating_sub(*before))
        .collect();
    Ok(outcome)
}

fn cpu_times(pids: &[u32]) -> Result<Vec<Duration>> {
    pids.iter()
        .map(|&pid| {
            procstat::cpu_time(pid).map_err(Error::io(format!("cannot read /proc/{pid}/stat")))
        })
        .collect()
}

async fn run_client<F, Fut>(
    mut next: F,
    phase_start: Instant,
    deadline: Option<Instant>,
    budget: Arc<AtomicU64>,
) -> ClientTally
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<(), String>>,
{
    let mut tally = ClientTally {
        completed: 0,
        errors: 0,
        first_error: None,
        last_answer: phase_start,
        latency: Recorder::default(),
    };
    loop {
        let start = Instant::now();
        let measured = start >= phase_start;
        if measured {
            if deadline.is_some_and(|deadline| start >= deadline) {
                break;
            }
            let claimed = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            });
            if claimed.is_err() {
                break;
            }
        }
        let result = next().await;
        let end = Instant::now();
        if !measured {
            continue;
        }
        tally.last_answer = end;
        match result {
            Ok(()) => {
                tally.completed += 1;
                tally.latency.record(end - start);
            }
            Err(err) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(err);
            }
        }
    }
    tally
}
