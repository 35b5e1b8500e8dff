//! Building a dataset: every audio file under a folder → mel frames, resumably.
//!
//! Each finished file is stored as a *part* (`parts/<settings>/<file hash>.npy` + `.json`,
//! written atomically), so an interrupted run loses at most the files in flight and a re-run
//! only computes what is missing. When every file is done the parts are assembled, in path
//! order, into the frame files ([`super::frames`]) and `manifest.json` (temporary files renamed
//! into place; the old manifest is removed first, so a manifest always describes the frame
//! files next to it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use super::frames;
use super::labels::LabelTable;
use super::manifest::{Manifest, PrepareSettings, MANIFEST_FILE};
use super::parts::{self, Hash, PartResult, Recipe};
use super::shard::{self, Shard};
use crate::files::hash_file;
use crate::{Error, Result};
use melspec::audio;
use melspec::{AnalysisParams, MelSpectrogram};

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

    /// What the parts are computed with and assembled into.
    pub(crate) fn recipe(&self) -> Recipe<'_> {
        Recipe {
            params: &self.params,
            settings: &self.settings,
            chunk_frames: self.chunk_frames,
            labels: self.labels.as_ref(),
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
/// parameters or in use by another process; I/O errors writing the dataset. Unreadable or
/// too-short audio files are not errors: they are listed as skipped.
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
    let existing = existing_manifest(output, opts)?;
    let recipe = opts.recipe();
    let parts_dir = parts::parts_dir(output, &recipe);
    std::fs::create_dir_all(&parts_dir).map_err(|e| Error::io(&parts_dir, e))?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::param("jobs", opts.jobs.unwrap_or(0), e.to_string()))?;
    let hashes: Vec<Hash> = pool.install(|| {
        files
            .par_iter()
            .map(|rel| hash_file(&input.join(rel)).map_err(|e| e.to_string()))
            .collect()
    });
    if let Some(m) = existing.filter(|_| opts.shard.is_none()) {
        if unchanged(&m, &files, &hashes, opts.labels.as_ref()) {
            return Ok(Outcome::UpToDate(Box::new(m)));
        }
    }
    // This run's files: all of them, or its shard's.
    let todo: Vec<usize> = (0..files.len())
        .filter(|&i| {
            opts.shard
                .is_none_or(|s| s.owns(&files[i], hashes[i].as_deref().ok()))
        })
        .collect();
    let work = Work {
        input,
        files: &files,
        hashes: &hashes,
        parts_dir: &parts_dir,
        plan: MelSpectrogram::new(opts.params.stft, opts.params.mel(), opts.params.power)?,
        recipe,
        stop_after: opts.stop_after,
        cancel,
        progress,
        started: AtomicUsize::new(0),
        reused: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        write_error: Mutex::new(None),
    };
    let (results, reused) = work.run(&pool, &todo)?;
    let remaining = results.iter().filter(|r| r.is_none()).count();
    if remaining > 0 {
        return Ok(Outcome::Interrupted {
            done: results.len() - remaining,
            remaining,
        });
    }
    if let Some(shard) = opts.shard {
        let files_done = results.len();
        shard::write_record(output, &recipe, shard, &files, &hashes, &todo, results)?;
        return Ok(Outcome::Shard {
            shard,
            files: files_done,
            computed: files_done - reused,
            reused,
        });
    }
    let manifest = parts::assemble(output, &recipe, &files, &hashes, results)?;
    let computed = manifest.items.len().saturating_sub(reused);
    Ok(Outcome::Complete {
        manifest: Box::new(manifest),
        computed,
        reused,
    })
}

