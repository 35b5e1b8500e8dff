//! `melnet say`: text → speech with a text-conditioned model (the repository's English model
//! by default): `melnet sample` with the text, a speaker and a length cap.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::args::{ConditionArgs, InversionArgs};
use crate::commands::sample;

/// The model `melnet say` uses without `--model`: `$MELNET_SAY_MODEL`, else the English model
/// shipped in the repository this program was built from (`models/tts-en`).
fn default_model() -> PathBuf {
    std::env::var_os("MELNET_SAY_MODEL").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tts-en")),
        PathBuf::from,
    )
}

/// Options of `melnet say`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to say (characters of the model's alphabet: the English model knows lower-case
    /// letters, the apostrophe and the space; upper case is lowered).
    pub text: String,
    /// Output WAV; the spectrogram (`.npy` + `.json`, `.png`) and the attention figure
    /// (`.attention.png`) go next to it.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Speaker (a label of the model) [default: the model's first].
    #[arg(long)]
    pub speaker: Option<String>,
    /// Model directory made by `melnet train --text` [default: `$MELNET_SAY_MODEL`, else the
    /// repository's `models/tts-en`].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Longest audio in seconds; speech ends earlier when the model has said the text.
    #[arg(long, default_value_t = 20.0)]
    pub max_seconds: f64,
    /// Bias b ≥ 0 towards likelier values (as `melnet sample --temperature`).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    #[command(flatten)]
    pub inversion: InversionArgs,
}

/// Run `melnet say`.
pub fn run(args: Args) -> Result<()> {
    let model = args.model.unwrap_or_else(default_model);
    if !model.join("model.json").is_file() {
        bail!(
            "{}: no model there (train one with scripts/recipes/tts-en.sh, or pass --model)",
            model.display()
        );
    }
    let label = match args.speaker {
        Some(s) => Some(s),
        None => melnet::Model::open(&model)?
            .config()
            .labels
            .as_ref()
            .and_then(|l| l.first().cloned()),
    };
    sample::run(sample::Args {
        model,
        output: args.output,
        seconds: args.max_seconds,
        frames: None,
        count: 1,
        temperature: args.temperature,
        prime: None,
        prime_seconds: 0.0,
        conditions: ConditionArgs {
            label,
            text: Some(args.text.to_lowercase()),
        },
        inversion: args.inversion,
    })
}
