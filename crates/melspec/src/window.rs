//! Analysis windows (scipy.signal.get_window / librosa conventions).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A window shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// Hann: `0.5 − 0.5·cos(2πn/N)`.
    #[default]
    Hann,
    /// Hamming: `0.54 − 0.46·cos(2πn/N)`.
    Hamming,
}

impl Window {
    /// Name as used on the command line and in sidecar files.
    pub fn name(self) -> &'static str {
        match self {
            Window::Hann => "hann",
            Window::Hamming => "hamming",
        }
    }

    /// Samples of the window, length `len`.
    ///
    /// `periodic = true` gives the DFT-even window used for spectral analysis (scipy's
    /// `fftbins=True`, librosa's choice): the symmetric window of length `len + 1` without its
    /// last sample. Computed in f64, returned as f32.
    pub fn samples(self, len: usize, periodic: bool) -> Vec<f32> {
        let (a0, a1) = match self {
            Window::Hann => (0.5, 0.5),
            Window::Hamming => (0.54, 0.46),
        };
        match len {
            0 => Vec::new(),
            1 => vec![1.0],
            _ => {
                let denom = if periodic { len } else { len - 1 } as f64;
                (0..len)
                    .map(|n| {
                        (a0 - a1 * (2.0 * std::f64::consts::PI * n as f64 / denom).cos()) as f32
                    })
                    .collect()
            }
        }
    }

    /// The periodic window of length `win_length`, zero-padded on both sides to `n_fft`
    /// (centred, as `librosa.util.pad_center`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `win_length` is 0 or exceeds `n_fft`.
    pub fn padded(self, win_length: usize, n_fft: usize) -> Result<Vec<f32>> {
        if win_length == 0 || win_length > n_fft {
            return Err(Error::param(
                "win_length",
                win_length,
                format!("must be between 1 and n_fft = {n_fft}"),
            ));
        }
        Ok(pad_center(&self.samples(win_length, true), n_fft))
    }
}

impl std::str::FromStr for Window {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hann" | "hanning" => Ok(Window::Hann),
            "hamming" => Ok(Window::Hamming),
            _ => Err(Error::param("window", s, "expected hann or hamming")),
        }
    }
}

/// Centre `x` in a zero vector of length `size` (librosa's `pad_center`: the extra sample of an
/// odd difference goes to the right). `size` must be at least `x.len()`.
pub fn pad_center(x: &[f32], size: usize) -> Vec<f32> {
    debug_assert!(size >= x.len(), "pad_center needs size >= len");
    let left = (size - x.len()) / 2;
    let mut out = vec![0.0; size];
    out[left..left + x.len()].copy_from_slice(x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_hann_is_symmetric_window_minus_last_sample() {
        let periodic = Window::Hann.samples(8, true);
        let symmetric = Window::Hann.samples(9, false);
        for (p, s) in periodic.iter().zip(&symmetric) {
            assert!((p - s).abs() < 1e-7);
        }
        assert_eq!(periodic[0], 0.0);
        assert!((periodic[4] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn padded_window_is_centred() {
        let w = Window::Hann.padded(4, 8).unwrap();
        assert_eq!(&w[..2], &[0.0, 0.0]);
        assert_eq!(&w[6..], &[0.0, 0.0]);
        assert!(Window::Hann.padded(9, 8).is_err());
        assert!(Window::Hann.padded(0, 8).is_err());
    }
}
