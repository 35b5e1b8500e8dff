//! `melnet toy-speech`: the synthetic text-to-speech task ([`melnet_data::toy`], read back by
//! [`melnet::toy`]) — `corpus` renders letters as tone chords with an LJSpeech-style
//! `metadata.csv` and held-out texts; `read` samples texts from a model trained on it and
//! reads them back (character error rate).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use melnet::toy::{read_back, read_labels, LabelReading, Reading};
use melnet::{Model, SampleOptions};
use melnet_data::toy::{held_out_texts, write_corpus, write_label_corpus};
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
    /// Render the label task instead: one folder per letter (the class), each recording a few
    /// "words" of that letter (`melnet prepare --labels-from-folders` makes it a labelled
    /// dataset).
    #[arg(long, alias = "labels")]
    pub label_task: bool,
}

/// Options of `melnet toy-speech read`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Model trained with `--text` on a toy corpus.
    #[arg(long)]
    pub model: PathBuf,
    /// Texts to say, one per line (e.g. the corpus's `held-out.txt`), for a text model.
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Samples per class, for a label model.
    #[arg(long, default_value_t = 5)]
    pub per_class: usize,
    /// Most full-resolution frames per text (a label model's samples are this long).
    #[arg(long, default_value_t = 160)]
    pub max_frames: usize,
    /// Sampling bias (see `melnet sample --bias`) [default: 3 for a text model
    /// (`melnet::toy::READ_BIAS`), 0 for a label model].
    #[arg(long, alias = "temperature")]
    pub bias: Option<f32>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Run `melnet toy-speech`.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Corpus(args) => corpus(args),
        Command::Read(args) if Model::open(&args.model)?.config().labels.is_some() => {
            let readings = read_classes(&args)?;
            for r in &readings {
                println!(
                    "{:>8} -> {:<16} heard {}",
                    r.label,
                    r.said,
                    r.heard.map_or("nothing".into(), String::from)
                );
            }
            println!(
                "accuracy {:.4} over {} samples",
                accuracy(&readings),
                readings.len()
            );
            Ok(())
        }
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
    if args.label_task {
        write_label_corpus(&args.output, args.items, args.seed, params)?;
        println!(
            "{}: {} recordings in {} class folders",
            args.output.display(),
            args.items,
            melnet_data::toy::LETTERS.len().min(args.items)
        );
        return Ok(());
    }
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

impl ReadArgs {
    /// The sampling options for `model`: `--bias`, or `default_bias` without it.
    fn options(&self, model: &Model, default_bias: f32) -> Result<SampleOptions> {
        Ok(SampleOptions {
            bias: crate::args::sampling_bias(self.bias.unwrap_or(default_bias))?,
            range: model.range(),
        })
    }
}

/// The share of `readings` that sound like their class.
pub(crate) fn accuracy(readings: &[LabelReading]) -> f64 {
    readings.iter().filter(|r| r.correct()).count() as f64 / readings.len().max(1) as f64
}

/// Sample every class of a label model and read the samples back.
pub(crate) fn read_classes(args: &ReadArgs) -> Result<Vec<LabelReading>> {
    let model = Model::open(&args.model)?;
    if args.per_class == 0 || args.max_frames < 2 {
        bail!("invalid parameter: --per-class must be positive and --max-frames at least 2");
    }
    let options = args.options(&model, 0.0)?;
    let tiers = model.load_tiers()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    Ok(read_labels(
        &model,
        &tiers,
        args.per_class,
        args.max_frames,
        options,
        &mut rng,
    )?)
}

/// Sample and read back the texts of `args`.
pub(crate) fn read(args: &ReadArgs) -> Result<(melnet::Generated, Vec<Reading>)> {
    let model = Model::open(&args.model)?;
    let Some(path) = &args.texts else {
        bail!("give --texts FILE for a text model");
    };
    let texts: Vec<String> = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if texts.is_empty() {
        bail!("{}: no text", path.display());
    }
    let options = args.options(&model, melnet::toy::READ_BIAS)?;
    let tiers = model.load_tiers()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    Ok(read_back(
        &model,
        &tiers,
        &texts,
        args.max_frames,
        options,
        &mut rng,
    )?)
}
