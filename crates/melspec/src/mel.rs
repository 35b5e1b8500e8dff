//! Mel filterbank (`librosa.filters.mel`) stored sparsely, and the mel-spectrogram plan
//! (`librosa.feature.melspectrogram`).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::convert::{fft_frequencies, mel_frequencies};
use crate::error::{Error, Result};
use crate::stft::{Stft, StftParams};

/// Area normalisation of the mel filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Divide each triangle by half its bandwidth in Hz, `2/(f[i+2] − f[i])` (librosa default).
    #[default]
    Slaney,
    /// Peak-1 triangles.
    None,
}

impl MelNorm {
    /// Name as used on the command line and in sidecar files.
    pub fn name(self) -> &'static str {
        match self {
            MelNorm::Slaney => "slaney",
            MelNorm::None => "none",
        }
    }
}

impl std::str::FromStr for MelNorm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "slaney" => Ok(MelNorm::Slaney),
            "none" => Ok(MelNorm::None),
            _ => Err(Error::param("norm", s, "expected slaney or none")),
        }
    }
}

/// Parameters of a mel filterbank. Frequencies in Hz.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MelParams {
    /// Sample rate, Hz.
    pub sr: f64,
    /// FFT size the filters apply to (`n_fft/2 + 1` bins).
    pub n_fft: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lower edge of the lowest band, Hz.
    pub fmin: f64,
    /// Upper edge of the highest band, Hz (at most `sr/2`).
    pub fmax: f64,
    /// HTK mel scale instead of Slaney.
    pub htk: bool,
    /// Filter normalisation.
    pub norm: MelNorm,
}

impl MelParams {
    /// Check that the parameters are usable.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        use crate::limits::{MAX_N_FFT, MAX_N_MELS, MAX_SAMPLE_RATE};
        if !(self.sr.is_finite() && self.sr > 0.0 && self.sr <= f64::from(MAX_SAMPLE_RATE)) {
            return Err(Error::param(
                "sr",
                self.sr,
                format!("must be between 1 and {MAX_SAMPLE_RATE} Hz"),
            ));
        }
        if self.n_fft < 2 || self.n_fft > MAX_N_FFT {
            return Err(Error::param(
                "n_fft",
                self.n_fft,
                format!("must be between 2 and {MAX_N_FFT}"),
            ));
        }
        if self.n_mels == 0 || self.n_mels > MAX_N_MELS {
            return Err(Error::param(
                "n_mels",
                self.n_mels,
                format!("must be between 1 and {MAX_N_MELS}"),
            ));
        }
        if !(self.fmin.is_finite() && self.fmin >= 0.0) {
            return Err(Error::param("fmin", self.fmin, "must be non-negative"));
        }
        let nyquist = self.sr / 2.0;
        if !(self.fmax.is_finite() && self.fmax <= nyquist) {
            return Err(Error::param(
                "fmax",
                self.fmax,
                format!("must not exceed sr/2 = {nyquist} Hz"),
            ));
        }
        if self.fmin >= self.fmax {
            return Err(Error::param(
                "fmin",
                self.fmin,
                format!("must be below fmax = {} Hz", self.fmax),
            ));
        }
        Ok(())
    }
}

/// One triangular filter: weights for bins `start .. start + weights.len()`.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    start: usize,
    weights: Vec<f32>,
}

/// A mel filterbank `W` of shape `(n_mels, n_fft/2 + 1)`, built in f64, stored as f32 with only
/// each filter's non-zero support.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBasis {
    params: MelParams,
    n_bins: usize,
    filters: Vec<Filter>,
    empty: Vec<usize>,
}

impl MelBasis {
    /// Build the filterbank exactly as `librosa.filters.mel`: `n_mels + 2` edges evenly spaced in
    /// mel, triangles evaluated at the bin frequencies `k·sr/n_fft`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `params` do not validate.
    pub fn new(params: MelParams) -> Result<Self> {
        params.validate()?;
        let n_bins = params.n_fft / 2 + 1;
        let fft_f = fft_frequencies(params.sr, params.n_fft);
        let mel_f = mel_frequencies(params.n_mels + 2, params.fmin, params.fmax, params.htk);
        let mut filters = Vec::with_capacity(params.n_mels);
        let mut empty = Vec::new();
        for i in 0..params.n_mels {
            let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
            let enorm = match params.norm {
                MelNorm::Slaney => 2.0 / (hi - lo),
                MelNorm::None => 1.0,
            };
            let dense: Vec<f32> = fft_f
                .iter()
                .map(|&f| {
                    let w = ((f - lo) / (mid - lo)).min((hi - f) / (hi - mid)).max(0.0);
                    // librosa stores the triangle as f32 before scaling it in place.
                    ((w as f32) as f64 * enorm) as f32
                })
                .collect();
            let start = dense.iter().position(|&w| w > 0.0);
            let filter = match start {
                Some(s) => {
                    let end = dense.iter().rposition(|&w| w > 0.0).map_or(s, |e| e + 1);
                    Filter {
                        start: s,
                        weights: dense[s..end].to_vec(),
                    }
                }
                None => {
                    // librosa warns about empty filters except one starting at 0 Hz.
                    if lo != 0.0 {
                        empty.push(i);
                    }
                    Filter {
                        start: 0,
                        weights: Vec::new(),
                    }
                }
            };
            filters.push(filter);
        }
        Ok(MelBasis {
            params,
            n_bins,
            filters,
            empty,
        })
    }

