//! Training throughput of one tier on random windows, for `bench/model.py`: prints one JSON
//! line `{"step_s": …, "elements_per_s": …}` (elements = batch · frames · mels per step).
//!
//! `cargo run --release -p melnet --example train_throughput -- --mels 32 --frames 64
//! --layers 6 --width 256 --batch 16 --steps 3`

mod support;

use std::time::Instant;

use candle_core::{Device, Tensor};
use melnet::train::optim::{OptimizerConfig, RmsPropConfig};
use melnet::train::Trainer;
use melnet::TierConfig;

fn main() -> melnet::Result<()> {
    support::init();
    let (mels, frames, batch) = (
        support::arg("--mels", 32.0) as usize,
        support::arg("--frames", 32.0) as usize,
        support::arg("--batch", 8.0) as usize,
    );
    let steps = support::arg("--steps", 5.0) as usize;
    let config = TierConfig {
        layers: support::arg("--layers", 2.0) as usize,
        width: support::arg("--width", 32.0) as usize,
        ..TierConfig::small(mels)
    };
    let mut trainer = Trainer::new(
        config,
        OptimizerConfig::RmsProp(RmsPropConfig::default()),
        0,
        batch,
    )?;
    let x = Tensor::randn(0f32, 1f32, (batch, frames, mels), &Device::Cpu)?;
    // Warm-up: the first step, then one each way of running the batch's halves (one after
    // the other, side by side), which the trainer times to choose between them.
    for _ in 0..3 {
        trainer.step(&x, None, &melnet::Context::default(), None, None)?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        trainer.step(&x, None, &melnet::Context::default(), None, None)?;
    }
    let step_s = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{{\"step_s\": {step_s}, \"elements_per_s\": {}}}",
        (batch * frames * mels) as f64 / step_s
    );
    Ok(())
}
