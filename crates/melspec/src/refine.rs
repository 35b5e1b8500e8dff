//! Signal-domain refinement of a mel inversion (after Decorsière, Søndergaard, MacDonald &
//! Dau 2015, the inversion MelNet's paper uses): adjust the samples `x` so that the mel
//! spectrogram of `x` matches the given one, minimising
//!
//! `F(x) = Σ_{m,t} (c(M̂[m,t]) − c(M[m,t]))²`, `M̂ = W·|STFT(x)|^p`,
//!
//! over `x` by L-BFGS ([`crate::lbfgs`]). `c` compresses the mel values ([`Compression`]):
//! `ln(v + ε)` or `(v + ε)^γ`, with `ε` at −80 dB below the largest target value.
//!
//! The gradient is analytic. Per frame, `∂F/∂M̂ = 2(c(M̂) − c(M))·c'(M̂)`; through the
//! filterbank `G = Wᵀ·∂F/∂M̂` (per bin); through `S = |X|^p` the complex gradient is
//! `Z = G·p|X|^{p−2}·X` (`∂F/∂Re X + i ∂F/∂Im X`). As `X[k,t] = Σ_n x[tR + n]·w[n]·e^{−2πikn/N}`,
//! `∂F/∂x[u] = Σ_t w[u − tR] · Re Σ_{k=0}^{N/2} Z[k,t]·e^{2πik(u − tR)/N}`: an inverse real FFT
//! of `Z` with the bins other than DC and Nyquist halved, windowed and overlap-added — the
//! iSTFT without its envelope division ([`Istft::overlap_add_into`]) — then folded back through
//! the centre padding (dropped for zero padding, mirrored for reflect padding).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lbfgs::{self, LbfgsOptions};
use crate::mel::MelSpectrogram;
use crate::stft::{padded_index, Istft, IstftScratch, StftScratch};
use crate::Complex32;

/// How mel values are compressed before they are compared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// `ln(v + ε)`: every level counts alike, as in a dB spectrogram.
    Log,
    /// `(v + ε)^γ` with `0 < γ ≤ 1` (1 compares the values themselves).
    Power(f32),
}

impl Compression {
    /// Name as used on the command line: `log` or the exponent.
    pub fn name(self) -> String {
        match self {
            Compression::Log => "log".into(),
            Compression::Power(g) => g.to_string(),
        }
    }

    /// `c(v)` and `c'(v)` at `v ≥ 0` with floor `eps > 0`.
    fn apply(self, v: f32, eps: f32) -> (f32, f32) {
        let v = v + eps;
        match self {
            Compression::Log => (v.ln(), 1.0 / v),
            Compression::Power(1.0) => (v, 1.0),
            Compression::Power(g) => {
                let c = v.powf(g);
                (c, g * c / v)
            }
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "log" {
            return Ok(Compression::Log);
        }
        match s.parse::<f32>() {
            Ok(g) if g > 0.0 && g <= 1.0 => Ok(Compression::Power(g)),
            _ => Err(Error::param(
                "compression",
                s,
                "expected log or an exponent in (0, 1]",
            )),
        }
    }
}

/// Options of [`refine`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineOptions {
    /// L-BFGS iterations; 0 turns the refinement off.
    pub n_iter: usize,
    /// Compression of the mel values in the distance.
    pub compression: Compression,
}

impl Default for RefineOptions {
    /// 60 iterations on `mel^0.5`: measured on the bundled speech (34.5 s) and music (44.7 s),
    /// γ = 0.5 beats 0.3, 0.4, 0.6, 0.7, 1 and log on PESQ and spectral convergence, and 60
    /// iterations sit at the knee of quality per CPU-second (see BENCHMARKS.md).
    fn default() -> Self {
        RefineOptions {
            n_iter: 60,
            compression: Compression::Power(0.5),
        }
    }
}

