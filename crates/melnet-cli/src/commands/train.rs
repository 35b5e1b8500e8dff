//! `melnet train`: train the tiers of a MelNet model on a dataset from `melnet prepare`; and
//! `melnet eval`: per-tier and full-resolution NLL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use melnet::model::{ModelText, Nll, TierFile, TierSpec, LOG_FILE};
use melnet::train::checkpoint;
use melnet::train::fit::{
    check_dataset, fit, start_tier, tier_loss, FitEnd, FitOptions, TrainingData, VALID_WINDOWS,
};
use melnet::train::optim::{AdamConfig, OptimizerConfig, RmsPropConfig};
use melnet::train::Trainer;
use melnet::{Model, ModelConfig};
use melspec::dataset::{Dataset, LabelInfo, LabelKind};
use melspec::lock::DirLock;

use crate::args::{interrupted, progress_bar, ConditionArgs, Interrupted};
use crate::output::Outputs;

/// Options of `melnet train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset directory made by `melnet prepare`.
    #[arg(long)]
    pub data: PathBuf,
    /// Model directory: model.json and one directory per tier (checkpoints, log.csv, and
    /// loss.png redrawn at every checkpoint).
    #[arg(long, visible_alias = "model")]
    pub out: PathBuf,
    /// Tiers G of a new model: tier 1 models a coarse spectrogram, each tier above doubles the
    /// resolution (frequency for even tiers, time for odd ones) conditioned on the tiers below.
    #[arg(long, default_value_t = 1)]
    pub tiers: usize,
    /// The tier to train, or `all` to train them in turn (each with the step and time budget
    /// below).
    #[arg(long, default_value = "all")]
    pub tier: String,
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
    #[arg(long)]
    pub labels: bool,
    /// Condition a new model on transcripts in the LJSpeech format (`id|text` per line, the id
    /// a file name without extension): tier 1 gets a character encoder and an attention in
    /// its centralized stack, windows start at the items' starts (--frames covers them all by
    /// default) and items without a transcript are left out; `melnet sample --text "..."`
    /// then says a text.
    #[arg(long, value_name = "metadata.csv")]
    pub text: Option<PathBuf>,
    /// Logistic components of the text attention window [default: 5].
    #[arg(long)]
    pub attention_mixtures: Option<usize>,
    /// Continue the trained tiers of the model in --out (untrained ones start).
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

/// Full-resolution window of a new model without `--frames` (other than a text model).
const DEFAULT_FRAMES: usize = 32;

/// Steps of a tier given neither `--steps`, `--epochs` nor `--minutes`.
const DEFAULT_STEPS: u64 = 300;

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

