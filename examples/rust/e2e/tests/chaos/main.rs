//! The chaos run (docs/reliability.md, "Chaos"): the whole example shop under load while the
//! runtime and its business-logic processes are SIGKILLed at random moments, then checked
//! from the outside.
//!
//! Shoppers ([`load`]) buy through the gateway with idempotency keys and retry whatever was
//! not acknowledged. Meanwhile the run SIGKILLs, on a seeded schedule, either the runtime
//! (started again on the same files) or one business-logic process (the supervisor starts it
//! again). Afterwards ([`verify`]): every acknowledged command's events are stored exactly
//! once; sequences and global positions are gapless; every saga trigger led to its commands
//! exactly once and every purchase to exactly its effects (shipment, process managers,
//! reservations, points); stock and points add up; the read models equal a replay of the log
//! into empty ones; the store passes SQLite's integrity check; and no business-logic process
//! the run ever saw is still alive.
//!
//! `CHAOS_KILLS` (default 5), `CHAOS_SECONDS` (the load's duration, default 12),
//! `CHAOS_SHOPPERS` (default 3) and `CHAOS_SEED` (default: from the clock; printed, so a run
//! can be repeated) set it; `scripts/chaos` runs a long one.

mod load;
mod rng;
mod system;
mod verify;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::load::{Client, Record};
use crate::rng::Rng;
use crate::system::{System, processes_mentioning};

#[derive(Debug, Clone)]
struct Settings {
    kills: u32,
    seconds: f64,
    shoppers: usize,
    seed: u64,
}

impl Settings {
    fn from_env() -> Self {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self {
            kills: setting("CHAOS_KILLS", 5),
            seconds: setting("CHAOS_SECONDS", 12.0),
            shoppers: setting("CHAOS_SHOPPERS", 3),
            seed: setting("CHAOS_SEED", clock ^ u64::from(std::process::id())),
        }
    }
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Err(_) => default,
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a valid value")),
    }
}

/// What one kill hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Runtime,
    Component,
}

