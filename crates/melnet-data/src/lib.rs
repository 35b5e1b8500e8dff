//! # melnet-data
//!
//! What a model trains on, built from melspec's analysis: training sets of mel frames from a
//! folder of recordings ([`dataset`]: prepare, shard and merge, read windows), synthesizer
//! presets rendered to audio ([`synth`]), the synthetic text task's corpus ([`toy`]), and the
//! lock that gives one writer a dataset or model directory ([`lock`]).
//!
//! Errors are melspec's [`Error`]: a dataset fails the way its analysis does (a parameter, an
//! input, a file), so one type serves both layers.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod dataset;
mod files;
pub mod lock;
pub mod synth;
pub mod toy;

pub use melspec::{Error, Result};