/// The model in `args.out`: opened (its data checked against the dataset), or made for the
/// dataset.
fn model_for(args: &Args, ds: &Dataset, spec: &TierSpec) -> Result<Model> {
    if args.out.join(melnet::model::MODEL_FILE).exists() {
        let model = Model::open(&args.out)?;
        check_dataset(&model, ds)?;
        let c = model.config();
        if (args.labels && c.labels.is_none())
            || args.text.as_ref().is_some_and(|t| {
                let t = std::fs::canonicalize(t).unwrap_or_else(|_| t.clone());
                c.text.as_ref().is_none_or(|m| m.transcripts != t)
            })
        {
            bail!(
                "{}: the model was made with other conditioning (labels {}, text {:?}); --labels and --text are for a new model",
                args.out.display(),
                c.labels.is_some(),
                c.text.as_ref().map(|t| &t.transcripts)
            );
        }
        if args.tiers != 1 && args.tiers != model.config().tiers {
            bail!(
                "{}: the model has {} tiers (--tiers {} is for a new model)",
                args.out.display(),
                model.config().tiers,
                args.tiers
            );
        }
        return Ok(model);
    }
    if args.resume {
        bail!("{}: no model to resume", args.out.display());
    }
    let frames = match (args.frames, &args.text) {
        (Some(frames), _) => frames,
        (None, Some(_)) => ModelText::window_frames(ds),
        (None, None) => DEFAULT_FRAMES,
    };
    if frames == 0 || args.batch == 0 {
        bail!("invalid parameter: --frames and --batch must be positive");
    }
    let m = ds.manifest();
    spec.check_training_memory(m.n_mels, frames, args.batch)?;
    let labels = match (&m.labels, args.labels) {
        (_, false) => None,
        (Some(LabelInfo {
            kind: LabelKind::Category { classes },
            ..
        }), true) => Some(classes.clone()),
        (_, true) => bail!(
            "{}: --labels needs category labels (prepare the dataset with --labels FILE.csv of one text column, or --labels-from-folders)",
            args.data.display()
        ),
    };
    let text = match &args.text {
        Some(path) => Some(ModelText::new(path, ds)?),
        None => None,
    };
    Ok(Model::create(
        &args.out,
        ModelConfig {
            labels,
            text,
            ..ModelConfig::for_dataset(ds, args.tiers, frames)
        },
    )?)
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

/// Refuse option values no run can use, before anything is written.
fn check_options(args: &Args) -> Result<()> {
    optimizer(args).validate()?;
    // (option, value, whether 0 is allowed)
    let amounts = [
        ("--clip-grad", args.clip_grad, false),
        ("--input-noise", args.input_noise, true),
        ("--lr-halve-every-epochs", args.lr_halve_every_epochs, false),
        ("--minutes", args.minutes, true),
        ("--epochs", args.epochs, true),
    ];
    for (name, value, zero_ok) in amounts {
        let usable = |v: &f64| v.is_finite() && (*v > 0.0 || (zero_ok && *v == 0.0));
        if let Some(v) = value.filter(|v| !usable(v)) {
            let what = if zero_ok { "non-negative" } else { "positive" };
            bail!("invalid parameter: {name} {v} (must be {what} and finite)");
        }
    }
    if args.valid_every == 0 || args.checkpoint_every == 0 {
        bail!("invalid parameter: --valid-every and --checkpoint-every must be positive");
    }
    Ok(())
}

/// Run `melnet train`.
pub fn run(args: Args) -> Result<()> {
    check_options(&args)?;
    let ds = Dataset::open(&args.data)?;
    let spec = tier_spec(&args)?;
    spec.validate()?;
    let existed = args.out.exists();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let lock = match DirLock::acquire(&args.out) {
        Ok(lock) => lock,
        Err(e) => {
            if !existed {
                let _ = std::fs::remove_dir(&args.out);
            }
            return Err(e.into());
        }
    };
    let created = !args.out.join(melnet::model::MODEL_FILE).exists();
    let result = model_for(&args, &ds, &spec)
        .and_then(|model| train_tiers(&args, &ds, &model, spec).map(|()| model));
    // A model made by this invocation that never got a checkpoint is not left behind (it
    // would block a retry); a folder the user made is kept, emptied of what this run wrote.
    // One with a checkpoint stays: the error names it as the last good one.
    let Err(err) = result else { return Ok(()) };
    let model = Model::open(&args.out).ok();
    let tier_dirs: Vec<PathBuf> = model
        .iter()
        .flat_map(|m| (1..=m.config().tiers).map(|g| m.tier_dir(g)))
        .collect();
    if created && !tier_dirs.iter().any(|dir| checkpoint::exists(dir)) {
        if existed {
            for dir in &tier_dirs {
                let _ = std::fs::remove_dir_all(dir);
            }
            let _ = std::fs::remove_file(args.out.join(melnet::model::MODEL_FILE));
            let _ = std::fs::remove_file(lock.path());
        } else {
            let _ = std::fs::remove_dir_all(&args.out);
        }
    }
    Err(err)
}

/// Train the tiers `args.tier` of `model`.
fn train_tiers(args: &Args, ds: &Dataset, model: &Model, spec: TierSpec) -> Result<()> {
    let g_all = model.config().tiers;
    let tiers: Vec<usize> = match args.tier.as_str() {
        "all" => (1..=g_all).collect(),
        t => match t.parse::<usize>() {
            Ok(g) if (1..=g_all).contains(&g) => vec![g],
            _ => bail!("invalid parameter: --tier {t} (the model has tiers 1 to {g_all}, or all)"),
        },
    };
    let asked = args.config.is_some()
        || args.layers.is_some()
        || args.width.is_some()
        || args.n_mixtures.is_some()
        || args.no_centralized
        || args.no_censoring
        || args.feature_layers.is_some()
        || args.attention_mixtures.is_some();
    let opt = optimizer(args);
    for g in tiers {
        let budget = Budget {
            steps: args.steps,
            epochs: args.epochs,
            minutes: args.minutes,
        };
        let settings = NewTier {
            spec,
            optimizer: opt,
            seed: args.seed,
            batch: args.batch,
        };
        let fit = FitSettings {
            clip_grad: args.clip_grad,
            valid_every: args.valid_every,
            checkpoint_every: args.checkpoint_every,
            lr_halve_every_epochs: args.lr_halve_every_epochs,
            input_noise: args.input_noise,
        };
        let t = train_tier(
            model,
            g,
            ds,
            &settings,
            args.resume,
            asked,
            budget,
            fit,
            args.quiet,
        )?;
        println!(
            "{}: tier {g}, step {}, valid NLL {:.4} nats/element, {} parameters",
            args.out.display(),
            t.step,
            t.valid,
            t.parameters
        );
    }
    Ok(())
}

/// How long a tier trains.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Total steps.
    pub steps: Option<u64>,
    /// Total epochs instead.
    pub epochs: Option<f64>,
    /// Wall-clock minutes in this invocation.
    pub minutes: Option<f64>,
}