/// Floor `ε` of the compression: −80 dB below the largest value of a mel spectrogram of
/// `|X|^power` (`10^(−4·power)` times the maximum; 1 for an all-zero spectrogram).
fn floor(target: ArrayView2<f32>, power: f32) -> f32 {
    let max = target.iter().fold(0.0f32, |m, v| m.max(*v));
    if max > 0.0 {
        max * 10f32.powf(-4.0 * power)
    } else {
        1.0
    }
}

/// The distance `F(x)` between the mel spectrogram of a signal and a target, with its
/// gradient; buffers are kept across evaluations.
pub struct MelDistance<'a> {
    plan: &'a MelSpectrogram,
    istft: Istft,
    compression: Compression,
    eps: f32,
    /// `c(M)`, `(frames, n_mels)`.
    target: Array2<f32>,
    stft_scratch: Vec<StftScratch>,
    istft_scratch: Vec<IstftScratch>,
    /// Per frame: the complex gradient of the bins (prepared for the inverse FFT), then the
    /// frame's share of `F` in the real part of one more value.
    rows: Vec<Complex32>,
    padded_grad: Vec<f32>,
}

impl<'a> MelDistance<'a> {
    /// The distance to `target` `(n_mels, frames)` (linear units of `plan`'s power) under
    /// `compression`, for signals whose STFT has `frames` frames.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `target` does not have `n_mels` rows or has no frames;
    /// [`Error::InvalidInput`] for negative or non-finite values.
    pub fn new(
        plan: &'a MelSpectrogram,
        target: ArrayView2<f32>,
        compression: Compression,
    ) -> Result<Self> {
        let power = plan.power();
        let basis = plan.basis();
        if target.nrows() != basis.n_mels() || target.ncols() == 0 {
            return Err(Error::ShapeMismatch {
                what: "target mel spectrogram".into(),
                expected: format!("({}, frames ≥ 1)", basis.n_mels()),
                got: format!("{:?}", target.dim()),
            });
        }
        if let Some(v) = target.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(Error::InvalidInput(format!(
                "mel spectrogram holds an invalid value ({v}); values must be finite and ≥ 0"
            )));
        }
        let eps = floor(target, power);
        let target = target
            .t()
            .as_standard_layout()
            .mapv(|v| compression.apply(v, eps).0);
        let params = *plan.stft().params();
        // As in Griffin–Lim: a block count set by the length only, for the same result on
        // every machine.
        let blocks = (target.nrows() / 64).clamp(1, 8);
        let istft = Istft::new(params)?;
        Ok(MelDistance {
            plan,
            compression,
            eps,
            stft_scratch: (0..blocks).map(|_| plan.stft().scratch()).collect(),
            istft_scratch: (0..blocks).map(|_| istft.scratch()).collect(),
            istft,
            rows: vec![Complex32::default(); target.nrows() * (params.n_bins() + 1)],
            target,
            padded_grad: Vec::new(),
        })
    }

    /// `F(x)`, with `∂F/∂x` written into `grad` (as long as `x`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the STFT of `x` does not have the target's frame count or
    /// `grad` is not as long as `x`.
    pub fn value_and_gradient(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64> {
        let params = *self.plan.stft().params();
        let (n_frames, n_mels) = self.target.dim();
        if params.n_frames(x.len()).ok() != Some(n_frames) || grad.len() != x.len() {
            return Err(Error::ShapeMismatch {
                what: "signal to refine".into(),
                expected: format!("a length giving {n_frames} frames, and a gradient as long"),
                got: format!("{} samples, gradient of {}", x.len(), grad.len()),
            });
        }
        let n_bins = params.n_bins();
        let basis = self.plan.basis();
        let (power, compression, eps) = (self.plan.power(), self.compression, self.eps);
        let target = &self.target;
        let nyquist = params.n_fft.is_multiple_of(2).then_some(n_bins - 1);
        // The inverse FFT's 1/n_fft undone, and the interior bins halved: each stands for two
        // terms of the inverse FFT's sum.
        let half = 0.5 * params.n_fft as f32;
        let edge = params.n_fft as f32;
        self.plan.stft().process_rows(
            x,
            &mut self.rows,
            n_bins + 1,
            &mut self.stft_scratch,
            &|t, spectrum, row| {
                FRAME.with_borrow_mut(|(s, mel)| {
                    s.clear();
                    if power == 2.0 {
                        s.extend(spectrum.iter().map(|c| c.norm_sqr()));
                    } else {
                        s.extend(spectrum.iter().map(|c| c.norm().powf(power)));
                    }
                    mel.resize(n_mels, 0.0);
                    basis.apply_frame(s, mel);
                    let mut cost = 0.0f32;
                    for (m, c_target) in mel.iter_mut().zip(target.row(t)) {
                        let (c, dc) = compression.apply(*m, eps);
                        let d = c - c_target;
                        cost += d * d;
                        *m = 2.0 * d * dc;
                    }
                    // s now receives G = Wᵀ·∂F/∂M̂; the row Z = G·p|X|^{p−2}·X.
                    basis.transpose_apply_frame(mel, s);
                    if power == 2.0 {
                        let a = 2.0 * half;
                        for ((o, x), g) in row.iter_mut().zip(spectrum).zip(s.iter()) {
                            *o = *x * (g * a);
                        }
                    } else {
                        for ((o, x), g) in row.iter_mut().zip(spectrum).zip(s.iter()) {
                            *o = *x * (g * power_derivative(*x, power) * half);
                        }
                    }
                    row[0] *= edge / half;
                    if let Some(k) = nyquist {
                        row[k] *= edge / half;
                    }
                    row[0].im = 0.0;
                    if let Some(k) = nyquist {
                        row[k].im = 0.0;
                    }
                    row[n_bins] = Complex32::new(cost, 0.0);
                });
            },
        )?;
        let rows = ArrayView2::from_shape((n_frames, n_bins + 1), &self.rows)
            .expect("rows hold n_bins + 1 values per frame");
        let value: f64 = rows.column(n_bins).iter().map(|c| f64::from(c.re)).sum();
        let z = rows.slice(ndarray::s![.., ..n_bins]);
        self.istft
            .overlap_add_into(z.t(), &mut self.padded_grad, &mut self.istft_scratch)?;
        // Fold the padded signal's gradient back onto the samples it was built from.
        // The samples themselves are a slice of the padded signal; only the pads need mapping.
        let pad = if params.center { params.n_fft / 2 } else { 0 };
        let padded = &self.padded_grad;
        let inner = padded.len().saturating_sub(pad).min(x.len());
        grad[..inner].copy_from_slice(&padded[pad..pad + inner]);
        grad[inner..].fill(0.0);
        let outside = (0..pad).chain(pad + x.len()..padded.len());
        for u in outside {
            if let Some(i) = padded_index(x.len(), u as isize - pad as isize, params.pad_mode) {
                grad[i] += padded[u];
            }
        }
        Ok(value)
    }
}

