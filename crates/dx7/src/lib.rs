//! # dx7
//!
//! Yamaha DX7 voices and an FM engine to play them, for building synthesizer datasets.
//!
//! - [`voice`]: the 155-byte unpacked voice, the 128-byte packed voice, parameter names,
//!   ranges and normalised vectors; [`bank`]: 32-voice bulk SysEx dumps, single-voice dumps and
//!   raw packed banks, parsed and written with every field range-checked.
//! - [`render()`]: one note of a voice → mono `f32` samples at any sample rate. The engine
//!   follows the DX7's documented behaviour as the open emulations (Music Synthesizer for
//!   Android, Dexed) describe it: log-domain operators ([`operator`](crate::operator)), the
//!   32 [`algorithm`]s with feedback, 4-rate/4-level envelopes with the DX7's curves, keyboard
//!   level and rate scaling, velocity sensitivity, ratio/fixed frequencies with detune, the
//!   pitch envelope, the LFO (6 waves, delay, pitch and amplitude modulation, key sync) and
//!   transpose.
//!
//! Conventions: times in seconds, rates in Hz, notes and velocities as MIDI numbers; control
//! (envelopes, LFO) is updated every [`BLOCK`] samples; a single operator at full level peaks
//! at 1.0.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod algorithm;
pub mod bank;
mod envelope;
pub mod error;
mod lfo;
mod operator;
mod render;
mod tables;
pub mod voice;

pub use envelope::BLOCK;
pub use error::{Error, Result};
pub use render::{render, Note, RenderSettings};
pub use voice::Voice;
