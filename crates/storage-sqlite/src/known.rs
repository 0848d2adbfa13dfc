//! What the store knows exists without reading: idempotency keys and histories.
//!
//! Why: every command asks the store whether its idempotency key was used, and a command to an
//! aggregate not in the coordinator's cache loads its history. For a new key (nearly every
//! command) and a new aggregate (every create) the answer is "nothing", yet finding it out
//! costs a read on a reader thread: a thread hand-off each way and the pages it reads, a fifth
//! of the runtime's CPU per command. Two Bloom filters answer "certainly absent" from memory.
//!
//! Why that is sound: a Bloom filter has no false negatives, and every key in the database is
//! in the filter before anyone can rely on its absence:
//! - rows stored before the store opened are added by a scan on a thread of its own; until it
//!   finishes, the filters are not *ready* and every question goes to the database;
//! - rows stored since are added by [`append`](crate::SqliteEventStore) before it queues them
//!   for the writer (the only way events and idempotency records are written; a failed
//!   append leaves a false positive, which costs one read);
//! - no other process writes the file: [`SqliteEventStore::open`](crate::SqliteEventStore::open)
//!   holds an exclusive lock on it for the store's lifetime.
//!
//! Only "absent" is trusted; "maybe" (a stored key or a false positive) reads the database as
//! before. A filter filled past its capacity only answers "maybe" more often. Editions always
//! read: their histories share main's events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use angzarr_runtime::storage::HistoryKey;
use fastbloom::AtomicBloomFilter;
use rusqlite::Connection;

use crate::error::{Context, Error};

/// Bits per expected item: about a 1% false-positive rate at capacity.
const BITS_PER_ITEM: usize = 10;

/// Rows the scan reads between looks at the stop flag.
const STOP_CHECK_EVERY: usize = 4096;

/// How far the scan of what was stored before opening has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    Running,
    /// The filters hold every stored key: "absent" is trusted.
    Done,
    /// It failed or was stopped: every question reads the database.
    Abandoned,
}

/// How full the filters are (see [`SqliteEventStore::known_keys_fill`](crate::SqliteEventStore::known_keys_fill)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKeysFill {
    /// Distinct idempotency keys added, as far as the filter can tell (a false positive on
    /// insert is not counted, so this slightly undercounts).
    pub idempotency_keys: usize,
    /// Distinct main histories added, likewise.
    pub histories: usize,
    /// Items each filter holds at about a 1% false-positive rate. Past it, more new keys and
    /// histories are answered "maybe" and read the database; no answer becomes wrong.
    pub capacity: usize,
}

/// The two filters and whether the scan of what was stored before has finished.
pub(crate) struct KnownKeys {
    idempotency: AtomicBloomFilter,
    histories: AtomicBloomFilter,
    /// Items each filter holds at about a 1% false-positive rate.
    capacity: usize,
    /// Distinct items added to each filter: idempotency keys, histories.
    added: [AtomicUsize; 2],
    /// Whether the log already says a filter is past its capacity (said once).
    warned: AtomicBool,
    /// `scan` is `Done` (read on every command, so not through the channel).
    ready: AtomicBool,
    scan: tokio::sync::watch::Sender<Scan>,
    stop: AtomicBool,
}

impl KnownKeys {
    /// Filters of `bytes` bytes in all (half each), or `None` for 0 (off: every question
    /// reads the database).
    pub(crate) fn new(bytes: usize) -> Option<Arc<Self>> {
        let bits = (bytes.saturating_mul(8) / 2).next_multiple_of(64);
        (bits > 0).then(|| {
            let filter =
                || AtomicBloomFilter::with_num_bits(bits).expected_items(bits / BITS_PER_ITEM);
            Arc::new(Self {
                idempotency: filter(),
                histories: filter(),
                capacity: bits / BITS_PER_ITEM,
                added: [AtomicUsize::new(0), AtomicUsize::new(0)],
                warned: AtomicBool::new(false),
                ready: AtomicBool::new(false),
                scan: tokio::sync::watch::Sender::new(Scan::Running),
                stop: AtomicBool::new(false),
            })
        })
    }

