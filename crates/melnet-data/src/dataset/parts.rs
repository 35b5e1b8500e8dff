//! Parts: each audio file's frames and description, computed once and stored under its
//! content hash (`parts/<key>/<hash>.npy` + `.json`, `key` naming the analysis), so that an
//! interrupted or extended preparation recomputes nothing, shards can be merged by moving
//! parts, and one assembly ([`assemble`]) turns the parts of a listing into the frame files,
//! `labels.npy` and `manifest.json` for [`super::prepare`] and [`super::shard::merge`] alike.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::frames;
use super::labels::{LabelTable, LABELS_NPY};
use super::manifest::{
    CorpusStats, Item, Manifest, PrepareSettings, Skipped, Split, Summary, FORMAT, MANIFEST_FILE,
};
use crate::files::{write_renamed, write_text};
use crate::{Error, Result};
use melspec::audio::{self, trim_silence};
use melspec::db::to_db_ref_max;
use melspec::npy::{parse_f32_2d_header, write_f32_2d};
use melspec::{AnalysisParams, MelSpectrogram};

/// The folder of a dataset directory that holds the parts.
const PARTS_DIR: &str = "parts";

/// A file's content hash (BLAKE3, hex), or why it could not be read.
pub(crate) type Hash = std::result::Result<String, String>;

/// A file's outcome: its part, or why it is skipped.
pub(crate) type PartResult = std::result::Result<Part, String>;

/// What parts are computed with and assembled into: everything a dataset's bytes depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recipe<'a> {
    /// Analysis parameters.
    pub params: &'a AnalysisParams,
    /// Scaling, trimming, length limits, split.
    pub settings: &'a PrepareSettings,
    /// Largest number of frames per frame file.
    pub chunk_frames: usize,
    /// A label per file, if the dataset has labels.
    pub labels: Option<&'a LabelTable>,
}

/// Everything about one finished file except where it goes in the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Part {
    source_sr: u32,
    source_channels: u16,
    source_samples: usize,
    seconds: f64,
    /// Frames it contributes.
    pub(crate) n_frames: usize,
    stats: Summary,
    db_reference: Option<f32>,
    /// Per mel band: Σ value and Σ value² over the frames, for corpus statistics.
    mel_sum: Vec<f64>,
    mel_sum_sq: Vec<f64>,
}

/// Where the parts of a dataset in `output` prepared with `recipe` are stored: parts depend on
/// the analysis and on everything that changes a file's frames.
pub(crate) fn parts_dir(output: &Path, recipe: &Recipe) -> PathBuf {
    let key_source = serde_json::to_string(&(
        recipe.params,
        recipe.settings.db,
        recipe.settings.trim_silence_db,
    ))
    .expect("parameters serialise");
    let key = &blake3::hash(key_source.as_bytes()).to_hex()[..16];
    output.join(PARTS_DIR).join(key)
}

