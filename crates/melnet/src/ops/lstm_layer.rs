//! A residual LSTM layer as one candle operation: several LSTMs over a `[batch, rows, columns,
//! input]` grid (the fused LSTM's [`Direction`]s), their outputs side by side, projected by a
//! linear layer and added to a residual — `y = W·[h_1 … h_n] + b + r` — with one hand-written
//! backward pass. It is the whole of a time-delayed, centralized or frequency-delayed layer
//! and of a feature-network layer: in the op-by-op form each of these cost a weight stack, a
//! product, a broadcast bias, a residual sum and their gradient buffers, around the LSTMs.
//!
//! Weights come as one flat tensor, in this order: the LSTMs' packed weights (each
//! `[input + hidden + 1, 4·hidden]`, see [`super::fused_lstm`]), the projection's weight
//! `[output, n·hidden]` (as candle's `Linear` holds it) and its bias `[output]`.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::fused_lstm::{self, Direction};
use super::gemm::{matmul, Mat};
use super::{slice, with_values};

/// The op's name in errors.
const OP: &str = "LSTM layer";

/// The sizes of a layer: `n` LSTMs of `hidden` units over inputs of `input` values, projected
/// to `output` values per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerDims {
    /// Values per element of the LSTMs' input.
    pub input: usize,
    /// Hidden units of each LSTM.
    pub hidden: usize,
    /// LSTMs side by side.
    pub n: usize,
    /// Values per element of the output (and of the residual).
    pub output: usize,
}

impl LayerDims {
    /// Values of one LSTM's packed weights.
    fn lstm_len(&self) -> usize {
        (self.input + self.hidden + 1) * 4 * self.hidden
    }

    /// Values of the flat weight tensor.
    pub fn weights_len(&self) -> usize {
        self.n * self.lstm_len() + self.output * self.n * self.hidden + self.output
    }

    /// `w` split into the LSTMs' packed weights, the projection's weight and its bias.
    fn split<'a>(&self, w: &'a [f32]) -> (&'a [f32], &'a [f32], &'a [f32]) {
        let (lstms, rest) = w.split_at(self.n * self.lstm_len());
        let (proj, bias) = rest.split_at(self.output * self.n * self.hidden);
        (lstms, proj, bias)
    }
}

/// `y = W·[LSTM_1(x) … LSTM_n(x)] + b + r` over `x` `[batch, rows, columns, input]`, LSTM k
/// along `directions[k]`, with flat weights `w` (module docs) of the sizes `dims`, and the
/// residual `r` `[batch, rows, columns, output]` — `x` itself when `None` (then `output` must
/// equal `input`). Returns `y` `[batch, rows, columns, output]`; differentiable with respect to
/// `x`, `w` and `r`.
///
/// # Errors
/// When the shapes do not fit `dims`, or the tensors are not f32 on the CPU.
pub fn lstm_layer(
    x: &Tensor,
    w: &Tensor,
    directions: &[Direction],
    dims: LayerDims,
    residual: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let (b, rows, columns, input) = x.dims4()?;
    let expect_r = [b, rows, columns, dims.output];
    let residual_fits = match residual {
        Some(r) => r.dims() == expect_r,
        None => dims.output == input,
    };
    if input != dims.input
        || directions.len() != dims.n
        || w.elem_count() != dims.weights_len()
        || !residual_fits
    {
        candle_core::bail!(
            "{OP}: input {:?}, weights of {} values and residual {:?} do not fit {dims:?} with {} directions",
            x.dims(),
            w.elem_count(),
            residual.map(|r| r.dims().to_vec()),
            directions.len()
        );
    }
    let op = LstmLayer {
        directions: directions.to_vec(),
        dims,
        saved: Default::default(),
    };
    let (x, w) = (x.contiguous()?, w.flatten_all()?.contiguous()?);
    match residual {
        None => x.apply_op2(&w, op),
        Some(r) => x.apply_op3(&w, &r.contiguous()?, op),
    }
}

/// The op; one instance per call, keeping its forward activations for the backward pass.
struct LstmLayer {
    directions: Vec<Direction>,
    dims: LayerDims,
    saved: std::sync::Mutex<Option<Saved>>,
}

/// What the forward pass keeps: the LSTMs' outputs side by side `[elements, n·hidden]` and
/// each LSTM's activations.
struct Saved {
    hs: Vec<f32>,
    acts: Vec<fused_lstm::Activations>,
}

