//! The frame files of a dataset: all items' frames `(total_frames, n_mels)`, time-major f32,
//! split into files of whole items so that a corpus of any size needs no single giant file.
//!
//! One file is `frames.npy`; more are `frames-00000.npy`, `frames-00001.npy`, … (each a
//! `.npy` that `np.load(..., mmap_mode="r")` reads). The manifest lists the frames per file
//! ([`crate::dataset::Manifest::chunks`]); datasets of earlier versions have one `frames.npy`
//! and no list. Files are read with positioned reads (`pread`), not memory-mapped: this crate
//! has no `unsafe`, and the OS page cache makes repeated reads of a hot dataset as cheap.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use crate::{Error, Result};
use melspec::npy::{f32_2d_header, parse_f32_2d_header};

/// The name of frame file `index` of `count`.
pub fn file_name(index: usize, count: usize) -> String {
    if count <= 1 {
        "frames.npy".into()
    } else {
        format!("frames-{index:05}.npy")
    }
}

/// Default largest number of frames per file: 2^22 (2 GiB at 128 mels).
pub const DEFAULT_CHUNK_FRAMES: usize = 1 << 22;

/// Frames per file for items of `item_frames` frames, in order: items are packed into a file
/// until the next would take it past `chunk_frames` (an item longer than that has a file of its
/// own).
pub fn chunks(item_frames: impl IntoIterator<Item = usize>, chunk_frames: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut current = 0;
    for n in item_frames {
        if current > 0 && current + n > chunk_frames {
            out.push(current);
            current = 0;
        }
        current += n;
    }
    if current > 0 || out.is_empty() {
        out.push(current);
    }
    out
}

/// The frame files of `manifest` in `dir`: `(path, first frame, frames)` each.
fn layout(dir: &Path, manifest: &Manifest) -> Vec<(PathBuf, usize, usize)> {
    let sizes = if manifest.chunks.is_empty() {
        vec![manifest.total_frames]
    } else {
        manifest.chunks.clone()
    };
    let mut start = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let entry = (dir.join(file_name(i, sizes.len())), start, n);
            start += n;
            entry
        })
        .collect()
}

/// Write the frame files of `manifest` into `dir` under temporary names (`NAME.tmp`), each
/// item's frames from `read_item(item index)`: bytes whose f32 data (the item's frames)
/// starts at the given offset. Returns the `(temporary, final)` paths to rename; on error the
/// temporary files written so far are removed.
///
/// # Errors
/// I/O errors naming the file; errors of `read_item`.
pub fn write_temporary(
    dir: &Path,
    manifest: &Manifest,
    read_item: &dyn Fn(usize) -> Result<(Vec<u8>, usize)>,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut written = Vec::new();
    let result = (|| {
        let mut item = 0;
        for (path, start, n) in layout(dir, manifest) {
            let mut name = path.as_os_str().to_owned();
            name.push(".tmp");
            let tmp = PathBuf::from(name);
            written.push((tmp.clone(), path));
            let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let mut w = BufWriter::new(file);
            w.write_all(&f32_2d_header(n, manifest.n_mels))
                .map_err(|e| Error::io(&tmp, e))?;
            while item < manifest.items.len() && manifest.items[item].frames[1] <= start + n {
                let (bytes, offset) = read_item(item)?;
                w.write_all(&bytes[offset..])
                    .map_err(|e| Error::io(&tmp, e))?;
                item += 1;
            }
            w.flush().map_err(|e| Error::io(&tmp, e))?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(written),
        Err(e) => {
            for (tmp, _) in &written {
                let _ = std::fs::remove_file(tmp);
            }
            Err(e)
        }
    }
}

/// Remove the frame files in `dir` that `manifest` does not use (left by an earlier layout).
pub fn remove_stale(dir: &Path, manifest: &Manifest) {
    let used: Vec<PathBuf> = layout(dir, manifest).into_iter().map(|f| f.0).collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_frames = name == "frames.npy"
            || (name.starts_with("frames-") && name.ends_with(".npy") && name.len() == 16);
        if is_frames && !used.contains(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One open frame file.
#[derive(Debug)]
struct Chunk {
    path: PathBuf,
    file: File,
    data_offset: u64,
    start: usize,
    frames: usize,
}

/// The open frame files of a dataset, read as one array.
#[derive(Debug)]
pub struct FrameFiles {
    chunks: Vec<Chunk>,
    n_mels: usize,
}

impl FrameFiles {
    /// Open the frame files of `manifest` in `dir`, checking each one's shape and length.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::InvalidInput`] naming a file that is missing, unreadable or
    /// does not agree with the manifest.
    pub fn open(dir: &Path, manifest: &Manifest) -> Result<Self> {
        let n_mels = manifest.n_mels;
        let chunks = layout(dir, manifest)
            .into_iter()
            .map(|(path, start, frames)| {
                let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                let mut head = vec![0u8; 4096];
                let n = file.read(&mut head).map_err(|e| Error::io(&path, e))?;
                let (rows, cols, offset) = parse_f32_2d_header(&path, &head[..n])?;
                if rows != frames || cols != n_mels {
                    return Err(Error::InvalidInput(format!(
                        "{}: shape ({rows}, {cols}) does not match the manifest ({frames}, {n_mels})",
                        path.display()
                    )));
                }
                let expected = (rows as u64)
                    .checked_mul(cols as u64 * 4)
                    .and_then(|d| d.checked_add(offset as u64));
                let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
                if expected != Some(len) {
                    return Err(Error::InvalidInput(format!(
                        "{}: {len} bytes, expected {}",
                        path.display(),
                        expected.map_or_else(|| "an impossible size".into(), |e| e.to_string())
                    )));
                }
                Ok(Chunk {
                    path,
                    file,
                    data_offset: offset as u64,
                    start,
                    frames,
                })
            })
            .collect::<Result<_>>()?;
        Ok(FrameFiles { chunks, n_mels })
    }

    /// Frames `start .. start + out.len() / n_mels` into `out` (time-major), across files.
    ///
    /// # Errors
    /// [`Error::Io`] on a read error; [`Error::InvalidInput`] for a range beyond the end.
    pub fn read(&self, start: usize, out: &mut [f32]) -> Result<()> {
        let n_mels = self.n_mels;
        let mut frame = start;
        let mut rest = out;
        // The first file holding `start`.
        let first = self.chunks.partition_point(|c| c.start + c.frames <= start);
        for c in &self.chunks[first..] {
            if rest.is_empty() {
                break;
            }
            let take = (c.start + c.frames - frame).min(rest.len() / n_mels);
            let (now, later) = rest.split_at_mut(take * n_mels);
            let mut bytes = vec![0u8; now.len() * 4];
            let offset = c.data_offset + ((frame - c.start) * n_mels * 4) as u64;
            c.file
                .read_exact_at(&mut bytes, offset)
                .map_err(|e| Error::io(&c.path, e))?;
            for (o, b) in now.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            frame += take;
            rest = later;
        }
        if !rest.is_empty() {
            return Err(Error::InvalidInput(format!(
                "frames {start}..{} are beyond the dataset's end",
                start + (frame - start) + rest.len() / n_mels.max(1)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_packed_whole() {
        assert_eq!(chunks([3, 3, 3], 6), vec![6, 3]);
        assert_eq!(chunks([10, 1], 4), vec![10, 1]);
        assert_eq!(chunks([1, 1, 1], 100), vec![3]);
        assert_eq!(chunks([], 4), vec![0]);
        assert_eq!(file_name(0, 1), "frames.npy");
        assert_eq!(file_name(3, 12), "frames-00003.npy");
    }
}
