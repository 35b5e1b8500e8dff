//! Reading a prepared dataset: items, random windows, normalisation.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use rand::Rng;

use super::frames::FrameFiles;
use super::labels::LABELS_NPY;
use super::levels::{Levels, DB_FLOOR};
use super::manifest::MANIFEST_FILE;
use super::manifest::{Item, Manifest, Normalization, Split};
use crate::{Error, Result};

/// An open dataset.
#[derive(Debug)]
pub struct Dataset {
    dir: PathBuf,
    manifest: Manifest,
    frames: FrameFiles,
    labels: Option<Array2<f32>>,
}

impl Dataset {
    /// Open the dataset in `dir` (its `manifest.json` and frame files).
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::InvalidInput`] when the files are missing, unreadable or do
    /// not agree.
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = Manifest::read(&dir.join(MANIFEST_FILE))?;
        let frames = FrameFiles::open(dir, &manifest)?;
        let labels = match &manifest.labels {
            None => None,
            Some(info) => {
                let path = dir.join(LABELS_NPY);
                let labels = melspec::npy::read_f32_2d(&path)?;
                if labels.dim() != (manifest.items.len(), info.dim()) {
                    return Err(Error::InvalidInput(format!(
                        "{}: shape {:?}, the manifest has {} items with {} label values each",
                        path.display(),
                        labels.dim(),
                        manifest.items.len(),
                        info.dim()
                    )));
                }
                Some(labels)
            }
        };
        Ok(Dataset {
            dir: dir.to_owned(),
            manifest,
            frames,
            labels,
        })
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The labels of every item, `(items, dim)` in manifest order (category labels are class
    /// indices into [`super::LabelKind::Category`]'s classes), if the dataset has labels.
    pub fn labels(&self) -> Option<ndarray::ArrayView2<'_, f32>> {
        self.labels.as_ref().map(Array2::view)
    }

    /// The label of item `index` (manifest order), `dim` values.
    pub fn label(&self, index: usize) -> Option<ndarray::ArrayView1<'_, f32>> {
        self.labels
            .as_ref()
            .filter(|l| index < l.nrows())
            .map(|l| l.row(index))
    }

    /// Items of `split` (all items for `None`).
    pub fn items(&self, split: Option<Split>) -> impl Iterator<Item = &Item> {
        self.manifest
            .items
            .iter()
            .filter(move |i| split.is_none_or(|s| i.split == s))
    }

    /// Frames of the longest item of `split` (all items for `None`; 0 without items).
    pub fn longest_item(&self, split: Option<Split>) -> usize {
        self.items(split).map(Item::n_frames).max().unwrap_or(0)
    }

    /// Frames `start .. start + out.len() / n_mels` of the frame files into `out`
    /// (time-major, `n_mels` values per frame).
    ///
    /// # Errors
    /// [`Error::Io`] on a read error, [`Error::InvalidInput`] for a range beyond the end.
    pub fn read_frames(&self, start: usize, out: &mut [f32]) -> Result<()> {
        self.frames.read(start, out)
    }

    /// All frames of `item`, `(frames, n_mels)`.
    ///
    /// # Errors
    /// As [`Dataset::read_frames`].
    pub fn item_frames(&self, item: &Item) -> Result<Array2<f32>> {
        let mut out = Array2::zeros((item.n_frames(), self.manifest.n_mels));
        self.read_frames(
            item.frames[0],
            out.as_slice_mut().expect("new arrays are contiguous"),
        )?;
        Ok(out)
    }

    /// The [`Levels`] of the items of `split` (all with `None`), for a dB dataset.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a linear dataset; as [`Dataset::read_frames`].
    pub fn levels(&self, split: Option<Split>) -> Result<Levels> {
        if !self.manifest.settings.db {
            return Err(Error::InvalidInput(format!(
                "{}: levels need a dB dataset (prepare --db)",
                self.dir.display()
            )));
        }
        let mut levels = Levels::new(self.manifest.n_mels, DB_FLOOR);
        for item in self.items(split) {
            levels.add(
                self.item_frames(item)?
                    .as_slice()
                    .expect("new arrays are contiguous"),
            );
        }
        Ok(levels)
    }

    /// Apply `norm` in place to time-major frames (`n_mels` values per frame).
    pub fn normalize(&self, norm: Normalization, frames: &mut [f32]) {
        self.manifest.stats.normalize(norm, frames);
    }

    /// Undo [`Dataset::normalize`] in place.
    pub fn denormalize(&self, norm: Normalization, frames: &mut [f32]) {
        self.manifest.stats.denormalize(norm, frames);
    }

    /// A sampler of random windows of `n_frames` frames from `split`, drawn over every start
    /// position. Items shorter than `n_frames` are skipped, or with `pad` used once each,
    /// padded at the end with the corpus minimum (silence, for dB values).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when no item of `split` can give a window.
    pub fn windows(&self, split: Split, n_frames: usize, pad: bool) -> Result<WindowSampler<'_>> {
        Ok(self.sampler(self.window_index(split, n_frames, 1, pad)?))
    }

    /// A sampler of random windows of `index` (e.g. one window per item from its start:
    /// a [`Dataset::window_index`] with a hop longer than any item).
    pub fn sampler(&self, index: WindowIndex) -> WindowSampler<'_> {
        WindowSampler {
            dataset: self,
            index,
        }
    }

    /// The windows of `n_frames` frames of `split` that start every `hop` frames within each
    /// item (with `hop = n_frames`, the items cut into consecutive tiles), numbered in item
    /// order; items shorter than `n_frames` as in [`Dataset::windows`]. Read them with
    /// [`Dataset::read_window`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero length or hop; [`Error::InvalidInput`] when no
    /// item of `split` can give a window.
    pub fn window_index(
        &self,
        split: Split,
        n_frames: usize,
        hop: usize,
        pad: bool,
    ) -> Result<WindowIndex> {
        if n_frames == 0 {
            return Err(Error::param("frames", 0, "window length must be positive"));
        }
        if hop == 0 {
            return Err(Error::param("hop", 0, "must be positive"));
        }
        let mut starts = Vec::new();
        let mut total = 0u64;
        for (k, item) in self
            .manifest
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.split == split)
        {
            let positions = match item.n_frames() {
                n if n >= n_frames => ((n - n_frames) / hop + 1) as u64,
                n if pad && n > 0 => 1,
                _ => 0,
            };
            if positions > 0 {
                starts.push((total, item.frames[0], item.n_frames(), k));
                total += positions;
            }
        }
        if total == 0 {
            return Err(Error::InvalidInput(format!(
                "no {} item has {n_frames} frames{}",
                match split {
                    Split::Train => "train",
                    Split::Valid => "valid",
                },
                if pad { "" } else { " (try padding)" }
            )));
        }
        Ok(WindowIndex {
            starts,
            total,
            n_frames,
            hop,
        })
    }

    /// Window `position` (< [`WindowIndex::len`]) of `index` into `out` (`n_frames × n_mels`,
    /// time-major), normalised by `norm`; returns its first frame's index in the dataset.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a position out of range; as [`Dataset::read_frames`].
    pub fn read_window(
        &self,
        index: &WindowIndex,
        position: u64,
        norm: Normalization,
        out: &mut [f32],
    ) -> Result<usize> {
        let n_mels = self.manifest.n_mels;
        if position >= index.total || out.len() != index.n_frames * n_mels {
            return Err(Error::InvalidInput(format!(
                "window {position} of {} into {} values (expected {})",
                index.total,
                out.len(),
                index.n_frames * n_mels
            )));
        }
        let i = index.starts.partition_point(|s| s.0 <= position) - 1;
        let (first, item_start, item_len, _) = index.starts[i];
        let start = item_start + (position - first) as usize * index.hop;
        let take = index.n_frames.min(item_len);
        self.read_frames(start, &mut out[..take * n_mels])?;
        out[take * n_mels..].fill(self.manifest.stats.all.min);
        self.normalize(norm, out);
        Ok(start)
    }
}

/// The windows of a split a [`Dataset::window_index`] call selected.
#[derive(Debug, Clone)]
pub struct WindowIndex {
    /// (first window number, first frame in the dataset, item length, item index in the
    /// manifest) per eligible item.
    starts: Vec<(u64, usize, usize, usize)>,
    total: u64,
    n_frames: usize,
    hop: usize,
}

impl WindowIndex {
    /// The manifest index of the item window `position` comes from (`None` past the end).
    pub fn item(&self, position: u64) -> Option<usize> {
        if position >= self.total {
            return None;
        }
        let i = self.starts.partition_point(|s| s.0 <= position) - 1;
        Some(self.starts[i].3)
    }

    /// Keep only the windows of the items (manifest indices) `keep` accepts.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when no window is left.
    pub fn retain(&mut self, keep: impl Fn(usize) -> bool) -> Result<()> {
        let hop = self.hop as u64;
        let mut total = 0u64;
        let mut starts = Vec::with_capacity(self.starts.len());
        for (i, s) in self.starts.iter().enumerate() {
            let end = self.starts.get(i + 1).map_or(self.total, |n| n.0);
            if keep(s.3) {
                starts.push((total, s.1, s.2, s.3));
                total += end - s.0;
            }
        }
        if total == 0 {
            return Err(Error::InvalidInput(format!(
                "no item with {} frames{} is left",
                self.n_frames,
                if hop > 1 { " from its start" } else { "" }
            )));
        }
        self.starts = starts;
        self.total = total;
        Ok(())
    }

    /// Number of windows.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether there is no window (never, for an index a dataset returned).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Frames per window.
    pub fn n_frames(&self) -> usize {
        self.n_frames
    }
}

/// Random windows drawn uniformly over every valid start position of a split.
#[derive(Debug)]
pub struct WindowSampler<'a> {
    dataset: &'a Dataset,
    index: WindowIndex,
}

impl WindowSampler<'_> {
    /// Number of distinct windows.
    pub fn positions(&self) -> u64 {
        self.index.total
    }

    /// Draw a window into `out` (`n_frames × n_mels`, time-major) and normalise it; returns
    /// its first frame's index in the dataset and its item's index in the manifest.
    ///
    /// # Errors
    /// As [`Dataset::read_window`].
    pub fn sample(
        &self,
        rng: &mut impl Rng,
        norm: Normalization,
        out: &mut [f32],
    ) -> Result<(usize, usize)> {
        self.read(self.pick(rng), norm, out)
    }

    /// A random window position (uniform over [`WindowSampler::positions`]), to [`read`] later.
    ///
    /// [`read`]: WindowSampler::read
    pub fn pick(&self, rng: &mut impl Rng) -> u64 {
        rng.gen_range(0..self.index.total)
    }

    /// The frames of data in window `position` (< [`WindowSampler::positions`]; the rest of a
    /// padded window is padding): a window lies inside its item unless the item is shorter
    /// than a window, so this is the smaller of the two lengths.
    pub fn real_frames(&self, position: u64) -> usize {
        let i = self.index.starts.partition_point(|s| s.0 <= position) - 1;
        self.index.n_frames.min(self.index.starts[i].2)
    }

    /// The mean of [`WindowSampler::real_frames`] over every window: how many frames of data
    /// a drawn window holds on average (one pass over the items, not the windows).
    pub fn mean_real_frames(&self) -> f64 {
        let ends = self.index.starts.iter().skip(1).map(|s| s.0);
        let sum: u64 = self
            .index
            .starts
            .iter()
            .zip(ends.chain([self.index.total]))
            .map(|(s, end)| (end - s.0) * self.index.n_frames.min(s.2) as u64)
            .sum();
        sum as f64 / self.index.total as f64
    }

    /// Window `position` into `out` (`n_frames × n_mels`, time-major), normalised; returns its
    /// first frame's index in the dataset and its item's index in the manifest.
    ///
    /// # Errors
    /// As [`Dataset::read_window`].
    pub fn read(
        &self,
        position: u64,
        norm: Normalization,
        out: &mut [f32],
    ) -> Result<(usize, usize)> {
        let start = self.dataset.read_window(&self.index, position, norm, out)?;
        let item = self
            .index
            .item(position)
            .expect("a position below the total");
        Ok((start, item))
    }
}
