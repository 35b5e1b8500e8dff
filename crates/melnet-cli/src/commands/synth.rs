//! `melnet synth`: synthesizer-preset datasets (DX7 banks → rendered notes + parameter tables).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use melnet_data::synth::{render_banks, SynthOutcome, SynthProgress, SynthSettings};

use crate::args::{interrupted, progress_bar};
use crate::output::Outputs;

/// The `synth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// DX7 banks (bulk SysEx .syx, raw packed .dx7/.bin) → one WAV per voice, presets.csv,
    /// labels.csv (learnable parameters in [0, 1]) and params.npy; resumable.
    Render(RenderArgs),
    /// Write a 32-voice bulk SysEx bank of example voices made in code (one per algorithm),
    /// to try the pipeline without third-party patch data.
    ExampleBank(ExampleBankArgs),
}

/// Options of `melnet synth example-bank`.
#[derive(Debug, clap::Args)]
pub struct ExampleBankArgs {
    /// Bank file to write (4104-byte bulk SysEx).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Seed of the voices' parameters.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options of `melnet synth render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Bank files: 32-voice bulk SysEx dumps (4104 bytes), single-voice dumps, or raw packed
    /// voices (a multiple of 128 bytes). Unreadable files and voices are skipped and listed.
    #[arg(required = true)]
    pub banks: Vec<PathBuf>,
    /// Output directory (created if missing). Running the same command again finishes an
    /// interrupted run.
    #[arg(short, long)]
    pub output: PathBuf,
    /// MIDI note played (60 = middle C).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u8).range(0..=127))]
    pub note: u8,
    /// MIDI velocity.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=127))]
    pub velocity: u8,
    /// Seconds the key is held.
    #[arg(long, default_value_t = 4.0)]
    pub note_seconds: f64,
    /// Seconds rendered per voice (the release follows the key-up).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Sample rate in Hz.
    #[arg(long, default_value_t = 22050)]
    pub sr: u32,
    /// Linear gain before writing the audio [default: 0.125, the DX7's own output level: a
    /// voice cannot clip; 1.0 is the engine's scale, where one full-level operator peaks at 1].
    #[arg(long, default_value_t = melnet_data::synth::DX7_GAIN)]
    pub gain: f32,
    /// Write 32-bit float WAV instead of 16-bit PCM (exact engine output, twice the size).
    #[arg(long)]
    pub float: bool,
    /// Also render this many voices bred from the banks' voices (crossover of two voices per
    /// parameter plus a small mutation, within each field's range).
    #[arg(long, default_value_t = 0)]
    pub breed: usize,
    /// Seed of the breeding.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Quiet: no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run a `melnet synth` subcommand.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Render(args) => render(args),
        Command::ExampleBank(args) => example_bank(&args),
    }
}

fn example_bank(args: &ExampleBankArgs) -> Result<()> {
    let syx = dx7::bank::to_bulk_sysex(&melnet_data::synth::example_bank(args.seed))?;
    let mut outputs = Outputs::new(&[]);
    let tmp = outputs.stage(&args.output)?;
    std::fs::write(&tmp, syx)
        .with_context(|| format!("{}: writing the bank", args.output.display()))?;
    outputs.commit()?;
    println!("{}: 32 example voices (bulk SysEx)", args.output.display());
    Ok(())
}

fn render(args: RenderArgs) -> Result<()> {
    if args.jobs == Some(0) {
        bail!("invalid parameter jobs = 0: must be at least 1");
    }
    let settings = SynthSettings {
        note: args.note,
        velocity: args.velocity,
        note_seconds: args.note_seconds,
        seconds: args.seconds,
        sr: args.sr,
        gain: args.gain,
        float: args.float,
        breed: args.breed,
        seed: args.seed,
    };
    let bar = progress_bar(
        args.quiet,
        0,
        "{msg} [{bar:30}] {pos}/{len} voices, ETA {eta}",
    );
    bar.set_message("rendering");
    let report = |p: SynthProgress| match p {
        SynthProgress::Found(n) => bar.set_length(n as u64),
        SynthProgress::Done { .. } => bar.inc(1),
    };
    let outcome = render_banks(
        &args.banks,
        &args.output,
        &settings,
        args.jobs,
        interrupted(),
        &report,
    )?;
    bar.finish_and_clear();
    match outcome {
        SynthOutcome::Complete {
            record,
            rendered,
            reused,
            silent,
            clipped,
        } => {
            for bank in &record.banks {
                for reason in &bank.skipped {
                    println!("skipped {}: {reason}", bank.path);
                }
            }
            let duplicates: usize = record.banks.iter().map(|b| b.duplicates).sum();
            println!(
                "{}: {} voices ({} from {} banks, {duplicates} duplicates dropped, {} bred; \
                 {rendered} rendered, {reused} reused), {silent} silent, {clipped} clipped",
                args.output.display(),
                record.voices,
                record.voices - settings.breed,
                record.banks.len(),
                settings.breed,
            );
            Ok(())
        }
        SynthOutcome::Interrupted { done, remaining } => {
            eprintln!("interrupted: {done} voices done, {remaining} to go; run the same command again to finish");
            Err(crate::args::Interrupted.into())
        }
    }
}
