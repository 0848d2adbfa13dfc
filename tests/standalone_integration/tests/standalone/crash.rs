//! SIGKILL in the middle of SQLite writes, many times: below the whole-runtime SIGKILL test of
//! `binaries.rs`, this drives the store alone. `angzarr-append-loop` appends from four writers
//! through `SqliteEventStore` with `synchronous = FULL` and prints every acknowledged append;
//! the test kills it at a random moment (after a random number of acknowledgements, sometimes
//! before the first, while it opens the file), reopens the file and checks:
//! `PRAGMA integrity_check` is `ok`, every acknowledged append is present exactly once at the
//! position it was acknowledged with (and its idempotency record with it), each history's
//! sequences and the global positions are gapless. Then it starts the victim again on the same
//! file, which goes on from there.
//!
//! `ANGZARR_CRASH_KILLS` sets the number of kills (default 20, about a second or two);
//! `ANGZARR_CRASH_SEED` replays a run (the seed is printed, and named in every failure).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use angzarr_runtime::storage::{EventStore, HistoryKey};
use angzarr_standalone_integration::bin_path;
use angzarr_storage_sqlite::{SqliteEventStore, SqliteOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use uuid::Uuid;

const WRITERS: u32 = 4;

/// xorshift64*: enough randomness to pick kill moments, and replayable from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// Events by (writer, sequence): their positions.
type Events = BTreeMap<(u32, u32), u64>;

/// What the victims acknowledged.
#[derive(Default)]
struct Acked {
    /// Every acknowledged event.
    events: Events,
    /// Every acknowledged append: (writer, first sequence, count).
    appends: Vec<(u32, u32, u32)>,
    /// How many of `appends` had their idempotency record checked (each is checked after
    /// the kill that followed it, and all of them again at the end).
    records_checked: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_sqlite_writes_loses_no_acknowledged_append_and_keeps_the_file_sound() {
    let kills = env_number("ANGZARR_CRASH_KILLS").unwrap_or(20);
    let seed = env_number("ANGZARR_CRASH_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(1, |d| d.as_nanos() as u64) | 1
    });
    println!("crash test: {kills} kills, ANGZARR_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("events.db");
    let mut acked = Acked::default();
    let started = std::time::Instant::now();
    for kill in 0..kills {
        // One in eight dies while it opens the file (recovery, schema); the others after up
        // to 40 acknowledged appends, with the other writers' appends in flight.
        let after = if rng.below(8) == 0 {
            0
        } else {
            1 + rng.below(40)
        };
        let context = format!("kill {kill} after {after} acks (ANGZARR_CRASH_SEED={seed})");
        let run = run_and_kill(&path, after, &mut acked);
        tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .unwrap_or_else(|_| panic!("{context}: the victim did not reach its kill point"))
            .unwrap_or_else(|err| panic!("{context}: {err}"));
        verify(&path, &mut acked)
            .await
            .unwrap_or_else(|err| panic!("{context}: {err}"));
    }
    acked.records_checked = 0;
    verify(&path, &mut acked)
        .await
        .unwrap_or_else(|err| panic!("the final check (ANGZARR_CRASH_SEED={seed}): {err}"));
    println!(
        "crash test: {kills} kills survived, {} acknowledged events checked, in {:.1?}",
        acked.events.len(),
        started.elapsed()
    );
    assert!(
        kills == 0 || !acked.events.is_empty(),
        "the victim never acknowledged an append"
    );
}

/// Starts the victim, SIGKILLs it once it acknowledged `after` appends, and records every
/// acknowledgement it printed before it died.
async fn run_and_kill(path: &Path, after: u64, acked: &mut Acked) -> Result<(), String> {
    let mut child = Command::new(bin_path("angzarr-append-loop"))
        .arg(path)
        .arg(WRITERS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("cannot start angzarr-append-loop: {err}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout);
    let mut seen = 0;
    let mut killed = false;
    let mut line = String::new();
    loop {
        if seen >= after && !killed {
            child
                .start_kill()
                .map_err(|err| format!("cannot kill: {err}"))?;
            killed = true;
        }
        line.clear();
        let read = lines
            .read_line(&mut line)
            .await
            .map_err(|err| format!("cannot read the victim's output: {err}"))?;
        // The end of the output; a line cut short by the kill was not acknowledged.
        if read == 0 || !line.ends_with('\n') {
            break;
        }
        record(&line, acked)?;
        seen += 1;
    }
    let status = child.wait().await.map_err(|err| err.to_string())?;
    if !killed {
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = err.read_to_string(&mut stderr).await;
        }
        return Err(format!(
            "the victim ended by itself ({status}) after {seen} acks: {stderr}"
        ));
    }
    use std::os::unix::process::ExitStatusExt;
    if status.signal() != Some(nix::libc::SIGKILL) {
        return Err(format!("the victim was not killed by SIGKILL: {status}"));
    }
    Ok(())
}

/// Parses `ack <writer> <first sequence> <count> <first position>`.
fn record(line: &str, acked: &mut Acked) -> Result<(), String> {
    let numbers: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("unexpected output {line:?}"))?;
    let [writer, first, count, position] = numbers[..] else {
        return Err(format!("unexpected output {line:?}"));
    };
    let (writer, first, count) = (writer as u32, first as u32, count as u32);
    acked.appends.push((writer, first, count));
    for i in 0..count {
        let key = (writer, first + i);
        if let Some(before) = acked.events.insert(key, position + u64::from(i)) {
            return Err(format!("{key:?} was acknowledged twice ({before})"));
        }
    }
    Ok(())
}

/// Reopens the file and checks it (see the module docs).
async fn verify(path: &Path, acked: &mut Acked) -> Result<(), String> {
    if !path.exists() {
        return match acked.events.is_empty() {
            true => Ok(()),
            false => Err("the database file is gone".into()),
        };
    }
    let integrity: String = rusqlite::Connection::open(path)
        .and_then(|conn| conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)))
        .map_err(|err| format!("integrity_check failed: {err}"))?;
    if integrity != "ok" {
        return Err(format!("integrity_check: {integrity}"));
    }
    let store = SqliteEventStore::open(SqliteOptions::new(path))
        .map_err(|err| format!("cannot reopen: {err}"))?;
    let result = check_log(&store, acked).await;
    store.close().await;
    result
}

