//! Mel → linear spectrogram: estimating `P ≥ 0` with `W·P ≈ M` for a mel filterbank `W`.
//!
//! The system is under-determined (`n_mels < n_fft/2 + 1`); how `P` is chosen dominates the
//! quality of a mel inversion. [`MelInverse::Nnls`] solves the non-negative least-squares
//! problem to convergence; the transpose and clipped pseudo-inverse are kept for comparison.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::mel::MelBasis;

/// How to estimate the linear power spectrogram from a mel power spectrogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MelInverse {
    /// `Wᵀ·M` (cheap, smeared).
    Transpose,
    /// `max(0, pinv(W)·M)`, where librosa's `mel_to_stft` usually stops.
    Pinv,
    /// Non-negative least squares `min ‖W·P − M‖²` s.t. `P ≥ 0`, solved by FISTA.
    #[default]
    Nnls,
}

impl MelInverse {
    /// Name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            MelInverse::Transpose => "transpose",
            MelInverse::Pinv => "pinv",
            MelInverse::Nnls => "nnls",
        }
    }
}

impl std::str::FromStr for MelInverse {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "transpose" => Ok(MelInverse::Transpose),
            "pinv" => Ok(MelInverse::Pinv),
            "nnls" => Ok(MelInverse::Nnls),
            _ => Err(Error::param(
                "mel_inverse",
                s,
                "expected nnls, pinv or transpose",
            )),
        }
    }
}

/// Stopping rule of the NNLS solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NnlsOptions {
    /// Iteration limit per frame.
    pub max_iter: usize,
    /// Stop a frame when the norm of the gradient mapping `L·(y − x)` (zero exactly at the
    /// solution) falls below `tol · ‖Wᵀm‖`. Both sides scale linearly with the input, so a
    /// spectrogram and the same spectrogram times 1000 stop at the same iterate.
    pub tol: f32,
}

impl Default for NnlsOptions {
    fn default() -> Self {
        // Measured on speech (16 kHz, 1024/256, 80 mels): tightening from 1e-3 to 1e-5 gains
        // 0.4 dB of spectral convergence after phase retrieval; tighter gains nothing.
        NnlsOptions {
            max_iter: 1000,
            tol: 1e-5,
        }
    }
}

/// Linear power spectrogram `(n_fft/2 + 1, frames)` from a mel power spectrogram
/// `(n_mels, frames)` by `method`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `mel` does not have `n_mels` rows; [`Error::InvalidInput`] when
/// it holds negative or non-finite values.
pub fn mel_to_power(
    basis: &MelBasis,
    mel: ArrayView2<f32>,
    method: MelInverse,
    nnls: NnlsOptions,
) -> Result<Array2<f32>> {
    check_mel(basis, mel)?;
    if let Some(v) = mel.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "mel spectrogram holds a non-finite value ({v})"
        )));
    }
    if let Some(v) = mel.iter().find(|v| **v < 0.0) {
        return Err(Error::InvalidInput(format!(
            "mel power spectrogram holds a negative value ({v}); is it in dB?"
        )));
    }
    match method {
        MelInverse::Transpose => {
            let mut out = Array2::zeros((basis.n_bins(), mel.ncols()));
            let mut m = vec![0.0; basis.n_mels()];
            let mut column = vec![0.0; basis.n_bins()];
            for t in 0..mel.ncols() {
                m.iter_mut().zip(mel.column(t)).for_each(|(a, b)| *a = *b);
                basis.transpose_apply_frame(&m, &mut column);
                out.column_mut(t)
                    .iter_mut()
                    .zip(&column)
                    .for_each(|(o, c)| *o = *c);
            }
            Ok(out)
        }
        MelInverse::Pinv => pinv_clipped(basis, mel),
        MelInverse::Nnls => {
            let mut p = pinv_clipped(basis, mel)?;
            nnls_refine(basis, mel, &mut p, nnls);
            Ok(p)
        }
    }
}

/// Options of [`mel_to_audio`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InversionOptions {
    /// How to estimate the linear spectrogram.
    pub mel_inverse: MelInverse,
    /// Stopping rule of the NNLS solver.
    pub nnls: NnlsOptions,
    /// Phase retrieval.
    pub phase: crate::phase::PhaseOptions,
    /// Signal-domain refinement after phase retrieval (off when its iteration count is 0).
    pub refine: crate::refine::RefineOptions,
}

