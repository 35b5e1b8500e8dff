//! Command-line definitions (clap derive).

use clap::{Parser, Subcommand};

use crate::commands::{
    demo, eval, filterbank, invert, mel, merge, prepare, presets, roundtrip, sample, say, stats,
    stft, synth, toy, train,
};

/// melnet: mel spectrograms that match librosa, fast.
#[derive(Debug, Parser)]
#[command(name = "melnet", version, about, propagate_version = true)]
pub struct Cli {
    /// Worker threads for every parallel stage, 1 to 1024 [default: one per core].
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audio file → mel spectrogram `.npy` (n_mels, frames) with a sidecar JSON.
    Mel(mel::Args),
    /// Audio file → STFT magnitude `.npy` (1 + n_fft/2, frames), optionally the phase.
    Stft(stft::Args),
    /// Write a mel filterbank `.npy` (n_mels, 1 + n_fft/2).
    Filterbank(filterbank::Args),
    /// Print the named analysis presets.
    Presets(presets::Args),
    /// Mel (or linear magnitude) spectrogram `.npy` → audio WAV.
    Invert(invert::Args),
    /// Audio → mel → audio: reconstruction WAV, quality report JSON and comparison figure.
    Roundtrip(roundtrip::Args),
    /// Folder of recordings → training set (frame files + manifest.json), resumable,
    /// shardable across machines.
    Prepare(prepare::Args),
    /// Shard directories of `prepare --shard K/N` → one dataset.
    Merge(merge::Args),
    /// Summary and statistics figure of a prepared dataset.
    Stats(stats::Args),
    /// Train a MelNet model (one or more tiers) on a prepared dataset.
    Train(train::Args),
    /// NLL of a trained model: per tier and at full resolution, on the validation windows or a given spectrogram.
    Eval(eval::Args),
    /// New spectrograms (and audio) from a trained model, tier by tier, optionally continuing a prime.
    Sample(sample::Args),
    /// Text → speech (WAV, spectrogram, attention figure) with a text-conditioned model: the
    /// English model in the repository's `models/tts-en` by default.
    Say(say::Args),
    /// Synthesizer-preset datasets: render DX7 banks to audio with parameter tables.
    #[command(subcommand)]
    Synth(synth::Command),
    /// A synthetic text-to-speech corpus (letters as tone chords, metadata.csv) that a text
    /// model learns in minutes.
    #[command(subcommand)]
    ToySpeech(toy::Command),
    /// The whole pipeline on the bundled recordings (prepare → train → eval → sample →
    /// invert) with an HTML report.
    Demo(demo::Args),
}
