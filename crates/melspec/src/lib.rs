//! # melspec
//!
//! Mel-spectrogram analysis that matches librosa to float precision: audio decoding and
//! resampling, windows, STFT / iSTFT, mel filterbanks, dB scaling, `.npy` I/O.
//!
//! ## Conventions
//!
//! - Signals are mono `f32` in [−1, 1]; lengths are in samples, rates in Hz.
//! - Spectrograms are `(bins, frames)`, librosa's order: an `ndarray::Array2` in C order, so
//!   writing it to `.npy` gives what `np.load` of librosa's output gives.
//! - The STFT is unnormalised, centred by default with zero padding, phase referenced to the
//!   frame start; the iSTFT divides by the window sum-square (see [`stft`]).
//! - Mel filterbanks are built in f64 and stored as f32; power spectrograms are `|X|²`,
//!   magnitude spectrograms `|X|`; dB values are `10·log10(power / ref)` floored at `amin`
//!   and optionally at `max − top_db`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod audio;
pub mod convert;
pub mod db;
pub mod error;
pub mod inverse;
pub mod lbfgs;
pub mod limits;
pub mod mel;
pub mod metrics;
pub mod npy;
pub mod phase;
pub mod preset;
pub mod refine;
pub mod sidecar;
pub mod spectrogram_file;
pub mod stft;
mod vectorised;
pub mod window;

pub use audio::Audio;
pub use db::{DbRef, Scale};
pub use error::{Error, Result};
pub use mel::{MelBasis, MelNorm, MelParams, MelSpectrogram};
pub use preset::{AnalysisParams, Preset, PRESETS};
pub use realfft::num_complex::Complex32;
pub use sidecar::{Sidecar, SpectrogramKind};
pub use spectrogram_file::{Reading, SpectrogramFile};
pub use stft::{Istft, PadMode, Stft, StftParams};
pub use window::Window;
