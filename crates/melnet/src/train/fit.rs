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
use melnet_data::dataset::{Dataset, LabelKind, Split, Transcripts, WindowSampler};
use rand::SeedableRng;

use crate::checkpoint::io;
use crate::error::{Error, Result};
use crate::model::{Model, TierSpec, LOG_FILE};
use crate::text::guide;
use crate::tier::{Conditions, Context};
use crate::train::optim::OptimizerConfig;
use crate::train::report::{FitEnd, Observer, StepReport};
use crate::train::Trainer;

/// Validation windows per evaluation.
pub const VALID_WINDOWS: usize = 16;
/// Training batches are drawn from this many times as many windows, sorted by length
/// ([`TrainingData::draw`]).
pub const GROUP_POOL: usize = 8;
/// Seed of the validation windows (the same in every run).
const VALID_SEED: u64 = 0x5eed;

/// How long a tier trains in one [`fit`] call, and how its steps run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// The tier's total steps (a resumed tier trains the remainder).
    pub steps: u64,
    /// Stop with a checkpoint after this much wall-clock time in this call.
    pub time_limit: Option<Duration>,
    /// How each step runs.
    pub step: StepOptions,
}

/// How each training step runs: everything about training but its length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOptions {
    /// Scale gradients down to this global norm when longer.
    pub clip_grad: Option<f64>,
    /// Validation NLL every N steps (and at the last).
    pub valid_every: u64,
    /// Checkpoint every N steps (and at the last).
    pub checkpoint_every: u64,
    /// Halve the learning rate every N epochs of the train split
    /// ([`TrainingData::epoch_steps`]).
    pub lr_halve_every_epochs: Option<f64>,
    /// Standard deviation of the Gaussian noise added to the values the tier conditions on
    /// (not to the values it is scored on), in the model's normalised units ([`noised`]); 0:
    /// none.
    pub input_noise: f64,
}

impl Default for StepOptions {
    /// `melnet train`'s defaults: no clipping, validation every 50 steps, a checkpoint every
    /// 100, a constant learning rate, [`INPUT_NOISE`].
    fn default() -> Self {
        StepOptions {
            clip_grad: None,
            valid_every: 50,
            checkpoint_every: 100,
            lr_halve_every_epochs: None,
            input_noise: INPUT_NOISE,
        }
    }
}

impl StepOptions {
    /// Refuse values no run can use.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        check_amount("clip_grad", self.clip_grad, false)?;
        check_amount("lr_halve_every_epochs", self.lr_halve_every_epochs, false)?;
        check_amount("input_noise", Some(self.input_noise), true)?;
        for (name, every) in [
            ("valid_every", self.valid_every),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            if every == 0 {
                return Err(Error::InvalidConfig {
                    name,
                    value: "0".into(),
                    reason: "must be positive".into(),
                });
            }
        }
        Ok(())
    }
}

/// Refuse an amount `value` of option `name` that is not finite and positive (or zero, with
/// `zero_ok`).
///
/// # Errors
/// [`Error::InvalidConfig`] naming `name`.
pub(crate) fn check_amount(name: &'static str, value: Option<f64>, zero_ok: bool) -> Result<()> {
    let usable = |v: &f64| v.is_finite() && (*v > 0.0 || (zero_ok && *v == 0.0));
    match value.filter(|v| !usable(v)) {
        None => Ok(()),
        Some(v) => Err(Error::InvalidConfig {
            name,
            value: v.to_string(),
            reason: format!(
                "must be {} and finite",
                if zero_ok { "non-negative" } else { "positive" }
            ),
        }),
    }
}

/// [`StepOptions::input_noise`] unless told otherwise. With clean inputs the toy TTS model
/// learnt to go on with the previous frame and to start letters late, behind its attention
/// window (24.3 % character errors after ten minutes); with this much noise (about 11 dB of a
/// standardised dB dataset) it leans on the text, and said 19 of 20 held-out texts exactly
/// (0.8 % character errors). Unconditioned models trained on the bundled recordings for five
/// minutes drew samples whose mean level was within 0.1–6 dB of the data's with it, against
/// 6–22 dB off without, over three seeds (BENCHMARKS.md, "Noisy inputs").
pub const INPUT_NOISE: f64 = 0.5;

/// `x` plus Gaussian noise of standard deviation `sigma` drawn from `rng` (the teacher-forced
/// inputs of a step; the same for the same stream).
///
/// # Errors
/// Candle errors.
pub fn noised(x: &Tensor, sigma: f64, rng: &mut rand::rngs::StdRng) -> Result<Tensor> {
    use rand::Rng;
    let noise: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            let z: f32 = rng.sample(rand_distr::StandardNormal);
            z * sigma as f32
        })
        .collect();
    Ok((x + Tensor::from_vec(noise, x.shape(), x.device())?)?)
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

