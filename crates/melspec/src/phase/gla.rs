//! Griffin–Lim (Griffin & Lim 1984) and fast Griffin–Lim (Perraudin, Balazs & Søndergaard
//! 2013): alternate projections between spectrograms with the target magnitude and consistent
//! spectrograms (those that are the STFT of a signal), with optional momentum.
//!
//! The iteration state is kept frames-major so that every STFT/iSTFT frame access is
//! contiguous; plans and buffers are built once and reused by every iteration.

use ndarray::{Array2, ArrayView2};

use crate::error::Result;
use crate::stft::{Istft, IstftScratch, Stft, StftParams, StftScratch};
use crate::Complex32;

/// A Griffin–Lim run in progress.
pub struct GriffinLim {
    stft: Stft,
    istft: Istft,
    stft_scratch: StftScratch,
    istft_scratch: IstftScratch,
    /// Target magnitude, `(frames, bins)`.
    magnitude: Array2<f32>,
    /// Current estimate c, `(frames, bins)`.
    c: Array2<Complex32>,
    /// Previous projection t, `(frames, bins)`.
    t_prev: Array2<Complex32>,
    /// Consistent projection of c, `(frames, bins)`.
    t: Array2<Complex32>,
    signal: Vec<f32>,
    /// Signal length inside the iterations: the iSTFT's natural length, whose STFT has
    /// exactly as many frames as the target.
    inner_len: usize,
    /// Length of the final signal.
    length: usize,
    momentum: f32,
}

impl GriffinLim {
    /// Start from `magnitude` and `phase` (radians), both `(n_fft/2 + 1, frames)`, with
    /// momentum `momentum` (0 = GLA, 0.99 = FGLA); the signal has `length` samples
    /// (default: the iSTFT's natural length).
    ///
    /// # Errors
    /// As [`super::reconstruct`].
    pub fn new(
        magnitude: ArrayView2<f32>,
        phase: ArrayView2<f32>,
        params: &StftParams,
        momentum: f32,
        length: Option<usize>,
    ) -> Result<Self> {
        super::check_magnitude(magnitude, params)?;
        let stft = Stft::new(*params)?;
        let istft = Istft::new(*params)?;
        let n_frames = magnitude.ncols();
        let inner_len = istft.default_len(n_frames);
        let length = length.unwrap_or(inner_len);
        let mag_fm = magnitude.t().as_standard_layout().into_owned();
        let c = ndarray::Zip::from(&mag_fm)
            .and(phase.t())
            .map_collect(|a, p| Complex32::from_polar(*a, *p));
        let stft_scratch = stft.scratch();
        let istft_scratch = istft.scratch();
        Ok(GriffinLim {
            stft,
            istft,
            stft_scratch,
            istft_scratch,
            t_prev: c.clone(),
            t: c.clone(),
            c,
            magnitude: mag_fm,
            signal: Vec::with_capacity(inner_len.max(length)),
            inner_len,
            length,
            momentum,
        })
    }

    /// One iteration: `t = P_mag(P_consistent(c))`, `c ← t + α(t − t_prev)`. Returns the
    /// spectral inconsistency of the estimate before the step, `‖c − STFT(iSTFT(c))‖ / ‖A‖`,
    /// which Griffin–Lim (α = 0) never increases.
    pub fn step(&mut self) -> f32 {
        self.consistent_projection();
        let alpha = self.momentum;
        let slices = (
            self.c.as_slice_mut(),
            self.t.as_slice(),
            self.t_prev.as_slice_mut(),
            self.magnitude.as_slice(),
        );
        let (Some(c), Some(t), Some(t_prev), Some(magnitude)) = slices else {
            unreachable!("iteration arrays are created contiguous");
        };
        // Per frame, partial sums in f32; the totals in f64.
        let (mut total_diff, mut total_norm) = (0.0f64, 0.0f64);
        let n_bins = self.magnitude.ncols();
        for (((c, t), t_prev), magnitude) in c
            .chunks_exact_mut(n_bins)
            .zip(t.chunks_exact(n_bins))
            .zip(t_prev.chunks_exact_mut(n_bins))
            .zip(magnitude.chunks_exact(n_bins))
        {
            let (mut diff, mut norm) = (0.0f32, 0.0f32);
            for (((c, t), t_prev), &a) in c.iter_mut().zip(t).zip(t_prev.iter_mut()).zip(magnitude)
            {
                let (dr, di) = (c.re - t.re, c.im - t.im);
                diff += dr * dr + di * di;
                norm += a * a;
                // Magnitude projection: keep the phase of the consistent estimate (a zero
                // estimate gets phase 0). sqrt of the squared norm, not hypot: much slower, and
                // overflow cannot happen here. Written branch-free so that it vectorises.
                let n2 = t.re * t.re + t.im * t.im;
                let zero = n2 == 0.0;
                let g = a / if zero { 1.0 } else { n2.sqrt() };
                let pr = if zero { a } else { t.re * g };
                let pi = t.im * g;
                c.re = pr + alpha * (pr - t_prev.re);
                c.im = pi + alpha * (pi - t_prev.im);
                *t_prev = Complex32::new(pr, pi);
            }
            total_diff += f64::from(diff);
            total_norm += f64::from(norm);
        }
        if total_norm > 0.0 {
            (total_diff / total_norm).sqrt() as f32
        } else {
            0.0
        }
    }

    /// `t = STFT(iSTFT(c))`.
    fn consistent_projection(&mut self) {
        self.istft
            .process_into(
                self.c.t(),
                Some(self.inner_len),
                &mut self.signal,
                &mut self.istft_scratch,
            )
            .expect("shapes were checked when the run started");
        self.stft
            .process_into(
                &self.signal,
                self.t.view_mut().reversed_axes(),
                &mut self.stft_scratch,
            )
            .expect("the signal length matches the frame count");
    }

    /// The signal: iSTFT of the target magnitude with the current phase.
    pub fn finish(mut self) -> Vec<f32> {
        ndarray::Zip::from(&mut self.c)
            .and(&self.magnitude)
            .for_each(|c, &a| {
                let n = c.norm_sqr().sqrt();
                *c = if n > 0.0 {
                    *c * (a / n)
                } else {
                    Complex32::new(a, 0.0)
                };
            });
        self.istft
            .process_into(
                self.c.t(),
                Some(self.length),
                &mut self.signal,
                &mut self.istft_scratch,
            )
            .expect("shapes were checked when the run started");
        self.signal
    }
}
