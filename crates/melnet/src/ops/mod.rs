//! Hand-written operations: the only place in the crate with `unsafe` (the GEMM call and the
//! calls into functions compiled for AVX-512/AVX2 after checking the CPU has them).

pub mod dense;
pub mod frame_sum;
pub mod fused_lstm;
pub(crate) mod gemm;
pub mod gmm_nll;
pub mod lstm_cell;
pub mod lstm_layer;

use candle_core::{CpuStorage, Layout, Tensor};

/// The f32 values of the contiguous CPU storage `s` laid out by `l` (errors name `op`).
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: non-contiguous input"),
    }
}

/// `f` on the values of `tensors` (made contiguous where needed, CPU f32), read in place from
/// their storage (for a custom op's backward pass; errors name `op`).
pub(crate) fn with_values<R, const N: usize>(
    tensors: [&Tensor; N],
    op: &str,
    f: impl FnOnce([&[f32]; N]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let contiguous = tensors
        .iter()
        .map(|t| t.contiguous())
        .collect::<candle_core::Result<Vec<_>>>()?;
    let guards: Vec<_> = contiguous.iter().map(|t| t.storage_and_layout()).collect();
    let mut views = Vec::with_capacity(N);
    for (storage, layout) in &guards {
        match &**storage {
            candle_core::Storage::Cpu(cpu) => views.push(slice(cpu, layout, op)?),
            _ => candle_core::bail!("{op}: CPU tensors only"),
        }
    }
    f(views.try_into().expect("one view per tensor"))
}
