//! The optimisers: RMSProp with momentum (PyTorch's `RMSprop(alpha, eps, momentum)`,
//! non-centred; the MelNet paper's) and Adam (PyTorch's `Adam`, no weight decay). candle-nn
//! ships only SGD and AdamW, and neither exposes its state for checkpoints.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

/// RMSProp hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the squared-gradient average (PyTorch `alpha`).
    pub alpha: f64,
    /// Added to the root mean square.
    pub eps: f64,
    /// Momentum of the update (0 = none).
    pub momentum: f64,
}

impl Default for RmsPropConfig {
    /// The paper's setting: lr 1e-4, momentum 0.9 (PyTorch's alpha 0.99, eps 1e-8).
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-4,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.9,
        }
    }
}

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the gradient average.
    pub beta1: f64,
    /// Decay of the squared-gradient average.
    pub beta2: f64,
    /// Added to the root mean square.
    pub eps: f64,
}

impl Default for AdamConfig {
    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Which optimiser, with its settings (stored in a run's `state.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// RMSProp with momentum.
    RmsProp(RmsPropConfig),
    /// Adam with bias correction.
    Adam(AdamConfig),
}

impl OptimizerConfig {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::RmsProp(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
        }
    }

    /// Check the settings: a positive finite learning rate, decay rates and momentum in
    /// [0, 1), a positive `eps`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] naming the first bad value.
    pub fn validate(&self) -> crate::Result<()> {
        let (lr, eps, decays): (f64, f64, [(&'static str, f64); 2]) = match *self {
            OptimizerConfig::RmsProp(c) => {
                (c.lr, c.eps, [("alpha", c.alpha), ("momentum", c.momentum)])
            }
            OptimizerConfig::Adam(c) => (c.lr, c.eps, [("beta1", c.beta1), ("beta2", c.beta2)]),
        };
        let bad = |name: &'static str, value: f64, reason: &str| {
            Err(crate::Error::InvalidConfig {
                name,
                value: value.to_string(),
                reason: reason.into(),
            })
        };
        if !(lr.is_finite() && lr > 0.0) {
            return bad("lr", lr, "the learning rate must be positive and finite");
        }
        if !(eps.is_finite() && eps > 0.0) {
            return bad("eps", eps, "must be positive and finite");
        }
        for (name, v) in decays {
            if !(0.0..1.0).contains(&v) {
                return bad(name, v, "must be in [0, 1)");
            }
        }
        Ok(())
    }

    /// Change the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            OptimizerConfig::RmsProp(c) => c.lr = lr,
            OptimizerConfig::Adam(c) => c.lr = lr,
        }
    }
}

/// The optimiser: per variable two state tensors — RMSProp: the squared-gradient average
/// and the momentum buffer; Adam: the squared-gradient and the gradient averages — and the
/// number of steps taken (Adam's bias correction).
#[derive(Debug)]
pub struct Optim {
    vars: Vec<(Var, Var, Var)>,
    config: OptimizerConfig,
    steps: u64,
}

impl Optim {
    /// State tensors in the order of the variables given to [`candle_nn::Optimizer::new`].
    pub fn state(&self) -> Vec<(&Tensor, &Tensor)> {
        self.vars
            .iter()
            .map(|(_, a, b)| (a.as_tensor(), b.as_tensor()))
            .collect()
    }

    /// Restore the state saved by [`Optim::state`] after `steps` steps.
    ///
    /// # Errors
    /// When the number or shapes of the tensors differ.
    pub fn set_state(&mut self, state: &[(Tensor, Tensor)], steps: u64) -> candle_core::Result<()> {
        if state.len() != self.vars.len() {
            candle_core::bail!(
                "optimizer state has {} entries, expected {}",
                state.len(),
                self.vars.len()
            );
        }
        for ((_, a, b), (sa, sb)) in self.vars.iter().zip(state) {
            a.set(sa)?;
            b.set(sb)?;
        }
        self.steps = steps;
        Ok(())
    }

    /// The settings (with the current learning rate).
    pub fn config(&self) -> OptimizerConfig {
        self.config
    }
}

impl candle_nn::Optimizer for Optim {
    type Config = OptimizerConfig;

    fn new(vars: Vec<Var>, config: OptimizerConfig) -> candle_core::Result<Self> {
        let vars = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|var| {
                let zeros = || Var::zeros(var.shape(), var.dtype(), var.device());
                Ok((var.clone(), zeros()?, zeros()?))
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Optim {
            vars,
            config,
            steps: 0,
        })
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        self.steps += 1;
        for (var, v, m) in &self.vars {
            let Some(g) = grads.get(var) else { continue };
            let update = match self.config {
                OptimizerConfig::RmsProp(c) => {
                    let v_new = ((v.as_tensor() * c.alpha)? + (g.sqr()? * (1.0 - c.alpha))?)?;
                    let step = g.div(&(v_new.sqrt()? + c.eps)?)?;
                    v.set(&v_new)?;
                    let update = if c.momentum > 0.0 {
                        let m_new = ((m.as_tensor() * c.momentum)? + step)?;
                        m.set(&m_new)?;
                        m_new
                    } else {
                        step
                    };
                    (update * c.lr)?
                }
                OptimizerConfig::Adam(c) => {
                    let t = self.steps as i32;
                    let v_new = ((v.as_tensor() * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
                    let m_new = ((m.as_tensor() * c.beta1)? + (g * (1.0 - c.beta1))?)?;
                    v.set(&v_new)?;
                    m.set(&m_new)?;
                    let v_hat = (v_new / (1.0 - c.beta2.powi(t)))?;
                    let step_size = c.lr / (1.0 - c.beta1.powi(t));
                    (m_new.div(&(v_hat.sqrt()? + c.eps)?)? * step_size)?
                }
            };
            var.set(&var.sub(&update)?)?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr()
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.set_lr(lr);
    }
}
