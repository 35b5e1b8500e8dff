//! A tier's per-element NLL on fixed weights, for `bench/nll_check.py` (which computes the same
//! with the PyTorch tier of `bench/melnet_torch.py` on these weights): writes
//! `OUT/tier.safetensors` (the weights under their names) and `OUT/data.safetensors` (`x`
//! `[batch, frames, mels]`, standard normal from a fixed seed, and `nll` the per-element NLL, nats, same shape),
//! and prints the tier's sizes as one JSON line.
//!
//! `cargo run --release -p melnet --example tier_nll -- --out DIR --mels 16 --frames 12
//! --layers 2 --width 16 --centralized 1`

mod support;

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use candle_nn::{VarBuilder, VarMap};
use melnet::{Context, Tier, TierConfig};
use rand::{Rng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::init();
    let out = std::env::args()
        .skip_while(|a| a != "--out")
        .nth(1)
        .expect("--out DIR");
    let (mels, frames, batch) = (
        support::arg("--mels", 16.0) as usize,
        support::arg("--frames", 12.0) as usize,
        support::arg("--batch", 2.0) as usize,
    );
    let config = TierConfig {
        layers: support::arg("--layers", 2.0) as usize,
        width: support::arg("--width", 16.0) as usize,
        centralized: support::arg("--centralized", 1.0) != 0.0,
        ..TierConfig::small(mels)
    };
    let device = melnet::device();
    let varmap = VarMap::new();
    let tier = Tier::new(
        config.clone(),
        VarBuilder::from_varmap(&varmap, DType::F32, &device),
    )?;
    melnet::init::init(&varmap, 7)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let x: Vec<f32> = (0..batch * frames * mels)
        .map(|_| rng.sample(rand_distr::StandardNormal))
        .collect();
    let x = Tensor::from_vec(x, (batch, frames, mels), &device)?;
    let nll = tier.nll_elements(&x, &Context::default())?;
    std::fs::create_dir_all(&out)?;
    varmap.save(format!("{out}/tier.safetensors"))?;
    let data = HashMap::from([("x".to_string(), x), ("nll".to_string(), nll)]);
    candle_core::safetensors::save(&data, format!("{out}/data.safetensors"))?;
    println!(
        "{{\"mels\": {mels}, \"layers\": {}, \"width\": {}, \"mixtures\": {}, \"centralized\": {}}}",
        config.layers, config.width, config.n_mixtures, config.centralized
    );
    Ok(())
}
