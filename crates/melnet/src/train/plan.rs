//! A training run planned as a whole — which tiers, how a new tier is made, how long each
//! trains and how its steps run — and [`train_tiers`], which carries the plan out on an open
//! model and reports to an [`Observer`]. Front-ends call [`crate::model_dir::train`], which
//! also opens or makes the model directory and holds its lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use melnet_data::dataset::Dataset;

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::model::{Model, TierSpec};
use crate::train::fit::{
    check_amount, fit, start_tier, tier_loss, FitOptions, StepOptions, TrainingData,
};
use crate::train::optim::{OptimizerConfig, RmsPropConfig};
use crate::train::report::{FitEnd, Observer, StepReport, Trained};
use crate::train::Trainer;

/// Steps of a tier whose [`Budget`] gives neither steps, epochs nor minutes.
pub const DEFAULT_STEPS: u64 = 300;

/// The tiers a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tiers {
    /// Every tier of the model, from tier 1 up.
    #[default]
    All,
    /// Tier g alone (1-based).
    One(usize),
}

impl Tiers {
    /// The tiers this names in a model of `count` tiers, in training order.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a tier the model does not have.
    pub fn list(self, count: usize) -> Result<Vec<usize>> {
        match self {
            Tiers::All => Ok((1..=count).collect()),
            Tiers::One(g) if (1..=count).contains(&g) => Ok(vec![g]),
            Tiers::One(g) => Err(Error::Invalid(format!(
                "tier {g}: the model has tiers 1 to {count}"
            ))),
        }
    }
}

/// How long each tier trains. Steps count from the tier's start (a resumed tier trains the
/// remainder); minutes count in this run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    /// Total steps of each tier.
    pub steps: Option<u64>,
    /// Total epochs of each tier instead (an epoch: as many steps as it takes to draw as many
    /// frames of data as the train split holds).
    pub epochs: Option<f64>,
    /// Wall-clock minutes of each tier in this run (with neither steps nor epochs: no step
    /// limit).
    pub minutes: Option<f64>,
}

impl Budget {
    /// A budget of `minutes` of each tier, without a step limit.
    pub fn minutes(minutes: f64) -> Self {
        Budget {
            minutes: Some(minutes),
            ..Budget::default()
        }
    }

    /// Refuse values no run can use.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.steps.is_some() && self.epochs.is_some() {
            return Err(Error::Invalid(
                "give a budget in steps or in epochs, not both".into(),
            ));
        }
        check_amount("epochs", self.epochs, true)?;
        check_amount("minutes", self.minutes, true)?;
        match self.minutes {
            Some(m) if Duration::try_from_secs_f64(m * 60.0).is_err() => {
                Err(Error::InvalidConfig {
                    name: "minutes",
                    value: m.to_string(),
                    reason: "too long".into(),
                })
            }
            _ => Ok(()),
        }
    }

    /// A tier's total steps when an epoch takes `epoch_steps` steps.
    pub fn total_steps(&self, epoch_steps: f64) -> u64 {
        match (self.steps, self.epochs, self.minutes) {
            (Some(steps), _, _) => steps,
            (None, Some(epochs), _) => (epochs * epoch_steps).ceil() as u64,
            // Time-boxed alone: the clock says when it ends.
            (None, None, Some(_)) => u64::MAX,
            (None, None, None) => DEFAULT_STEPS,
        }
    }

    /// The wall-clock limit of a tier in this run (as long as a `Duration` holds, for a budget
    /// that [`Budget::validate`] would refuse).
    pub fn time_limit(&self) -> Option<Duration> {
        self.minutes
            .map(|m| Duration::try_from_secs_f64(m * 60.0).unwrap_or(Duration::MAX))
    }
}

/// How a tier that has no checkpoint yet is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewTier {
    /// Its layers.
    pub spec: TierSpec,
    /// Its optimiser.
    pub optimizer: OptimizerConfig,
    /// Seed of its initialisation and of its windows.
    pub seed: u64,
    /// Windows per step.
    pub batch: usize,
}

impl Default for NewTier {
    /// `melnet train`'s defaults: [`TierSpec::default`], RMSProp at 3e-4, seed 0, 8 windows.
    fn default() -> Self {
        NewTier {
            spec: TierSpec::default(),
            optimizer: OptimizerConfig::RmsProp(RmsPropConfig {
                lr: 3e-4,
                ..RmsPropConfig::default()
            }),
            seed: 0,
            batch: 8,
        }
    }
}

/// What a run does with what it finds: tiers that have a checkpoint, and a directory without
/// a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resume {
    /// Start every planned tier: one that has a checkpoint is an error.
    #[default]
    Never,
    /// Continue the model in the directory (none is an error): planned tiers with a
    /// checkpoint go on from it, the others start.
    Always,
    /// Continue what exists and make what does not (the model, then each tier).
    IfAny,
}