    /// The parameters this filterbank was built from.
    pub fn params(&self) -> &MelParams {
        &self.params
    }

    /// Number of mel bands (rows).
    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    /// Number of FFT bins (columns), `n_fft/2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Indices of filters that cover no FFT bin (too many mels for this `n_fft`); librosa warns
    /// "Empty filters detected" for the same filters.
    pub fn empty_filters(&self) -> &[usize] {
        &self.empty
    }

    /// Each filter's support: (first bin, weights), in mel order.
    pub(crate) fn supports(&self) -> impl Iterator<Item = (usize, &[f32])> {
        self.filters.iter().map(|f| (f.start, f.weights.as_slice()))
    }

    /// The dense matrix `W`, shape `(n_mels, n_fft/2 + 1)`.
    pub fn to_dense(&self) -> Array2<f32> {
        let mut w = Array2::zeros((self.n_mels(), self.n_bins));
        for (m, f) in self.filters.iter().enumerate() {
            for (k, &v) in f.weights.iter().enumerate() {
                w[[m, f.start + k]] = v;
            }
        }
        w
    }

    /// `out = W · spectrum` for one frame: `spectrum` has `n_fft/2 + 1` bins, `out` `n_mels`.
    pub fn apply_frame(&self, spectrum: &[f32], out: &mut [f32]) {
        debug_assert_eq!(spectrum.len(), self.n_bins);
        for (o, f) in out.iter_mut().zip(&self.filters) {
            *o = dot(&spectrum[f.start..f.start + f.weights.len()], &f.weights);
        }
    }

    /// `W · S` for a spectrogram `S` of shape `(n_fft/2 + 1, frames)`, giving
    /// `(n_mels, frames)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `S` does not have `n_fft/2 + 1` rows.
    pub fn apply(&self, s: ndarray::ArrayView2<f32>) -> Result<Array2<f32>> {
        if s.nrows() != self.n_bins {
            return Err(Error::ShapeMismatch {
                what: "spectrogram bins".into(),
                expected: self.n_bins.to_string(),
                got: s.nrows().to_string(),
            });
        }
        let mut out = Array2::zeros((self.n_mels(), s.ncols()));
        let mut column = vec![0.0; self.n_bins];
        let mut mel = vec![0.0; self.n_mels()];
        for t in 0..s.ncols() {
            column
                .iter_mut()
                .zip(s.column(t))
                .for_each(|(c, x)| *c = *x);
            self.apply_frame(&column, &mut mel);
            out.column_mut(t)
                .iter_mut()
                .zip(&mel)
                .for_each(|(o, m)| *o = *m);
        }
        Ok(out)
    }
}

/// Dot product with eight independent partial sums, so that the compiler can vectorise it
/// (a single running f32 sum cannot be reordered).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len());
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// A planned mel spectrogram: STFT, `|X|^power`, filterbank — one pass per frame, no STFT
/// matrix kept.
#[derive(Debug, Clone)]
pub struct MelSpectrogram {
    stft: Stft,
    basis: MelBasis,
    power: f32,
}

impl MelSpectrogram {
    /// Plan a mel spectrogram; `power` is 2 for power, 1 for magnitude (any positive value is
    /// allowed).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad STFT or mel parameters, mismatching `n_fft`, or a
    /// non-positive `power`.
    pub fn new(stft: StftParams, mel: MelParams, power: f32) -> Result<Self> {
        if stft.n_fft != mel.n_fft {
            return Err(Error::param(
                "n_fft",
                mel.n_fft,
                format!("filterbank n_fft differs from STFT n_fft = {}", stft.n_fft),
            ));
        }
        if !(power.is_finite() && power > 0.0) {
            return Err(Error::param("power", power, "must be positive"));
        }
        Ok(MelSpectrogram {
            stft: Stft::new(stft)?,
            basis: MelBasis::new(mel)?,
            power,
        })
    }

