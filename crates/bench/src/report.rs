//! The report: every scenario's numbers, the machine, and the ratios the targets of issue 7
//! are stated in. Rendered as a human table or as JSON (`--json`).

use std::fmt::Write as _;

use serde::Serialize;

use crate::e2e::RuntimeInfo;
use crate::load::{Latency, Outcome};
use crate::options::{Group, Plan, Stop};
use crate::sqlite::LoadMeasure;

/// The machine the run was taken on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    fn this() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            kernel,
        }
    }
}

/// The settings of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Client counts.
    pub clients: Vec<usize>,
    /// Aggregates of the "many" scenarios.
    pub aggregates: usize,
    /// Warm-up per phase, seconds.
    pub warmup_s: f64,
    /// Measured seconds per phase (when time-bound).
    pub duration_s: Option<f64>,
    /// Requests per phase (when count-bound).
    pub requests: Option<u64>,
    /// Payload bytes per command / event.
    pub payload_bytes: usize,
    /// Events per batched transaction / append.
    pub batch: usize,
    /// Events of the long history.
    pub history: u32,
    /// Whether the binaries were a release build.
    pub release: bool,
    /// Where the binaries were found.
    pub bin_dir: String,
}

/// One measured scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Stable identifier, e.g. `e2e-many-32`.
    pub id: String,
    /// Its group.
    pub group: Group,
    /// Human description.
    pub name: String,
    /// Concurrent clients (or appenders).
    pub clients: usize,
    /// Aggregates the work was spread over.
    pub aggregates: Option<usize>,
    /// What `rate_per_s` counts: `events` (storage) or `requests` (gRPC).
    pub unit: &'static str,
    /// Units completed in the measured phase.
    pub completed: u64,
    /// Failed requests.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Length of the measured phase.
    pub seconds: f64,
    /// Units per second.
    pub rate_per_s: f64,
    /// Latency per request (gRPC) or per transaction / append call (storage).
    pub latency: Latency,
    /// CPU µs per request of the server process (runtime or echo server).
    pub server_cpu_us_per_op: Option<f64>,
    /// CPU µs per request of the server's children (the business logic).
    pub logic_cpu_us_per_op: Option<f64>,
    /// Peak resident memory of the server during the phase, MiB.
    pub peak_rss_mib: Option<f64>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Scenario {
    /// A scenario row from a measured phase.
    pub fn from_outcome(
        group: Group,
        id: String,
        name: String,
        clients: usize,
        aggregates: Option<usize>,
        outcome: &Outcome,
    ) -> Self {
        let per_op = |cpu: std::time::Duration| {
            (outcome.completed > 0).then(|| cpu.as_secs_f64() * 1e6 / outcome.completed as f64)
        };
        Self {
            id,
            group,
            name,
            clients,
            aggregates,
            unit: match group {
                Group::Sqlite | Group::Store | Group::Load => "events",
                Group::Echo | Group::E2e | Group::Lag => "requests",
            },
            completed: outcome.completed,
            errors: outcome.errors,
            first_error: outcome.first_error.clone(),
            seconds: outcome.elapsed.as_secs_f64(),
            rate_per_s: outcome.rate(),
            latency: outcome.latency.latency(),
            server_cpu_us_per_op: outcome.cpu.first().and_then(|cpu| per_op(*cpu)),
            logic_cpu_us_per_op: (outcome.cpu.len() > 1)
                .then(|| per_op(outcome.cpu[1..].iter().sum()))
                .flatten(),
            peak_rss_mib: outcome.memory.map(|m| mib(m.peak_kib)),
        }
    }
}

/// Whether a target is a floor or a ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The value must be at least the target.
    AtLeast,
    /// The value must be at most the target.
    AtMost,
}

/// A ratio (or absolute figure) of the report, with its target when issue 7 sets one.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// Stable identifier.
    pub id: &'static str,
    /// What is divided by what.
    pub description: &'static str,
    /// The value.
    pub value: f64,
    /// The target and its direction, when there is one.
    pub target: Option<(Bound, f64)>,
    /// Whether the target is met (`None`: no target, informative only).
    pub met: Option<bool>,
    /// How far from the target, as a percentage of it (positive: better than the target).
    pub margin_percent: Option<f64>,
}

