//! Angzarr's SQLite event store, the storage of `angzarr-standalone`.
//!
//! # Why it is shaped like this
//!
//! SQLite allows one writer at a time, so the store embraces it: **one writer thread** owns
//! the write connection and every write (append, snapshot, checkpoint) is queued to it. The
//! thread takes everything that is queued and commits it in **one transaction** (group
//! commit), each request inside its own `SAVEPOINT`, so one request's conflict or duplicate
//! idempotency key rolls back only that request. Callers are answered only after the commit.
//! Because a single thread assigns rowids in commit order, the global position (the `events`
//! rowid) never skips and no reader can see position N+1 before N (DESIGN.md §2.3).
//!
//! Reads run on a small pool of separate connections in WAL mode, in `spawn_blocking`, and
//! see the last committed state without waiting for the writer. A multi-statement read
//! ([`EventStore::load`]) runs in one read transaction, so it is consistent.
//!
//! # Durability
//!
//! [`Durability::Full`] is the default: `PRAGMA synchronous = FULL` syncs the WAL on every
//! commit, so an acknowledged append survives a crash of the process *and* of the machine
//! (power loss). [`Durability::Normal`] syncs only at WAL checkpoints: with WAL it still
//! survives a crash of the process, but the last transactions acknowledged before a power
//! loss or OS crash may be lost. Group commit pays one sync per batch, not per request, which
//! is why `Full` is affordable as the default.
//!
//! # Files
//!
//! A new file gets the schema (see `schema.rs`) and is marked with `PRAGMA application_id`
//! and the schema version in `PRAGMA user_version`. Opening a file that is not a SQLite
//! database, belongs to another application or has a newer schema fails with a clear
//! [`Error`] and leaves the file alone. `:memory:` gives a store that lives as long as the
//! [`SqliteEventStore`]; there reads share the writer's connection.
//!
//! # Example
//!
//! ```no_run
//! use angzarr_storage_sqlite::{Durability, SqliteEventStore, SqliteOptions};
//!
//! let options = SqliteOptions::new("/var/lib/angzarr/events.db").with_durability(Durability::Full);
//! let store = SqliteEventStore::open(options)?;
//! # Ok::<(), angzarr_storage_sqlite::Error>(())
//! ```

#![warn(missing_docs)]

mod checkpointer;
mod error;
mod known;
mod options;
mod schema;
mod sql;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;

use angzarr_proto::Snapshot;
use angzarr_runtime::storage::{
    AppendRequest, Checkpoint, Edition, EventStore, HistoryKey, IdempotencyRecord, LoadOptions,
    LoadedHistory, ParkRequest, ParkedRecord, StorageError, StorageResult, StoredEvent,
};
use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

pub use error::Error;
pub use options::{Durability, SqliteOptions};

use checkpointer::Checkpointer;
use known::KnownKeys;
pub use known::KnownKeysFill;
use writer::{Job, SharedConnection, Writer};

/// The SQLite [`EventStore`]. See the [crate docs](crate) for how it works.
///
/// Dropping it (or [`close`](Self::close)) lets the writer finish what is queued, stops it and
/// closes the connections.
pub struct SqliteEventStore {
    path: PathBuf,
    writer: Writer,
    /// Stops once the writer thread has (it holds the only waker).
    checkpointer: Mutex<Option<Checkpointer>>,
    readers: Arc<[SharedConnection]>,
    next_reader: AtomicUsize,
    closed: AtomicBool,
    /// Which idempotency keys and histories may be stored; `None` when turned off.
    known: Option<Arc<KnownKeys>>,
    /// The scan filling `known` with what was stored before the store opened.
    known_scan: Mutex<Option<JoinHandle<()>>>,
    /// Reads run on the reader connections.
    reads: AtomicU64,
    /// Held for the store's lifetime: no other store writes the file (see [`Error::InUse`]).
    /// Last, so that it is closed after the connections: closing any descriptor of a file
    /// drops the process's POSIX locks on it, SQLite's included.
    _exclusive: Option<std::fs::File>,
}

/// Counters of the writer thread, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed (one per group commit).
    pub transactions: u64,
    /// Write requests in those transactions (including ones that failed in their savepoint).
    pub requests: u64,
    /// Requests handed to the writer since the store was opened (including diagnostics).
    pub submitted: u64,
    /// Requests queued and not yet taken by the writer.
    pub queued: u64,
}

