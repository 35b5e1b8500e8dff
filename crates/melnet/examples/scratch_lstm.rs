use candle_core::{Device, Tensor, Var};
use std::time::Instant;
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    std::env::set_var("MIMALLOC_PURGE_DELAY", "-1");
    let x =
        Var::from_tensor(&Tensor::randn(0f32, 1f32, (256, 32, 32), &Device::Cpu).unwrap()).unwrap();
    let w = Var::from_tensor(
        &(Tensor::randn(0f32, 1f32, (65, 128), &Device::Cpu).unwrap() * 0.1).unwrap(),
    )
    .unwrap();
    let (mut tf, mut tb) = (0.0, 0.0);
    for i in 0..51 {
        let t0 = Instant::now();
        let h = melnet::ops::fused_lstm::lstm(x.as_tensor(), w.as_tensor(), false).unwrap();
        let s = h.sum_all().unwrap();
        let t1 = Instant::now();
        let _g = s.backward().unwrap();
        let t2 = Instant::now();
        if i > 0 {
            tf += (t1 - t0).as_secs_f64();
            tb += (t2 - t1).as_secs_f64();
        }
    }
    println!(
        "lstm fwd {:.2} ms, bwd {:.2} ms",
        tf / 50.0 * 1e3,
        tb / 50.0 * 1e3
    );
}
