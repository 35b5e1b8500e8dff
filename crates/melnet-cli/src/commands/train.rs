//! `melnet train`: train the tiers of a MelNet model on a dataset from `melnet prepare`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use melnet::model::{TierFile, TierSpec, LOG_FILE};
use melnet::model_dir::NewModel;
use melnet::train::fit::{StepOptions, INPUT_NOISE};
use melnet::train::optim::{AdamConfig, OptimizerConfig, RmsPropConfig};
use melnet::train::plan::{Budget, NewTier, Resume, Tiers, TrainPlan};
use melnet::train::report::{FitEnd, Observer, StepReport, Trained};
use melnet_data::dataset::Dataset;

use crate::args::{interrupted, progress_bar, Interrupted};

/// Options of `melnet train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset directory made by `melnet prepare`.
    #[arg(long)]
    pub data: PathBuf,
    /// Model directory: model.json and one directory per tier (checkpoints, log.csv, and
    /// loss.png redrawn at every checkpoint).
    #[arg(long, alias = "out")]
    pub model: PathBuf,
    /// Tiers G of a new model: tier 1 models a coarse spectrogram, each tier above doubles the
    /// resolution (frequency for even tiers, time for odd ones) conditioned on the tiers below
    /// [default: 1].
    #[arg(long)]
    pub tiers: Option<usize>,
    /// The tier to train, or `all` to train them in turn (each with the step and time budget
    /// below).
    #[arg(long, default_value = "all", value_parser = parse_tiers)]
    pub tier: Tiers,
    /// Tier settings as TOML: any of `layers`, `width`, `n_mixtures`, `centralized`,
    /// `feature_layers`, `censored`; flags given as well take precedence.
    #[arg(long, value_name = "TIER.toml")]
    pub config: Option<PathBuf>,
    /// Layers L of each tier [default: 2, a tier that learns in minutes on two cores].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Hidden width D [default: 32].
    #[arg(long)]
    pub width: Option<usize>,
    /// Mixture components K [default: 10].
    #[arg(long, visible_alias = "mixtures")]
    pub n_mixtures: Option<usize>,
    /// Leave out the centralized stack (by default tier 1 has it and upper tiers do not, as in
    /// the paper).
    #[arg(long)]
    pub no_centralized: bool,
    /// Layers of an upper tier's feature network [default: 1].
    #[arg(long)]
    pub feature_layers: Option<usize>,
    /// Score values at a dB dataset's floor (−80 dB, where quieter values were clipped) with
    /// the plain density instead of as censored observations (the mixture's mass below the
    /// floor) [default: censored].
    #[arg(long)]
    pub no_censoring: bool,
    /// Full-resolution window length in frames, fixed when the model is made (each tier sees
    /// its split of the window) [default: 32; a text model's longest train recording].
    #[arg(long)]
    pub frames: Option<usize>,
    /// Windows per step of a new tier (a resumed tier keeps its own).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Total steps of each trained tier (a resumed tier trains the remainder; 0 writes the
    /// initial checkpoint) [default: 300; no limit with --minutes].
    #[arg(long, conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Length of each tier's run in epochs instead of steps (an epoch: as many steps as it
    /// takes to draw as many frames of data, not padding, as the train split holds).
    #[arg(long)]
    pub epochs: Option<f64>,
    /// Stop each tier (with a checkpoint) after this many minutes of training in this
    /// invocation, even if steps remain; `--resume` continues [default: no limit].
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Rmsprop)]
    pub optimizer: OptimizerKind,
    /// Learning rate (1e-3 made RMSProp's loss spike and stall on the bundled data).
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f64,
    /// RMSProp momentum (Adam uses β₁ 0.9, β₂ 0.999).
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Halve the learning rate every N epochs (as `--epochs` counts them) [default: constant
    /// learning rate].
    #[arg(long)]
    pub lr_halve_every_epochs: Option<f64>,
    /// Standard deviation of Gaussian noise added to the values each tier conditions on during
    /// training (not to those it is scored on), in normalised units; 0 turns it off [default:
    /// 0.5: a text model then follows its text instead of going on with the previous frame,
    /// and free-running samples keep closer to the data's level].
    #[arg(long)]
    pub input_noise: Option<f64>,
    /// Scale gradients down to this global norm when longer [default: no clipping].
    #[arg(long)]
    pub clip_grad: Option<f64>,
    /// Validation NLL every N steps (same windows every time).
    #[arg(long, default_value_t = 50)]
    pub valid_every: u64,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    /// Seed of the initialisation and of the windows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Condition a new model on the dataset's category labels (speaker, class: `melnet
    /// prepare --labels FILE.csv` with one text column, or `--labels-from-folders`); `melnet
    /// sample --label NAME` then picks one.
    #[arg(long, alias = "labels")]
    pub use_labels: bool,
    /// Condition a new model on transcripts in the LJSpeech format (`id|text` per line, the id
    /// a file name without extension): tier 1 gets a character encoder and an attention in
    /// its centralized stack, windows start at the items' starts (--frames covers them all by
    /// default) and items without a transcript are left out; `melnet sample --text "..."`
    /// then says a text.
    #[arg(long, alias = "text", value_name = "metadata.csv")]
    pub transcripts: Option<PathBuf>,
    /// Logistic components of the text attention window [default: 5].
    #[arg(long)]
    pub attention_mixtures: Option<usize>,
    /// Continue the trained tiers of the model in --model (untrained ones start).
    #[arg(long)]
    pub resume: bool,
    /// Quiet: no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The optimisers of `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    /// RMSProp with momentum (the MelNet paper's).
    Rmsprop,
    /// Adam.
    Adam,
}