/// Settings as the writer's connection reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// `PRAGMA synchronous` (1 = NORMAL, 2 = FULL; see [`Durability::synchronous_level`]).
    pub synchronous: i64,
    /// `PRAGMA journal_mode` (`wal` for files, `memory` for `:memory:`).
    pub journal_mode: String,
    /// The schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// `PRAGMA wal_autocheckpoint`: 0 for a file, whose checkpoints run on their own thread.
    pub wal_autocheckpoint: i64,
    /// `PRAGMA mmap_size`: bytes of the file read through a memory map (see
    /// [`SqliteOptions::mmap_bytes`]).
    pub mmap_size: i64,
}

impl SqliteEventStore {
    /// Opens (creating when missing) the store described by `options`. Blocks while it opens
    /// the file and checks or creates the schema.
    pub fn open(options: SqliteOptions) -> Result<Self, Error> {
        let writer_conn: SharedConnection = Arc::new(Mutex::new(schema::open_writer(&options)?));
        let exclusive = if options.is_in_memory() {
            None
        } else {
            Some(lock_exclusively(&options.path)?)
        };
        let known = KnownKeys::new(options.known_keys_bytes);
        let readers: Arc<[SharedConnection]> = if options.is_in_memory() || options.readers == 0 {
            Arc::from([writer_conn.clone()])
        } else {
            (0..options.readers)
                .map(|_| Ok(Arc::new(Mutex::new(schema::open_reader(&options)?))))
                .collect::<Result<_, Error>>()?
        };
        // A file gets its WAL checkpoints on a thread of their own (see `checkpointer`).
        let (checkpointer, checkpoints) = if options.is_in_memory() {
            (None, None)
        } else {
            let (checkpointer, wake) = Checkpointer::spawn(&options.path, options.busy_timeout)?;
            (Some(checkpointer), Some(wake))
        };
        let writer = Writer::spawn(
            writer_conn,
            options.max_batch,
            options.max_queued_writes,
            checkpoints,
        )?;
        // Last, so that a failed open leaves no scan running.
        let known_scan = match &known {
            // A new in-memory database holds nothing yet.
            Some(known) if options.is_in_memory() => {
                known.mark_ready();
                None
            }
            Some(known) => Some(known.fill(schema::open_reader(&options)?)?),
            None => None,
        };
        tracing::debug!(
            path = %options.path.display(),
            durability = ?options.durability,
            readers = options.readers,
            "opened the SQLite event store"
        );
        Ok(Self {
            path: options.path,
            writer,
            checkpointer: Mutex::new(checkpointer),
            readers,
            next_reader: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            known,
            known_scan: Mutex::new(known_scan),
            reads: AtomicU64::new(0),
            _exclusive: exclusive,
        })
    }

