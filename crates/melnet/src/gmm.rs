//! The Gaussian-mixture output of MelNet (arXiv 1906.01083 §3): every element gets K
//! components; the head emits 3K numbers per element — means as they are, scales = exp(·),
//! mixture weights = softmax(·).

use candle_core::{Tensor, D};

/// Floor of the log scale, so that a collapsing component cannot produce NaN/∞ losses.
pub const MIN_LOG_SCALE: f64 = -7.0;

/// Mixture parameters, each `[batch, frames, bins, K]`.
#[derive(Debug, Clone)]
pub struct Gmm {
    /// Means μ_k.
    pub means: Tensor,
    /// log σ_k, floored at [`MIN_LOG_SCALE`].
    pub log_scales: Tensor,
    /// log π_k (log-softmax of the raw weights).
    pub log_weights: Tensor,
}

impl Gmm {
    /// Split raw head outputs `[batch, frames, bins, 3K]` (means, log scales, weight logits).
    ///
    /// # Errors
    /// When the last dimension is not a multiple of 3.
    pub fn from_raw(raw: &Tensor) -> candle_core::Result<Self> {
        let last = raw.dim(D::Minus1)?;
        if last % 3 != 0 {
            candle_core::bail!("GMM head: last dimension {last} is not 3·K");
        }
        let k = last / 3;
        let means = raw.narrow(D::Minus1, 0, k)?;
        let log_scales = raw.narrow(D::Minus1, k, k)?.maximum(MIN_LOG_SCALE)?;
        let logits = raw.narrow(D::Minus1, 2 * k, k)?;
        let log_weights = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        Ok(Gmm {
            means,
            log_scales,
            log_weights,
        })
    }

    /// Per-element negative log-likelihood of `x` `[batch, frames, bins]`, nats:
    /// `−log Σ_k π_k N(x; μ_k, σ_k)` by log-sum-exp.
    ///
    /// # Errors
    /// When shapes do not match.
    pub fn nll_elements(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = x.unsqueeze(D::Minus1)?;
        let z = x
            .broadcast_sub(&self.means)?
            .mul(&self.log_scales.neg()?.exp()?)?;
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let log_prob = ((self.log_weights.clone() - &self.log_scales)? - (z.sqr()? * 0.5)?)?
            .affine(1.0, -half_log_2pi)?;
        let max = log_prob.max_keepdim(D::Minus1)?;
        let lse = log_prob
            .broadcast_sub(&max)?
            .exp()?
            .sum_keepdim(D::Minus1)?
            .log()?
            .add(&max)?
            .squeeze(D::Minus1)?;
        lse.neg()
    }

    /// Mean negative log-likelihood over all elements of `x`, nats per element.
    ///
    /// # Errors
    /// When shapes do not match.
    pub fn nll(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.nll_elements(x)?.mean_all()
    }
}