impl InversionOptions {
    /// The default chain with the random initial phase drawn from `seed`.
    pub fn seeded(seed: u64) -> Self {
        InversionOptions {
            phase: crate::phase::PhaseOptions {
                seed,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// Audio from a mel spectrogram `(n_mels, frames)` in linear units (`|X|^power` summed by the
/// filterbank, as [`crate::MelSpectrogram`] computes it): solve `W·S ≈ M` for
/// `S = |X|^power ≥ 0`, take `|X| = S^(1/power)`, retrieve the phase, then (with
/// `opts.refine.n_iter > 0`) refine the signal so that its mel spectrogram approaches `mel`
/// ([`crate::refine`]). Returns `length` samples at `params.sr` (default: the iSTFT's natural
/// length). `progress(done, total)` counts phase-retrieval and refinement iterations together.
///
/// # Errors
/// Invalid parameters, a band count other than `n_mels`, an empty array, negative or
/// non-finite values.
pub fn mel_to_audio(
    mel: ArrayView2<f32>,
    params: &crate::AnalysisParams,
    opts: &InversionOptions,
    length: Option<usize>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f32>> {
    params.validate()?;
    let plan = crate::MelSpectrogram::new(params.stft, params.mel(), params.power)?;
    let magnitude = mel_to_magnitude(plan.basis(), mel, params.power, opts)?;
    let n_refine = opts.refine.n_iter;
    let mut phase_total = 0;
    let signal = crate::phase::reconstruct(
        magnitude.view(),
        &params.stft,
        &opts.phase,
        None,
        length,
        &mut |done, total| {
            phase_total = total;
            progress(done, total + n_refine)
        },
    )?;
    if n_refine == 0 {
        return Ok(signal);
    }
    refine_signal(&plan, mel, signal, &opts.refine, &mut |done, _| {
        progress(phase_total + done, phase_total + n_refine)
    })
}

/// [`crate::refine::refine`] of `signal` towards `mel` `(n_mels, frames)`, at a length whose
/// STFT has `frames` frames: the signal's own when it has, else the iSTFT's natural length,
/// trimmed or zero-padded back afterwards.
///
/// # Errors
/// As [`crate::refine::refine`].
pub fn refine_signal(
    plan: &crate::MelSpectrogram,
    mel: ArrayView2<f32>,
    mut signal: Vec<f32>,
    opts: &crate::refine::RefineOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f32>> {
    let params = *plan.stft().params();
    let length = signal.len();
    let fits = params.n_frames(length).ok() == Some(mel.ncols());
    if !fits {
        signal.resize(crate::Istft::new(params)?.default_len(mel.ncols()), 0.0);
    }
    crate::refine::refine(plan, mel, &mut signal, opts, progress)?;
    signal.resize(length, 0.0);
    Ok(signal)
}

/// STFT magnitude `(n_fft/2 + 1, frames)` from a mel spectrogram of `|X|^power`.
///
/// # Errors
/// As [`mel_to_power`].
pub fn mel_to_magnitude(
    basis: &MelBasis,
    mel: ArrayView2<f32>,
    power: f32,
    opts: &InversionOptions,
) -> Result<Array2<f32>> {
    let mut s = mel_to_power(basis, mel, opts.mel_inverse, opts.nnls)?;
    if power == 2.0 {
        s.mapv_inplace(f32::sqrt);
    } else if power != 1.0 {
        s.mapv_inplace(|v| v.powf(1.0 / power));
    }
    Ok(s)
}

fn check_mel(basis: &MelBasis, mel: ArrayView2<f32>) -> Result<()> {
    if mel.nrows() != basis.n_mels() {
        return Err(Error::ShapeMismatch {
            what: "mel bands".into(),
            expected: basis.n_mels().to_string(),
            got: mel.nrows().to_string(),
        });
    }
    if mel.ncols() == 0 {
        return Err(Error::InvalidInput("mel spectrogram has no frames".into()));
    }
    Ok(())
}

/// Largest eigenvalue of `W·Wᵀ` (= `‖W‖₂²`, the Lipschitz constant of the NNLS gradient), by
/// power iteration in f64.
fn lipschitz(basis: &MelBasis) -> f64 {
    let n = basis.n_mels();
    let g = basis.gram();
    let mut v = vec![1.0f64; n];
    let mut lambda = 0.0;
    for _ in 0..200 {
        let w: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| g[i * n + j] * v[j]).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 1.0;
        }
        let next: f64 = w.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>()
            / v.iter().map(|x| x * x).sum::<f64>();
        v = w.into_iter().map(|x| x / norm).collect();
        if (next - lambda).abs() <= 1e-12 * next {
            lambda = next;
            break;
        }
        lambda = next;
    }
    lambda
}

/// Refine `p` (the clipped pseudo-inverse) to the NNLS solution, frame by frame, by FISTA with
/// adaptive restart: `x ← max(0, y − (WᵀW·y − Wᵀm)/L)`, Nesterov momentum on `y`. Each
/// iteration applies `W` and `Wᵀ` sparsely: O(bins) per frame. Frames are independent and are
/// solved in parallel.
fn nnls_refine(basis: &MelBasis, mel: ArrayView2<f32>, p: &mut Array2<f32>, opts: NnlsOptions) {
    // A margin over the exact constant keeps the step safe against f32 rounding.
    let inv_l = (1.0 / (lipschitz(basis) * 1.0001)) as f32;
    let (n_bins, n_mels) = (basis.n_bins(), basis.n_mels());
    // Frames-major copies so that each frame is a contiguous slice.
    let mel_fm = mel.t().as_standard_layout().into_owned();
    let mut x_fm = p.t().as_standard_layout().into_owned();
    const FRAMES_PER_TASK: usize = 32;
    x_fm.as_slice_mut()
        .expect("standard layout")
        .par_chunks_mut(FRAMES_PER_TASK * n_bins)
        .zip(
            mel_fm
                .as_slice()
                .expect("standard layout")
                .par_chunks(FRAMES_PER_TASK * n_mels),
        )
        .for_each(|(xs, ms)| {
            let mut solver = FrameNnls::new(basis, inv_l, opts);
            for (x, m) in xs.chunks_exact_mut(n_bins).zip(ms.chunks_exact(n_mels)) {
                solver.solve(m, x);
            }
        });
    p.assign(&x_fm.t());
}

/// Buffers and constants of the per-frame FISTA solver.
struct FrameNnls<'a> {
    basis: &'a MelBasis,
    inv_l: f32,
    opts: NnlsOptions,
    wtm: Vec<f32>,
    x_prev: Vec<f32>,
    y: Vec<f32>,
    grad: Vec<f32>,
    wy: Vec<f32>,
}

impl<'a> FrameNnls<'a> {
    fn new(basis: &'a MelBasis, inv_l: f32, opts: NnlsOptions) -> Self {
        let (n_bins, n_mels) = (basis.n_bins(), basis.n_mels());
        FrameNnls {
            basis,
            inv_l,
            opts,
            wtm: vec![0.0; n_bins],
            x_prev: vec![0.0; n_bins],
            y: vec![0.0; n_bins],
            grad: vec![0.0; n_bins],
            wy: vec![0.0; n_mels],
        }
    }

    /// Solve for one frame: `m` is the mel frame, `x` the starting point and the result.
    fn solve(&mut self, m: &[f32], x: &mut [f32]) {
        let inv_l = self.inv_l;
        self.basis.transpose_apply_frame(m, &mut self.wtm);
        let scale = norm(&self.wtm);
        if scale == 0.0 {
            x.fill(0.0);
            return;
        }
        self.y.copy_from_slice(x);
        let mut momentum = 1.0f32;
        for _ in 0..self.opts.max_iter {
            // grad = Wᵀ(W·y) − Wᵀm
            self.basis.apply_frame(&self.y, &mut self.wy);
            self.basis.transpose_apply_frame(&self.wy, &mut self.grad);
            self.grad
                .iter_mut()
                .zip(&self.wtm)
                .for_each(|(g, b)| *g -= b);
            self.x_prev.copy_from_slice(x);
            for ((xi, yi), gi) in x.iter_mut().zip(&self.y).zip(&self.grad) {
                *xi = (yi - gi * inv_l).max(0.0);
            }
            // Gradient mapping L·(y − x): zero exactly when y solves the problem.
            let step: f32 = x.iter().zip(&self.y).map(|(a, b)| (a - b) * (a - b)).sum();
            if step.sqrt() <= self.opts.tol * scale * inv_l {
                break;
            }
            let next = 0.5 * (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt());
            let beta = (momentum - 1.0) / next;
            // Restart (O'Donoghue & Candès) when momentum points uphill.
            let uphill: f32 = self
                .y
                .iter()
                .zip(x.iter())
                .zip(&self.x_prev)
                .map(|((yi, xi), pi)| (yi - xi) * (xi - pi))
                .sum();
            if uphill > 0.0 {
                momentum = 1.0;
                self.y.copy_from_slice(x);
            } else {
                momentum = next;
                for ((yi, xi), pi) in self.y.iter_mut().zip(x.iter()).zip(&self.x_prev) {
                    *yi = xi + beta * (xi - pi);
                }
            }
        }
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

impl MelBasis {
    /// `Wᵀ · m` for one frame: `mel` has `n_mels` values, `out` `n_fft/2 + 1` bins.
    pub fn transpose_apply_frame(&self, mel: &[f32], out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (m, (start, weights)) in mel.iter().zip(self.supports()) {
            for (o, w) in out[start..start + weights.len()].iter_mut().zip(weights) {
                *o += m * w;
            }
        }
    }

    /// The Gram matrix `W·Wᵀ`, `(n_mels, n_mels)`, in f64. Rows of empty filters get a unit
    /// diagonal so that the matrix stays invertible (they contribute nothing to `Wᵀ`).
    fn gram(&self) -> Vec<f64> {
        let n = self.n_mels();
        let supports: Vec<_> = self.supports().collect();
        let mut g = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                let (si, wi) = supports[i];
                let (sj, wj) = supports[j];
                let lo = si.max(sj);
                let hi = (si + wi.len()).min(sj + wj.len());
                g[i * n + j] = (lo..hi)
                    .map(|k| f64::from(wi[k - si]) * f64::from(wj[k - sj]))
                    .sum();
            }
            if g[i * n + i] == 0.0 {
                g[i * n + i] = 1.0;
            }
        }
        g
    }
}

/// Clipped pseudo-inverse `max(0, pinv(W)·M)`: the minimum-norm least-squares solution
/// (what `numpy.linalg.lstsq` returns and librosa's `nnls` starts from), negative values set to
/// zero. `mel` is `(n_mels, frames)` in power units; the result is `(n_fft/2 + 1, frames)`.
///
/// `pinv(W) = Wᵀ(W·Wᵀ)⁻¹` because `W` has full row rank; `W·Wᵀ` is solved by Cholesky in f64.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `mel` does not have `n_mels` rows.
pub fn pinv_clipped(basis: &MelBasis, mel: ArrayView2<f32>) -> Result<Array2<f32>> {
    let n = basis.n_mels();
    check_mel(basis, mel)?;
    let chol = cholesky(basis.gram(), n);
    let mut out = Array2::zeros((basis.n_bins(), mel.ncols()));
    let mut y = vec![0.0f64; n];
    let mut y32 = vec![0.0f32; n];
    let mut column = vec![0.0f32; basis.n_bins()];
    for t in 0..mel.ncols() {
        y.iter_mut()
            .zip(mel.column(t))
            .for_each(|(y, m)| *y = f64::from(*m));
        cholesky_solve(&chol, n, &mut y);
        y32.iter_mut().zip(&y).for_each(|(a, b)| *a = *b as f32);
        basis.transpose_apply_frame(&y32, &mut column);
        out.column_mut(t)
            .iter_mut()
            .zip(&column)
            .for_each(|(o, c)| *o = c.max(0.0));
    }
    Ok(out)
}

/// Lower Cholesky factor of the symmetric positive-definite `n × n` matrix `a` (row-major).
fn cholesky(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| a[j * n + k] * a[j * n + k]).sum::<f64>();
        let d = d.max(f64::MIN_POSITIVE).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>();
            a[i * n + j] = s / d;
        }
    }
    a
}

/// Solve `L·Lᵀ·x = b` in place given the Cholesky factor `l`.
fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}
