//! A whole LSTM sequence as one candle operation, with a hand-written backward pass through
//! time. candle's per-op overhead dominates an op-by-op recurrent loop (DESIGN.md §5a), so the
//! input projection for all steps is one matrix product, the recurrent product one per step,
//! and the gate non-linearities tight loops.
//!
//! Weights are packed in one tensor `w` of shape `[input + hidden + 1, 4·hidden]`: rows
//! `0..input` are `W_ihᵀ`, rows `input..input+hidden` are `W_hhᵀ`, the last row the bias
//! (`b_ih + b_hh`). Gates are in PyTorch's order i, f, g, o. Initial states are zero.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use rayon::prelude::*;

use super::gemm::{matmul, Mat};

/// Run an LSTM over `x` `[batch, steps, input]` with packed weights `w`
/// `[input + hidden + 1, 4·hidden]`, from zero states; returns the hidden states
/// `[batch, steps, hidden]`. Differentiable with respect to `x` and `w`.
///
/// # Errors
/// When the shapes do not fit or the tensors are not f32 on the CPU.
pub fn lstm(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let (_, _, input) = x.dims3()?;
    let (rows, gates) = w.dims2()?;
    if gates % 4 != 0 || rows != input + gates / 4 + 1 {
        candle_core::bail!(
            "fused LSTM: weights {:?} do not fit input size {input} (expected [input + hidden + 1, 4·hidden])",
            w.dims()
        );
    }
    x.contiguous()?
        .apply_op2(&w.contiguous()?, FusedLstm::default())
}

/// The op; one instance per call, so it can keep its forward activations for the backward
/// pass instead of recomputing them.
#[derive(Default)]
struct FusedLstm {
    saved: std::sync::Mutex<Option<Activations>>,
}

/// Sizes of one call.
#[derive(Clone, Copy)]
struct Dims {
    batch: usize,
    steps: usize,
    input: usize,
    hidden: usize,
}

/// `e^x` to ~2 ulp without libm, so that loops over it vectorise: `x = n·ln2 + r`, a degree-6
/// polynomial for `e^r` on |r| ≤ ln2/2, and `2^n` by building the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the 1.5·2²³ trick (`round()` is a libm call that blocks
    // vectorisation on baseline x86-64).
    const SHIFT: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    // ln 2 split in two so that n·ln2 is exact enough.
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Logistic sigmoid.
#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp(-v))
}

/// tanh(x) = 2·sigmoid(2x) − 1.
#[inline(always)]
fn tanh(v: f32) -> f32 {
    2.0 * sigmoid(2.0 * v) - 1.0
}

/// Gate non-linearities in place on one pre-activation row `[i f g o]` (each `hidden` wide):
/// sigmoid for i, f, o and tanh for g, as separate straight loops that vectorise.
fn activate(z: &mut [f32], hidden: usize) {
    let (ifg, o) = z.split_at_mut(3 * hidden);
    let (i_f, g) = ifg.split_at_mut(2 * hidden);
    i_f.iter_mut().for_each(|v| *v = sigmoid(*v));
    g.iter_mut().for_each(|v| *v = tanh(*v));
    o.iter_mut().for_each(|v| *v = sigmoid(*v));
}

/// One LSTM cell update for one sequence: gate pre-activations `z` `[4·hidden]` (i, f, g, o;
/// activated in place), cell state `c` and hidden state `h` `[hidden]` updated in place.
pub(crate) fn cell(z: &mut [f32], c: &mut [f32], h: &mut [f32]) {
    let hidden = c.len();
    activate(z, hidden);
    let (i, rest) = z.split_at(hidden);
    let (f, rest) = rest.split_at(hidden);
    let (g, o) = rest.split_at(hidden);
    for j in 0..hidden {
        let next = f[j] * c[j] + i[j] * g[j];
        c[j] = next;
        h[j] = o[j] * tanh(next);
    }
}

/// Activations kept by the forward pass for the backward pass.
struct Activations {
    /// Post-activation gates `[batch·steps, 4·hidden]` (i, f, g, o).
    gates: Vec<f32>,
    /// Cell states `[batch·steps, hidden]`.
    cells: Vec<f32>,
}

/// Sequences are run in this many independent blocks side by side (rayon). The split depends
/// only on the batch size, so results do not depend on the number of threads.
fn blocks(batch: usize) -> usize {
    (batch / 64).clamp(1, 8)
}

