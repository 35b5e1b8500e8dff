//! `melnet train`: train one MelNet tier on a dataset from `melnet prepare`; and
//! `melnet eval`: its validation NLL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use melnet::train::optim::RmsPropConfig;
use melnet::train::Trainer;
use melnet::TierConfig;
use melspec::dataset::{Dataset, Normalization, Split, WindowSampler};

use crate::args::progress_bar;
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
    /// Layers L (the default is a tier that learns in minutes on two cores).
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Hidden width D.
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// Mixture components K.
    #[arg(long, default_value_t = 10)]
    pub mixtures: usize,
    /// Leave out the centralized stack.
    #[arg(long)]
    pub no_centralized: bool,
    /// Window length in frames.
    #[arg(long, default_value_t = 32)]
    pub frames: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Total steps of the run (a resumed run trains the remainder; 0 writes the initial
    /// checkpoint).
    #[arg(long, default_value_t = 300)]
    pub steps: u64,
    /// RMSProp learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// RMSProp momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Halve the learning rate every N epochs (an epoch: as many steps as it takes to draw as
    /// many frames as the train split holds) [default: constant learning rate].
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

/// What a run keeps about its data, so that sampling and evaluation need no other input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DataSettings {
    dataset: PathBuf,
    /// Learning rate at step 0 (the schedule's base).
    base_lr: f64,
    frames: usize,
    batch: usize,
    normalization: Normalization,
    params: melspec::AnalysisParams,
    db: bool,
    stats: melspec::dataset::CorpusStats,
}

const DATA_FILE: &str = "data.json";
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

fn read_data(dir: &Path) -> Result<DataSettings> {
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
        Trainer::load(&args.out)?
    } else {
        if args.out.join("state.json").exists() {
            bail!(
                "{}: a run exists; use --resume or another directory",
                args.out.display()
            );
        }
        let config = TierConfig {
            n_mels,
            layers: args.layers,
            width: args.width,
            n_mixtures: args.mixtures,
            centralized: !args.no_centralized,
            ..TierConfig::small(n_mels)
        };
        let opt = RmsPropConfig {
            lr: args.lr,
            momentum: args.momentum,
            ..RmsPropConfig::default()
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
    let train_windows = ds.windows(Split::Train, args.frames, true)?;
    let valid = valid_batch(&ds, args.frames)?;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::SeqCst));
    }
    if trainer.state().step == 0 && !args.resume {
        // The untrained model's validation NLL, as the curve's starting point.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(args.out.join(LOG_FILE))?;
        writeln!(log, "0,,{}", trainer.loss(&valid)?)?;
    }
    let base_lr = read_data(&args.out)?.base_lr;
    let start = trainer.state().step;
    let bar = progress_bar(
        args.quiet,
        args.steps.saturating_sub(start),
        "step {pos}/{len} [{bar:30}] {msg} {per_sec}, ETA {eta}",
    );
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(args.out.join(LOG_FILE))
        .with_context(|| format!("{}: cannot open the log", args.out.display()))?;
    let mut last_valid = f32::NAN;
    while trainer.state().step < args.steps {
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
        let x = windows(&ds, &train_windows, &mut rng, args.batch, args.frames)?;
        if let Some(every) = args.lr_halve_every_epochs {
            let epoch_steps = (ds.manifest().stats.train_frames as f64
                / (args.batch * args.frames) as f64)
                .max(1.0);
            let halvings = (step as f64 / (every * epoch_steps)).floor();
            trainer.set_learning_rate(base_lr * 0.5f64.powf(halvings));
        }
        let loss = trainer.step(&x, args.clip_grad).with_context(|| {
            format!(
                "training stopped; the last good checkpoint is in {}",
                args.out.display()
            )
        })?;
        let done = trainer.state().step;
        // The valid column is empty on steps without a validation.
        let mut valid_field = String::new();
        if done % args.valid_every.max(1) == 0 || done == args.steps {
            last_valid = trainer.loss(&valid)?;
            valid_field = last_valid.to_string();
        }
        writeln!(log, "{done},{loss},{valid_field}")?;
        bar.set_message(format!(
            "train {loss:.4} valid {last_valid:.4} nats/element"
        ));
        bar.inc(1);
        if done % args.checkpoint_every.max(1) == 0 {
            trainer.save(&args.out)?;
            log.flush()?;
            draw_losses(&args.out)?;
        }
    }
    trainer.save(&args.out)?;
    log.flush()?;
    draw_losses(&args.out)?;
    bar.finish_and_clear();
    println!(
        "{}: step {}, valid NLL {:.4} nats/element",
        args.out.display(),
        trainer.state().step,
        trainer.loss(&valid)?
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

/// Run `melnet eval`.
pub fn eval(args: EvalArgs) -> Result<()> {
    let data = read_data(&args.run)?;
    let ds = Dataset::open(&args.data)?;
    let trainer = Trainer::load(&args.run)?;
    if trainer.tier().config().n_mels != ds.manifest().n_mels {
        bail!(
            "{}: the run models {} bins, the dataset has {} mels",
            args.run.display(),
            trainer.tier().config().n_mels,
            ds.manifest().n_mels
        );
    }
    let nll = trainer.loss(&valid_batch(&ds, data.frames)?)?;
    println!(
        "valid NLL: {nll:.4} nats/element ({:.4} bits/element)",
        nll / std::f32::consts::LN_2
    );
    Ok(())
}