/// Windows drawn for training or validation.
#[derive(Debug, Clone)]
pub struct Windows {
    /// Full-resolution values `[count, frames, bins]`, normalised.
    pub x: Vec<f32>,
    /// Frames per window (at most the model's window).
    pub frames: usize,
    /// Each window's conditions.
    pub conditions: Conditions,
    /// Each window's frames of data: the rest is padding after a short item's end (the
    /// corpus minimum), left out of the loss — it is not data, and long runs of it would teach
    /// a model that silence never ends.
    pub real: Vec<usize>,
    /// Whether each window holds the rest of its item (the item ends inside it).
    pub whole: Vec<bool>,
}

impl Windows {
    /// Number of windows.
    pub fn count(&self) -> usize {
        self.real.len()
    }
}

/// What a model trains on from a dataset: random windows of the train split, fixed windows
/// of the valid split, and each item's conditions (its class for a label model; its
/// transcript for a text model, whose windows then start at the items' starts and leave out
/// items without one).
pub struct TrainingData<'a> {
    model: &'a Model,
    dataset: &'a Dataset,
    train: WindowSampler<'a>,
    valid: WindowSampler<'a>,
    /// Class index per manifest item.
    labels: Option<Vec<u32>>,
    /// Character ids per manifest item (`None`: no transcript).
    texts: Option<Vec<Option<Vec<u32>>>>,
}

