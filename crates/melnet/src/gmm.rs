//! The Gaussian-mixture output of MelNet (arXiv 1906.01083 §3): every element gets K
//! components; the head emits 3K numbers per element — means as they are, scales = exp(·),
//! mixture weights = softmax(·). Its likelihood is [`crate::ops::gmm_nll`], censored at a
//! floor when the data has one.

use candle_core::{Tensor, D};

use crate::ops::gmm_nll::gmm_nll;
pub use crate::ops::gmm_nll::MIN_LOG_SCALE;

/// The head's output: mixture parameters for every element.
#[derive(Debug, Clone)]
pub struct Gmm {
    raw: Tensor,
    k: usize,
}

impl Gmm {
    /// Raw head outputs `[batch, frames, bins, 3K]` (means, log scales, weight logits).
    ///
    /// # Errors
    /// When the last dimension is not a multiple of 3.
    pub fn from_raw(raw: Tensor) -> candle_core::Result<Self> {
        let last = raw.dim(D::Minus1)?;
        if last % 3 != 0 {
            candle_core::bail!("GMM head: last dimension {last} is not 3·K");
        }
        Ok(Gmm { raw, k: last / 3 })
    }

    /// Means μ_k `[batch, frames, bins, K]`.
    ///
    /// # Errors
    /// Candle errors.
    pub fn means(&self) -> candle_core::Result<Tensor> {
        self.raw.narrow(D::Minus1, 0, self.k)
    }

    /// log σ_k `[batch, frames, bins, K]`, floored at [`MIN_LOG_SCALE`].
    ///
    /// # Errors
    /// Candle errors.
    pub fn log_scales(&self) -> candle_core::Result<Tensor> {
        self.raw
            .narrow(D::Minus1, self.k, self.k)?
            .maximum(MIN_LOG_SCALE)
    }

    /// log π_k `[batch, frames, bins, K]` (log-softmax of the logits).
    ///
    /// # Errors
    /// Candle errors.
    pub fn log_weights(&self) -> candle_core::Result<Tensor> {
        candle_nn::ops::log_softmax(&self.raw.narrow(D::Minus1, 2 * self.k, self.k)?, D::Minus1)
    }

    /// Per-element negative log-likelihood of `x` `[batch, frames, bins]`, nats,
    /// `[batch, frames, bins]`: `−log Σ_k π_k N(x; μ_k, σ_k)`, or for an element at or below
    /// its bin's `floor` (one value per bin) the censored `−log Σ_k π_k Φ((floor − μ_k)/σ_k)`.
    ///
    /// # Errors
    /// When shapes do not match.
    pub fn nll_elements(&self, x: &Tensor, floor: Option<&[f32]>) -> candle_core::Result<Tensor> {
        gmm_nll(&self.raw, x, floor)
    }
}
