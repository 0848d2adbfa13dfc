//! Fault injection: an [`EventStore`] that wraps another and fails, stalls or "tears" chosen
//! calls, so tests can show what the pipelines do when storage misbehaves.
//!
//! Happy-path tests only show that the promises of DESIGN.md §2 hold while the store works.
//! The interesting cases are the ones a real disk, database or network produces at the worst
//! moment: an append that fails (nothing may be half-written and the next command must work),
//! an append whose *answer* is lost after the store committed it (the caller must be able to
//! retry with the same idempotency key and get the original events, never a second copy), a
//! store that hangs for one caller (other aggregates must go on), a checkpoint that cannot be
//! written (the subscriber must redeliver, never skip). [`FaultyStore`] produces each of these
//! on demand, deterministically, from a script of [`Rule`]s:
//!
//! ```
//! # use std::sync::Arc;
//! # use angzarr_runtime::storage::memory::MemoryEventStore;
//! use angzarr_runtime::storage::faulty::{Fault, FaultyStore, Op, Rule, injected};
//!
//! let store = FaultyStore::new(Arc::new(MemoryEventStore::new()));
//! // The second append from now fails before the inner store sees it.
//! store.script(Rule::on(Op::Append, Fault::Fail(injected("disk unplugged"))).on_call(2));
//! // Every checkpoint write is committed, but its caller is told it failed.
//! store.script(Rule::on(Op::PutCheckpoint, Fault::FailAfter(injected("answer lost"))).forever());
//! ```
//!
//! A rule counts the calls it matches (its operation and, when given, its history) from the
//! moment it is scripted; it fires from the `n`th of them ([`Rule::on_call`]) for as many calls
//! as [`Rule::times`] says (once by default). The first rule that fires decides the call; calls
//! no rule fires for go straight to the inner store.

use std::sync::{Arc, Mutex, PoisonError};

use angzarr_proto::Snapshot;
use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use super::{
    AppendRequest, Checkpoint, Edition, EventStore, HistoryKey, IdempotencyRecord, LoadOptions,
    LoadedHistory, ParkRequest, ParkedRecord, StorageError, StorageResult, StoredEvent,
};

/// The operations of [`EventStore`], to say which one a [`Rule`] is about.
/// ([`EventStore::load_with_idempotency`] counts as an [`Op::Idempotency`] followed by an
/// [`Op::Load`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Op {
    Load,
    ReadHistory,
    Append,
    PutSnapshot,
    GetSnapshot,
    ReadGlobal,
    HeadPosition,
    Idempotency,
    Checkpoint,
    PutCheckpoint,
    ListRoots,
    Park,
    ListParked,
    UpdateParked,
    RemoveParked,
    CreateEdition,
    Edition,
    ListEditions,
    DeleteEdition,
    ReadCorrelated,
}

/// What happens to a call a [`Rule`] fires for.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with the error without calling the inner store: nothing is written.
    Fail(StorageError),
    /// Calls the inner store, then answers with the error although the call succeeded (it
    /// committed): a torn write, as when the connection drops between commit and answer. When
    /// the inner call fails, its own error is the answer.
    FailAfter(StorageError),
    /// Waits until the [`Gate`] opens, then calls the inner store.
    Stall(Gate),
}

/// A backend error that says it was injected, for [`Fault::Fail`] and [`Fault::FailAfter`].
pub fn injected(message: &str) -> StorageError {
    StorageError::backend(std::io::Error::other(format!("injected fault: {message}")))
}