impl<'a> TrainingData<'a> {
    /// The training material of `model` in `ds` (its transcripts read from the file the model
    /// records).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the dataset was analysed otherwise, lacks the model's
    /// labels, or no item of a split has a window; transcript read errors; a transcript with a
    /// character the model does not know.
    pub fn new(model: &'a Model, ds: &'a Dataset) -> Result<Self> {
        check_dataset(model, ds)?;
        let c = model.config();
        let labels = match &c.labels {
            None => None,
            Some(classes) => Some(category_labels(ds, classes)?),
        };
        let texts = match &c.text {
            None => None,
            Some(t) => {
                let table = Transcripts::read(&t.transcripts)?;
                let texts = ds
                    .manifest()
                    .items
                    .iter()
                    .map(|item| {
                        table
                            .get(&item.path)
                            .map(|said| t.alphabet.encode(said))
                            .transpose()
                    })
                    .collect::<Result<Vec<_>>>()?;
                Some(texts)
            }
        };
        let windows = |split| -> Result<WindowSampler<'a>> {
            // A text model's windows start where its items (and their transcripts) start.
            let hop = if texts.is_some() { usize::MAX } else { 1 };
            let mut index = ds.window_index(split, c.frames, hop, true)?;
            if let Some(texts) = &texts {
                index
                    .retain(|item| texts[item].is_some())
                    .map_err(|_| Error::InvalidConfig {
                        name: "text",
                        value: ds.dir().display().to_string(),
                        reason: format!(
                            "no {} item has a transcript (prepare with another --valid-fraction or --seed, or add transcripts)",
                            match split {
                                Split::Train => "train",
                                Split::Valid => "valid",
                            }
                        ),
                    })?;
            }
            Ok(ds.sampler(index))
        };
        Ok(TrainingData {
            model,
            dataset: ds,
            train: windows(Split::Train)?,
            valid: windows(Split::Valid)?,
            labels,
            texts,
        })
    }

    /// `count` random windows of `split`, as long as the longest one's data (padding after
    /// short items' ends only up to it). With `grouped`, the windows are drawn as a pool of
    /// [`GROUP_POOL`] × `count` and the batch is a random run of `count` of them in order of
    /// length (each window as likely as before; less padding, so cheaper steps).
    ///
    /// # Errors
    /// Dataset read errors.
    pub fn draw(
        &self,
        split: Split,
        rng: &mut rand::rngs::StdRng,
        count: usize,
        grouped: bool,
    ) -> Result<Windows> {
        use rand::Rng;
        let c = self.model.config();
        let sampler = match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
        };
        let positions: Vec<u64> = if grouped {
            let mut pool: Vec<(usize, u64)> = (0..count * GROUP_POOL)
                .map(|_| {
                    let p = sampler.pick(rng);
                    (sampler.real_frames(p), p)
                })
                .collect();
            // By length only: among equal lengths the pool's random order stays.
            pool.sort_by_key(|&(real, _)| real);
            let group = rng.gen_range(0..GROUP_POOL);
            pool[group * count..(group + 1) * count]
                .iter()
                .map(|&(_, p)| p)
                .collect()
        } else {
            (0..count).map(|_| sampler.pick(rng)).collect()
        };
        let longest = positions
            .iter()
            .map(|&p| sampler.real_frames(p))
            .max()
            .unwrap_or(c.frames);
        // Every time split keeps a fine part with an even number of frames per tier below.
        let multiple = 1 << c.tiers;
        let frames = longest.next_multiple_of(multiple).min(c.frames);
        let window = self.model.grid(c.frames).len();
        let kept = self.model.grid(frames).len();
        let mut one = vec![0.0f32; window];
        let mut x = Vec::with_capacity(count * kept);
        let mut items = Vec::with_capacity(count);
        let mut real = Vec::with_capacity(count);
        let mut whole = Vec::with_capacity(count);
        let manifest = &self.dataset.manifest().items;
        for &p in &positions {
            let (start, item) = sampler.read(p, c.normalization, &mut one)?;
            x.extend_from_slice(&one[..kept]);
            items.push(item);
            let left = manifest[item].frames[1] - start;
            real.push(left.min(frames));
            whole.push(left < c.frames);
        }
        let conditions = Conditions {
            labels: self
                .labels
                .as_ref()
                .map(|l| items.iter().map(|&i| l[i]).collect()),
            texts: self.texts.as_ref().map(|t| {
                items
                    .iter()
                    .map(|&i| t[i].clone().expect("windows of items with text"))
                    .collect()
            }),
        };
        Ok(Windows {
            x,
            frames,
            conditions,
            real,
            whole,
        })
    }

    /// Tier g's part of `count` random training windows: x^g, its context (with the attention
    /// [`guide`] for a text tier) and its loss mask ([`Model::tier_masks`]).
    ///
    /// # Errors
    /// Dataset read errors.
    pub fn tier_batch(
        &self,
        g: usize,
        rng: &mut rand::rngs::StdRng,
        count: usize,
    ) -> Result<(Tensor, Context, Tensor)> {
        let windows = self.draw(Split::Train, rng, count, self.texts.is_some())?;
        let (x, mut context, mask) = tier_part(self.model, g, &windows)?;
        if let Some(text) = &context.text {
            // The frames each text takes at this tier's resolution, when the window holds
            // all of it.
            let (frames, tier_frames) = (windows.frames, x.dim(1)?);
            let said: Vec<Option<usize>> = windows
                .real
                .iter()
                .zip(&windows.whole)
                .map(|(&r, &whole)| whole.then(|| (r * tier_frames).div_ceil(frames)))
                .collect();
            context.guide = Some(guide(text, &said, tier_frames)?);
        }
        Ok((x, context, mask))
    }

    /// Steps of `batch` windows that draw as many frames of data as the train split holds
    /// (at least one): an epoch, for learning-rate schedules.
    pub fn epoch_steps(&self, batch: usize) -> f64 {
        let frames = self.model.config().stats.train_frames as f64;
        (frames / (batch as f64 * self.train.mean_real_frames())).max(1.0)
    }

    /// The fixed validation windows ([`VALID_WINDOWS`] of them, the same in every run).
    ///
    /// # Errors
    /// Dataset read errors.
    pub fn valid(&self) -> Result<Windows> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(VALID_SEED);
        self.draw(Split::Valid, &mut rng, VALID_WINDOWS, false)
    }
}

