//! A linear layer `y = x·Wᵀ + b` as one candle operation with a hand-written backward pass.
//! In candle ops it is a product and a broadcast sum, and the bias's gradient a reduction
//! over every row — strided, and the largest of candle's own costs in a training step.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::gemm::{matmul, Mat};
use super::{slice, with_values};

/// The op's name in errors.
const OP: &str = "dense layer";

/// `x·Wᵀ + b` for `x` `[rows, input]`, `w` `[output, input]` (as candle's `Linear` holds it)
/// and `b` `[output]`: `[rows, output]`. Differentiable with respect to all three.
///
/// # Errors
/// When the shapes do not fit or the tensors are not f32 on the CPU.
pub fn dense(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (_, input) = x.dims2()?;
    let (output, w_input) = w.dims2()?;
    if w_input != input || b.dims() != [output] {
        candle_core::bail!(
            "{OP}: input {:?}, weight {:?} and bias {:?} do not fit",
            x.dims(),
            w.dims(),
            b.dims()
        );
    }
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, Dense)
}

/// The op (it keeps nothing: the backward pass needs only the inputs).
struct Dense;

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "dense"
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
        let (x, w, b) = (slice(s1, l1, OP)?, slice(s2, l2, OP)?, slice(s3, l3, OP)?);
        let (rows, input) = l1.shape().dims2()?;
        let output = b.len();
        let mut y = Vec::with_capacity(rows * output);
        for _ in 0..rows {
            y.extend_from_slice(b);
        }
        matmul(
            &mut y,
            Mat::new(x, rows, input),
            Mat::new(w, output, input).t(),
            true,
        );
        Ok((CpuStorage::F32(y), Shape::from((rows, output))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        with_values([x, w, grad], OP, |[xv, wv, dy]| {
            let (rows, input) = x.dims2()?;
            let (dx, mut dw) = gradients(xv, wv, dy, rows, input, b.elem_count());
            let db = dw.split_off(w.elem_count());
            Ok((
                Some(Tensor::from_vec(dx, x.shape(), x.device())?),
                Some(Tensor::from_vec(dw, w.shape(), w.device())?),
                Some(Tensor::from_vec(db, b.shape(), b.device())?),
            ))
        })
    }
}

/// The gradients of `y = x·Wᵀ + b` (`x` `[rows, input]`, `w` `[output, input]`) from that of
/// `y`, `dy` `[rows, output]`: `dx` `[rows, input]`, and `dW` `[output, input]` followed by
/// `db` `[output]` in one buffer.
pub(crate) fn gradients(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    rows: usize,
    input: usize,
    output: usize,
) -> (Vec<f32>, Vec<f32>) {
    let dy = Mat::new(dy, rows, output);
    // dx = dY·W, dW = dYᵀ·x, db = 1ᵀ·dY (a product, so that it runs in parallel).
    let mut dx = vec![0.0f32; rows * input];
    matmul(&mut dx, dy, Mat::new(w, output, input), false);
    let mut dwb = vec![0.0f32; output * (input + 1)];
    let (dw, db) = dwb.split_at_mut(output * input);
    matmul(dw, dy.t(), Mat::new(x, rows, input), false);
    let ones = vec![1.0f32; rows];
    matmul(db, Mat::new(&ones, 1, rows), dy, false);
    (dx, dwb)
}
