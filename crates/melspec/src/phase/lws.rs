//! Local weighted sums (LWS; Le Roux, Kameoka, Ono & Sagayama 2010): phase retrieval by
//! updating each STFT coefficient's phase, in place, to that of the weighted sum of its
//! neighbours that a consistent spectrogram would have.
//!
//! # The weights for melspec's STFT pair
//!
//! A spectrogram `X` is consistent when `G(X) = STFT(iSTFT(X)) = X`. For our STFT (frame `m`
//! starts at `m·R`, `X(m,n) = Σ_u x(mR+u)·w(u)·e^{−2πinu/N}`, `w` the periodic window
//! zero-padded to `N = n_fft`) and librosa's iSTFT (windowed inverse FFTs overlap-added and
//! divided by the window sum-square), the inverse applies, away from the ends, the synthesis
//! window `s(u) = w(u) / Σ_q w²(u + qR)` (the sum over every shift that stays inside
//! `[0, N)`; for periodic Hann at 75 % overlap it is 1.5). Writing `d` for a frame offset and
//! `k` for a bin offset,
//!
//! ```text
//! G(X)(m,n) = Σ_{|d|<Q} Σ_k X(m−d, n−k) · γ(d,k) · e^{2πi(n−k)dR/N},
//! γ(d,k)    = (1/N) Σ_u w(u)·s(u+dR)·e^{−2πiku/N},          Q = ⌈N/R⌉,
//! ```
//!
//! with `X(m, −n) = X(m, N−n) = conj X(m, n)` (real signals). LWS truncates the sum to
//! `|k| ≤ L`, where `γ` holds nearly all its energy, and leaves out the coefficient itself
//! (`d = k = 0`): the phase that minimises the inconsistency `‖G(X) − X‖` with every other
//! coefficient fixed is the phase of that sum.
//!
//! The phase factor splits as `e^{−2πikdR/N}` (folded into `γ`) times `ω_d(n) = e^{2πindR/N}`,
//! so each frame offset's sum is `ω_d(n)·Σ_k g(d,k)·X(m−d, n−k)` with `g` the same for every
//! bin: every overlap runs the same code at the same cost, one complex multiplication per
//! frame offset above the `2L + 1` products. (lws specialises 75 % overlap, `Q = 4`, where
//! `ω_d(n)` is ±1 or ±i, to save that multiplication; here it is a precomputed table of
//! `(2Q−1)·(N/2+1)` values, at most 2²⁴: a finer hop is refused.) While a frame is updated
//! the other frames are fixed, so their share of every bin's sum is computed in one streaming,
//! vectorised pass over the frame; only the frame's own `2L` neighbours are summed bin by bin.
//!
//! # Iterations
//!
//! Frames are swept in order, bins in order within a frame, each update seen by the next
//! (Gauss–Seidel). Iteration `i` of `I` updates only the coefficients whose magnitude exceeds
//! `α·e^{−β·t^γ}` times the mean magnitude, `t = 99·i/(I − 1)`, so that the loud, reliable
//! coefficients settle first. With lws' defaults (α = 100, β = 0.1, γ = 1, I = 100, L = 5)
//! this is lws' schedule; other iteration counts span the same thresholds (lws would stop
//! short of the quiet coefficients with fewer).
//!
//! The optional *no-future* pass (lws' `nofuture_lws`) runs before: each frame's phase from
//! the past frames only, with RTISI-LA's asymmetric analysis window — the part of the
//! overlap-add envelope that later frames would add, `Σ_{q≥1} (w·s)(u − qR)` — in place of
//! `w`, a one-sided estimate that suits onsets.

use ndarray::{Array2, ArrayView2};
use realfft::num_complex::Complex64;

use crate::error::{Error, Result};
use crate::stft::StftParams;
use crate::Complex32;

/// Iterations of lws' batch schedule, whose threshold range every iteration count spans.
const DEFAULT_ITERATIONS: usize = 100;

/// Bins summed together in registers by [`Grid::other_frames_sums`].
const LANES: usize = 8;

/// Most phase factors `ω_d(n)` LWS tabulates; finer hops are refused.
const MAX_WEIGHTS: usize = 1 << 24;

