//! The mixture negative log-likelihood (plain and censored at a floor) against a direct f64
//! computation and its finite differences, including the far tails.

use candle_core::{Device, Tensor, Var};
use melnet::gmm::{Gmm, MIN_LOG_SCALE};
use melnet::ops::gmm_nll::log_ndtr;

/// ln Φ(u) by quadrature, independent of `erfc`: for u ≤ 0,
/// Φ(u) = φ(u) ∫₀^∞ exp(u·s − s²/2) ds (Simpson's rule); for u > 0, ln(1 − Φ(−u)).
fn log_ndtr_quadrature(u: f64) -> f64 {
    if u > 0.0 {
        return (-log_ndtr_quadrature(-u).exp()).ln_1p();
    }
    // The integrand decays like exp(u·s) and exp(−s²/2): 40 units of either are enough.
    let end = if u < -1.0 {
        (40.0 / -u).min(12.0)
    } else {
        12.0
    };
    let n = 20_000;
    let h = end / n as f64;
    let f = |s: f64| (u * s - 0.5 * s * s).exp();
    let mut sum = f(0.0) + f(end);
    for i in 1..n {
        sum += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    -0.5 * u * u - 0.5 * (2.0 * std::f64::consts::PI).ln() + (sum * h / 3.0).ln()
}

/// The element's NLL from its 3K raw outputs, in f64: −ln Σ π_k N(x; μ_k, σ_k), or at or
/// below `floor` −ln Σ π_k Φ((floor − μ_k)/σ_k) with Φ by quadrature.
fn direct(raw: &[f64], x: f64, floor: Option<f64>) -> f64 {
    let k = raw.len() / 3;
    let logits = &raw[2 * k..];
    let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let norm: f64 = logits.iter().map(|l| (l - m).exp()).sum();
    let censored = floor.is_some_and(|f| x <= f);
    let terms: Vec<f64> = (0..k)
        .map(|j| {
            let log_w = logits[j] - m - norm.ln();
            let s = raw[k + j].max(MIN_LOG_SCALE);
            if censored {
                log_w + log_ndtr_quadrature((floor.unwrap() - raw[j]) / s.exp())
            } else {
                let z = (x - raw[j]) / s.exp();
                log_w - s - 0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln()
            }
        })
        .collect();
    let t_max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    -(t_max + terms.iter().map(|t| (t - t_max).exp()).sum::<f64>().ln())
}

#[test]
fn log_ndtr_is_accurate_over_the_whole_line() {
    for u in [
        -200.0, -60.0, -38.0, -20.5, -20.0, -19.5, -8.0, -3.0, -0.5, 0.0, 0.5, 3.0, 8.0,
    ] {
        let (ours, reference) = (log_ndtr(u), log_ndtr_quadrature(u));
        assert!(
            (ours - reference).abs() <= 1e-9 * reference.abs().max(1e-12),
            "ln Φ({u}): {ours} vs {reference}"
        );
    }
}

/// Raw outputs and values for `n` elements of K = `k` components with a floor per bin (`f`
/// bins): every other element at or below its floor, some with every component many standard
/// deviations above it (the far tail of Φ) or far below it (Φ near 1).
fn cases(n: usize, f: usize, k: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let raw = Tensor::randn(0f32, 1.0, (n, 3 * k), &Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let mut raw = raw;
    let floor: Vec<f32> = (0..f).map(|b| -1.5 + 0.1 * b as f32).collect();
    let mut x = vec![0.0f32; n];
    for e in 0..n {
        let fl = floor[e % f];
        let p = &mut raw[e * 3 * k..(e + 1) * 3 * k];
        match e % 6 {
            // Far tail: means 25–60 scales above the floor, small scales.
            1 => {
                for j in 0..k {
                    p[k + j] = -2.0 - 0.3 * j as f32;
                    p[j] = fl + (25.0 + 5.0 * j as f32) * p[k + j].exp();
                }
            }
            // Φ near 1: means far below the floor.
            3 => (0..k).for_each(|j| p[j] = fl - 8.0 - j as f32),
            _ => {}
        }
        x[e] = if e % 2 == 1 {
            fl - 0.3 * (e % 3) as f32
        } else {
            p[0] + 0.7
        };
    }
    (raw, x, floor)
}

#[test]
fn nll_matches_a_direct_computation_with_and_without_a_floor() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let (b, t, f, k) = (2, 3, 4, 5);
    let n = b * t * f;
    let (rawv, xv, floor) = cases(n, f, k);
    let raw = Tensor::from_vec(rawv.clone(), (b, t, f, 3 * k), &dev)?;
    let x = Tensor::from_vec(xv.clone(), (b, t, f), &dev)?;
    for fl in [None, Some(&floor[..])] {
        let ours = Gmm::from_raw(raw.clone())?
            .nll_elements(&x, fl)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (e, o) in ours.iter().enumerate() {
            let r: Vec<f64> = rawv[e * 3 * k..(e + 1) * 3 * k]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let d = direct(&r, f64::from(xv[e]), fl.map(|v| f64::from(v[e % f])));
            assert!(
                (f64::from(*o) - d).abs() < 1e-5 * d.abs().max(1.0),
                "element {e}, floor {}: {o} vs {d}",
                fl.is_some()
            );
        }
    }
    // A collapsed scale stays finite.
    let mut collapsed = rawv.clone();
    collapsed[k] = -100.0;
    let raw2 = Tensor::from_vec(collapsed, (b, t, f, 3 * k), &dev)?;
    for fl in [None, Some(&floor[..])] {
        let nll = Gmm::from_raw(raw2.clone())?.nll_elements(&x, fl)?;
        assert!(nll.sum_all()?.to_scalar::<f32>()?.is_finite());
    }
    Ok(())
}

#[test]
fn nll_gradient_matches_finite_differences_with_and_without_a_floor() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let (b, t, f, k) = (1, 3, 4, 3);
    let n = b * t * f;
    let (rawv, xv, floor) = cases(n, f, k);
    let raw = Var::from_tensor(&Tensor::from_vec(rawv.clone(), (b, t, f, 3 * k), &dev)?)?;
    let x = Tensor::from_vec(xv.clone(), (b, t, f), &dev)?;
    for fl in [None, Some(&floor[..])] {
        let grads = Gmm::from_raw(raw.as_tensor().clone())?
            .nll_elements(&x, fl)?
            .sum_all()?
            .backward()?;
        let g = grads
            .get(&raw)
            .expect("gradient")
            .flatten_all()?
            .to_vec1::<f32>()?;
        for e in 0..n {
            let base: Vec<f64> = rawv[e * 3 * k..(e + 1) * 3 * k]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let floor_e = fl.map(|v| f64::from(v[e % f]));
            for i in 0..3 * k {
                let eps = 1e-5;
                let at = |d: f64| {
                    let mut p = base.clone();
                    p[i] += d;
                    direct(&p, f64::from(xv[e]), floor_e)
                };
                let fd = (at(eps) - at(-eps)) / (2.0 * eps);
                let ours = f64::from(g[e * 3 * k + i]);
                assert!(
                    (fd - ours).abs() < 1e-4 + 1e-4 * fd.abs(),
                    "element {e} parameter {i}, floor {}: finite difference {fd} vs {ours}",
                    fl.is_some()
                );
            }
        }
    }
    Ok(())
}