/// A new tier's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewTier {
    pub spec: TierSpec,
    pub optimizer: OptimizerConfig,
    pub seed: u64,
    pub batch: usize,
}

/// The step options of training.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitSettings {
    pub clip_grad: Option<f64>,
    pub valid_every: u64,
    pub checkpoint_every: u64,
    pub lr_halve_every_epochs: Option<f64>,
    /// `None`: [`melnet::train::fit::INPUT_NOISE`].
    pub input_noise: Option<f64>,
}

impl Default for FitSettings {
    /// `melnet train`'s defaults.
    fn default() -> Self {
        FitSettings {
            clip_grad: None,
            valid_every: 50,
            checkpoint_every: 100,
            lr_halve_every_epochs: None,
            input_noise: None,
        }
    }
}

/// Where [`train_tier`] left a tier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trained {
    /// The step reached.
    pub step: u64,
    /// The last validation NLL, nats per element.
    pub valid: f32,
    /// Trained parameters of the tier.
    pub parameters: usize,
}

/// Train tier g of `model`: resume it (with `resume`; `check_spec` refuses a `spec` that
/// differs from the tier's) or start it, for `budget`, with a progress bar.
///
/// # Errors
/// An existing tier without `resume`, divergence, dataset and I/O errors; [`Interrupted`]
/// after Ctrl-C (with a checkpoint).
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_tier(
    model: &Model,
    g: usize,
    ds: &Dataset,
    new: &NewTier,
    resume: bool,
    check_spec: bool,
    budget: Budget,
    settings: FitSettings,
    quiet: bool,
) -> Result<Trained> {
    let dir = model.tier_dir(g);
    let c = model.config();
    let g_all = c.tiers;
    let data = TrainingData::new(model, ds)?;
    let mut trainer = if checkpoint::exists(&dir) {
        if !resume {
            bail!(
                "{}: tier {g} exists; use --resume or another directory",
                dir.display()
            );
        }
        let config = Trainer::read_config(&dir)?;
        if check_spec && model.tier_config(g, new.spec)? != config {
            bail!(
                "{}: the tier is {}; --resume continues it as it is (leave out the tier options)",
                dir.display(),
                serde_json::to_string(&config)?
            );
        }
        Trainer::load(&dir)?
    } else {
        start_tier(
            model,
            g,
            new.spec,
            new.optimizer,
            new.seed,
            new.batch,
            &data,
        )?
    };
    let batch = trainer.state().batch;
    let epoch_steps = data.epoch_steps(batch);
    let steps = match (budget.steps, budget.epochs) {
        (Some(steps), _) => steps,
        (None, Some(epochs)) if epochs.is_finite() && epochs >= 0.0 => {
            (epochs * epoch_steps).ceil() as u64
        }
        (None, Some(epochs)) => bail!("invalid parameter: --epochs {epochs}"),
        // Time-boxed alone: the clock says when it ends.
        (None, None) if budget.minutes.is_some() => u64::MAX,
        (None, None) => DEFAULT_STEPS,
    };
    let time_limit = match budget.minutes {
        Some(m) if m.is_finite() && m >= 0.0 => Some(Duration::from_secs_f64(m * 60.0)),
        Some(m) => bail!("invalid parameter: --minutes {m}"),
        None => None,
    };
    let start = trainer.state().step;
    let todo = steps.saturating_sub(start);
    let bar = match budget.minutes {
        // Time-boxed: the clock, not the step count, says when it ends.
        Some(m) => progress_bar(
            quiet,
            todo,
            &format!(
                "tier {g}/{g_all} step {{pos}} [{{elapsed_precise}} of {m} min] {{msg}} {{per_sec}}"
            ),
        ),
        None => progress_bar(
            quiet,
            todo,
            &format!(
                "tier {g}/{g_all} step {{pos}}/{{len}} [{{bar:30}}] {{msg}} {{per_sec}}, ETA {{eta}}"
            ),
        ),
    };
    let options = FitOptions {
        steps,
        time_limit,
        clip_grad: settings.clip_grad,
        valid_every: settings.valid_every,
        checkpoint_every: settings.checkpoint_every,
        lr_halve_every_epochs: settings.lr_halve_every_epochs,
        input_noise: settings
            .input_noise
            .unwrap_or(melnet::train::fit::INPUT_NOISE),
    };
    let mut last_valid = f32::NAN;
    let end = fit(
        model,
        g,
        &mut trainer,
        &data,
        &options,
        interrupted(),
        |r| {
            last_valid = r.valid;
            bar.set_message(format!(
                "train {:.4} valid {:.4} nats/element",
                r.loss, r.valid
            ));
            bar.inc(1);
        },
        |dir| draw_losses(dir).map_err(|e| melnet::Error::Checkpoint(format!("{e:#}"))),
    )
    .with_context(|| {
        format!(
            "training stopped; the last good checkpoint is in {}",
            dir.display()
        )
    })?;
    bar.finish_and_clear();
    match end {
        FitEnd::Interrupted => {
            eprintln!(
                "interrupted at step {}: checkpoint written to {}",
                trainer.state().step,
                dir.display()
            );
            return Err(Interrupted.into());
        }
        FitEnd::TimeLimit => eprintln!(
            "tier {g}: time limit reached at step {}; --resume continues",
            trainer.state().step
        ),
        FitEnd::Finished => {}
    }
    if start == trainer.state().step {
        // Nothing trained (e.g. --steps 0): the curve of the initial checkpoint.
        draw_losses(&dir)?;
    }
    if last_valid.is_nan() {
        last_valid = tier_loss(model, g, &trainer, &data.valid()?)?;
    }
    Ok(Trained {
        step: trainer.state().step,
        valid: last_valid,
        parameters: trainer.parameters(),
    })
}