/// Decode, resample, trim, analyse and scale one file; `Err` holds the reason to skip it.
pub(crate) fn compute_part(
    path: &Path,
    plan: &MelSpectrogram,
    recipe: &Recipe,
) -> std::result::Result<(Part, Array2<f32>), String> {
    let p = recipe.params;
    let s = recipe.settings;
    let audio = audio::load_resampled(path, p.sr).map_err(|e| e.to_string())?;
    let range = match s.trim_silence_db {
        Some(db) => trim_silence(&audio.samples, db),
        None => 0..audio.samples.len(),
    };
    let y = &audio.samples[range];
    let seconds = y.len() as f64 / f64::from(p.sr);
    if y.iter().all(|v| *v == 0.0) {
        return Err("silent".into());
    }
    if seconds < s.min_seconds.max(f64::MIN_POSITIVE) {
        return Err(format!(
            "too short: {seconds:.2} s (minimum {} s)",
            s.min_seconds
        ));
    }
    if let Some(max) = s.max_seconds {
        if seconds > max {
            return Err(format!("too long: {seconds:.2} s (maximum {max} s)"));
        }
    }
    let mut mel = plan.process(y).map_err(|e| e.to_string())?;
    let db_reference = if s.db {
        let v = mel.as_slice_mut().expect("mel spectrogram is contiguous");
        match to_db_ref_max(v, p.power).map_err(|e| e.to_string())? {
            melspec::Scale::Db { reference, .. } => Some(reference),
            melspec::Scale::Linear => None,
        }
    } else {
        None
    };
    let frames = mel.t().as_standard_layout().into_owned();
    let n_mels = frames.ncols();
    let (mut mel_sum, mut mel_sum_sq) = (vec![0.0f64; n_mels], vec![0.0f64; n_mels]);
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for row in frames.rows() {
        for (k, &v) in row.iter().enumerate() {
            mel_sum[k] += f64::from(v);
            mel_sum_sq[k] += f64::from(v) * f64::from(v);
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(format!(
            "the spectrogram is not finite (values from {lo} to {hi}): samples too large for float32"
        ));
    }
    let n = (frames.nrows() * n_mels) as f64;
    let mean = mel_sum.iter().sum::<f64>() / n;
    let var = (mel_sum_sq.iter().sum::<f64>() / n - mean * mean).max(0.0);
    let part = Part {
        source_sr: audio.source_sr,
        source_channels: audio.source_channels,
        source_samples: audio.source_len,
        seconds,
        n_frames: frames.nrows(),
        stats: Summary {
            min: lo,
            max: hi,
            mean,
            std: var.sqrt(),
        },
        db_reference,
        mel_sum,
        mel_sum_sq,
    };
    Ok((part, frames))
}

/// The frames (`.npy`) and description (`.json`) of the part at `stem`.
pub(crate) fn part_paths(stem: &Path) -> (PathBuf, PathBuf) {
    (stem.with_extension("npy"), stem.with_extension("json"))
}

/// A stored part, if both its files are there and readable.
pub(crate) fn read_part(stem: &Path) -> Option<Part> {
    let (npy, json) = part_paths(stem);
    if !npy.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(json).ok()?;
    serde_json::from_str(&text).ok()
}

/// Write a part: frames first, its description last, each renamed into place, so that a
/// description always has its frames.
pub(crate) fn write_part(stem: &Path, part: &Part, frames: &Array2<f32>) -> Result<()> {
    let (npy, json) = part_paths(stem);
    write_renamed(&npy, |tmp| write_f32_2d(tmp, frames.view()))?;
    let text = serde_json::to_string(part).expect("part serialises");
    write_text(&json, &text)
}

/// Deterministic split of `path` for `seed`: valid when its hash falls below the fraction.
fn split_value(seed: u64, path: &str) -> f64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(path.as_bytes());
    let bytes = h.finalize();
    let v = u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"));
    v as f64 / 2f64.powi(64)
}

