//! `melnet toy-speech`: the synthetic text-to-speech task ([`melnet::toy`]) — `corpus` renders
//! letters as tone chords with an LJSpeech-style `metadata.csv` and held-out texts; `read`
//! samples texts from a model trained on it and reads them back (character error rate).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use melnet::toy::{held_out_texts, read_back, write_corpus, Reading};
use melnet::{Model, SampleOptions};
use rand::SeedableRng;

/// The subcommands of `melnet toy-speech`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Render a corpus: `wavs/toy-NNNNN.wav`, `metadata.csv`, `held-out.txt`.
    Corpus(CorpusArgs),
    /// Sample texts from a model trained on a corpus and read them back.
    Read(ReadArgs),
}

/// Options of `melnet toy-speech corpus`.
#[derive(Debug, clap::Args)]
pub struct CorpusArgs {
    /// Output folder.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Recordings to render.
    #[arg(long, default_value_t = 400)]
    pub items: usize,
    /// Texts kept out of the corpus (one per line in `held-out.txt`).
    #[arg(long, default_value_t = 20)]
    pub held_out: usize,
    /// Analysis preset whose sample rate and mel bands the letters are laid out for.
    #[arg(long, default_value = "melnet-small")]
    pub preset: String,
    /// Seed of the texts and durations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options of `melnet toy-speech read`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Model trained with `--text` on a toy corpus.
    #[arg(long)]
    pub model: PathBuf,
    /// Texts to say, one per line (e.g. the corpus's `held-out.txt`).
    #[arg(long)]
    pub texts: PathBuf,
    /// Most full-resolution frames per text.
    #[arg(long, default_value_t = 160)]
    pub max_frames: usize,
    /// Sampling bias (see `melnet sample --temperature`).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Run `melnet toy-speech`.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Corpus(args) => corpus(args),
        Command::Read(args) => {
            let readings = read(&args)?.1;
            for r in &readings {
                println!(
                    "{:>16} -> {:<16} CER {:.3}, {} frames{}",
                    r.text,
                    r.said,
                    r.cer,
                    r.frames,
                    if r.ended { "" } else { " (did not end)" }
                );
            }
            println!(
                "mean CER {:.4} over {} texts",
                mean_cer(&readings),
                readings.len()
            );
            Ok(())
        }
    }
}

fn corpus(args: CorpusArgs) -> Result<()> {
    if args.items == 0 {
        bail!("invalid parameter: --items must be positive");
    }
    let params = melspec::Preset::by_name(&args.preset)?.params;
    let held_out = held_out_texts(args.seed, args.held_out);
    write_corpus(&args.output, args.items, args.seed, params, &held_out)?;
    println!(
        "{}: {} recordings, metadata.csv, held-out.txt ({} texts)",
        args.output.display(),
        args.items,
        held_out.len()
    );
    Ok(())
}

/// The mean character error rate of `readings`, weighted by their texts' lengths.
pub(crate) fn mean_cer(readings: &[Reading]) -> f64 {
    let chars: usize = readings.iter().map(|r| r.text.chars().count()).sum();
    let errors: f64 = readings
        .iter()
        .map(|r| r.cer * r.text.chars().count() as f64)
        .sum();
    errors / chars.max(1) as f64
}

/// Sample and read back the texts of `args`.
pub(crate) fn read(args: &ReadArgs) -> Result<(melnet::Generated, Vec<Reading>)> {
    let model = Model::open(&args.model)?;
    let texts: Vec<String> = std::fs::read_to_string(&args.texts)
        .with_context(|| format!("{}: cannot read", args.texts.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if texts.is_empty() {
        bail!("{}: no text", args.texts.display());
    }
    let tiers = model.load_tiers()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let options = SampleOptions {
        bias: args.temperature,
        range: model.range(),
    };
    Ok(read_back(
        &model,
        &tiers,
        &texts,
        args.max_frames,
        options,
        &mut rng,
    )?)
}
