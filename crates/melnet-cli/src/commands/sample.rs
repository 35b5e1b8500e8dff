//! `melnet sample`: new spectrograms from a trained tier (incremental sampler), optionally
//! continuing a prime, and their audio.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use melnet::{SampleOptions, Sampler};
use melspec::audio::{write_wav, WavFormat};
use melspec::convert::{db_scale, to_db_ref_max};
use melspec::npy::read_f32_2d;
use melspec::{MelSpectrogram, Scale, Sidecar, SpectrogramKind};
use ndarray::Array2;
use rand::SeedableRng;

use crate::args::{load_audio, progress_bar, InversionArgs};
use crate::commands::stft::write_spectrogram;
use crate::commands::train::{read_data, DataSettings};
use crate::output::Outputs;
use crate::plot::FreqAxis;

/// Options of `melnet sample`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Run directory made by `melnet train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Output WAV; the spectrogram goes next to it as `.npy` (+ sidecar `.json`, in the
    /// dataset's scale) and `.png`. With `--count` above 1: `NAME-1.wav`, `NAME-2.wav`, …
    #[arg(short, long)]
    pub output: PathBuf,
    /// Seconds to generate (after the prime).
    #[arg(long, default_value_t = 4.0, conflicts_with = "frames")]
    pub seconds: f64,
    /// Frames to generate instead of --seconds.
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
    /// run's preset), to continue; the output starts with it.
    #[arg(long)]
    pub prime: Option<PathBuf>,
    /// Use at most this many seconds of the prime (from its start).
    #[arg(long, default_value_t = 2.0)]
    pub prime_seconds: f64,
    #[command(flatten)]
    pub inversion: InversionArgs,
}