/// Holds stalled calls until it is opened. Clones share the gate.
#[derive(Debug, Clone)]
pub struct Gate {
    /// How many calls have reached the gate so far.
    arrived: Arc<watch::Sender<u64>>,
    open: Arc<watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            arrived: Arc::new(watch::Sender::new(0)),
            open: Arc::new(watch::Sender::new(false)),
        }
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until at least `count` calls have reached the gate (stalled, or passed it when
    /// it was already open).
    pub async fn arrived(&self, count: u64) {
        let mut arrived = self.arrived.subscribe();
        // The sender lives as long as `self`, so the wait ends only by the condition.
        let _ = arrived.wait_for(|n| *n >= count).await;
    }

    /// Opens the gate: every stalled call goes on, and later ones pass without waiting.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    async fn pass(&self) {
        self.arrived.send_modify(|n| *n += 1);
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

/// When a [`Fault`] applies: an operation, optionally one history, which matching call, and
/// how many times.
#[derive(Debug, Clone)]
pub struct Rule {
    op: Op,
    key: Option<HistoryKey>,
    first_call: u64,
    times: Option<u64>,
    fault: Fault,
    /// Matching calls seen so far.
    seen: u64,
    /// Calls it fired for so far.
    fired: u64,
}

impl Rule {
    /// `fault` on the next call of `op`, once.
    pub fn on(op: Op, fault: Fault) -> Self {
        Self {
            op,
            key: None,
            first_call: 1,
            times: Some(1),
            fault,
            seen: 0,
            fired: 0,
        }
    }

    /// Only calls about `key` match (appends, loads, reads of a history, snapshots,
    /// editions); calls about no history never match.
    pub fn for_key(mut self, key: &HistoryKey) -> Self {
        self.key = Some(key.clone());
        self
    }

    /// Fires first on the `n`th matching call (1-based) after the rule was scripted.
    pub fn on_call(mut self, n: u64) -> Self {
        self.first_call = n.max(1);
        self
    }

    /// Fires for `n` matching calls in a row (from the first one it fires on).
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fires for every matching call from the first one on.
    pub fn forever(mut self) -> Self {
        self.times = None;
        self
    }

    /// Counts a call; the fault when this rule fires for it.
    fn fire(&mut self, op: Op, key: Option<&HistoryKey>) -> Option<Fault> {
        if op != self.op || self.key.as_ref().is_some_and(|k| Some(k) != key) {
            return None;
        }
        self.seen += 1;
        let exhausted = self.times.is_some_and(|times| self.fired >= times);
        if self.seen < self.first_call || exhausted {
            return None;
        }
        self.fired += 1;
        Some(self.fault.clone())
    }
}

/// An [`EventStore`] that injects the faults of its script into calls to another store (see
/// the module docs).
pub struct FaultyStore {
    inner: Arc<dyn EventStore>,
    rules: Mutex<Vec<Rule>>,
    fired: Mutex<Vec<(Op, Option<HistoryKey>)>>,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field(
                "rules",
                &*self.rules.lock().unwrap_or_else(PoisonError::into_inner),
            )
            .finish_non_exhaustive()
    }
}

impl FaultyStore {
    /// Wraps `inner`, with an empty script (every call passes through).
    pub fn new(inner: Arc<dyn EventStore>) -> Self {
        Self {
            inner,
            rules: Mutex::new(Vec::new()),
            fired: Mutex::new(Vec::new()),
        }
    }

    /// Adds a rule to the script (after the ones already there).
    pub fn script(&self, rule: Rule) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(rule);
    }

    /// Removes every rule: from now on every call passes through. Calls already stalled
    /// stay stalled until their gate opens.
    pub fn heal(&self) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many faults were injected into calls of `op`.
    pub fn injected(&self, op: Op) -> usize {
        self.fired
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(fired, _)| *fired == op)
            .count()
    }

    /// The store underneath, to look at what really was committed.
    pub fn inner(&self) -> &Arc<dyn EventStore> {
        &self.inner
    }

    fn fault_for(&self, op: Op, key: Option<&HistoryKey>) -> Option<Fault> {
        let fault = self
            .rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
            .find_map(|rule| rule.fire(op, key))?;
        self.fired
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((op, key.cloned()));
        Some(fault)
    }

    /// Runs `call` (a future of the inner store, not started yet) under the script.
    async fn run<T>(
        &self,
        op: Op,
        key: Option<&HistoryKey>,
        call: impl Future<Output = StorageResult<T>>,
    ) -> StorageResult<T> {
        match self.fault_for(op, key) {
            None => call.await,
            Some(Fault::Fail(err)) => Err(err),
            Some(Fault::FailAfter(err)) => call.await.and(Err(err)),
            Some(Fault::Stall(gate)) => {
                gate.pass().await;
                call.await
            }
        }
    }
}

