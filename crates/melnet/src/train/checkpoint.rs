//! Checkpoints: a run directory with `config.json` (the tier), `weights.safetensors`,
//! `optimizer.safetensors` and `state.json` (step, seed, optimiser and learning rate). Every file is written
//! to a temporary name and renamed; `state.json` is written last and marks a complete
//! checkpoint.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::train::optim::OptimizerConfig;

/// File names inside a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// See [`CONFIG_FILE`].
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// See [`CONFIG_FILE`].
pub const STATE_FILE: &str = "state.json";

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
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Checkpoint(format!("{}: {e}", path.display()))
}

/// Write `bytes` to `dir/name` atomically.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))
}

/// Save named tensors as safetensors, atomically.
pub(crate) fn save_tensors(
    dir: &Path,
    name: &str,
    tensors: &HashMap<String, Tensor>,
) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    candle_core::safetensors::save(tensors, &tmp)?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))
}

/// Load the tensors of `dir/name`.
pub(crate) fn load_tensors(dir: &Path, name: &str) -> Result<HashMap<String, Tensor>> {
    let path = dir.join(name);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))
}

/// Read a JSON file of the run directory.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Result<T> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))
}
