//! `melnet mel`: audio file → mel spectrogram `.npy` + sidecar JSON (+ PNG).

use std::path::PathBuf;

use crate::output::Outputs;
use anyhow::{Context, Result};
use melspec::db::to_db_ref_max;
use melspec::{MelBasis, MelSpectrogram, Scale, Sidecar, SpectrogramKind};

use crate::args::{load_audio, parse_power, resolve, FrameArgs, MelArgs, PresetArgs};
use crate::output::write_spectrogram;
use crate::plot::FreqAxis;

/// Options of `melnet mel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio file to analyse (WAV, FLAC, OGG/Vorbis or MP3; multi-channel audio is averaged to
    /// mono).
    pub input: PathBuf,
    /// Output `.npy`, shape (n_mels, frames), float32; the parameters go to a sidecar `.json`
    /// of the same name.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub preset: PresetArgs,
    #[command(flatten)]
    pub frame: FrameArgs,
    #[command(flatten)]
    pub mel: MelArgs,
    /// Exponent of the magnitude: 2 = power spectrogram, 1 = magnitude spectrogram.
    #[arg(long, default_value = "2", value_parser = parse_power)]
    pub power: f32,
    /// Write decibels: power_to_db(ref=max, amin=1e-10, top_db=80), or for --power 1
    /// amplitude_to_db(ref=max, amin=1e-5, top_db=80) [default: linear values].
    #[arg(long)]
    pub db: bool,
    /// Also draw the spectrogram (dB, seconds × Hz on a mel axis) to this PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Warn, as librosa does, when the filterbank has filters that cover no FFT bin.
pub fn warn_empty_filters(basis: &MelBasis) {
    let empty = basis.empty_filters();
    if !empty.is_empty() {
        eprintln!(
            "warning: {} empty mel filters (e.g. band {}): n_mels = {} is too many for n_fft = {}; \
             some bands will be zero. Reduce --n-mels or increase --n-fft.",
            empty.len(),
            empty[0],
            basis.n_mels(),
            basis.params().n_fft
        );
    }
}

/// Run `melnet mel`.
pub fn run(args: Args) -> Result<()> {
    let mut params = resolve(&args.preset, Some(&args.frame), Some(&args.mel))?;
    params.power = args.power;
    let plan = MelSpectrogram::new(params.stft, params.mel(), params.power)?;
    warn_empty_filters(plan.basis());
    let audio = load_audio(&args.input, params.sr)?;
    let mut mel = plan
        .process(&audio.samples)
        .with_context(|| args.input.display().to_string())?;
    let scale = if args.db {
        to_db_ref_max(
            mel.as_slice_mut().expect("mel spectrogram is contiguous"),
            params.power,
        )?
    } else {
        Scale::Linear
    };
    let sidecar = Sidecar {
        kind: SpectrogramKind::Mel,
        params,
        scale,
        shape: [mel.nrows(), mel.ncols()],
        source: Some(melspec::sidecar::Source::of(&args.input, &audio)),
    };
    let mut outputs = Outputs::new(&[&args.input]);
    write_spectrogram(
        &mut outputs,
        &args.output,
        mel.view(),
        &sidecar,
        args.png.as_deref(),
        FreqAxis::Mel(params.mel()),
        &[],
    )?;
    outputs.commit()
}