/// Options of `melnet eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Model directory made by `melnet train`.
    #[arg(long, visible_alias = "run")]
    pub model: PathBuf,
    /// Dataset directory: its fixed validation windows are scored.
    #[arg(long, required_unless_present = "input")]
    pub data: Option<PathBuf>,
    /// Score this spectrogram instead: a `melnet mel --db` output with the model's analysis
    /// parameters, or a dataset-scale `.npy` from `melnet sample` (`(n_mels, frames)`).
    #[arg(long, conflicts_with = "data")]
    pub input: Option<PathBuf>,
    /// Write the per-element NLL (nats) at full resolution, `(n_mels, frames)` `.npy`.
    #[arg(long, value_name = "OUT.npy")]
    pub per_element: Option<PathBuf>,
    /// The label and text of --input, for a conditioned model (with --data every window has
    /// its own).
    #[command(flatten)]
    pub conditions: ConditionArgs,
}

/// Per-tier and full-resolution NLL of a model on a dataset's validation windows, with the
/// per-element map `[windows, frames, bins]` and its frames per window.
///
/// # Errors
/// A missing or broken model or dataset, or one analysed otherwise.
pub(crate) fn valid_nll(model_dir: &Path, data: &Path) -> Result<(Nll, Vec<f32>, usize)> {
    let model = Model::open(model_dir)?;
    let ds = Dataset::open(data)?;
    let tiers = model.load_tiers()?;
    let windows = TrainingData::new(&model, &ds)?.valid()?;
    let (nll, map) = model.nll(
        &tiers,
        &windows.x,
        VALID_WINDOWS,
        windows.frames,
        &windows.conditions,
        Some(&windows.real),
    )?;
    Ok((nll, map, windows.frames))
}

/// Run `melnet eval`.
pub fn eval(args: EvalArgs) -> Result<()> {
    let (nll, map, frames) = match (&args.data, &args.input) {
        (Some(data), _) => {
            let (nll, map, frames) = valid_nll(&args.model, data)?;
            // The first validation window's map.
            let n = map.len() / VALID_WINDOWS;
            (nll, map[..n].to_vec(), frames)
        }
        (None, Some(input)) => {
            let model = Model::open(&args.model)?;
            let x = crate::commands::sample::read_spectrogram(input, &model, f64::INFINITY)?;
            let frames = x.nrows();
            let tiers = model.load_tiers()?;
            let conditions = args.conditions.conditions(&model, 1)?;
            let (nll, map) = model.nll(
                &tiers,
                x.as_slice().expect("standard layout"),
                1,
                frames,
                &conditions,
                None,
            )?;
            (nll, map, frames)
        }
        (None, None) => bail!("give --data or --input"),
    };
    for (g, (v, n)) in nll.tiers.iter().zip(&nll.elements).enumerate() {
        println!(
            "tier {}: {v:.4} nats/element ({:.4} bits/element) over {n} elements",
            g + 1,
            v / std::f64::consts::LN_2
        );
    }
    println!(
        "full resolution: {:.4} nats/element ({:.4} bits/element)",
        nll.full,
        nll.full / std::f64::consts::LN_2
    );
    if let Some(out) = &args.per_element {
        let bins = map.len() / frames.max(1);
        let arr = ndarray::Array2::from_shape_vec((frames, bins), map)
            .expect("whole frames")
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        let inputs: Vec<&Path> = args.input.as_deref().into_iter().collect();
        let mut outputs = Outputs::new(&inputs);
        let tmp = outputs.stage(out)?;
        melspec::npy::write_f32_2d(&tmp, arr.view())?;
        outputs.commit()?;
    }
    Ok(())
}
