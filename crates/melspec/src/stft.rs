//! Short-time Fourier transform and its inverse, matching `librosa.stft` / `librosa.istft`.
//!
//! Conventions (librosa ≥ 0.10): with `center`, the signal is padded by `n_fft/2` on both sides
//! (zeros for [`PadMode::Constant`], mirror for [`PadMode::Reflect`]); frame `t` starts at
//! `t·hop_length` of the padded signal; there are `1 + (len_padded − n_fft) / hop_length` frames.
//! The forward transform is unnormalised (`X[k] = Σ x[n]·w[n]·e^{−2πikn/N}`), with
//! `n_fft/2 + 1` bins, phase referenced to the frame start. Spectrograms are `(bins, frames)`.

use std::sync::Arc;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::window::Window;

/// How the signal is extended at its ends when `center` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Zeros (librosa's default since 0.10).
    #[default]
    Constant,
    /// Mirror without repeating the edge sample (numpy's `reflect`).
    Reflect,
}

impl PadMode {
    /// Name as used on the command line and in sidecar files.
    pub fn name(self) -> &'static str {
        match self {
            PadMode::Constant => "constant",
            PadMode::Reflect => "reflect",
        }
    }
}

impl std::str::FromStr for PadMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "constant" => Ok(PadMode::Constant),
            "reflect" => Ok(PadMode::Reflect),
            _ => Err(Error::param("pad_mode", s, "expected constant or reflect")),
        }
    }
}

/// STFT geometry. Lengths are in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StftParams {
    /// FFT size; the spectrum has `n_fft/2 + 1` bins.
    pub n_fft: usize,
    /// Hop between successive frames.
    pub hop_length: usize,
    /// Window length (≤ `n_fft`; the window is zero-padded to `n_fft`, centred).
    pub win_length: usize,
    /// Window shape (periodic).
    pub window: Window,
    /// Pad `n_fft/2` on both sides so that frame `t` is centred at `t·hop_length`.
    pub center: bool,
    /// Padding used when `center` is set.
    pub pad_mode: PadMode,
}

impl StftParams {
    /// Parameters with librosa's defaults for `n_fft`: `hop = n_fft/4`, `win = n_fft`, Hann,
    /// centred, constant padding.
    pub fn new(n_fft: usize) -> Self {
        StftParams {
            n_fft,
            hop_length: n_fft / 4,
            win_length: n_fft,
            window: Window::Hann,
            center: true,
            pad_mode: PadMode::Constant,
        }
    }

    /// Number of frequency bins, `n_fft/2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Check that the parameters are usable.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        if self.n_fft < 2 || self.n_fft > crate::limits::MAX_N_FFT {
            return Err(Error::param(
                "n_fft",
                self.n_fft,
                format!("must be between 2 and {}", crate::limits::MAX_N_FFT),
            ));
        }
        if self.hop_length == 0 {
            return Err(Error::param("hop_length", 0, "must be positive"));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return Err(Error::param(
                "win_length",
                self.win_length,
                format!("must be between 1 and n_fft = {}", self.n_fft),
            ));
        }
        Ok(())
    }

    /// Number of frames for a signal of `len` samples.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the signal is empty or, without `center`, shorter than
    /// `n_fft`.
    pub fn n_frames(&self, len: usize) -> Result<usize> {
        if len == 0 {
            return Err(Error::InvalidInput("signal is empty".into()));
        }
        let padded = self.padded_len(len);
        if padded < self.n_fft {
            return Err(Error::InvalidInput(format!(
                "signal of {len} samples is shorter than n_fft = {} (without centering)",
                self.n_fft
            )));
        }
        Ok(1 + (padded - self.n_fft) / self.hop_length)
    }

    fn padded_len(&self, len: usize) -> usize {
        if self.center {
            len + 2 * (self.n_fft / 2)
        } else {
            len
        }
    }
}

/// A planned forward STFT: window and FFT plan built once, reused across frames and calls.
#[derive(Clone)]
pub struct Stft {
    params: StftParams,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("params", &self.params)
            .finish()
    }
}

