//! `melnet sample`: new spectrograms from a trained model (tier by tier, incremental sampler
//! on every tier), optionally continuing a prime, and their audio.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use melnet::{Model, SampleOptions};
use melspec::audio::{write_wav, WavFormat};
use melspec::convert::to_db_ref_max;
use melspec::dataset::{Dataset, Levels, Split};
use melspec::npy::read_f32_2d;
use melspec::{MelSpectrogram, Sidecar, SpectrogramKind};
use ndarray::Array2;
use rand::SeedableRng;

use crate::args::{load_audio, progress_bar, ConditionArgs, InversionArgs};
use crate::commands::stft::write_spectrogram;
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
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
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

/// A spectrogram file (audio, or a mel `.npy` in the dataset's scale — with a sidecar its
/// scale is undone and the dataset's applied) as the model's normalised time-major frames
/// `[frames, n_mels]`, at most `max_seconds` long.
///
/// # Errors
/// Unreadable files, another band count, non-finite values, no frames.
pub(crate) fn read_spectrogram(
    path: &Path,
    model: &Model,
    max_seconds: f64,
) -> Result<Array2<f32>> {
    let c = model.config();
    let p = &c.params;
    let name = path.display().to_string();
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let mel = if is_npy {
        let mut mel = read_f32_2d(path)?;
        if mel.nrows() != p.n_mels {
            bail!(
                "{name}: {} rows, the model has {} mels",
                mel.nrows(),
                p.n_mels
            );
        }
        if let Some(v) = mel.iter().find(|v| !v.is_finite()) {
            bail!("{name}: holds a non-finite value ({v})");
        }
        let sidecar = Sidecar::path_for(path);
        if sidecar.is_file() {
            let v = mel.as_slice_mut().expect("standard layout");
            Sidecar::read(&sidecar)?.scale.to_linear(v, p.power)?;
            if c.db {
                to_db_ref_max(v, p.power)?;
            }
        }
        mel
    } else {
        let audio = load_audio(path, p.sr)?;
        let mut mel = MelSpectrogram::new(p.stft(), p.mel(), p.power)?
            .process(&audio.samples)
            .with_context(|| name.clone())?;
        if c.db {
            to_db_ref_max(
                mel.as_slice_mut().expect("mel spectrogram is contiguous"),
                p.power,
            )?;
        }
        mel
    };
    let keep = if max_seconds.is_finite() {
        ((max_seconds.max(0.0) * f64::from(p.sr) / p.hop_length as f64).round() as usize)
            .min(mel.ncols())
    } else {
        mel.ncols()
    };
    if keep == 0 {
        bail!("{name}: no frames (--prime-seconds {max_seconds})");
    }
    let mut frames = mel
        .slice(ndarray::s![.., ..keep])
        .t()
        .as_standard_layout()
        .into_owned();
    model.normalize(frames.as_slice_mut().expect("standard layout"));
    Ok(frames)
}

