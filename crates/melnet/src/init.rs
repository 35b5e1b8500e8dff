//! Seeded parameter initialisation. candle's CPU random generator cannot be seeded, so every
//! variable is re-drawn here from a seeded generator, with PyTorch's default distributions:
//! LSTM weights U(±1/√hidden), linear weights and biases U(±1/√fan_in), embeddings N(0, 1);
//! per-bin gains ([`crate::bins::BinGain`]) start at 1, as a layer norm's gains do.

use candle_core::Tensor;
use candle_nn::{Embedding, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::bins::GAIN;
use crate::rnn::LSTM_WEIGHT;

/// The name of an embedding table's variable (initialised N(0, 1)).
pub const EMBEDDING: &str = "embedding_table";

/// An embedding of `count` ids as `width`-vectors, variable [`EMBEDDING`] under `vb`.
///
/// # Errors
/// Variable store errors.
pub fn embedding(count: usize, width: usize, vb: VarBuilder) -> candle_core::Result<Embedding> {
    let table = vb.get_with_hints(
        (count, width),
        EMBEDDING,
        candle_nn::Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        },
    )?;
    Ok(Embedding::new(table, width))
}

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
        let n = var.elem_count();
        let values: Vec<f32> = if name.ends_with(EMBEDDING) {
            (0..n)
                .map(|_| rng.sample::<f32, _>(StandardNormal))
                .collect()
        } else if name.ends_with(GAIN) {
            vec![1.0; n]
        } else {
            let bound = uniform_bound(&data, name, &dims);
            (0..n)
                .map(|_| rng.gen_range(-bound..bound) as f32)
                .collect()
        };
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

/// The bound b of variable `name` `dims`'s U(±b) in PyTorch's defaults.
fn uniform_bound(
    data: &std::collections::HashMap<String, candle_core::Var>,
    name: &str,
    dims: &[usize],
) -> f64 {
    if name.ends_with(LSTM_WEIGHT) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn embeddings_are_unit_normal_gains_one_and_weights_pytorch_uniform() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &crate::device());
        embedding(50, 40, vb.pp("labels")).unwrap();
        crate::bins::BinGain::new(8, 40, vb.pp("labels")).unwrap();
        candle_nn::linear(40, 30, vb.pp("out")).unwrap();
        init(&varmap, 3).unwrap();
        let values = |name: &str| -> Vec<f32> {
            let data = varmap.data().lock().unwrap();
            data[name]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let table = values(&format!("labels.{EMBEDDING}"));
        let mean = table.iter().sum::<f32>() / table.len() as f32;
        let var = table.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / table.len() as f32;
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.1, "{mean} {var}");
        assert!(values(&format!("labels.{GAIN}")).iter().all(|&g| g == 1.0));
        let bound = 1.0 / 40f32.sqrt();
        let w = values("out.weight");
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
    }
}
