//! Phase-gradient heap integration (Průša, Balazs & Søndergaard 2017, "A noniterative method
//! for reconstruction of phase from STFT magnitude", IEEE/ACM TASLP 25(5)).
//!
//! For a Gaussian window `exp(−π t²/γ)` the STFT phase φ (referenced to the window centre) and
//! the log-magnitude s satisfy, with x in samples and ω in cycles per sample,
//!   ∂φ/∂x = (1/γ)·∂s/∂ω + 2πω  and  ∂φ/∂ω = −γ·∂s/∂x.
//! Other windows are treated as the Gaussian of equal spread (Hann: γ = 0.25645·L²). The
//! gradients are estimated by centred differences of s on the grid, then integrated by a walk
//! that always continues from the largest coefficient reached so far (a max-heap), so that
//! phase is propagated through the ridges where it is reliable.

use std::collections::BinaryHeap;
use std::f32::consts::PI;

use ndarray::{Array2, ArrayView2};
use rand::Rng;

use crate::error::Result;
use crate::stft::StftParams;
use crate::window::Window;

/// γ of the Gaussian that best matches each window of length `win_length`, samples².
pub fn gamma(window: Window, win_length: usize) -> f32 {
    let l2 = (win_length * win_length) as f32;
    match window {
        Window::Hann => 0.25645 * l2,
        Window::Hamming => 0.29794 * l2,
    }
}

/// Relative magnitude thresholds of the integration passes: first only coefficients above
/// 0.1·max (phase does not leak across quiet regions), then everything above 1e-10·max.
const TOLERANCES: [f32; 2] = [1e-1, 1e-10];
/// Log-magnitudes are floored 11 nepers (≈ 95 dB) below their maximum, so that silent
/// coefficients do not produce huge spurious gradients.
const LOG_RANGE: f32 = 11.0;

/// Heap key of coefficient `i` with magnitude `m ≥ 0`: the bits of a non-negative f32 order
/// like the number, so `(bits << 32) | i` orders by magnitude with one integer comparison.
fn key(m: f32, i: usize) -> u64 {
    (u64::from(m.to_bits()) << 32) | i as u64
}

/// The coefficient index of a heap key.
fn index(key: u64) -> usize {
    (key & 0xffff_ffff) as usize
}