/// A training run: what it trains, for how long, and how.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrainPlan {
    /// The tiers, trained in turn.
    pub tiers: Tiers,
    /// How a tier without a checkpoint is made.
    pub new_tier: NewTier,
    /// What to do with what the directory holds.
    pub resume: Resume,
    /// Refuse to resume a tier whose layers are not `new_tier.spec` (for callers that chose
    /// the layers explicitly: a resumed tier keeps its own).
    pub check_spec: bool,
    /// How long each tier trains.
    pub budget: Budget,
    /// How each step runs.
    pub step: StepOptions,
}

impl TrainPlan {
    /// Refuse values no run can use, before anything is written.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        self.new_tier.optimizer.validate()?;
        self.new_tier.spec.validate()?;
        if self.new_tier.batch == 0 {
            return Err(Error::InvalidConfig {
                name: "batch",
                value: "0".into(),
                reason: "must be positive".into(),
            });
        }
        self.budget.validate()?;
        self.step.validate()
    }
}

/// Carry out `plan` on `model` with the data of `ds`: each planned tier resumed or started,
/// then trained for the budget. `cancel` stops the run with a checkpoint (the last tier then
/// ends [`FitEnd::Interrupted`]). Returns where each trained tier was left.
///
/// # Errors
/// An invalid plan; a tier with a checkpoint under [`Resume::Never`]; a resumed tier of
/// other layers under `plan.check_spec`; dataset, candle and I/O errors; divergence
/// ([`Error::Stopped`], naming the last good checkpoint).
pub fn train_tiers(
    model: &Model,
    ds: &Dataset,
    plan: &TrainPlan,
    observer: &mut dyn Observer,
    cancel: &AtomicBool,
) -> Result<Vec<Trained>> {
    plan.validate()?;
    let mut done = Vec::new();
    for g in plan.tiers.list(model.config().tiers)? {
        if cancel.load(Ordering::SeqCst) {
            // Cancelled as the last tier finished: the next one is not started.
            break;
        }
        let trained = train_tier(model, g, ds, plan, observer, cancel)?;
        observer.tier_finished(&trained);
        done.push(trained);
        if trained.end == FitEnd::Interrupted {
            break;
        }
    }
    Ok(done)
}

/// Tier g of `model` resumed or started as `plan` says, then trained for its budget.
fn train_tier(
    model: &Model,
    g: usize,
    ds: &Dataset,
    plan: &TrainPlan,
    observer: &mut dyn Observer,
    cancel: &AtomicBool,
) -> Result<Trained> {
    let dir = model.tier_dir(g);
    let data = TrainingData::new(model, ds)?;
    let new = &plan.new_tier;
    let mut trainer = if checkpoint::exists(&dir) {
        if plan.resume == Resume::Never {
            return Err(Error::Invalid(format!(
                "{}: tier {g} exists; resume it or use another directory",
                dir.display()
            )));
        }
        let config = Trainer::read_config(&dir)?;
        if plan.check_spec && model.tier_config(g, new.spec)? != config {
            return Err(Error::Invalid(format!(
                "{}: the tier is {}; resuming continues it as it is (leave out the tier options)",
                dir.display(),
                serde_json::to_string(&config).expect("tier configs serialise")
            )));
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
    let options = FitOptions {
        steps: plan
            .budget
            .total_steps(data.epoch_steps(trainer.state().batch)),
        time_limit: plan.budget.time_limit(),
        step: plan.step,
    };
    let start = trainer.state().step;
    observer.tier_started(
        g,
        model.config().tiers,
        start,
        options.steps,
        plan.budget.minutes,
    );
    let mut watch = LastValid {
        inner: &mut *observer,
        valid: f32::NAN,
    };
    let end = fit(model, g, &mut trainer, &data, &options, cancel, &mut watch).map_err(|e| {
        Error::Stopped {
            dir: dir.clone(),
            cause: Box::new(e),
        }
    })?;
    let mut last_valid = watch.valid;
    // A cancelled run returns at once (its validation NLL may be unknown: NaN).
    if end != FitEnd::Interrupted {
        if start == trainer.state().step {
            // Nothing trained (e.g. a budget of 0 steps): the observer still sees the
            // checkpoint.
            observer.checkpoint(&dir)?;
        }
        if last_valid.is_nan() {
            last_valid = tier_loss(model, g, &trainer, &data.valid()?)?;
        }
    }
    Ok(Trained {
        tier: g,
        step: trainer.state().step,
        valid: last_valid,
        parameters: trainer.parameters(),
        end,
    })
}

/// An observer passed on, noting the last validation NLL on the way.
struct LastValid<'a> {
    inner: &'a mut dyn Observer,
    valid: f32,
}

impl Observer for LastValid<'_> {
    fn step(&mut self, report: &StepReport) {
        self.valid = report.valid;
        self.inner.step(report);
    }

    fn checkpoint(&mut self, dir: &std::path::Path) -> Result<()> {
        self.inner.checkpoint(dir)
    }
}
