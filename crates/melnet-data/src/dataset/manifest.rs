//! The dataset manifest (`manifest.json`): parameters, items, skipped files, statistics.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};
use melspec::AnalysisParams;

/// Version of the manifest format.
pub const FORMAT: u32 = 1;

/// The manifest's file name inside a dataset directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Train or validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used for training and for the corpus statistics.
    Train,
    /// Held out.
    Valid,
}

/// How a dataset was prepared (besides the analysis parameters).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareSettings {
    /// Values are dB: per file `power_to_db(ref = max, amin = 1e-10, top_db = 80)`
    /// (`amplitude_to_db(ref = max, amin = 1e-5, top_db = 80)` for power 1), as `melnet mel --db`.
    pub db: bool,
    /// Leading and trailing audio quieter than this many dB below the loudest frame is cut.
    pub trim_silence_db: Option<f32>,
    /// Files shorter than this (seconds, after trimming) are skipped.
    pub min_seconds: f64,
    /// Files longer than this (seconds, after trimming) are skipped.
    pub max_seconds: Option<f64>,
    /// Target fraction of files in the validation split.
    pub valid_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
}

impl Default for PrepareSettings {
    /// `melnet prepare`'s defaults: linear values, no trimming, files of 0.5 s or more, a
    /// tenth of them for validation, seed 0.
    fn default() -> Self {
        PrepareSettings {
            db: false,
            trim_silence_db: None,
            min_seconds: 0.5,
            max_seconds: None,
            valid_fraction: 0.1,
            seed: 0,
        }
    }
}

/// Summary statistics of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
}

/// One source file in the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Path relative to the input folder, `/`-separated.
    pub path: String,
    /// BLAKE3 hash of the file's bytes, hex.
    pub hash: String,
    /// Sample rate of the file, Hz.
    pub source_sr: u32,
    /// Channels of the file.
    pub source_channels: u16,
    /// Length of the file, samples per channel.
    pub source_samples: usize,
    /// Seconds of audio analysed (after resampling and trimming).
    pub seconds: f64,
    /// Frame range `[start, end)` in `frames.npy`.
    pub frames: [usize; 2],
    /// Train or valid.
    pub split: Split,
    /// Statistics of the item's values.
    pub stats: Summary,
    /// The dB reference (the item's maximum power or magnitude) when the values are dB.
    pub db_reference: Option<f32>,
}

impl Item {
    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.frames[1] - self.frames[0]
    }
}

/// A file that was not included, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Path relative to the input folder.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Statistics of the training split, for normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CorpusStats {
    /// Files in the training split.
    pub train_files: usize,
    /// Frames in the training split.
    pub train_frames: usize,
    /// Files in the validation split.
    pub valid_files: usize,
    /// Frames in the validation split.
    pub valid_frames: usize,
    /// Seconds of audio in both splits.
    pub seconds: f64,
    /// Over every value of the training split.
    pub all: Summary,
    /// Per mel band over the training frames: mean, length `n_mels`.
    pub mel_mean: Vec<f64>,
    /// Per mel band over the training frames: standard deviation, length `n_mels`.
    pub mel_std: Vec<f64>,
}

/// A normalisation of dataset values, using the training-split statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// Values as stored.
    #[default]
    None,
    /// `(x − mean) / std` with the corpus mean and standard deviation.
    Standard,
    /// `(x − mean[k]) / std[k]` per mel band `k`.
    StandardPerMel,
    /// `(x − min) / (max − min)`, to [0, 1] over the training split.
    MinMax,
}

impl std::str::FromStr for Normalization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Normalization::None),
            "standard" => Ok(Normalization::Standard),
            "standard-per-mel" => Ok(Normalization::StandardPerMel),
            "minmax" => Ok(Normalization::MinMax),
            _ => Err(Error::param(
                "normalization",
                s,
                "expected none, standard, standard-per-mel or minmax",
            )),
        }
    }
}

impl CorpusStats {
    /// Apply `norm` in place to time-major frames (`n_mels` values per frame).
    pub fn normalize(&self, norm: Normalization, frames: &mut [f32]) {
        self.map_values(norm, frames, false);
    }

    /// Undo [`CorpusStats::normalize`] in place.
    pub fn denormalize(&self, norm: Normalization, frames: &mut [f32]) {
        self.map_values(norm, frames, true);
    }

    fn map_values(&self, norm: Normalization, frames: &mut [f32], inverse: bool) {
        let affine = |v: &mut f32, mean: f64, scale: f64| {
            let scale = if scale > 0.0 { scale } else { 1.0 };
            *v = if inverse {
                (f64::from(*v) * scale + mean) as f32
            } else {
                ((f64::from(*v) - mean) / scale) as f32
            };
        };
        match norm {
            Normalization::None => {}
            Normalization::Standard => frames
                .iter_mut()
                .for_each(|v| affine(v, self.all.mean, self.all.std)),
            Normalization::MinMax => {
                let (lo, hi) = (f64::from(self.all.min), f64::from(self.all.max));
                frames.iter_mut().for_each(|v| affine(v, lo, hi - lo));
            }
            Normalization::StandardPerMel => {
                let n_mels = self.mel_mean.len().max(1);
                for frame in frames.chunks_exact_mut(n_mels) {
                    for ((v, m), d) in frame.iter_mut().zip(&self.mel_mean).zip(&self.mel_std) {
                        affine(v, *m, *d);
                    }
                }
            }
        }
    }
}