/// Combine the parts of `files` (their `hashes` and `results`, every file done) into the frame
/// files, `labels.npy` and `manifest.json` of `output`.
pub(crate) fn assemble(
    output: &Path,
    recipe: &Recipe,
    files: &[String],
    hashes: &[Hash],
    results: Vec<Option<PartResult>>,
) -> Result<Manifest> {
    let parts_dir = parts_dir(output, recipe);
    let n_mels = recipe.params.n_mels;
    let mut items = Vec::new();
    let mut parts = Vec::new();
    let mut skipped = Vec::new();
    for ((path, hash), result) in files.iter().zip(hashes).zip(results) {
        match (result.expect("every file is done"), hash) {
            (Ok(_), Ok(_)) if recipe.labels.is_some_and(|t| t.get(path).is_none()) => {
                skipped.push(Skipped {
                    path: path.clone(),
                    reason: "no label in the label table".into(),
                })
            }
            (Ok(part), Ok(hash)) => {
                let split =
                    if split_value(recipe.settings.seed, path) < recipe.settings.valid_fraction {
                        Split::Valid
                    } else {
                        Split::Train
                    };
                items.push((path.clone(), hash.clone(), split));
                parts.push(part);
            }
            (Err(reason), _) => skipped.push(Skipped {
                path: path.clone(),
                reason,
            }),
            (Ok(_), Err(reason)) => skipped.push(Skipped {
                path: path.clone(),
                reason: reason.clone(),
            }),
        }
    }
    if items.is_empty() {
        return Err(Error::InvalidInput(format!(
            "no usable audio: all {} files were skipped (first: {} — {})",
            skipped.len(),
            skipped[0].path,
            skipped[0].reason
        )));
    }
    // At least one validation file whenever there are two or more.
    if items.len() >= 2 && !items.iter().any(|i| i.2 == Split::Valid) {
        let pick = (0..items.len())
            .min_by(|&a, &b| {
                split_value(recipe.settings.seed, &items[a].0)
                    .total_cmp(&split_value(recipe.settings.seed, &items[b].0))
            })
            .expect("items is not empty");
        items[pick].2 = Split::Valid;
    }

    let mut stats = CorpusStats {
        mel_mean: vec![0.0; n_mels],
        mel_std: vec![0.0; n_mels],
        all: Summary {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            ..Summary::default()
        },
        ..CorpusStats::default()
    };
    let mut manifest_items = Vec::with_capacity(items.len());
    let mut start = 0;
    let mut sum_sq = vec![0.0f64; n_mels];
    for ((path, hash, split), part) in items.into_iter().zip(&parts) {
        let end = start + part.n_frames;
        stats.seconds += part.seconds;
        match split {
            Split::Train => {
                stats.train_files += 1;
                stats.train_frames += part.n_frames;
                stats.all.min = stats.all.min.min(part.stats.min);
                stats.all.max = stats.all.max.max(part.stats.max);
                for ((mean, sq), (s, s2)) in stats
                    .mel_mean
                    .iter_mut()
                    .zip(sum_sq.iter_mut())
                    .zip(part.mel_sum.iter().zip(&part.mel_sum_sq))
                {
                    *mean += s;
                    *sq += s2;
                }
            }
            Split::Valid => {
                stats.valid_files += 1;
                stats.valid_frames += part.n_frames;
            }
        }
        manifest_items.push(Item {
            path,
            hash,
            source_sr: part.source_sr,
            source_channels: part.source_channels,
            source_samples: part.source_samples,
            seconds: part.seconds,
            frames: [start, end],
            split,
            stats: part.stats,
            db_reference: part.db_reference,
        });
        start = end;
    }
    let frames = stats.train_frames.max(1) as f64;
    let (total_sum, total_sq): (f64, f64) = (stats.mel_mean.iter().sum(), sum_sq.iter().sum());
    for ((mean, std), sq) in stats
        .mel_mean
        .iter_mut()
        .zip(stats.mel_std.iter_mut())
        .zip(&sum_sq)
    {
        *mean /= frames;
        *std = (sq / frames - *mean * *mean).max(0.0).sqrt();
    }
    let n = frames * n_mels as f64;
    stats.all.mean = total_sum / n;
    stats.all.std = (total_sq / n - stats.all.mean * stats.all.mean)
        .max(0.0)
        .sqrt();
    if stats.train_frames == 0 {
        stats.all.min = 0.0;
        stats.all.max = 0.0;
    }

    let manifest = Manifest {
        format: FORMAT,
        params: *recipe.params,
        settings: *recipe.settings,
        n_mels,
        total_frames: start,
        chunks: frames::chunks(parts.iter().map(|p| p.n_frames), recipe.chunk_frames),
        items: manifest_items,
        skipped,
        stats,
        labels: recipe.labels.map(|t| t.info().clone()),
    };

    // Never write a manifest that its readers would refuse.
    manifest.validate()?;

    // The frame files, then the manifest, written in full under temporary names; the old
    // manifest goes first, so that a manifest always describes the frame files next to it.
    let manifest_path = output.join(MANIFEST_FILE);
    let tmp_manifest = output.join(format!("{MANIFEST_FILE}.tmp"));
    let read_item = |i: usize| {
        let item = &manifest.items[i];
        let (npy, _) = part_paths(&parts_dir.join(&item.hash));
        let bytes = std::fs::read(&npy).map_err(|e| Error::io(&npy, e))?;
        let (rows, cols, offset) = parse_f32_2d_header(&npy, &bytes)?;
        if rows != item.n_frames() || cols != n_mels || bytes.len() - offset != rows * cols * 4 {
            // A damaged part: drop it so that the next run recomputes it.
            let _ = std::fs::remove_file(&npy);
            return Err(Error::InvalidInput(format!(
                "{}: stored frames do not match; run again to recompute",
                npy.display()
            )));
        }
        Ok((bytes, offset))
    };
    let mut renames = frames::write_temporary(output, &manifest, &read_item)?;
    let labels_path = output.join(LABELS_NPY);
    if let Some(table) = recipe.labels {
        let dim = table.info().dim();
        let mut values = Array2::<f32>::zeros((manifest.items.len(), dim));
        for (mut row, item) in values.rows_mut().into_iter().zip(&manifest.items) {
            let label = table
                .get(&item.path)
                .expect("items without a label are skipped");
            row.assign(&ndarray::ArrayView1::from(label));
        }
        let tmp = output.join(format!("{LABELS_NPY}.tmp"));
        if let Err(e) = write_f32_2d(&tmp, values.view()) {
            let _ = std::fs::remove_file(&tmp);
            for (tmp, _) in &renames {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e);
        }
        renames.push((tmp, labels_path.clone()));
    }
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    let written = std::fs::write(&tmp_manifest, text + "\n")
        .map_err(|e| Error::io(&tmp_manifest, e))
        .and_then(|()| {
            if manifest_path.exists() {
                std::fs::remove_file(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
            }
            for (tmp, path) in &renames {
                std::fs::rename(tmp, path).map_err(|e| Error::io(path, e))?;
            }
            std::fs::rename(&tmp_manifest, &manifest_path).map_err(|e| Error::io(&manifest_path, e))
        });
    if written.is_err() {
        for (tmp, _) in &renames {
            let _ = std::fs::remove_file(tmp);
        }
        let _ = std::fs::remove_file(&tmp_manifest);
    }
    written?;
    frames::remove_stale(output, &manifest);
    if recipe.labels.is_none() {
        let _ = std::fs::remove_file(&labels_path);
    }
    Ok(manifest)
}
