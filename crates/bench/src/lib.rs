//! Angzarr's benchmark harness: the runtime end to end, measured against the physical limits
//! underneath it (a durable SQLite commit, one gRPC hop) in the same run, so the report can
//! state ratios that do not drift with the machine.
//!
//! The `angzarr-bench` binary is a thin shell over [`run`]; the smoke test drives [`run`]
//! directly with a tiny plan. What each scenario measures, and why, is in
//! `docs/benchmarks.md`; the modules hold one baseline each:
//!
//! - [`sqlite`]: rows appended with rusqlite directly, then through the runtime's
//!   [`SqliteEventStore`](angzarr_storage_sqlite::SqliteEventStore), and history loads;
//! - [`echo`]: a bare tonic echo in its own process over a Unix socket;
//! - [`e2e`]: a real `angzarr-standalone` process with the synthetic aggregate, driven over
//!   its coordinator socket, with its CPU time and memory read from `/proc`.
//!
//! Load is closed-loop: each client sends its next request when the previous one answered
//! ([`load`]).

#![warn(missing_docs)]

pub mod e2e;
pub mod echo;
mod error;
pub mod fixtures;
pub mod lag;
pub mod load;
mod options;
mod processes;
pub mod procstat;
pub mod report;
pub mod sqlite;

pub use error::{Error, Result};
pub use options::{Group, Options, Plan};
pub use report::Report;

use std::time::Instant;

/// Runs every scenario the plan selects and returns the report (with the ratios of the
/// targets whose inputs were measured). Progress goes to stderr when `plan.progress` is set.
pub async fn run(plan: &Plan) -> Result<Report> {
    let started = Instant::now();
    let mut report = Report::new(plan);
    if plan.runs(Group::Sqlite) {
        plan.say("raw SQLite baseline");
        report.scenarios.extend(sqlite::raw_baseline(plan)?);
    }
    if plan.runs(Group::Store) {
        plan.say("event store appends");
        report.scenarios.extend(sqlite::store_appends(plan).await?);
    }
    if plan.runs(Group::Load) {
        plan.say("history loads");
        report.loads = sqlite::history_loads(plan).await?;
    }
    if plan.runs(Group::Echo) {
        plan.say("bare tonic echo");
        report.scenarios.extend(echo::run(plan).await?);
    }
    if plan.runs(Group::E2e) {
        plan.say("angzarr-standalone end to end");
        let (runtime, scenarios) = e2e::run(plan).await?;
        report.runtime = Some(runtime);
        report.scenarios.extend(scenarios);
    }
    if plan.runs(Group::Lag) {
        plan.say("projector lag under steady load");
        report.scenarios.extend(lag::run(plan).await?);
    }
    report.total_seconds = started.elapsed().as_secs_f64();
    report.compute_ratios();
    Ok(report)
}
