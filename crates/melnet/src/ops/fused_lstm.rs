//! A whole LSTM sequence as one candle operation, with a hand-written backward pass through
//! time. candle's per-op overhead dominates an op-by-op recurrent loop (DESIGN.md §5a), so the
//! input projection for all steps is one matrix product, the recurrent product one per step,
//! and the gate non-linearities tight loops on fixed-width lane arrays, compiled for the
//! widest vector extension the CPU has. The sequences of a batch run in parallel blocks; the
//! weight gradients are products over all steps at once. A backward-direction LSTM runs inside
//! the op (`reverse`), without reordering its input.
//!
//! Weights are packed in one tensor `w` of shape `[input + hidden + 1, 4·hidden]`: rows
//! `0..input` are `W_ihᵀ`, rows `input..input+hidden` are `W_hhᵀ`, the last row the bias
//! (`b_ih + b_hh`). Gates are in PyTorch's order i, f, g, o. Initial states are zero.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use rayon::prelude::*;

use super::{slice, with_values};

/// The op's name in errors.
const OP: &str = "fused LSTM";

use super::gemm::{matmul, Mat};

/// Run an LSTM over `x` `[batch, steps, input]` with packed weights `w`
/// `[input + hidden + 1, 4·hidden]`, from zero states — from the last step to the first when
/// `reverse` — and return the hidden states `[batch, steps, hidden]` (in the input's order).
/// Differentiable with respect to `x` and `w`.
///
/// # Errors
/// When the shapes do not fit or the tensors are not f32 on the CPU.
pub fn lstm(x: &Tensor, w: &Tensor, reverse: bool) -> candle_core::Result<Tensor> {
    let (batch, steps, input) = x.dims3()?;
    let h = lstms(
        &x.reshape((batch, steps, 1, input))?,
        &w.unsqueeze(0)?,
        &[Direction {
            along: Along::Rows,
            reverse,
        }],
    )?;
    let hidden = h.dim(3)?;
    h.reshape((batch, steps, hidden))
}

/// The axis of `[batch, rows, columns, input]` an LSTM of [`lstms`] runs along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Along {
    /// Along axis 1: one sequence per (batch, column) — e.g. along the frames of a
    /// `[batch, frames, bins, width]` spectrogram, one sequence per bin.
    Rows,
    /// Along axis 2: one sequence per (batch, row) — e.g. along the bins of every frame.
    Columns,
}

/// One LSTM of [`lstms`]: its axis, and whether it runs from the last step to the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    /// The axis it runs along.
    pub along: Along,
    /// From the last step to the first.
    pub reverse: bool,
}

/// Several LSTMs over the same `x` `[batch, rows, columns, input]`, LSTM k with packed
/// weights `w[k]` (`w`: `[n, input + hidden + 1, 4·hidden]`) along `directions[k]`, from zero
/// states, their hidden states side by side: `[batch, rows, columns, n·hidden]` (columns
/// `k·hidden..(k+1)·hidden` are LSTM k's) — the concatenation of their outputs without
/// reordering the data or concatenating tensors. Differentiable with respect to `x` and `w`.
///
/// # Errors
/// When the shapes do not fit, `directions` is not `n` long, or the tensors are not f32 on the
/// CPU.
pub fn lstms(x: &Tensor, w: &Tensor, directions: &[Direction]) -> candle_core::Result<Tensor> {
    let (_, _, _, input) = x.dims4()?;
    let (n, rows, gates) = w.dims3()?;
    if n != directions.len() || gates % 4 != 0 || rows != input + gates / 4 + 1 {
        candle_core::bail!(
            "fused LSTM: weights {:?} do not fit input size {input} and {} directions (expected [n, input + hidden + 1, 4·hidden])",
            w.dims(),
            directions.len()
        );
    }
    x.contiguous()?.apply_op2(
        &w.contiguous()?,
        FusedLstm {
            directions: directions.to_vec(),
            saved: Default::default(),
        },
    )
}

/// The op; one instance per call, so it can keep its forward activations for the backward
/// pass instead of recomputing them.
struct FusedLstm {
    directions: Vec<Direction>,
    saved: std::sync::Mutex<Option<Vec<Activations>>>,
}

