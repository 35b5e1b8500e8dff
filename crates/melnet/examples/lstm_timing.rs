//! Times the fused LSTM, forward + backward, on DESIGN.md §5a's configuration
//! (64 → 128, batch 64, 64 steps).
use candle_core::{Device, Tensor, Var};
fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (64, 64, 64), &dev)?)?;
    let w = Var::from_tensor(&Tensor::randn(0f32, 0.1, (64 + 128 + 1, 512), &dev)?)?;
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let t = std::time::Instant::now();
        let h = melnet::ops::fused_lstm::lstm(x.as_tensor(), w.as_tensor(), false)?;
        let _ = h.sqr()?.sum_all()?.backward()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("fused LSTM forward+backward: {:.1} ms", best * 1e3);
    Ok(())
}