/// The manifest of a dataset already in `output`, if any.
///
/// # Errors
/// [`Error::InvalidInput`] when it was prepared with other parameters than `opts`'; as
/// [`Manifest::read`].
fn existing_manifest(output: &Path, opts: &PrepareOptions) -> Result<Option<Manifest>> {
    let path = output.join(MANIFEST_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let m = Manifest::read(&path)?;
    if m.params != opts.params || m.settings != opts.settings {
        return Err(Error::InvalidInput(format!(
            "{}: prepared with different parameters; use another directory",
            output.display()
        )));
    }
    Ok(Some(m))
}

/// Whether the dataset of manifest `m` was made from exactly these `files` (same contents)
/// with the same `labels`, so that nothing needs doing. Skipped files are compared by path
/// only: their hash is not recorded.
fn unchanged(m: &Manifest, files: &[String], hashes: &[Hash], labels: Option<&LabelTable>) -> bool {
    let mut before: Vec<(&str, Option<&str>)> = m
        .items
        .iter()
        .map(|i| (i.path.as_str(), Some(i.hash.as_str())))
        .chain(m.skipped.iter().map(|s| (s.path.as_str(), None)))
        .collect();
    before.sort();
    let now: Vec<(&str, Option<&str>)> = files
        .iter()
        .zip(hashes)
        .map(|(p, h)| {
            let skipped = m.skipped.iter().any(|s| s.path == *p);
            (p.as_str(), h.as_deref().ok().filter(|_| !skipped))
        })
        .collect();
    let same_labels =
        m.labels.as_ref().map(|l| &l.table_hash) == labels.map(|l| &l.info().table_hash);
    before == now && same_labels
}

/// One run over a listing's files: each file's part is read back from an earlier run or
/// computed and stored.
struct Work<'a> {
    input: &'a Path,
    files: &'a [String],
    hashes: &'a [Hash],
    parts_dir: &'a Path,
    plan: MelSpectrogram,
    recipe: Recipe<'a>,
    stop_after: Option<usize>,
    cancel: &'a AtomicBool,
    progress: &'a (dyn Fn(&Progress) + Sync),
    /// Files started in this run (for `stop_after`).
    started: AtomicUsize,
    /// Parts reused from earlier runs.
    reused: AtomicUsize,
    /// Set when a part could not be stored: the run cannot finish, the other files stop.
    failed: AtomicBool,
    /// The first part that could not be stored.
    write_error: Mutex<Option<Error>>,
}

impl Work<'_> {
    /// Process the files `todo` (indices into the listing) on `pool`: their results in the
    /// order of `todo` (`None` for files not done: cancelled or stopped) and how many parts
    /// were reused.
    ///
    /// Files with the same content share one part: the first of each content is done first,
    /// its copies after it (reading the part it stored), so that no two workers ever write
    /// the same part's temporary files at once.
    ///
    /// # Errors
    /// A part that could not be stored (an error, not an interruption).
    fn run(
        self,
        pool: &rayon::ThreadPool,
        todo: &[usize],
    ) -> Result<(Vec<Option<PartResult>>, usize)> {
        let mut contents = std::collections::HashSet::new();
        let (first, copies): (Vec<usize>, Vec<usize>) = todo.iter().partition(|&&i| {
            self.hashes[i]
                .as_ref()
                .map_or(true, |h| contents.insert(h.as_str()))
        });
        let mut done: HashMap<usize, Option<PartResult>> =
            pool.install(|| first.par_iter().map(|&i| (i, self.process(i))).collect());
        done.extend(pool.install(|| {
            copies
                .par_iter()
                .map(|&i| (i, self.process(i)))
                .collect::<Vec<_>>()
        }));
        if let Some(e) = self
            .write_error
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Err(e);
        }
        let results = todo
            .iter()
            .map(|i| {
                done.remove(i)
                    .expect("every file of this run was processed")
            })
            .collect();
        Ok((results, self.reused.into_inner()))
    }

    /// File `i`'s result: `Some(Ok(part))`, `Some(Err(reason))` when skipped, `None` when not
    /// done (cancelled, stopped, or another file's part could not be stored).
    fn process(&self, i: usize) -> Option<PartResult> {
        let rel = &self.files[i];
        let hash = match &self.hashes[i] {
            Ok(h) => h,
            Err(reason) => {
                (self.progress)(&Progress::Skipped { path: rel, reason });
                return Some(Err(reason.clone()));
            }
        };
        let stem = self.parts_dir.join(hash);
        if let Some(part) = parts::read_part(&stem) {
            self.reused.fetch_add(1, Ordering::Relaxed);
            (self.progress)(&Progress::Done {
                path: rel,
                frames: part.n_frames,
                reused: true,
            });
            return Some(Ok(part));
        }
        if self.cancel.load(Ordering::Relaxed) || self.failed.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(limit) = self.stop_after {
            if self.started.fetch_add(1, Ordering::SeqCst) >= limit {
                return None;
            }
        }
        match parts::compute_part(&self.input.join(rel), &self.plan, &self.recipe) {
            Ok((part, frames)) => match parts::write_part(&stem, &part, &frames) {
                Ok(()) => {
                    (self.progress)(&Progress::Done {
                        path: rel,
                        frames: part.n_frames,
                        reused: false,
                    });
                    Some(Ok(part))
                }
                Err(e) => {
                    self.failed.store(true, Ordering::Relaxed);
                    let mut first = self.write_error.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(e);
                    None
                }
            },
            Err(reason) => {
                (self.progress)(&Progress::Skipped {
                    path: rel,
                    reason: &reason,
                });
                Some(Err(reason))
            }
        }
    }
}
