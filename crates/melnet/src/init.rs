//! Seeded parameter initialisation. candle's CPU random generator cannot be seeded, so every
//! variable is re-drawn here from a seeded generator, with PyTorch's default distributions:
//! LSTM weights U(±1/√hidden), linear weights and biases U(±1/√fan_in).

use candle_core::Tensor;
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};

use crate::stack::LSTM_WEIGHT;

/// Re-initialise every variable of `varmap` from `seed`, in name order (so the result depends
/// only on the seed and the architecture).
///
/// # Errors
/// When a variable cannot be set.
pub fn init(varmap: &VarMap, seed: u64) -> candle_core::Result<()> {
    let data = varmap.data().lock().expect("variable map lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let bound = if name.ends_with(LSTM_WEIGHT) {
            // [input + hidden + 1, 4·hidden]
            1.0 / ((dims[1] / 4) as f64).sqrt()
        } else if let Some(prefix) = name.strip_suffix(".bias") {
            let fan_in = data
                .get(&format!("{prefix}.weight"))
                .map_or(dims[0], |w| w.dims()[1]);
            1.0 / (fan_in as f64).sqrt()
        } else {
            // linear weight [out, in]
            1.0 / (*dims.last().unwrap_or(&1) as f64).sqrt()
        };
        let n = var.elem_count();
        let values: Vec<f32> = (0..n)
            .map(|_| rng.gen_range(-bound..bound) as f32)
            .collect();
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}
