//! The optimisers: RMSProp with momentum (PyTorch's `RMSprop(alpha, eps, momentum)`,
//! non-centred; the MelNet paper's) and Adam (PyTorch's `Adam`, no weight decay). candle-nn
//! ships only SGD and AdamW, and neither exposes its state for checkpoints.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Tensor, Var};

pub use crate::config::{AdamConfig, OptimizerConfig, RmsPropConfig};

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
            let g = &g.contiguous()?;
            match self.config {
                OptimizerConfig::RmsProp(c) => {
                    v.inplace_op2(
                        g,
                        &Update::Average {
                            decay: c.alpha,
                            squared: true,
                        },
                    )?;
                    if c.momentum > 0.0 {
                        m.inplace_op3(
                            g,
                            v,
                            &Update::Momentum {
                                momentum: c.momentum,
                                eps: c.eps,
                            },
                        )?;
                        var.inplace_op2(m, &Update::Descend { lr: c.lr })?;
                    } else {
                        var.inplace_op3(
                            g,
                            v,
                            &Update::Scaled {
                                lr: c.lr,
                                eps: c.eps,
                                correction: 1.0,
                            },
                        )?;
                    }
                }
                OptimizerConfig::Adam(c) => {
                    let t = self.steps as i32;
                    v.inplace_op2(
                        g,
                        &Update::Average {
                            decay: c.beta2,
                            squared: true,
                        },
                    )?;
                    m.inplace_op2(
                        g,
                        &Update::Average {
                            decay: c.beta1,
                            squared: false,
                        },
                    )?;
                    var.inplace_op3(
                        m,
                        v,
                        &Update::Scaled {
                            lr: c.lr / (1.0 - c.beta1.powi(t)),
                            eps: c.eps,
                            correction: 1.0 / (1.0 - c.beta2.powi(t)),
                        },
                    )?;
                }
            }
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

/// One pass of an optimiser update over a variable or its state, in place (the arithmetic of
/// the op-by-op form it replaced, in the same order and precision, so that runs continue
/// bit for bit: scalars are f64 settings rounded to f32, as candle's affine maps round them).
#[derive(Debug, Clone, Copy)]
enum Update {
    /// `a ← a·decay + x·(1 − decay)`, with `x = g²` when `squared` (the squared-gradient
    /// average of RMSProp and Adam) or `x = g` (Adam's gradient average); operand: `g`.
    Average { decay: f64, squared: bool },
    /// RMSProp's momentum buffer: `m ← m·momentum + g / (√v + eps)`; operands: `g`, `v`.
    Momentum { momentum: f64, eps: f64 },
    /// `p ← p − m·lr`; operand: `m`.
    Descend { lr: f64 },
    /// `p ← p − (x / (√(v·correction) + eps))·lr`; operands: `x` (the gradient, or Adam's
    /// average), `v`.
    Scaled { lr: f64, eps: f64, correction: f64 },
}

impl Update {
    /// The name in errors.
    const NAME: &'static str = "optimizer update";

    /// Apply to `dst` with the operands' values `a` and (three-operand updates) `b`.
    fn apply(&self, dst: &mut [f32], a: &[f32], b: &[f32]) {
        let f = |x: f64| x as f32;
        match *self {
            Update::Average { decay, squared } => {
                let (keep, take) = (f(decay), f(1.0 - decay));
                for (d, &g) in dst.iter_mut().zip(a) {
                    let x = if squared { g * g } else { g };
                    *d = (*d * keep + 0.0) + (x * take + 0.0);
                }
            }
            Update::Momentum { momentum, eps } => {
                let (mu, eps) = (f(momentum), f(eps));
                for ((d, &g), &v) in dst.iter_mut().zip(a).zip(b) {
                    *d = (*d * mu + 0.0) + g / (v.sqrt() + eps);
                }
            }
            Update::Descend { lr } => {
                let lr = f(lr);
                for (d, &m) in dst.iter_mut().zip(a) {
                    *d -= m * lr + 0.0;
                }
            }
            Update::Scaled {
                lr,
                eps,
                correction,
            } => {
                let (lr, eps, correction) = (f(lr), f(eps), f(correction));
                for ((d, &x), &v) in dst.iter_mut().zip(a).zip(b) {
                    let v = if correction == 1.0 {
                        v
                    } else {
                        v * correction + 0.0
                    };
                    *d -= x / (v.sqrt() + eps) * lr + 0.0;
                }
            }
        }
    }

