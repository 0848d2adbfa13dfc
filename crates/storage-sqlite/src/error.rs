//! The errors of this crate. Everything but opening reports through
//! [`StorageError`]: these become its `Backend` case.

use std::path::PathBuf;
use std::sync::Arc;

use angzarr_runtime::storage::StorageError;

/// What can go wrong in the SQLite event store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file exists but is not a SQLite database (or is encrypted or damaged). Point the
    /// store at another path; the file was not changed.
    #[error("{} is not a SQLite database (or it is encrypted or damaged); it was left unchanged", .path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a SQLite database that angzarr did not create. Point the store at another
    /// path; the file was not changed.
    #[error("{} is a SQLite database of another application ({reason}); it was left unchanged", .path.display())]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The file was written by a newer angzarr with a schema this build does not know.
    #[error(
        "{} has event store schema version {found}, but this build of angzarr supports up to version {supported}; use a newer angzarr",
        .path.display()
    )]
    UnsupportedSchema {
        /// The file.
        path: PathBuf,
        /// The schema version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Another event store (in this or another process) has the file open. Only one may: the
    /// store keeps in memory what the file holds (see `SqliteOptions::known_keys_bytes`).
    #[error(
        "{} is in use by another angzarr event store (another runtime, or this one started twice); stop it or use another path",
        .path.display()
    )]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// SQLite failed; `context` says what the store was doing.
    #[error("{context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The disk is full, or the database reached its size limit (`SQLITE_FULL`). The write
    /// was rolled back: nothing of it is stored, and reads still work. Free space, then retry.
    #[error(
        "{context}: the event store is full (no space left on the disk, or the database reached its size limit); nothing of this write was stored; free space and retry"
    )]
    Full {
        /// What the store was doing.
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite rolled back the group commit the write was in, because another write in it
    /// failed in a way that ends the transaction (disk full, I/O error). Nothing of this
    /// write was stored; it can be retried.
    #[error(
        "the write was rolled back with the others of its group commit after one of them failed (disk full or I/O error); nothing of it was stored; retry it"
    )]
    BatchRolledBack,
    /// The operating system failed; `context` says what the store was doing.
    #[error("{context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A stored row cannot be decoded; the file was damaged or written by a broken build.
    #[error("corrupt event store data: {0}")]
    Corrupt(String),
    /// The writer thread stopped (it panicked); the store must be reopened.
    #[error("the SQLite writer thread stopped unexpectedly; reopen the event store")]
    WriterStopped,
}

impl From<Error> for StorageError {
    fn from(err: Error) -> Self {
        StorageError::Backend(Arc::new(err))
    }
}

/// Adds what the store was doing to a SQLite error.
pub(crate) trait Context<T> {
    /// Wraps the error with `context` (only built when there is an error).
    fn context(self, context: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| {
            let context = context();
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                Error::Full { context, source }
            } else {
                Error::Sqlite { context, source }
            }
        })
    }
}