    /// Whether the scan has finished, so that "absent" answers can be trusted.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Trust the filters from now on: the scan finished, or nothing was stored before (a new
    /// in-memory database).
    pub(crate) fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
        self.scan.send_replace(Scan::Done);
    }

    /// Waits for the scan to end; `true` when the filters are trusted.
    pub(crate) async fn scanned(&self) -> bool {
        let mut scan = self.scan.subscribe();
        matches!(
            scan.wait_for(|scan| *scan != Scan::Running)
                .await
                .as_deref(),
            Ok(Scan::Done)
        )
    }

    /// Whether the idempotency key `key` may be stored (`false`: certainly not).
    pub(crate) fn may_have_key(&self, key: &str) -> bool {
        !self.is_ready() || self.idempotency.contains(key)
    }

    /// Whether the history `key` may have events (`false`: certainly none).
    pub(crate) fn may_have_history(&self, key: &HistoryKey) -> bool {
        !self.is_ready() || !key.is_main() || self.histories.contains(&history_id(key))
    }

    /// Remembers an idempotency key about to be stored.
    pub(crate) fn add_key(&self, key: &str) {
        let known = self.idempotency.insert(key);
        self.count(0, known);
    }

    /// Remembers a history about to be appended to.
    pub(crate) fn add_history(&self, key: &HistoryKey) {
        if key.is_main() {
            let known = self.histories.insert(&history_id(key));
            self.count(1, known);
        }
    }

    /// How full the filters are.
    pub(crate) fn fill_level(&self) -> KnownKeysFill {
        KnownKeysFill {
            idempotency_keys: self.added[0].load(Ordering::Relaxed),
            histories: self.added[1].load(Ordering::Relaxed),
            capacity: self.capacity,
        }
    }

    /// Counts an insert into filter `which` that was new to it; says once when a filter goes
    /// past its capacity, since from then on more commands read the database.
    fn count(&self, which: usize, known: bool) {
        if known {
            return;
        }
        let added = self.added[which].fetch_add(1, Ordering::Relaxed) + 1;
        if added > self.capacity && !self.warned.swap(true, Ordering::Relaxed) {
            let filter = ["idempotency keys", "histories"][which];
            tracing::warn!(
                items = added,
                capacity = self.capacity,
                "the filter of stored {filter} is past its capacity: more commands read the \
                 database to learn a key or history is new (answers stay correct); give it more \
                 memory ([storage] known_keys_mib in angzarr.toml, SqliteOptions::known_keys_bytes)"
            );
        }
    }

    /// Starts the scan of what the database held when it was opened, on `conn` (a reader
    /// connection of its own). The filters become ready when it finishes; a failed scan leaves
    /// them unready, so every question keeps reading the database.
    pub(crate) fn fill(self: &Arc<Self>, conn: Connection) -> Result<JoinHandle<()>, Error> {
        let known = self.clone();
        std::thread::Builder::new()
            .name("angzarr-sqlite-known".into())
            .spawn(move || match known.scan(&conn) {
                Ok(true) => {
                    known.mark_ready();
                    tracing::debug!("known idempotency keys and histories loaded");
                }
                Ok(false) => {
                    known.scan.send_replace(Scan::Abandoned);
                }
                Err(err) => {
                    known.scan.send_replace(Scan::Abandoned);
                    tracing::warn!(
                        error = %err,
                        "cannot load the known idempotency keys and histories; every command \
                         reads them from the database instead"
                    );
                }
            })
            .map_err(|source| Error::Io {
                context: "cannot start the SQLite key-scan thread".into(),
                source,
            })
    }

    /// Tells a running scan to give up (the store is closing).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Adds every stored key; `false` when told to stop first.
    fn scan(&self, conn: &Connection) -> Result<bool, Error> {
        // One read transaction: both tables as of one moment, later rows added by `append`.
        let tx = conn
            .unchecked_transaction()
            .context(|| "cannot start the key scan".into())?;
        let keys = self.scan_rows(
            &tx,
            "SELECT key FROM idempotency",
            |row| row.get::<_, String>(0),
            |key| self.add_key(&key),
        )?;
        let histories = self.scan_rows(
            &tx,
            "SELECT domain, root FROM events WHERE edition = '' AND sequence = 0",
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)),
            |(domain, root)| {
                let known = self.histories.insert(&(domain.as_str(), root.as_slice()));
                self.count(1, known);
            },
        )?;
        Ok(keys && histories)
    }

    fn scan_rows<T>(
        &self,
        conn: &Connection,
        sql: &str,
        decode: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        mut add: impl FnMut(T),
    ) -> Result<bool, Error> {
        let context = || format!("cannot scan the stored keys ({sql})");
        let mut stmt = conn.prepare(sql).context(context)?;
        let mut rows = stmt.query([]).context(context)?;
        let mut seen = 0usize;
        while let Some(row) = rows.next().context(context)? {
            add(decode(row).context(context)?);
            seen += 1;
            if seen.is_multiple_of(STOP_CHECK_EVERY) && self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// What a main history is filed under: the same value whether it comes from a key or a row.
fn history_id(key: &HistoryKey) -> (&str, &[u8]) {
    (key.domain.as_str(), key.root.as_bytes().as_slice())
}
