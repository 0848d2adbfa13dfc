//! Business rejections.
//!
//! A rejection is the business logic saying "no": it emits nothing, changes nothing, and the
//! runtime hands it to the caller unchanged and never retries it. Keeping it a separate type
//! (rather than a raw `tonic::Status`) limits handlers to the codes the contract allows.

use std::fmt;

use tonic::{Code, Status};

/// A command refused by a business rule.
///
/// Converts into a [`tonic::Status`] with the same code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    code: Code,
    message: String,
}

impl Rejection {
    /// Existence, lifecycle or state forbids the command (`FAILED_PRECONDITION`).
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, message)
    }

    /// A field of the command is wrong, alone or measured against the state
    /// (`INVALID_ARGUMENT`).
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    /// The thing the command names does not exist inside the aggregate (`NOT_FOUND`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// A sum or product does not fit its field type: `INVALID_ARGUMENT "overflow"`.
    ///
    /// Handy with checked arithmetic: `a.checked_add(b).ok_or_else(Rejection::overflow)?`.
    pub fn overflow() -> Self {
        Self::invalid_argument("overflow")
    }

    fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The gRPC status code the caller will see.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message the caller will see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for Status {
    fn from(rejection: Rejection) -> Self {
        Status::new(rejection.code, rejection.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_status_with_code_and_message() {
        let cases = [
            (
                Rejection::failed_precondition("gone"),
                Code::FailedPrecondition,
                "gone",
            ),
            (
                Rejection::invalid_argument("bad"),
                Code::InvalidArgument,
                "bad",
            ),
            (Rejection::not_found("no line"), Code::NotFound, "no line"),
            (Rejection::overflow(), Code::InvalidArgument, "overflow"),
        ];
        for (rejection, code, message) in cases {
            assert_eq!(rejection.code(), code);
            assert_eq!(rejection.message(), message);
            let status = Status::from(rejection);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }
}