/// Write a dataset-scale spectrogram `(n_mels, frames)` as `.npy` + sidecar + PNG and its
/// audio as WAV, staged in `outputs`.
pub(crate) fn write_sample(
    outputs: &mut Outputs,
    model: &Model,
    time_major: &[f32],
    [wav, npy, png]: &[PathBuf; 3],
    inversion: &InversionArgs,
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
    let bar = inversion.progress_bar();
    let signal = model.to_audio(&mel, scale, &inversion.options(), &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let tmp = outputs.stage(wav)?;
    write_wav(&tmp, &signal, p.sr, WavFormat::F32)?;
    Ok(())
}

/// The attention figure of spectrogram `i` of `generated` (a text model's), saying `text`:
/// its first `frames` full-resolution frames (normalised, `[frames, bins]` in `time_major`)
/// over its attention window, to `path`.
///
/// # Errors
/// Figure and write errors.
pub(crate) fn write_alignment(
    outputs: &mut Outputs,
    model: &Model,
    generated: &melnet::Generated,
    i: usize,
    time_major: &[f32],
    text: &str,
    path: &Path,
) -> Result<()> {
    let (phi, chars) = &generated.alignment;
    let n = generated.ends.len().max(1);
    let frames_1 = phi.len() / (n * chars).max(1);
    let (mel, _) = model.to_dataset_scale(time_major);
    let full = mel.ncols();
    // Tier 1's frames that the figure's frames cover (all of them for a one-tier model).
    let shown = frames_1.min((full * frames_1).div_ceil(generated.frames(n)));
    let len = text.chars().count().min(*chars);
    let window =
        ndarray::Array2::from_shape_fn((len, shown), |(u, t)| phi[(t * n + i) * chars + u]);
    let p = model.config().params;
    let tmp = outputs.stage(path)?;
    crate::plot::alignment_png(
        &tmp,
        &crate::plot::SpectrogramPlot {
            db: mel.view(),
            axis: FreqAxis::Mel(p.mel()),
            frame_seconds: p.hop_length as f64 / f64::from(p.sr),
            title: format!("\"{text}\""),
        },
        window.view(),
        text,
    )
}

/// Generate, write and invert; the report says what was written.
///
/// # Errors
/// A missing or broken model, an unreadable prime, write failures.
pub fn sample(args: &Args) -> Result<Report> {
    if args.count == 0 {
        bail!("invalid parameter: --count must be positive");
    }
    crate::args::sampling_bias(args.temperature)?;
    let model = Model::open(&args.model)?;
    let tiers = model.load_tiers()?;
    let p = model.config().params;
    let frame_seconds = p.hop_length as f64 / f64::from(p.sr);
    let frames = match args.frames {
        Some(n) => n,
        None if args.seconds.is_finite() && args.seconds > 0.0 && args.seconds < 86_400.0 => {
            (args.seconds / frame_seconds).ceil() as usize
        }
        None => bail!("invalid parameter: --seconds must be positive and under a day"),
    };
    if frames == 0 {
        bail!("invalid parameter: --frames must be positive");
    }
    let prime = match &args.prime {
        Some(path) => Some(read_spectrogram(path, &model, args.prime_seconds)?),
        None => None,
    };
    let n = args.count;
    let prime_frames = prime.as_ref().map_or(0, |m| m.nrows());
    let total = prime_frames + frames;
    if total < 2 {
        bail!("invalid parameter: --frames {frames} (audio needs at least 2 frames)");
    }
    // The generated spectrograms at every tier, and their audio.
    melspec::limits::ensure_memory(
        format!("generating {n} × {total} frames"),
        n as f64 * total as f64 * (model.config().n_mels as f64 * 8.0 + 4.0 * p.hop_length as f64),
    )?;
    let g_all = model.config().tiers;
    let bar = progress_bar(
        args.inversion.quiet,
        0,
        "{prefix} frame {pos}/{len} [{bar:30}] {msg}, ETA {eta}",
    );
    let conditions = args.conditions.conditions(&model, n)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.inversion.seed);
    let started = Instant::now();
    let generated = model.generate(
        &tiers,
        total,
        n,
        prime
            .as_ref()
            .map(|m| m.as_slice().expect("standard layout")),
        &conditions,
        SampleOptions {
            bias: args.temperature,
            range: model.range(),
        },
        &mut rng,
        |g, done, len| {
            bar.set_prefix(format!("tier {g}/{g_all}"));
            bar.set_length(len as u64);
            bar.set_position(done as u64);
        },
    )?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let bins = model.config().n_mels;
    // A text model may have stopped early.
    let total = generated.full.len() / (n * bins);
    let frames = total - prime_frames;
    let mut outputs = Outputs::new(&[]);
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let paths = paths(&args.output, i, n);
        // A text model's spectrogram ends where its text ended.
        let frames_i = generated.ends.get(i).copied().flatten().unwrap_or(total);
        let one = &generated.full[i * total * bins..(i * total + frames_i) * bins];
        write_sample(&mut outputs, &model, one, &paths, &args.inversion)?;
        if let Some(text) = &args.conditions.text {
            let png = paths[0].with_extension("attention.png");
            write_alignment(&mut outputs, &model, &generated, i, one, text, &png)?;
        }
        files.push(paths);
    }
    outputs.commit()?;
    Ok(Report {
        files,
        prime_frames,
        frames,
        seconds,
        real_time_factor: (frames * n) as f64 * frame_seconds / seconds.max(1e-9),
        levels: model.levels(&generated.full, n, prime_frames),
        generated,
    })
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
