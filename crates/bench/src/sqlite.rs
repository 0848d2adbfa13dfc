//! The storage scenarios: the durable-commit baseline (rusqlite directly), the same rows
//! through the runtime's [`SqliteEventStore`], and history loads.
//!
//! The raw baseline writes into a file whose schema the store itself created, with the
//! store's settings (WAL, `synchronous = FULL`, `BEGIN IMMEDIATE`), so the two differ only in
//! what the store adds: the sequence check, savepoints, the writer thread and the async hop.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_runtime::storage::{AppendRequest, EventStore, HistoryKey, LoadOptions};
use angzarr_storage_sqlite::{Durability, SqliteEventStore, SqliteOptions};
use prost::Message;
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fixtures::{EventFactory, build_history};
use crate::load::{self, Outcome, Recorder};
use crate::options::{Group, Plan, Stop};
use crate::report::Scenario;

/// Aggregates the storage scenarios spread their appends over.
const AGGREGATES: usize = 1_000;
/// Concurrent single-event appenders of the group-commit scenario.
const GROUP_COMMIT_TASKS: usize = 32;

/// Opens the runtime's store at `path` (creating the schema) with the durability of the
/// benchmark: `Full`, as `angzarr-standalone` defaults to.
pub fn open_store(path: &Path, durability: Durability) -> Result<SqliteEventStore> {
    SqliteEventStore::open(SqliteOptions::new(path).with_durability(durability))
        .map_err(|err| Error::setup(&format!("cannot open {}", path.display()), err))
}

/// Raw rusqlite appends: one transaction per event, then `plan.batch` events per transaction.
pub fn raw_baseline(plan: &Plan) -> Result<Vec<Scenario>> {
    let dir = crate::e2e::temp_dir()?;
    let path = dir.path().join("raw.db");
    // The store creates the schema (and its marks) and is closed again at once.
    drop(open_store(&path, Durability::Full)?);
    let mut conn = raw_connection(&path).map_err(|err| Error::setup("raw SQLite", err))?;
    let mut factory = EventFactory::new(0, AGGREGATES, plan.payload_bytes);
    let mut scenarios = Vec::new();
    for (id, batch) in [("sqlite-1", 1), ("sqlite-batch", plan.batch)] {
        let outcome = timed(plan, || {
            insert(&mut conn, &factory.next_request(batch)).map(|()| batch as u64)
        })
        .map_err(|err| Error::setup("raw SQLite insert", err))?;
        scenarios.push(Scenario::from_outcome(
            Group::Sqlite,
            id.into(),
            format!("raw rusqlite, {batch} event(s)/tx"),
            1,
            Some(AGGREGATES),
            &outcome,
        ));
    }
    Ok(scenarios)
}

fn raw_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    debug_assert!(mode.eq_ignore_ascii_case("wal"));
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// One transaction with the request's events, as the store's writer would insert them.
fn insert(conn: &mut Connection, request: &AppendRequest) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO events (domain, edition, root, sequence, created_at, correlation_id, \
             type_url, payload, causation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let key = &request.key;
        let created_at = now_micros();
        for (sequence, event) in (request.expected_next..).zip(&request.events) {
            let causation = event.causation.as_ref().map(Message::encode_to_vec);
            stmt.execute(params![
                key.domain,
                key.edition,
                key.root.as_bytes(),
                sequence,
                created_at,
                request.correlation_id,
                event.event.type_url,
                event.event.value,
                causation,
            ])?;
        }
    }
    tx.commit()
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
        })
}

/// A synchronous warm-up and measured phase; `step` returns how many events it wrote.
fn timed<E>(
    plan: &Plan,
    mut step: impl FnMut() -> std::result::Result<u64, E>,
) -> std::result::Result<Outcome, E> {
    let warm_until = Instant::now() + plan.warmup;
    while Instant::now() < warm_until {
        step()?;
    }
    let start = Instant::now();
    let mut events = 0;
    let mut latency = Recorder::default();
    loop {
        let done = match plan.stop {
            Stop::After(duration) => start.elapsed() >= duration,
            Stop::Count(count) => events >= count,
        };
        if done {
            break;
        }
        let began = Instant::now();
        events += step()?;
        latency.record(began.elapsed());
    }
    Ok(Outcome {
        completed: events,
        errors: 0,
        first_error: None,
        elapsed: start.elapsed(),
        latency,
        cpu: Vec::new(),
        memory: None,
    })
}

