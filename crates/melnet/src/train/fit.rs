//! Training one tier of a model on a dataset (teacher forcing): every step draws random
//! full-resolution windows of the train split, splits them down to the tier's shape, and
//! trains the tier on its part x^g given x^{<g}. Validation uses fixed windows of the valid
//! split. The tier directory's `log.csv` and checkpoints are written here; resuming continues
//! exactly (the windows of step s depend only on the run's seed and s).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::Tensor;
use melspec::dataset::{Dataset, Split, WindowSampler};
use rand::SeedableRng;

use crate::error::{Error, Result};
use crate::model::{Model, TierSpec, LOG_FILE};
use crate::train::checkpoint::io;
use crate::train::optim::OptimizerConfig;
use crate::train::Trainer;

/// Validation windows per evaluation.
pub const VALID_WINDOWS: usize = 16;
/// Seed of the validation windows (the same in every run).
const VALID_SEED: u64 = 0x5eed;

/// How long and how a tier trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// The tier's total steps (a resumed tier trains the remainder).
    pub steps: u64,
    /// Stop with a checkpoint after this much wall-clock time in this call.
    pub time_limit: Option<Duration>,
    /// Scale gradients down to this global norm when longer.
    pub clip_grad: Option<f64>,
    /// Validation NLL every N steps (and at the last).
    pub valid_every: u64,
    /// Checkpoint every N steps (and at the last).
    pub checkpoint_every: u64,
    /// Halve the learning rate every N epochs of the train split.
    pub lr_halve_every_epochs: Option<f64>,
}

/// Why [`fit`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitEnd {
    /// The tier reached its total steps.
    Finished,
    /// The time limit came first.
    TimeLimit,
    /// `cancel` was set (a checkpoint was written).
    Interrupted,
}

/// One step's numbers, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Steps done.
    pub step: u64,
    /// Training NLL of the step's batch, nats/element.
    pub loss: f32,
    /// The last validation NLL, nats/element (NaN before the first).
    pub valid: f32,
}

/// Check that `ds` was analysed as the model's data.
///
/// # Errors
/// [`Error::InvalidConfig`] naming the difference.
pub fn check_dataset(model: &Model, ds: &Dataset) -> Result<()> {
    let (m, c) = (ds.manifest(), model.config());
    if m.params != c.params || m.settings.db != c.db {
        return Err(Error::InvalidConfig {
            name: "dataset",
            value: ds.dir().display().to_string(),
            reason: format!(
                "analysed with other parameters than the model's data ({} mels at {} Hz{} vs {} mels at {} Hz{})",
                m.n_mels,
                m.params.sr,
                if m.settings.db { ", dB" } else { "" },
                c.n_mels,
                c.params.sr,
                if c.db { ", dB" } else { "" },
            ),
        });
    }
    Ok(())
}

/// Tier g's part of `count` random full-resolution windows: `(x^g, x^{<g})` tensors
/// `[count, frames, bins]`.
///
/// # Errors
/// Dataset read errors.
pub fn tier_batch(
    model: &Model,
    g: usize,
    windows: &WindowSampler,
    rng: &mut rand::rngs::StdRng,
    count: usize,
) -> Result<(Tensor, Option<Tensor>)> {
    let c = model.config();
    let full = model.grid(c.frames);
    let mut buf = vec![0.0f32; count * full.len()];
    for w in buf.chunks_exact_mut(full.len()) {
        windows.sample(rng, c.normalization, w)?;
    }
    Ok(model.tier_inputs(&buf, count, c.frames)?.swap_remove(g - 1))
}

/// The fixed validation windows of the model, full resolution `[VALID_WINDOWS, frames, bins]`
/// normalised.
///
/// # Errors
/// Dataset errors (e.g. a valid split with no window of the model's length).
pub fn valid_windows(model: &Model, ds: &Dataset) -> Result<Vec<f32>> {
    let c = model.config();
    let sampler = ds.windows(Split::Valid, c.frames, true)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(VALID_SEED);
    let full = model.grid(c.frames);
    let mut buf = vec![0.0f32; VALID_WINDOWS * full.len()];
    for w in buf.chunks_exact_mut(full.len()) {
        sampler.sample(&mut rng, c.normalization, w)?;
    }
    Ok(buf)
}

/// A new tier g of `model` with the layers `spec`, initialised from `seed`, with its
/// checkpoint at step 0 and a log holding the untrained validation NLL.
///
/// # Errors
/// [`Error::Checkpoint`] when the tier exists; invalid config; I/O errors.
pub fn start_tier(
    model: &Model,
    g: usize,
    spec: TierSpec,
    optimizer: OptimizerConfig,
    seed: u64,
    batch: usize,
    ds: &Dataset,
) -> Result<Trainer> {
    let dir = model.tier_dir(g);
    if crate::train::checkpoint::exists(&dir) {
        return Err(Error::Checkpoint(format!(
            "{}: tier {g} exists; resume it or use another model directory",
            dir.display()
        )));
    }
    if batch == 0 {
        return Err(Error::InvalidConfig {
            name: "batch",
            value: "0".into(),
            reason: "must be positive".into(),
        });
    }
    let trainer = Trainer::new(model.tier_config(g, spec)?, optimizer, seed, batch)?;
    let valid = tier_loss(model, g, &trainer, &valid_windows(model, ds)?)?;
    // The log first: the checkpoint is what makes the tier exist, so a run killed in between
    // starts the tier again rather than leaving it without a log.
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    crate::train::checkpoint::write_atomic(
        &dir,
        LOG_FILE,
        format!("{LOG_HEADER}\n0,,{valid}\n").as_bytes(),
    )?;
    trainer.save(&dir)?;
    Ok(trainer)
}

