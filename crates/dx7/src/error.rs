//! The crate's error type.

/// Everything that can go wrong reading voice data or rendering.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A voice field holds a value outside the DX7's range.
    #[error("voice {voice} ({name}): {field} = {value} is out of range 0..={max}")]
    Field {
        /// 1-based voice number within the file or bank.
        voice: usize,
        /// The voice's name as stored (trimmed), for the message.
        name: String,
        /// The field's name (see [`crate::voice::PARAMS`]).
        field: String,
        /// The stored value.
        value: u8,
        /// The largest value the field takes.
        max: u8,
    },
    /// A SysEx message's checksum does not match its data.
    #[error("bulk dump {message}: checksum 0x{stored:02x} does not match its data (expected 0x{expected:02x})")]
    Checksum {
        /// 1-based SysEx message number within the file.
        message: usize,
        /// The checksum byte in the file.
        stored: u8,
        /// `(−Σ data) & 0x7F`.
        expected: u8,
    },
    /// Bytes that are not DX7 voice data (wrong size, header, or framing).
    #[error("not DX7 voice data: {0}")]
    Format(String),
    /// A render setting outside what the engine accepts.
    #[error("invalid {name} = {value}: {reason}")]
    Setting {
        /// The setting's name (`note`, `velocity`, `sr`, …).
        name: &'static str,
        /// Its value.
        value: f64,
        /// What the setting must satisfy.
        reason: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
