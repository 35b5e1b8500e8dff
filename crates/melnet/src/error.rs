//! The crate's error type.

/// Everything that can go wrong in `melnet`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid config {name} = {value}: {reason}")]
    InvalidConfig {
        /// Config key.
        name: &'static str,
        /// The offending value.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A tensor has the wrong shape.
    #[error("{what}: expected shape {expected}, got {got}")]
    Shape {
        /// What was checked.
        what: &'static str,
        /// Expected shape.
        expected: String,
        /// Actual shape.
        got: String,
    },
    /// A checkpoint is missing, unreadable, or does not match the configuration.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The loss, the gradient or the weights became NaN or infinite.
    #[error("non-finite {what} ({value}) at step {step}")]
    NonFinite {
        /// What: "loss", "gradient norm" or "weights".
        what: &'static str,
        /// The step.
        step: u64,
        /// The offending value (for the weights: their sum of squares).
        value: f64,
    },
    /// A settings file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A request that does not fit what it is made of (a plan for a model directory that
    /// holds something else, a tier the model does not have).
    #[error("{0}")]
    Invalid(String),
    /// Training failed after a checkpoint: `dir` holds the last good one.
    #[error("training stopped; the last good checkpoint is in {}: {cause}", dir.display())]
    Stopped {
        /// The tier directory.
        dir: std::path::PathBuf,
        /// What went wrong.
        cause: Box<Error>,
    },
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error from melspec.
    #[error(transparent)]
    Melspec(#[from] melspec::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
