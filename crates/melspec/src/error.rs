//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `melspec`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter value is out of range or inconsistent with another one.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name, as spelled in the CLI and configs (`hop_length`, `fmax`, …).
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// An array or signal does not have the length or shape it must have.
    #[error("{what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was being checked.
        what: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// Input data is unusable (empty, non-finite, negative power, …).
    #[error("{0}")]
    InvalidInput(String),
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (part of the message, not a separate cause).
        error: std::io::Error,
    },
    /// A file could not be decoded as audio.
    #[error("{path}: cannot decode audio: {reason}")]
    Decode {
        /// The file concerned.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// A `.npy` file could not be read or written.
    #[error("{path}: {reason}")]
    Npy {
        /// The file concerned.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A size (declared in a file, or asked for) would need more memory than the budget of
    /// [`crate::limits::memory_limit`].
    #[error("{what} needs about {needed} of memory, more than the limit of {limit} (physical memory, or MELNET_MEMORY_LIMIT)")]
    TooLarge {
        /// What was to be allocated.
        what: String,
        /// The estimate, formatted.
        needed: String,
        /// The budget, formatted.
        limit: String,
    },
    /// Resampling failed.
    #[error("resampling failed: {0}")]
    Resample(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: &'static str, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