    /// [`Update::apply`] on candle's storages (contiguous f32 on the CPU).
    fn on_storage(
        &self,
        dst: &mut CpuStorage,
        l: &Layout,
        operands: &[(&CpuStorage, &Layout)],
    ) -> candle_core::Result<()> {
        let values = operands
            .iter()
            .map(|(s, l)| crate::ops::slice(s, l, Self::NAME))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let (CpuStorage::F32(dst), Some((start, end))) = (dst, l.contiguous_offsets()) else {
            candle_core::bail!("{}: a contiguous f32 variable", Self::NAME);
        };
        let dst = &mut dst[start..end];
        if values.iter().any(|v| v.len() != dst.len()) {
            candle_core::bail!("{}: operands of another size", Self::NAME);
        }
        self.apply(dst, values[0], values.get(1).copied().unwrap_or(&[]));
        Ok(())
    }
}

impl InplaceOp2 for Update {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        self.on_storage(s1, l1, &[(s2, l2)])
    }
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        self.on_storage(s1, l1, &[(s2, l2), (s3, l3)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::Optimizer;

    /// One step of each optimiser written op by op in candle (PyTorch's formulas, the form the
    /// in-place updates replaced): `(p, v, m)` after the step from gradient `g`.
    fn reference(
        config: OptimizerConfig,
        t: i32,
        (p, v, m): (&Tensor, &Tensor, &Tensor),
        g: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        Ok(match config {
            OptimizerConfig::RmsProp(c) => {
                let v = ((v * c.alpha)? + (g.sqr()? * (1.0 - c.alpha))?)?;
                let step = g.div(&(v.sqrt()? + c.eps)?)?;
                let (m, update) = if c.momentum > 0.0 {
                    let m = ((m * c.momentum)? + step)?;
                    (m.clone(), m)
                } else {
                    (m.clone(), step)
                };
                ((p - (update * c.lr)?)?, v, m)
            }
            OptimizerConfig::Adam(c) => {
                let v = ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
                let m = ((m * c.beta1)? + (g * (1.0 - c.beta1))?)?;
                let v_hat = (&v / (1.0 - c.beta2.powi(t)))?;
                let step_size = c.lr / (1.0 - c.beta1.powi(t));
                let update = (m.div(&(v_hat.sqrt()? + c.eps)?)? * step_size)?;
                ((p - update)?, v, m)
            }
        })
    }

    #[test]
    fn in_place_updates_equal_the_op_by_op_formulas_bit_for_bit() -> candle_core::Result<()> {
        let dev = crate::device();
        for config in [
            OptimizerConfig::RmsProp(RmsPropConfig::default()),
            OptimizerConfig::RmsProp(RmsPropConfig {
                momentum: 0.0,
                lr: 3e-3,
                ..RmsPropConfig::default()
            }),
            OptimizerConfig::Adam(AdamConfig::default()),
        ] {
            let p = Var::from_tensor(&Tensor::randn(0f32, 1.0, (7, 5), &dev)?)?;
            let mut opt = Optim::new(vec![p.clone()], config)?;
            let mut expect = (
                p.as_tensor().copy()?,
                Tensor::zeros((7, 5), candle_core::DType::F32, &dev)?,
                Tensor::zeros((7, 5), candle_core::DType::F32, &dev)?,
            );
            for t in 1..=4 {
                let g = Tensor::randn(0f32, 1.0, (7, 5), &dev)?;
                // The gradient of Σ p·g is g.
                let grads = (p.as_tensor() * &g)?.sum_all()?.backward()?;
                opt.step(&grads)?;
                expect = reference(config, t, (&expect.0, &expect.1, &expect.2), &g)?;
                let (v, m) = opt.state()[0];
                for (name, ours, theirs) in [
                    ("weights", p.as_tensor(), &expect.0),
                    ("v", v, &expect.1),
                    ("m", m, &expect.2),
                ] {
                    let (a, b) = (
                        ours.flatten_all()?.to_vec1::<f32>()?,
                        theirs.flatten_all()?.to_vec1::<f32>()?,
                    );
                    assert!(
                        a.iter()
                            .zip(&b)
                            .all(|(x, y)| x.to_bits() == y.to_bits() || x == y),
                        "{config:?} step {t}: {name} differs"
                    );
                }
            }
        }
        Ok(())
    }
}
