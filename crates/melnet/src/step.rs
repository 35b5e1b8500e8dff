//! Stepping weights (DESIGN.md §5, incremental sampling): a linear layer's and an LSTM's
//! weights as plain values stored for the products of one step ([`Weights`]), and an LSTM's
//! state. Each layer builds its stepping form from its training weights ([`crate::stack`],
//! [`crate::text`]) and advances it there; the cell update is the fused training op's
//! ([`crate::ops::fused_lstm`]).

use std::ops::Range;

use candle_core::Tensor;
use candle_nn::Linear;

use crate::error::Result;
use crate::ops::fused_lstm::cell;
use crate::ops::gemm::Weights;
use crate::rnn::Rnn;

/// The values of `t`, flattened.
pub(crate) fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

/// A linear layer: weights transposed to `[input, output]`, bias `[output]`.
pub(crate) struct Dense {
    w: Weights,
    b: Vec<f32>,
    input: usize,
}

impl Dense {
    /// `lin` for products of `rows` rows.
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub fn new(lin: &Linear, rows: usize) -> Result<Self> {
        let (output, input) = lin.weight().dims2()?;
        let w = values(&lin.weight().t()?.contiguous()?)?;
        let w = Weights::new(&w, input, output, rows);
        let b = match lin.bias() {
            Some(b) => values(b)?,
            None => vec![0.0; output],
        };
        Ok(Dense { w, b, input })
    }

    /// Output width.
    pub fn output(&self) -> usize {
        self.b.len()
    }

    /// The bias `[output]`.
    pub fn bias(&self) -> &[f32] {
        &self.b
    }

    /// `out = x·W + b` for `rows` rows of `x` `[rows, input]`; `out` `[rows, output]`.
    pub fn apply(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        self.apply_part(x, rows, out, 0..self.input);
        let n = self.output();
        for row in out[..rows * n].chunks_exact_mut(n) {
            row.iter_mut().zip(&self.b).for_each(|(v, b)| *v += b);
        }
    }

    /// `out = x·W[inputs]` when `inputs` starts at 0, else `out += x·W[inputs]`: the part of
    /// the product from the input columns `inputs` (`x` `[rows, inputs.len()]` holds only
    /// those), without the bias.
    pub fn apply_part(&self, x: &[f32], rows: usize, out: &mut [f32], inputs: Range<usize>) {
        let first = inputs.start == 0;
        self.w.product(out, x, rows, inputs, !first);
    }
}

/// The state of `rows` LSTM sequences: hidden and cell states `[rows, hidden]`, and the
/// gates' scratch `[rows, 4·hidden]`.
pub(crate) struct LstmState {
    pub h: Vec<f32>,
    pub c: Vec<f32>,
    z: Vec<f32>,
}

impl LstmState {
    /// Zero states of `rows` sequences of width `hidden`.
    pub fn new(rows: usize, hidden: usize) -> Self {
        LstmState {
            h: vec![0.0; rows * hidden],
            c: vec![0.0; rows * hidden],
            z: vec![0.0; rows * 4 * hidden],
        }
    }

    /// Back to zero states.
    pub fn reset(&mut self) {
        self.h.fill(0.0);
        self.c.fill(0.0);
    }
}

/// An LSTM's weights (see [`crate::ops::fused_lstm`]): input `[input, 4·hidden]`, recurrent
/// `[hidden, 4·hidden]`, bias `[4·hidden]`.
pub(crate) struct Lstm {
    w_ih: Weights,
    w_hh: Weights,
    bias: Vec<f32>,
    input: usize,
    hidden: usize,
}

impl Lstm {
    /// `rnn` for steps of `inputs` input rows and `states` state rows (they differ when a
    /// whole frame's inputs are projected at once, [`Lstm::project`]).
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub fn new(rnn: &Rnn, inputs: usize, states: usize) -> Result<Self> {
        let (rows, gates) = rnn.w.dims2()?;
        let hidden = gates / 4;
        let input = rows - hidden - 1;
        let w = values(&rnn.w)?;
        let (w_ih, rest) = w.split_at(input * gates);
        let (w_hh, bias) = rest.split_at(hidden * gates);
        Ok(Lstm {
            w_ih: Weights::new(w_ih, input, gates, inputs),
            w_hh: Weights::new(w_hh, hidden, gates, states),
            bias: bias.to_vec(),
            input,
            hidden,
        })
    }

    /// Hidden width.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The input part of the gates of `rows` rows of inputs `x` `[rows, input]`:
    /// `z = x·W_ih + b` `[rows, 4·hidden]`.
    pub fn project(&self, x: &[f32], rows: usize, z: &mut [f32]) {
        let g4 = 4 * self.hidden;
        let z = &mut z[..rows * g4];
        self.w_ih.product(z, x, rows, 0..self.input, false);
        for row in z.chunks_exact_mut(g4) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
    }

    /// One step of the sequences of `state` from their projected inputs `z`
    /// `[rows, 4·hidden]` ([`Lstm::project`], overwritten).
    pub fn recur(&self, z: &mut [f32], state: &mut LstmState) {
        let hd = self.hidden;
        let rows = state.h.len() / hd.max(1);
        let z = &mut z[..rows * 4 * hd];
        self.w_hh.product(z, &state.h, rows, 0..hd, true);
        for ((zr, cr), hr) in z
            .chunks_exact_mut(4 * hd)
            .zip(state.c.chunks_exact_mut(hd))
            .zip(state.h.chunks_exact_mut(hd))
        {
            cell(zr, cr, hr);
        }
    }

    /// One step of the sequences of `state` on inputs `x` `[rows, input]`. One wide sequence
    /// computes its gates in two halves side by side.
    pub fn step(&self, x: &[f32], state: &mut LstmState) {
        let mut z = std::mem::take(&mut state.z);
        match self.w_ih.halves().filter(|_| state.h.len() == self.hidden) {
            None => {
                self.project(x, state.h.len() / self.hidden.max(1), &mut z);
                self.recur(&mut z, state);
            }
            Some((left, right)) => {
                let (input, hidden, h) = (self.input, self.hidden, &state.h);
                let gates = |dst: &mut [f32], cols: Range<usize>| {
                    self.w_ih
                        .columns(dst, x, 1, (0..input, cols.clone()), false);
                    self.w_hh.columns(dst, h, 1, (0..hidden, cols), true);
                };
                let (z_left, z_right) = z.split_at_mut(left.end);
                rayon::join(|| gates(z_left, left), || gates(z_right, right));
                z.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
                cell(&mut z, &mut state.c, &mut state.h);
            }
        }
        state.z = z;
    }
}
