//! Building a dataset: every audio file under a folder → mel frames, resumably.
//!
//! Each finished file is stored as a *part* (`parts/<settings>/<file hash>.npy` + `.json`,
//! written atomically), so an interrupted run loses at most the files in flight and a re-run
//! only computes what is missing. When every file is done the parts are assembled, in path
//! order, into the frame files ([`super::frames`]) and `manifest.json` (temporary files renamed
//! into place; the old manifest is removed first, so a manifest always describes the frame
//! files next to it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::frames;
use super::labels::{LabelTable, LABELS_NPY};
use super::manifest::{
    CorpusStats, Item, Manifest, PrepareSettings, Skipped, Split, Summary, FORMAT,
};
use super::shard::Shard;
use crate::audio::{self, trim_silence};
use crate::convert::to_db_ref_max;
use crate::error::{Error, Result};
use crate::files::{hash_file, write_renamed};
use crate::mel::MelSpectrogram;
use crate::npy::{parse_f32_2d_header, write_f32_2d};
use crate::preset::AnalysisParams;

/// The manifest's file name inside a dataset directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const PARTS_DIR: &str = "parts";

/// What [`prepare`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    /// Analysis parameters.
    pub params: AnalysisParams,
    /// Scaling, trimming, length limits, split.
    pub settings: PrepareSettings,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    /// Stop after computing this many files (leaving the rest for a later run): lets tests
    /// interrupt a run at a known point.
    pub stop_after: Option<usize>,
    /// Largest number of frames per frame file ([`frames::DEFAULT_CHUNK_FRAMES`] by default).
    pub chunk_frames: usize,
    /// Prepare only this shard of the files (by content hash), leaving its parts and a
    /// `shard.json` for [`super::shard::merge`] instead of a dataset.
    pub shard: Option<Shard>,
    /// A label per file ([`super::labels`]): files without one are skipped, the dataset keeps
    /// them in `labels.npy`.
    pub labels: Option<LabelTable>,
}

impl PrepareOptions {
    /// Options for a whole, unlabelled dataset of `params` with `settings`, on every core, in
    /// frame files of [`frames::DEFAULT_CHUNK_FRAMES`].
    pub fn new(params: AnalysisParams, settings: PrepareSettings) -> Self {
        PrepareOptions {
            params,
            settings,
            jobs: None,
            stop_after: None,
            chunk_frames: frames::DEFAULT_CHUNK_FRAMES,
            shard: None,
            labels: None,
        }
    }
}

/// Progress reports of [`prepare`].
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// The number of audio files found.
    Found(usize),
    /// A file is done: its frames, and whether its part was reused from an earlier run.
    Done {
        /// Relative path.
        path: &'a str,
        /// Frames it contributes.
        frames: usize,
        /// Reused from an earlier run.
        reused: bool,
    },
    /// A file was skipped.
    Skipped {
        /// Relative path.
        path: &'a str,
        /// Why.
        reason: &'a str,
    },
}

/// How a [`prepare`] run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The dataset was (re)assembled: files computed now, and reused from earlier runs.
    Complete {
        /// The new manifest.
        manifest: Box<Manifest>,
        /// Files computed in this run.
        computed: usize,
        /// Files whose parts were reused.
        reused: usize,
    },
    /// The dataset already matched the input folder; nothing was written.
    UpToDate(Box<Manifest>),
    /// A shard's files are done ([`PrepareOptions::shard`]): its parts and `shard.json` are
    /// written, for [`super::shard::merge`].
    Shard {
        /// Which shard.
        shard: Shard,
        /// Files of this shard.
        files: usize,
        /// Files computed in this run.
        computed: usize,
        /// Files whose parts were reused.
        reused: usize,
    },
    /// Cancelled or stopped early: finished files are kept for the next run.
    Interrupted {
        /// Files finished (now or before).
        done: usize,
        /// Files still to do.
        remaining: usize,
    },
}

