//! Checkpoints. A tier directory holds any number of checkpoint directories and a file
//! `current` naming the one in use; a checkpoint directory holds `config.json` (the tier),
//! `weights.safetensors`, `optimizer.safetensors` and `state.json` (step, seed, optimiser and
//! learning rate, batch). A checkpoint is one unit: it is written whole into a fresh directory,
//! synced, then made current by an atomic rename of `current`; older ones are removed after.
//! A kill (or a full disk) at any point leaves the previous checkpoint current and intact.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::config::{OptimizerConfig, TierConfig};
use crate::error::{Error, Result};
use crate::tier::Tier;

/// File names inside a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// See [`CONFIG_FILE`].
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// See [`CONFIG_FILE`].
pub const STATE_FILE: &str = "state.json";
/// The file of a tier directory naming its current checkpoint directory.
pub const CURRENT_FILE: &str = "current";
/// Prefix of checkpoint directories.
const CHECKPOINT_PREFIX: &str = "checkpoint-";
/// Prefix of checkpoint directories being written.
const PARTIAL_PREFIX: &str = ".partial-";

/// Progress of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    /// Optimisation steps taken.
    pub step: u64,
    /// Seed of the run: the batch of step `s` is drawn from `(seed, s)`.
    pub seed: u64,
    /// The optimiser and its settings, with the current learning rate.
    pub optimizer: OptimizerConfig,
    /// Learning rate at step 0 (the schedule's base).
    pub base_lr: f64,
    /// Windows per step.
    pub batch: usize,
}

pub(crate) fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Checkpoint(format!("{}: {e}", path.display()))
}

/// What a checkpoint directory holds: JSON documents and tensor files, by file name.
pub(crate) enum Part<'a> {
    /// A file's bytes.
    Bytes(&'a str, Vec<u8>),
    /// Named tensors as safetensors.
    Tensors(&'a str, &'a HashMap<String, Tensor>),
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(dir, e))
}

/// Write `bytes` to `dir/name` atomically (temporary file, synced, renamed).
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| io(&tmp, e))?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))?;
    sync_dir(dir)
}

/// Write a checkpoint of step `step` into the tier directory `dir` (created if missing) and
/// make it current; remove the previous ones and any partial ones a crash left.
pub(crate) fn save_checkpoint(dir: &Path, step: u64, parts: &[Part]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        "{CHECKPOINT_PREFIX}{step:010}-{}-{nanos}",
        std::process::id()
    );
    let partial = dir.join(format!("{PARTIAL_PREFIX}{name}"));
    std::fs::create_dir(&partial).map_err(|e| io(&partial, e))?;
    for part in parts {
        let path = match part {
            Part::Bytes(file, bytes) => {
                let path = partial.join(file);
                std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
                path
            }
            Part::Tensors(file, tensors) => {
                let path = partial.join(file);
                candle_core::safetensors::save(*tensors, &path)
                    .map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))?;
                path
            }
        };
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&path, e))?;
    }
    sync_dir(&partial)?;
    let done = dir.join(&name);
    std::fs::rename(&partial, &done).map_err(|e| io(&done, e))?;
    write_atomic(dir, CURRENT_FILE, name.as_bytes())?;
    // Older checkpoints and partial ones left by a crash.
    let entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let stale = (file.starts_with(CHECKPOINT_PREFIX) && file != name)
            || file.starts_with(PARTIAL_PREFIX);
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// The current checkpoint directory of the tier directory `dir`.
///
/// # Errors
/// [`Error::Checkpoint`] when there is none.
pub fn current(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(CURRENT_FILE);
    let name = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let name = name.trim();
    if !name.starts_with(CHECKPOINT_PREFIX) || name.contains(['/', '\\']) {
        return Err(Error::Checkpoint(format!(
            "{}: does not name a checkpoint",
            path.display()
        )));
    }
    Ok(dir.join(name))
}

/// True when the tier directory `dir` has a current checkpoint.
pub fn exists(dir: &Path) -> bool {
    dir.join(CURRENT_FILE).is_file()
}

/// Load the tensors of `dir/name`, every value finite.
pub(crate) fn load_tensors(dir: &Path, name: &str) -> Result<HashMap<String, Tensor>> {
    let path = dir.join(name);
    let bad = |e: &dyn std::fmt::Display| Error::Checkpoint(format!("{}: {e}", path.display()));
    let tensors = candle_core::safetensors::load(&path, &crate::device()).map_err(|e| bad(&e))?;
    for (key, t) in &tensors {
        let values = t
            .to_dtype(candle_core::DType::F32)
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| bad(&e))?;
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(bad(&format!("tensor {key} holds a non-finite value ({v})")));
        }
    }
    Ok(tensors)
}

/// Read a JSON file of a directory.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Result<T> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))
}

/// The tier of the current checkpoint of the tier directory `dir`, for inference (weights
/// only; the optimiser state is not read).
///
/// # Errors
/// [`Error::Checkpoint`] when it is missing, corrupt, or its tensors do not match its config.
pub fn load_tier(dir: &Path) -> Result<Tier> {
    let ckpt = current(dir)?;
    let config: TierConfig = read_json(&ckpt, CONFIG_FILE)?;
    let tensors = load_tensors(&ckpt, WEIGHTS_FILE)?;
    Tier::from_tensors(config, tensors)
        .map_err(|e| Error::Checkpoint(format!("{}: {e}", ckpt.display())))
}
