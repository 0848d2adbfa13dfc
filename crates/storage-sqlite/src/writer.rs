//! The single writer thread and its group commit.
//!
//! Every write goes through one queue to one thread that owns the write connection. The
//! thread takes everything queued (up to `max_batch`), applies each request inside its own
//! savepoint within one transaction, commits once, and only then answers. One sync per batch
//! instead of one per request is what makes `Durability::Full` affordable; one writer is what
//! makes global positions follow commit order without gaps (DESIGN.md §2.3).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use angzarr_proto::Snapshot;
use angzarr_runtime::metrics::StoreMetrics;
use angzarr_runtime::storage::{
    AppendRequest, Checkpoint, HistoryKey, StorageError, StorageResult, StoredEvent,
};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::checkpointer::Wake;
use crate::error::{Context, Error};
use crate::sql;

/// A connection shared between threads; only one uses it at a time.
pub(crate) type SharedConnection = Arc<Mutex<Connection>>;

/// Locks a connection. A panic while it was held cannot have left a transaction open (the
/// transaction guard rolled it back while unwinding), so a poisoned lock is still usable.
pub(crate) fn lock(conn: &SharedConnection) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks the slot a write leaves its result in (see `SqliteEventStore::write_returning`);
/// a panic cannot have left a half-written `Option` behind.
pub(crate) fn lock_slot<T>(slot: &Mutex<Option<T>>) -> MutexGuard<'_, Option<T>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

type Reply<T> = oneshot::Sender<StorageResult<T>>;

/// A write run by [`Job::Write`].
pub(crate) type WriteFn = Box<dyn FnOnce(&Connection) -> StorageResult<u64> + Send>;

/// What the writer thread does for a caller.
pub(crate) enum Job {
    Append(Box<AppendRequest>, Reply<Vec<StoredEvent>>),
    PutSnapshot(HistoryKey, Snapshot, Reply<()>),
    PutCheckpoint(Checkpoint, Reply<()>),
    /// Any other write, in its own savepoint (parked events).
    Write(WriteFn, Reply<u64>),
    /// Runs on the writer's connection outside of any transaction (diagnostics).
    Inspect(Box<dyn FnOnce(&Connection) + Send>),
}

/// Counters of the writer thread; see [`WriterStats`](crate::WriterStats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) transactions: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) submitted: AtomicU64,
    pub(crate) queued: AtomicU64,
    /// The runtime's histograms, once the store is instrumented.
    pub(crate) metrics: OnceLock<StoreMetrics>,
}

/// The handle of the writer thread.
pub(crate) struct Writer {
    jobs: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    /// Room in the queue: a caller holds a permit from queueing until answered.
    room: tokio::sync::Semaphore,
}

impl Writer {
    /// Starts the writer thread on `conn`; at most `max_queued` writes wait for it. After each
    /// batch it wakes the checkpoint thread, if there is one (and stops it by exiting).
    pub(crate) fn spawn(
        conn: SharedConnection,
        max_batch: usize,
        max_queued: usize,
        checkpoints: Option<Wake>,
    ) -> Result<Self, Error> {
        let (jobs, queue) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread = {
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("angzarr-sqlite-writer".into())
                .spawn(move || {
                    run(
                        &conn,
                        &queue,
                        max_batch.max(1),
                        &counters,
                        checkpoints.as_ref(),
                    );
                })
                .map_err(|source| Error::Io {
                    context: "cannot start the SQLite writer thread".into(),
                    source,
                })?
        };
        Ok(Self {
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
            counters,
            room: tokio::sync::Semaphore::new(
                max_queued.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            ),
        })
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Queues a job; `Closed` after [`Writer::stop`].
    pub(crate) fn send(&self, job: Job) -> StorageResult<()> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let jobs = jobs.as_ref().ok_or(StorageError::Closed)?;
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        match jobs.send(job) {
            Ok(()) => {
                self.counters.submitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                Err(Error::WriterStopped.into())
            }
        }
    }

