//! The JSON file written next to every spectrogram `.npy`: the parameters that made it, its
//! scale, and where it came from, so that inversion can default to the right settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::Scale;
use crate::error::{Error, Result};
use crate::preset::AnalysisParams;

/// What a spectrogram's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpectrogramKind {
    /// `n_mels` mel bands.
    Mel,
    /// `n_fft/2 + 1` linear-frequency STFT bins.
    Linear,
}

impl Source {
    /// The source entry for `audio` read from `path`.
    pub fn of(path: &Path, audio: &crate::audio::Audio) -> Self {
        Source {
            path: PathBuf::from(path.to_string_lossy().into_owned()),
            sr: audio.source_sr,
            channels: audio.source_channels,
            samples: audio.source_len,
            analysed_samples: audio.samples.len(),
        }
    }
}

/// The audio a spectrogram was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Path as given by the user (JSON holds UTF-8 only: store names that are not with their
    /// invalid bytes replaced, as `Path::to_string_lossy` does).
    pub path: PathBuf,
    /// Sample rate of the file, Hz.
    pub sr: u32,
    /// Channels in the file.
    pub channels: u16,
    /// Length of the file, samples per channel at `sr`.
    pub samples: usize,
    /// Length of the analysed (resampled) signal, samples at the analysis rate.
    pub analysed_samples: usize,
}

/// Everything needed to interpret a spectrogram `.npy` of shape `shape = (rows, frames)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Mel or linear-frequency rows.
    pub kind: SpectrogramKind,
    /// Analysis parameters (`fmax` resolved to Hz).
    pub params: AnalysisParams,
    /// Linear or dB values.
    #[serde(flatten)]
    pub scale: Scale,
    /// `(rows, frames)` of the array.
    pub shape: [usize; 2],
    /// Source audio, when the spectrogram came from a file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<Source>,
}

impl Sidecar {
    /// The sidecar path for an array path: `OUT.npy` → `OUT.json`.
    pub fn path_for(npy: &Path) -> PathBuf {
        npy.with_extension("json")
    }

    /// Read a sidecar file and check it: valid parameters, a shape that fits them, a usable
    /// dB scale, and a source length that gives the stated number of frames.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::InvalidInput`] naming the file when it is
    /// not valid.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let invalid = |reason: String| {
            Error::InvalidInput(format!("{}: invalid sidecar: {reason}", path.display()))
        };
        let sidecar: Sidecar = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        sidecar.validate().map_err(|e| invalid(e.to_string()))?;
        Ok(sidecar)
    }

    /// Check that the fields agree with each other (see [`Sidecar::read`]).
    ///
    /// # Errors
    /// The first disagreement found.
    pub fn validate(&self) -> Result<()> {
        let p = &self.params;
        p.validate()?;
        let rows = match self.kind {
            SpectrogramKind::Mel => p.n_mels,
            SpectrogramKind::Linear => p.stft.n_fft / 2 + 1,
        };
        let [r, frames] = self.shape;
        if r != rows || frames == 0 {
            return Err(Error::InvalidInput(format!(
                "shape {:?} does not fit the parameters (expected {rows} rows and at least one frame)",
                self.shape
            )));
        }
        if let Scale::Db {
            reference,
            amin,
            top_db,
        } = self.scale
        {
            let usable = reference.is_finite()
                && reference >= 0.0
                && amin.is_finite()
                && amin >= 0.0
                && top_db.is_none_or(|t| t.is_finite() && t >= 0.0);
            if !usable {
                return Err(Error::InvalidInput(format!(
                    "dB scale needs a non-negative reference, a non-negative amin and top_db \
                     (got reference {reference}, amin {amin}, top_db {top_db:?})"
                )));
            }
        }
        if let Some(source) = &self.source {
            let expected = p.stft.n_frames(source.analysed_samples).ok();
            if expected != Some(frames) {
                return Err(Error::InvalidInput(format!(
                    "analysed_samples = {} does not give the {frames} frames of the shape",
                    source.analysed_samples
                )));
            }
        }
        Ok(())
    }

    /// Write the sidecar as pretty JSON.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be written, [`Error::InvalidInput`] when a field cannot be
    /// written as JSON (a source path that is not UTF-8: see [`Source::path`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| {
            Error::InvalidInput(format!("{}: cannot write sidecar: {e}", path.display()))
        })?;
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let s = Sidecar {
            kind: SpectrogramKind::Mel,
            params: AnalysisParams::default(),
            scale: Scale::Db {
                reference: 3.5,
                amin: 1e-10,
                top_db: Some(80.0),
            },
            shape: [128, 10],
            source: None,
        };
        s.write(&path).unwrap();
        assert_eq!(Sidecar::read(&path).unwrap(), s);
        assert_eq!(
            Sidecar::path_for(Path::new("a/b.npy")),
            Path::new("a/b.json")
        );
    }
}
