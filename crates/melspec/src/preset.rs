//! Complete analysis parameter sets and the named presets of DESIGN.md §3.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::mel::{MelNorm, MelParams};
use crate::stft::{PadMode, StftParams};
use crate::window::Window;

/// Every parameter of audio → mel analysis. Lengths in samples, frequencies in Hz.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisParams {
    /// Sample rate the audio is resampled to, Hz.
    pub sr: u32,
    /// The STFT: FFT size, hop, window length and shape, centring and its padding (in the
    /// file formats its fields sit beside the others, as they always have).
    #[serde(flatten)]
    pub stft: StftParams,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest mel edge, Hz.
    pub fmin: f64,
    /// Highest mel edge, Hz; `None` means `sr/2`.
    pub fmax: Option<f64>,
    /// HTK mel scale instead of Slaney.
    pub htk: bool,
    /// Mel filter normalisation.
    pub norm: MelNorm,
    /// Exponent of the magnitude: 2 = power, 1 = magnitude.
    pub power: f32,
}

/// A named parameter set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// Name used with `--preset`.
    pub name: &'static str,
    /// What it is for.
    pub note: &'static str,
    /// The parameters.
    pub params: AnalysisParams,
}

const fn preset(
    sr: u32,
    n_fft: usize,
    hop_length: usize,
    n_mels: usize,
    fmin: f64,
    fmax: Option<f64>,
) -> AnalysisParams {
    AnalysisParams {
        sr,
        stft: StftParams {
            n_fft,
            hop_length,
            win_length: n_fft,
            window: Window::Hann,
            center: true,
            pad_mode: PadMode::Constant,
        },
        n_mels,
        fmin,
        fmax,
        htk: false,
        norm: MelNorm::Slaney,
        power: 2.0,
    }
}

/// The presets of DESIGN.md §3, the first being the default.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "librosa",
        note: "librosa defaults",
        params: preset(22050, 2048, 512, 128, 0.0, None),
    },
    Preset {
        name: "speech",
        note: "common TTS/vocoder setting",
        params: preset(22050, 1024, 256, 80, 0.0, Some(8000.0)),
    },
    Preset {
        name: "melnet-small",
        note: "the MelNet-Tensorflow README setting",
        params: preset(24000, 2048, 512, 32, 300.0, Some(8000.0)),
    },
    Preset {
        name: "melnet-paper",
        note: "MelNet paper: n_fft = 6·hop, mels = hop",
        params: preset(22050, 1536, 256, 256, 0.0, None),
    },
];

impl Preset {
    /// Look a preset up by name.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] listing the known names.
    pub fn by_name(name: &str) -> Result<&'static Preset> {
        PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
            Error::param(
                "preset",
                name,
                format!("known presets: {}", names.join(", ")),
            )
        })
    }
}

impl Default for AnalysisParams {
    fn default() -> Self {
        PRESETS[0].params
    }
}

impl AnalysisParams {
    /// Upper mel edge in Hz (`fmax`, or `sr/2` when unset).
    pub fn fmax_hz(&self) -> f64 {
        self.fmax.unwrap_or(f64::from(self.sr) / 2.0)
    }

    /// The filterbank part.
    pub fn mel(&self) -> MelParams {
        MelParams {
            sr: f64::from(self.sr),
            n_fft: self.stft.n_fft,
            n_mels: self.n_mels,
            fmin: self.fmin,
            fmax: self.fmax_hz(),
            htk: self.htk,
            norm: self.norm,
        }
    }

    /// Check every parameter (sample rate, STFT geometry, mel range, power).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        let max_sr = crate::limits::MAX_SAMPLE_RATE;
        if self.sr == 0 || self.sr > max_sr {
            return Err(Error::param(
                "sr",
                self.sr,
                format!("must be between 1 and {max_sr} Hz"),
            ));
        }
        self.stft.validate()?;
        self.mel().validate()?;
        if !(self.power.is_finite() && self.power > 0.0) {
            return Err(Error::param("power", self.power, "must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_validates() {
        for p in PRESETS {
            p.params.validate().unwrap();
        }
        assert_eq!(Preset::by_name("speech").unwrap().params.n_mels, 80);
        assert!(Preset::by_name("nope").is_err());
    }
}