/// `kills` targets in a seeded order: about a third the runtime, the rest business-logic
/// processes, at least one of each when there are two kills or more.
fn plan(kills: u32, rng: &mut Rng) -> Vec<Target> {
    let runtime = match kills {
        0 => 0,
        1 => 1,
        _ => (f64::from(kills) * 0.3)
            .round()
            .clamp(1.0, f64::from(kills - 1)) as u32,
    };
    let mut plan: Vec<Target> = (0..kills)
        .map(|i| {
            if i < runtime {
                Target::Runtime
            } else {
                Target::Component
            }
        })
        .collect();
    for i in (1..plan.len()).rev() {
        plan.swap(i, rng.below(i as u64 + 1) as usize);
    }
    plan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_of_the_runtime_and_its_components_lose_and_duplicate_nothing() {
    let settings = Settings::from_env();
    eprintln!(
        "chaos: {settings:?} (set CHAOS_SEED={} to repeat the plan)",
        settings.seed
    );
    let started = Instant::now();
    let mut system = System::start().await;
    let record = Arc::new(Mutex::new(Record::default()));
    let client = Client::new(&system.sockets(), record.clone());
    let run = format!("{:x}", settings.seed);
    load::fixture(&client, &run, settings.shoppers)
        .await
        .expect("the products, stock and customers are created");

    let rng = Rng::new(settings.seed);
    let stop = Arc::new(AtomicBool::new(false));
    let shoppers: Vec<JoinHandle<Result<(), String>>> = (0..settings.shoppers)
        .map(|s| {
            let shopper = load::shopper(
                client.clone(),
                run.clone(),
                s,
                rng.fork(s as u64 + 1),
                stop.clone(),
            );
            tokio::spawn(shopper)
        })
        .collect();

    let mut schedule = rng.fork(0);
    let kills = plan(settings.kills, &mut schedule);
    let mean_pause = settings.seconds / f64::from(settings.kills + 1);
    for target in kills {
        // The chaos schedule: a random pause, then the kill.
        tokio::time::sleep(Duration::from_secs_f64(
            mean_pause * (0.2 + 1.6 * schedule.unit()),
        ))
        .await;
        if shoppers.iter().any(JoinHandle::is_finished) {
            break; // a shopper failed; its error is reported below
        }
        match target {
            Target::Runtime => system.kill_runtime(&mut schedule).await,
            Target::Component => {
                system
                    .kill_component(&mut schedule)
                    .await
                    .expect("a business-logic process is killed and restarted");
            }
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(mean_pause)).await;
    stop.store(true, Ordering::SeqCst);
    for shopper in shoppers {
        shopper
            .await
            .expect("a shopper panicked")
            .unwrap_or_else(|err| panic!("a shopper failed (CHAOS_SEED={}): {err}", settings.seed));
    }
    let load_time = started.elapsed();

    let head = system
        .settle()
        .await
        .expect("the system settles after the kills");
    let log = verify::read_log(&system.sockets(), head)
        .await
        .expect("the whole log");
    let record = std::mem::take(&mut *record.lock().expect("the record"));
    let (mut counts, mut failures) = verify::check_log(&log, head, &record);

    system.stop().await;
    let after_chaos = system.projections();
    system.forget_projections();
    system.restart().await;
    let replay_head = system.settle().await.expect("the replay settles");
    if replay_head != head {
        failures.push(format!(
            "replaying the projectors changed the head: {head} -> {replay_head}"
        ));
    }
    system.stop().await;
    let replayed = system.projections();
    failures.extend(verify::check_projections(
        &after_chaos,
        &replayed,
        &record,
        &mut counts,
    ));

    let integrity: String = rusqlite::Connection::open(system.store())
        .and_then(|conn| conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)))
        .expect("run SQLite's integrity check");
    if integrity != "ok" {
        failures.push(format!(
            "the event store fails SQLite's integrity check: {integrity}"
        ));
    }
    let alive = system.survivors();
    let mentioning = processes_mentioning(system.dir());
    if !alive.is_empty() || !mentioning.is_empty() {
        failures.push(format!(
            "orphans after the run: business-logic pids {alive:?} alive, processes still using \
             the run's directory {mentioning:?}"
        ));
    }

    let mut killed = system.component_kills.clone();
    killed.sort();
    println!(
        "chaos (CHAOS_SEED={seed}): {kills} kills in {load:.1}s of load ({runtime} of the \
         runtime, {start_up} of them while it started, {components} of business-logic \
         processes: {killed:?}); {purchases} purchases \
         ({completed} completed, {cancelled} cancelled); {acked} commands acknowledged \
         ({calls} calls, retries {retries:?}; by sync mode {by_sync_mode:?}, \
         {sync_projections} projections in synchronous answers) with {acked_events} events; {events} events in \
         {histories} histories checked; {triggers} saga triggers, {saga_commands} saga \
         commands; {rows} projection rows equal to a replay; {pids} business-logic pids seen, \
         all gone; {total:.1}s in all",
        seed = settings.seed,
        kills = system.runtime_kills as usize + system.component_kills.len(),
        load = load_time.as_secs_f64(),
        runtime = system.runtime_kills,
        start_up = system.start_up_kills,
        components = system.component_kills.len(),
        purchases = record.purchases.len(),
        completed = counts.completed,
        cancelled = counts.cancelled,
        acked = counts.acked_commands,
        calls = record.calls,
        retries = record.retries,
        by_sync_mode = record.by_sync_mode,
        sync_projections = record.sync_projections,
        acked_events = counts.acked_events,
        events = counts.events,
        histories = counts.histories,
        triggers = counts.saga_triggers,
        saga_commands = counts.saga_commands,
        rows = counts.projection_rows,
        pids = system.pids_seen.len(),
        total = started.elapsed().as_secs_f64(),
    );
    assert!(
        failures.is_empty(),
        "the chaos run (CHAOS_SEED={}) found {} problems:\n{}",
        settings.seed,
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_plan_kills_both_kinds() {
    let mut rng = Rng::new(1);
    assert_eq!(plan(0, &mut rng), vec![]);
    assert_eq!(plan(1, &mut rng), vec![Target::Runtime]);
    for kills in [2, 5, 50] {
        let plan = plan(kills, &mut rng);
        assert_eq!(plan.len(), kills as usize);
        assert!(
            plan.contains(&Target::Runtime) && plan.contains(&Target::Component),
            "{plan:?}"
        );
    }
}