/// Phase (radians, referenced to the frame start as [`crate::Stft`]) for `magnitude`
/// `(n_fft/2 + 1, frames)`. Coefficients below 1e-10 of the maximum get a random phase from
/// `rng`.
///
/// # Errors
/// As [`super::reconstruct`].
pub fn pghi(
    magnitude: ArrayView2<f32>,
    params: &StftParams,
    rng: &mut impl Rng,
) -> Result<Array2<f32>> {
    super::check_magnitude(magnitude, params)?;
    let (n_bins, n_frames) = magnitude.dim();
    // Frames-major copies: index = frame · n_bins + bin.
    let mag = magnitude.t().as_standard_layout().into_owned();
    let mag = mag.as_slice().expect("standard layout");
    let max = mag.iter().fold(0.0f32, |a, &b| a.max(b));
    let mut phase = vec![0.0f32; mag.len()];
    if max == 0.0 {
        return Ok(to_bins_major(&phase, n_bins, n_frames));
    }
    let log_floor = max.ln() - LOG_RANGE;
    let logs: Vec<f32> = mag.iter().map(|&m| m.ln().max(log_floor)).collect();

    let gamma = gamma(params.window, params.win_length);
    let hop = params.hop_length as f32;
    let n_fft = params.n_fft as f32;
    // Phase increment per frame step (time direction) and per bin step (frequency direction).
    let mut dt = vec![0.0f32; mag.len()];
    let mut df = vec![0.0f32; mag.len()];
    for n in 0..n_frames {
        for m in 0..n_bins {
            let i = n * n_bins + m;
            // ∂s/∂ω by centred difference over bins (Δω = 1/n_fft); the log-magnitude of a
            // real signal is even around DC and Nyquist, so the derivative vanishes there.
            let ds_dw = if m == 0 || m == n_bins - 1 {
                0.0
            } else {
                (logs[i + 1] - logs[i - 1]) * n_fft / 2.0
            };
            dt[i] = hop * (ds_dw / gamma + 2.0 * PI * m as f32 / n_fft);
            // ∂s/∂x by differences over frames (Δx = hop), one-sided at the ends.
            let ds_dx = match (n > 0, n + 1 < n_frames) {
                (true, true) => (logs[i + n_bins] - logs[i - n_bins]) / (2.0 * hop),
                (false, true) => (logs[i + n_bins] - logs[i]) / hop,
                (true, false) => (logs[i] - logs[i - n_bins]) / hop,
                (false, false) => 0.0,
            };
            df[i] = -gamma * ds_dx / n_fft;
        }
    }

    if mag.len() > u32::MAX as usize {
        return Err(crate::Error::InvalidInput(format!(
            "spectrogram of {} coefficients is too large for PGHI",
            mag.len()
        )));
    }
    let mut done = vec![false; mag.len()];
    let mut heap = BinaryHeap::new();
    for tol in TOLERANCES {
        let threshold = tol * max;
        // Integrate outwards from everything already integrated, then start new islands at
        // the loudest coefficients not reached yet.
        heap.extend((0..mag.len()).filter(|&i| done[i]).map(|i| key(mag[i], i)));
        integrate(
            &mut heap, &mut phase, &mut done, mag, threshold, &dt, &df, n_bins, n_frames,
        );
        let mut order: Vec<usize> = (0..mag.len())
            .filter(|&i| !done[i] && mag[i] > threshold)
            .collect();
        order.sort_unstable_by(|&a, &b| mag[b].total_cmp(&mag[a]));
        for start in order {
            if !done[start] {
                // A new island: its loudest coefficient starts at phase 0.
                done[start] = true;
                phase[start] = 0.0;
                heap.push(key(mag[start], start));
                integrate(
                    &mut heap, &mut phase, &mut done, mag, threshold, &dt, &df, n_bins, n_frames,
                );
            }
        }
    }
    for (i, p) in phase.iter_mut().enumerate() {
        if done[i] {
            // Centre-referenced → frame-start-referenced: X_start[m] = X_centre[m]·e^{−iπm}.
            let m = i % n_bins;
            *p = wrap(*p - PI * (m % 2) as f32);
        } else {
            *p = rng.gen_range(-PI..PI);
        }
    }
    Ok(to_bins_major(&phase, n_bins, n_frames))
}

/// Drain the heap: pop the loudest integrated coefficient and integrate its neighbours above
/// `threshold` (trapezoidal rule on the phase increments `dt` per frame, `df` per bin).
#[allow(clippy::too_many_arguments)]
fn integrate(
    heap: &mut BinaryHeap<u64>,
    phase: &mut [f32],
    done: &mut [bool],
    mag: &[f32],
    threshold: f32,
    dt: &[f32],
    df: &[f32],
    n_bins: usize,
    n_frames: usize,
) {
    while let Some(k) = heap.pop() {
        let i = index(k);
        let (n, m) = (i / n_bins, i % n_bins);
        let mut visit = |j: usize, increment: f32| {
            if !done[j] && mag[j] > threshold {
                phase[j] = phase[i] + increment;
                done[j] = true;
                heap.push(key(mag[j], j));
            }
        };
        if n + 1 < n_frames {
            let j = i + n_bins;
            visit(j, 0.5 * (dt[i] + dt[j]));
        }
        if n > 0 {
            let j = i - n_bins;
            visit(j, -0.5 * (dt[i] + dt[j]));
        }
        if m + 1 < n_bins {
            let j = i + 1;
            visit(j, 0.5 * (df[i] + df[j]));
        }
        if m > 0 {
            let j = i - 1;
            visit(j, -0.5 * (df[i] + df[j]));
        }
    }
}

/// Wrap an angle to (−π, π].
fn wrap(p: f32) -> f32 {
    let two_pi = 2.0 * PI;
    p - two_pi * ((p + PI) / two_pi).floor()
}

fn to_bins_major(frames_major: &[f32], n_bins: usize, n_frames: usize) -> Array2<f32> {
    Array2::from_shape_fn((n_bins, n_frames), |(m, n)| frames_major[n * n_bins + m])
}
