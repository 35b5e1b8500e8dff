//! One MelNet tier (arXiv 1906.01083 §4): delayed inputs, L layers of stacks, GMM head; an
//! upper tier (§6) also a feature network over the coarser tiers' output, added to its input
//! layers.

use candle_core::{Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::config::TierConfig;
use crate::error::{Error, Result};
use crate::feature::FeatureNetwork;
use crate::gmm::Gmm;
use crate::multiscale::{Axis, TierShape};
use crate::stack::{linear, CentralizedStack, FrequencyDelayedStack, TimeDelayedStack};

/// A tier modelling `x` `[batch, frames, bins]`: unconditional (tier 1), or conditioned on the
/// coarser tiers' output x^{<g} (tiers g ≥ 2, with a [`FeatureNetwork`]). The sampler
/// ([`crate::Sampler`]) reads its weights from these fields, so the layout is known here only.
#[derive(Debug, Clone)]
pub struct Tier {
    pub(crate) config: TierConfig,
    pub(crate) time_input: Linear,
    pub(crate) freq_input: Linear,
    pub(crate) central_input: Option<Linear>,
    pub(crate) features: Option<FeatureNetwork>,
    pub(crate) time: Vec<TimeDelayedStack>,
    pub(crate) central: Vec<CentralizedStack>,
    pub(crate) freq: Vec<FrequencyDelayedStack>,
    pub(crate) head: Linear,
}

/// `x` shifted by one along `dim` (1 = frames, 2 = bins), zeros entering at the start: the
/// element at index i sees index i − 1. No wrap-around.
fn delay(x: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    let n = x.dim(dim)?;
    x.pad_with_zeros(dim, 1, 0)?.narrow(dim, 0, n)
}

impl Tier {
    /// Build a tier; parameter names under `vb` are stable safetensors keys.
    ///
    /// # Errors
    /// Invalid config, variable store errors.
    pub fn new(config: TierConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let d = config.width;
        let layers = config.layers;
        let make = |i: usize, name: &str| vb.pp(format!("layers.{i}.{name}"));
        Ok(Tier {
            time_input: candle_nn::linear(1, d, vb.pp("time_input"))?,
            freq_input: candle_nn::linear(1, d, vb.pp("freq_input"))?,
            central_input: if config.centralized {
                Some(candle_nn::linear(config.n_mels, d, vb.pp("central_input"))?)
            } else {
                None
            },
            features: match config.conditioning {
                Some(c) => Some(FeatureNetwork::new(c.axis, c.layers, d, vb.pp("features"))?),
                None => None,
            },
            time: (0..layers)
                .map(|i| TimeDelayedStack::new(d, make(i, "time_delayed")))
                .collect::<candle_core::Result<_>>()?,
            central: if config.centralized {
                (0..layers)
                    .map(|i| CentralizedStack::new(d, make(i, "centralized")))
                    .collect::<candle_core::Result<_>>()?
            } else {
                Vec::new()
            },
            freq: (0..layers)
                .map(|i| FrequencyDelayedStack::new(d, make(i, "frequency_delayed")))
                .collect::<candle_core::Result<_>>()?,
            head: candle_nn::linear(d, 3 * config.n_mixtures, vb.pp("head"))?,
            config,
        })
    }

    /// A tier with the weights `tensors` (its safetensors names, as a checkpoint holds them).
    ///
    /// # Errors
    /// Invalid config; a tensor missing or of another shape than `config` needs.
    pub fn from_tensors(
        config: TierConfig,
        tensors: std::collections::HashMap<String, Tensor>,
    ) -> Result<Self> {
        let vb =
            VarBuilder::from_tensors(tensors, candle_core::DType::F32, &candle_core::Device::Cpu);
        Tier::new(config, vb)
    }

    /// The configuration.
    pub fn config(&self) -> &TierConfig {
        &self.config
    }

    /// Check that this tier models `shape`: its bins, and a feature network along the shape's
    /// split axis exactly when it is an upper tier.
    ///
    /// # Errors
    /// [`Error::Shape`] naming both.
    pub fn check_shape(&self, shape: &TierShape) -> Result<()> {
        let describe = |bins: usize, axis: Option<Axis>| match axis {
            None => format!("{bins} bins (unconditional)"),
            Some(a) => format!("{bins} bins (split along {a:?})"),
        };
        let axis = self.config.conditioning.map(|f| f.axis);
        let expect = shape.conditioning.map(|(a, _)| a);
        if self.config.n_mels == shape.grid.bins && axis == expect {
            return Ok(());
        }
        Err(Error::Shape {
            what: "tier",
            expected: format!(
                "tier {} of {}",
                shape.tier,
                describe(shape.grid.bins, expect)
            ),
            got: describe(self.config.n_mels, axis),
        })
    }

    /// The conditioning terms `(W^t_z z, W^f_z z)` `[batch, frames, bins, width]` that an
    /// upper tier adds to its time- and frequency-delayed input layers, computed from x^{<g}
    /// `coarse` `[batch, frames', bins']` for x^g of grid `frames × bins`; `None` for an
    /// unconditional tier (then `coarse` must be `None` too).
    ///
    /// # Errors
    /// [`Error::Shape`] when conditioning is missing, unexpected, or its grid is not the coarse
    /// part of a split that has `frames × bins` as its fine part; candle errors.
    pub fn conditioning(
        &self,
        coarse: Option<&Tensor>,
        batch: usize,
        frames: usize,
        bins: usize,
    ) -> Result<Option<(Tensor, Tensor)>> {
        let (net, coarse) = match (&self.features, coarse) {
            (None, None) => return Ok(None),
            (Some(net), Some(c)) => (net, c),
            (net, _) => {
                return Err(Error::Shape {
                    what: "tier conditioning",
                    expected: if net.is_some() {
                        "x^{<g} for an upper tier".into()
                    } else {
                        "none for an unconditional tier".into()
                    },
                    got: format!("{:?}", coarse.map(|c| c.dims().to_vec())),
                })
            }
        };
        let (cb, ct, cf) = coarse.dims3()?;
        let (fine, other, other_coarse, rows) = match net.axis() {
            Axis::Time => (frames, bins, cf, ct),
            Axis::Frequency => (bins, frames, ct, cf),
        };
        if cb != batch || other_coarse != other || !(rows == fine || rows == fine + 1) {
            return Err(Error::Shape {
                what: "tier conditioning",
                expected: format!(
                    "[{batch}, ·, ·] with {fine} or {} rows along {:?} and {other} along the other axis",
                    fine + 1,
                    net.axis()
                ),
                got: format!("{:?}", coarse.dims()),
            });
        }
        Ok(Some(net.forward(coarse, fine)?))
    }

    /// Mixture parameters for every element of `x` `[batch, frames, bins]`, given x^{<g}
    /// `coarse` for an upper tier (see [`Tier::conditioning`]); the element (t, f) depends only
    /// on frames < t and on bins < f of frame t of `x` (and on any element of `coarse`).
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` does not have `n_mels` bins or the conditioning does not fit;
    /// candle errors.
    pub fn forward(&self, x: &Tensor, coarse: Option<&Tensor>) -> Result<Gmm> {
        let (b, t, f) = x.dims3()?;
        if f != self.config.n_mels {
            return Err(Error::Shape {
                what: "tier input",
                expected: format!("[batch, frames, {}]", self.config.n_mels),
                got: format!("{:?}", x.dims()),
            });
        }
        let conditioning = self.conditioning(coarse, b, t, f)?;
        let prev_frame = delay(x, 1)?;
        let prev_bin = delay(x, 2)?;
        let mut h_t = linear(&self.time_input, &prev_frame.unsqueeze(D::Minus1)?)?;
        let mut h_f = linear(&self.freq_input, &prev_bin.unsqueeze(D::Minus1)?)?;
        if let Some((to_time, to_freq)) = conditioning {
            h_t = (h_t + to_time)?;
            h_f = (h_f + to_freq)?;
        }
        let mut h_c = match &self.central_input {
            Some(lin) => Some(linear(lin, &prev_frame)?),
            None => None,
        };
        for l in 0..self.config.layers {
            h_t = self.time[l].forward(&h_t)?;
            if let Some(c) = h_c.as_mut() {
                *c = self.central[l].forward(c)?;
            }
            h_f = self.freq[l].forward(&h_f, &h_t, h_c.as_ref())?;
        }
        Ok(Gmm::from_raw(linear(&self.head, &h_f)?)?)
    }

    /// Per-element negative log-likelihood of `x` `[batch, frames, bins]` given x^{<g}
    /// `coarse` (as [`Tier::forward`]), nats, `[batch, frames, bins]`: censored at the tier's
    /// floor ([`TierConfig::floor`]) where it has one.
    ///
    /// # Errors
    /// As [`Tier::forward`].
    pub fn nll_elements(&self, x: &Tensor, coarse: Option<&Tensor>) -> Result<Tensor> {
        Ok(self
            .forward(x, coarse)?
            .nll_elements(x, self.config.floor.as_deref())?)
    }
}
