//! All-or-nothing output files: every file is written under a temporary name and put in place
//! only when the whole command has succeeded.
//!
//! A regular file (or a missing one) is replaced by renaming the temporary file over it; through
//! a symbolic link the link's target is replaced and the link kept. A target that exists and is
//! not a regular file (`/dev/null`, `/dev/stdout`, a FIFO, …) is never renamed over: the
//! finished bytes are written through it, and no sidecar is made next to it. An output that is
//! also one of the command's inputs is refused before anything is computed. The spectrogram
//! files every command writes (`.npy`, sidecar, figure) are staged here too.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use melspec::db::to_db_ref_max;
use melspec::npy::write_f32_2d;
use melspec::{Scale, Sidecar, SpectrogramKind};
use ndarray::{Array2, ArrayView2};

use crate::plot::{spectrogram_png, FreqAxis, SpectrogramPlot};

/// How a staged file reaches its destination.
#[derive(Debug)]
enum Delivery {
    /// Rename the temporary file onto this regular-file path.
    Rename(PathBuf),
    /// Copy the temporary file's bytes into this existing special file (device, FIFO).
    WriteThrough(PathBuf),
}

/// A set of output files being written.
#[derive(Debug, Default)]
pub struct Outputs {
    inputs: Vec<PathBuf>,
    staged: Vec<(PathBuf, Delivery)>,
}

impl Outputs {
    /// An empty set for a command that reads the files `inputs` (none of which may be an output).
    pub fn new(inputs: &[&Path]) -> Self {
        Self {
            inputs: inputs
                .iter()
                .filter_map(|p| std::fs::canonicalize(p).ok())
                .collect(),
            staged: Vec::new(),
        }
    }

    /// Reserve `dest`: checks where it goes and returns the temporary path to write to.
    pub fn stage(&mut self, dest: &Path) -> Result<PathBuf> {
        let name = dest
            .file_name()
            .with_context(|| format!("{}: not a file path", dest.display()))?;
        let delivery = match std::fs::metadata(dest) {
            Ok(meta) => {
                let real = std::fs::canonicalize(dest)
                    .with_context(|| format!("{}: cannot resolve output path", dest.display()))?;
                if self.inputs.contains(&real) {
                    bail!(
                        "{}: the output is also an input of this command; choose another output",
                        dest.display()
                    );
                }
                if meta.is_dir() {
                    bail!("{}: output is a directory", dest.display());
                }
                if meta.is_file() {
                    Delivery::Rename(real)
                } else {
                    Delivery::WriteThrough(dest.to_owned())
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::read_link(dest) {
                // A link to a file yet to be made: make the file, keep the link.
                Ok(target) => Delivery::Rename(match dest.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                }),
                Err(_) => Delivery::Rename(dest.to_owned()),
            },
            Err(e) => return Err(e).with_context(|| format!("{}: cannot write", dest.display())),
        };
        let dir = match &delivery {
            Delivery::Rename(path) => match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            },
            Delivery::WriteThrough(_) => std::env::temp_dir(),
        };
        if !dir.is_dir() {
            bail!(
                "{}: output directory {} does not exist",
                dest.display(),
                dir.display()
            );
        }
        // Keep the extension last: some writers choose the format from it.
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            name.to_string_lossy()
        ));
        self.staged.push((tmp.clone(), delivery));
        Ok(tmp)
    }

    /// Move every staged file into place.
    pub fn commit(mut self) -> Result<()> {
        for (tmp, delivery) in std::mem::take(&mut self.staged) {
            let result = match &delivery {
                Delivery::Rename(dest) => std::fs::rename(&tmp, dest)
                    .with_context(|| format!("{}: cannot move output into place", dest.display())),
                Delivery::WriteThrough(dest) => write_through(&tmp, dest),
            };
            let _ = std::fs::remove_file(&tmp);
            result?;
        }
        Ok(())
    }
}

/// Whether `dest` exists and is not a regular file or directory (a device or FIFO, directly
/// or through links): such outputs are written through, and companions such as a sidecar are
/// not made next to them.
pub fn is_special(dest: &Path) -> bool {
    std::fs::metadata(dest).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Copy the bytes of `tmp` into the existing special file `dest` without replacing it.
fn write_through(tmp: &Path, dest: &Path) -> Result<()> {
    let mut src =
        std::fs::File::open(tmp).with_context(|| format!("{}: cannot reopen", tmp.display()))?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .open(dest)
        .with_context(|| format!("{}: cannot open for writing", dest.display()))?;
    std::io::copy(&mut src, &mut out)
        .and_then(|_| std::io::Write::flush(&mut out))
        .with_context(|| format!("{}: cannot write", dest.display()))?;
    Ok(())
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Stage `values` at `npy`, its sidecar, the optional PNG and any `extra` arrays in
/// `outputs` (which the caller commits: all or nothing).
pub fn write_spectrogram(
    outputs: &mut Outputs,
    npy: &Path,
    values: ArrayView2<f32>,
    sidecar: &Sidecar,
    png: Option<&Path>,
    axis: FreqAxis,
    extra: &[(&Path, ArrayView2<f32>)],
) -> Result<()> {
    let tmp = outputs.stage(npy)?;
    write_f32_2d(&tmp, values)?;
    if !is_special(npy) {
        let json = Sidecar::path_for(npy);
        let tmp = outputs.stage(&json)?;
        sidecar.write(&tmp)?;
    }
    for (path, array) in extra {
        let tmp = outputs.stage(path)?;
        write_f32_2d(&tmp, *array)?;
    }
    if let Some(png) = png {
        let tmp = outputs.stage(png)?;
        let db = display_db(values, sidecar)?;
        let p = &sidecar.params;
        let name = sidecar
            .source
            .as_ref()
            .and_then(|s| s.path.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let what = match sidecar.kind {
            SpectrogramKind::Mel => format!("mel ({} bands)", p.n_mels),
            SpectrogramKind::Linear => "STFT magnitude".to_string(),
        };
        let title = format!(
            "{name}  {what}, sr {} Hz, n_fft {}, hop {}, win {}",
            p.sr, p.stft.n_fft, p.stft.hop_length, p.stft.win_length
        );
        spectrogram_png(
            &tmp,
            &SpectrogramPlot {
                db: db.view(),
                axis,
                frame_seconds: p.stft.hop_length as f64 / f64::from(p.sr),
                title,
            },
        )
        .with_context(|| format!("{}: drawing the figure", png.display()))?;
    }
    Ok(())
}

/// Values in dB for display: as they are if already dB, else converted with ref = max and an
/// 80 dB range.
fn display_db(values: ArrayView2<f32>, sidecar: &Sidecar) -> Result<Array2<f32>> {
    let mut db = values.to_owned();
    if let Scale::Linear = sidecar.scale {
        let v = db.as_slice_mut().expect("owned array is contiguous");
        to_db_ref_max(v, sidecar.params.power)?;
    }
    Ok(db)
}