async fn check_log(store: &SqliteEventStore, acked: &mut Acked) -> Result<(), String> {
    let log = store
        .read_global(0, usize::MAX)
        .await
        .map_err(|err| err.to_string())?;
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    if positions != (1..=log.len() as u64).collect::<Vec<_>>() {
        return Err(format!("positions are not gapless: {positions:?}"));
    }
    let mut found = Events::new();
    for writer in 0..WRITERS {
        let key = HistoryKey::main("crash", Uuid::from_u128(u128::from(writer) + 1));
        let history = store
            .read_history(&key, 0, None)
            .await
            .map_err(|err| err.to_string())?;
        for (index, event) in history.iter().enumerate() {
            let label = format!("{writer}:{}", event.sequence);
            if event.sequence as usize != index || event.event.value != label.as_bytes() {
                return Err(format!("{key}: event {index} is {event:?}"));
            }
            found.insert((writer, event.sequence), event.position);
        }
    }
    if found.len() != log.len() {
        return Err(format!(
            "{} events in the histories, {} in the log",
            found.len(),
            log.len()
        ));
    }
    for (&(writer, sequence), &position) in &acked.events {
        match found.get(&(writer, sequence)) {
            Some(&stored) if stored == position => {}
            other => {
                return Err(format!(
                    "acknowledged event {writer}:{sequence} at position {position} is stored as {other:?}"
                ));
            }
        }
    }
    // Each acknowledged append's idempotency record is there and names its events.
    for &(writer, first, count) in &acked.appends[acked.records_checked..] {
        let key = format!("crash-{writer}-{first}");
        let record = store.idempotency(&key).await.map_err(|e| e.to_string())?;
        match record {
            Some(r) if (r.first_sequence, r.event_count) == (first, count) => {}
            other => return Err(format!("idempotency record {key} is {other:?}")),
        }
    }
    acked.records_checked = acked.appends.len();
    Ok(())
}