impl Ratio {
    fn new(
        id: &'static str,
        description: &'static str,
        value: f64,
        target: Option<(Bound, f64)>,
    ) -> Self {
        let (met, margin_percent) = match target {
            Some((Bound::AtLeast, t)) => (Some(value >= t), Some((value - t) / t * 100.0)),
            Some((Bound::AtMost, t)) => (Some(value <= t), Some((t - value) / t * 100.0)),
            None => (None, None),
        };
        Self {
            id,
            description,
            value,
            target,
            met,
            margin_percent,
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub settings: Settings,
    /// Throughput scenarios, in run order.
    pub scenarios: Vec<Scenario>,
    /// History loads.
    pub loads: Vec<LoadMeasure>,
    /// The runtime process (when e2e ran).
    pub runtime: Option<RuntimeInfo>,
    /// Ratios and targets.
    pub ratios: Vec<Ratio>,
    /// Wall time of the whole run.
    pub total_seconds: f64,
}

impl Report {
    /// An empty report for `plan`.
    pub fn new(plan: &Plan) -> Self {
        let (duration_s, requests) = match plan.stop {
            Stop::After(duration) => (Some(duration.as_secs_f64()), None),
            Stop::Count(count) => (None, Some(count)),
        };
        Self {
            machine: Machine::this(),
            settings: Settings {
                clients: plan.clients.clone(),
                aggregates: plan.aggregates,
                warmup_s: plan.warmup.as_secs_f64(),
                duration_s,
                requests,
                payload_bytes: plan.payload_bytes,
                batch: plan.batch,
                history: plan.history,
                release: plan.release,
                bin_dir: plan.bin_dir.display().to_string(),
            },
            scenarios: Vec::new(),
            loads: Vec::new(),
            runtime: None,
            ratios: Vec::new(),
            total_seconds: 0.0,
        }
    }

    /// The scenario with this id.
    pub fn scenario(&self, id: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.id == id)
    }

    fn rate(&self, id: &str) -> Option<f64> {
        self.scenario(id).map(|s| s.rate_per_s).filter(|r| *r > 0.0)
    }

    fn p99(&self, id: &str) -> Option<f64> {
        self.scenario(id)
            .map(|s| s.latency.p99_us)
            .filter(|p| *p > 0.0)
    }

    fn load(&self, id: &str) -> Option<&LoadMeasure> {
        self.loads.iter().find(|l| l.id == id)
    }

    /// Computes the ratios whose inputs were measured.
    pub fn compute_ratios(&mut self) {
        use Bound::{AtLeast, AtMost};
        let mut ratios = Vec::new();
        let mut add = |id, description, value: Option<f64>, target| {
            if let Some(value) = value {
                ratios.push(Ratio::new(id, description, value, target));
            }
        };
        let divide = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        add(
            "e2e32_vs_half_echo32",
            "e2e rate @32 clients (many aggregates) / half the echo rate @32",
            divide(
                self.rate("e2e-many-32"),
                self.rate("echo-32").map(|r| r / 2.0),
            ),
            Some((AtLeast, 0.6)),
        );
        add(
            "e2e32_vs_e2e1",
            "e2e rate @32 clients / @1 client (many aggregates; group commit)",
            divide(self.rate("e2e-many-32"), self.rate("e2e-many-1")),
            Some((AtLeast, 5.0)),
        );
        add(
            "store_batch_vs_raw_batch",
            "SqliteEventStore batched appends / raw rusqlite batched inserts (events/s)",
            divide(self.rate("store-batch"), self.rate("sqlite-batch")),
            Some((AtLeast, 0.8)),
        );
        add(
            "p99_1_vs_two_hops_and_commit",
            "e2e p99 @1 client / (2 x echo p99 @1 + raw 1-event commit p99)",
            divide(
                self.p99("e2e-many-1"),
                self.p99("echo-1")
                    .zip(self.p99("sqlite-1"))
                    .map(|(echo, commit)| 2.0 * echo + commit),
            ),
            Some((AtMost, 2.0)),
        );
        let history = self.settings.history;
        add(
            "load_full_mevents_per_s",
            "load without snapshot of the long history, million events/s",
            self.load(&format!("load-{history}-full"))
                .map(|l| l.events_per_s / 1e6),
            Some((AtLeast, 1.0)),
        );
        add(
            "load_snapshot_long_vs_short",
            "load with snapshot: long history / 10-event history (median time)",
            divide(
                self.load(&format!("load-{history}-snapshot"))
                    .map(|l| l.median_ms),
                self.load("load-10-snapshot").map(|l| l.median_ms),
            ),
            Some((AtMost, 1.5)),
        );
        add(
            "idle_rss_mib",
            "runtime resident memory when idle, MiB",
            self.runtime.as_ref().map(|r| mib(r.idle.rss_kib)),
            Some((AtMost, 30.0)),
        );
        let peak_128 = ["e2e-many-128", "e2e-one-128"]
            .iter()
            .filter_map(|id| self.scenario(id).and_then(|s| s.peak_rss_mib))
            .reduce(f64::max);
        add(
            "peak_rss_128_mib",
            "runtime peak resident memory at 128 clients, MiB",
            peak_128,
            Some((AtMost, 150.0)),
        );
        add(
            "e2e_one_vs_many_32",
            "e2e rate @32 clients: one aggregate / many aggregates",
            divide(self.rate("e2e-one-32"), self.rate("e2e-many-32")),
            None,
        );
        add(
            "e2e1_vs_raw_commit",
            "e2e rate @1 client / raw 1-event transactions per second",
            divide(self.rate("e2e-many-1"), self.rate("sqlite-1")),
            None,
        );
        add(
            "store_group_vs_raw_batch",
            "SqliteEventStore group commit (32 x 1-event appends) / raw batched inserts",
            divide(self.rate("store-group"), self.rate("sqlite-batch")),
            None,
        );
        self.ratios = ratios;
    }

    /// Whether any scenario had failed requests.
    pub fn errors(&self) -> u64 {
        self.scenarios.iter().map(|s| s.errors).sum()
    }

    /// The human-readable report.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let phase = match (s.duration_s, s.requests) {
            (Some(d), _) => format!("{d} s phases"),
            (None, Some(n)) => format!("{n}-request phases"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "angzarr-bench on {} cores ({}), Linux {}; {} binaries; {phase} after {} s warm-up; \
             {}-byte payloads",
            m.cores,
            m.cpu_model,
            m.kernel,
            if s.release { "release" } else { "NON-RELEASE" },
            s.warmup_s,
            s.payload_bytes
        );
        if !s.release {
            let _ = writeln!(
                out,
                "warning: the binaries in {} are not a release build; these numbers mean nothing",
                s.bin_dir
            );
        }
        self.write_scenarios(&mut out);
        self.write_loads(&mut out);
        if let Some(runtime) = &self.runtime {
            let _ = writeln!(
                out,
                "\nruntime: ready {:.2} s after spawn; idle RSS {:.1} MiB (business logic {})",
                runtime.start_seconds,
                mib(runtime.idle.rss_kib),
                runtime
                    .logic_idle
                    .map_or_else(|| "-".into(), |m| format!("{:.1} MiB", mib(m.rss_kib)))
            );
        }
        self.write_ratios(&mut out);
        let _ = writeln!(out, "\ntotal {:.0} s", self.total_seconds);
        out
    }

