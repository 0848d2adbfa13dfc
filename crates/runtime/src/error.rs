//! The runtime's error type, and its one conversion to a gRPC status (DESIGN.md §3).

use crate::storage::{HistoryKey, StorageError};

/// Errors of the runtime. Each case says what a caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The business logic refused the command. Pass it to the client unchanged; never retry.
    #[error("{message}")]
    Rejected {
        /// The status code the business logic chose.
        code: tonic::Code,
        /// Its message, unchanged.
        message: String,
    },
    /// The command named an expected sequence that is stale. The client may re-read the
    /// history and decide again.
    #[error(
        "sequence conflict on {key}: the command expected next sequence {expected}, but the aggregate's next sequence is {actual}"
    )]
    Conflict {
        /// The history.
        key: HistoryKey,
        /// The sequence the command expected.
        expected: u32,
        /// The current next sequence.
        actual: u32,
    },
    /// The business-logic component cannot be reached right now. Retry later.
    #[error("component {component} is unavailable: {reason}")]
    Unavailable {
        /// The component.
        component: String,
        /// Why (e.g. "restarting after exit code 1").
        reason: String,
    },
    /// No such domain or component.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed; nothing was changed.
    #[error("{0}")]
    InvalidArgument(String),
    /// The idempotency key was used before for a different command.
    #[error("{0}")]
    AlreadyExists(String),
    /// A feature the request asks for is not available in this build.
    #[error("{0}")]
    Unimplemented(String),
    /// The business logic answered something the runtime cannot store (e.g. an event without
    /// a type). Nothing was written; the component needs fixing.
    #[error("component {component} returned an invalid result: {message}")]
    LogicFault {
        /// The component.
        component: String,
        /// What was wrong.
        message: String,
    },
    /// A message to or from the component is larger than
    /// [`MAX_LOGIC_MESSAGE_BYTES`](angzarr_proto::MAX_LOGIC_MESSAGE_BYTES). Nothing was
    /// stored; retrying cannot help (snapshots keep histories short).
    #[error("component {component}: {message}")]
    TooLarge {
        /// The component.
        component: String,
        /// Which message, and how large.
        message: String,
    },
    /// The store failed; nothing was half-written.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Error {
    /// The gRPC status for this error (the only place errors become statuses).
    pub fn to_status(&self) -> tonic::Status {
        use tonic::{Code, Status};
        match self {
            Error::Rejected { code, message } => Status::new(*code, message.clone()),
            Error::Conflict { .. } => Status::aborted(self.to_string()),
            Error::Unavailable { .. } => Status::unavailable(self.to_string()),
            Error::NotFound(_) => Status::not_found(self.to_string()),
            Error::InvalidArgument(_) => Status::invalid_argument(self.to_string()),
            Error::AlreadyExists(_) => Status::already_exists(self.to_string()),
            Error::Unimplemented(_) => Status::unimplemented(self.to_string()),
            Error::LogicFault { .. } => Status::internal(self.to_string()),
            Error::TooLarge { .. } => Status::resource_exhausted(self.to_string()),
            Error::Storage(StorageError::Invalid(msg)) => Status::invalid_argument(msg.clone()),
            Error::Storage(StorageError::NotFound(msg)) => Status::not_found(msg.clone()),
            Error::Storage(err @ StorageError::EditionExists(_)) => Status::already_exists(
                format!("{err}; pick another name, or delete the edition first"),
            ),
            Error::Storage(StorageError::Closed) => Status::unavailable(self.to_string()),
            Error::Storage(_) => Status::new(Code::Internal, self.to_string()),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        err.to_status()
    }
}

/// Result alias of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;
