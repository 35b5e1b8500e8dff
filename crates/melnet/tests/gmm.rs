//! The mixture negative log-likelihood against a direct f64 computation and finite differences.

use candle_core::{Device, Tensor, Var};
use melnet::gmm::{Gmm, MIN_LOG_SCALE};

/// −log Σ π_k N(x; μ_k, σ_k) for one element from its 3K raw outputs, in f64.
fn direct(raw: &[f32], x: f32) -> f64 {
    let k = raw.len() / 3;
    let logits: Vec<f64> = raw[2 * k..].iter().map(|v| f64::from(*v)).collect();
    let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let norm: f64 = logits.iter().map(|l| (l - m).exp()).sum();
    let mut p = 0.0;
    for j in 0..k {
        let w = (logits[j] - m).exp() / norm;
        let s = f64::from(raw[k + j]).max(MIN_LOG_SCALE).exp();
        let z = (f64::from(x) - f64::from(raw[j])) / s;
        p += w * (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
    }
    -p.ln()
}

#[test]
fn nll_matches_a_direct_computation() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let (b, t, f, k) = (2, 3, 4, 5);
    let raw = Tensor::randn(0f32, 1.0, (b, t, f, 3 * k), &dev)?;
    let x = Tensor::randn(0f32, 1.0, (b, t, f), &dev)?;
    let ours = Gmm::from_raw(&raw)?
        .nll_elements(&x)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let rawv = raw.flatten_all()?.to_vec1::<f32>()?;
    let xv = x.flatten_all()?.to_vec1::<f32>()?;
    for (e, (o, xe)) in ours.iter().zip(&xv).enumerate() {
        let d = direct(&rawv[e * 3 * k..(e + 1) * 3 * k], *xe);
        assert!(
            (f64::from(*o) - d).abs() < 1e-4 * d.abs().max(1.0),
            "{e}: {o} vs {d}"
        );
    }
    // A collapsed scale stays finite.
    let mut collapsed = rawv.clone();
    collapsed[k] = -100.0;
    let raw2 = Tensor::from_vec(collapsed, (b, t, f, 3 * k), &dev)?;
    let nll = Gmm::from_raw(&raw2)?.nll(&x)?.to_scalar::<f32>()?;
    assert!(nll.is_finite());
    Ok(())
}

#[test]
fn nll_gradient_matches_finite_differences() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let (b, t, f, k) = (1, 2, 3, 3);
    let raw = Var::from_tensor(&Tensor::randn(0f32, 1.0, (b, t, f, 3 * k), &dev)?)?;
    let x = Tensor::randn(0f32, 1.0, (b, t, f), &dev)?;
    let loss = |r: &Tensor| Gmm::from_raw(r)?.nll(&x)?.to_scalar::<f32>();
    let grads = Gmm::from_raw(raw.as_tensor())?.nll(&x)?.backward()?;
    let g = grads
        .get(&raw)
        .expect("gradient")
        .flatten_all()?
        .to_vec1::<f32>()?;
    let base = raw.as_tensor().flatten_all()?.to_vec1::<f32>()?;
    let eps = 1e-2f32;
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += eps;
        let mut minus = base.clone();
        minus[i] -= eps;
        let lp = loss(&Tensor::from_vec(plus, raw.shape(), &dev)?)?;
        let lm = loss(&Tensor::from_vec(minus, raw.shape(), &dev)?)?;
        let fd = (lp - lm) / (2.0 * eps);
        assert!(
            (fd - g[i]).abs() < 2e-3 + 2e-2 * g[i].abs(),
            "{i}: {fd} vs {}",
            g[i]
        );
    }
    Ok(())
}
