//! Hand-written operations: the only place in the crate with `unsafe` (the GEMM call).

pub mod fused_lstm;
pub(crate) mod gemm;