    /// The database file (or `:memory:`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the store: queued writes are committed, then the writer thread exits. Every call
    /// afterwards fails with [`StorageError::Closed`].
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(scan) = self.stop_known_scan() {
            let _ = tokio::task::spawn_blocking(move || scan.join()).await;
        }
        if let Some(thread) = self.writer.stop() {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!(path = %self.path.display(), "the SQLite writer thread panicked");
            }
        }
        if let Some(checkpointer) = self.take_checkpointer() {
            let _ = tokio::task::spawn_blocking(move || checkpointer.join()).await;
        }
    }

    /// Tells the key scan to give up and hands over its thread to join.
    fn stop_known_scan(&self) -> Option<JoinHandle<()>> {
        if let Some(known) = &self.known {
            known.stop();
        }
        self.known_scan
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Whether the filters of stored idempotency keys and histories are loaded, so that a new
    /// key or history is answered without a read (`false` while loading and when turned off).
    pub fn knows_stored_keys(&self) -> bool {
        self.known.as_ref().is_some_and(|known| known.is_ready())
    }

    /// Waits until the filters of stored idempotency keys and histories are loaded (see
    /// [`knows_stored_keys`](Self::knows_stored_keys)); `false` when they never will be
    /// (turned off, or their scan failed or was stopped by closing the store).
    pub async fn known_keys_loaded(&self) -> bool {
        match &self.known {
            Some(known) => known.scanned().await,
            None => false,
        }
    }

    /// How full the filters of stored idempotency keys and histories are (`None` when they
    /// are turned off).
    pub fn known_keys_fill(&self) -> Option<KnownKeysFill> {
        self.known.as_ref().map(|known| known.fill_level())
    }

    /// Reads run on the reader connections since the store was opened.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Whether the history `key` may have events (`false`: certainly none, known without a
    /// read).
    fn may_have_history(&self, key: &HistoryKey) -> bool {
        self.known
            .as_ref()
            .is_none_or(|known| known.may_have_history(key))
    }

    /// Whether the idempotency key `key` may be stored (`false`: certainly not).
    fn may_have_key(&self, key: &str) -> bool {
        self.known
            .as_ref()
            .is_none_or(|known| known.may_have_key(key))
    }

    /// Fails once the store is closed, as a read would.
    fn check_open(&self) -> StorageResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    fn take_checkpointer(&self) -> Option<Checkpointer> {
        self.checkpointer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Reports each group commit's size and duration into the runtime's histograms
    /// (`angzarr_store_commit_batch_size`, `angzarr_store_commit_duration_seconds`). Only the
    /// first call counts.
    pub fn instrument(&self, metrics: angzarr_runtime::metrics::StoreMetrics) {
        let _ = self.writer.counters().metrics.set(metrics);
    }

    /// The writer's counters.
    pub fn stats(&self) -> WriterStats {
        let counters = self.writer.counters();
        WriterStats {
            transactions: counters.transactions.load(Ordering::Relaxed),
            requests: counters.requests.load(Ordering::Relaxed),
            submitted: counters.submitted.load(Ordering::Relaxed),
            queued: counters.queued.load(Ordering::Relaxed),
        }
    }

    /// The settings the writer's connection runs with.
    pub async fn diagnostics(&self) -> StorageResult<Diagnostics> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::Inspect(Box::new(move |conn| {
            // The caller may have given up waiting; then nobody needs the answer.
            let _ = reply.send(read_diagnostics(conn));
        })))?;
        Ok(answer.await.map_err(|_| Error::WriterStopped)??)
    }

    /// Caps the database at `pages` pages (`PRAGMA max_page_count` on the writer's
    /// connection; never below its current size) and returns the cap SQLite applied. A write
    /// that needs more pages fails with [`Error::Full`], as on a full disk. For fault-injection
    /// tests; the cap lasts until it is changed or the store is closed.
    #[doc(hidden)]
    pub async fn limit_pages(&self, pages: u64) -> StorageResult<u64> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::Inspect(Box::new(move |conn| {
            use error::Context as _;
            let applied = conn
                .pragma_update_and_check(None, "max_page_count", pages, |row| row.get(0))
                .context(|| "cannot set PRAGMA max_page_count".into());
            // The caller may have given up waiting; then nobody needs the answer.
            let _ = reply.send(applied);
        })))?;
        Ok(answer.await.map_err(|_| Error::WriterStopped)??)
    }

    /// Runs a write on the writer thread, in its own savepoint of the next group commit.
    async fn write(
        &self,
        write: impl FnOnce(&rusqlite::Connection) -> StorageResult<u64> + Send + 'static,
    ) -> StorageResult<u64> {
        self.writer
            .call(|reply| Job::Write(Box::new(write), reply))
            .await
    }

    /// Runs a write whose result is more than a count, in its own savepoint of the next group
    /// commit; the answer comes only once that commit succeeded.
    async fn write_returning<T: Send + 'static>(
        &self,
        write: impl FnOnce(&rusqlite::Connection) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let inner = slot.clone();
        self.write(move |conn| {
            let value = write(conn)?;
            *writer::lock_slot(&inner) = Some(value);
            Ok(0)
        })
        .await?;
        writer::lock_slot(&slot).take().ok_or(StorageError::Closed)
    }

    /// Runs a read on an idle reader connection (or, when all are busy, waits for one), off
    /// the async threads.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> StorageResult<T> {
        self.check_open()?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let readers = self.readers.clone();
        let result = tokio::task::spawn_blocking(move || {
            let count = readers.len();
            let idle = (0..count).find_map(|i| match readers[(start + i) % count].try_lock() {
                Ok(conn) => Some(conn),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            });
            match idle {
                Some(mut conn) => read(&mut conn),
                None => read(&mut writer::lock(&readers[start % count])),
            }
        })
        .await
        .map_err(|err| Error::Io {
            context: "a read of the event store did not finish".into(),
            source: std::io::Error::other(err),
        })?;
        Ok(result?)
    }
}

