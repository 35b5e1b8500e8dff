//! `melnet sample`: new spectrograms from a trained model (tier by tier, incremental sampler
//! on every tier), optionally continuing a prime, and their audio.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use melnet::{Model, SampleRequest, Samples};
use melnet_data::dataset::{Dataset, Levels, Split};
use melspec::audio::{write_wav, WavFormat};
use melspec::inverse::InversionOptions;
use melspec::{Sidecar, SpectrogramKind};

use crate::args::{inversion_bar, progress_bar, ConditionArgs, InversionArgs};
use crate::output::write_spectrogram;
use crate::output::Outputs;
use crate::plot::FreqAxis;

/// Options of `melnet sample`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Model directory made by `melnet train`.
    #[arg(long, visible_alias = "run")]
    pub model: PathBuf,
    /// Output WAV; the spectrogram goes next to it as `.npy` (+ sidecar `.json`, in the
    /// dataset's scale) and `.png`. With `--count` above 1: `NAME-1.wav`, `NAME-2.wav`, …
    #[arg(short, long)]
    pub output: PathBuf,
    /// Seconds to generate (after the prime); a text model stops earlier when it has said the
    /// text.
    #[arg(
        long,
        visible_alias = "max-seconds",
        default_value_t = 4.0,
        conflicts_with = "frames"
    )]
    pub seconds: f64,
    /// Full-resolution frames to generate instead of --seconds.
    #[arg(long)]
    pub frames: Option<usize>,
    /// Spectrograms generated side by side.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Bias b ≥ 0 towards likelier values: σ ← exp(σ̂ − b), π ← softmax(π̂·(1 + b)); 0 samples
    /// the model as trained.
    #[arg(long, alias = "temperature", default_value_t = 0.0)]
    pub bias: f32,
    /// Audio file, or a mel `.npy` in the dataset's scale (e.g. from `melnet mel --db` with the
    /// model's preset), to continue; the output starts with it (every tier is primed with its
    /// split of it).
    #[arg(long)]
    pub prime: Option<PathBuf>,
    /// Use at most this many seconds of the prime (from its start).
    #[arg(long, default_value_t = 2.0)]
    pub prime_seconds: f64,
    #[command(flatten)]
    pub conditions: ConditionArgs,
    #[command(flatten)]
    pub inversion: InversionArgs,
}

/// What `melnet sample` wrote and how fast it generated.
pub struct Report {
    /// Per spectrogram: the WAV, `.npy` and `.png` paths (a text model also writes the
    /// attention figure `.attention.png` beside them).
    pub files: Vec<[PathBuf; 3]>,
    /// Frames of the prime at the start of every output.
    pub prime_frames: usize,
    /// Frames generated per spectrogram.
    pub frames: usize,
    /// Full resolution `[count, frames, bins]` and every level x^{≤g} of the tiers (coarse to
    /// fine) of the generated spectrograms, normalised.
    pub generated: melnet::Generated,
    /// Wall-clock seconds of generation (priming included).
    pub seconds: f64,
    /// Seconds of audio the generated frames stand for, all spectrograms together, per second
    /// of generation.
    pub real_time_factor: f64,
    /// The generated frames' levels (dB models), the prime left out.
    pub levels: Option<Levels>,
}

/// The output paths of spectrogram `i` of `count`: WAV, `.npy`, `.png`.
fn paths(output: &Path, i: usize, count: usize) -> [PathBuf; 3] {
    let wav = if count == 1 {
        output.to_path_buf()
    } else {
        let stem = output.file_stem().unwrap_or_default().to_string_lossy();
        output.with_file_name(format!("{stem}-{}.wav", i + 1))
    };
    [
        wav.clone(),
        wav.with_extension("npy"),
        wav.with_extension("png"),
    ]
}

