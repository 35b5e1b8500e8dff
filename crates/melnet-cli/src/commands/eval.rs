//! `melnet eval`: a model's per-tier and full-resolution NLL on a dataset's validation windows
//! or on one spectrogram.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use melnet::eval::valid_nll;
use melnet::train::fit::VALID_WINDOWS;
use melnet::Model;
use melnet_data::dataset::Dataset;

use crate::args::ConditionArgs;
use crate::output::Outputs;

/// Options of `melnet eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory made by `melnet train`.
    #[arg(long, visible_alias = "run")]
    pub model: PathBuf,
    /// Dataset directory: its fixed validation windows are scored.
    #[arg(long, required_unless_present = "input")]
    pub data: Option<PathBuf>,
    /// Score this spectrogram instead: a `melnet mel --db` output with the model's analysis
    /// parameters, or a dataset-scale `.npy` from `melnet sample` (`(n_mels, frames)`).
    #[arg(long, conflicts_with = "data")]
    pub input: Option<PathBuf>,
    /// Write the per-element NLL (nats) at full resolution, `(n_mels, frames)` `.npy`.
    #[arg(long, value_name = "OUT.npy")]
    pub per_element: Option<PathBuf>,
    /// The label and text of --input, for a conditioned model (with --data every window has
    /// its own).
    #[command(flatten)]
    pub conditions: ConditionArgs,
}

/// Run `melnet eval`.
pub fn run(args: Args) -> Result<()> {
    let (nll, map, frames) = match (&args.data, &args.input) {
        (Some(data), _) => {
            let model = Model::open(&args.model)?;
            let (nll, map, frames) =
                valid_nll(&model, &model.load_tiers()?, &Dataset::open(data)?)?;
            // The first validation window's map.
            let n = map.len() / VALID_WINDOWS;
            (nll, map[..n].to_vec(), frames)
        }
        (None, Some(input)) => {
            let model = Model::open(&args.model)?;
            let x = model.read_spectrogram(input, f64::INFINITY)?;
            let frames = x.nrows();
            let tiers = model.load_tiers()?;
            let conditions = args.conditions.conditions(&model, 1)?;
            let (nll, map) = model.nll(
                &tiers,
                x.as_slice().expect("standard layout"),
                1,
                frames,
                &conditions,
                None,
            )?;
            (nll, map, frames)
        }
        (None, None) => bail!("give --data or --input"),
    };
    for (g, (v, n)) in nll.tiers.iter().zip(&nll.elements).enumerate() {
        println!(
            "tier {}: {v:.4} nats/element ({:.4} bits/element) over {n} elements",
            g + 1,
            v / std::f64::consts::LN_2
        );
    }
    println!(
        "full resolution: {:.4} nats/element ({:.4} bits/element)",
        nll.full,
        nll.full / std::f64::consts::LN_2
    );
    if let Some(out) = &args.per_element {
        let bins = map.len() / frames.max(1);
        let arr = ndarray::Array2::from_shape_vec((frames, bins), map)
            .expect("whole frames")
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        let inputs: Vec<&Path> = args.input.as_deref().into_iter().collect();
        let mut outputs = Outputs::new(&inputs);
        let tmp = outputs.stage(out)?;
        melspec::npy::write_f32_2d(&tmp, arr.view())?;
        outputs.commit()?;
    }
    Ok(())
}
