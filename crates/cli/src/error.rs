//! What can go wrong, phrased as what to do about it.

use std::path::PathBuf;

use tonic::Code;

/// An error of the CLI. Its message says what was wrong and what to do; [`Error::exit_code`]
/// says how the process should exit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest could not be used.
    #[error("{0}")]
    Config(String),

    /// A socket exists nowhere or nothing answers on it.
    #[error(
        "cannot connect to {what} at {}: {reason}. Is the runtime running? Start it with \
         `angzarr-standalone run` (or point --socket-dir / -c at the right place)",
        path.display()
    )]
    NotRunning {
        /// What we tried to reach, e.g. "the customer business logic".
        what: String,
        /// The socket or socket directory.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },

    /// The domain argument cannot be a domain name.
    #[error("{0:?} is not a domain name (domains are plain names such as customer)")]
    BadDomain(String),

    /// The runtime is up but serves no such domain.
    #[error(
        "no domain {domain:?} in {}; the runtime serves: {}",
        dir.display(),
        known.join(", ")
    )]
    UnknownDomain {
        /// The domain asked for.
        domain: String,
        /// The socket directory.
        dir: PathBuf,
        /// The domains that have sockets there.
        known: Vec<String>,
    },

    /// The command type names no message the business logic describes.
    #[error(
        "unknown command type {name:?} for domain {domain}; known: {}. Pass one of these, or a \
         full message name such as package.Message",
        if candidates.is_empty() { "(none found through gRPC reflection)".to_string() } else { candidates.join(", ") }
    )]
    UnknownType {
        /// The name asked for.
        name: String,
        /// The domain.
        domain: String,
        /// Names that would have worked.
        candidates: Vec<String>,
    },

    /// A short name matches messages of several packages.
    #[error("command type {name:?} is ambiguous; pass the full name: {}", matches.join(", "))]
    AmbiguousType {
        /// The name asked for.
        name: String,
        /// The full names it matches.
        matches: Vec<String>,
    },

    /// The JSON does not describe a message of the type.
    #[error("invalid JSON for {type_name}: {reason}; its fields are: {}", fields.join(", "))]
    BadJson {
        /// The full message name.
        type_name: String,
        /// What the parser said.
        reason: String,
        /// `name (type)` of every field, to help fix the input.
        fields: Vec<String>,
    },

    /// gRPC reflection failed or answered something unusable.
    #[error("cannot read message types from {}: {reason}", path.display())]
    Reflection {
        /// The business-logic socket.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// The runtime answered the command with an error status (a business rejection included).
    #[error("{}: {message}{}", code_name(*code), hint(*code))]
    Status {
        /// The gRPC status code.
        code: Code,
        /// The status message, unchanged.
        message: String,
    },

    /// Writing the result failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// Whether the reader of the output went away (`angzarr tail | head`): the usual end of a
    /// pipeline, not something to report.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(err) if err.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A failed call's status, passed on unchanged.
    pub(crate) fn rpc(status: tonic::Status) -> Self {
        Error::Status {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

impl Error {
    /// The process exit code: 1 when the runtime refused or failed the command, 2 for bad
    /// input or configuration, 3 when the runtime cannot be reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Status { .. } | Error::Reflection { .. } | Error::Output(_) => 1,
            Error::Config(_)
            | Error::BadDomain(_)
            | Error::UnknownDomain { .. }
            | Error::UnknownType { .. }
            | Error::AmbiguousType { .. }
            | Error::BadJson { .. } => 2,
            Error::NotRunning { .. } => 3,
        }
    }
}

fn hint(code: Code) -> &'static str {
    match code {
        Code::Aborted => {
            " (the aggregate has moved on: re-read it and retry with the --expect-sequence the \
             message names, or without --expect-sequence)"
        }
        Code::Unavailable => {
            " (the runtime or the component is not reachable; it may be restarting. Check that \
             `angzarr-standalone run` is running)"
        }
        _ => "",
    }
}

/// The canonical upper-case name of a gRPC status code, e.g. `FAILED_PRECONDITION`.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_print_code_message_and_hint() {
        let rejected = Error::Status {
            code: Code::FailedPrecondition,
            message: "customer already exists".into(),
        };
        assert_eq!(
            rejected.to_string(),
            "FAILED_PRECONDITION: customer already exists"
        );
        assert_eq!(rejected.exit_code(), 1);
        let stale = Error::Status {
            code: Code::Aborted,
            message: "expected sequence 1, next is 3".into(),
        };
        assert!(stale.to_string().contains("--expect-sequence"));
    }
}
