//! Training a tier: the optimiser, a [`Trainer`] that takes steps, saves ([`crate::checkpoint`]) and
//! resumes exactly.

pub mod fit;
mod halves;
pub mod optim;
pub mod plan;
pub mod report;

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use candle_nn::{Optimizer, VarBuilder, VarMap};

use crate::checkpoint::{
    current, load_tensors, read_json, save_checkpoint, Part, TrainState, CONFIG_FILE,
    OPTIMIZER_FILE, STATE_FILE, WEIGHTS_FILE,
};
use crate::config::TierConfig;
use crate::error::{Error, Result};
use crate::tier::{Context, Tier};
use optim::{Optim, OptimizerConfig};

/// A tier with its parameters, optimiser and step counter.
pub struct Trainer {
    tier: Tier,
    /// Variable names in the optimiser's order (sorted).
    names: Vec<String>,
    /// The variables, in the same order (looked up once, not at every step).
    vars: Vec<Var>,
    optimizer: Optim,
    state: TrainState,
    /// How the two halves of a batch run (side by side or one after the other).
    halves: halves::Halves,
}

fn sorted_vars(varmap: &VarMap) -> (Vec<String>, Vec<Var>) {
    let data = varmap.data().lock().expect("variable map lock");
    let mut named: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().unzip()
}

/// The mean of `values` over the elements where `mask` is 1 (all without a mask), a scalar.
fn masked_mean(values: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    Ok(match mask {
        None => values.mean_all()?,
        Some(m) => {
            let count = f64::from(m.sum_all()?.to_scalar::<f32>()?).max(1.0);
            ((values * m)?.sum_all()? / count)?
        }
    })
}