/// The layers of a new tier: the defaults, then the `--config` file, then the flags.
fn tier_spec(args: &Args) -> Result<TierSpec> {
    let file = match &args.config {
        Some(path) => TierFile::read(path)?,
        None => TierFile::default(),
    };
    let flags = TierFile {
        layers: args.layers,
        width: args.width,
        n_mixtures: args.n_mixtures,
        centralized: args.no_centralized.then_some(false),
        feature_layers: args.feature_layers,
        censored: args.no_censoring.then_some(false),
        attention_mixtures: args.attention_mixtures,
    };
    Ok(flags.over(file.over(TierSpec::default())))
}

/// Redraw `loss.png` from `log.csv` in a tier directory (through a temporary file, renamed).
fn draw_losses(dir: &Path) -> Result<()> {
    let text = std::fs::read_to_string(dir.join(LOG_FILE))?;
    let rows: Vec<(f64, f64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split(',').map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
            Some((it.next()?, it.next()?, it.next().unwrap_or(f64::NAN)))
        })
        .collect();
    let tmp = dir.join(".loss.tmp.png");
    crate::plot::loss_png(&tmp, &rows, &format!("{}: training NLL", dir.display()))?;
    std::fs::rename(&tmp, dir.join("loss.png"))?;
    Ok(())
}

/// The optimiser of the options.
fn optimizer(args: &Args) -> OptimizerConfig {
    match args.optimizer {
        OptimizerKind::Rmsprop => OptimizerConfig::RmsProp(RmsPropConfig {
            lr: args.lr,
            momentum: args.momentum,
            ..RmsPropConfig::default()
        }),
        OptimizerKind::Adam => OptimizerConfig::Adam(AdamConfig {
            lr: args.lr,
            ..AdamConfig::default()
        }),
    }
}

/// `--tier`: `all` or a tier number from 1.
fn parse_tiers(text: &str) -> Result<Tiers, String> {
    match text {
        "all" => Ok(Tiers::All),
        t => match t.parse::<usize>() {
            Ok(g) if g > 0 => Ok(Tiers::One(g)),
            _ => Err("a tier number from 1, or all".into()),
        },
    }
}

/// A library error in the words of the command line: an invalid value of an option that is
/// also a flag (`clip_grad` → `--clip-grad`) is named as that flag.
fn in_flags(e: melnet::Error) -> anyhow::Error {
    let cmd = <Args as clap::Args>::augment_args(clap::Command::new("train"));
    match e {
        melnet::Error::InvalidConfig {
            name,
            value,
            reason,
        } if cmd.get_arguments().any(|a| a.get_id() == name) => anyhow::anyhow!(
            "invalid parameter: --{} {value} ({reason})",
            name.replace('_', "-")
        ),
        e => e.into(),
    }
}