/// Reusable buffers for [`Stft::for_each_frame`]; allocate once per thread with
/// [`Stft::scratch`].
pub struct StftScratch {
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    fft: Vec<Complex32>,
}

impl Stft {
    /// Plan an STFT.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `params` do not validate.
    pub fn new(params: StftParams) -> Result<Self> {
        params.validate()?;
        let window = params.window.padded(params.win_length, params.n_fft)?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(params.n_fft);
        Ok(Stft {
            params,
            window,
            fft,
        })
    }

    /// The parameters this plan was built from.
    pub fn params(&self) -> &StftParams {
        &self.params
    }

    /// The analysis window, zero-padded to `n_fft`.
    pub fn window(&self) -> &[f32] {
        &self.window
    }

    /// Buffers for [`Stft::for_each_frame`].
    pub fn scratch(&self) -> StftScratch {
        StftScratch {
            frame: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft: self.fft.make_scratch_vec(),
        }
    }

    /// Complex STFT of `y`, shape `(n_fft/2 + 1, frames)`, frames computed in parallel
    /// (blocks of at least 64 frames).
    ///
    /// # Errors
    /// As [`StftParams::n_frames`]; [`Error::TooLarge`] when the result would not fit the
    /// memory budget ([`crate::limits`]).
    pub fn process(&self, y: &[f32]) -> Result<Array2<Complex32>> {
        let n_frames = self.params.n_frames(y.len())?;
        crate::limits::ensure_array("the STFT", &[self.params.n_bins(), n_frames], 8)?;
        let mut out = Array2::zeros((self.params.n_bins(), n_frames));
        self.process_into(y, out.view_mut())?;
        Ok(out)
    }

    /// As [`Stft::process`], writing into `out` of shape `(n_fft/2 + 1, frames)` (for example
    /// one item of a batch allocated once).
    ///
    /// # Errors
    /// As [`StftParams::n_frames`]; [`Error::ShapeMismatch`] when `out` has the wrong shape.
    pub fn process_into(&self, y: &[f32], out: ArrayViewMut2<Complex32>) -> Result<()> {
        if out.nrows() != self.params.n_bins() {
            return Err(Error::ShapeMismatch {
                what: "STFT output".into(),
                expected: format!("{} bins", self.params.n_bins()),
                got: format!("{:?}", out.dim()),
            });
        }
        self.map_frames_into(y, out, &|spectrum, column| column.copy_from_slice(spectrum))
    }

    /// The STFT of `y`, each frame mapped by `f(spectrum, column)` to the `out.nrows()` values
    /// of its column of `out` `(rows, frames)` — a spectrogram, or a mel spectrogram without
    /// the complex one ever stored. Blocks of frames run in parallel; within a block, frames
    /// are computed 64 at a time into a frames-major buffer and written row by row, so that
    /// the writes into `out` run along its rows.
    ///
    /// # Errors
    /// As [`StftParams::n_frames`]; [`Error::ShapeMismatch`] when `out` does not have one
    /// column per frame.
    pub fn map_frames_into<T: Copy + Default + Send>(
        &self,
        y: &[f32],
        out: ArrayViewMut2<T>,
        f: &(impl Fn(&[Complex32], &mut [T]) + Sync),
    ) -> Result<()> {
        let n_frames = self.params.n_frames(y.len())?;
        if out.ncols() != n_frames {
            return Err(Error::ShapeMismatch {
                what: "STFT output".into(),
                expected: format!("{n_frames} frames"),
                got: format!("{:?}", out.dim()),
            });
        }
        let tasks = (n_frames / 64).clamp(1, rayon::current_num_threads());
        let mut scratches: Vec<_> = (0..tasks).map(|_| self.scratch()).collect();
        self.columns_block(y, out, 0, &mut scratches, f);
        Ok(())
    }

