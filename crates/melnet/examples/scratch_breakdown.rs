use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use melnet::train::optim::{Optim, OptimizerConfig, RmsPropConfig};
use melnet::{Tier, TierConfig};
use std::time::Instant;
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    std::env::set_var("MIMALLOC_PURGE_DELAY", "-1");
    let varmap = VarMap::new();
    let tier = Tier::new(
        TierConfig::small(32),
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let mut opt = Optim::new(
        varmap.all_vars(),
        OptimizerConfig::RmsProp(RmsPropConfig::default()),
    )
    .unwrap();
    let x = Tensor::randn(0f32, 1f32, (8, 32, 32), &Device::Cpu).unwrap();
    let (mut tf, mut tn, mut tb, mut to) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..31 {
        let t0 = Instant::now();
        let g = tier.forward(&x).unwrap();
        let t1 = Instant::now();
        let loss = g.nll(&x).unwrap();
        let _ = loss.to_scalar::<f32>().unwrap();
        let t2 = Instant::now();
        let grads = loss.backward().unwrap();
        let t3 = Instant::now();
        opt.step(&grads).unwrap();
        let t4 = Instant::now();
        if i > 0 {
            tf += (t1 - t0).as_secs_f64();
            tn += (t2 - t1).as_secs_f64();
            tb += (t3 - t2).as_secs_f64();
            to += (t4 - t3).as_secs_f64();
        }
    }
    println!(
        "forward {:.1} ms, nll {:.1} ms, backward {:.1} ms, opt {:.1} ms",
        tf / 30.0 * 1e3,
        tn / 30.0 * 1e3,
        tb / 30.0 * 1e3,
        to / 30.0 * 1e3
    );
}
