//! One LSTM cell update as a candle operation, for recurrences that cannot run as a whole
//! sequence (the text attention, whose input at a frame depends on its output at the frame
//! before): the gate non-linearities and the cell update of the fused LSTM
//! ([`super::fused_lstm::cell`]) forwards, its step of backpropagation through time
//! ([`super::fused_lstm::bptt_row`]) backwards — the same kernels, instead of a dozen candle
//! operations per step.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use super::fused_lstm::{bptt_row, cell};
use super::{slice, with_values};

/// The op's name in errors.
const OP: &str = "LSTM cell";

/// From gate pre-activations `z` `[batch, 4·hidden]` (i, f, g, o) and the previous cell state
/// `c` `[batch, hidden]`: the new hidden and cell states side by side, `[batch, 2·hidden]`
/// (`h` in columns `0..hidden`, `c` in `hidden..2·hidden`). Differentiable with respect to `z`
/// and `c`.
///
/// # Errors
/// When the shapes do not fit or the tensors are not f32 on the CPU.
pub fn lstm_cell(z: &Tensor, c: &Tensor) -> candle_core::Result<Tensor> {
    let (batch, gates) = z.dims2()?;
    if gates % 4 != 0 || c.dims() != [batch, gates / 4] {
        candle_core::bail!(
            "{OP}: gates {:?} and cell {:?} do not fit",
            z.dims(),
            c.dims()
        );
    }
    z.contiguous()?.apply_op2(
        &c.contiguous()?,
        LstmCell {
            gates: Default::default(),
        },
    )
}

/// The op; keeps the activated gates for the backward pass.
struct LstmCell {
    gates: std::sync::Mutex<Option<Vec<f32>>>,
}

impl LstmCell {
    /// The activated gates (in place of `z`) and `[h | c]` rows.
    fn forward(z: &[f32], c: &[f32], hidden: usize) -> (Vec<f32>, Vec<f32>) {
        let mut gates = z.to_vec();
        let mut out = Vec::with_capacity(2 * c.len());
        let (mut h_row, mut c_row) = (vec![0.0f32; hidden], vec![0.0f32; hidden]);
        for (zb, cb) in gates
            .chunks_exact_mut(4 * hidden)
            .zip(c.chunks_exact(hidden))
        {
            c_row.copy_from_slice(cb);
            cell(zb, &mut c_row, &mut h_row);
            out.extend_from_slice(&h_row);
            out.extend_from_slice(&c_row);
        }
        (gates, out)
    }
}

impl CustomOp2 for LstmCell {
    fn name(&self) -> &'static str {
        "lstm-cell"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (z, c) = (slice(s1, l1, OP)?, slice(s2, l2, OP)?);
        let (batch, hidden) = l2.shape().dims2()?;
        let (gates, out) = Self::forward(z, c, hidden);
        *self.gates.lock().expect("activation cache lock") = Some(gates);
        Ok((CpuStorage::F32(out), Shape::from((batch, 2 * hidden))))
    }

    fn bwd(
        &self,
        z: &Tensor,
        c: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let saved = self.gates.lock().expect("activation cache lock").take();
        with_values([z, c, res, grad], OP, |[zv, cv, out, dout]| {
            let hidden = c.dim(1)?;
            // Without the forward pass's gates (a second backward), recompute them.
            let gates = match saved {
                Some(g) => g,
                None => Self::forward(zv, cv, hidden).0,
            };
            let zeros = vec![0.0f32; hidden];
            let mut dz = vec![0.0f32; zv.len()];
            let mut dc = vec![0.0f32; cv.len()];
            for (b, ((dzb, dcb), g)) in dz
                .chunks_exact_mut(4 * hidden)
                .zip(dc.chunks_exact_mut(hidden))
                .zip(gates.chunks_exact(4 * hidden))
                .enumerate()
            {
                // Columns of `[h | c]` row b: k = 0 for h, 1 for c.
                let row = |k: usize| (2 * b + k) * hidden..(2 * b + k + 1) * hidden;
                // dc enters as the gradient of the new cell state and leaves as that of the
                // previous one.
                dcb.copy_from_slice(&dout[row(1)]);
                bptt_row(
                    g,
                    [&out[row(1)], &cv[b * hidden..(b + 1) * hidden]],
                    [&dout[row(0)], &zeros],
                    dcb,
                    dzb,
                );
            }
            Ok((
                Some(Tensor::from_vec(dz, z.shape(), z.device())?),
                Some(Tensor::from_vec(dc, c.shape(), c.device())?),
            ))
        })
    }
}