impl LstmLayer {
    /// The LSTMs' outputs and activations for `x` of shape `shape` with flat weights `w`.
    fn lstms(&self, x: &[f32], shape: &Shape, w: &[f32]) -> candle_core::Result<Saved> {
        let LayerDims { hidden, n, .. } = self.dims;
        let (lstm_w, _, _) = self.dims.split(w);
        let mut hs = vec![0.0f32; x.len() / self.dims.input * n * hidden];
        let mut acts = Vec::with_capacity(n);
        for (k, wk) in lstm_w.chunks_exact(self.dims.lstm_len()).enumerate() {
            let d = fused_lstm::dims(shape, self.directions[k], k, n, hidden)?;
            acts.push(fused_lstm::forward(x, wk, d, &mut hs));
        }
        Ok(Saved { hs, acts })
    }

    /// Forward pass: `y` and its shape; keeps the activations.
    fn forward(
        &self,
        x: &[f32],
        shape: &Shape,
        w: &[f32],
        residual: Option<&[f32]>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let LayerDims {
            input,
            hidden,
            n,
            output,
        } = self.dims;
        let saved = self.lstms(x, shape, w)?;
        let (_, proj, bias) = self.dims.split(w);
        let elements = x.len() / input;
        let mut y = Vec::with_capacity(elements * output);
        for row in residual.unwrap_or(x).chunks_exact(output) {
            y.extend(row.iter().zip(bias).map(|(r, b)| r + b));
        }
        matmul(
            &mut y,
            Mat::new(&saved.hs, elements, n * hidden),
            Mat::new(proj, output, n * hidden).t(),
            true,
        );
        *self.saved.lock().expect("activation cache lock") = Some(saved);
        let mut dims = shape.dims().to_vec();
        *dims.last_mut().expect("four axes") = output;
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }

    /// Backward pass: the gradients of `x`, `w` and (`with_residual`) the residual, from that of
    /// `y`.
    fn backward(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
        with_residual: bool,
    ) -> candle_core::Result<(Tensor, Tensor, Option<Tensor>)> {
        let LayerDims {
            input,
            hidden,
            n,
            output,
        } = self.dims;
        with_values([x, w, grad], OP, |[xv, wv, dy]| {
            let saved = self.saved.lock().expect("activation cache lock").take();
            // Without the forward pass's activations (a second backward), recompute them.
            let saved = match saved {
                Some(s) => s,
                None => self.lstms(xv, x.shape(), wv)?,
            };
            let (lstm_w, proj, _) = self.dims.split(wv);
            let (elements, nh) = (xv.len() / input, n * hidden);
            // The projection's gradients: d[h_1 … h_n], then dW and db.
            let (dhs, dproj) = super::dense::gradients(&saved.hs, proj, dy, elements, nh, output);
            // The residual's gradient is dY: into dx when the residual is x.
            let mut dx = if with_residual {
                vec![0.0f32; xv.len()]
            } else {
                dy.to_vec()
            };
            let mut dw = Vec::with_capacity(wv.len());
            for (k, wk) in lstm_w.chunks_exact(self.dims.lstm_len()).enumerate() {
                let d = fused_lstm::dims(x.shape(), self.directions[k], k, n, hidden)?;
                dw.extend(fused_lstm::backward(
                    xv,
                    wk,
                    &saved.hs,
                    &dhs,
                    d,
                    &saved.acts[k],
                    &mut dx,
                ));
            }
            dw.extend(dproj);
            let dx = Tensor::from_vec(dx, x.shape(), x.device())?;
            let dw = Tensor::from_vec(dw, w.shape(), w.device())?;
            let dr = if with_residual {
                Some(Tensor::from_vec(dy.to_vec(), grad.shape(), grad.device())?)
            } else {
                None
            };
            Ok((dx, dw, dr))
        })
    }
}

impl CustomOp2 for LstmLayer {
    fn name(&self) -> &'static str {
        "lstm-layer"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.forward(slice(s1, l1, OP)?, l1.shape(), slice(s2, l2, OP)?, None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.backward(x, w, grad, false)?;
        Ok((Some(dx), Some(dw)))
    }
}

impl CustomOp3 for LstmLayer {
    fn name(&self) -> &'static str {
        "lstm-layer"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.forward(
            slice(s1, l1, OP)?,
            l1.shape(),
            slice(s2, l2, OP)?,
            Some(slice(s3, l3, OP)?),
        )
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _r: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, dr) = self.backward(x, w, grad, true)?;
        Ok((Some(dx), Some(dw), dr))
    }
}
