//! Several `angzarr-standalone` processes on one host, forming one system.
//!
//! Each process owns some domains and keeps their events in its own store, with its own
//! global positions. This crate connects the processes:
//!
//! - [`registry`]: discovery and ownership in a shared IPC directory (0700): who runs, what it
//!   owns, where its sockets are; a second owner of a domain is refused at start; registrations
//!   of dead processes are detected by their lock and cleaned.
//! - [`bus`]: the IPC bus over local sockets (the `interprocess` crate). Publishers filter by
//!   domain and type before writing; each subscriber has a bounded buffer; a full or vanished
//!   reader never blocks a writer. It is a fast path only.
//! - [`remote`]: what makes it reliable. A subscriber of another process's domains reads that
//!   process's log through an [`EventSource`](angzarr_runtime::delivery::EventSource) with a
//!   durable checkpoint per source process; bus frames are used when they are contiguous, and
//!   any gap (a full buffer, a restart, a dead connection) is read from the owner's
//!   `EventQuery.Synchronize`. Commands for domains owned elsewhere are forwarded to the
//!   owner's coordinator socket as sent.
//!
//! Why catch up through the owner's `EventQuery` rather than opening its store read-only: it
//! works with any storage adapter (a `:memory:` store, later PostgreSQL) and through the same
//! contract the distributed mode will use (DESIGN.md §2.7); it never couples processes to a
//! schema or to SQLite's locking across processes; and the owner stays the only reader of its
//! files. The price: while an owner is down, its events wait for it to return — but nothing
//! new can be stored in its domains meanwhile either.

#![warn(missing_docs)]

use std::path::PathBuf;

pub mod bus;
pub mod frame;
pub mod registry;
pub mod remote;

pub use bus::{BusListener, IpcBus, LocalAndIpc};
pub use registry::{Claim, IpcDir, Peer, Registration};

/// The version of the IPC protocol (frames, registrations). Processes of one system must
/// speak the same one.
pub const PROTOCOL_VERSION: u32 = 1;

/// Errors of the IPC layer. Start-up errors say what to change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error with what we were doing.
    #[error("{action} {path}: {source}")]
    Io {
        /// What failed.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The IPC directory cannot be used.
    #[error("IPC directory {path} cannot be used: {reason}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another live process owns one of our domains.
    #[error(
        "domain {domain:?} is already owned by runtime process {process:?} (pid {pid}); each domain must be owned by exactly one process: remove it from one of the manifests"
    )]
    DuplicateOwner {
        /// The domain.
        domain: String,
        /// The process owning it.
        process: String,
        /// Its pid.
        pid: u32,
    },
    /// A live process has our name.
    #[error(
        "a runtime process named {process:?} (pid {pid}) is already running with IPC directory {dir}; give each process its own [ipc] process name"
    )]
    DuplicateProcess {
        /// The name.
        process: String,
        /// Its pid.
        pid: u32,
        /// The IPC directory.
        dir: PathBuf,
    },
    /// A live process speaks another protocol version.
    #[error(
        "runtime process {process:?} (pid {pid}) speaks IPC protocol version {theirs}, this one speaks {ours}; run the same Angzarr version in every process of a system"
    )]
    ProtocolMismatch {
        /// The other process.
        process: String,
        /// Its pid.
        pid: u32,
        /// Its version.
        theirs: u32,
        /// Ours.
        ours: u32,
    },
    /// A registration file that is not ours to read.
    #[error(
        "cannot read registration {path}: {reason} (written by another Angzarr version? stop that process, or remove the file if it is gone)"
    )]
    UnreadableRegistration {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The peer does not follow the protocol.
    #[error("IPC protocol error: {0}")]
    Protocol(String),
}