    /// Frames `first ..` mapped by `f` into the columns of `out`, halving the columns (and the
    /// scratches) across rayon tasks until one scratch is left.
    fn columns_block<T: Copy + Default + Send>(
        &self,
        y: &[f32],
        mut out: ArrayViewMut2<T>,
        first: usize,
        scratches: &mut [StftScratch],
        f: &(impl Fn(&[Complex32], &mut [T]) + Sync),
    ) {
        match scratches {
            [] => {}
            [scratch] => {
                const BLOCK: usize = 64;
                let rows = out.nrows();
                let n = out.ncols();
                let mut block = vec![T::default(); BLOCK * rows];
                for start in (0..n).step_by(BLOCK) {
                    let len = BLOCK.min(n - start);
                    let frames = first + start..first + start + len;
                    self.frames_in(y, frames, scratch, |t, spectrum| {
                        let r = (t - first - start) * rows;
                        f(spectrum, &mut block[r..r + rows]);
                    });
                    let mut columns = out.slice_mut(ndarray::s![.., start..start + len]);
                    for (k, mut row) in columns.rows_mut().into_iter().enumerate() {
                        for (j, o) in row.iter_mut().enumerate() {
                            *o = block[j * rows + k];
                        }
                    }
                }
            }
            _ => {
                let (left, right) = scratches.split_at_mut(scratches.len() / 2);
                let mid = out.ncols() * left.len() / (left.len() + right.len());
                let (a, b) = out.split_at(Axis(1), mid);
                rayon::join(
                    || self.columns_block(y, a, first, left, f),
                    || self.columns_block(y, b, first + mid, right, f),
                );
            }
        }
    }

    /// Run the STFT of `y` in parallel blocks of frames, one block per scratch: `rows` holds
    /// one row of `row_len` values per frame, and `f(t, spectrum, row)` consumes frame `t`'s
    /// spectrum into its row — while both are in cache, which is what iterative methods need.
    ///
    /// # Errors
    /// As [`StftParams::n_frames`]; [`Error::ShapeMismatch`] when `rows` does not hold one row
    /// per frame; [`Error::InvalidParameter`] without scratches.
    pub fn process_rows<T: Send>(
        &self,
        y: &[f32],
        rows: &mut [T],
        row_len: usize,
        scratches: &mut [StftScratch],
        f: &(impl Fn(usize, &[Complex32], &mut [T]) + Sync),
    ) -> Result<()> {
        let n_frames = self.params.n_frames(y.len())?;
        if rows.len() != n_frames * row_len {
            return Err(Error::ShapeMismatch {
                what: "STFT rows".into(),
                expected: format!("{n_frames} × {row_len}"),
                got: rows.len().to_string(),
            });
        }
        if scratches.is_empty() {
            return Err(Error::param("scratches", 0, "need at least one"));
        }
        self.rows_block(y, rows, row_len, 0, scratches, f);
        Ok(())
    }

    /// Frames from `first` into `rows`, halving the rows (and the scratches) across rayon
    /// tasks until one scratch is left.
    fn rows_block<T: Send>(
        &self,
        y: &[f32],
        rows: &mut [T],
        row_len: usize,
        first: usize,
        scratches: &mut [StftScratch],
        f: &(impl Fn(usize, &[Complex32], &mut [T]) + Sync),
    ) {
        let n = rows.len() / row_len;
        match scratches {
            [] => {}
            [scratch] => self.frames_in(y, first..first + n, scratch, |t, spectrum| {
                let r = (t - first) * row_len;
                f(t, spectrum, &mut rows[r..r + row_len]);
            }),
            _ => {
                let (left, right) = scratches.split_at_mut(scratches.len() / 2);
                let mid = n * left.len() / (left.len() + right.len());
                let (a, b) = rows.split_at_mut(mid * row_len);
                rayon::join(
                    || self.rows_block(y, a, row_len, first, left, f),
                    || self.rows_block(y, b, row_len, first + mid, right, f),
                );
            }
        }
    }

    /// Run the STFT of `y` frame by frame, calling `f(t, spectrum)` with the `n_fft/2 + 1`
    /// complex bins of frame `t`. Allocation-free given `scratch`; the basis of every
    /// spectrogram computed in this crate.
    ///
    /// # Errors
    /// As [`StftParams::n_frames`].
    pub fn for_each_frame(
        &self,
        y: &[f32],
        scratch: &mut StftScratch,
        f: impl FnMut(usize, &[Complex32]),
    ) -> Result<()> {
        let n_frames = self.params.n_frames(y.len())?;
        self.frames_in(y, 0..n_frames, scratch, f);
        Ok(())
    }

