//! `melnet invert`: mel (or linear magnitude) spectrogram `.npy` → audio WAV.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use melspec::audio::{write_wav, WavFormat};
use melspec::npy::read_f32_2d;
use melspec::{Scale, Sidecar, SpectrogramKind};

use crate::args::{resolve_over, FrameArgs, InversionArgs, MelArgs, PresetArgs};
use crate::output::Outputs;

/// Options of `melnet invert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spectrogram `.npy` (bins, frames): a mel spectrogram from `melnet mel`, or with
    /// `--linear` an STFT magnitude from `melnet stft`. Its sidecar `.json`, when present,
    /// supplies the analysis parameters and the dB scale.
    pub input: PathBuf,
    /// Output WAV (32-bit float, at the analysis sample rate).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub inversion: InversionArgs,
    /// The input is a linear-frequency STFT magnitude (1 + n_fft/2 rows), not a mel
    /// spectrogram [default: from the sidecar, else mel].
    #[arg(long)]
    pub linear: bool,
    /// Initial phase in radians, same shape as a linear input: warm start of the Griffin–Lim
    /// iterations (gla, fgla, pghi+fgla) [default: none].
    #[arg(long, requires = "linear")]
    pub init_phase: Option<PathBuf>,
    /// Output length in samples [default: the analysed signal's length from the sidecar, else
    /// hop·(frames − 1)].
    #[arg(long)]
    pub length: Option<usize>,
    #[command(flatten)]
    pub preset: PresetArgs,
    #[command(flatten)]
    pub frame: FrameArgs,
    #[command(flatten)]
    pub mel: MelArgs,
    /// Exponent the spectrogram was computed with: 2 = power, 1 = magnitude [default: from the
    /// sidecar, else 2].
    #[arg(long, value_parser = ["1", "2"])]
    pub power: Option<String>,
    /// Without a sidecar: the values are dB relative to --db-ref [default: linear].
    #[arg(long)]
    pub db: bool,
    /// Without a sidecar: the dB reference, in power (or magnitude for --power 1) units.
    #[arg(long, default_value_t = 1.0)]
    pub db_ref: f32,
}

/// Run `melnet invert`.
pub fn run(args: Args) -> Result<()> {
    let name = args.input.display().to_string();
    let mut values = read_f32_2d(&args.input)?;
    let sidecar_path = Sidecar::path_for(&args.input);
    let sidecar = if sidecar_path.is_file() {
        Some(Sidecar::read(&sidecar_path)?)
    } else {
        None
    };
    let base = sidecar.as_ref().map(|s| s.params);
    let mut params = resolve_over(base, &args.preset, Some(&args.frame), Some(&args.mel))?;
    if let Some(p) = &args.power {
        params.power = p.parse().expect("clap restricts --power to 1 or 2");
    }
    let kind = match (&sidecar, args.linear) {
        (_, true) => SpectrogramKind::Linear,
        (Some(s), false) => s.kind,
        (None, false) => SpectrogramKind::Mel,
    };
    let scale = match (&sidecar, args.db) {
        (_, true) => Scale::Db {
            reference: args.db_ref,
            amin: 0.0,
            top_db: None,
        },
        (Some(s), false) => s.scale,
        (None, false) => Scale::Linear,
    };
    if values.is_empty() {
        bail!("{name}: the array is empty");
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        bail!("{name}: holds a non-finite value ({v})");
    }
    scale.to_linear(
        values.as_slice_mut().expect("read arrays are contiguous"),
        params.power,
    )?;
    let length = args.length.or_else(|| {
        sidecar
            .as_ref()
            .and_then(|s| s.source.as_ref())
            .map(|s| s.analysed_samples)
    });
    let opts = args.inversion.options();
    let bar = args.inversion.progress_bar();
    let mut progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let signal = match kind {
        SpectrogramKind::Mel => {
            melspec::inverse::mel_to_audio(values.view(), &params, &opts, length, &mut progress)
        }
        SpectrogramKind::Linear => {
            let init = match &args.init_phase {
                Some(p) => Some(read_f32_2d(p)?),
                None => None,
            };
            if params.power != 1.0 {
                values.mapv_inplace(|v| v.max(0.0).powf(1.0 / params.power));
            }
            melspec::phase::reconstruct(
                values.view(),
                &params.stft(),
                &opts.phase,
                init.as_ref().map(|a| a.view()),
                length,
                &mut progress,
            )
        }
    }
    .with_context(|| name.clone())?;
    bar.finish_and_clear();
    let mut outputs = Outputs::new();
    let tmp = outputs.stage(&args.output)?;
    write_wav(&tmp, &signal, params.sr, WavFormat::F32)?;
    outputs.commit()
}