/// Everything about one finished file except where it goes in the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Part {
    source_sr: u32,
    source_channels: u16,
    source_samples: usize,
    seconds: f64,
    n_frames: usize,
    stats: Summary,
    db_reference: Option<f32>,
    /// Per mel band: Σ value and Σ value² over the frames, for corpus statistics.
    mel_sum: Vec<f64>,
    mel_sum_sq: Vec<f64>,
}

/// Every audio file (by extension) under `dir`, as sorted `/`-separated relative paths.
///
/// # Errors
/// [`Error::Io`] when `dir` cannot be read.
pub fn find_audio(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| audio::EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            {
                let rel = path.strip_prefix(root).expect("walked below the root");
                let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    if !dir.is_dir() {
        return Err(Error::InvalidInput(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn validate(settings: &PrepareSettings) -> Result<()> {
    if !(0.0..1.0).contains(&settings.valid_fraction) {
        return Err(Error::param(
            "valid_fraction",
            settings.valid_fraction,
            "must be in [0, 1)",
        ));
    }
    if !(settings.min_seconds.is_finite() && settings.min_seconds >= 0.0) {
        return Err(Error::param(
            "min_seconds",
            settings.min_seconds,
            "must be ≥ 0",
        ));
    }
    if let Some(max) = settings.max_seconds {
        if max.is_nan() || max <= settings.min_seconds {
            return Err(Error::param("max_seconds", max, "must exceed min_seconds"));
        }
    }
    if let Some(t) = settings.trim_silence_db {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::param(
                "trim_silence",
                t,
                "must be a positive dB value",
            ));
        }
    }
    Ok(())
}

/// Prepare (or update, or finish) the dataset in `output` from the audio under `input`.
/// `cancel` stops the run between files; `progress` receives a report per file. The output
/// directory is locked ([`crate::lock::DirLock`]) for the whole run.
///
/// # Errors
/// Invalid parameters; an input without audio files; an `output` prepared with other
/// parameters or in use by another process; I/O errors writing the dataset. Unreadable or too-short audio files are not
/// errors: they are listed as skipped.
pub fn prepare(
    input: &Path,
    output: &Path,
    opts: &PrepareOptions,
    cancel: &AtomicBool,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Outcome> {
    opts.params.validate()?;
    validate(&opts.settings)?;
    if opts.chunk_frames == 0 {
        return Err(Error::param("chunk_frames", 0, "must be positive"));
    }
    let files = find_audio(input)?;
    if files.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no audio files ({}) found",
            input.display(),
            audio::EXTENSIONS.join(", ")
        )));
    }
    progress(&Progress::Found(files.len()));
    std::fs::create_dir_all(output).map_err(|e| Error::io(output, e))?;
    let _lock = crate::lock::DirLock::acquire(output)?;
    let manifest_path = output.join(MANIFEST_FILE);
    let existing = if manifest_path.is_file() {
        let m = Manifest::read(&manifest_path)?;
        if m.params != opts.params || m.settings != opts.settings {
            return Err(Error::InvalidInput(format!(
                "{}: prepared with different parameters; use another directory",
                output.display()
            )));
        }
        Some(m)
    } else {
        None
    };

    let parts_dir = parts_dir(output, opts);
    std::fs::create_dir_all(&parts_dir).map_err(|e| Error::io(&parts_dir, e))?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::param("jobs", opts.jobs.unwrap_or(0), e.to_string()))?;
    let plan = MelSpectrogram::new(opts.params.stft(), opts.params.mel(), opts.params.power)?;
    // Files started in this run (for `stop_after`) and parts reused from earlier runs.
    let started = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    // The first part that could not be written (the run cannot finish: the rest stop).
    let write_error: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
    let failed = AtomicBool::new(false);
    let hashes: Vec<std::result::Result<String, String>> = pool.install(|| {
        files
            .par_iter()
            .map(|rel| hash_file(&input.join(rel)).map_err(|e| e.to_string()))
            .collect()
    });
    // This run's files: all of them, or its shard's.
    let todo: Vec<usize> = (0..files.len())
        .filter(|&i| {
            opts.shard
                .is_none_or(|s| s.owns(&files[i], hashes[i].as_deref().ok()))
        })
        .collect();
    if let Some(m) = existing.as_ref().filter(|_| opts.shard.is_none()) {
        let now: Vec<(&str, Option<&str>)> = files
            .iter()
            .zip(&hashes)
            .map(|(p, h)| (p.as_str(), h.as_deref().ok()))
            .collect();
        let mut before: Vec<(&str, Option<&str>)> = m
            .items
            .iter()
            .map(|i| (i.path.as_str(), Some(i.hash.as_str())))
            .chain(m.skipped.iter().map(|s| (s.path.as_str(), None)))
            .collect();
        before.sort();
        let mut now_items = now.clone();
        // Skipped files are compared by path only: their hash is not recorded.
        for (p, h) in now_items.iter_mut() {
            if m.skipped.iter().any(|s| s.path == *p) {
                *h = None;
            }
        }
        let same_labels = m.labels.as_ref().map(|l| &l.table_hash)
            == opts.labels.as_ref().map(|l| &l.info().table_hash);
        if before == now_items && same_labels {
            return Ok(Outcome::UpToDate(Box::new(m.clone())));
        }
    }

    // One result per file: Some(Ok(part)), Some(Err(reason)) for skipped, None if not done.
    let process = |&i: &usize| -> Option<std::result::Result<Part, String>> {
        let (rel, hash) = (&files[i], &hashes[i]);
        let hash = match hash {
            Ok(h) => h,
            Err(reason) => {
                progress(&Progress::Skipped { path: rel, reason });
                return Some(Err(reason.clone()));
            }
        };
        let stem = parts_dir.join(hash);
        if let Some(part) = read_part(&stem) {
            reused.fetch_add(1, Ordering::Relaxed);
            progress(&Progress::Done {
                path: rel,
                frames: part.n_frames,
                reused: true,
            });
            return Some(Ok(part));
        }
        if cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(limit) = opts.stop_after {
            if started.fetch_add(1, Ordering::SeqCst) >= limit {
                return None;
            }
        }
        match compute_part(&input.join(rel), &plan, opts) {
            Ok((part, frames)) => match write_part(&stem, &part, &frames) {
                Ok(()) => {
                    progress(&Progress::Done {
                        path: rel,
                        frames: part.n_frames,
                        reused: false,
                    });
                    Some(Ok(part))
                }
                // Could not store the part: the run cannot finish.
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    let mut first = write_error.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(e);
                    None
                }
            },
            Err(reason) => {
                progress(&Progress::Skipped {
                    path: rel,
                    reason: &reason,
                });
                Some(Err(reason))
            }
        }
    };
    // Files with the same content share one part: the first of each content is done first,
    // its copies after it (reading the part it stored), so that no two workers ever write the
    // same part's temporary files at once.
    let mut contents = std::collections::HashSet::new();
    let (first, copies): (Vec<usize>, Vec<usize>) = todo.iter().partition(|&&i| {
        hashes[i]
            .as_ref()
            .map_or(true, |h| contents.insert(h.as_str()))
    });
    let mut done: std::collections::HashMap<usize, Option<std::result::Result<Part, String>>> =
        pool.install(|| first.par_iter().map(|i| (*i, process(i))).collect());
    done.extend(pool.install(|| {
        copies
            .par_iter()
            .map(|i| (*i, process(i)))
            .collect::<Vec<_>>()
    }));
    let results: Vec<Option<std::result::Result<Part, String>>> = todo
        .iter()
        .map(|i| {
            done.remove(i)
                .expect("every file of this run was processed")
        })
        .collect();
    // A part that could not be written is an error, not an interruption.
    if let Some(e) = write_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let remaining = results.iter().filter(|r| r.is_none()).count();
    if remaining > 0 {
        return Ok(Outcome::Interrupted {
            done: results.len() - remaining,
            remaining,
        });
    }
    let reused = reused.load(Ordering::Relaxed);
    if let Some(shard) = opts.shard {
        let files_done = results.len();
        super::shard::write_record(output, opts, shard, &files, &hashes, &todo, results)?;
        return Ok(Outcome::Shard {
            shard,
            files: files_done,
            computed: files_done - reused,
            reused,
        });
    }
    let manifest = assemble(output, &parts_dir, opts, &files, &hashes, results)?;
    let computed = manifest.items.len().saturating_sub(reused);
    Ok(Outcome::Complete {
        manifest: Box::new(manifest),
        computed,
        reused,
    })
}

