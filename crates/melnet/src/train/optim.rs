//! RMSProp with momentum (PyTorch's `RMSprop(alpha, eps, momentum)`, non-centred), the
//! optimiser of the MelNet paper; candle-nn ships only SGD and AdamW.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::Optimizer;

/// RMSProp hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
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

/// The optimiser: per variable, the squared-gradient average `v` and the momentum buffer.
#[derive(Debug)]
pub struct RmsProp {
    vars: Vec<(Var, Var, Var)>,
    config: RmsPropConfig,
}

impl RmsProp {
    /// State tensors in the order of the variables given to [`Optimizer::new`]: for each,
    /// the squared-gradient average and the momentum buffer.
    pub fn state(&self) -> Vec<(&Tensor, &Tensor)> {
        self.vars
            .iter()
            .map(|(_, v, m)| (v.as_tensor(), m.as_tensor()))
            .collect()
    }

    /// Restore the state saved by [`RmsProp::state`].
    ///
    /// # Errors
    /// When the number or shapes of the tensors differ.
    pub fn set_state(&mut self, state: &[(Tensor, Tensor)]) -> candle_core::Result<()> {
        if state.len() != self.vars.len() {
            candle_core::bail!(
                "optimizer state has {} entries, expected {}",
                state.len(),
                self.vars.len()
            );
        }
        for ((_, v, m), (sv, sm)) in self.vars.iter().zip(state) {
            v.set(sv)?;
            m.set(sm)?;
        }
        Ok(())
    }
}

impl Optimizer for RmsProp {
    type Config = RmsPropConfig;

    fn new(vars: Vec<Var>, config: RmsPropConfig) -> candle_core::Result<Self> {
        let vars = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|var| {
                let zeros = || Var::zeros(var.shape(), var.dtype(), var.device());
                Ok((var.clone(), zeros()?, zeros()?))
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(RmsProp { vars, config })
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        let c = self.config;
        for (var, v, m) in &self.vars {
            let Some(g) = grads.get(var) else { continue };
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
            var.set(&var.sub(&(update * c.lr)?)?)?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}