/// The validated plan of the options: errors name the flags.
fn plan(args: &Args) -> Result<TrainPlan> {
    let asked = args.config.is_some()
        || args.layers.is_some()
        || args.width.is_some()
        || args.n_mixtures.is_some()
        || args.no_centralized
        || args.no_censoring
        || args.feature_layers.is_some()
        || args.attention_mixtures.is_some();
    let plan = TrainPlan {
        tiers: args.tier,
        new_tier: NewTier {
            spec: tier_spec(args)?,
            optimizer: optimizer(args),
            seed: args.seed,
            batch: args.batch,
        },
        resume: if args.resume {
            Resume::Always
        } else {
            Resume::Never
        },
        check_spec: asked,
        budget: Budget {
            steps: args.steps,
            epochs: args.epochs,
            minutes: args.minutes,
        },
        step: StepOptions {
            clip_grad: args.clip_grad,
            valid_every: args.valid_every,
            checkpoint_every: args.checkpoint_every,
            lr_halve_every_epochs: args.lr_halve_every_epochs,
            input_noise: args.input_noise.unwrap_or(INPUT_NOISE),
        },
    };
    plan.validate().map_err(in_flags)?;
    Ok(plan)
}

/// Run `melnet train`.
pub fn run(args: Args) -> Result<()> {
    let plan = plan(&args)?;
    let ds = Dataset::open(&args.data)?;
    let new = NewModel {
        tiers: args.tiers,
        frames: args.frames,
        labels: args.use_labels,
        transcripts: args.transcripts.clone(),
    };
    let mut bars = Bars::new(args.quiet, Some(&args.model));
    let (_, trained) =
        melnet::model_dir::train(&args.model, &ds, &new, &plan, &mut bars, interrupted())
            .map_err(in_flags)?;
    match trained.last().map(|t| t.end) {
        Some(FitEnd::Interrupted) => Err(Interrupted.into()),
        _ => Ok(()),
    }
}

/// `melnet train`'s view of a run: a progress bar per tier, each tier's `loss.png` redrawn at
/// its checkpoints, a line per trained tier on stdout (naming `dir`, unless `None`) and a note
/// on stderr when a tier stops early.
pub(crate) struct Bars<'a> {
    quiet: bool,
    dir: Option<&'a Path>,
    bar: indicatif::ProgressBar,
    /// The tier directory of the last checkpoint.
    checkpoint: PathBuf,
}

impl<'a> Bars<'a> {
    /// The view, its bars hidden when `quiet`.
    pub(crate) fn new(quiet: bool, dir: Option<&'a Path>) -> Self {
        Bars {
            quiet,
            dir,
            bar: indicatif::ProgressBar::hidden(),
            checkpoint: PathBuf::new(),
        }
    }
}

impl Observer for Bars<'_> {
    fn tier_started(
        &mut self,
        tier: usize,
        tiers: usize,
        from: u64,
        to: u64,
        minutes: Option<f64>,
    ) {
        let todo = to.saturating_sub(from);
        self.bar = match minutes {
            // Time-boxed: the clock, not the step count, says when it ends.
            Some(m) => progress_bar(
                self.quiet,
                todo,
                &format!(
                    "tier {tier}/{tiers} step {{pos}} [{{elapsed_precise}} of {m} min] {{msg}} {{per_sec}}"
                ),
            ),
            None => progress_bar(
                self.quiet,
                todo,
                &format!(
                    "tier {tier}/{tiers} step {{pos}}/{{len}} [{{bar:30}}] {{msg}} {{per_sec}}, ETA {{eta}}"
                ),
            ),
        };
    }

    fn step(&mut self, r: &StepReport) {
        self.bar.set_message(format!(
            "train {:.4} valid {:.4} nats/element",
            r.loss, r.valid
        ));
        self.bar.inc(1);
    }

    fn checkpoint(&mut self, dir: &Path) -> melnet::Result<()> {
        self.checkpoint = dir.to_path_buf();
        draw_losses(dir).map_err(|e| melnet::Error::Checkpoint(format!("{e:#}")))
    }

    fn tier_finished(&mut self, t: &Trained) {
        self.bar.finish_and_clear();
        match t.end {
            FitEnd::Interrupted => eprintln!(
                "interrupted at step {}: checkpoint written to {}",
                t.step,
                self.checkpoint.display()
            ),
            FitEnd::TimeLimit => eprintln!(
                "tier {}: time limit reached at step {}; --resume continues",
                t.tier, t.step
            ),
            FitEnd::Finished => {}
        }
        if let (Some(dir), false) = (self.dir, t.end == FitEnd::Interrupted) {
            println!(
                "{}: tier {}, step {}, valid NLL {:.4} nats/element, {} parameters",
                dir.display(),
                t.tier,
                t.step,
                t.valid,
                t.parameters
            );
        }
    }
}