/// Where the parts of a dataset in `output` prepared with `opts` are stored: parts depend on
/// the analysis and on everything that changes a file's frames.
pub(crate) fn parts_dir(output: &Path, opts: &PrepareOptions) -> PathBuf {
    let key_source = serde_json::to_string(&(
        &opts.params,
        opts.settings.db,
        opts.settings.trim_silence_db,
    ))
    .expect("parameters serialise");
    let key = &blake3::hash(key_source.as_bytes()).to_hex()[..16];
    output.join(PARTS_DIR).join(key)
}

/// Decode, resample, trim, analyse and scale one file; `Err` holds the reason to skip it.
fn compute_part(
    path: &Path,
    plan: &MelSpectrogram,
    opts: &PrepareOptions,
) -> std::result::Result<(Part, Array2<f32>), String> {
    let p = &opts.params;
    let s = &opts.settings;
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
            crate::sidecar::Scale::Db { reference, .. } => Some(reference),
            crate::sidecar::Scale::Linear => None,
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

pub(crate) fn part_paths(stem: &Path) -> (PathBuf, PathBuf) {
    (stem.with_extension("npy"), stem.with_extension("json"))
}

/// A stored part, if both its files are there and readable.
fn read_part(stem: &Path) -> Option<Part> {
    let (npy, json) = part_paths(stem);
    if !npy.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(json).ok()?;
    serde_json::from_str(&text).ok()
}

/// Write a part: frames first, its description last, each renamed into place, so that a
/// description always has its frames.
fn write_part(stem: &Path, part: &Part, frames: &Array2<f32>) -> Result<()> {
    let (npy, json) = part_paths(stem);
    write_renamed(&npy, |tmp| write_f32_2d(tmp, frames.view()))?;
    let text = serde_json::to_string(part).expect("part serialises");
    write_renamed(&json, |tmp| {
        std::fs::write(tmp, &text).map_err(|e| Error::io(tmp, e))
    })
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

/// Combine the parts into `frames.npy` and `manifest.json`.
pub(crate) fn assemble(
    output: &Path,
    parts_dir: &Path,
    opts: &PrepareOptions,
    files: &[String],
    hashes: &[std::result::Result<String, String>],
    results: Vec<Option<std::result::Result<Part, String>>>,
) -> Result<Manifest> {
    let n_mels = opts.params.n_mels;
    let mut items = Vec::new();
    let mut parts = Vec::new();
    let mut skipped = Vec::new();
    for ((path, hash), result) in files.iter().zip(hashes).zip(results) {
        match (result.expect("every file is done"), hash) {
            (Ok(_), Ok(_)) if opts.labels.as_ref().is_some_and(|t| t.get(path).is_none()) => {
                skipped.push(Skipped {
                    path: path.clone(),
                    reason: "no label in the label table".into(),
                })
            }
            (Ok(part), Ok(hash)) => {
                let split = if split_value(opts.settings.seed, path) < opts.settings.valid_fraction
                {
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
                split_value(opts.settings.seed, &items[a].0)
                    .total_cmp(&split_value(opts.settings.seed, &items[b].0))
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
        params: opts.params,
        settings: opts.settings,
        n_mels,
        total_frames: start,
        chunks: frames::chunks(parts.iter().map(|p| p.n_frames), opts.chunk_frames),
        items: manifest_items,
        skipped,
        stats,
        labels: opts.labels.as_ref().map(|t| t.info().clone()),
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
    if let Some(table) = &opts.labels {
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
    if opts.labels.is_none() {
        let _ = std::fs::remove_file(&labels_path);
    }
    Ok(manifest)
}
