//! `melnet stft`: audio file → STFT magnitude `.npy` (+ phase, sidecar, PNG); and the writing
//! of any spectrogram with its sidecar and figure, shared with `melnet mel`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use melspec::convert::to_db_ref_max;
use melspec::npy::write_f32_2d;
use melspec::{Audio, Scale, Sidecar, SpectrogramKind, Stft};
use ndarray::{Array2, ArrayView2};

use crate::args::{load_audio, resolve, FrameArgs, PresetArgs};
use crate::output::{is_special, Outputs};
use crate::plot::{spectrogram_png, FreqAxis, SpectrogramPlot};

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

/// The `source` entry of a sidecar for `audio` read from `path`.
pub fn source_of(path: &Path, audio: &Audio) -> melspec::sidecar::Source {
    melspec::sidecar::Source {
        path: PathBuf::from(path.to_string_lossy().into_owned()),
        sr: audio.source_sr,
        channels: audio.source_channels,
        samples: audio.source_len,
        analysed_samples: audio.samples.len(),
    }
}

/// Stage `values` at `npy`, its sidecar, the optional PNG and any `extra` arrays in
/// `outputs` (which the caller commits: all or nothing).
pub fn write_spectrogram(
    outputs: &mut Outputs,
    npy: &Path,
    values: ArrayView2<f32>,
    sidecar: &Sidecar,
    png: Option<&Path>,
    axis: FreqAxis,
    extra: &[(&Path, ArrayView2<f32>)],
) -> Result<()> {
    let tmp = outputs.stage(npy)?;
    write_f32_2d(&tmp, values)?;
    if !is_special(npy) {
        let json = Sidecar::path_for(npy);
        let tmp = outputs.stage(&json)?;
        sidecar.write(&tmp)?;
    }
    for (path, array) in extra {
        let tmp = outputs.stage(path)?;
        write_f32_2d(&tmp, *array)?;
    }
    if let Some(png) = png {
        let tmp = outputs.stage(png)?;
        let db = display_db(values, sidecar)?;
        let p = &sidecar.params;
        let name = sidecar
            .source
            .as_ref()
            .and_then(|s| s.path.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let what = match sidecar.kind {
            SpectrogramKind::Mel => format!("mel ({} bands)", p.n_mels),
            SpectrogramKind::Linear => "STFT magnitude".to_string(),
        };
        let title = format!(
            "{name}  {what}, sr {} Hz, n_fft {}, hop {}, win {}",
            p.sr, p.n_fft, p.hop_length, p.win_length
        );
        spectrogram_png(
            &tmp,
            &SpectrogramPlot {
                db: db.view(),
                axis,
                frame_seconds: p.hop_length as f64 / f64::from(p.sr),
                title,
            },
        )
        .with_context(|| format!("{}: drawing the figure", png.display()))?;
    }
    Ok(())
}

/// Values in dB for display: as they are if already dB, else converted with ref = max and an
/// 80 dB range.
fn display_db(values: ArrayView2<f32>, sidecar: &Sidecar) -> Result<Array2<f32>> {
    let mut db = values.to_owned();
    if let Scale::Linear = sidecar.scale {
        let v = db.as_slice_mut().expect("owned array is contiguous");
        to_db_ref_max(v, sidecar.params.power)?;
    }
    Ok(db)
}

/// Run `melnet stft`.
pub fn run(args: Args) -> Result<()> {
    let mut params = resolve(&args.preset, Some(&args.frame), None)?;
    params.power = 1.0;
    let plan = Stft::new(params.stft())?;
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
        source: Some(source_of(&args.input, &audio)),
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
