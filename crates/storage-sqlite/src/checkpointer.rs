//! WAL checkpoints on their own thread and connection, off the commit path.
//!
//! Why: with SQLite's automatic checkpoints, the commit that crosses 1 000 WAL pages also copies
//! them into the database file and syncs it, on the writer thread, while every queued write
//! waits: the tail latency of a command. Here the writer turns automatic checkpoints off and
//! wakes this thread after its commits; the thread runs a `PASSIVE` checkpoint (which never
//! blocks the writer or readers) at most every [`INTERVAL`], so the WAL stays small without a
//! commit ever paying for it.
//!
//! A commit wakes the thread only when it is waiting for one (`armed`), not while it paces
//! between checkpoints: a futile wake-up per commit costs two context switches, dear on a
//! virtual machine at one commit per command.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{Context, Error};

/// The least time between two checkpoints.
const INTERVAL: Duration = Duration::from_millis(100);

/// The checkpoint thread: woken by [`Checkpointer::wake`], stopped when every waker is gone.
pub(crate) struct Checkpointer {
    thread: JoinHandle<()>,
}

/// Wakes the checkpoint thread; dropping the last one stops it.
#[derive(Clone)]
pub(crate) struct Wake {
    wake: SyncSender<()>,
    /// The thread waits for a commit (it is not pacing).
    armed: Arc<AtomicBool>,
}

impl Wake {
    /// Tells the thread that something was committed (never blocks; wake-ups coalesce).
    pub(crate) fn committed(&self) {
        if self.armed.swap(false, Ordering::AcqRel) {
            let _ = self.wake.try_send(());
        }
    }
}

impl Checkpointer {
    /// Starts the thread on a connection of its own to `path`.
    pub(crate) fn spawn(path: &Path, busy_timeout: Duration) -> Result<(Self, Wake), Error> {
        let conn = Connection::open(path)
            .context(|| format!("cannot open the event store {}", path.display()))?;
        conn.busy_timeout(busy_timeout)
            .context(|| "cannot set the busy timeout".into())?;
        let (wake, woken) = sync_channel(1);
        let armed = Arc::new(AtomicBool::new(true));
        let thread = {
            let armed = armed.clone();
            std::thread::Builder::new()
                .name("angzarr-sqlite-checkpoint".into())
                .spawn(move || run(&conn, &woken, &armed))
        }
        .map_err(|source| Error::Io {
            context: "cannot start the SQLite checkpoint thread".into(),
            source,
        })?;
        Ok((Self { thread }, Wake { wake, armed }))
    }

    /// Waits for the thread to finish (after every [`Wake`] was dropped).
    pub(crate) fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the SQLite checkpoint thread panicked");
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>, armed: &AtomicBool) {
    let mut last = Instant::now();
    while woken.recv().is_ok() {
        // Pace: wait out the rest of the interval, still stopping at once when told to (only
        // the disconnect wakes it: nothing is sent while disarmed).
        let due = last + INTERVAL;
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            match woken.recv_timeout(due - now) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if let Err(TryRecvError::Disconnected) = woken.try_recv() {
            return;
        }
        // Commits from now on (this checkpoint may miss them) wake it for the next one.
        armed.store(true, Ordering::Release);
        last = Instant::now();
        let checkpoint = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match checkpoint {
            Ok((log, done)) => tracing::trace!(log, done, "WAL checkpoint"),
            Err(err) => {
                tracing::warn!(error = %err, "a WAL checkpoint failed; the next one retries")
            }
        }
    }
}