    fn write_scenarios(&self, out: &mut String) {
        if self.scenarios.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n{:<48} {:>7} {:>6} {:>14} {:>9} {:>9} {:>9} {:>9} {:>16} {:>8} {:>6}",
            "scenario",
            "clients",
            "aggs",
            "rate",
            "p50",
            "p90",
            "p99",
            "max",
            "cpu/op srv+logic",
            "peak RSS",
            "errors"
        );
        for sc in &self.scenarios {
            let unit = if sc.unit == "events" { "ev/s" } else { "req/s" };
            let cpu = match (sc.server_cpu_us_per_op, sc.logic_cpu_us_per_op) {
                (Some(server), Some(logic)) => format!("{server:.0}+{logic:.0} µs"),
                (Some(server), None) => format!("{server:.0} µs"),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:<48} {:>7} {:>6} {:>14} {:>9} {:>9} {:>9} {:>9} {:>16} {:>8} {:>6}",
                sc.name,
                sc.clients,
                sc.aggregates.map_or_else(|| "-".into(), |a| a.to_string()),
                format!("{:.0} {unit}", sc.rate_per_s),
                duration(sc.latency.p50_us),
                duration(sc.latency.p90_us),
                duration(sc.latency.p99_us),
                duration(sc.latency.max_us),
                cpu,
                sc.peak_rss_mib
                    .map_or_else(|| "-".into(), |m| format!("{m:.1}M")),
                sc.errors
            );
        }
        if let Some(first) = self.scenarios.iter().find_map(|s| s.first_error.as_ref()) {
            let _ = writeln!(out, "first error: {first}");
        }
    }

    fn write_loads(&self, out: &mut String) {
        if self.loads.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n{:<36} {:>10} {:>10} {:>10} {:>16}",
            "load", "loaded", "median", "best", "history ev/s"
        );
        for l in &self.loads {
            let _ = writeln!(
                out,
                "{:<36} {:>10} {:>10} {:>10} {:>16.0}",
                format!(
                    "{} events, {}",
                    l.history_events,
                    if l.snapshot {
                        "from snapshot"
                    } else {
                        "no snapshot"
                    }
                ),
                l.events_loaded,
                duration(l.median_ms * 1_000.0),
                duration(l.best_ms * 1_000.0),
                l.events_per_s
            );
        }
    }

    fn write_ratios(&self, out: &mut String) {
        if self.ratios.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n{:<80} {:>9} {:>9}  result",
            "ratio", "value", "target"
        );
        for r in &self.ratios {
            let target = match r.target {
                Some((Bound::AtLeast, t)) => format!(">= {t}"),
                Some((Bound::AtMost, t)) => format!("<= {t}"),
                None => "-".into(),
            };
            let result = match (r.met, r.margin_percent) {
                (Some(true), Some(margin)) => format!("met ({margin:+.0}%)"),
                (Some(false), Some(margin)) => format!("MISSED ({margin:+.0}%)"),
                _ => "info".into(),
            };
            let _ = writeln!(
                out,
                "{:<80} {:>9.3} {:>9}  {result}",
                r.description, r.value, target
            );
        }
    }
}

/// A latency for humans: µs below 1 ms, else ms, else s.
fn duration(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0}µs")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1_000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}
