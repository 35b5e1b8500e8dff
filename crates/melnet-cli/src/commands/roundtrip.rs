//! `melnet roundtrip`: audio → mel → audio, with a quality report and a comparison figure.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use melspec::audio::{write_wav, WavFormat};
use melspec::db::to_db_ref_max;
use melspec::inverse::{mel_to_magnitude, refine_signal};
use melspec::metrics::{
    log_spectral_distance_db, relative_error, snr_db, spectral_convergence_db, LSD_FLOOR,
};
use melspec::{MelSpectrogram, Stft};
use ndarray::Array2;
use serde::Serialize;

use crate::args::{
    inversion_bar, load_audio, resolve, FrameArgs, InversionArgs, MelArgs, PresetArgs,
};
use crate::commands::mel::warn_empty_filters;
use crate::output::Outputs;
use crate::plot::{comparison_png, Comparison};

/// Options of `melnet roundtrip`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio file (WAV, FLAC, OGG/Vorbis or MP3).
    pub input: PathBuf,
    /// Output directory (created if missing); files are named after the input:
    /// NAME.reconstructed.wav, NAME.report.json, NAME.comparison.png.
    #[arg(short, long, default_value = ".")]
    pub output: PathBuf,
    #[command(flatten)]
    pub preset: PresetArgs,
    #[command(flatten)]
    pub frame: FrameArgs,
    #[command(flatten)]
    pub mel: MelArgs,
    #[command(flatten)]
    pub inversion: InversionArgs,
}

