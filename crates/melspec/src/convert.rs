//! Frequency conversions: Hz ↔ mel, the centre frequencies of mel bands and FFT bins (as
//! `librosa.core.convert`). Decibels are in [`crate::db`].

/// Slaney mel scale: linear part, Hz per mel (200/3).
const F_SP: f64 = 200.0 / 3.0;
/// Slaney mel scale: start of the logarithmic part, Hz.
const MIN_LOG_HZ: f64 = 1000.0;
/// Slaney mel scale: mel value at `MIN_LOG_HZ` (15).
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

/// Log step of the Slaney mel scale above 1 kHz: ln(6.4)/27 per mel.
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz → mel. Slaney (linear below 1 kHz, logarithmic above) unless `htk`, then
/// `2595·log10(1 + f/700)`.
pub fn hz_to_mel(hz: f64, htk: bool) -> f64 {
    if htk {
        return 2595.0 * (1.0 + hz / 700.0).log10();
    }
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Mel → Hz, the inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64, htk: bool) -> f64 {
    if htk {
        return 700.0 * (10f64.powf(mel / 2595.0) - 1.0);
    }
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `n` frequencies (Hz) evenly spaced on the mel scale from `fmin` to `fmax` inclusive
/// (`librosa.mel_frequencies`).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64, htk: bool) -> Vec<f64> {
    let lo = hz_to_mel(fmin, htk);
    let hi = hz_to_mel(fmax, htk);
    linspace(lo, hi, n)
        .into_iter()
        .map(|m| mel_to_hz(m, htk))
        .collect()
}

/// numpy's `linspace(lo, hi, n)` (endpoint included and exact).
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => {
            let step = (hi - lo) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| lo + i as f64 * step).collect();
            v[n - 1] = hi;
            v
        }
    }
}

/// Centre frequency of every FFT bin, `k·sr/n_fft` Hz for `k = 0..=n_fft/2`.
pub fn fft_frequencies(sr: f64, n_fft: usize) -> Vec<f64> {
    (0..=n_fft / 2)
        .map(|k| k as f64 * sr / n_fft as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_is_linear_then_log() {
        assert!((hz_to_mel(1000.0, false) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0, false) - 7.5).abs() < 1e-12);
        for hz in [0.0, 123.0, 999.0, 1000.0, 4321.0, 11025.0] {
            for htk in [false, true] {
                assert!((mel_to_hz(hz_to_mel(hz, htk), htk) - hz).abs() < 1e-9);
            }
        }
    }
}