/// Takes the exclusive lock on the database file that tells other stores it is in use. The
/// lock (`flock`) is independent of SQLite's own locks, and the kernel drops it however the
/// process ends.
fn lock_exclusively(path: &Path) -> Result<std::fs::File, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        context: format!("cannot open the event store {}", path.display()),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::InUse {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Io {
            context: format!("cannot lock the event store {}", path.display()),
            source,
        }),
    }
}

fn read_diagnostics(conn: &Connection) -> Result<Diagnostics, Error> {
    use error::Context as _;
    let pragma = |name: &'static str| {
        conn.pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
            .context(|| format!("cannot read PRAGMA {name}"))
    };
    let integer = |value| match value {
        rusqlite::types::Value::Integer(n) => Ok(n),
        other => Err(Error::Corrupt(format!("unexpected pragma value {other:?}"))),
    };
    Ok(Diagnostics {
        synchronous: integer(pragma("synchronous")?)?,
        journal_mode: match pragma("journal_mode")? {
            rusqlite::types::Value::Text(mode) => mode.to_ascii_lowercase(),
            other => return Err(Error::Corrupt(format!("unexpected journal mode {other:?}"))),
        },
        schema_version: integer(pragma("user_version")?)?,
        wal_autocheckpoint: integer(pragma("wal_autocheckpoint")?)?,
        mmap_size: match conn.pragma_query_value(None, "mmap_size", |row| row.get::<_, i64>(0)) {
            Ok(bytes) => bytes,
            // `:memory:` has no file to map and answers nothing.
            Err(rusqlite::Error::QueryReturnedNoRows) => 0,
            Err(source) => {
                return Err(Error::Sqlite {
                    context: "cannot read PRAGMA mmap_size".into(),
                    source,
                });
            }
        },
    })
}

impl Drop for SqliteEventStore {
    fn drop(&mut self) {
        if let Some(scan) = self.stop_known_scan() {
            let _ = scan.join();
        }
        if let Some(thread) = self.writer.stop() {
            // Only queued writes remain; waiting for them keeps "dropped" meaning "on disk".
            if thread.join().is_err() {
                tracing::error!(path = %self.path.display(), "the SQLite writer thread panicked");
            }
        }
        if let Some(checkpointer) = self.take_checkpointer() {
            checkpointer.join();
        }
    }
}