/// Options of [`lws`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LwsOptions {
    /// Batch iterations (the threshold schedule spans the same range for every count).
    pub n_iter: usize,
    /// Bin half-width `L` of the neighbourhood (clamped to `n_fft/2 − 1`).
    pub half_width: usize,
    /// Threshold schedule `α·e^{−β·t^γ}` (times the mean magnitude) of the batch iterations,
    /// `t = 99·i/(n_iter − 1)` at iteration `i`.
    pub alpha: f64,
    /// See [`LwsOptions::alpha`].
    pub beta: f64,
    /// See [`LwsOptions::alpha`].
    pub gamma: f64,
    /// Run one no-future pass (threshold: the mean magnitude) before the batch iterations.
    pub no_future: bool,
}

impl Default for LwsOptions {
    fn default() -> Self {
        LwsOptions {
            n_iter: DEFAULT_ITERATIONS,
            half_width: 5,
            alpha: 100.0,
            beta: 0.1,
            gamma: 1.0,
            no_future: false,
        }
    }
}

/// Phase (radians, `(n_fft/2 + 1, frames)`) for the magnitude `magnitude` (same shape) by LWS,
/// starting from `init_phase` (zero phase if `None`); `progress(done, total)` after every
/// iteration.
///
/// # Errors
/// As [`super::reconstruct`]; [`Error::InvalidParameter`] when the hop is so fine that the
/// table of phase factors would exceed 2²⁴ entries.
pub fn lws(
    magnitude: ArrayView2<f32>,
    init_phase: Option<ArrayView2<f32>>,
    params: &StftParams,
    opts: &LwsOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Array2<f32>> {
    super::check_magnitude(magnitude, params)?;
    let window = params.window.padded(params.win_length, params.n_fft)?;
    let synthesis = synthesis_window(&window, params.hop_length);
    let half_width = opts.half_width.min(params.n_fft / 2 - 1);
    let geometry = Geometry::new(params.n_fft, params.hop_length, half_width)?;
    let mut grid = Grid::new(magnitude, init_phase, &geometry);
    let total = opts.n_iter + usize::from(opts.no_future);
    let mean = magnitude.iter().map(|&a| f64::from(a)).sum::<f64>() / magnitude.len() as f64;
    if opts.no_future {
        let past = envelope_of_later_frames(&window, &synthesis, params.hop_length);
        let weights = Weights::new(&geometry, &past, &synthesis, 1);
        grid.sweep(&weights, mean as f32);
        progress(1, total);
    }
    let weights = Weights::new(&geometry, &window, &synthesis, 1 - geometry.q as isize);
    // The schedule spans lws' 100-iteration thresholds whatever the iteration count.
    let stretch = (DEFAULT_ITERATIONS - 1) as f64 / opts.n_iter.saturating_sub(1).max(1) as f64;
    for i in 0..opts.n_iter {
        let position = i as f64 * stretch;
        let threshold = opts.alpha * (-opts.beta * position.powf(opts.gamma)).exp() * mean;
        grid.sweep(&weights, threshold as f32);
        progress(i + 1 + usize::from(opts.no_future), total);
    }
    Ok(grid.phase())
}

/// `s(u) = w(u) / Σ_q w²(u + qR)` over the shifts that stay inside the frame (0 where the sum
/// vanishes): the window librosa's iSTFT applies away from the signal's ends.
fn synthesis_window(window: &[f32], hop: usize) -> Vec<f64> {
    let n = window.len();
    (0..n)
        .map(|u| {
            let sum: f64 = (u % hop..n)
                .step_by(hop)
                .map(|v| f64::from(window[v]).powi(2))
                .sum();
            if sum > f64::from(f32::MIN_POSITIVE) {
                f64::from(window[u]) / sum
            } else {
                0.0
            }
        })
        .collect()
}

/// `Σ_{q≥1} (w·s)(u − qR)`: the share of the overlap-add envelope at `u` that frames after
/// this one add (the no-future pass's analysis window).
fn envelope_of_later_frames(window: &[f32], synthesis: &[f64], hop: usize) -> Vec<f32> {
    let product: Vec<f64> = window
        .iter()
        .zip(synthesis)
        .map(|(&w, &s)| f64::from(w) * s)
        .collect();
    (0..window.len())
        .map(|u| {
            (hop..=u)
                .step_by(hop)
                .map(|shift| product[u - shift])
                .sum::<f64>() as f32
        })
        .collect()
}

/// Sizes shared by the weights and the sweep.
struct Geometry {
    n_fft: usize,
    hop: usize,
    /// `⌈N/R⌉`: frames up to `Q − 1` away overlap.
    q: usize,
    /// Bin half-width `L`.
    half_width: usize,
    /// `n_fft/2 + 1`.
    bins: usize,
}

impl Geometry {
    fn new(n_fft: usize, hop: usize, half_width: usize) -> Result<Self> {
        let q = n_fft.div_ceil(hop);
        let bins = n_fft / 2 + 1;
        let entries = (2 * q - 1).saturating_mul(bins);
        if entries > MAX_WEIGHTS {
            return Err(Error::param(
                "hop_length",
                hop,
                format!(
                    "too fine for LWS at n_fft = {n_fft}: it would need {entries} phase \
                     factors (at most {MAX_WEIGHTS})"
                ),
            ));
        }
        Ok(Geometry {
            n_fft,
            hop,
            q,
            half_width,
            bins,
        })
    }

    /// Bin offsets: `−L ..= L`.
    fn span(&self) -> usize {
        2 * self.half_width + 1
    }
}

/// The weights of one analysis/synthesis window pair, factored as
/// `γ(d,k)·e^{2πi(n−k)dR/N} = g(d,k) · ω_d(n)` with `g(d,k) = γ(d,k)·e^{−2πikdR/N}` the same for
/// every bin and `ω_d(n) = e^{2πindR/N}`. The centre (`d = 0, k = 0`) is zero, and frame
/// offsets below `first_offset` are left out.
struct Weights {
    /// `g(d, k)` at `[d − first_offset][j]`, `j = L − k` (so `j` runs along bins `n − L + j`).
    g: Vec<Complex32>,
    /// `ω_d(n)`, real and imaginary planes, at `[d − first_offset][n]`, rows of `stride`.
    omega_re: Vec<f32>,
    omega_im: Vec<f32>,
    first_offset: isize,
    q: isize,
    span: usize,
    /// Bins rounded up to a multiple of [`LANES`].
    stride: usize,
}

impl Weights {
    fn new(geometry: &Geometry, analysis: &[f32], synthesis: &[f64], first_offset: isize) -> Self {
        let (n_fft, hop) = (geometry.n_fft as i64, geometry.hop as i64);
        let (q, l) = (geometry.q as isize, geometry.half_width as isize);
        let (span, bins) = (geometry.span(), geometry.bins);
        let first_offset = first_offset.max(1 - q);
        let rows = (q - first_offset) as usize;
        // e^{2πi·turns/N}, the exponent reduced exactly.
        let turn = |turns: i64| {
            let angle = std::f64::consts::TAU * turns.rem_euclid(n_fft) as f64 / n_fft as f64;
            Complex64::from_polar(1.0, angle)
        };
        let mut g = vec![Complex32::new(0.0, 0.0); rows * span];
        let stride = bins.next_multiple_of(LANES);
        let (mut omega_re, mut omega_im) = (vec![0.0; rows * stride], vec![0.0; rows * stride]);
        for d in first_offset..q {
            let row = (d - first_offset) as usize;
            for k in -l..=l {
                if d == 0 && k == 0 {
                    continue;
                }
                // γ(d, k) = (1/N) Σ_u a(u)·s(u + dR)·e^{−2πiku/N}.
                let mut gamma = Complex64::new(0.0, 0.0);
                for (u, &a) in analysis.iter().enumerate() {
                    let v = u as i64 + d as i64 * hop;
                    if (0..n_fft).contains(&v) && a != 0.0 {
                        gamma +=
                            turn(-(k as i64) * u as i64) * (f64::from(a) * synthesis[v as usize]);
                    }
                }
                let w = gamma / n_fft as f64 * turn(-(k as i64) * d as i64 * hop);
                g[row * span + (l - k) as usize] = Complex32::new(w.re as f32, w.im as f32);
            }
            for n in 0..bins {
                let w = turn(n as i64 * d as i64 * hop);
                omega_re[row * stride + n] = w.re as f32;
                omega_im[row * stride + n] = w.im as f32;
            }
        }
        Weights {
            g,
            omega_re,
            omega_im,
            first_offset,
            q,
            span,
            stride,
        }
    }

    /// `g(d, ·)` along `j`.
    fn g(&self, d: isize) -> &[Complex32] {
        let at = (d - self.first_offset) as usize * self.span;
        &self.g[at..at + self.span]
    }

    /// `ω_d(n)` for every bin (then zeros up to a multiple of [`LANES`]), real and imaginary.
    fn omega(&self, d: isize) -> (&[f32], &[f32]) {
        let at = (d - self.first_offset) as usize * self.stride;
        (
            &self.omega_re[at..at + self.stride],
            &self.omega_im[at..at + self.stride],
        )
    }
}

/// Complex values as separate real and imaginary planes (so that loops over them vectorise).
struct Planes {
    re: Vec<f32>,
    im: Vec<f32>,
}

impl Planes {
    fn zeros(len: usize) -> Self {
        Planes {
            re: vec![0.0; len],
            im: vec![0.0; len],
        }
    }

    fn get(&self, at: usize) -> Complex32 {
        Complex32::new(self.re[at], self.im[at])
    }

    fn put(&mut self, at: usize, value: Complex32) {
        self.re[at] = value.re;
        self.im[at] = value.im;
    }
}

/// The spectrogram being updated, frames-major in separate real and imaginary planes, each
/// frame extended by `L` mirrored bins on both sides and the whole by `Q − 1` zero frames
/// before and after.
struct Grid {
    values: Planes,
    /// Target magnitude, `(frames, bins)` row-major.
    magnitude: Vec<f32>,
    /// Largest magnitude of each chunk of [`LANES`] bins, `(frames, chunks)` row-major:
    /// chunks with none above the threshold are skipped.
    chunk_max: Vec<f32>,
    frames: usize,
    bins: usize,
    /// Frame stride in the planes: `bins + 2L`.
    stride: usize,
    half_width: usize,
    /// Zero frames on each side: `Q − 1`.
    margin: usize,
    /// The current frame's sums over the other frames, real and imaginary (bins rounded up to
    /// a multiple of [`LANES`]).
    sums: Planes,
}

impl Grid {
    fn new(
        magnitude: ArrayView2<f32>,
        init_phase: Option<ArrayView2<f32>>,
        geometry: &Geometry,
    ) -> Self {
        let (bins, frames) = magnitude.dim();
        let half_width = geometry.half_width;
        let margin = geometry.q - 1;
        let stride = bins + 2 * half_width;
        let size = (frames + 2 * margin) * stride + LANES;
        let padded_bins = bins.next_multiple_of(LANES);
        let mut grid = Grid {
            values: Planes::zeros(size),
            magnitude: magnitude.t().iter().copied().collect(),
            chunk_max: magnitude
                .columns()
                .into_iter()
                .flat_map(|frame| {
                    let frame = frame.to_vec();
                    frame
                        .chunks(LANES)
                        .map(|c| c.iter().fold(0.0f32, |a, &b| a.max(b)))
                        .collect::<Vec<_>>()
                })
                .collect(),
            frames,
            bins,
            stride,
            half_width,
            margin,
            sums: Planes::zeros(padded_bins),
        };
        for m in 0..frames {
            for n in 0..bins {
                let a = magnitude[[n, m]];
                let value = match init_phase {
                    Some(p) => Complex32::from_polar(a, p[[n, m]]),
                    None => Complex32::new(a, 0.0),
                };
                grid.set(m, n, value);
            }
        }
        grid
    }

    /// Write `X(m, n)` and its mirror images in the extension.
    fn set(&mut self, m: usize, n: usize, value: Complex32) {
        let (l, last) = (self.half_width, self.bins - 1);
        let row = (m + self.margin) * self.stride;
        self.values.put(row + l + n, value);
        if (1..=l).contains(&n) {
            self.values.put(row + l - n, value.conj());
        }
        if n < last && n + l >= last {
            // X(m, N − n) with N = 2·last.
            self.values.put(row + l + 2 * last - n, value.conj());
        }
    }

    /// One sweep over every frame and bin: coefficients louder than `threshold` take the phase
    /// of their neighbours' weighted sum (DC and Nyquist stay real).
    fn sweep(&mut self, weights: &Weights, threshold: f32) {
        let chunks = self.bins.div_ceil(LANES);
        for m in 0..self.frames {
            let loud = &self.chunk_max[m * chunks..(m + 1) * chunks];
            if loud.iter().all(|&a| a <= threshold) {
                continue;
            }
            // Other frames do not change while this one is updated: their share of every
            // bin's sum is computed at once, streaming over bins.
            self.other_frames_sums(weights, m, threshold);
            for n in 0..self.bins {
                let a = self.magnitude[m * self.bins + n];
                if a <= threshold {
                    continue;
                }
                let sum = self.sums.get(n) + self.same_frame_sum(weights, m, n);
                let value = if n == 0 || n == self.bins - 1 {
                    Complex32::new(if sum.re < 0.0 { -a } else { a }, 0.0)
                } else {
                    let norm = (sum.re * sum.re + sum.im * sum.im).sqrt();
                    if norm == 0.0 {
                        continue;
                    }
                    sum * (a / norm)
                };
                self.set(m, n, value);
            }
        }
    }

    /// `sum[n] = Σ_{d ≠ 0} ω_d(n) Σ_j g(d, j) · X(m − d, n − L + j)` for every bin `n`.
    /// Chunks of bins none louder than `threshold` are left out.
    fn other_frames_sums(&mut self, weights: &Weights, m: usize, threshold: f32) {
        let frame = (m + self.margin) * self.stride;
        let chunks = self.bins.div_ceil(LANES);
        other_frames_sums(
            &self.values,
            weights,
            frame,
            self.stride,
            &self.chunk_max[m * chunks..(m + 1) * chunks],
            threshold,
            &mut self.sums,
        );
    }

    /// `Σ_j g(0, j) · X(m, n − L + j)`: the current frame's neighbours (none when the weights
    /// start at a later frame offset).
    fn same_frame_sum(&self, weights: &Weights, m: usize, n: usize) -> Complex32 {
        if weights.first_offset > 0 {
            return Complex32::new(0.0, 0.0);
        }
        let at = (m + self.margin) * self.stride + n;
        let (xr, xi) = (&self.values.re[at..], &self.values.im[at..]);
        let (mut re, mut im) = (0.0f32, 0.0f32);
        for ((g, xr), xi) in weights.g(0).iter().zip(xr).zip(xi) {
            re += g.re * xr - g.im * xi;
            im += g.re * xi + g.im * xr;
        }
        Complex32::new(re, im)
    }

    /// Phase of every coefficient, `(bins, frames)`.
    fn phase(&self) -> Array2<f32> {
        Array2::from_shape_fn((self.bins, self.frames), |(n, m)| {
            let at = (m + self.margin) * self.stride + self.half_width + n;
            self.values.im[at].atan2(self.values.re[at])
        })
    }
}

crate::vectorised! {
    /// [`Grid::other_frames_sums`] for the frame starting at `frame` in the planes (frames
    /// `stride` apart), in chunks of [`LANES`] bins held in registers; chunks whose `loudest`
    /// magnitude is at most `threshold` are skipped.
    fn other_frames_sums = other_frames_sums_body(
        values: &Planes,
        weights: &Weights,
        frame: usize,
        stride: usize,
        loudest: &[f32],
        threshold: f32,
        sums: &mut Planes,
    )
}

#[inline(always)]
fn other_frames_sums_body(
    values: &Planes,
    weights: &Weights,
    frame: usize,
    stride: usize,
    loudest: &[f32],
    threshold: f32,
    sums: &mut Planes,
) {
    let (re, im) = (&values.re, &values.im);
    for (start, ((sum_re, sum_im), &loudest)) in sums
        .re
        .chunks_exact_mut(LANES)
        .zip(sums.im.chunks_exact_mut(LANES))
        .zip(loudest)
        .enumerate()
    {
        if loudest <= threshold {
            continue;
        }
        let start = start * LANES;
        let (mut acc_re, mut acc_im) = ([0.0f32; LANES], [0.0f32; LANES]);
        for d in weights.first_offset..weights.q {
            if d == 0 {
                continue;
            }
            let (mut part_re, mut part_im) = ([0.0f32; LANES], [0.0f32; LANES]);
            let base = frame.wrapping_add_signed(-d * stride as isize) + start;
            for (j, g) in weights.g(d).iter().enumerate() {
                // The planes end with LANES spare zeros: the last chunk may read past its
                // frame, into values whose sums are discarded.
                let xr: &[f32; LANES] = re[base + j..][..LANES].try_into().unwrap();
                let xi: &[f32; LANES] = im[base + j..][..LANES].try_into().unwrap();
                for i in 0..LANES {
                    part_re[i] += g.re * xr[i] - g.im * xi[i];
                    part_im[i] += g.re * xi[i] + g.im * xr[i];
                }
            }
            let (or, oi) = weights.omega(d);
            let or: &[f32; LANES] = or[start..][..LANES].try_into().unwrap();
            let oi: &[f32; LANES] = oi[start..][..LANES].try_into().unwrap();
            for i in 0..LANES {
                acc_re[i] += or[i] * part_re[i] - oi[i] * part_im[i];
                acc_im[i] += or[i] * part_im[i] + oi[i] * part_re[i];
            }
        }
        sum_re.copy_from_slice(&acc_re);
        sum_im.copy_from_slice(&acc_im);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stft::{Istft, Stft};
    use rand::{Rng, SeedableRng};

    /// The weights reproduce `STFT(iSTFT(X))` away from the ends, for a spectrogram `X` that
    /// is not consistent, at several overlaps and window lengths.
    #[test]
    fn weights_are_the_consistency_operator() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (n_fft, hop, win_length) in [
            (32, 8, 32),
            (32, 16, 32),
            (36, 12, 36),
            (32, 6, 32),
            (32, 8, 24),
        ] {
            let params = StftParams {
                hop_length: hop,
                win_length,
                ..StftParams::new(n_fft)
            };
            let (bins, frames) = (params.n_bins(), 24);
            let x = Array2::from_shape_fn((bins, frames), |(n, _)| {
                let re = rng.gen_range(-1.0..1.0);
                let im = if n == 0 || n == bins - 1 {
                    0.0
                } else {
                    rng.gen_range(-1.0..1.0)
                };
                Complex32::new(re, im)
            });
            let signal = Istft::new(params).unwrap().process(x.view(), None).unwrap();
            let consistent = Stft::new(params).unwrap().process(&signal).unwrap();
            let geometry = Geometry::new(n_fft, hop, n_fft / 2 - 1).unwrap();
            let window = params.window.padded(win_length, n_fft).unwrap();
            let synthesis = synthesis_window(&window, hop);
            let weights = Weights::new(&geometry, &window, &synthesis, 1 - geometry.q as isize);
            let centre: f64 = window
                .iter()
                .zip(&synthesis)
                .map(|(&w, s)| f64::from(w) * s)
                .sum::<f64>()
                / n_fft as f64;
            let magnitude = x.mapv(|c| c.norm());
            let phase = x.mapv(|c| c.arg());
            let mut grid = Grid::new(magnitude.view(), Some(phase.view()), &geometry);
            let mut worst = 0.0f32;
            for m in geometry.q..frames - geometry.q {
                grid.other_frames_sums(&weights, m, -1.0);
                for n in 0..bins {
                    let g = grid.sums.get(n)
                        + grid.same_frame_sum(&weights, m, n)
                        + x[[n, m]] * centre as f32;
                    worst = worst.max((g - consistent[[n, m]]).norm());
                }
            }
            assert!(
                worst < 1e-4,
                "n_fft {n_fft}, hop {hop}, win {win_length}: worst {worst}"
            );
        }
    }

    #[test]
    fn a_hop_too_fine_for_the_weights_is_refused() {
        assert!(Geometry::new(2048, 1, 5).is_ok());
        let err = Geometry::new(1 << 15, 1, 5).err().unwrap().to_string();
        assert!(
            err.contains("hop_length") && err.contains("too fine"),
            "{err}"
        );
    }
}