#[async_trait]
impl EventStore for FaultyStore {
    async fn load(&self, key: &HistoryKey, options: LoadOptions) -> StorageResult<LoadedHistory> {
        self.run(Op::Load, Some(key), self.inner.load(key, options))
            .await
    }

    async fn read_history(
        &self,
        key: &HistoryKey,
        from: u32,
        to: Option<u32>,
    ) -> StorageResult<Vec<StoredEvent>> {
        let call = self.inner.read_history(key, from, to);
        self.run(Op::ReadHistory, Some(key), call).await
    }

    async fn append(&self, request: AppendRequest) -> StorageResult<Vec<StoredEvent>> {
        let key = request.key.clone();
        self.run(Op::Append, Some(&key), self.inner.append(request))
            .await
    }

    async fn put_snapshot(&self, key: &HistoryKey, snapshot: Snapshot) -> StorageResult<()> {
        let call = self.inner.put_snapshot(key, snapshot);
        self.run(Op::PutSnapshot, Some(key), call).await
    }

    async fn get_snapshot(&self, key: &HistoryKey) -> StorageResult<Option<Snapshot>> {
        self.run(Op::GetSnapshot, Some(key), self.inner.get_snapshot(key))
            .await
    }

    async fn read_global(&self, after: u64, limit: usize) -> StorageResult<Vec<StoredEvent>> {
        let call = self.inner.read_global(after, limit);
        self.run(Op::ReadGlobal, None, call).await
    }

    async fn head_position(&self) -> StorageResult<u64> {
        self.run(Op::HeadPosition, None, self.inner.head_position())
            .await
    }

    async fn idempotency(&self, key: &str) -> StorageResult<Option<IdempotencyRecord>> {
        self.run(Op::Idempotency, None, self.inner.idempotency(key))
            .await
    }

    async fn checkpoint(&self, subscriber: &str) -> StorageResult<u64> {
        self.run(Op::Checkpoint, None, self.inner.checkpoint(subscriber))
            .await
    }

    async fn put_checkpoint(&self, checkpoint: Checkpoint) -> StorageResult<()> {
        let call = self.inner.put_checkpoint(checkpoint);
        self.run(Op::PutCheckpoint, None, call).await
    }