    /// Queues a job, once there is room, and waits for its answer.
    pub(crate) async fn call<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> StorageResult<T> {
        let _room = self
            .room
            .acquire()
            .await
            .map_err(|_| StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        self.send(job(reply))?;
        answer.await.map_err(|_| Error::WriterStopped)?
    }

    /// Stops taking jobs. The thread finishes what is queued, then exits; join the returned
    /// handle to wait for that.
    pub(crate) fn stop(&self) -> Option<JoinHandle<()>> {
        drop(
            self.jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The writer thread: batch, commit, answer, until every sender is gone and the queue empty.
fn run(
    conn: &SharedConnection,
    queue: &Receiver<Job>,
    max_batch: usize,
    counters: &Counters,
    checkpoints: Option<&Wake>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        counters
            .queued
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        commit_batch(&mut lock(conn), batch, counters);
        if let Some(checkpoints) = checkpoints {
            checkpoints.committed();
        }
    }
    tracing::debug!("the SQLite writer stopped");
}

/// Answers a caller once the batch's fate is known.
type Finish = Box<dyn FnOnce(Option<&StorageError>)>;

/// A request's answer; a failed commit turns a success into that failure.
fn finish<T: Send + 'static>(reply: Reply<T>, result: StorageResult<T>) -> Finish {
    Box::new(move |commit_failure| {
        let result = match (result, commit_failure) {
            (Ok(_), Some(failure)) => Err(failure.clone()),
            (result, _) => result,
        };
        // The caller may have given up waiting; then nobody needs the answer.
        let _ = reply.send(result);
    })
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>, counters: &Counters) {
    let mut writes = Vec::with_capacity(batch.len());
    for job in batch {
        match job {
            Job::Inspect(inspect) => inspect(conn),
            write => writes.push(write),
        }
    }
    if writes.is_empty() {
        return;
    }
    let requests = writes.len() as u64;
    let started = Instant::now();
    let mut tx = match conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context(|| "cannot start a write transaction".into())
    {
        Ok(tx) => tx,
        Err(err) => {
            tracing::warn!(error = %err, requests, "a group commit could not start");
            let failure = StorageError::from(err);
            for job in writes {
                answer_now(job, &failure);
            }
            return;
        }
    };
    let created_at = sql::now_micros();
    let mut answers: Vec<Finish> = Vec::with_capacity(writes.len());
    let mut writes = writes.into_iter();
    for job in writes.by_ref() {
        answers.push(apply(&mut tx, job, created_at));
        if tx.is_autocommit() {
            break;
        }
    }
    if tx.is_autocommit() {
        // SQLite rolled the whole transaction back (it may on a full disk or an I/O error).
        // Nothing of the batch is stored, and the rest must not run: outside a transaction
        // each request's savepoint would commit on its own, and be answered as failed.
        tracing::warn!(
            requests,
            "SQLite rolled a group commit back; nothing of it was written"
        );
        let failure = StorageError::from(Error::BatchRolledBack);
        for answer in answers {
            answer(Some(&failure));
        }
        for job in writes {
            answer_now(job, &failure);
        }
        return;
    }
    match tx
        .commit()
        .context(|| "cannot commit a write transaction".into())
    {
        Ok(()) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters.requests.fetch_add(requests, Ordering::Relaxed);
            if let Some(metrics) = counters.metrics.get() {
                metrics.commit_batch.observe(requests as f64);
                metrics.commit_seconds.observe_duration(started.elapsed());
            }
            tracing::trace!(requests, "group commit");
            for answer in answers {
                answer(None);
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, requests, "a group commit failed; nothing of it was written");
            let failure = StorageError::from(err);
            for answer in answers {
                answer(Some(&failure));
            }
        }
    }
}

/// Applies one request in its own savepoint, so its failure undoes only its own writes.
fn apply(tx: &mut Transaction<'_>, job: Job, created_at: i64) -> Finish {
    match job {
        Job::Append(request, reply) => {
            let result = in_savepoint(tx, |conn| sql::append(conn, *request, created_at));
            finish(reply, result)
        }
        Job::PutSnapshot(key, snapshot, reply) => {
            let result = in_savepoint(tx, |conn| sql::put_snapshot(conn, &key, &snapshot));
            finish(reply, result)
        }
        Job::PutCheckpoint(checkpoint, reply) => {
            let result = in_savepoint(tx, |conn| sql::move_checkpoint(conn, &checkpoint));
            finish(reply, result)
        }
        Job::Write(write, reply) => {
            let result = in_savepoint(tx, write);
            finish(reply, result)
        }
        Job::Inspect(inspect) => {
            inspect(tx);
            Box::new(|_| {})
        }
    }
}

fn in_savepoint<T>(
    tx: &mut Transaction<'_>,
    body: impl FnOnce(&Connection) -> StorageResult<T>,
) -> StorageResult<T> {
    let savepoint = tx
        .savepoint()
        .context(|| "cannot start a savepoint".into())?;
    // On error the savepoint is dropped, which rolls back everything the body wrote.
    let result = body(&savepoint)?;
    savepoint
        .commit()
        .context(|| "cannot release a savepoint".into())?;
    Ok(result)
}

fn answer_now(job: Job, failure: &StorageError) {
    let failed = Some(failure);
    match job {
        Job::Append(_, reply) => finish(reply, Ok(Vec::new()))(failed),
        Job::Write(_, reply) => finish(reply, Ok(0))(failed),
        Job::PutSnapshot(_, _, reply) | Job::PutCheckpoint(_, reply) => {
            finish(reply, Ok(()))(failed);
        }
        Job::Inspect(_) => {}
    }
}