/// Forward pass: hidden states `[batch·steps, hidden]` (row `b·steps + t`) and the
/// activations for the backward pass.
fn forward(x: &[f32], w: &[f32], d: Dims) -> (Vec<f32>, Activations) {
    let Dims {
        batch,
        steps,
        input,
        hidden,
    } = d;
    let g4 = 4 * hidden;
    let mut out = vec![0.0f32; batch * steps * hidden];
    let mut gates = vec![0.0f32; batch * steps * g4];
    let mut cells = vec![0.0f32; batch * steps * hidden];
    let per = batch.div_ceil(blocks(batch)).max(1);
    out.par_chunks_mut(per * steps * hidden)
        .zip(gates.par_chunks_mut(per * steps * g4))
        .zip(cells.par_chunks_mut(per * steps * hidden))
        .zip(x.par_chunks(per * steps * input))
        .for_each(|(((out, gates), cells), x)| {
            let d = Dims {
                batch: out.len() / (steps * hidden),
                ..d
            };
            forward_block(x, w, d, out, gates, cells);
        });
    (out, Activations { gates, cells })
}

/// [`forward`] on one block of whole sequences, into its rows of the outputs.
fn forward_block(
    x: &[f32],
    w: &[f32],
    d: Dims,
    out: &mut [f32],
    gates: &mut [f32],
    cells: &mut [f32],
) {
    let Dims {
        batch,
        steps,
        input,
        hidden,
    } = d;
    let g4 = 4 * hidden;
    let (w_ih, rest) = w.split_at(input * g4);
    let (w_hh, bias) = rest.split_at(hidden * g4);
    // Input projection of every step at once, into the gate buffer.
    matmul(
        gates,
        Mat::new(x, batch * steps, input),
        Mat::new(w_ih, input, g4),
        false,
    );
    for row in gates.chunks_exact_mut(g4) {
        row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
    }
    let mut h = vec![0.0f32; batch * hidden];
    let mut c = vec![0.0f32; batch * hidden];
    let mut z = vec![0.0f32; batch * g4];
    for t in 0..steps {
        for b in 0..batch {
            let r = b * steps + t;
            z[b * g4..(b + 1) * g4].copy_from_slice(&gates[r * g4..(r + 1) * g4]);
        }
        if t > 0 {
            matmul(
                &mut z,
                Mat::new(&h, batch, hidden),
                Mat::new(w_hh, hidden, g4),
                true,
            );
        }
        for b in 0..batch {
            let r = b * steps + t;
            let zb = &mut z[b * g4..(b + 1) * g4];
            let cb = &mut c[b * hidden..(b + 1) * hidden];
            let hb = &mut h[b * hidden..(b + 1) * hidden];
            cell(zb, cb, hb);
            out[r * hidden..(r + 1) * hidden].copy_from_slice(hb);
            gates[r * g4..(r + 1) * g4].copy_from_slice(zb);
            cells[r * hidden..(r + 1) * hidden].copy_from_slice(cb);
        }
    }
}

/// Backward pass through time: gradients of `x` `[batch·steps, input]` and of the packed
/// weights, given the forward pass's hidden states `hs`, its activations, and the gradient
/// `dh` of the hidden states.
fn backward(
    x: &[f32],
    w: &[f32],
    hs: &[f32],
    dh_out: &[f32],
    d: Dims,
    acts: &Activations,
) -> (Vec<f32>, Vec<f32>) {
    let Dims {
        batch,
        steps,
        input,
        hidden,
    } = d;
    let g4 = 4 * hidden;
    let (w_ih, rest) = w.split_at(input * g4);
    let (w_hh, _) = rest.split_at(hidden * g4);
    // Gate gradients of every step, block by block (the recurrence is per sequence).
    let mut dz_all = vec![0.0f32; batch * steps * g4];
    let per = batch.div_ceil(blocks(batch)).max(1);
    dz_all
        .par_chunks_mut(per * steps * g4)
        .zip(dh_out.par_chunks(per * steps * hidden))
        .zip(acts.gates.par_chunks(per * steps * g4))
        .zip(acts.cells.par_chunks(per * steps * hidden))
        .for_each(|(((dz_all, dh_out), gates), cells)| {
            let d = Dims {
                batch: dh_out.len() / (steps * hidden),
                ..d
            };
            backward_block(w_hh, dh_out, gates, cells, d, dz_all);
        });
    let mut dw = vec![0.0f32; (input + hidden + 1) * g4];
    // dW_hhᵀ = H_prevᵀ · DZ over all steps at once, H_prev holding h_{t−1} (zero at t = 0).
    let mut h_prev = vec![0.0f32; batch * steps * hidden];
    for b in 0..batch {
        let rows = b * steps * hidden..(b + 1) * steps * hidden;
        h_prev[rows.start + hidden..rows.end].copy_from_slice(&hs[rows.start..rows.end - hidden]);
    }
    matmul(
        &mut dw[input * g4..(input + hidden) * g4],
        Mat::new(&h_prev, batch * steps, hidden).t(),
        Mat::new(&dz_all, batch * steps, g4),
        false,
    );
    // dW_ihᵀ = Xᵀ · DZ ; dbias = Σ DZ ; dX = DZ · W_ih
    matmul(
        &mut dw[..input * g4],
        Mat::new(x, batch * steps, input).t(),
        Mat::new(&dz_all, batch * steps, g4),
        false,
    );
    let db = &mut dw[(input + hidden) * g4..];
    for row in dz_all.chunks_exact(g4) {
        db.iter_mut().zip(row).for_each(|(a, b)| *a += b);
    }
    let mut dx = vec![0.0f32; batch * steps * input];
    matmul(
        &mut dx,
        Mat::new(&dz_all, batch * steps, g4),
        Mat::new(w_ih, input, g4).t(),
        false,
    );
    (dx, dw)
}

