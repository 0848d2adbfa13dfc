//! The harness's errors: a missing binary is the one a user fixes by hand; the rest say what
//! was being set up when it failed.

use std::path::PathBuf;

/// Why a benchmark run could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sibling binary the run needs has not been built.
    #[error(
        "{name} not found in {dir}: build the binaries first (`cargo build --release --bins`, \
         or run `scripts/bench`), or point --bin-dir at the directory that holds them"
    )]
    MissingBinary {
        /// The binary.
        name: &'static str,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// An I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What failed.
        context: String,
        /// Why.
        source: std::io::Error,
    },
    /// A scenario could not be set up or run (store, connection, process start).
    #[error("{0}")]
    Setup(String),
}

/// Result alias of the harness.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A setup failure described by `context` and the underlying error.
    pub(crate) fn setup(context: &str, err: impl std::fmt::Display) -> Self {
        Error::Setup(format!("{context}: {err}"))
    }

    /// An I/O failure while doing `context`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