impl std::fmt::Debug for SqliteEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEventStore")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn load(&self, key: &HistoryKey, options: LoadOptions) -> StorageResult<LoadedHistory> {
        if !self.may_have_history(key) {
            self.check_open()?;
            return Ok(LoadedHistory::default());
        }
        let key = key.clone();
        self.read(move |conn| sql::load(conn, &key, options.use_snapshot))
            .await
    }

    async fn read_history(
        &self,
        key: &HistoryKey,
        from: u32,
        to: Option<u32>,
    ) -> StorageResult<Vec<StoredEvent>> {
        let key = key.clone();
        self.read(move |conn| sql::read_history(conn, &key, from.into(), to.map(u64::from)))
            .await
    }

    async fn append(&self, request: AppendRequest) -> StorageResult<Vec<StoredEvent>> {
        // Before the insert is even queued, so the key is known by the time anyone can read it;
        // an append that fails leaves a "maybe" too many, which costs one read.
        if let Some(known) = &self.known {
            known.add_history(&request.key);
            if let Some(record) = &request.idempotency {
                known.add_key(&record.key);
            }
        }
        self.writer
            .call(|reply| Job::Append(Box::new(request), reply))
            .await
    }

    async fn put_snapshot(&self, key: &HistoryKey, snapshot: Snapshot) -> StorageResult<()> {
        let key = key.clone();
        self.writer
            .call(|reply| Job::PutSnapshot(key, snapshot, reply))
            .await
    }

    async fn get_snapshot(&self, key: &HistoryKey) -> StorageResult<Option<Snapshot>> {
        let key = key.clone();
        self.read(move |conn| sql::snapshot(conn, &key)).await
    }

    async fn read_global(&self, after: u64, limit: usize) -> StorageResult<Vec<StoredEvent>> {
        self.read(move |conn| sql::global(conn, after, limit)).await
    }

    async fn head_position(&self) -> StorageResult<u64> {
        self.read(|conn| sql::head(conn)).await
    }

    async fn idempotency(&self, key: &str) -> StorageResult<Option<IdempotencyRecord>> {
        if !self.may_have_key(key) {
            self.check_open()?;
            return Ok(None);
        }
        let key = key.to_string();
        self.read(move |conn| sql::idempotency(conn, &key)).await
    }

    async fn load_with_idempotency(
        &self,
        key: &HistoryKey,
        options: LoadOptions,
        idempotency_key: &str,
    ) -> StorageResult<(Option<IdempotencyRecord>, LoadedHistory)> {
        if !self.may_have_key(idempotency_key) {
            return Ok((None, self.load(key, options).await?));
        }
        let (key, idempotency_key) = (key.clone(), idempotency_key.to_string());
        self.read(move |conn| {
            let record = sql::idempotency(conn, &idempotency_key)?;
            Ok((record, sql::load(conn, &key, options.use_snapshot)?))
        })
        .await
    }

    async fn checkpoint(&self, subscriber: &str) -> StorageResult<u64> {
        let subscriber = subscriber.to_string();
        self.read(move |conn| sql::checkpoint(conn, &subscriber))
            .await
    }

    async fn put_checkpoint(&self, checkpoint: Checkpoint) -> StorageResult<()> {
        self.writer
            .call(|reply| Job::PutCheckpoint(checkpoint, reply))
            .await
    }

    async fn list_roots(
        &self,
        domain: &str,
        after: Option<uuid::Uuid>,
        limit: usize,
    ) -> StorageResult<Vec<uuid::Uuid>> {
        let domain = domain.to_string();
        self.read(move |conn| sql::roots(conn, &domain, after, limit))
            .await
    }

    async fn park(&self, request: ParkRequest) -> StorageResult<u64> {
        self.write(move |conn| sql::park(conn, &request)).await
    }

    async fn list_parked(&self, subscriber: Option<&str>) -> StorageResult<Vec<ParkedRecord>> {
        let subscriber = subscriber.map(str::to_string);
        self.read(move |conn| sql::list_parked(conn, subscriber.as_deref()))
            .await
    }

    async fn update_parked(&self, id: u64, error: &str, attempts: u32) -> StorageResult<bool> {
        let error = error.to_string();
        let changed = self
            .write(move |conn| sql::update_parked(conn, id, &error, attempts))
            .await?;
        Ok(changed > 0)
    }

    async fn remove_parked(&self, id: u64) -> StorageResult<bool> {
        let changed = self.write(move |conn| sql::remove_parked(conn, id)).await?;
        Ok(changed > 0)
    }

    async fn create_edition(&self, key: &HistoryKey, divergence: u32) -> StorageResult<Edition> {
        let key = key.clone();
        self.write_returning(move |conn| sql::create_edition(conn, &key, divergence))
            .await
    }

    async fn edition(&self, key: &HistoryKey) -> StorageResult<Option<Edition>> {
        let key = key.clone();
        self.read(move |conn| sql::edition(conn, &key)).await
    }

    async fn list_editions(
        &self,
        domain: Option<&str>,
        root: Option<uuid::Uuid>,
    ) -> StorageResult<Vec<Edition>> {
        let domain = domain.map(str::to_string);
        self.read(move |conn| sql::list_editions(conn, domain.as_deref(), root))
            .await
    }

    async fn delete_edition(&self, key: &HistoryKey) -> StorageResult<Option<u64>> {
        let key = key.clone();
        self.write_returning(move |conn| sql::delete_edition(conn, &key))
            .await
    }

    async fn read_correlated(
        &self,
        correlation_id: &str,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<StoredEvent>> {
        let correlation_id = correlation_id.to_string();
        self.read(move |conn| sql::correlated(conn, &correlation_id, after, limit))
            .await
    }
}
