//! Training from Python (`melnet.train`): a dataset made by `melnet prepare` and a model
//! directory, with the plan given as keyword arguments named as the library's fields; the
//! library's one training call, the GIL released while it runs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use melnet::model::TierSpec;
use melnet::model_dir::NewModel;
use melnet::train::fit::{StepOptions, INPUT_NOISE};
use melnet::train::optim::{AdamConfig, OptimizerConfig, RmsPropConfig};
use melnet::train::plan::{Budget, NewTier, Resume, Tiers, TrainPlan};
use melnet::train::report::{FitEnd, Observer, StepReport};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::model::to_py;

/// A training run's progress passed to a Python callable `progress(tier, step, loss, valid)`
/// (the GIL taken for each call). An exception from it, or a pending Ctrl-C, stops the run
/// with a checkpoint and is raised when the run returns.
struct Callback<'a> {
    progress: Option<&'a Py<PyAny>>,
    tier: usize,
    cancel: &'a AtomicBool,
    error: Option<PyErr>,
}

impl Observer for Callback<'_> {
    fn tier_started(&mut self, tier: usize, _: usize, _: u64, _: u64, _: Option<f64>) {
        self.tier = tier;
    }

    fn step(&mut self, r: &StepReport) {
        let result = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(f) = self.progress {
                f.call1(py, (self.tier, r.step, r.loss, r.valid))?;
            }
            Ok(())
        });
        if let Err(e) = result {
            self.error.get_or_insert(e);
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

/// Train the model in `model` (made for the dataset `data` when it has none) and return, per
/// trained tier, `(tier, step, valid NLL, parameters, end)` with `end` one of `"finished"`,
/// `"time limit"`, `"interrupted"`. Arguments as `melnet train`'s flags, with the library's
/// names (`resume`: `"never"`, `"always"` or `"if any"`; `centralized`: `None` for the
/// paper's choice). No `loss.png` is drawn (the program draws it); `log.csv` has the curve.
#[pyfunction]
#[pyo3(signature = (
    data, model, *, tiers=None, tier=None, frames=None, labels=false, transcripts=None,
    resume="never", layers=None, width=None, n_mixtures=None, centralized=None,
    feature_layers=None, censored=true, attention_mixtures=None, optimizer="rmsprop", lr=3e-4,
    momentum=0.9, batch=8, seed=0, steps=None, epochs=None, minutes=None,
    lr_halve_every_epochs=None, input_noise=INPUT_NOISE, clip_grad=None, valid_every=50,
    checkpoint_every=100, progress=None
))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn train(
    py: Python<'_>,
    data: PathBuf,
    model: PathBuf,
    tiers: Option<usize>,
    tier: Option<usize>,
    frames: Option<usize>,
    labels: bool,
    transcripts: Option<PathBuf>,
    resume: &str,
    layers: Option<usize>,
    width: Option<usize>,
    n_mixtures: Option<usize>,
    centralized: Option<bool>,
    feature_layers: Option<usize>,
    censored: bool,
    attention_mixtures: Option<usize>,
    optimizer: &str,
    lr: f64,
    momentum: f64,
    batch: usize,
    seed: u64,
    steps: Option<u64>,
    epochs: Option<f64>,
    minutes: Option<f64>,
    lr_halve_every_epochs: Option<f64>,
    input_noise: f64,
    clip_grad: Option<f64>,
    valid_every: u64,
    checkpoint_every: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Vec<(usize, u64, f32, usize, &'static str)>> {
    if let Some(f) = progress.as_ref().filter(|f| !f.bind(py).is_callable()) {
        return Err(PyValueError::new_err(format!(
            "progress={}: must be callable",
            f.bind(py).repr()?
        )));
    }
    let resume = match resume {
        "never" => Resume::Never,
        "always" => Resume::Always,
        "if any" => Resume::IfAny,
        other => {
            return Err(PyValueError::new_err(format!(
                "resume={other:?}: must be \"never\", \"always\" or \"if any\""
            )))
        }
    };
    let optimizer = match optimizer {
        "rmsprop" => OptimizerConfig::RmsProp(RmsPropConfig {
            lr,
            momentum,
            ..RmsPropConfig::default()
        }),
        "adam" => OptimizerConfig::Adam(AdamConfig {
            lr,
            ..AdamConfig::default()
        }),
        other => {
            return Err(PyValueError::new_err(format!(
                "optimizer={other:?}: must be \"rmsprop\" or \"adam\""
            )))
        }
    };
    let defaults = TierSpec::default();
    let plan = TrainPlan {
        tiers: tier.map_or(Tiers::All, Tiers::One),
        new_tier: NewTier {
            spec: TierSpec {
                layers: layers.unwrap_or(defaults.layers),
                width: width.unwrap_or(defaults.width),
                n_mixtures: n_mixtures.unwrap_or(defaults.n_mixtures),
                centralized,
                feature_layers: feature_layers.unwrap_or(defaults.feature_layers),
                censored,
                attention_mixtures: attention_mixtures.unwrap_or(defaults.attention_mixtures),
            },
            optimizer,
            seed,
            batch,
        },
        resume,
        check_spec: layers.is_some()
            || width.is_some()
            || n_mixtures.is_some()
            || centralized.is_some()
            || feature_layers.is_some()
            || !censored
            || attention_mixtures.is_some(),
        budget: Budget {
            steps,
            epochs,
            minutes,
        },
        step: StepOptions {
            clip_grad,
            valid_every,
            checkpoint_every,
            lr_halve_every_epochs,
            input_noise,
        },
    };
    let new = NewModel {
        tiers,
        frames,
        labels,
        transcripts,
    };
    let cancel = AtomicBool::new(false);
    let mut callback = Callback {
        progress: progress.as_ref(),
        tier: 0,
        cancel: &cancel,
        error: None,
    };
    let result = py.detach(|| -> melnet::Result<_> {
        let ds = melnet_data::dataset::Dataset::open(&data)?;
        melnet::model_dir::train(&model, &ds, &new, &plan, &mut callback, &cancel)
    });
    if let Some(e) = callback.error {
        return Err(e);
    }
    let (_, trained) = result.map_err(to_py)?;
    Ok(trained
        .iter()
        .map(|t| {
            let end = match t.end {
                FitEnd::Finished => "finished",
                FitEnd::TimeLimit => "time limit",
                FitEnd::Interrupted => "interrupted",
            };
            (t.tier, t.step, t.valid, t.parameters, end)
        })
        .collect())
}
