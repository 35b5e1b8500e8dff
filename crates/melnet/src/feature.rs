//! The feature-extraction network of an upper tier (arXiv 1906.01083 §6.1): x^{<g}, everything
//! the coarser tiers generate, summarised for every element of x^g. Four LSTMs per layer —
//! forward and backward along time (one sequence per bin), forward and backward along frequency
//! (one sequence per frame) — with no shift: x^{<g} is known in full, so the features may
//! look everywhere in it. Their outputs are concatenated (4D), projected to D and added to the
//! layer's input (residual). Hidden states are `[batch, frames, bins, width]` on x^{<g}'s grid.

use candle_core::{Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::multiscale::Axis;
use crate::rnn::Rnn;
use crate::stack::{frequency, linear, residual_layer, time};

/// One layer: four LSTMs over the previous layer, concatenated, projected, plus residual.
#[derive(Debug, Clone)]
struct FeatureLayer {
    time_forward: Rnn,
    time_backward: Rnn,
    freq_forward: Rnn,
    freq_backward: Rnn,
    proj: Linear,
}

impl FeatureLayer {
    fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(FeatureLayer {
            time_forward: Rnn::new(width, width, vb.pp("time_forward"))?,
            time_backward: Rnn::new(width, width, vb.pp("time_backward"))?,
            freq_forward: Rnn::new(width, width, vb.pp("freq_forward"))?,
            freq_backward: Rnn::new(width, width, vb.pp("freq_backward"))?,
            proj: candle_nn::linear(4 * width, width, vb.pp("proj"))?,
        })
    }

    fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        residual_layer(
            &[
                &self.time_forward,
                &self.time_backward,
                &self.freq_forward,
                &self.freq_backward,
            ],
            &[time(false), time(true), frequency(false), frequency(true)],
            &self.proj,
            h,
            None,
        )
    }
}

/// The feature network of a tier split along `axis`, with its two output projections: the
/// conditioning term `W_z z` of the time-delayed and of the frequency-delayed input layer
/// (paper eq. 13–14: `h^t[0] = W^t_0 x + W^t_z z`, `h^f[0] = W^f_0 x + W^f_z z`).
#[derive(Debug, Clone)]
pub struct FeatureNetwork {
    axis: Axis,
    input: Linear,
    layers: Vec<FeatureLayer>,
    to_time: Linear,
    to_freq: Linear,
}

impl FeatureNetwork {
    /// `layers` layers of width `width` for a tier split along `axis`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(
        axis: Axis,
        layers: usize,
        width: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(FeatureNetwork {
            axis,
            input: candle_nn::linear(1, width, vb.pp("input"))?,
            layers: (0..layers)
                .map(|i| FeatureLayer::new(width, vb.pp(format!("layers.{i}"))))
                .collect::<candle_core::Result<_>>()?,
            to_time: candle_nn::linear(width, width, vb.pp("to_time_delayed"))?,
            to_freq: candle_nn::linear(width, width, vb.pp("to_frequency_delayed"))?,
        })
    }

    /// The split axis of the tier.
    pub fn axis(&self) -> Axis {
        self.axis
    }

    /// The conditioning terms for x^g of `fine_rows` rows along the split axis, from x^{<g}
    /// `coarse` `[batch, frames, bins]`: `(W^t_z z, W^f_z z)`, each `[batch, frames, bins,
    /// width]` on x^g's grid. Fine row i (row 2i + 1 of the interleaved spectrogram) takes the
    /// features of coarse row i (row 2i), the row just before it; the features of every row
    /// summarise all of x^{<g}.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(
        &self,
        coarse: &Tensor,
        fine_rows: usize,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let mut h = linear(&self.input, &coarse.unsqueeze(D::Minus1)?)?;
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        let dim = match self.axis {
            Axis::Time => 1,
            Axis::Frequency => 2,
        };
        let z = h.narrow(dim, 0, fine_rows)?.contiguous()?;
        Ok((linear(&self.to_time, &z)?, linear(&self.to_freq, &z)?))
    }
}