    async fn list_roots(
        &self,
        domain: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StorageResult<Vec<Uuid>> {
        let call = self.inner.list_roots(domain, after, limit);
        self.run(Op::ListRoots, None, call).await
    }

    async fn park(&self, request: ParkRequest) -> StorageResult<u64> {
        self.run(Op::Park, None, self.inner.park(request)).await
    }

    async fn list_parked(&self, subscriber: Option<&str>) -> StorageResult<Vec<ParkedRecord>> {
        let call = self.inner.list_parked(subscriber);
        self.run(Op::ListParked, None, call).await
    }

    async fn update_parked(&self, id: u64, error: &str, attempts: u32) -> StorageResult<bool> {
        let call = self.inner.update_parked(id, error, attempts);
        self.run(Op::UpdateParked, None, call).await
    }

    async fn remove_parked(&self, id: u64) -> StorageResult<bool> {
        self.run(Op::RemoveParked, None, self.inner.remove_parked(id))
            .await
    }

    async fn create_edition(&self, key: &HistoryKey, divergence: u32) -> StorageResult<Edition> {
        let call = self.inner.create_edition(key, divergence);
        self.run(Op::CreateEdition, Some(key), call).await
    }

    async fn edition(&self, key: &HistoryKey) -> StorageResult<Option<Edition>> {
        self.run(Op::Edition, Some(key), self.inner.edition(key))
            .await
    }

    async fn list_editions(
        &self,
        domain: Option<&str>,
        root: Option<Uuid>,
    ) -> StorageResult<Vec<Edition>> {
        let call = self.inner.list_editions(domain, root);
        self.run(Op::ListEditions, None, call).await
    }

    async fn delete_edition(&self, key: &HistoryKey) -> StorageResult<Option<u64>> {
        let call = self.inner.delete_edition(key);
        self.run(Op::DeleteEdition, Some(key), call).await
    }

    async fn read_correlated(
        &self,
        correlation_id: &str,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<StoredEvent>> {
        let call = self.inner.read_correlated(correlation_id, after, limit);
        self.run(Op::ReadCorrelated, None, call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::NewEvent;
    use crate::storage::memory::MemoryEventStore;

    fn request(key: &HistoryKey, expected_next: u32) -> AppendRequest {
        AppendRequest {
            key: key.clone(),
            expected_next,
            correlation_id: "faulty".into(),
            events: vec![NewEvent {
                event: prost_types::Any {
                    type_url: "type.googleapis.com/test.Happened".into(),
                    value: vec![],
                },
                causation: None,
            }],
            snapshot: None,
            idempotency: None,
            checkpoint: None,
        }
    }

    fn store() -> FaultyStore {
        FaultyStore::new(Arc::new(MemoryEventStore::new()))
    }

    #[tokio::test]
    async fn a_rule_fires_on_its_nth_matching_call_for_its_history_only_as_often_as_told() {
        let store = store();
        let (a, b) = (
            HistoryKey::main("d", Uuid::from_u128(1)),
            HistoryKey::main("d", Uuid::from_u128(2)),
        );
        store.script(
            Rule::on(Op::Append, Fault::Fail(injected("full")))
                .for_key(&a)
                .on_call(2)
                .times(2),
        );
        store.append(request(&a, 0)).await.expect("1st call of a");
        store.append(request(&b, 0)).await.expect("b never matches");
        assert!(store.append(request(&a, 1)).await.is_err(), "2nd call of a");
        assert!(store.append(request(&a, 1)).await.is_err(), "3rd call of a");
        store
            .append(request(&a, 1))
            .await
            .expect("the rule is spent");
        assert_eq!(store.injected(Op::Append), 2);
        assert_eq!(store.head_position().await.expect("head"), 3);
    }

    #[tokio::test]
    async fn fail_writes_nothing_and_fail_after_commits_but_reports_the_error() {
        let store = store();
        let key = HistoryKey::main("d", Uuid::from_u128(1));
        store.script(Rule::on(Op::Append, Fault::Fail(injected("before"))));
        let err = store.append(request(&key, 0)).await.expect_err("fails");
        assert!(err.to_string().contains("injected fault: before"), "{err}");
        assert_eq!(store.head_position().await.expect("head"), 0);

        store.script(Rule::on(Op::Append, Fault::FailAfter(injected("after"))));
        let err = store.append(request(&key, 0)).await.expect_err("fails");
        assert!(err.to_string().contains("injected fault: after"), "{err}");
        assert_eq!(store.head_position().await.expect("head"), 1, "committed");
    }

    #[tokio::test]
    async fn a_stalled_call_waits_for_its_gate_and_heal_clears_the_script() {
        let store = Arc::new(store());
        let key = HistoryKey::main("d", Uuid::from_u128(1));
        let gate = Gate::new();
        store.script(Rule::on(Op::Append, Fault::Stall(gate.clone())));
        store.script(Rule::on(Op::HeadPosition, Fault::Fail(injected("x"))).forever());
        let stalled = tokio::spawn({
            let store = store.clone();
            let request = request(&key, 0);
            async move { store.append(request).await }
        });
        gate.arrived(1).await;
        assert!(!stalled.is_finished());
        store.heal();
        assert_eq!(store.head_position().await.expect("healed"), 0);
        gate.open();
        let committed = stalled.await.expect("task").expect("append");
        assert_eq!(committed[0].position, 1);
    }
}
