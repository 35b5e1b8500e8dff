//! `melnet invert`: mel (or linear magnitude) spectrogram `.npy` → audio WAV; several files (or
//! folders of them) at once, in parallel, into an output folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use melspec::audio::{write_wav, WavFormat};
use melspec::npy::read_f32_2d;
use melspec::{Reading, Sidecar, SpectrogramFile, SpectrogramKind};
use rayon::prelude::*;

use crate::args::{
    inversion_bar, parse_power, resolve_over, FrameArgs, InversionArgs, MelArgs, PresetArgs,
};
use crate::output::Outputs;

/// Options of `melnet invert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spectrogram `.npy` files (bins, frames), or folders of them: mel spectrograms from
    /// `melnet mel`, or with `--linear` STFT magnitudes from `melnet stft`. A file's sidecar
    /// `.json`, when present, supplies the analysis parameters and the dB scale.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output WAV (32-bit float, at the analysis sample rate) for one input file; for several
    /// inputs, a folder, or an existing folder: the folder (created if missing) that receives
    /// NAME.wav for every NAME.npy. Files are inverted in parallel; one that fails is reported
    /// and skipped, the others are written (the exit status is then 1).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub inversion: InversionArgs,
    /// The input is a linear-frequency STFT magnitude (1 + n_fft/2 rows), not a mel
    /// spectrogram [default: from the sidecar, else mel].
    #[arg(long)]
    pub linear: bool,
    /// Initial phase in radians, same shape as a linear input (one input only): warm start of
    /// the iterations (gla, fgla, pghi+fgla, lws, lws+fgla) [default: none].
    #[arg(long, requires = "linear")]
    pub init_phase: Option<PathBuf>,
    /// Output length in samples (one input only) [default: the analysed signal's length from
    /// the sidecar, else hop·(frames − 1)].
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
    #[arg(long, value_parser = parse_power)]
    pub power: Option<f32>,
    /// Without a sidecar: the values are dB relative to --db-ref [default: linear].
    #[arg(long)]
    pub db: bool,
    /// Without a sidecar: the dB reference, in power (or magnitude for --power 1) units.
    #[arg(long, default_value_t = 1.0)]
    pub db_ref: f32,
}

/// Run `melnet invert`.
pub fn run(args: Args) -> Result<()> {
    let (jobs, single) = jobs(&args)?;
    if single {
        let (input, output) = &jobs[0];
        let bar = inversion_bar(args.inversion.quiet);
        let mut progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        invert(&args, input, output, &mut progress)?;
        bar.finish_and_clear();
        return Ok(());
    }
    if args.init_phase.is_some() || args.length.is_some() {
        bail!(
            "--init-phase and --length apply to one input file, not to {}",
            jobs.len()
        );
    }
    let bar = crate::args::progress_bar(
        args.inversion.quiet,
        jobs.len() as u64,
        "inverting [{bar:30}] {pos}/{len} files, ETA {eta}",
    );
    let failures: Vec<String> = jobs
        .par_iter()
        .filter_map(|(input, output)| {
            let result = invert(&args, input, output, &mut |_, _| {});
            bar.inc(1);
            result.err().map(|e| format!("{e:#}"))
        })
        .collect();
    bar.finish_and_clear();
    for failure in &failures {
        eprintln!("error: {failure}");
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} files could not be inverted (reported above); the others were written",
            failures.len(),
            jobs.len()
        );
    }
    Ok(())
}

/// The (input, output) pairs, and whether this is the one-file form (`-o` names the WAV).
fn jobs(args: &Args) -> Result<(Vec<(PathBuf, PathBuf)>, bool)> {
    let mut inputs = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("{}: cannot list the folder", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "npy"))
                .collect();
            if found.is_empty() {
                bail!("{}: the folder holds no .npy files", input.display());
            }
            found.sort();
            inputs.extend(found);
        } else {
            inputs.push(input.clone());
        }
    }
    let single = args.inputs.len() == 1 && !args.inputs[0].is_dir() && !args.output.is_dir();
    if single {
        return Ok((vec![(inputs.remove(0), args.output.clone())], true));
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create the output folder", args.output.display()))?;
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut jobs = Vec::new();
    for input in &inputs {
        let stem = input
            .file_stem()
            .with_context(|| format!("{}: not a file path", input.display()))?;
        let output = args.output.join(stem).with_extension("wav");
        if let Some(other) = seen.insert(output.clone(), input) {
            bail!(
                "{} and {} would both be written to {}",
                other.display(),
                input.display(),
                output.display()
            );
        }
        jobs.push((input.clone(), output));
    }
    Ok((jobs, false))
}

/// Invert `input` into the WAV `output`, written only when the whole inversion succeeded.
fn invert(
    args: &Args,
    input: &Path,
    output: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    let file = SpectrogramFile::read(input)?;
    let mut params = resolve_over(
        file.params(),
        &args.preset,
        Some(&args.frame),
        Some(&args.mel),
    )?;
    if let Some(p) = args.power {
        params.power = p;
    }
    let reading = Reading {
        params,
        kind: file.kind(args.linear),
        scale: file.scale(args.db.then_some(args.db_ref)),
    };
    if reading.kind == SpectrogramKind::Linear
        && args.inversion.refine_n_iter.is_some_and(|n| n > 0)
    {
        bail!(
            "{}: --refine-n-iter matches a mel spectrogram; this one is linear",
            input.display()
        );
    }
    let init = match &args.init_phase {
        Some(p) => Some(read_f32_2d(p)?),
        None => None,
    };
    let length = args.length.or_else(|| file.source_length());
    let signal = file.invert(
        &reading,
        &args.inversion.options(),
        init.as_ref().map(|a| a.view()),
        length,
        progress,
    )?;
    let mut outputs = Outputs::new(&[input, &Sidecar::path_for(input)]);
    let tmp = outputs.stage(output)?;
    write_wav(&tmp, &signal, params.sr, WavFormat::F32)?;
    outputs.commit()
}
