//! Training throughput of one tier on random windows, for `bench/model.py`: prints one JSON
//! line `{"step_s": …, "elements_per_s": …}` (elements = batch · frames · mels per step).
//!
//! `cargo run --release -p melnet --example train_throughput -- --mels 32 --frames 64
//! --layers 6 --width 256 --batch 16 --steps 3`

use std::time::Instant;

// The allocator and its setting of the `melnet` program (see its main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use candle_core::{Device, Tensor};
use melnet::train::optim::{OptimizerConfig, RmsPropConfig};
use melnet::train::Trainer;
use melnet::TierConfig;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a whole number"))
}

fn main() -> melnet::Result<()> {
    std::env::set_var("MIMALLOC_PURGE_DELAY", "-1");
    let (mels, frames, batch) = (arg("--mels", 32), arg("--frames", 32), arg("--batch", 8));
    let steps = arg("--steps", 5);
    let config = TierConfig {
        layers: arg("--layers", 2),
        width: arg("--width", 32),
        ..TierConfig::small(mels)
    };
    let mut trainer = Trainer::new(
        config,
        OptimizerConfig::RmsProp(RmsPropConfig::default()),
        0,
    )?;
    let x = Tensor::randn(0f32, 1f32, (batch, frames, mels), &Device::Cpu)?;
    trainer.step(&x, None)?; // warm-up
    let start = Instant::now();
    for _ in 0..steps {
        trainer.step(&x, None)?;
    }
    let step_s = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{{\"step_s\": {step_s}, \"elements_per_s\": {}}}",
        (batch * frames * mels) as f64 / step_s
    );
    Ok(())
}
