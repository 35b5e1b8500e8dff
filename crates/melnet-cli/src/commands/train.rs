//! `melnet train`: train one MelNet tier on a dataset from `melnet prepare`; and
//! `melnet eval`: its validation NLL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use melnet::train::optim::{AdamConfig, OptimizerConfig, RmsPropConfig};
use melnet::train::Trainer;
use melnet::TierConfig;
use melspec::dataset::{Dataset, Normalization, Split, WindowSampler};

use crate::args::{interrupted, progress_bar};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Options of `melnet train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset directory made by `melnet prepare`.
    #[arg(long)]
    pub data: PathBuf,
    /// Run directory: checkpoints, the loss log (log.csv), its curve (loss.png, redrawn at every
    /// checkpoint) and the data settings.
    #[arg(long)]
    pub out: PathBuf,
    /// Tier settings as TOML: any of `layers`, `width`, `n_mixtures`, `centralized` (and
    /// `n_mels`, checked against the dataset); flags given as well take precedence.
    #[arg(long, value_name = "TIER.toml")]
    pub config: Option<PathBuf>,
    /// Layers L [default: 2, a tier that learns in minutes on two cores].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Hidden width D [default: 32].
    #[arg(long)]
    pub width: Option<usize>,
    /// Mixture components K [default: 10].
    #[arg(long)]
    pub mixtures: Option<usize>,
    /// Leave out the centralized stack.
    #[arg(long)]
    pub no_centralized: bool,
    /// Window length in frames (a resumed run keeps its own).
    #[arg(long, default_value_t = 32)]
    pub frames: usize,
    /// Windows per step (a resumed run keeps its own).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Total steps of the run (a resumed run trains the remainder; 0 writes the initial
    /// checkpoint) [default: 300].
    #[arg(long, conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Length of the run in epochs instead of steps (an epoch: as many steps as it takes to
    /// draw as many frames as the train split holds).
    #[arg(long)]
    pub epochs: Option<f64>,
    /// Stop (with a checkpoint) after this many minutes of training in this invocation, even
    /// if steps remain; `--resume` continues [default: no limit].
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
    /// Halve the learning rate every N epochs [default: constant learning rate].
    #[arg(long)]
    pub lr_halve_every_epochs: Option<f64>,
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
    /// Continue the run in --out.
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

/// The tier settings a `--config` file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierFile {
    n_mels: Option<usize>,
    layers: Option<usize>,
    width: Option<usize>,
    n_mixtures: Option<usize>,
    centralized: Option<bool>,
}

/// The tier of a new run: the defaults, then the `--config` file, then the flags.
fn tier_config(args: &Args, n_mels: usize) -> Result<TierConfig> {
    let file: TierFile = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            toml::from_str(&text).map_err(|e| {
                let msg = e.message().to_string();
                anyhow::anyhow!("{}: {msg}", path.display())
            })?
        }
        None => TierFile::default(),
    };
    if let Some(n) = file.n_mels.filter(|&n| n != n_mels) {
        bail!(
            "{}: n_mels = {n}, but the dataset has {n_mels} mels",
            args.config.as_deref().unwrap_or(Path::new("")).display()
        );
    }
    let base = TierConfig::small(n_mels);
    Ok(TierConfig {
        layers: args.layers.or(file.layers).unwrap_or(base.layers),
        width: args.width.or(file.width).unwrap_or(base.width),
        n_mixtures: args.mixtures.or(file.n_mixtures).unwrap_or(base.n_mixtures),
        centralized: !args.no_centralized && file.centralized.unwrap_or(base.centralized),
        ..base
    })
}

/// What a run keeps about its data, so that sampling and evaluation need no other input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataSettings {
    /// The dataset trained on.
    pub dataset: PathBuf,
    /// Learning rate at step 0 (the schedule's base).
    pub base_lr: f64,
    /// Window length, frames.
    pub frames: usize,
    /// Windows per step.
    pub batch: usize,
    /// How the model's inputs were normalised.
    pub normalization: Normalization,
    /// The dataset's analysis parameters.
    pub params: melspec::AnalysisParams,
    /// Values are dB (per-item reference max, 80 dB range).
    pub db: bool,
    /// The training split's statistics.
    pub stats: melspec::dataset::CorpusStats,
}

const DATA_FILE: &str = "data.json";
/// Steps of a run given neither `--steps` nor `--epochs`.
const DEFAULT_STEPS: u64 = 300;
const LOG_FILE: &str = "log.csv";
/// Validation windows per evaluation.
const VALID_WINDOWS: usize = 16;
/// Seed of the validation windows (the same in every run).
const VALID_SEED: u64 = 0x5eed;

/// Draw `count` windows `[count, frames, n_mels]`, normalised.
fn windows(
    ds: &Dataset,
    sampler: &WindowSampler,
    rng: &mut rand::rngs::StdRng,
    count: usize,
    frames: usize,
) -> Result<Tensor> {
    let n_mels = ds.manifest().n_mels;
    let mut buf = vec![0.0f32; count * frames * n_mels];
    for w in buf.chunks_exact_mut(frames * n_mels) {
        sampler.sample(rng, Normalization::Standard, w)?;
    }
    Ok(Tensor::from_vec(
        buf,
        (count, frames, n_mels),
        &Device::Cpu,
    )?)
}

fn valid_batch(ds: &Dataset, frames: usize) -> Result<Tensor> {
    let sampler = ds.windows(Split::Valid, frames, true)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(VALID_SEED);
    windows(ds, &sampler, &mut rng, VALID_WINDOWS, frames)
}

/// Redraw `loss.png` from `log.csv` (through a temporary file, renamed).
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

/// Drop the log rows after `step` (a run resumed from an older checkpoint redoes them).
fn truncate_log(dir: &Path, step: u64) -> Result<()> {
    let path = dir.join(LOG_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read the log", path.display()))?;
    let kept: String = text
        .lines()
        .enumerate()
        .filter(|(i, l)| {
            *i == 0
                || l.split(',')
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|s| s <= step)
        })
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let tmp = dir.join(format!(".{LOG_FILE}.tmp"));
    std::fs::write(&tmp, kept)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// The data settings of the run in `dir`.
pub(crate) fn read_data(dir: &Path) -> Result<DataSettings> {
    let text = std::fs::read_to_string(dir.join(DATA_FILE))
        .with_context(|| format!("{}: not a training run", dir.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn write_data(dir: &Path, d: &DataSettings) -> Result<()> {
    let tmp = dir.join(format!(".{DATA_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_string_pretty(d)?)?;
    std::fs::rename(&tmp, dir.join(DATA_FILE))?;
    Ok(())
}

/// Run `melnet train`.
pub fn run(args: Args) -> Result<()> {
    if args.frames == 0 || args.batch == 0 {
        bail!("invalid parameter: --frames and --batch must be positive");
    }
    let ds = Dataset::open(&args.data)?;
    let n_mels = ds.manifest().n_mels;
    let mut trainer = if args.resume {
        let config = Trainer::read_config(&args.out)?;
        if config.n_mels != n_mels {
            bail!(
                "{}: the run models {} bins, the dataset has {n_mels} mels",
                args.out.display(),
                config.n_mels
            );
        }
        let asked = args.config.is_some()
            || args.layers.is_some()
            || args.width.is_some()
            || args.mixtures.is_some()
            || args.no_centralized;
        if asked && tier_config(&args, n_mels)? != config {
            bail!(
                "{}: the run's tier is {}; --resume continues it as it is (leave out the tier options)",
                args.out.display(),
                serde_json::to_string(&config)?
            );
        }
        Trainer::load(&args.out)?
    } else {
        if args.out.join("state.json").exists() {
            bail!(
                "{}: a run exists; use --resume or another directory",
                args.out.display()
            );
        }
        let config = tier_config(&args, n_mels)?;
        let opt = match args.optimizer {
            OptimizerKind::Rmsprop => OptimizerConfig::RmsProp(RmsPropConfig {
                lr: args.lr,
                momentum: args.momentum,
                ..RmsPropConfig::default()
            }),
            OptimizerKind::Adam => OptimizerConfig::Adam(AdamConfig {
                lr: args.lr,
                ..AdamConfig::default()
            }),
        };
        let t = Trainer::new(config, opt, args.seed)?;
        t.save(&args.out)?;
        let m = ds.manifest();
        write_data(
            &args.out,
            &DataSettings {
                dataset: args.data.clone(),
                base_lr: args.lr,
                frames: args.frames,
                batch: args.batch,
                normalization: Normalization::Standard,
                params: m.params,
                db: m.settings.db,
                stats: m.stats.clone(),
            },
        )?;
        std::fs::write(args.out.join(LOG_FILE), "step,train_nll,valid_nll\n")?;
        t
    };
    // A resumed run keeps its own window length and batch.
    let data = read_data(&args.out)?;
    let (frames, batch) = (data.frames, data.batch);
    let epoch_steps = (ds.manifest().stats.train_frames as f64 / (batch * frames) as f64).max(1.0);
    let total = match (args.steps, args.epochs) {
        (Some(steps), _) => steps,
        (None, Some(epochs)) if epochs.is_finite() && epochs >= 0.0 => {
            (epochs * epoch_steps).ceil() as u64
        }
        (None, Some(epochs)) => bail!("invalid parameter: --epochs {epochs}"),
        (None, None) => DEFAULT_STEPS,
    };
    let train_windows = ds.windows(Split::Train, frames, true)?;
    let valid = valid_batch(&ds, frames)?;
    let cancel = interrupted();
    if args.resume {
        truncate_log(&args.out, trainer.state().step)?;
    } else {
        // The untrained model's validation NLL, as the curve's starting point.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(args.out.join(LOG_FILE))?;
        writeln!(log, "0,,{}", trainer.loss(&valid)?)?;
    }
    let start = trainer.state().step;
    let bar = match args.minutes {
        // Time-boxed: the clock, not the step count, says when it ends.
        Some(m) => progress_bar(
            args.quiet,
            total.saturating_sub(start),
            &format!("step {{pos}} [{{elapsed_precise}} of {m} min] {{msg}} {{per_sec}}"),
        ),
        None => progress_bar(
            args.quiet,
            total.saturating_sub(start),
            "step {pos}/{len} [{bar:30}] {msg} {per_sec}, ETA {eta}",
        ),
    };
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(args.out.join(LOG_FILE))
        .with_context(|| format!("{}: cannot open the log", args.out.display()))?;
    let mut last_valid = f32::NAN;
    let stopped = || {
        format!(
            "training stopped; the last good checkpoint is in {}",
            args.out.display()
        )
    };
    let started = std::time::Instant::now();
    let deadline = args
        .minutes
        .map(|m| std::time::Duration::from_secs_f64(m.max(0.0) * 60.0));
    while trainer.state().step < total {
        if cancel.load(Ordering::SeqCst) {
            trainer.save(&args.out)?;
            bar.finish_and_clear();
            eprintln!(
                "interrupted at step {}: checkpoint written to {}",
                trainer.state().step,
                args.out.display()
            );
            std::process::exit(130);
        }
        let step = trainer.state().step;
        // The windows of a step depend only on (seed, step): resuming continues exactly.
        let mut rng = rand::rngs::StdRng::seed_from_u64(trainer.state().seed ^ (step << 20));
        let x = windows(&ds, &train_windows, &mut rng, batch, frames)?;
        if let Some(every) = args.lr_halve_every_epochs {
            let halvings = (step as f64 / (every * epoch_steps)).floor();
            trainer.set_learning_rate(data.base_lr * 0.5f64.powf(halvings));
        }
        let loss = trainer.step(&x, args.clip_grad).with_context(stopped)?;
        let done = trainer.state().step;
        let out_of_time = deadline.is_some_and(|d| started.elapsed() >= d);
        // The valid column is empty on steps without a validation.
        let mut valid_field = String::new();
        if done % args.valid_every.max(1) == 0 || done == total || out_of_time {
            last_valid = trainer.loss(&valid)?;
            valid_field = last_valid.to_string();
        }
        writeln!(log, "{done},{loss},{valid_field}")?;
        bar.set_message(format!(
            "train {loss:.4} valid {last_valid:.4} nats/element"
        ));
        bar.inc(1);
        if done % args.checkpoint_every.max(1) == 0 {
            trainer.save(&args.out).with_context(stopped)?;
            log.flush()?;
            draw_losses(&args.out)?;
        }
        if out_of_time && done < total {
            bar.suspend(|| eprintln!("time limit reached at step {done}; --resume continues"));
            break;
        }
    }
    trainer.save(&args.out).with_context(stopped)?;
    log.flush()?;
    draw_losses(&args.out)?;
    bar.finish_and_clear();
    println!(
        "{}: step {}, valid NLL {:.4} nats/element",
        args.out.display(),
        trainer.state().step,
        if last_valid.is_nan() {
            trainer.loss(&valid)?
        } else {
            last_valid
        }
    );
    Ok(())
}

/// Options of `melnet eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Run directory made by `melnet train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Dataset directory (its valid split is evaluated).
    #[arg(long)]
    pub data: PathBuf,
}

/// The validation NLL of the run `run` on the dataset `data`, nats per element.
///
/// # Errors
/// A missing or broken run or dataset, or one of another width.
pub(crate) fn valid_nll(run: &Path, data: &Path) -> Result<f32> {
    let settings = read_data(run)?;
    let ds = Dataset::open(data)?;
    let trainer = Trainer::load(run)?;
    if trainer.tier().config().n_mels != ds.manifest().n_mels {
        bail!(
            "{}: the run models {} bins, the dataset has {} mels",
            run.display(),
            trainer.tier().config().n_mels,
            ds.manifest().n_mels
        );
    }
    Ok(trainer.loss(&valid_batch(&ds, settings.frames)?)?)
}

/// Run `melnet eval`.
pub fn eval(args: EvalArgs) -> Result<()> {
    let nll = valid_nll(&args.run, &args.data)?;
    println!(
        "valid NLL: {nll:.4} nats/element ({:.4} bits/element)",
        nll / std::f32::consts::LN_2
    );
    Ok(())
}