/// The manifest of a prepared dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// Analysis parameters of every item.
    pub params: AnalysisParams,
    /// How the dataset was prepared.
    pub settings: PrepareSettings,
    /// Width of `frames.npy`.
    pub n_mels: usize,
    /// Height of `frames.npy`.
    pub total_frames: usize,
    /// The items, sorted by path; their frames are consecutive in `frames.npy`.
    pub items: Vec<Item>,
    /// Frames per frame file, in order ([`crate::dataset::frames`]); empty in datasets of
    /// earlier versions, which have one `frames.npy`.
    #[serde(default)]
    pub chunks: Vec<usize>,
    /// Files left out.
    pub skipped: Vec<Skipped>,
    /// Training-split statistics.
    pub stats: CorpusStats,
    /// The items' labels (in `labels.npy`, one row per item), when prepared with a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<super::labels::LabelInfo>,
}

/// Read the JSON file `path` (a `what`, for messages) whose format number (`format_of`) must
/// be [`FORMAT`].
///
/// # Errors
/// [`Error::Io`] or [`Error::InvalidInput`] naming the file when it cannot be read or parsed,
/// or has another format.
pub(crate) fn read_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    format_of: impl Fn(&T) -> u32,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let value: T = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidInput(format!("{}: invalid {what}: {e}", path.display())))?;
    let format = format_of(&value);
    if format != FORMAT {
        return Err(Error::InvalidInput(format!(
            "{}: {what} format {format} (this melnet reads {FORMAT})",
            path.display()
        )));
    }
    Ok(value)
}

impl Manifest {
    /// Read `manifest.json` and check it ([`Manifest::validate`]).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::InvalidInput`] (naming the file) when it cannot be read or
    /// parsed, or is not consistent.
    pub fn read(path: &Path) -> Result<Self> {
        let m: Manifest = read_versioned(path, "dataset manifest", |m: &Manifest| m.format)?;
        m.validate().map_err(|e| {
            Error::InvalidInput(format!("{}: invalid dataset manifest: {e}", path.display()))
        })?;
        Ok(m)
    }

    /// Check that the fields agree: valid analysis parameters with `n_mels` bands; items whose
    /// frame ranges are non-empty and follow each other from 0 to `total_frames`; split counts
    /// that match the items; finite statistics.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] describing the first disagreement.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidInput(reason));
        self.params.validate()?;
        if let Some(labels) = &self.labels {
            if labels.dim() == 0 {
                return bad("labels with no values per item".into());
            }
        }
        if self.n_mels != self.params.n_mels {
            return bad(format!(
                "n_mels = {} but the parameters have {}",
                self.n_mels, self.params.n_mels
            ));
        }
        let mut next = 0;
        let (mut train, mut valid) = ([0usize; 2], [0usize; 2]);
        for item in &self.items {
            let [start, end] = item.frames;
            if start != next || end <= start {
                return bad(format!(
                    "{}: frames {start}..{end} do not follow the previous item's end ({next})",
                    item.path
                ));
            }
            next = end;
            let counts = match item.split {
                Split::Train => &mut train,
                Split::Valid => &mut valid,
            };
            counts[0] += 1;
            counts[1] += end - start;
            let s = &item.stats;
            if !(s.min.is_finite() && s.max.is_finite() && s.mean.is_finite() && s.std.is_finite())
            {
                return bad(format!("{}: statistics are not finite", item.path));
            }
        }
        if next != self.total_frames {
            return bad(format!(
                "items end at frame {next}, total_frames = {}",
                self.total_frames
            ));
        }
        // Frame files hold whole items and all of them.
        let item_ends: std::collections::HashSet<usize> =
            self.items.iter().map(|i| i.frames[1]).collect();
        let mut boundary = 0;
        for &n in &self.chunks {
            boundary += n;
            if n == 0 || !item_ends.contains(&boundary) {
                return bad(format!(
                    "chunks {:?} do not end at item boundaries",
                    self.chunks
                ));
            }
        }
        if !self.chunks.is_empty() && boundary != self.total_frames {
            return bad(format!(
                "chunks {:?} hold {boundary} frames, total_frames = {}",
                self.chunks, self.total_frames
            ));
        }
        let st = &self.stats;
        if [
            st.train_files,
            st.train_frames,
            st.valid_files,
            st.valid_frames,
        ] != [train[0], train[1], valid[0], valid[1]]
        {
            return bad(format!(
                "split counts (train {} files / {} frames, valid {} / {}) do not match the items",
                st.train_files, st.train_frames, st.valid_files, st.valid_frames
            ));
        }
        let a = &st.all;
        let per_band_ok = st.mel_mean.len() == self.n_mels
            && st.mel_std.len() == self.n_mels
            && st.mel_mean.iter().all(|v| v.is_finite())
            && st.mel_std.iter().all(|v| v.is_finite() && *v >= 0.0);
        let all_ok = a.min.is_finite() && a.max.is_finite() && a.mean.is_finite();
        if !(all_ok && a.std.is_finite() && a.std >= 0.0 && per_band_ok) {
            return bad("corpus statistics are not finite or have the wrong length".into());
        }
        // Values spread over [min, max] have a mean inside it and a spread that is zero
        // exactly when the range is (rounding aside).
        let (lo, hi) = (f64::from(a.min), f64::from(a.max));
        let slack = 1e-3 * (1.0 + lo.abs().max(hi.abs()));
        let spread_ok = (a.std > 0.0) == (hi > lo) && a.std <= hi - lo + slack;
        if st.train_frames > 0 && (!spread_ok || a.mean < lo - slack || a.mean > hi + slack) {
            return bad(format!(
                "corpus statistics disagree: min {lo}, max {hi}, mean {}, std {}",
                a.mean, a.std
            ));
        }
        Ok(())
    }
}