/// Each item's class index in `ds`, whose category labels must be `classes`.
///
/// # Errors
/// [`Error::InvalidConfig`] when the dataset has no category labels or other classes.
pub fn category_labels(ds: &Dataset, classes: &[String]) -> Result<Vec<u32>> {
    let bad = |reason: String| Error::InvalidConfig {
        name: "labels",
        value: ds.dir().display().to_string(),
        reason,
    };
    match ds.manifest().labels.as_ref().map(|l| &l.kind) {
        Some(LabelKind::Category { classes: have }) if have == classes => {}
        Some(LabelKind::Category { classes: have }) => {
            return Err(bad(format!(
                "the dataset's classes {have:?} are not the model's {classes:?}"
            )))
        }
        _ => {
            return Err(bad(
                "the dataset has no category labels (prepare it with --labels FILE.csv of one \
                 text column, or --labels-from-folders)"
                    .into(),
            ))
        }
    }
    let values = ds.labels().expect("a dataset with label info has labels");
    Ok(values.column(0).iter().map(|&v| v as u32).collect())
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
    data: &TrainingData,
) -> Result<Trainer> {
    let dir = model.tier_dir(g);
    if crate::checkpoint::exists(&dir) {
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
    let valid = tier_loss(model, g, &trainer, &data.valid()?)?;
    // The log first: the checkpoint is what makes the tier exist, so a run killed in between
    // starts the tier again rather than leaving it without a log.
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    crate::checkpoint::write_atomic(
        &dir,
        LOG_FILE,
        format!("{LOG_HEADER}\n0,,{valid}\n").as_bytes(),
    )?;
    trainer.save(&dir)?;
    Ok(trainer)
}

/// Tier g's part of `windows`: x^g, its context and its loss mask.
///
/// # Errors
/// Shape and candle errors.
fn tier_part(model: &Model, g: usize, windows: &Windows) -> Result<(Tensor, Context, Tensor)> {
    let frames = windows.frames;
    let (x, context) = model
        .tier_inputs(&windows.x, windows.count(), frames, &windows.conditions)?
        .swap_remove(g - 1);
    let mask = model.tier_masks(&windows.real, frames)?.swap_remove(g - 1);
    Ok((x, context, mask))
}

/// Tier g's mean NLL on `windows` (their data, not their padding), nats per element.
///
/// # Errors
/// Shape and candle errors.
pub fn tier_loss(model: &Model, g: usize, trainer: &Trainer, windows: &Windows) -> Result<f32> {
    let (x, context, mask) = tier_part(model, g, windows)?;
    trainer.loss(&x, &context, Some(&mask))
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
    crate::checkpoint::write_atomic(dir, LOG_FILE, kept.as_bytes())
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
/// [`Trainer::load`]) on `ds` until `options.steps`, the time limit or `cancel`. `observer`
/// sees every step and every checkpoint (e.g. to redraw the loss curve from the log).
///
/// # Errors
/// [`Error::NonFinite`] when training diverges (the last good checkpoint stays); the
/// observer's errors; dataset, candle and I/O errors.
pub fn fit(
    model: &Model,
    g: usize,
    trainer: &mut Trainer,
    data: &TrainingData,
    options: &FitOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<FitEnd> {
    let dir = model.tier_dir(g);
    truncate_log(&dir, trainer.state().step)?;
    let batch = trainer.state().batch;
    let epoch_steps = data.epoch_steps(batch);
    let valid = data.valid()?;
    let log_path = dir.join(LOG_FILE);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .map_err(|e| io(&log_path, e))?;
    let started = Instant::now();
    let mut last_valid = f32::NAN;
    let checkpoint =
        |trainer: &Trainer, log: &mut std::fs::File, observer: &mut dyn Observer| -> Result<()> {
            log.flush().map_err(|e| io(&log_path, e))?;
            trainer.save(&dir)?;
            observer.checkpoint(&dir)
        };
    while trainer.state().step < options.steps {
        if cancel.load(Ordering::SeqCst) {
            checkpoint(trainer, &mut log, observer)?;
            return Ok(FitEnd::Interrupted);
        }
        let step = trainer.state().step;
        let mut rng = step_rng(trainer.state().seed, step);
        let (x, context, mask) = data.tier_batch(g, &mut rng, batch)?;
        if let Some(every) = options.step.lr_halve_every_epochs {
            let halvings = (step as f64 / (every * epoch_steps)).floor();
            let base = trainer.state().base_lr;
            trainer.set_learning_rate(base * 0.5f64.powf(halvings));
        }
        let inputs = (options.step.input_noise > 0.0)
            .then(|| noised(&x, options.step.input_noise, &mut rng))
            .transpose()?;
        let loss = trainer.step(
            &x,
            inputs.as_ref(),
            &context,
            Some(&mask),
            options.step.clip_grad,
        )?;
        let done = trainer.state().step;
        let out_of_time = options.time_limit.is_some_and(|d| started.elapsed() >= d);
        let last = done == options.steps || out_of_time;
        let mut valid_field = String::new();
        if done.is_multiple_of(options.step.valid_every.max(1)) || last {
            last_valid = tier_loss(model, g, trainer, &valid)?;
            valid_field = last_valid.to_string();
        }
        writeln!(log, "{done},{loss},{valid_field}").map_err(|e| io(&log_path, e))?;
        observer.step(&StepReport {
            step: done,
            loss,
            valid: last_valid,
        });
        if done.is_multiple_of(options.step.checkpoint_every.max(1)) || last {
            checkpoint(trainer, &mut log, observer)?;
        }
        if out_of_time && done < options.steps {
            return Ok(FitEnd::TimeLimit);
        }
    }
    Ok(FitEnd::Finished)
}
