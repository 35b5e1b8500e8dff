//! Sharded preparation, for corpora beyond one machine: `N` runs each prepare the files of
//! one shard into a directory of their own (`prepare --shard K/N`), and a merge assembles the
//! shards into one dataset — byte for byte the dataset one machine would have made.
//!
//! A file belongs to shard `1 + (h mod N)`, `h` the first 64 bits of its content hash (BLAKE3,
//! the hash that keys its part), so a file keeps its shard when the folder grows or is listed
//! on another machine; a file that cannot be read is placed by the hash of its path. Every
//! shard hashes every file (to know its own), and records the whole listing in `shard.json`
//! next to its parts; the merge checks that the `N` listings agree and that every file was
//! prepared by exactly one shard, then runs the one-machine assembly on the union.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::labels::LabelTable;
use super::manifest::{read_versioned, Manifest, PrepareSettings, FORMAT};
use super::parts::{assemble, part_paths, parts_dir, Hash, PartResult, Recipe};
use crate::files::{write_renamed, write_text};
use crate::{Error, Result};
use melspec::AnalysisParams;

/// The file a shard run writes next to its parts.
pub const SHARD_FILE: &str = "shard.json";

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1 to `count`.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// Parse `K/N` (1 ≤ K ≤ N).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if (1..=count).contains(&index) => Ok(Shard { index, count }),
            _ => Err(Error::param(
                "shard",
                text,
                "expected K/N with 1 ≤ K ≤ N (e.g. 3/8)",
            )),
        }
    }

    /// Whether this shard prepares the file at relative path `path` with content hash `hash`
    /// (hex; `None` when the file cannot be read).
    pub fn owns(&self, path: &str, hash: Option<&str>) -> bool {
        let h = hash
            .and_then(|h| u64::from_str_radix(h.get(..16)?, 16).ok())
            .unwrap_or_else(|| {
                let d = blake3::hash(path.as_bytes());
                u64::from_le_bytes(d.as_bytes()[..8].try_into().expect("8 bytes"))
            });
        (h % self.count as u64) as usize + 1 == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a shard run leaves: the settings, the whole listing and its own files' results.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    params: AnalysisParams,
    settings: PrepareSettings,
    shard: Shard,
    /// blake3 of the label table the shard was prepared with, if any.
    #[serde(default)]
    labels: Option<String>,
    /// Every audio file of the input (sorted) with its content hash, or why it could not be
    /// hashed.
    files: Vec<(String, Hash)>,
    /// This shard's results by position in `files`: the part, or why the file was skipped.
    results: Vec<(usize, PartResult)>,
}

/// Write `shard.json` for a finished shard run into `output` (atomically): the listing
/// (`files`, `hashes`) and the `results` of this shard's files (`todo`, indices into it).
pub(crate) fn write_record(
    output: &Path,
    recipe: &Recipe,
    shard: Shard,
    files: &[String],
    hashes: &[Hash],
    todo: &[usize],
    results: Vec<Option<PartResult>>,
) -> Result<()> {
    let record = Record {
        format: FORMAT,
        params: *recipe.params,
        settings: *recipe.settings,
        shard,
        labels: recipe.labels.map(|t| t.info().table_hash.clone()),
        files: files.iter().cloned().zip(hashes.iter().cloned()).collect(),
        results: todo
            .iter()
            .zip(results)
            .map(|(&i, r)| (i, r.expect("a finished shard has every result")))
            .collect(),
    };
    let text = serde_json::to_string(&record).expect("shard record serialises");
    write_text(&output.join(SHARD_FILE), &text)
}

/// The input listing a shard directory was prepared from (`/`-separated relative paths,
/// sorted), e.g. to derive labels from folders for [`merge`].
///
/// # Errors
/// As reading the shard's `shard.json`.
pub fn listing(dir: &Path) -> Result<Vec<String>> {
    Ok(read_record(dir)?
        .files
        .into_iter()
        .map(|(path, _)| path)
        .collect())
}

/// Read and check the `shard.json` in `dir`.
fn read_record(dir: &Path) -> Result<Record> {
    read_versioned(&dir.join(SHARD_FILE), "shard record", |r: &Record| r.format)
}