/// The recurrence of [`backward`] for one block of whole sequences: gate gradients `dz_all`
/// `[batch·steps, 4·hidden]` from the hidden-state gradients and the block's activations.
fn backward_block(
    w_hh: &[f32],
    dh_out: &[f32],
    gates: &[f32],
    cells: &[f32],
    d: Dims,
    dz_all: &mut [f32],
) {
    let Dims {
        batch,
        steps,
        hidden,
        ..
    } = d;
    let g4 = 4 * hidden;
    let mut dh_next = vec![0.0f32; batch * hidden];
    let mut dc_next = vec![0.0f32; batch * hidden];
    let mut dz = vec![0.0f32; batch * g4];
    for t in (0..steps).rev() {
        for b in 0..batch {
            let r = b * steps + t;
            let gr = &gates[r * g4..(r + 1) * g4];
            let dzb = &mut dz[b * g4..(b + 1) * g4];
            for j in 0..hidden {
                let (i, f, g, o) = (
                    gr[j],
                    gr[hidden + j],
                    gr[2 * hidden + j],
                    gr[3 * hidden + j],
                );
                let cell = cells[r * hidden + j];
                let c_prev = if t > 0 {
                    cells[(r - 1) * hidden + j]
                } else {
                    0.0
                };
                let tc = tanh(cell);
                let dh = dh_out[r * hidden + j] + dh_next[b * hidden + j];
                let d_o = dh * tc;
                let dc = dh * o * (1.0 - tc * tc) + dc_next[b * hidden + j];
                dc_next[b * hidden + j] = dc * f;
                dzb[j] = dc * g * i * (1.0 - i);
                dzb[hidden + j] = dc * c_prev * f * (1.0 - f);
                dzb[2 * hidden + j] = dc * i * (1.0 - g * g);
                dzb[3 * hidden + j] = d_o * o * (1.0 - o);
            }
            dz_all[r * g4..(r + 1) * g4].copy_from_slice(dzb);
        }
        if t > 0 {
            // dh_{t−1} = dz_t · W_hh
            matmul(
                &mut dh_next,
                Mat::new(&dz, batch, g4),
                Mat::new(w_hh, hidden, g4).t(),
                false,
            );
        }
    }
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("fused LSTM: non-contiguous input"),
    }
}

impl CustomOp2 for FusedLstm {
    fn name(&self) -> &'static str {
        "fused-lstm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, steps, input) = l1.shape().dims3()?;
        let (_, g4) = l2.shape().dims2()?;
        let d = Dims {
            batch,
            steps,
            input,
            hidden: g4 / 4,
        };
        let (h, acts) = forward(slice(s1, l1)?, slice(s2, l2)?, d);
        *self.saved.lock().expect("activation cache lock") = Some(acts);
        Ok((CpuStorage::F32(h), Shape::from((batch, steps, d.hidden))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (batch, steps, input) = x.dims3()?;
        let (_, g4) = w.dims2()?;
        let d = Dims {
            batch,
            steps,
            input,
            hidden: g4 / 4,
        };
        let xv = x.flatten_all()?.to_vec1::<f32>()?;
        let wv = w.flatten_all()?.to_vec1::<f32>()?;
        let dh = grad_res.flatten_all()?.to_vec1::<f32>()?;
        let hs = res.flatten_all()?.to_vec1::<f32>()?;
        let saved = self.saved.lock().expect("activation cache lock").take();
        // Without the forward pass's activations (a second backward), recompute them.
        let acts = match saved {
            Some(a) => a,
            None => forward(&xv, &wv, d).1,
        };
        let (dx, dw) = backward(&xv, &wv, &hs, &dh, d, &acts);
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), x.device())?),
            Some(Tensor::from_vec(dw, w.shape(), w.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_sigmoid_and_tanh_are_accurate() {
        let mut worst = 0.0f32;
        let mut x = -80.0f32;
        while x < 80.0 {
            worst = worst.max(((exp(x) - x.exp()) / x.exp()).abs());
            assert!(
                (sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6,
                "sigmoid({x})"
            );
            assert!((tanh(x) - x.tanh()).abs() < 1e-6, "tanh({x})");
            x += 0.013;
        }
        assert!(worst < 1e-6, "exp relative error {worst}");
    }
}