/// Σ x² over all elements of `tensors`, in f64.
fn sum_of_squares<'a>(tensors: impl Iterator<Item = &'a Tensor>) -> Result<f64> {
    let mut total = 0.0f64;
    for t in tensors {
        total += f64::from(t.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok(total)
}

impl Trainer {
    /// A fresh tier initialised from `seed`, trained by `optimizer` on batches of `batch`
    /// windows.
    ///
    /// # Errors
    /// Invalid config; candle errors.
    pub fn new(
        config: TierConfig,
        optimizer: OptimizerConfig,
        seed: u64,
        batch: usize,
    ) -> Result<Self> {
        optimizer.validate()?;
        if batch == 0 {
            return Err(Error::InvalidConfig {
                name: "batch",
                value: "0".into(),
                reason: "must be positive".into(),
            });
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &crate::device());
        let tier = Tier::new(config, vb)?;
        crate::init::init(&varmap, seed)?;
        let (names, vars) = sorted_vars(&varmap);
        let optimizer_state = Optim::new(vars.clone(), optimizer)?;
        Ok(Trainer {
            tier,
            names,
            vars,
            optimizer: optimizer_state,
            state: TrainState {
                step: 0,
                seed,
                base_lr: optimizer.lr(),
                optimizer,
                batch,
            },
            halves: halves::Halves::new(),
        })
    }

    /// The tier.
    pub fn tier(&self) -> &Tier {
        &self.tier
    }

    /// Number of trained parameters (scalars).
    pub fn parameters(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// Steps taken, seed, optimiser settings.
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// Set the learning rate (for schedules).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.set_learning_rate(lr);
        self.state.optimizer = self.optimizer.config();
    }

    /// Mean NLL of `x` `[batch, frames, bins]` given `context` (x^{<g} of upper tiers,
    /// labels, text) over the elements `mask` (`[batch, frames, bins]`, 1 for real values, 0
    /// for padding; `None`: all), nats per element, without training.
    ///
    /// # Errors
    /// Shape or candle errors.
    pub fn loss(&self, x: &Tensor, context: &Context, mask: Option<&Tensor>) -> Result<f32> {
        Ok(masked_mean(&self.tier.nll_elements(x, context)?, mask)?.to_scalar::<f32>()?)
    }

    /// One optimisation step on the batch `x` `[batch, frames, bins]` given `context`
    /// (teacher forcing), its loss over the elements `mask` (as [`Trainer::loss`]) plus, when
    /// `context` has an attention guide, its penalty ([`crate::text::guide`]); returns the
    /// NLL before the step, nats per element. The tier sees `inputs` (the same shape: `x`
    /// with noise, [`crate::train::fit::noised`]) as the values it conditions on, `x` when
    /// `None`; the likelihood is always of `x`.
    /// With `clip_grad`, the gradient is scaled down to that global norm when it is longer.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite loss or gradient (the parameters are left
    /// untouched); shape or candle errors.
    pub fn step(
        &mut self,
        x: &Tensor,
        inputs: Option<&Tensor>,
        context: &Context,
        mask: Option<&Tensor>,
        clip_grad: Option<f64>,
    ) -> Result<f32> {
        let batch = x.dim(0)?;
        // The loss is a sum over the batch's items divided by totals of the whole batch, so
        // that each part's loss is its share and the parts' gradients add up to the batch's.
        let count = match mask {
            Some(m) => f64::from(m.sum_all()?.to_scalar::<f32>()?).max(1.0),
            None => x.elem_count() as f64,
        };
        let guide_weight = crate::text::guide_weight(self.state.step) / (batch * x.dim(1)?) as f64;
        let tier = &self.tier;
        let part = |range: std::ops::Range<usize>| -> Result<(f64, GradStore)> {
            let (start, len) = (range.start, range.len());
            let cut = |t: &Tensor| t.narrow(0, start, len);
            let x = cut(x)?;
            let inputs = inputs.map(cut).transpose()?;
            let context = context.narrow(start, len)?;
            let (gmm, alignment) = tier.forward_aligned(inputs.as_ref().unwrap_or(&x), &context)?;
            let mut values = gmm.nll_elements(&x, tier.config().floor.as_deref())?;
            if let Some(m) = mask {
                values = (values * cut(m)?)?;
            }
            let nll = (values.sum_all()? / count)?;
            let value = f64::from(nll.to_scalar::<f32>()?);
            let loss = match (&context.guide, alignment) {
                (Some(w), Some(phi)) => (nll + ((phi * w)?.sum_all()? * guide_weight)?)?,
                _ => nll,
            };
            Ok((value, loss.backward()?))
        };
        // Two halves of the batch, side by side on two threads when that is faster: they
        // meet once per step, where splitting every operation across threads meets hundreds of
        // times. The split depends only on the batch, so results do not depend on the number
        // of threads.
        let half = batch.div_ceil(2);
        let (first, second) = if batch >= 2 {
            let (first, second) = self.halves.run(|| part(0..half), || part(half..batch));
            (first?, Some(second?))
        } else {
            (part(0..batch)?, None)
        };
        let (mut value, mut grads) = first;
        if let Some((v, g)) = second {
            value += v;
            for var in &self.vars {
                if let Some(b) = g.get(var) {
                    let sum = match grads.get(var) {
                        Some(a) => (a + b)?,
                        None => b.clone(),
                    };
                    grads.insert(var, sum);
                }
            }
        }
        let value = value as f32;
        self.check_finite("loss", f64::from(value))?;
        let present: Vec<&Var> = self
            .vars
            .iter()
            .filter(|v| grads.get(v).is_some())
            .collect();
        let norm = sum_of_squares(present.iter().filter_map(|v| grads.get(v)))?.sqrt();
        self.check_finite("gradient norm", norm)?;
        if let Some(max) = clip_grad.filter(|&max| norm > max) {
            for v in present {
                let scaled = (grads.get(v).expect("present") * (max / norm))?;
                grads.insert(v, scaled);
            }
        }
        self.optimizer.step(&grads)?;
        self.state.step += 1;
        Ok(value)
    }

    fn check_finite(&self, what: &'static str, value: f64) -> Result<()> {
        if value.is_finite() {
            Ok(())
        } else {
            Err(Error::NonFinite {
                what,
                step: self.state.step,
                value,
            })
        }
    }

    /// Write a checkpoint into the tier directory `dir` (created if missing) as one unit (see
    /// [`checkpoint`]).
    ///
    /// # Errors
    /// [`Error::NonFinite`] when a weight is NaN or infinite (nothing is written: the last good
    /// checkpoint stays); [`Error::Checkpoint`] on I/O errors.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.check_finite(
            "weights",
            sum_of_squares(self.vars.iter().map(|v| v.as_tensor()))?,
        )?;
        let weights: HashMap<String, Tensor> = self
            .names
            .iter()
            .zip(&self.vars)
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        let mut opt = HashMap::new();
        for (name, (v, m)) in self.names.iter().zip(self.optimizer.state()) {
            opt.insert(format!("v.{name}"), v.clone());
            opt.insert(format!("m.{name}"), m.clone());
        }
        save_checkpoint(
            dir,
            self.state.step,
            &[
                Part::Bytes(
                    CONFIG_FILE,
                    serde_json::to_vec_pretty(self.tier.config()).expect("config serialises"),
                ),
                Part::Tensors(WEIGHTS_FILE, &weights),
                Part::Tensors(OPTIMIZER_FILE, &opt),
                Part::Bytes(
                    STATE_FILE,
                    serde_json::to_vec_pretty(&self.state).expect("state serialises"),
                ),
            ],
        )
    }

    /// Resume from the current checkpoint of the tier directory `dir`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when it is missing, corrupt, or its tensors do not match its
    /// config.
    pub fn load(dir: &Path) -> Result<Self> {
        let dir = &current(dir)?;
        let config: TierConfig = read_json(dir, CONFIG_FILE)?;
        let state: TrainState = read_json(dir, STATE_FILE)?;
        if !(state.base_lr.is_finite() && state.base_lr > 0.0) {
            return Err(Error::Checkpoint(format!(
                "{}: base_lr = {} must be positive and finite",
                dir.join(STATE_FILE).display(),
                state.base_lr
            )));
        }
        let mut trainer = Trainer::new(config, state.optimizer, state.seed, state.batch)
            .map_err(|e| Error::Checkpoint(format!("{}: {e}", dir.join(STATE_FILE).display())))?;
        let weights = load_tensors(dir, WEIGHTS_FILE)?;
        let opt = load_tensors(dir, OPTIMIZER_FILE)?;
        let vars = trainer.vars.clone();
        let mut opt_state = Vec::with_capacity(vars.len());
        let take = |map: &HashMap<String, Tensor>, key: &str, like: &Var| -> Result<Tensor> {
            let t = map
                .get(key)
                .ok_or_else(|| Error::Checkpoint(format!("{}: no tensor {key}", dir.display())))?;
            if t.dims() != like.dims() {
                return Err(Error::Checkpoint(format!(
                    "{}: {key} has shape {:?}, the config needs {:?}",
                    dir.display(),
                    t.dims(),
                    like.dims()
                )));
            }
            Ok(t.clone())
        };
        for (name, var) in trainer.names.iter().zip(&vars) {
            var.set(&take(&weights, name, var)?)?;
            opt_state.push((
                take(&opt, &format!("v.{name}"), var)?,
                take(&opt, &format!("m.{name}"), var)?,
            ));
        }
        trainer.optimizer.set_state(&opt_state, state.step)?;
        trainer.state = state;
        Ok(trainer)
    }

    /// The tier configuration of the current checkpoint of the tier directory `dir`.
    ///
    /// # Errors
    /// As [`Trainer::load`].
    pub fn read_config(dir: &Path) -> Result<TierConfig> {
        read_json(&current(dir)?, CONFIG_FILE)
    }

    /// The training state of the current checkpoint of the tier directory `dir`.
    ///
    /// # Errors
    /// As [`Trainer::load`].
    pub fn read_state(dir: &Path) -> Result<TrainState> {
        read_json(&current(dir)?, STATE_FILE)
    }
}