thread_local! {
    /// Per-thread buffers of one frame of [`MelDistance::value_and_gradient`]: `|X|^p` (then
    /// the gradient per bin) and the mel values (then the gradient per band).
    static FRAME: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// `p·|X|^{p−2}`, so that `∂|X|^p/∂Re X + i ∂|X|^p/∂Im X = p|X|^{p−2}·X` (0 at `X = 0`
/// for `p < 2`, where the derivative does not exist).
fn power_derivative(x: Complex32, p: f32) -> f32 {
    if p == 2.0 {
        return 2.0;
    }
    let a = x.norm();
    if a > 0.0 {
        p * a.powf(p - 2.0)
    } else {
        0.0
    }
}

/// Refine `signal` in place so that its mel spectrogram approaches `target` `(n_mels, frames)`
/// (linear units of `plan`'s power; the signal's STFT must have `frames` frames), by
/// `opts.n_iter` L-BFGS steps. Returns `F` before the first step and after each step:
/// strictly decreasing. `progress(done, total)` is called after every step.
///
/// # Errors
/// As [`MelDistance::new`] and [`MelDistance::value_and_gradient`].
pub fn refine(
    plan: &MelSpectrogram,
    target: ArrayView2<f32>,
    signal: &mut [f32],
    opts: &RefineOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f64>> {
    let mut distance = MelDistance::new(plan, target, opts.compression)?;
    let lbfgs = LbfgsOptions {
        max_iter: opts.n_iter,
        ..LbfgsOptions::default()
    };
    lbfgs::minimise(
        signal,
        &lbfgs,
        &mut |x, g| distance.value_and_gradient(x, g),
        &mut |done, _| progress(done, opts.n_iter),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mel::MelParams;
    use crate::stft::{PadMode, StftParams};
    use rand::{Rng, SeedableRng};

    /// A small plan and a random signal with a target made from another random signal.
    fn setup(stft: StftParams, power: f32, len: usize) -> (MelSpectrogram, Array2<f32>, Vec<f32>) {
        let mel = MelParams {
            sr: 8000.0,
            n_fft: stft.n_fft,
            n_mels: 12,
            fmin: 0.0,
            fmax: 4000.0,
            htk: false,
            norm: crate::MelNorm::Slaney,
        };
        let plan = MelSpectrogram::new(stft, mel, power).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut noise = || -> Vec<f32> { (0..len).map(|_| rng.gen_range(-0.5..0.5)).collect() };
        let target = plan.process(&noise()).unwrap();
        (plan, target, noise())
    }

    /// The directional derivative `∇F·d` against the central difference of `F` along `d`.
    fn check_gradient(stft: StftParams, power: f32, compression: Compression) {
        let len = 200;
        let (plan, target, x) = setup(stft, power, len);
        let mut distance = MelDistance::new(&plan, target.view(), compression).unwrap();
        let mut grad = vec![0.0; len];
        distance.value_and_gradient(&x, &mut grad).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..3 {
            let d: Vec<f32> = (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let h = 1e-3f32;
            let mut at = |s: f32| {
                let y: Vec<f32> = x.iter().zip(&d).map(|(a, b)| a + s * b).collect();
                let mut g = vec![0.0; len];
                distance.value_and_gradient(&y, &mut g).unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let analytic: f64 = grad.iter().zip(&d).map(|(g, d)| f64::from(g * d)).sum();
            let err = (numeric - analytic).abs() / analytic.abs().max(1e-9);
            assert!(
                err < 2e-2,
                "{stft:?} p={power} {compression:?}: analytic {analytic}, numeric {numeric}"
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let base = StftParams {
            hop_length: 16,
            ..StftParams::new(64)
        };
        for compression in [
            Compression::Log,
            Compression::Power(0.3),
            Compression::Power(1.0),
        ] {
            check_gradient(base, 2.0, compression);
        }
        check_gradient(base, 1.0, Compression::Power(0.5));
        check_gradient(
            StftParams {
                pad_mode: PadMode::Reflect,
                ..base
            },
            2.0,
            Compression::Log,
        );
        check_gradient(
            StftParams {
                center: false,
                win_length: 48,
                ..base
            },
            2.0,
            Compression::Power(0.5),
        );
        // Odd n_fft: no Nyquist bin.
        check_gradient(
            StftParams {
                hop_length: 15,
                ..StftParams::new(63)
            },
            2.0,
            Compression::Log,
        );
    }

    #[test]
    fn a_signal_of_the_wrong_length_is_refused() {
        let (plan, target, x) = setup(StftParams::new(64), 2.0, 200);
        let mut distance = MelDistance::new(&plan, target.view(), Compression::Log).unwrap();
        let mut grad = vec![0.0; 300];
        assert!(distance
            .value_and_gradient(&[x.clone(), x].concat()[..300], &mut grad)
            .is_err());
        assert!("0".parse::<Compression>().is_err());
        assert!("1.5".parse::<Compression>().is_err());
        assert_eq!("log".parse::<Compression>().unwrap(), Compression::Log);
    }
}
