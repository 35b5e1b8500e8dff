//! Scoring a trained model on a dataset: the NLL of its fixed validation windows, per tier and
//! at full resolution.

use melnet_data::dataset::Dataset;

use crate::error::Result;
use crate::model::{Model, Nll};
use crate::tier::Tier;
use crate::train::fit::{TrainingData, VALID_WINDOWS};

/// The NLL of `model` (its loaded `tiers`) on the [`VALID_WINDOWS`] fixed validation windows of
/// `ds` (their data, not their padding), with the per-element map `[windows, frames, bins]`
/// (nats) and its frames per window.
///
/// # Errors
/// A dataset analysed otherwise or lacking the model's conditions; read and candle errors.
pub fn valid_nll(model: &Model, tiers: &[Tier], ds: &Dataset) -> Result<(Nll, Vec<f32>, usize)> {
    let windows = TrainingData::new(model, ds)?.valid()?;
    let (nll, map) = model.nll(
        tiers,
        &windows.x,
        VALID_WINDOWS,
        windows.frames,
        &windows.conditions,
        Some(&windows.real),
    )?;
    Ok((nll, map, windows.frames))
}
