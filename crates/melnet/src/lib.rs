//! # melnet
//!
//! MelNet (Vasquez & Lewis 2019, arXiv 1906.01083) on candle. Tensors are time-major
//! `[batch, frames, bins]`; the spectrograms come from `melspec`, `(bins, frames)`.
//!
//! Built so far: the recurrent core [`ops::fused_lstm::lstm`] (an LSTM over a whole sequence
//! as one differentiable operation) and [`ops::lstm_layer::lstm_layer`] (a whole residual
//! layer — LSTMs, projection, residual — as one), the stacks of a layer ([`stack`]), the Gaussian-mixture
//! head ([`gmm`]), an unconditional [`Tier`], its training ([`train`]) and the incremental
//! [`Sampler`].
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod bins;
pub mod checkpoint;
pub mod config;
pub mod draw;
pub mod error;
pub mod eval;
pub mod feature;
pub mod generate;
pub mod gmm;
pub mod init;
pub mod model;
pub mod model_dir;
pub mod multiscale;
#[allow(unsafe_code)]
pub mod ops;
pub mod prime;
pub mod rnn;
pub mod sample;
pub mod say;
pub mod stack;
mod step;
pub mod text;
pub mod tier;
pub mod toy;
pub mod train;

pub use config::{FeatureConfig, TextConfig, TierConfig};
pub use draw::{SampleRequest, Samples};
pub use error::{Error, Result};
pub use generate::{generate, Generated};
pub use gmm::Gmm;
pub use model::{Model, ModelConfig};
pub use sample::{SampleOptions, Sampler};
pub use say::{SayOptions, Speech};
pub use text::{Alphabet, Text};
pub use tier::{Conditions, Context, Tier};

/// The device melnet's tensors are made on: the one place it is chosen. Weights are created
/// and loaded on it, and everything else reads the device from the tensors it is given. CPU is
/// the only backend the hand-written operations have today.
pub fn device() -> candle_core::Device {
    candle_core::Device::Cpu
}

/// Keep candle's element-wise operations on the thread that calls them: sets
/// `CANDLE_NUM_THREADS=1` unless the variable is already set. candle 0.11 runs large
/// element-wise operations on a pool of its own (spinning worker threads sized from the
/// machine), beside melnet's own parallelism (the halves of a training batch on threads of
/// their own, rayon for the rest); the two fought over the cores, and two training threads ran
/// at 0.6× the speed of one (small default tier, measured). candle reads the variable once, at
/// its first such operation: call this at the start of a program, while it has one thread
/// (the `melnet` program and the benchmark examples do).
pub fn keep_candle_on_calling_thread() {
    const VAR: &str = "CANDLE_NUM_THREADS";
    if std::env::var_os(VAR).is_none() {
        std::env::set_var(VAR, "1");
    }
}
