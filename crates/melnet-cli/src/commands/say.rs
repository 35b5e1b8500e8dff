//! `melnet say`: text → speech with a text-conditioned model (the repository's English model
//! by default): [`melnet::Model::say`], then the WAV, the spectrogram and the attention figure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use melspec::inverse::InversionOptions;

use crate::args::{progress_bar, InversionArgs};
use crate::commands::sample::{write_alignment, write_sample};
use crate::output::Outputs;

/// The model `melnet say` uses without `--model`: `$MELNET_SAY_MODEL`, else the English model
/// shipped in the repository this program was built from (`models/tts-en`).
pub(crate) fn default_model() -> PathBuf {
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
    /// Output WAV (its folder is made if missing); the spectrogram (`.npy` + `.json`, `.png`)
    /// and the attention figure (`.attention.png`) go next to it.
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
    /// Bias b ≥ 0 towards likelier values (as `melnet sample --bias`).
    #[arg(long, alias = "temperature", default_value_t = 0.0)]
    pub bias: f32,
    #[command(flatten)]
    pub inversion: InversionArgs,
}

/// What `melnet say` said and wrote.
pub struct Said {
    /// The WAV; the spectrogram (`.npy`, `.png`) and `.attention.png` are beside it.
    pub wav: PathBuf,
    /// The spectrogram, its attention window and the generation time.
    pub speech: melnet::Speech,
    /// Seconds of audio said.
    pub audio_seconds: f64,
    /// Wall-clock seconds from the text to the written files (loading, generation, inversion).
    pub seconds: f64,
}

/// What to say and where to write it: `melnet say`'s options past the model.
pub(crate) struct Request<'a> {
    /// The text.
    pub text: &'a str,
    /// The speaker [default: the model's first label].
    pub speaker: Option<&'a str>,
    /// Longest audio in seconds.
    pub max_seconds: f64,
    /// Bias b ≥ 0 towards likelier values.
    pub bias: f32,
    /// The WAV (the spectrogram and attention figure go next to it).
    pub output: &'a Path,
    /// The inversion, its seed also the draws'.
    pub inversion: InversionOptions,
    /// No progress bars.
    pub quiet: bool,
}

/// Say the text and write the WAV, the spectrogram and the attention figure.
///
/// # Errors
/// No model, a model without text, characters outside its alphabet, an unknown speaker, bad
/// parameters, write failures.
pub fn say(args: &Args) -> Result<Said> {
    let started = Instant::now();
    let model = args.model.clone().unwrap_or_else(default_model);
    if !model.join(melnet::model::MODEL_FILE).is_file() {
        bail!(
            "{}: no model there (train one with scripts/recipes/tts-en.sh, or pass --model)",
            model.display()
        );
    }
    let model = melnet::Model::open(&model)?;
    let tiers = model.load_tiers()?;
    let request = Request {
        text: &args.text,
        speaker: args.speaker.as_deref(),
        max_seconds: args.max_seconds,
        bias: crate::args::sampling_bias(args.bias)?,
        output: &args.output,
        inversion: args.inversion.options(),
        quiet: args.inversion.quiet,
    };
    say_with(&model, &tiers, &request, started)
}

/// Say `request` with `model` (its loaded `tiers`) and write the WAV, the spectrogram and the
/// attention figure; `started` is when the work began (for the real-time factor).
///
/// # Errors
/// As [`say`].
pub(crate) fn say_with(
    model: &melnet::Model,
    tiers: &[melnet::Tier],
    request: &Request,
    started: Instant,
) -> Result<Said> {
    let p = model.config().params;
    let frame_seconds = p.stft.hop_length as f64 / f64::from(p.sr);
    let max_frames = model.frames_for("--max-seconds", request.max_seconds)?;
    let bar = progress_bar(
        request.quiet,
        0,
        "{prefix} frame {pos}/{len} [{bar:30}] {msg}, ETA {eta}",
    );
    let g_all = tiers.len();
    let speech = model.say(
        tiers,
        request.text,
        request.speaker,
        melnet::SayOptions {
            max_frames,
            bias: request.bias,
            seed: request.inversion.phase.seed,
        },
        |g, done, len| {
            bar.set_prefix(format!("tier {g}/{g_all}"));
            bar.set_length(len as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    let output = request.output;
    let paths = [
        output.to_path_buf(),
        output.with_extension("npy"),
        output.with_extension("png"),
    ];
    // The output's folder is made once there is something to put in it.
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut outputs = Outputs::new(&[]);
    let one = speech.time_major();
    write_sample(
        &mut outputs,
        model,
        one,
        &paths,
        &request.inversion,
        request.quiet,
    )?;
    let attention = output.with_extension("attention.png");
    let window = speech
        .generated
        .attention(0, 1, speech.text.chars().count(), speech.frames);
    write_alignment(
        &mut outputs,
        model,
        one,
        window.view(),
        &speech.text,
        &attention,
    )?;
    outputs.commit()?;
    Ok(Said {
        wav: output.to_path_buf(),
        audio_seconds: speech.frames as f64 * frame_seconds,
        speech,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Run `melnet say`.
pub fn run(args: Args) -> Result<()> {
    let said = say(&args)?;
    println!("{}", said.wav.display());
    eprintln!(
        "{:.2} s of speech in {:.2} s, text to WAV ({:.1}× real time; generation {:.2} s){}",
        said.audio_seconds,
        said.seconds,
        said.audio_seconds / said.seconds.max(1e-9),
        said.speech.seconds,
        if !said.speech.ended() {
            " (the text did not end within --max-seconds)"
        } else {
            ""
        }
    );
    Ok(())
}
