//! Hand-written operations: the only place in the crate with `unsafe` (the GEMM call and the
//! calls into functions compiled for AVX-512/AVX2 after checking the CPU has them).

pub mod fused_lstm;
pub(crate) mod gemm;
pub mod gmm_nll;
