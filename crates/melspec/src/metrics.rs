//! Quality metrics of a reconstruction. Spectrograms are `(bins, frames)`; when frame counts
//! differ, the common leading frames are compared.

use ndarray::{ArrayView2, Axis, Slice};

use crate::error::{Error, Result};

/// The two spectrograms cut to their common frames.
fn common<'a, 'b>(
    a: ArrayView2<'a, f32>,
    b: ArrayView2<'b, f32>,
) -> Result<(ArrayView2<'a, f32>, ArrayView2<'b, f32>)> {
    if a.nrows() != b.nrows() {
        return Err(Error::ShapeMismatch {
            what: "spectrogram rows".into(),
            expected: a.nrows().to_string(),
            got: b.nrows().to_string(),
        });
    }
    let t = Slice::from(..a.ncols().min(b.ncols()));
    Ok((a.slice_axis_move(Axis(1), t), b.slice_axis_move(Axis(1), t)))
}

/// Spectral convergence `20·log10(‖A − Â‖_F / ‖A‖_F)` in dB between a target magnitude `A` and
/// the magnitude `Â` of the reconstruction's STFT (lower is better; −∞ for a perfect match).
///
/// # Errors
/// [`Error::ShapeMismatch`] when the bin counts differ.
pub fn spectral_convergence_db(target: ArrayView2<f32>, estimate: ArrayView2<f32>) -> Result<f32> {
    Ok((10.0 * squared_relative_error(target, estimate)?.log10()) as f32)
}

/// `‖A − Â‖²_F / ‖A‖²_F` over the common frames, in f64.
fn squared_relative_error(target: ArrayView2<f32>, estimate: ArrayView2<f32>) -> Result<f64> {
    let (a, b) = common(target, estimate)?;
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b.iter()) {
        num += f64::from(x - y).powi(2);
        den += f64::from(*x).powi(2);
    }
    Ok(num / den.max(f64::MIN_POSITIVE))
}

/// Power floor of [`log_spectral_distance_db`], relative to the target's peak power
/// (−100 dB): quieter bins count as −100 dB.
pub const LSD_FLOOR: f64 = 1e-10;

/// Log-spectral distance in dB: per frame, the RMS over bins of the difference of the two
/// power spectra in dB (`10·log10(max(|X|², floor))` with `floor = 1e-10 · max |A|²`), averaged
/// over frames.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the bin counts differ.
pub fn log_spectral_distance_db(target: ArrayView2<f32>, estimate: ArrayView2<f32>) -> Result<f32> {
    let (a, b) = common(target, estimate)?;
    let peak = a
        .iter()
        .fold(0.0f64, |m, &v| m.max(f64::from(v) * f64::from(v)));
    let floor = (peak * LSD_FLOOR).max(f64::MIN_POSITIVE);
    let db = |v: f32| 10.0 * (f64::from(v) * f64::from(v)).max(floor).log10();
    let mut total = 0.0f64;
    for (ca, cb) in a.columns().into_iter().zip(b.columns()) {
        let ms: f64 = ca
            .iter()
            .zip(cb.iter())
            .map(|(x, y)| (db(*x) - db(*y)).powi(2))
            .sum::<f64>()
            / ca.len() as f64;
        total += ms.sqrt();
    }
    Ok((total / a.ncols().max(1) as f64) as f32)
}

/// Relative error `‖M − M̂‖_F / ‖M‖_F` between two mel spectrograms (same units).
///
/// # Errors
/// [`Error::ShapeMismatch`] when the band counts differ.
pub fn relative_error(target: ArrayView2<f32>, estimate: ArrayView2<f32>) -> Result<f32> {
    Ok(squared_relative_error(target, estimate)?.sqrt() as f32)
}

/// Signal-to-noise ratio `10·log10(Σ x² / Σ (x − y)²)` in dB of `estimate` against
/// `reference`, over their common length. Phase retrieval recovers a signal only up to sign and
/// small shifts, so this is low even for good reconstructions; it is meaningful for warm starts.
pub fn snr_db(reference: &[f32], estimate: &[f32]) -> f32 {
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for (x, y) in reference.iter().zip(estimate) {
        sig += f64::from(*x).powi(2);
        err += f64::from(x - y).powi(2);
    }
    (10.0 * (sig / err.max(f64::MIN_POSITIVE)).log10()) as f32
}