    /// The frames `range` (valid frame indices) of `y`'s STFT, one by one.
    fn frames_in(
        &self,
        y: &[f32],
        range: std::ops::Range<usize>,
        scratch: &mut StftScratch,
        mut f: impl FnMut(usize, &[Complex32]),
    ) {
        let p = &self.params;
        let pad = if p.center { (p.n_fft / 2) as isize } else { 0 };
        let len = y.len() as isize;
        for t in range {
            let start = (t * p.hop_length) as isize - pad;
            let frame = &mut scratch.frame;
            if start >= 0 && start + p.n_fft as isize <= len {
                let s = start as usize;
                for ((o, x), w) in frame.iter_mut().zip(&y[s..s + p.n_fft]).zip(&self.window) {
                    *o = x * w;
                }
            } else {
                for (n, (o, w)) in frame.iter_mut().zip(&self.window).enumerate() {
                    let i = start + n as isize;
                    *o = w * padded_sample(y, i, p.pad_mode);
                }
            }
            self.fft
                .process_with_scratch(frame, &mut scratch.spectrum, &mut scratch.fft)
                .expect("FFT buffers are sized by the plan");
            f(t, &scratch.spectrum);
        }
    }
}

/// Sample `i` of `y` extended beyond its ends by `mode` (`y` non-empty).
fn padded_sample(y: &[f32], i: isize, mode: PadMode) -> f32 {
    padded_index(y.len(), i, mode).map_or(0.0, |j| y[j])
}

/// Which sample of a signal of `len > 0` samples position `i` of its extension by `mode` holds:
/// `None` for a constant (zero) pad.
pub(crate) fn padded_index(len: usize, i: isize, mode: PadMode) -> Option<usize> {
    let n = len as isize;
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        PadMode::Constant => None,
        PadMode::Reflect if n == 1 => Some(0),
        PadMode::Reflect => {
            // numpy's reflect repeats the mirror image with period 2(len − 1).
            let period = 2 * (n - 1);
            let m = i.rem_euclid(period);
            Some((if m < n { m } else { period - m }) as usize)
        }
    }
}

/// A planned inverse STFT (`librosa.istft`): windowed inverse FFT, overlap-add, division by the
/// window sum-square envelope where it exceeds the smallest normal f32.
#[derive(Clone)]
pub struct Istft {
    params: StftParams,
    window: Vec<f32>,
    ifft: Arc<dyn ComplexToReal<f32>>,
}

impl std::fmt::Debug for Istft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Istft")
            .field("params", &self.params)
            .finish()
    }
}

/// Reusable buffers for [`Istft::process_into`].
pub struct IstftScratch {
    spectrum: Vec<Complex32>,
    frame: Vec<f32>,
    fft: Vec<Complex32>,
    /// Reciprocal of the window sum-square envelope (1 where it is negligible), for
    /// `envelope_frames` frames: kept across calls with the same frame count.
    inv_envelope: Vec<f32>,
    envelope_frames: usize,
    /// Overlap-added block of frames starting at frame `block_first`.
    full: Vec<f32>,
    block_first: usize,
}

impl Istft {
    /// Plan an inverse STFT.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `params` do not validate.
    pub fn new(params: StftParams) -> Result<Self> {
        params.validate()?;
        let window = params.window.padded(params.win_length, params.n_fft)?;
        let ifft = RealFftPlanner::<f32>::new().plan_fft_inverse(params.n_fft);
        Ok(Istft {
            params,
            window,
            ifft,
        })
    }

    /// Buffers for [`Istft::process_into`].
    pub fn scratch(&self) -> IstftScratch {
        IstftScratch {
            spectrum: self.ifft.make_input_vec(),
            frame: self.ifft.make_output_vec(),
            fft: self.ifft.make_scratch_vec(),
            inv_envelope: Vec::new(),
            envelope_frames: 0,
            full: Vec::new(),
            block_first: 0,
        }
    }

