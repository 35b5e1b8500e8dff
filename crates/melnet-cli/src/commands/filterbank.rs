//! `melnet filterbank`: the mel filterbank as `.npy` (+ PNG).

use std::path::PathBuf;

use anyhow::{Context, Result};
use melspec::npy::write_f32_2d;
use melspec::MelBasis;

use crate::args::{resolve, MelArgs, PresetArgs};
use crate::commands::mel::warn_empty_filters;
use crate::output::Outputs;
use crate::plot::filterbank_png;

/// Options of `melnet filterbank`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output `.npy`, shape (n_mels, 1 + n_fft/2), float32 — `librosa.filters.mel`.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub preset: PresetArgs,
    #[command(flatten)]
    pub mel: MelArgs,
    /// Also draw the filters against frequency to this PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Run `melnet filterbank`.
pub fn run(args: Args) -> Result<()> {
    let params = resolve(&args.preset, None, Some(&args.mel))?;
    let basis = MelBasis::new(params.mel())?;
    warn_empty_filters(&basis);
    melspec::limits::ensure_array(
        "the filterbank",
        &[basis.n_mels(), params.stft.n_fft / 2 + 1],
        4,
    )?;
    let weights = basis.to_dense();
    let mut outputs = Outputs::new(&[]);
    let tmp = outputs.stage(&args.output)?;
    write_f32_2d(&tmp, weights.view())?;
    if let Some(png) = &args.png {
        let tmp = outputs.stage(png)?;
        let title = format!(
            "mel filterbank: {} bands, {}–{} Hz, sr {} Hz, n_fft {}, {} scale, norm {}",
            params.n_mels,
            params.fmin,
            params.fmax_hz(),
            params.sr,
            params.stft.n_fft,
            if params.htk { "HTK" } else { "Slaney" },
            params.norm.name()
        );
        filterbank_png(&tmp, weights.view(), f64::from(params.sr), &title)
            .with_context(|| format!("{}: drawing the figure", png.display()))?;
    }
    outputs.commit()
}
