//! `melnet stft`: audio file → STFT magnitude `.npy` (+ phase, sidecar, PNG); and the writing
//! of any spectrogram with its sidecar and figure, shared with `melnet mel`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use melspec::{Scale, Sidecar, SpectrogramKind, Stft};
use ndarray::ArrayView2;

use crate::args::{load_audio, resolve, FrameArgs, PresetArgs};
use crate::output::{write_spectrogram, Outputs};
use crate::plot::FreqAxis;

/// Options of `melnet stft`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio file to analyse (WAV, FLAC, OGG/Vorbis or MP3).
    pub input: PathBuf,
    /// Output `.npy` of the magnitude |X|, shape (1 + n_fft/2, frames), float32; parameters
    /// go to a sidecar `.json` of the same name.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub preset: PresetArgs,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// Also write the phase in radians (−π..π, referenced to the frame start as librosa) to
    /// this `.npy`, same shape.
    #[arg(long)]
    pub phase: Option<PathBuf>,
    /// Also draw the magnitude in dB (seconds × Hz) to this PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Run `melnet stft`.
pub fn run(args: Args) -> Result<()> {
    let mut params = resolve(&args.preset, Some(&args.frame), None)?;
    params.power = 1.0;
    let plan = Stft::new(params.stft)?;
    let audio = load_audio(&args.input, params.sr)?;
    let spec = plan
        .process(&audio.samples)
        .with_context(|| args.input.display().to_string())?;
    let magnitude = spec.mapv(|c| c.norm());
    let phase = args.phase.as_ref().map(|_| spec.mapv(|c| c.arg()));
    let sidecar = Sidecar {
        kind: SpectrogramKind::Linear,
        params,
        scale: Scale::Linear,
        shape: [magnitude.nrows(), magnitude.ncols()],
        source: Some(melspec::sidecar::Source::of(&args.input, &audio)),
    };
    let extra: Vec<(&Path, ArrayView2<f32>)> = match (&args.phase, &phase) {
        (Some(path), Some(p)) => vec![(path.as_path(), p.view())],
        _ => Vec::new(),
    };
    let mut outputs = Outputs::new(&[&args.input]);
    write_spectrogram(
        &mut outputs,
        &args.output,
        magnitude.view(),
        &sidecar,
        args.png.as_deref(),
        FreqAxis::Linear {
            sr: f64::from(params.sr),
        },
        &extra,
    )?;
    outputs.commit()
}
