//! Per-bin conditioning terms: a conditioning vector `v` (a label's embedding, the text
//! attention's context) enters the frequency-delayed stack as `g_f ⊙ v` at bin f, with a
//! learned gain row `g_f` per mel bin. Added to every bin alike, `v` would leave the stack to
//! work out by counting bins where the condition should sound (which bands a letter or class
//! occupies); the gain makes that a product the model learns directly.

use candle_core::Tensor;
use candle_nn::VarBuilder;

/// The name of the gains' variable (initialised to 1).
pub const GAIN: &str = "bin_gain";

/// The gains `[bins, width]`.
#[derive(Debug, Clone)]
pub struct BinGain {
    pub(crate) gain: Tensor,
}

impl BinGain {
    /// Gains for `bins` mel bins of a stack of width `width`, variable `gain` under `vb`.
    ///
    /// # Errors
    /// Variable store errors.
    pub fn new(bins: usize, width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(BinGain {
            gain: vb.get((bins, width), GAIN)?,
        })
    }

    /// The terms of `v` `[.., width]`: `[.., bins, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn terms(&self, v: &Tensor) -> candle_core::Result<Tensor> {
        let (bins, width) = self.gain.dims2()?;
        let mut shape = v.dims().to_vec();
        let mut gain_shape = vec![1; shape.len() - 1];
        gain_shape.extend([bins, width]);
        shape.insert(shape.len() - 1, 1);
        v.reshape(shape)?
            .broadcast_mul(&self.gain.reshape(gain_shape)?)
    }
}

/// Add the term of bin `bin` for each of the `v.len() / width` vectors `v` `[count, width]`
/// to the rows of `h` `[count, width]`, given the gains `gain` `[bins, width]` as values (the
/// sampler's form of [`BinGain::terms`]).
pub(crate) fn add_bin_terms(h: &mut [f32], gain: &[f32], v: &[f32], bin: usize, width: usize) {
    let g = &gain[bin * width..(bin + 1) * width];
    for (row, vs) in h.chunks_exact_mut(width).zip(v.chunks_exact(width)) {
        row.iter_mut()
            .zip(g.iter().zip(vs))
            .for_each(|(x, (g, v))| *x += g * v);
    }
}
