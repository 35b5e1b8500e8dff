//! Reading a spectrogram for a model to continue (a prime) or to score: audio, analysed as
//! the model's data was; or a mel `.npy` `(n_mels, frames)` in the dataset's scale (with a
//! sidecar, its own scale is undone and the dataset's applied) → the model's normalised
//! time-major frames `[frames, n_mels]`.

use std::path::Path;

use melspec::db::to_db_ref_max;
use melspec::{MelSpectrogram, SpectrogramFile};
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::model::Model;

impl Model {
    /// The spectrogram file or recording `path` as this model's normalised frames
    /// `[frames, n_mels]`, at most `max_seconds` long (`f64::INFINITY`: all of it).
    ///
    /// # Errors
    /// Unreadable files ([`Error::Melspec`]); [`Error::Invalid`] for another band count,
    /// non-finite values or no frames.
    pub fn read_spectrogram(&self, path: &Path, max_seconds: f64) -> Result<Array2<f32>> {
        let c = self.config();
        let p = &c.params;
        let invalid = |reason: String| Error::Invalid(format!("{}: {reason}", path.display()));
        let is_npy = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        // `linear`: the values are in linear units (audio analysed here, or a file whose
        // sidecar's scale was undone) and take the dataset's scale below.
        let (mut mel, linear) = if is_npy {
            let file = SpectrogramFile::read(path)?;
            if file.values.nrows() != p.n_mels {
                return Err(invalid(format!(
                    "{} rows, the model has {} mels",
                    file.values.nrows(),
                    p.n_mels
                )));
            }
            match file.sidecar.as_ref().map(|s| s.scale) {
                Some(scale) => (file.into_linear(scale, p.power)?, true),
                None => (file.values, false),
            }
        } else {
            let audio = melspec::audio::load_resampled(path, p.sr)?;
            let mel = MelSpectrogram::new(p.stft, p.mel(), p.power)?.process(&audio.samples)?;
            (mel, true)
        };
        let values = mel.as_slice_mut().expect("standard layout");
        if linear && c.db {
            to_db_ref_max(values, p.power)?;
        }
        let keep = if max_seconds.is_finite() {
            ((max_seconds.max(0.0) * f64::from(p.sr) / p.stft.hop_length as f64).round() as usize)
                .min(mel.ncols())
        } else {
            mel.ncols()
        };
        if keep == 0 {
            return Err(invalid(format!("no frames in its first {max_seconds} s")));
        }
        let mut frames = mel
            .slice(ndarray::s![.., ..keep])
            .t()
            .as_standard_layout()
            .into_owned();
        self.normalize(frames.as_slice_mut().expect("standard layout"));
        Ok(frames)
    }
}