/// Write a dataset-scale spectrogram `(n_mels, frames)` as `.npy` + sidecar + PNG and its
/// audio as WAV, staged in `outputs`.
pub(crate) fn write_sample(
    outputs: &mut Outputs,
    model: &Model,
    time_major: &[f32],
    [wav, npy, png]: &[PathBuf; 3],
    inversion: &InversionOptions,
    quiet: bool,
) -> Result<()> {
    let p = model.config().params;
    let (mel, scale) = model.to_dataset_scale(time_major);
    let sidecar = Sidecar {
        kind: SpectrogramKind::Mel,
        params: p,
        scale,
        shape: [mel.nrows(), mel.ncols()],
        source: None,
    };
    write_spectrogram(
        outputs,
        npy,
        mel.view(),
        &sidecar,
        Some(png),
        FreqAxis::Mel(p.mel()),
        &[],
    )?;
    let bar = inversion_bar(quiet);
    let signal = model.to_audio(&mel, scale, inversion, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let tmp = outputs.stage(wav)?;
    write_wav(&tmp, &signal, p.sr, WavFormat::F32)?;
    Ok(())
}

/// The attention figure of a text model's spectrogram saying `text`: its frames (normalised,
/// `[frames, bins]` in `time_major`) over its attention `window` `(chars, tier-1 frames)`
/// ([`melnet::Generated::attention`]), to `path`.
///
/// # Errors
/// Figure and write errors.
pub(crate) fn write_alignment(
    outputs: &mut Outputs,
    model: &Model,
    time_major: &[f32],
    window: ndarray::ArrayView2<f32>,
    text: &str,
    path: &Path,
) -> Result<()> {
    let (mel, _) = model.to_dataset_scale(time_major);
    let p = model.config().params;
    let tmp = outputs.stage(path)?;
    crate::plot::alignment_png(
        &tmp,
        &crate::plot::SpectrogramPlot {
            db: mel.view(),
            axis: FreqAxis::Mel(p.mel()),
            frame_seconds: p.stft.hop_length as f64 / f64::from(p.sr),
            title: format!("\"{text}\""),
        },
        window,
        text,
    )
}

/// Draw as `request` asks from `model` (its loaded `tiers`), with a progress bar unless
/// `quiet`.
///
/// # Errors
/// As [`Model::sample`].
pub(crate) fn draw(
    model: &Model,
    tiers: &[melnet::Tier],
    request: &SampleRequest,
    quiet: bool,
) -> Result<Samples> {
    let g_all = tiers.len();
    let bar = progress_bar(
        quiet,
        0,
        "{prefix} frame {pos}/{len} [{bar:30}] {msg}, ETA {eta}",
    );
    let samples = model.sample(tiers, request, |g, done, len| {
        bar.set_prefix(format!("tier {g}/{g_all}"));
        bar.set_length(len as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(samples)
}

/// Write `samples` of `model` as `melnet sample` does — per spectrogram a WAV named after
/// `output` (inverted with `inversion`, a progress bar unless `quiet`), its `.npy` + sidecar
/// and `.png`, and for a text model saying `text` its attention figure — and report them.
///
/// # Errors
/// Inversion, figure and write errors (nothing is left half-written).
pub(crate) fn write_report(
    model: &Model,
    samples: Samples,
    output: &Path,
    text: Option<&str>,
    inversion: &InversionOptions,
    quiet: bool,
) -> Result<Report> {
    let n = samples.count;
    let mut outputs = Outputs::new(&[]);
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let paths = paths(output, i, n);
        let one = samples.time_major(i);
        write_sample(&mut outputs, model, one, &paths, inversion, quiet)?;
        if let Some(text) = text {
            let png = paths[0].with_extension("attention.png");
            let window = samples
                .generated
                .attention(i, n, text.chars().count(), samples.length(i));
            write_alignment(&mut outputs, model, one, window.view(), text, &png)?;
        }
        files.push(paths);
    }
    outputs.commit()?;
    // A text model may have stopped early.
    let prime_frames = samples.generated.prime_frames;
    let frames = samples.frames() - prime_frames;
    let p = model.config().params;
    let frame_seconds = p.stft.hop_length as f64 / f64::from(p.sr);
    Ok(Report {
        files,
        prime_frames,
        frames,
        seconds: samples.seconds,
        real_time_factor: (frames * n) as f64 * frame_seconds / samples.seconds.max(1e-9),
        levels: model.levels(&samples.generated.full, n, prime_frames),
        generated: samples.generated,
    })
}

/// Generate, write and invert; the report says what was written.
///
/// # Errors
/// A missing or broken model, an unreadable prime, write failures.
pub fn sample(args: &Args) -> Result<Report> {
    if args.count == 0 {
        bail!("invalid parameter: --count must be positive");
    }
    crate::args::sampling_bias(args.bias)?;
    let model = Model::open(&args.model)?;
    let tiers = model.load_tiers()?;
    let frames = match args.frames {
        Some(n) => n,
        None => model.frames_for("--seconds", args.seconds)?,
    };
    if frames == 0 {
        bail!("invalid parameter: --frames must be positive");
    }
    let prime = match &args.prime {
        Some(path) => Some(model.read_spectrogram(path, args.prime_seconds)?),
        None => None,
    };
    let request = SampleRequest {
        frames,
        count: args.count,
        prime: prime.as_ref(),
        label: args.conditions.label.as_deref(),
        text: args.conditions.text.as_deref(),
        bias: args.bias,
        seed: args.inversion.seed,
    };
    let quiet = args.inversion.quiet;
    let samples = draw(&model, &tiers, &request, quiet)?;
    let text = args.conditions.text.as_deref();
    let options = args.inversion.options();
    write_report(&model, samples, &args.output, text, &options, quiet)
}

/// Run `melnet sample`.
pub fn run(args: Args) -> Result<()> {
    let report = sample(&args)?;
    for [wav, _, _] in &report.files {
        println!("{}", wav.display());
    }
    eprintln!(
        "{} × {} frames in {:.2} s ({:.1}× real time){}",
        report.files.len(),
        report.frames,
        report.seconds,
        report.real_time_factor,
        if report.prime_frames > 0 {
            format!(", after {} primed frames", report.prime_frames)
        } else {
            String::new()
        }
    );
    if let Some(levels) = &report.levels {
        // Against the training data, when the dataset is still where the model was trained.
        let model = Model::open(&args.model)?;
        let data = Dataset::open(&model.config().dataset)
            .and_then(|ds| ds.levels(Some(Split::Train)))
            .ok();
        eprintln!("{}", levels_summary(levels, data.as_ref()));
    }
    Ok(())
}

/// One line comparing generated levels with the training data's: the floor share, the
/// spectrograms whose second half is mostly floor, the mean level.
pub(crate) fn levels_summary(ours: &Levels, data: Option<&Levels>) -> String {
    let silent = ours
        .second_half_floor_shares()
        .iter()
        .filter(|&&s| s >= 0.9)
        .count();
    let (floor, mean) = match data {
        Some(d) => (
            format!(" (training data {:.1} %)", 100.0 * d.floor_share()),
            format!(" (training data {:.1} dB)", d.mean()),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "levels: {:.1} % of elements at the floor{floor}; {silent} of {} with a second half ≥ 90 % floor; mean {:.1} dB{mean}",
        100.0 * ours.floor_share(),
        ours.second_half_floor_shares().len(),
        ours.mean(),
    )
}
