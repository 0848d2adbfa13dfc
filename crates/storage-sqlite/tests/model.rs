//! The SQLite event store against the storage model (`angzarr_runtime::storage::model`):
//! random sequences of appends, conflicts, snapshots, idempotent replays, checkpoints, parking,
//! editions and reopenings of the same file, compared with the model after every step.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use angzarr_runtime::storage::EventStore;
use angzarr_runtime::storage::conformance::StoreFactory;
use angzarr_runtime::storage::model::{self, Op};
use angzarr_storage_sqlite::{SqliteEventStore, SqliteOptions};
use async_trait::async_trait;
use tempfile::TempDir;

/// A store in a file of its own temporary directory; every `open` opens that same file, so
/// the model's `Reopen` closes and reopens it.
struct TempFile(TempDir);

impl TempFile {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("create a temporary directory"))
    }

    fn path(&self) -> PathBuf {
        self.0.path().join("events.db")
    }
}

#[async_trait]
impl StoreFactory for TempFile {
    /// Opens the file and waits for its filters of stored keys, so that the model checks the
    /// answers given from memory as well as the ones read from the file.
    async fn open(&self) -> Arc<dyn EventStore> {
        let store =
            SqliteEventStore::open(SqliteOptions::new(self.path())).expect("open the store");
        let loaded = tokio::time::timeout(Duration::from_secs(10), store.known_keys_loaded())
            .await
            .expect("the key filters took more than 10 s to load");
        assert!(loaded, "the key filters never loaded");
        Arc::new(store)
    }
}

angzarr_runtime::event_store_model!(TempFile::new());

/// Found by the model: once the newest parked record was removed, SQLite handed its id to the
/// next parked event, so a re-drive or update naming the removed record reached another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_parked_id_is_never_handed_out_again() {
    let park = Op::Park {
        subscriber: 0,
        position: 0,
        attempts: 1,
    };
    let ops = [park.clone(), Op::RemoveParked { nth: 0 }, park];
    if let Err(failure) = model::run(&TempFile::new(), &ops).await {
        panic!("{failure}");
    }
}