/// Tier g's mean NLL on full-resolution windows `x` (normalised), nats per element.
fn tier_loss(model: &Model, g: usize, trainer: &Trainer, x: &[f32]) -> Result<f32> {
    let frames = model.config().frames;
    let count = x.len() / model.grid(frames).len();
    let (xt, coarse) = model.tier_inputs(x, count, frames)?.swap_remove(g - 1);
    trainer.loss(&xt, coarse.as_ref())
}

/// The first line of `log.csv`.
const LOG_HEADER: &str = "step,train_nll,valid_nll";

/// Drop the log rows after `step` (a tier resumed from its checkpoint redoes them); a missing
/// log starts again from its header.
fn truncate_log(dir: &Path, step: u64) -> Result<()> {
    let path = dir.join(LOG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!("{LOG_HEADER}\n"),
        other => other.map_err(|e| io(&path, e))?,
    };
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
    crate::train::checkpoint::write_atomic(dir, LOG_FILE, kept.as_bytes())
}

/// The random stream of step `step` of a run seeded `seed` (SplitMix64 of both: streams of
/// different steps and seeds do not collide).
fn step_rng(seed: u64, step: u64) -> rand::rngs::StdRng {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    rand::rngs::StdRng::seed_from_u64(z ^ (z >> 31))
}

/// Train tier g of `model` (its [`Trainer`], fresh from [`start_tier`] or resumed with
/// [`Trainer::load`]) on `ds` until `options.steps`, the time limit or `cancel`.
/// `on_step` sees every step; `on_checkpoint` runs after every checkpoint (e.g. to redraw the
/// loss curve from the log).
///
/// # Errors
/// [`Error::NonFinite`] when training diverges (the last good checkpoint stays); dataset,
/// candle and I/O errors.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    model: &Model,
    g: usize,
    trainer: &mut Trainer,
    ds: &Dataset,
    options: &FitOptions,
    cancel: &AtomicBool,
    mut on_step: impl FnMut(&StepReport),
    mut on_checkpoint: impl FnMut(&Path) -> Result<()>,
) -> Result<FitEnd> {
    check_dataset(model, ds)?;
    let dir = model.tier_dir(g);
    truncate_log(&dir, trainer.state().step)?;
    let c = model.config();
    let batch = trainer.state().batch;
    let epoch_steps =
        (ds.manifest().stats.train_frames as f64 / (batch * c.frames) as f64).max(1.0);
    let train = ds.windows(Split::Train, c.frames, true)?;
    let valid = valid_windows(model, ds)?;
    let log_path = dir.join(LOG_FILE);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .map_err(|e| io(&log_path, e))?;
    let started = Instant::now();
    let mut last_valid = f32::NAN;
    let checkpoint = |trainer: &Trainer,
                      log: &mut std::fs::File,
                      hook: &mut dyn FnMut(&Path) -> Result<()>|
     -> Result<()> {
        log.flush().map_err(|e| io(&log_path, e))?;
        trainer.save(&dir)?;
        hook(&dir)
    };
    while trainer.state().step < options.steps {
        if cancel.load(Ordering::SeqCst) {
            checkpoint(trainer, &mut log, &mut on_checkpoint)?;
            return Ok(FitEnd::Interrupted);
        }
        let step = trainer.state().step;
        let mut rng = step_rng(trainer.state().seed, step);
        let (x, coarse) = tier_batch(model, g, &train, &mut rng, batch)?;
        if let Some(every) = options.lr_halve_every_epochs {
            let halvings = (step as f64 / (every * epoch_steps)).floor();
            let base = trainer.state().base_lr;
            trainer.set_learning_rate(base * 0.5f64.powf(halvings));
        }
        let loss = trainer.step(&x, coarse.as_ref(), options.clip_grad)?;
        let done = trainer.state().step;
        let out_of_time = options.time_limit.is_some_and(|d| started.elapsed() >= d);
        let last = done == options.steps || out_of_time;
        let mut valid_field = String::new();
        if done.is_multiple_of(options.valid_every.max(1)) || last {
            last_valid = tier_loss(model, g, trainer, &valid)?;
            valid_field = last_valid.to_string();
        }
        writeln!(log, "{done},{loss},{valid_field}").map_err(|e| io(&log_path, e))?;
        on_step(&StepReport {
            step: done,
            loss,
            valid: last_valid,
        });
        if done.is_multiple_of(options.checkpoint_every.max(1)) || last {
            checkpoint(trainer, &mut log, &mut on_checkpoint)?;
        }
        if out_of_time && done < options.steps {
            return Ok(FitEnd::TimeLimit);
        }
    }
    Ok(FitEnd::Finished)
}