/// The same rows through [`SqliteEventStore::append`]: `plan.batch` events per append from
/// one caller, then single-event appends from concurrent callers (group commit).
pub async fn store_appends(plan: &Plan) -> Result<Vec<Scenario>> {
    let dir = crate::e2e::temp_dir()?;
    let store = Arc::new(open_store(&dir.path().join("store.db"), Durability::Full)?);
    let batched = append_phase(plan, &store, 1, plan.batch, 0).await?;
    let group = append_phase(plan, &store, GROUP_COMMIT_TASKS, 1, AGGREGATES).await?;
    store.close().await;
    Ok(vec![
        Scenario::from_outcome(
            Group::Store,
            "store-batch".into(),
            format!("SqliteEventStore, {} events/append", plan.batch),
            1,
            Some(AGGREGATES),
            &batched,
        ),
        Scenario::from_outcome(
            Group::Store,
            "store-group".into(),
            "SqliteEventStore, 1 event/append (group commit)".into(),
            GROUP_COMMIT_TASKS,
            Some(AGGREGATES),
            &group,
        ),
    ])
}

async fn append_phase(
    plan: &Plan,
    store: &Arc<SqliteEventStore>,
    callers: usize,
    batch: usize,
    first_aggregate: usize,
) -> Result<Outcome> {
    let share = AGGREGATES / callers;
    let appenders = (0..callers)
        .map(|caller| {
            // Each caller owns its aggregates, so appends never conflict.
            let mut factory =
                EventFactory::new(first_aggregate + caller * share, share, plan.payload_bytes);
            let store = store.clone();
            move || {
                let request = factory.next_request(batch);
                let store = store.clone();
                async move {
                    store
                        .append(request)
                        .await
                        .map(drop)
                        .map_err(|err| err.to_string())
                }
            }
        })
        .collect();
    let stop = match plan.stop {
        Stop::Count(events) => Stop::Count(events.div_ceil(batch as u64)),
        after => after,
    };
    let mut outcome = load::drive(appenders, plan.warmup, stop, &[]).await?;
    outcome.completed *= batch as u64;
    if let Some(err) = &outcome.first_error {
        return Err(Error::Setup(format!("event store append failed: {err}")));
    }
    Ok(outcome)
}

/// One history load measurement.
#[derive(Debug, Clone, Serialize)]
pub struct LoadMeasure {
    /// Identifier (`load-<events>-<snapshot|full>`).
    pub id: String,
    /// Events in the history.
    pub history_events: u32,
    /// Whether the load started from the snapshot.
    pub snapshot: bool,
    /// Events each load returned.
    pub events_loaded: usize,
    /// Loads timed.
    pub iterations: usize,
    /// Median load time, milliseconds.
    pub median_ms: f64,
    /// Fastest load, milliseconds.
    pub best_ms: f64,
    /// History events covered per second at the median (`history_events / median`).
    pub events_per_s: f64,
}

/// Loads of a `plan.history`-event aggregate without and with its snapshot, and of a
/// 10-event aggregate with its snapshot (the "independent of history length" reference).
pub async fn history_loads(plan: &Plan) -> Result<Vec<LoadMeasure>> {
    let dir = crate::e2e::temp_dir()?;
    // Durability does not change reads; `Normal` only makes building the history faster.
    let store = open_store(&dir.path().join("load.db"), Durability::Normal)?;
    let long = build_history(&store, 0, plan.history, 1_000).await?;
    let short = build_history(&store, 1, 10, 10).await?;
    let budget = match plan.stop {
        Stop::After(duration) => duration.min(Duration::from_secs(2)),
        Stop::Count(_) => Duration::from_millis(200),
    };
    let mut measures = Vec::new();
    for (key, events, use_snapshot) in [
        (&long, plan.history, false),
        (&long, plan.history, true),
        (&short, 10, true),
    ] {
        measures.push(time_loads(&store, key, events, use_snapshot, budget).await?);
    }
    store.close().await;
    Ok(measures)
}

async fn time_loads(
    store: &SqliteEventStore,
    key: &HistoryKey,
    history_events: u32,
    use_snapshot: bool,
    budget: Duration,
) -> Result<LoadMeasure> {
    let options = LoadOptions { use_snapshot };
    let load = || async {
        store
            .load(key, options)
            .await
            .map_err(|err| Error::setup("load failed", err))
    };
    // One untimed load warms the page cache and the reader connection.
    let events_loaded = load().await?.events.len();
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (started.elapsed() < budget && times.len() < 10_000) {
        let began = Instant::now();
        load().await?;
        times.push(began.elapsed());
    }
    times.sort_unstable();
    let median = times[times.len() / 2];
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    Ok(LoadMeasure {
        id: format!(
            "load-{history_events}-{}",
            if use_snapshot { "snapshot" } else { "full" }
        ),
        history_events,
        snapshot: use_snapshot,
        events_loaded,
        iterations: times.len(),
        median_ms: ms(median),
        best_ms: ms(times[0]),
        events_per_s: load::per_second(u64::from(history_events), median),
    })
}
