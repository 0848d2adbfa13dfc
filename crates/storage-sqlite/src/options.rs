//! How to open a [`SqliteEventStore`](crate::SqliteEventStore).

use std::path::PathBuf;
use std::time::Duration;

/// How hard a commit works to survive a crash; maps to `PRAGMA synchronous`.
///
/// With WAL, [`Durability::Normal`] survives a crash of the process but may lose the last
/// transactions on power loss or an OS crash (the WAL is synced only at checkpoints);
/// [`Durability::Full`] syncs the WAL on every commit and survives both. Group commit spreads
/// the cost of that sync over every request in a batch, so `Full` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `PRAGMA synchronous = FULL`: survives process crashes and power loss.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: survives process crashes; may lose the last commits on
    /// power loss.
    Normal,
}

impl Durability {
    /// The value of `PRAGMA synchronous` this setting applies (`FULL` = 2, `NORMAL` = 1).
    pub fn synchronous_level(self) -> i64 {
        match self {
            Durability::Full => 2,
            Durability::Normal => 1,
        }
    }

    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Where the store lives and how it behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The database file (created when missing; its directory must exist), or `:memory:` for
    /// a store that lives and dies with the [`SqliteEventStore`](crate::SqliteEventStore).
    pub path: PathBuf,
    /// How hard a commit works to survive a crash (default [`Durability::Full`]).
    pub durability: Durability,
    /// Reader connections (default 4). With 0, and always for `:memory:`, reads share the
    /// writer's connection and wait for the batch being committed.
    pub readers: usize,
    /// The most requests one group commit takes (default 256; at least 1).
    pub max_batch: usize,
    /// How long a connection waits for a lock held by another process (default 5 s).
    pub busy_timeout: Duration,
    /// The most writes queued for the writer thread (default 4 096; at least 1). A caller
    /// beyond it waits for room, so a store slower than its callers holds them back instead of
    /// queueing without bound.
    pub max_queued_writes: usize,
    /// Bytes of memory for the filters of stored idempotency keys and histories (default
    /// 8 MiB; 0 turns them off). They let a command with a new key, or to a new aggregate, skip
    /// a read; about 10 bits per key keeps that true for 99% of such commands (3.3 million
    /// keys and as many histories at the default). More keys only make more commands read.
    pub known_keys_bytes: usize,
    /// Bytes of the database file each connection reads through a memory map instead of
    /// `pread` (`PRAGMA mmap_size`; default 256 MiB, 0 = off; ignored for `:memory:`). Reading
    /// a long history no longer copies every page through a system call; the mapped pages are
    /// the kernel's page cache, shared, not extra memory.
    pub mmap_bytes: u64,
}

impl SqliteOptions {
    /// The path that names an in-memory store.
    pub const IN_MEMORY: &'static str = ":memory:";

    /// Default options for the database file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            durability: Durability::default(),
            readers: 4,
            max_batch: 256,
            busy_timeout: Duration::from_secs(5),
            max_queued_writes: 4096,
            known_keys_bytes: 8 << 20,
            mmap_bytes: 256 << 20,
        }
    }

    /// Default options for an in-memory store (nothing survives closing it).
    pub fn in_memory() -> Self {
        Self::new(Self::IN_MEMORY)
    }

    /// These options with another durability.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// These options with another bound on queued writes.
    pub fn with_max_queued_writes(mut self, max_queued_writes: usize) -> Self {
        self.max_queued_writes = max_queued_writes;
        self
    }

    /// These options with filters of `bytes` bytes (see [`SqliteOptions::known_keys_bytes`]).
    pub fn with_known_keys_bytes(mut self, bytes: usize) -> Self {
        self.known_keys_bytes = bytes;
        self
    }

    /// These options with another memory map size (see [`SqliteOptions::mmap_bytes`]).
    pub fn with_mmap_bytes(mut self, bytes: u64) -> Self {
        self.mmap_bytes = bytes;
        self
    }

    /// Whether the store lives in memory only.
    pub fn is_in_memory(&self) -> bool {
        self.path.as_os_str() == Self::IN_MEMORY
    }
}