    /// Output length in samples for `n_frames` frames when no length is requested.
    pub fn default_len(&self, n_frames: usize) -> usize {
        let p = &self.params;
        let full = p.n_fft + p.hop_length * n_frames.saturating_sub(1);
        if p.center {
            full.saturating_sub(2 * (p.n_fft / 2))
        } else {
            full
        }
    }

    /// Signal from a complex spectrogram `(n_fft/2 + 1, frames)`; `length` fixes the output
    /// length in samples (zero-padded or trimmed), otherwise [`Istft::default_len`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the bin count is not `n_fft/2 + 1`.
    pub fn process(&self, stft: ArrayView2<Complex32>, length: Option<usize>) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.process_into(stft, length, &mut out, &mut [self.scratch()])?;
        Ok(out)
    }

    /// As [`Istft::process`], writing into `out` (resized). The frames are split into
    /// `scratches.len()` blocks overlap-added in parallel (one scratch per block, at least one),
    /// then summed; buffers are reused across calls.
    ///
    /// # Errors
    /// As [`Istft::process`].
    pub fn process_into(
        &self,
        stft: ArrayView2<Complex32>,
        length: Option<usize>,
        out: &mut Vec<f32>,
        scratches: &mut [IstftScratch],
    ) -> Result<()> {
        let p = &self.params;
        let start = if p.center { p.n_fft / 2 } else { 0 };
        let out_len = length.unwrap_or_else(|| self.default_len(stft.ncols()));
        // Frames starting at or after the end of the requested output contribute nothing.
        let n_frames = stft.ncols().min((start + out_len).div_ceil(p.hop_length));
        let stft = stft.slice_axis(Axis(1), ndarray::Slice::from(..n_frames));
        self.overlap_add_into(stft, out, scratches)?;
        let full_len = out.len();
        let env = &mut scratches[0];
        if env.envelope_frames != n_frames || env.inv_envelope.len() != full_len {
            self.inverse_envelope(n_frames, &mut env.inv_envelope);
            env.envelope_frames = n_frames;
        }
        for (x, e) in out.iter_mut().zip(&env.inv_envelope) {
            *x *= e;
        }
        out.drain(..start.min(full_len));
        out.resize(out_len, 0.0);
        Ok(())
    }

    /// The windowed inverse FFTs of the frames of `stft` `(n_fft/2 + 1, frames)` overlap-added
    /// into `out` (resized to `n_fft + hop·(frames − 1)` samples of the padded signal), without
    /// the envelope division and without removing the centre padding:
    /// `out[u] = Σ_t w[u − t·hop] · irfft(X_t)[u − t·hop]`. With every bin scaled by `n_fft` and
    /// the bins other than DC and Nyquist halved, this is the adjoint of the (padded) STFT —
    /// what a gradient through the STFT needs. Parallel over `scratches.len()` blocks.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the bin count is not `n_fft/2 + 1`;
    /// [`Error::InvalidParameter`] without scratches.
    pub fn overlap_add_into(
        &self,
        stft: ArrayView2<Complex32>,
        out: &mut Vec<f32>,
        scratches: &mut [IstftScratch],
    ) -> Result<()> {
        let p = &self.params;
        if stft.nrows() != p.n_bins() {
            return Err(Error::ShapeMismatch {
                what: "STFT bins".into(),
                expected: format!("{} (n_fft/2 + 1 for n_fft = {})", p.n_bins(), p.n_fft),
                got: stft.nrows().to_string(),
            });
        }
        if scratches.is_empty() {
            return Err(Error::param("scratches", 0, "need at least one"));
        }
        self.overlap_add_blocks(stft, 0, scratches);
        out.clear();
        out.resize(p.n_fft + p.hop_length * stft.ncols().saturating_sub(1), 0.0);
        for scratch in scratches.iter() {
            let offset = scratch.block_first * p.hop_length;
            for (o, x) in out[offset..].iter_mut().zip(&scratch.full) {
                *o += x;
            }
        }
        Ok(())
    }

    /// `1 / Σ_t w²[n − t·hop]` over `n_frames` frames, 1 where the sum is negligible.
    fn inverse_envelope(&self, n_frames: usize, env: &mut Vec<f32>) {
        let p = &self.params;
        env.clear();
        env.resize(p.n_fft + p.hop_length * n_frames.saturating_sub(1), 0.0);
        for t in 0..n_frames {
            let offset = t * p.hop_length;
            for (e, w) in env[offset..offset + p.n_fft].iter_mut().zip(&self.window) {
                *e += w * w;
            }
        }
        for e in env.iter_mut() {
            *e = if *e > f32::MIN_POSITIVE {
                1.0 / *e
            } else {
                1.0
            };
        }
    }

    /// Overlap-add the frames of `stft` (frame `first` onwards) into each scratch's `full`
    /// buffer, halving the frames (and the scratches) across rayon tasks.
    fn overlap_add_blocks(
        &self,
        stft: ArrayView2<Complex32>,
        first: usize,
        scratches: &mut [IstftScratch],
    ) {
        match scratches {
            [] => {}
            [scratch] => self.overlap_add(stft, first, scratch),
            _ => {
                let (left, right) = scratches.split_at_mut(scratches.len() / 2);
                let mid = stft.ncols() * left.len() / (left.len() + right.len());
                let (a, b) = stft.split_at(Axis(1), mid);
                rayon::join(
                    || self.overlap_add_blocks(a, first, left),
                    || self.overlap_add_blocks(b, first + mid, right),
                );
            }
        }
    }

    /// Windowed inverse FFTs of the frames of `stft`, overlap-added into `scratch.full`
    /// (which starts at sample `first · hop`).
    fn overlap_add(&self, stft: ArrayView2<Complex32>, first: usize, scratch: &mut IstftScratch) {
        let p = &self.params;
        let (n_bins, n) = stft.dim();
        scratch.block_first = first;
        scratch.full.clear();
        if n == 0 {
            return;
        }
        scratch.full.resize(p.n_fft + p.hop_length * (n - 1), 0.0);
        let scale = 1.0 / p.n_fft as f32;
        for t in 0..n {
            for (s, x) in scratch.spectrum.iter_mut().zip(stft.column(t)) {
                *s = *x;
            }
            // numpy's irfft ignores the imaginary parts of the DC and Nyquist bins.
            scratch.spectrum[0].im = 0.0;
            if p.n_fft.is_multiple_of(2) {
                scratch.spectrum[n_bins - 1].im = 0.0;
            }
            self.ifft
                .process_with_scratch(&mut scratch.spectrum, &mut scratch.frame, &mut scratch.fft)
                .expect("iFFT buffers are sized by the plan");
            let offset = t * p.hop_length;
            for ((o, x), w) in scratch.full[offset..offset + p.n_fft]
                .iter_mut()
                .zip(&scratch.frame)
                .zip(&self.window)
            {
                *o += x * scale * w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_follows_librosa() {
        let p = StftParams::new(2048);
        assert_eq!(p.n_frames(22050).unwrap(), 1 + 22050 / 512);
        let nc = StftParams { center: false, ..p };
        assert_eq!(nc.n_frames(2048).unwrap(), 1);
        assert!(nc.n_frames(2047).is_err());
        assert!(p.n_frames(0).is_err());
    }

    #[test]
    fn reflect_padding_mirrors_like_numpy() {
        let y = [1.0, 2.0, 3.0];
        // np.pad([1, 2, 3], 5, mode="reflect")
        let got: Vec<f32> = (-5..8)
            .map(|i| padded_sample(&y, i, PadMode::Reflect))
            .collect();
        assert_eq!(
            got,
            vec![2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
        );
    }

    #[test]
    fn dc_signal_has_energy_only_in_bin_zero() {
        let stft = Stft::new(StftParams::new(16)).unwrap();
        let s = stft.process(&[1.0; 64]).unwrap();
        let mid = s.column(4);
        assert!(
            (mid[0].re - 8.0).abs() < 1e-5,
            "sum of periodic Hann(16) is 8"
        );
        assert!(mid.iter().skip(2).all(|c| c.norm() < 1e-5));
    }
}
