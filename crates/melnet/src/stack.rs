//! The three stacks of a MelNet layer (arXiv 1906.01083 §4): time-delayed, centralized and
//! frequency-delayed. Hidden states are `[batch, frames, bins, width]` (centralized:
//! `[batch, frames, width]`).

use candle_core::{Module, Tensor};
use candle_nn::{Init, Linear, VarBuilder};

use crate::ops::dense::dense;
use crate::ops::frame_sum::frame_sum;
use crate::ops::fused_lstm::{lstm, Along, Direction};
use crate::ops::lstm_layer::{lstm_layer, LayerDims};

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

/// `lin` applied to the last axis of `x` of any rank, as one 2-D operation ([`dense`]; candle's
/// batched broadcast product has no backward for every stride pattern, e.g. an input width of
/// one).
pub(crate) fn linear(lin: &Linear, x: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let last = *dims.last().expect("at least one axis");
    let rows = x.elem_count() / last.max(1);
    let x = x.reshape((rows, last))?;
    let y = match lin.bias() {
        Some(b) => dense(&x, lin.weight(), b)?,
        None => lin.forward(&x)?,
    };
    let mut out = dims;
    *out.last_mut().expect("at least one axis") = y.dim(1)?;
    y.reshape(out)
}

/// An LSTM along time (one sequence per bin) of `[batch, frames, bins, width]`, forwards or
/// backwards.
pub(crate) const fn time(reverse: bool) -> Direction {
    Direction {
        along: Along::Rows,
        reverse,
    }
}

/// An LSTM along frequency (one sequence per frame, restarting every frame) of
/// `[batch, frames, bins, width]`, upwards or downwards.
pub(crate) const fn frequency(reverse: bool) -> Direction {
    Direction {
        along: Along::Columns,
        reverse,
    }
}

/// The LSTMs `rnns` over `x` `[batch, frames, bins, input]` along `directions`, their outputs
/// side by side, projected by `proj`, plus `residual` (`x` itself when `None`): a layer of every
/// stack and of the feature network, as one operation ([`lstm_layer`]).
pub(crate) fn residual_layer(
    rnns: &[&Rnn],
    directions: &[Direction],
    proj: &Linear,
    x: &Tensor,
    residual: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let mut parts = rnns
        .iter()
        .map(|r| r.w.flatten_all())
        .collect::<candle_core::Result<Vec<_>>>()?;
    parts.push(proj.weight().flatten_all()?);
    if let Some(b) = proj.bias() {
        parts.push(b.clone());
    } else {
        candle_core::bail!("LSTM layer: a projection without bias");
    }
    let dims = LayerDims {
        input: x.dim(3)?,
        hidden: rnns.first().map_or(Ok(0), |r| r.w.dim(1))? / 4,
        n: rnns.len(),
        output: proj.weight().dim(0)?,
    };
    lstm_layer(x, &Tensor::cat(&parts, 0)?, directions, dims, residual)
}

/// One layer of the time-delayed stack (eq. 6): LSTMs forward in time, and forward and
/// backward in frequency, over the previous layer; concatenated, projected, plus residual.
#[derive(Debug, Clone)]
pub struct TimeDelayedStack {
    pub(crate) time: Rnn,
    pub(crate) freq_up: Rnn,
    pub(crate) freq_down: Rnn,
    pub(crate) proj: Linear,
}

impl TimeDelayedStack {
    /// A layer of width `width`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(TimeDelayedStack {
            time: Rnn::new(width, width, vb.pp("time"))?,
            freq_up: Rnn::new(width, width, vb.pp("freq_up"))?,
            freq_down: Rnn::new(width, width, vb.pp("freq_down"))?,
            proj: candle_nn::linear(3 * width, width, vb.pp("proj"))?,
        })
    }

    /// `h^t[l]` from `h^t[l−1]` `[batch, frames, bins, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        residual_layer(
            &[&self.time, &self.freq_up, &self.freq_down],
            &[time(false), frequency(false), frequency(true)],
            &self.proj,
            h,
            None,
        )
    }
}

/// One layer of the centralized stack (§4.2): an LSTM along frames over a whole-frame
/// summary, projected, plus residual.
#[derive(Debug, Clone)]
pub struct CentralizedStack {
    pub(crate) time: Rnn,
    pub(crate) proj: Linear,
}

impl CentralizedStack {
    /// A layer of width `width`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(CentralizedStack {
            time: Rnn::new(width, width, vb.pp("time"))?,
            proj: candle_nn::linear(width, width, vb.pp("proj"))?,
        })
    }

    /// `h^c[l]` from `h^c[l−1]` `[batch, frames, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        // A grid of one bin: the LSTM runs along the frames.
        let (b, t, d) = h.dims3()?;
        residual_layer(
            &[&self.time],
            &[time(false)],
            &self.proj,
            &h.reshape((b, t, 1, d))?,
            None,
        )?
        .reshape((b, t, d))
    }
}

/// One layer of the frequency-delayed stack (eq. 7): an LSTM forward in frequency over
/// `h^f[l−1] + h^t[l] + h^c[l]`, restarting every frame; projected, plus residual.
#[derive(Debug, Clone)]
pub struct FrequencyDelayedStack {
    pub(crate) freq: Rnn,
    pub(crate) proj: Linear,
}

impl FrequencyDelayedStack {
    /// A layer of width `width`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(FrequencyDelayedStack {
            freq: Rnn::new(width, width, vb.pp("freq"))?,
            proj: candle_nn::linear(width, width, vb.pp("proj"))?,
        })
    }

    /// `h^f[l]` from `h^f[l−1]` and the same layer's `h^t[l]` (both `[batch, frames, bins,
    /// width]`) and optional `h^c[l]` `[batch, frames, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(
        &self,
        h_f: &Tensor,
        h_t: &Tensor,
        h_c: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let input = match h_c {
            Some(c) => frame_sum(h_f, h_t, c)?,
            None => (h_f + h_t)?,
        };
        residual_layer(
            &[&self.freq],
            &[frequency(false)],
            &self.proj,
            &input,
            Some(h_f),
        )
    }
}