/// Assemble the shard directories `shards` (all `N` of one sharded preparation) into the
/// dataset `output`: the parts are linked (or copied) into `output`, then assembled exactly
/// as a one-machine `prepare` does, frame files of at most `chunk_frames` frames.
///
/// # Errors
/// A shard that is missing, repeated, unfinished or from another preparation (other
/// settings, another listing of the input); I/O errors.
pub fn merge(
    shards: &[PathBuf],
    output: &Path,
    chunk_frames: usize,
    labels: Option<LabelTable>,
) -> Result<Manifest> {
    let records = shards
        .iter()
        .map(|d| read_record(d))
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = records.first() else {
        return Err(Error::InvalidInput("no shards to merge".into()));
    };
    let count = first.shard.count;
    let mut seen = vec![None; count];
    for (dir, r) in shards.iter().zip(&records) {
        let same =
            r.params == first.params && r.settings == first.settings && r.labels == first.labels;
        if !same || r.shard.count != count || r.files != first.files {
            return Err(Error::InvalidInput(format!(
                "{}: shard {} is not from the same preparation as {} (settings, shard count \
                 or the listing of the input differ)",
                dir.display(),
                r.shard,
                shards[0].display()
            )));
        }
        if let Some(other) = seen[r.shard.index - 1].replace(dir) {
            return Err(Error::InvalidInput(format!(
                "{} and {} are both shard {}",
                other.display(),
                dir.display(),
                r.shard
            )));
        }
    }
    let given = labels.as_ref().map(|t| &t.info().table_hash);
    if first.labels.as_ref() != given {
        return Err(Error::InvalidInput(match &first.labels {
            Some(_) => format!(
                "{}: the shards were prepared with {} label table; give the same --labels (or --labels-from-folders) to merge",
                shards[0].display(),
                if given.is_some() { "another" } else { "a" }
            ),
            None => format!(
                "{}: the shards were prepared without labels",
                shards[0].display()
            ),
        }));
    }
    if let Some(k) = seen.iter().position(Option::is_none) {
        return Err(Error::InvalidInput(format!(
            "shard {}/{count} is missing",
            k + 1
        )));
    }
    let recipe = Recipe {
        params: &first.params,
        settings: &first.settings,
        chunk_frames,
        labels: labels.as_ref(),
    };
    if chunk_frames == 0 {
        return Err(Error::param("chunk_frames", 0, "must be positive"));
    }
    std::fs::create_dir_all(output).map_err(|e| Error::io(output, e))?;
    let _lock = crate::lock::DirLock::acquire(output)?;
    let parts = parts_dir(output, &recipe);
    std::fs::create_dir_all(&parts).map_err(|e| Error::io(&parts, e))?;

    let n = first.files.len();
    let mut results: Vec<Option<PartResult>> = vec![None; n];
    for (dir, r) in shards.iter().zip(records.iter()) {
        let theirs = parts_dir(dir, &recipe);
        for (i, result) in &r.results {
            let slot = results.get_mut(*i).ok_or_else(|| {
                Error::InvalidInput(format!("{}: result for file {i} of {n}", dir.display()))
            })?;
            if slot.is_some()
                || !r
                    .shard
                    .owns(&first.files[*i].0, first.files[*i].1.as_deref().ok())
            {
                return Err(Error::InvalidInput(format!(
                    "{}: {} is not this shard's file",
                    dir.display(),
                    first.files[*i].0
                )));
            }
            if let (Ok(_), Ok(hash)) = (result, &first.files[*i].1) {
                let (from_npy, from_json) = part_paths(&theirs.join(hash));
                let (to_npy, to_json) = part_paths(&parts.join(hash));
                link_or_copy(&from_npy, &to_npy)?;
                link_or_copy(&from_json, &to_json)?;
            }
            *slot = Some(result.clone());
        }
    }
    if let Some(i) = results.iter().position(Option::is_none) {
        return Err(Error::InvalidInput(format!(
            "{} was prepared by no shard (a shard run did not finish?)",
            first.files[i].0
        )));
    }
    let (files, hashes): (Vec<String>, Vec<_>) = first.files.iter().cloned().unzip();
    assemble(output, &recipe, &files, &hashes, results)
}

/// Put the file `from` at `to` (a hard link where possible, else a copy through a temporary
/// file); an existing `to` is kept (parts are named by content).
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if to.is_file() || std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    write_renamed(to, |tmp| {
        std::fs::copy(from, tmp)
            .map(drop)
            .map_err(|e| Error::io(from, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_exactly_one_shard() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let hashes: Vec<String> = (0..200u32)
            .map(|i| blake3::hash(&i.to_le_bytes()).to_hex().to_string())
            .collect();
        let mut per_shard = [0; 4];
        for (i, h) in hashes.iter().enumerate() {
            let path = format!("f{i}.wav");
            let hash = (i % 10 != 0).then_some(h.as_str());
            let owners: Vec<usize> = (1..=4)
                .filter(|&k| Shard { index: k, count: 4 }.owns(&path, hash))
                .collect();
            assert_eq!(owners.len(), 1);
            per_shard[owners[0] - 1] += 1;
        }
        assert!(per_shard.iter().all(|&c| c > 30), "{per_shard:?}");
    }
}