    /// The filterbank.
    pub fn basis(&self) -> &MelBasis {
        &self.basis
    }

    /// The STFT plan.
    pub fn stft(&self) -> &Stft {
        &self.stft
    }

    /// The exponent `p` of `|X|^p` the filterbank sums (2 for power, 1 for magnitude).
    pub fn power(&self) -> f32 {
        self.power
    }

    /// Mel spectrogram of `y`, shape `(n_mels, frames)`, in power (`power = 2`) or magnitude
    /// (`power = 1`) units. Blocks of frames run in parallel ([`Stft::map_frames_into`]); the
    /// result does not depend on the thread count.
    ///
    /// # Errors
    /// As [`StftParams::n_frames`]; [`Error::TooLarge`] when the result would not fit the
    /// memory budget ([`crate::limits`]).
    pub fn process(&self, y: &[f32]) -> Result<Array2<f32>> {
        let n_frames = self.stft.params().n_frames(y.len())?;
        crate::limits::ensure_array("the mel spectrogram", &[self.basis.n_mels(), n_frames], 4)?;
        let mut out = Array2::<f32>::zeros((self.basis.n_mels(), n_frames));
        let p = self.power;
        self.stft
            .map_frames_into(y, out.view_mut(), &|spectrum, mel| {
                POWER.with_borrow_mut(|power| {
                    power.clear();
                    if p == 2.0 {
                        power.extend(spectrum.iter().map(|c| c.norm_sqr()));
                    } else if p == 1.0 {
                        power.extend(spectrum.iter().map(|c| c.norm_sqr().sqrt()));
                    } else {
                        power.extend(spectrum.iter().map(|c| c.norm_sqr().powf(0.5 * p)));
                    }
                    self.basis.apply_frame(power, mel);
                })
            })?;
        Ok(out)
    }
}

thread_local! {
    /// `|X|^power` of one frame, per thread, for [`MelSpectrogram::process`].
    static POWER: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n_mels: usize) -> MelParams {
        MelParams {
            sr: 22050.0,
            n_fft: 2048,
            n_mels,
            fmin: 0.0,
            fmax: 11025.0,
            htk: false,
            norm: MelNorm::Slaney,
        }
    }

    #[test]
    fn sparse_apply_equals_dense_product() {
        let basis = MelBasis::new(params(40)).unwrap();
        let dense = basis.to_dense();
        let spectrum: Vec<f32> = (0..1025).map(|k| ((k * 37) % 101) as f32).collect();
        let mut out = vec![0.0; 40];
        basis.apply_frame(&spectrum, &mut out);
        for m in 0..40 {
            let expect: f32 = (0..1025).map(|k| dense[[m, k]] * spectrum[k]).sum();
            assert!((out[m] - expect).abs() <= 1e-4 * expect.abs().max(1.0));
        }
    }

    #[test]
    fn too_many_mels_reports_empty_filters() {
        let basis = MelBasis::new(MelParams {
            n_fft: 256,
            n_mels: 256,
            ..params(1)
        })
        .unwrap();
        assert!(!basis.empty_filters().is_empty());
        assert!(MelBasis::new(params(128))
            .unwrap()
            .empty_filters()
            .is_empty());
    }

    #[test]
    fn rejects_bad_frequency_ranges() {
        assert!(MelBasis::new(MelParams {
            fmax: 12000.0,
            ..params(10)
        })
        .is_err());
        assert!(MelBasis::new(MelParams {
            fmin: 5000.0,
            fmax: 4000.0,
            ..params(10)
        })
        .is_err());
        assert!(MelBasis::new(params(0)).is_err());
    }

    #[test]
    fn the_result_does_not_depend_on_the_thread_count() {
        let plan = MelSpectrogram::new(StftParams::new(2048), params(128), 2.0).unwrap();
        // 300 frames: several parallel blocks, and a last block shorter than 64 frames.
        let y: Vec<f32> = (0..300 * 512).map(|i| (i as f32 * 0.01).sin()).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| plan.process(&y).unwrap());
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| plan.process(&y).unwrap());
        assert_eq!(one, many);
        // And the same as the frame-by-frame STFT.
        let mut scratch = plan.stft().scratch();
        let mut power = vec![0.0; plan.basis().n_bins()];
        let mut column = vec![0.0; 128];
        plan.stft()
            .for_each_frame(&y, &mut scratch, |t, spectrum| {
                power
                    .iter_mut()
                    .zip(spectrum)
                    .for_each(|(p, c)| *p = c.norm_sqr());
                plan.basis().apply_frame(&power, &mut column);
                assert_eq!(one.column(t).to_vec(), column, "frame {t}");
            })
            .unwrap();
    }
}