/// Sizes, layout and direction of one LSTM: `batch` sequences of `steps` steps, `inner` of
/// them interleaved at every step (rows are `[outer, steps, inner]`, `batch = outer·inner`).
#[derive(Clone, Copy)]
pub(crate) struct Dims {
    batch: usize,
    steps: usize,
    inner: usize,
    input: usize,
    hidden: usize,
    reverse: bool,
    /// Values per row of the hidden states (and their gradient), and the first column of
    /// this LSTM's.
    stride: usize,
    column: usize,
}

impl Dims {
    /// The row of sequence `s` at time `t`.
    #[inline(always)]
    fn row(&self, s: usize, t: usize) -> usize {
        ((s / self.inner) * self.steps + t) * self.inner + s % self.inner
    }

    /// Rows per block of whole sequences run side by side (whole outer indices, so that a
    /// block's rows are contiguous).
    fn block_rows(&self) -> usize {
        let outer = self.batch / self.inner.max(1);
        let per = outer.div_ceil(blocks(self.batch).min(outer).max(1)).max(1);
        per * self.steps * self.inner
    }

    /// These dimensions for a block of `rows` rows.
    fn block(&self, rows: usize) -> Dims {
        Dims {
            batch: rows / self.steps,
            ..*self
        }
    }

    /// The time index of the `k`-th step taken.
    #[inline(always)]
    fn time(&self, k: usize) -> usize {
        if self.reverse {
            self.steps - 1 - k
        } else {
            k
        }
    }
}

/// `e^x` to ~2 ulp without libm, so that loops over it vectorise: `x = n·ln2 + r`, a degree-6
/// polynomial for `e^r` on |r| ≤ ln2/2, and `2^n` by building the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the 1.5·2²³ trick (`round()` is a libm call that blocks
    // vectorisation on baseline x86-64).
    const SHIFT: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    // ln 2 split in two so that n·ln2 is exact enough.
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    // n is the low mantissa bits of `shifted` (SHIFT's are zero there): 2^n from integer
    // operations that vectorise (`n as i32` saturates and maps NaN to 0, which LLVM emits as
    // a scalar conversion per lane).
    let n_int = shifted.to_bits().wrapping_sub(SHIFT.to_bits());
    p * f32::from_bits(n_int.wrapping_add(127) << 23)
}

/// Vector width the element loops are written for: fixed-size arrays of this many lanes
/// become vector operations (LLVM's loop vectoriser wants several full vectors per iteration,
/// more than the usual hidden widths hold, and would otherwise run these loops scalar); the
/// tail of a row runs the same code on one lane at a time.
const LANES: usize = 16;