/// What `melnet sample` wrote and how fast it generated.
pub struct Report {
    /// Per spectrogram: the WAV, `.npy` and `.png` paths.
    pub files: Vec<[PathBuf; 3]>,
    /// Frames of the prime at the start of every output.
    pub prime_frames: usize,
    /// Frames generated per spectrogram.
    pub frames: usize,
    /// Wall-clock seconds of generation (priming included).
    pub seconds: f64,
    /// Seconds of audio the generated frames stand for, all spectrograms together, per second
    /// of generation.
    pub real_time_factor: f64,
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

/// The prime as normalised time-major frames `[frames, n_mels]`.
fn read_prime(path: &Path, data: &DataSettings, max_seconds: f64) -> Result<Array2<f32>> {
    let p = &data.params;
    let name = path.display().to_string();
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let mel = if is_npy {
        let mut mel = read_f32_2d(path)?;
        if mel.nrows() != p.n_mels {
            bail!(
                "{name}: {} rows, the run models {} mels",
                mel.nrows(),
                p.n_mels
            );
        }
        if let Some(v) = mel.iter().find(|v| !v.is_finite()) {
            bail!("{name}: holds a non-finite value ({v})");
        }
        // With a sidecar, its scale is undone and the dataset's applied; without one, the
        // values are taken to be in the dataset's scale already.
        let sidecar = Sidecar::path_for(path);
        if sidecar.is_file() {
            let v = mel.as_slice_mut().expect("read arrays are contiguous");
            Sidecar::read(&sidecar)?.scale.to_linear(v, p.power);
            if data.db {
                to_db_ref_max(v, p.power);
            }
        }
        mel
    } else {
        let audio = load_audio(path, p.sr)?;
        let mut mel = MelSpectrogram::new(p.stft(), p.mel(), p.power)?
            .process(&audio.samples)
            .with_context(|| name.clone())?;
        if data.db {
            to_db_ref_max(
                mel.as_slice_mut().expect("mel spectrogram is contiguous"),
                p.power,
            );
        }
        mel
    };
    let keep = ((max_seconds.max(0.0) * f64::from(p.sr) / p.hop_length as f64).round() as usize)
        .min(mel.ncols());
    if keep == 0 {
        bail!("{name}: no frames to prime with (--prime-seconds {max_seconds})");
    }
    let mut frames = mel
        .slice(ndarray::s![.., ..keep])
        .t()
        .as_standard_layout()
        .into_owned();
    data.stats.normalize(
        data.normalization,
        frames.as_slice_mut().expect("standard layout"),
    );
    Ok(frames)
}

/// Generate, write and invert; the report says what was written.
///
/// # Errors
/// A missing or broken run, an unreadable prime, write failures.
pub fn sample(args: &Args) -> Result<Report> {
    if args.count == 0 {
        bail!("invalid parameter: --count must be positive");
    }
    if !args.temperature.is_finite() || args.temperature < 0.0 {
        bail!("invalid parameter: --temperature must be ≥ 0");
    }
    let data = read_data(&args.run)?;
    let p = data.params;
    let mut sampler = Sampler::load(&args.run, args.count)?;
    if sampler.config().n_mels != p.n_mels {
        bail!(
            "{}: the tier models {} bins, its data {} mels",
            args.run.display(),
            sampler.config().n_mels,
            p.n_mels
        );
    }
    let frame_seconds = p.hop_length as f64 / f64::from(p.sr);
    let frames = match args.frames {
        Some(n) => n,
        None if args.seconds.is_finite() && args.seconds > 0.0 => {
            (args.seconds / frame_seconds).ceil() as usize
        }
        None => bail!("invalid parameter: --seconds must be positive"),
    };
    if frames == 0 {
        bail!("invalid parameter: --frames must be positive");
    }
    let prime = match &args.prime {
        Some(path) => Some(read_prime(path, &data, args.prime_seconds)?),
        None => None,
    };
    let (n, f) = (args.count, p.n_mels);
    let prime_frames = prime.as_ref().map_or(0, |m| m.nrows());
    let started = Instant::now();
    if let Some(prime) = &prime {
        let one = prime.as_slice().expect("standard layout");
        let all: Vec<f32> = (0..n).flat_map(|_| one.iter().copied()).collect();
        sampler.teacher_force(&all, prime_frames)?;
    }
    let bar = progress_bar(
        args.inversion.quiet,
        frames as u64,
        "frame {pos}/{len} [{bar:30}] {msg}, ETA {eta}",
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.inversion.seed);
    // The training split's range, normalised as the model saw it.
    let (lo, hi) = (data.stats.all.min, data.stats.all.max);
    let mut range = [lo, hi];
    data.stats.normalize(data.normalization, &mut range);
    let generated = sampler.generate(
        frames,
        SampleOptions {
            bias: args.temperature,
            range: (range[0], range[1]),
        },
        &mut rng,
        |done| {
            let rtf = (done * n) as f64 * frame_seconds / started.elapsed().as_secs_f64();
            bar.set_message(format!("{rtf:.2}× real time"));
            bar.set_position(done as u64);
        },
    );
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // Back to the dataset's scale (the prime may lie outside the training range).
    let total = prime_frames + frames;
    let mut outputs = Outputs::new();
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let mut time_major = Vec::with_capacity(total * f);
        if let Some(prime) = &prime {
            time_major.extend_from_slice(prime.as_slice().expect("standard layout"));
        }
        time_major.extend_from_slice(&generated[i * frames * f..(i + 1) * frames * f]);
        data.stats.denormalize(data.normalization, &mut time_major);
        time_major.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        let mel = Array2::from_shape_vec((total, f), time_major)
            .expect("sizes agree")
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        let scale = if data.db {
            db_scale(p.power, 1.0)
        } else {
            Scale::Linear
        };
        let sidecar = Sidecar {
            kind: SpectrogramKind::Mel,
            params: p,
            scale,
            shape: [f, total],
            source: None,
        };
        let [wav, npy, png] = paths(&args.output, i, n);
        write_spectrogram(
            &mut outputs,
            &npy,
            mel.view(),
            &sidecar,
            Some(&png),
            FreqAxis::Mel(p.mel()),
            &[],
        )?;
        let mut linear = mel;
        scale.to_linear(linear.as_slice_mut().expect("standard layout"), p.power);
        let bar = args.inversion.progress_bar();
        let mut signal = melspec::inverse::mel_to_audio(
            linear.view(),
            &p,
            &args.inversion.options(),
            None,
            &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )?;
        bar.finish_and_clear();
        // The dB reference of generated values is arbitrary: peak at −1 dBFS.
        let peak = signal.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if peak > 0.0 {
            let gain = 10f32.powf(-1.0 / 20.0) / peak;
            signal.iter_mut().for_each(|v| *v *= gain);
        }
        let tmp = outputs.stage(&wav)?;
        write_wav(&tmp, &signal, p.sr, WavFormat::F32)?;
        files.push([wav, npy, png]);
    }
    outputs.commit()?;
    Ok(Report {
        files,
        prime_frames,
        frames,
        seconds,
        real_time_factor: (frames * n) as f64 * frame_seconds / seconds.max(1e-9),
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
    Ok(())
}
