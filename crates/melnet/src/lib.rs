//! # melnet
//!
//! MelNet (Vasquez & Lewis 2019, arXiv 1906.01083) on candle. Tensors are time-major
//! `[batch, frames, bins]`; the spectrograms come from `melspec`, `(bins, frames)`.
//!
//! This first part holds the recurrent core: [`ops::fused_lstm::lstm`], an LSTM over a whole
//! sequence as one differentiable operation.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod error;
pub mod gmm;
#[allow(unsafe_code)]
pub mod ops;

pub use error::{Error, Result};