/// Split a row of `len` values into full [`LANES`]-wide arrays and single-lane tail arrays.
macro_rules! lanes {
    ($slice:expr, $len:expr) => {{
        let (full, tail) = $slice[..$len].as_chunks::<LANES>();
        (full, tail.as_chunks::<1>().0)
    }};
    (mut $slice:expr, $len:expr) => {{
        let (full, tail) = $slice[..$len].as_chunks_mut::<LANES>();
        (full, tail.as_chunks_mut::<1>().0)
    }};
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
#[inline(always)]
fn activate(z: &mut [f32], hidden: usize) {
    let (ifg, o) = z.split_at_mut(3 * hidden);
    let (i_f, g) = ifg.split_at_mut(2 * hidden);
    // Written out per gate (through a function pointer the calls would not inline).
    macro_rules! apply {
        ($v:expr, $len:expr, $f:ident) => {
            let (full, tail) = lanes!(mut $v, $len);
            full.iter_mut()
                .for_each(|a| a.iter_mut().for_each(|x| *x = $f(*x)));
            tail.iter_mut()
                .for_each(|a| a.iter_mut().for_each(|x| *x = $f(*x)));
        };
    }
    apply!(i_f, 2 * hidden, sigmoid);
    apply!(g, hidden, tanh);
    apply!(o, hidden, sigmoid);
}

/// The cell update on `N` lanes: `c ← f·c + i·g`, `h ← o·tanh(c)`.
#[inline(always)]
fn cell_lanes<const N: usize>([i, f, g, o]: [&[f32; N]; 4], c: &mut [f32; N], h: &mut [f32; N]) {
    for j in 0..N {
        let next = f[j] * c[j] + i[j] * g[j];
        c[j] = next;
        h[j] = o[j] * tanh(next);
    }
}

/// One LSTM cell update for one sequence: gate pre-activations `z` `[4·hidden]` (i, f, g, o;
/// activated in place), cell state `c` and hidden state `h` `[hidden]` updated in place.
#[inline(always)]
pub(crate) fn cell(z: &mut [f32], c: &mut [f32], h: &mut [f32]) {
    let n = c.len();
    activate(&mut z[..4 * n], n);
    let (i, rest) = z.split_at(n);
    let (f, rest) = rest.split_at(n);
    let (g, o) = rest.split_at(n);
    let (i, f, g, o) = (lanes!(i, n), lanes!(f, n), lanes!(g, n), lanes!(o, n));
    let (c, h) = (lanes!(mut c, n), lanes!(mut h, n));
    // The full lane groups, then the single-lane tail: the same code at two widths.
    macro_rules! groups {
        ($p:tt) => {
            for k in 0..c.$p.len() {
                cell_lanes(
                    [&i.$p[k], &f.$p[k], &g.$p[k], &o.$p[k]],
                    &mut c.$p[k],
                    &mut h.$p[k],
                );
            }
        };
    }
    groups!(0);
    groups!(1);
}

/// Activations kept by the forward pass for the backward pass, in step order: within each
/// block of sequences ([`Dims::block_rows`]) `[steps taken, sequences, ·]`, so that a step of
/// the recurrence reads and writes one contiguous run (the input's row order scattered them
/// `steps` rows apart, and the backward pass waited on the loads).
pub(crate) struct Activations {
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

/// Forward pass of one LSTM: its hidden states into columns `d.column..d.column + hidden`
/// of `out` (`d.stride` values per row); returns the activations for the backward pass.
pub(crate) fn forward(x: &[f32], w: &[f32], d: Dims, out: &mut [f32]) -> Activations {
    let Dims {
        batch,
        steps,
        input,
        hidden,
        stride,
        ..
    } = d;
    let g4 = 4 * hidden;
    let mut gates = vec![0.0f32; batch * steps * g4];
    let mut cells = vec![0.0f32; batch * steps * hidden];
    let rows = d.block_rows();
    out.par_chunks_mut(rows * stride)
        .zip(gates.par_chunks_mut(rows * g4))
        .zip(cells.par_chunks_mut(rows * hidden))
        .zip(x.par_chunks(rows * input))
        .for_each(|(((out, gates), cells), x)| {
            forward_block(x, w, d.block(out.len() / stride), out, gates, cells);
        });
    Activations { gates, cells }
}

melspec::vectorised! {
    /// [`forward`] on one block of whole sequences, into its rows of the outputs.
    fn forward_block = forward_block_body(
        x: &[f32],
        w: &[f32],
        d: Dims,
        out: &mut [f32],
        gates: &mut [f32],
        cells: &mut [f32],
    )
}

melspec::vectorised! {
    /// The recurrence of [`backward`] for one block of whole sequences: gate gradients
    /// `dz_all` `[batch·steps, 4·hidden]` from the hidden-state gradients and the block's
    /// activations.
    fn backward_block = backward_block_body(
        w_hh: &[f32],
        dh_out: &[f32],
        gates: &[f32],
        cells: &[f32],
        d: Dims,
        dz_all: &mut [f32],
    )
}

#[inline(always)]
fn forward_block_body(
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
        ..
    } = d;
    let g4 = 4 * hidden;
    let (w_ih, rest) = w.split_at(input * g4);
    let (w_hh, bias) = rest.split_at(hidden * g4);
    // Input projection of every step at once, in the input's row order.
    let mut projected = vec![0.0f32; batch * steps * g4];
    matmul(
        &mut projected,
        Mat::new(x, batch * steps, input),
        Mat::new(w_ih, input, g4),
        false,
    );
    let mut h = vec![0.0f32; batch * hidden];
    let mut c = vec![0.0f32; batch * hidden];
    for (k, (z, c_out)) in gates
        .chunks_exact_mut(batch * g4)
        .zip(cells.chunks_exact_mut(batch * hidden))
        .enumerate()
    {
        // This step's gates in place: projected input plus bias, plus h·W_hh.
        let t = d.time(k);
        for (b, zb) in z.chunks_exact_mut(g4).enumerate() {
            let r = d.row(b, t);
            zb.iter_mut()
                .zip(&projected[r * g4..(r + 1) * g4])
                .zip(bias)
                .for_each(|((z, p), b)| *z = p + b);
        }
        if k > 0 {
            matmul(
                z,
                Mat::new(&h, batch, hidden),
                Mat::new(w_hh, hidden, g4),
                true,
            );
        }
        for (b, ((zb, cb), hb)) in z
            .chunks_exact_mut(g4)
            .zip(c.chunks_exact_mut(hidden))
            .zip(h.chunks_exact_mut(hidden))
            .enumerate()
        {
            cell(zb, cb, hb);
            let at = d.row(b, t) * d.stride + d.column;
            out[at..at + hidden].copy_from_slice(hb);
        }
        c_out.copy_from_slice(&c);
    }
}

/// Backward pass through time of one LSTM: adds its gradient of `x` `[batch·steps, input]`
/// into `dx` and returns that of its packed weights, given the forward pass's hidden states
/// `hs` and their gradient `dh_out` (this LSTM's columns of rows of `d.stride` values) and
/// its activations.
pub(crate) fn backward(
    x: &[f32],
    w: &[f32],
    hs: &[f32],
    dh_out: &[f32],
    d: Dims,
    acts: &Activations,
    dx: &mut [f32],
) -> Vec<f32> {
    let Dims {
        batch,
        steps,
        input,
        hidden,
        stride,
        column,
        inner,
        ..
    } = d;
    let g4 = 4 * hidden;
    let (w_ih, rest) = w.split_at(input * g4);
    let (w_hh, _) = rest.split_at(hidden * g4);
    // Gate gradients of every step, block by block (the recurrence is per sequence).
    let mut dz_all = vec![0.0f32; batch * steps * g4];
    let rows = d.block_rows();
    dz_all
        .par_chunks_mut(rows * g4)
        .zip(dh_out.par_chunks(rows * stride))
        .zip(acts.gates.par_chunks(rows * g4))
        .zip(acts.cells.par_chunks(rows * hidden))
        .for_each(|(((dz_all, dh_out), gates), cells)| {
            let d = d.block(dh_out.len() / stride);
            backward_block(w_hh, dh_out, gates, cells, d, dz_all);
        });
    let mut dw = vec![0.0f32; (input + hidden + 1) * g4];
    // dW_hhᵀ = H_prevᵀ · DZ over all steps at once, H_prev holding the hidden state of the
    // step taken before (zero for the first step taken): within each outer index, the row of
    // the neighbouring step, `inner` rows away.
    let mut h_prev = vec![0.0f32; batch * steps * hidden];
    let span = steps * inner;
    for (prev, h) in h_prev
        .chunks_exact_mut(span * hidden)
        .zip(hs.chunks_exact(span * stride))
    {
        for r in inner..span {
            let (to, from) = if d.reverse {
                (r - inner, r)
            } else {
                (r, r - inner)
            };
            prev[to * hidden..(to + 1) * hidden]
                .copy_from_slice(&h[from * stride + column..][..hidden]);
        }
    }
    matmul(
        &mut dw[input * g4..(input + hidden) * g4],
        Mat::new(&h_prev, batch * steps, hidden).t(),
        Mat::new(&dz_all, batch * steps, g4),
        false,
    );
    // dW_ihᵀ = Xᵀ · DZ ; dbias = Σ DZ ; dX += DZ · W_ih
    matmul(
        &mut dw[..input * g4],
        Mat::new(x, batch * steps, input).t(),
        Mat::new(&dz_all, batch * steps, g4),
        false,
    );
    // dbias = 1ᵀ · DZ, as a product so that it runs in parallel.
    let ones = vec![1.0f32; batch * steps];
    matmul(
        &mut dw[(input + hidden) * g4..],
        Mat::new(&ones, 1, batch * steps),
        Mat::new(&dz_all, batch * steps, g4),
        false,
    );
    matmul(
        dx,
        Mat::new(&dz_all, batch * steps, g4),
        Mat::new(w_ih, input, g4).t(),
        true,
    );
    dw
}

/// One step of backpropagation through time on `N` lanes: from the activated gates (i, f, g,
/// o), the cell state and the previous one, and the hidden state's gradient (from the output
/// and from the next step), the gate pre-activations' gradients `dz`; `dc` carries the cell
/// gradient to the previous step.
#[inline(always)]
fn bptt_lanes<const N: usize>(
    [gi, gf, gg, go]: [&[f32; N]; 4],
    [cell, c_prev]: [&[f32; N]; 2],
    [dh_o, dh_n]: [&[f32; N]; 2],
    dc: &mut [f32; N],
    [dzi, dzf, dzg, dzo]: [&mut [f32; N]; 4],
) {
    for j in 0..N {
        let (i, f, g, o) = (gi[j], gf[j], gg[j], go[j]);
        let tc = tanh(cell[j]);
        let dh = dh_o[j] + dh_n[j];
        let d_c = dh * o * (1.0 - tc * tc) + dc[j];
        dc[j] = d_c * f;
        dzi[j] = d_c * g * i * (1.0 - i);
        dzf[j] = d_c * c_prev[j] * f * (1.0 - f);
        dzg[j] = d_c * i * (1.0 - g * g);
        dzo[j] = dh * tc * o * (1.0 - o);
    }
}

/// [`bptt_lanes`] over one sequence's row, every slice `hidden` long (`dz`: `[4·hidden]`).
#[inline(always)]
pub(crate) fn bptt_row(
    gates: &[f32],
    [cell, c_prev]: [&[f32]; 2],
    [dh_o, dh_n]: [&[f32]; 2],
    dc: &mut [f32],
    dz: &mut [f32],
) {
    let n = cell.len();
    let gate = |k: usize| lanes!(gates[k * n..], n);
    let (gi, gf, gg, go) = (gate(0), gate(1), gate(2), gate(3));
    let (cell, c_prev, dh_o, dh_n) = (
        lanes!(cell, n),
        lanes!(c_prev, n),
        lanes!(dh_o, n),
        lanes!(dh_n, n),
    );
    let dc = lanes!(mut dc, n);
    let (dzi, rest) = dz.split_at_mut(n);
    let (dzf, rest) = rest.split_at_mut(n);
    let (dzg, dzo) = rest.split_at_mut(n);
    let (dzi, dzf, dzg, dzo) = (
        lanes!(mut dzi, n),
        lanes!(mut dzf, n),
        lanes!(mut dzg, n),
        lanes!(mut dzo, n),
    );
    // The full lane groups, then the single-lane tail: the same code at two widths.
    macro_rules! groups {
        ($p:tt) => {
            for k in 0..dc.$p.len() {
                bptt_lanes(
                    [&gi.$p[k], &gf.$p[k], &gg.$p[k], &go.$p[k]],
                    [&cell.$p[k], &c_prev.$p[k]],
                    [&dh_o.$p[k], &dh_n.$p[k]],
                    &mut dc.$p[k],
                    [
                        &mut dzi.$p[k],
                        &mut dzf.$p[k],
                        &mut dzg.$p[k],
                        &mut dzo.$p[k],
                    ],
                );
            }
        };
    }
    groups!(0);
    groups!(1);
}

#[inline(always)]
fn backward_block_body(
    w_hh: &[f32],
    dh_out: &[f32],
    gates: &[f32],
    cells: &[f32],
    d: Dims,
    dz_all: &mut [f32],
) {
    let Dims { batch, hidden, .. } = d;
    let g4 = 4 * hidden;
    let n = hidden;
    let mut dh_next = vec![0.0f32; batch * hidden];
    let mut dc_next = vec![0.0f32; batch * hidden];
    let mut dz = vec![0.0f32; batch * g4];
    let zeros = vec![0.0f32; batch * hidden];
    let step_gates: Vec<&[f32]> = gates.chunks_exact(batch * g4).collect();
    let step_cells: Vec<&[f32]> = cells.chunks_exact(batch * n).collect();
    for k in (0..step_gates.len()).rev() {
        let t = d.time(k);
        let c_prev = if k > 0 { step_cells[k - 1] } else { &zeros[..] };
        for b in 0..batch {
            let r = d.row(b, t);
            let dzb = &mut dz[b * g4..(b + 1) * g4];
            bptt_row(
                &step_gates[k][b * g4..(b + 1) * g4],
                [
                    &step_cells[k][b * n..(b + 1) * n],
                    &c_prev[b * n..(b + 1) * n],
                ],
                [
                    &dh_out[r * d.stride + d.column..][..n],
                    &dh_next[b * n..(b + 1) * n],
                ],
                &mut dc_next[b * n..(b + 1) * n],
                dzb,
            );
            dz_all[r * g4..(r + 1) * g4].copy_from_slice(dzb);
        }
        if k > 0 {
            // dh of the step before = dz · W_hh
            matmul(
                &mut dh_next,
                Mat::new(&dz, batch, g4),
                Mat::new(w_hh, hidden, g4).t(),
                false,
            );
        }
    }
}

/// The dimensions of LSTM `k` of `n` (of `hidden` units, side by side in the output) along
/// `direction` on `x` `[batch, rows, columns, input]`.
pub(crate) fn dims(
    x: &Shape,
    direction: Direction,
    k: usize,
    n: usize,
    hidden: usize,
) -> candle_core::Result<Dims> {
    let (batch, rows, columns, input) = x.dims4()?;
    let Direction { along, reverse } = direction;
    let (outer, steps, inner) = match along {
        Along::Rows => (batch, rows, columns),
        Along::Columns => (batch * rows, columns, 1),
    };
    Ok(Dims {
        batch: outer * inner,
        steps,
        inner,
        input,
        hidden,
        reverse,
        stride: n * hidden,
        column: k * hidden,
    })
}

impl FusedLstm {
    /// The dimensions of LSTM `k` on `x` `[batch, rows, columns, input]` with weights `w`
    /// `[n, input + hidden + 1, 4·hidden]`.
    fn dims(&self, k: usize, x: &Shape, w: &Shape) -> candle_core::Result<Dims> {
        let (n, _, g4) = w.dims3()?;
        dims(x, self.directions[k], k, n, g4 / 4)
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
        let (x, w) = (slice(s1, l1, OP)?, slice(s2, l2, OP)?);
        let (batch, rows, columns, _) = l1.shape().dims4()?;
        let (n, _, g4) = l2.shape().dims3()?;
        let stride = n * g4 / 4;
        let mut out = vec![0.0f32; batch * rows * columns * stride];
        let mut acts = Vec::with_capacity(n);
        for (k, w) in w.chunks_exact(w.len() / n.max(1)).enumerate() {
            let d = self.dims(k, l1.shape(), l2.shape())?;
            acts.push(forward(x, w, d, &mut out));
        }
        *self.saved.lock().expect("activation cache lock") = Some(acts);
        Ok((
            CpuStorage::F32(out),
            Shape::from((batch, rows, columns, stride)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        with_values([x, w, res, grad_res], OP, |[xv, wv, hs, dh]| {
            let n = self.directions.len();
            let saved = self.saved.lock().expect("activation cache lock").take();
            let mut dx = vec![0.0f32; xv.len()];
            let mut dw = Vec::with_capacity(wv.len());
            for (k, wk) in wv.chunks_exact(wv.len() / n.max(1)).enumerate() {
                let d = self.dims(k, x.shape(), w.shape())?;
                // Without the forward pass's activations (a second backward), recompute them.
                let recomputed;
                let acts = match &saved {
                    Some(a) => &a[k],
                    None => {
                        recomputed = forward(xv, wk, d, &mut vec![0.0f32; hs.len()]);
                        &recomputed
                    }
                };
                dw.extend(backward(xv, wk, hs, dh, d, acts, &mut dx));
            }
            Ok((
                Some(Tensor::from_vec(dx, x.shape(), x.device())?),
                Some(Tensor::from_vec(dw, w.shape(), w.device())?),
            ))
        })
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
