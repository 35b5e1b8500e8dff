//! `a + b + c` with `c` one vector per frame added at every bin: the input of a
//! frequency-delayed layer (`h^f + h^t + h^c`). In candle ops the per-frame term is a broadcast
//! sum whose gradient is a strided reduction over the bins; here it is a run of contiguous
//! row sums.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::{slice, with_values};

/// The op's name in errors.
const OP: &str = "frame sum";

/// `a + b + c` for `a`, `b` `[batch, frames, bins, width]` and `c` `[batch, frames, width]`
/// (added to every bin of its frame): `[batch, frames, bins, width]`. Differentiable with
/// respect to all three.
///
/// # Errors
/// When the shapes do not fit or the tensors are not f32 on the CPU.
pub fn frame_sum(a: &Tensor, b: &Tensor, c: &Tensor) -> candle_core::Result<Tensor> {
    let (batch, frames, _, width) = a.dims4()?;
    if b.dims() != a.dims() || c.dims() != [batch, frames, width] {
        candle_core::bail!(
            "{OP}: {:?}, {:?} and {:?} do not fit",
            a.dims(),
            b.dims(),
            c.dims()
        );
    }
    a.contiguous()?
        .apply_op3(&b.contiguous()?, &c.contiguous()?, FrameSum)
}

/// The op (the backward pass needs no values, only shapes).
struct FrameSum;

impl CustomOp3 for FrameSum {
    fn name(&self) -> &'static str {
        "frame-sum"
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
        let (a, b, c) = (slice(s1, l1, OP)?, slice(s2, l2, OP)?, slice(s3, l3, OP)?);
        let (_, _, bins, width) = l1.shape().dims4()?;
        let mut y = Vec::with_capacity(a.len());
        for ((a, b), c) in a
            .chunks_exact(bins * width)
            .zip(b.chunks_exact(bins * width))
            .zip(c.chunks_exact(width))
        {
            for (a, b) in a.chunks_exact(width).zip(b.chunks_exact(width)) {
                y.extend(a.iter().zip(b).zip(c).map(|((a, b), c)| a + b + c));
            }
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        a: &Tensor,
        _b: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        with_values([grad], OP, |[dy]| {
            let (_, _, bins, width) = a.dims4()?;
            let mut dc = vec![0.0f32; c.elem_count()];
            for (dc, dy) in dc
                .chunks_exact_mut(width)
                .zip(dy.chunks_exact(bins * width))
            {
                for row in dy.chunks_exact(width) {
                    dc.iter_mut().zip(row).for_each(|(d, g)| *d += g);
                }
            }
            let dy = grad.contiguous()?;
            Ok((
                Some(dy.clone()),
                Some(dy),
                Some(Tensor::from_vec(dc, c.shape(), c.device())?),
            ))
        })
    }
}
