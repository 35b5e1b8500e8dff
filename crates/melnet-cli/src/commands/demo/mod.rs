//! `melnet demo`: the whole mission on the bundled recordings ([`pipeline`]: prepare → train
//! (time-boxed) → eval → sample → invert), or the synthetic text-to-speech task ([`tts`]),
//! each ending in a self-contained HTML page ([`report`]).

mod pipeline;
mod report;
mod tts;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use melnet::model_dir::NewModel;
use melnet::train::fit::StepOptions;
use melnet::train::plan::{Budget, NewTier, Resume, Tiers, TrainPlan};
use melnet::train::report::FitEnd;
use melnet::Model;
use melnet_data::dataset::{prepare, Dataset, Outcome, PrepareOptions, PrepareSettings};

use crate::args::{interrupted, Interrupted};
use crate::commands::train::Bars;

/// Options of `melnet demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory: the dataset, the run, the samples and `index.html`. Running the demo
    /// again into it reuses the dataset and continues training the run [default: out/demo;
    /// with --tts out/demo-tts].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Minutes of training.
    #[arg(long, default_value_t = 5.0)]
    pub minutes: f64,
    /// Folder of recordings to learn from.
    #[arg(long, default_value = "data", conflicts_with = "tts")]
    pub data: PathBuf,
    /// Seconds of each generated sample (the primed one continues 2 s of a held-out
    /// recording for as long).
    #[arg(long, default_value_t = 4.0, conflicts_with = "tts")]
    pub seconds: f64,
    /// Quiet: no progress bars.
    #[arg(short, long)]
    pub quiet: bool,
    /// Run the synthetic text-to-speech task instead (toy corpus → train a text model →
    /// say held-out texts → character error rate, alignment figures).
    #[arg(long)]
    pub tts: bool,
}

/// Run `melnet demo`.
pub fn run(args: Args) -> Result<()> {
    if !args.minutes.is_finite() || args.minutes <= 0.0 {
        bail!("invalid parameter: --minutes must be positive");
    }
    if args.tts {
        tts::run(&args)
    } else {
        pipeline::run(&args)
    }
}

/// Prepare the recordings in `input` into the dB dataset `output` with `params` (files shorter
/// than `min_seconds` skipped, a tenth held out), as the demos do.
///
/// # Errors
/// Preparation errors; [`Interrupted`] after Ctrl-C.
fn prepare_db(
    input: &Path,
    output: &Path,
    params: melspec::AnalysisParams,
    min_seconds: f64,
) -> Result<()> {
    let settings = PrepareSettings {
        db: true,
        min_seconds,
        ..PrepareSettings::default()
    };
    let opts = PrepareOptions::new(params, settings);
    match prepare(input, output, &opts, interrupted(), &|_| {})? {
        Outcome::Interrupted { .. } => Err(Interrupted.into()),
        _ => Ok(()),
    }
}

/// Train (or continue) every tier of the model in `dir` (made for `ds` as `new` says if it has
/// none) on `ds` for `minutes` in all of this run, with `new_tier` and `step`, as the demos do;
/// returns the model and each tier's step.
///
/// # Errors
/// As [`melnet::model_dir::train`]; [`Interrupted`] after Ctrl-C (with a checkpoint).
fn train_for(
    dir: &Path,
    ds: &Dataset,
    new: &NewModel,
    new_tier: NewTier,
    step: StepOptions,
    minutes: f64,
    quiet: bool,
) -> Result<(Model, Vec<u64>)> {
    let plan = TrainPlan {
        tiers: Tiers::All,
        new_tier,
        resume: Resume::IfAny,
        check_spec: false,
        budget: Budget::minutes(minutes / new.tiers.unwrap_or(1) as f64),
        step,
    };
    let mut bars = Bars::new(quiet, None);
    let (model, trained) = melnet::model_dir::train(dir, ds, new, &plan, &mut bars, interrupted())?;
    if trained.last().is_some_and(|t| t.end == FitEnd::Interrupted) {
        return Err(Interrupted.into());
    }
    Ok((model, trained.iter().map(|t| t.step).collect()))
}
