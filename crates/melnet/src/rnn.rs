//! The LSTM weights of every recurrent layer of MelNet's stacks, packed as the fused kernel
//! ([`crate::ops::fused_lstm`]) and the stepping form ([`crate::step`]) read them.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use crate::ops::fused_lstm::lstm;

/// Name of packed LSTM weights in the variable store (distinguishes them from linear layers'
/// `weight` for [`crate::init`]).
pub const LSTM_WEIGHT: &str = "lstm_weight";

/// LSTM weights packed for [`lstm`], initialised as PyTorch does (U(±1/√width)).
#[derive(Debug, Clone)]
pub struct Rnn {
    pub(crate) w: Tensor,
}

impl Rnn {
    /// Weights for `input → hidden`, stored under `vb` as `lstm_weight`
    /// `[input + hidden + 1, 4·hidden]`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(input: usize, hidden: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let w = vb.get_with_hints(
            (input + hidden + 1, 4 * hidden),
            LSTM_WEIGHT,
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        Ok(Rnn { w })
    }

    /// Run over sequences `[n, steps, input]` → `[n, steps, hidden]`, from the last step to
    /// the first when `reverse`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, xs: &Tensor, reverse: bool) -> candle_core::Result<Tensor> {
        lstm(xs, &self.w, reverse)
    }
}
