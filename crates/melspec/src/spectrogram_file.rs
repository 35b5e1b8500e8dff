//! A spectrogram file: a `.npy` `(bins, frames)` and, when there is one, its sidecar JSON
//! ([`Sidecar`]: the analysis parameters, mel or linear, the scale, the source) — read with
//! its checks, and inverted to audio (`melnet invert`; a model's prime reads files the same
//! way).

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};

use crate::db::Scale;
use crate::error::{Error, Result};
use crate::inverse::{mel_to_audio, InversionOptions};
use crate::npy::read_f32_2d;
use crate::preset::AnalysisParams;
use crate::sidecar::{Sidecar, SpectrogramKind};

/// A spectrogram read from a `.npy` file, with its sidecar if it has one.
#[derive(Debug, Clone)]
pub struct SpectrogramFile {
    /// The `.npy` file.
    pub path: PathBuf,
    /// The values `(bins, frames)` as stored (in the sidecar's scale).
    pub values: Array2<f32>,
    /// The sidecar next to it.
    pub sidecar: Option<Sidecar>,
}

/// What a spectrogram's values are, for inversion: the file's sidecar with the caller's
/// overrides, or the caller's word for a file without one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The analysis parameters that made it.
    pub params: AnalysisParams,
    /// Mel bands or linear STFT bins.
    pub kind: SpectrogramKind,
    /// The scale of the values.
    pub scale: Scale,
}

impl SpectrogramFile {
    /// Read `path` and its sidecar ([`Sidecar::path_for`]) if there is one.
    ///
    /// # Errors
    /// An unreadable file or sidecar; [`Error::InvalidInput`] for an empty array, a sidecar
    /// describing another shape, or a non-finite value.
    pub fn read(path: &Path) -> Result<Self> {
        let name = path.display();
        let values = read_f32_2d(path)?;
        let sidecar_path = Sidecar::path_for(path);
        let sidecar = if sidecar_path.is_file() {
            Some(Sidecar::read(&sidecar_path)?)
        } else {
            None
        };
        if values.is_empty() {
            return Err(Error::InvalidInput(format!("{name}: the array is empty")));
        }
        if let Some(s) = sidecar
            .as_ref()
            .filter(|s| s.shape != [values.nrows(), values.ncols()])
        {
            return Err(Error::InvalidInput(format!(
                "{}: describes a {:?} array, {name} is {:?}; fix or remove the sidecar",
                sidecar_path.display(),
                s.shape,
                values.shape()
            )));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "{name}: holds a non-finite value ({v})"
            )));
        }
        Ok(SpectrogramFile {
            path: path.to_path_buf(),
            values,
            sidecar,
        })
    }

    /// The sidecar's analysis parameters.
    pub fn params(&self) -> Option<AnalysisParams> {
        self.sidecar.as_ref().map(|s| s.params)
    }

    /// The kind of its rows: linear when `linear` says so, else the sidecar's, else mel.
    pub fn kind(&self, linear: bool) -> SpectrogramKind {
        match (&self.sidecar, linear) {
            (_, true) => SpectrogramKind::Linear,
            (Some(s), false) => s.kind,
            (None, false) => SpectrogramKind::Mel,
        }
    }

    /// The scale of its values: dB relative to `db_reference` (linear units) when given, else
    /// the sidecar's, else linear.
    pub fn scale(&self, db_reference: Option<f32>) -> Scale {
        match (&self.sidecar, db_reference) {
            (_, Some(reference)) => Scale::Db {
                reference,
                amin: 0.0,
                top_db: None,
            },
            (Some(s), None) => s.scale,
            (None, None) => Scale::Linear,
        }
    }

    /// The length in samples of the signal it was analysed from, when the sidecar records it.
    pub fn source_length(&self) -> Option<usize> {
        self.sidecar
            .as_ref()
            .and_then(|s| s.source.as_ref())
            .map(|s| s.analysed_samples)
    }

    /// Its values in linear units `|X|^power` of `scale`.
    ///
    /// # Errors
    /// A `power` that is not positive and finite.
    pub fn into_linear(self, scale: Scale, power: f32) -> Result<Array2<f32>> {
        let mut values = self.values;
        scale.to_linear(
            values.as_slice_mut().expect("read arrays are contiguous"),
            power,
        )?;
        Ok(values)
    }

    /// Audio of `length` samples (default: hop·(frames − 1)) from the values as `reading`
    /// says: a mel spectrogram by [`mel_to_audio`] with `options`; a linear one by phase
    /// retrieval alone (`options.phase`; `init_phase` `(bins, frames)` warm-starts it).
    /// `progress(done, total)` follows the iterations.
    ///
    /// # Errors
    /// Values that do not fit the parameters; inversion errors, named after the file.
    pub fn invert(
        self,
        reading: &Reading,
        options: &InversionOptions,
        init_phase: Option<ArrayView2<f32>>,
        length: Option<usize>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<f32>> {
        let name = self.path.display().to_string();
        let p = reading.params;
        let mut values = self.into_linear(reading.scale, p.power)?;
        match reading.kind {
            SpectrogramKind::Mel => mel_to_audio(values.view(), &p, options, length, progress),
            SpectrogramKind::Linear => {
                if p.power != 1.0 {
                    values.mapv_inplace(|v| v.max(0.0).powf(1.0 / p.power));
                }
                crate::phase::reconstruct(
                    values.view(),
                    &p.stft,
                    &options.phase,
                    init_phase,
                    length,
                    progress,
                )
            }
        }
        .map_err(|e| Error::InvalidInput(format!("{name}: {e}")))
    }
}
