//! Editions of one domain's aggregates (DESIGN.md §2.10), created and deleted under the lock
//! of the edition's history, so a command to an edition never races its deletion.

use angzarr_proto::Cover;

use super::AggregateCoordinator;
use crate::error::{Error, Result};
use crate::storage::{Edition, EventStore, HistoryKey, LoadOptions, StorageError};

/// NOT_FOUND unless `key` is main or a created edition.
pub(super) async fn check_exists(store: &dyn EventStore, key: &HistoryKey) -> Result<()> {
    if key.is_main() || store.edition(key).await?.is_some() {
        return Ok(());
    }
    Err(no_such_edition(key))
}

fn no_such_edition(key: &HistoryKey) -> Error {
    Error::NotFound(format!(
        "no edition {:?} of {}/{}; create it first (angzarr.Editions/Create, `angzarr edition create`)",
        key.edition, key.domain, key.root
    ))
}

/// An edition and where its history stands.
#[derive(Debug, Clone, PartialEq)]
pub struct EditionInfo {
    /// The edition.
    pub edition: Edition,
    /// The sequence its next event will get.
    pub next_sequence: u32,
}

impl AggregateCoordinator {
    /// The history an edition request names: this domain, a root, a non-empty edition name.
    fn edition_key(&self, cover: &Cover) -> Result<HistoryKey> {
        let key = self.history_key(cover)?;
        if key.is_main() {
            return Err(Error::InvalidArgument(
                "the cover names no edition (set Cover.edition)".into(),
            ));
        }
        Ok(key)
    }

    /// Creates the edition `cover.edition` of `cover.root`, sharing main's events
    /// `0..=divergence`.
    pub async fn create_edition(&self, cover: &Cover, divergence: u32) -> Result<EditionInfo> {
        let key = self.edition_key(cover)?;
        let lock = self.locks.lock(&key);
        let _guard = lock.lock().await;
        let edition = self.store.create_edition(&key, divergence).await?;
        Ok(EditionInfo {
            edition,
            next_sequence: divergence + 1,
        })
    }

    /// The edition `cover` names (NOT_FOUND when it does not exist).
    pub async fn edition(&self, cover: &Cover) -> Result<EditionInfo> {
        let key = self.edition_key(cover)?;
        let edition = self
            .store
            .edition(&key)
            .await?
            .ok_or_else(|| no_such_edition(&key))?;
        let next_sequence = self
            .store
            .load(&key, LoadOptions { use_snapshot: true })
            .await?
            .next_sequence;
        Ok(EditionInfo {
            edition,
            next_sequence,
        })
    }

    /// Deletes the edition `cover` names with its own events; returns how many were removed.
    pub async fn delete_edition(&self, cover: &Cover) -> Result<u64> {
        let key = self.edition_key(cover)?;
        let lock = self.locks.lock(&key);
        let _guard = lock.lock().await;
        match self.store.delete_edition(&key).await {
            Ok(Some(removed)) => Ok(removed),
            Ok(None) => Err(no_such_edition(&key)),
            Err(StorageError::NotFound(_)) => Err(no_such_edition(&key)),
            Err(err) => Err(err.into()),
        }
    }
}
