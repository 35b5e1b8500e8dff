//! One MelNet tier (arXiv 1906.01083 §4): delayed inputs, L layers of stacks, GMM head.

use candle_core::{Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::config::TierConfig;
use crate::error::{Error, Result};
use crate::gmm::Gmm;
use crate::stack::{linear, CentralizedStack, FrequencyDelayedStack, TimeDelayedStack};

/// An unconditional tier modelling `x` `[batch, frames, bins]`.
#[derive(Debug, Clone)]
pub struct Tier {
    config: TierConfig,
    time_input: Linear,
    freq_input: Linear,
    central_input: Option<Linear>,
    time: Vec<TimeDelayedStack>,
    central: Vec<CentralizedStack>,
    freq: Vec<FrequencyDelayedStack>,
    head: Linear,
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

    /// The configuration.
    pub fn config(&self) -> &TierConfig {
        &self.config
    }

    /// Mixture parameters for every element of `x` `[batch, frames, bins]`; the element
    /// (t, f) depends only on frames < t and on bins < f of frame t.
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` does not have `n_mels` bins; candle errors.
    pub fn forward(&self, x: &Tensor) -> Result<Gmm> {
        let (_, _, f) = x.dims3()?;
        if f != self.config.n_mels {
            return Err(Error::Shape {
                what: "tier input",
                expected: format!("[batch, frames, {}]", self.config.n_mels),
                got: format!("{:?}", x.dims()),
            });
        }
        let prev_frame = delay(x, 1)?;
        let prev_bin = delay(x, 2)?;
        let mut h_t = linear(&self.time_input, &prev_frame.unsqueeze(D::Minus1)?)?;
        let mut h_f = linear(&self.freq_input, &prev_bin.unsqueeze(D::Minus1)?)?;
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
        Ok(Gmm::from_raw(&linear(&self.head, &h_f)?)?)
    }
}