/// Seconds spent in each stage.
#[derive(Debug, Serialize)]
struct Timing {
    load: f64,
    analysis: f64,
    mel_inverse: f64,
    phase: f64,
    refine: f64,
    total_inversion: f64,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report {
    input: PathBuf,
    seconds: f64,
    params: melspec::AnalysisParams,
    mel_inverse: &'static str,
    phase: &'static str,
    iters: usize,
    /// Signal-domain refinement iterations and the distance they minimise.
    refine: usize,
    refine_compression: String,
    /// Spectral convergence of the reconstruction's STFT magnitude vs the input's, dB.
    spectral_convergence_db: f32,
    /// Log-spectral distance, dB (power floored at 1e-10 of the peak).
    log_spectral_distance_db: f32,
    lsd_floor_relative: f64,
    /// ‖M − M̂‖ / ‖M‖ for the mel power spectrograms of input and reconstruction.
    mel_relative_error: f32,
    /// Waveform SNR, dB (phase retrieval does not recover the waveform itself, so this is low).
    snr_db: f32,
    timing_seconds: Timing,
}

fn to_db(mut a: Array2<f32>, power: f32) -> Result<Array2<f32>> {
    to_db_ref_max(
        a.as_slice_mut().expect("owned arrays are contiguous"),
        power,
    )?;
    Ok(a)
}

/// Run `melnet roundtrip`.
pub fn run(args: Args) -> Result<()> {
    let params = resolve(&args.preset, Some(&args.frame), Some(&args.mel))?;
    let name = args.input.display().to_string();
    let stem = args
        .input
        .file_stem()
        .map_or_else(|| "audio".into(), |s| s.to_string_lossy().into_owned());
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create directory", args.output.display()))?;
    let plan = MelSpectrogram::new(params.stft, params.mel(), params.power)?;
    warn_empty_filters(plan.basis());

    let t0 = Instant::now();
    let audio = load_audio(&args.input, params.sr)?;
    let t_load = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mel = plan.process(&audio.samples).with_context(|| name.clone())?;
    let t_analysis = t0.elapsed().as_secs_f64();

    let opts = args.inversion.options();
    let t0 = Instant::now();
    let magnitude = mel_to_magnitude(plan.basis(), mel.view(), params.power, &opts)
        .with_context(|| name.clone())?;
    let t_mel_inverse = t0.elapsed().as_secs_f64();
    let bar = inversion_bar(args.inversion.quiet);
    let t0 = Instant::now();
    let mut phase_total = 0;
    let n_refine = opts.refine.n_iter;
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let output = melspec::phase::reconstruct(
        magnitude.view(),
        &params.stft,
        &opts.phase,
        None,
        Some(audio.samples.len()),
        &mut |done, total| {
            phase_total = total;
            progress(done, total + n_refine)
        },
    )
    .with_context(|| name.clone())?;
    let t_phase = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let output = if n_refine > 0 {
        refine_signal(&plan, mel.view(), output, &opts.refine, &mut |done, _| {
            progress(phase_total + done, phase_total + n_refine)
        })
        .with_context(|| name.clone())?
    } else {
        output
    };
    let t_refine = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let stft = Stft::new(params.stft)?;
    let target = stft.process(&audio.samples)?.mapv(|c| c.norm());
    let rebuilt = stft.process(&output)?.mapv(|c| c.norm());
    let mel_out = plan.process(&output)?;
    let report = Report {
        input: args.input.clone(),
        seconds: audio.seconds(),
        params,
        mel_inverse: opts.mel_inverse.name(),
        phase: opts.phase.method.name(),
        iters: opts.phase.n_iter,
        refine: n_refine,
        refine_compression: opts.refine.compression.name(),
        spectral_convergence_db: spectral_convergence_db(target.view(), rebuilt.view())?,
        log_spectral_distance_db: log_spectral_distance_db(target.view(), rebuilt.view())?,
        lsd_floor_relative: LSD_FLOOR,
        mel_relative_error: relative_error(mel.view(), mel_out.view())?,
        snr_db: snr_db(&audio.samples, &output),
        timing_seconds: Timing {
            load: t_load,
            analysis: t_analysis,
            mel_inverse: t_mel_inverse,
            phase: t_phase,
            refine: t_refine,
            total_inversion: t_mel_inverse + t_phase + t_refine,
        },
    };

    let mut outputs = Outputs::new(&[&args.input]);
    let wav = args.output.join(format!("{stem}.reconstructed.wav"));
    let tmp = outputs.stage(&wav)?;
    write_wav(&tmp, &output, params.sr, WavFormat::F32)?;
    let json = args.output.join(format!("{stem}.report.json"));
    let tmp = outputs.stage(&json)?;
    std::fs::write(&tmp, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("{}: cannot write", json.display()))?;
    let png = args.output.join(format!("{stem}.comparison.png"));
    let tmp = outputs.stage(&png)?;
    let title = format!(
        "{stem}: mel ({} bands, {}) → {} ({} iterations) — SC {:.1} dB, LSD {:.1} dB, inversion {:.2} s",
        params.n_mels,
        report.mel_inverse,
        report.phase,
        report.iters,
        report.spectral_convergence_db,
        report.log_spectral_distance_db,
        report.timing_seconds.total_inversion
    );
    let filterbank = plan.basis().to_dense();
    let stft_db = [to_db(target, 1.0)?, to_db(rebuilt, 1.0)?];
    let mel_db = to_db(mel, params.power)?;
    comparison_png(
        &tmp,
        &Comparison {
            title,
            input: &audio.samples,
            output: &output,
            sr: f64::from(params.sr),
            stft_db: [stft_db[0].view(), stft_db[1].view()],
            frame_seconds: params.stft.hop_length as f64 / f64::from(params.sr),
            filterbank: filterbank.view(),
            mel_db: mel_db.view(),
            mel: params.mel(),
        },
    )
    .with_context(|| format!("{}: drawing the figure", png.display()))?;
    outputs.commit()?;
    println!(
        "{}: SC {:.2} dB, LSD {:.2} dB, mel error {:.4}, inversion {:.3} s → {}",
        name,
        report.spectral_convergence_db,
        report.log_spectral_distance_db,
        report.mel_relative_error,
        report.timing_seconds.total_inversion,
        args.output.display()
    );
    Ok(())
}
