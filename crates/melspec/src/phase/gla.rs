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
        let (mut diff, mut norm) = (0.0f64, 0.0f64);
        let alpha = self.momentum;
        ndarray::Zip::from(&mut self.c)
            .and(&mut self.t)
            .and(&mut self.t_prev)
            .and(&self.magnitude)
            .for_each(|c, t, t_prev, &a| {
                diff += f64::from((*c - *t).norm_sqr());
                norm += f64::from(a * a);
                // Magnitude projection: keep the phase of the consistent estimate.
                let n = t.norm();
                let proj = if n > 0.0 {
                    *t * (a / n)
                } else {
                    Complex32::new(a, 0.0)
                };
                *c = proj + (proj - *t_prev) * alpha;
                *t_prev = proj;
            });
        if norm > 0.0 {
            (diff / norm).sqrt() as f32
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
                let n = c.norm();
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
