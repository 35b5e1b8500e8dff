//! The Gaussian-mixture negative log-likelihood of MelNet's head as one candle operation, with
//! a hand-written backward pass: per element, from the head's raw output (means, log scales,
//! weight logits), in f64, without the dozen intermediate tensors (and zero-filled gradient
//! buffers) that composing it from candle ops costs.
//!
//! An element at or below its bin's `floor` is a censored observation: a dB spectrogram is
//! clipped at `top_db` below each item's maximum, so the floor stands for "this quiet or
//! quieter" and its likelihood is the mixture's mass below it,
//! `P(x ≤ floor) = Σ_k π_k Φ((floor − μ_k)/σ_k)`, instead of a density at a point mass.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{slice, with_values};

/// Floor of the log scale, so that a collapsing component cannot produce NaN/∞ losses.
pub const MIN_LOG_SCALE: f64 = -7.0;

/// The op's name in errors.
const OP: &str = "GMM NLL";

/// ½·ln(2π).
const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// ln Φ(u), the log of the standard normal distribution function, accurate to a few ulp over
/// the whole line (from `erfc` down to u = −20, an asymptotic series below, `ln_1p` above 0).
pub fn log_ndtr(u: f64) -> f64 {
    if u > 0.0 {
        (-0.5 * libm::erfc(u / std::f64::consts::SQRT_2)).ln_1p()
    } else if u > -20.0 {
        (0.5 * libm::erfc(-u / std::f64::consts::SQRT_2)).ln()
    } else {
        // Φ(u) = φ(u)/(−u) · (1 − 1/u² + 3/u⁴ − 15/u⁶ + 105/u⁸ − …); the next term is
        // below 1e-10 relative at u = −20.
        let v = 1.0 / (u * u);
        let series = 1.0 - v * (1.0 - v * (3.0 - v * (15.0 - v * 105.0)));
        -0.5 * u * u - HALF_LOG_2PI - (-u).ln() + series.ln()
    }
}

/// Per-element NLL, nats, of `x` `[batch, frames, bins]` under the mixtures of `raw`
/// `[batch, frames, bins, 3K]` (means, log scales floored at [`MIN_LOG_SCALE`], weight logits),
/// censored at or below `floor` (one value per bin, the model's scale) when given: returns
/// `[batch, frames, bins]`. Differentiable with respect to `raw`.
///
/// # Errors
/// When the shapes do not fit or the tensors are not f32 on the CPU.
pub fn gmm_nll(raw: &Tensor, x: &Tensor, floor: Option<&[f32]>) -> candle_core::Result<Tensor> {
    let (b, t, f) = x.dims3()?;
    let (rb, rt, rf, k3) = raw.dims4()?;
    if (rb, rt, rf) != (b, t, f) || k3 == 0 || k3 % 3 != 0 || floor.is_some_and(|v| v.len() != f) {
        candle_core::bail!(
            "GMM NLL: head {:?}, values {:?}, floor of {:?} bins do not fit",
            raw.dims(),
            x.dims(),
            floor.map(<[f32]>::len)
        );
    }
    raw.contiguous()?.apply_op2(
        &x.contiguous()?,
        GmmNll {
            floor: floor.map(<[f32]>::to_vec),
        },
    )
}

/// The op: the floor per bin, if any.
struct GmmNll {
    floor: Option<Vec<f32>>,
}

/// Elements per parallel task.
const CHUNK: usize = 256;

/// One element's mixture, in f64: the log weights `a`, the log scales `s` (floored), and the
/// standardised value `u` — of `x` for the density, of the floor when censored.
struct Element {
    censored: bool,
    /// ln of each component's term: ln π_k + ln N(x; μ_k, σ_k) or ln π_k + ln Φ(u_k).
    terms: Vec<f64>,
    a: Vec<f64>,
    u: Vec<f64>,
    inv_scale: Vec<f64>,
    /// ln Σ_k exp(terms_k): the element's log-likelihood.
    total: f64,
}

impl Element {
    fn new(k: usize) -> Self {
        Element {
            censored: false,
            terms: vec![0.0; k],
            a: vec![0.0; k],
            u: vec![0.0; k],
            inv_scale: vec![0.0; k],
            total: 0.0,
        }
    }

    /// Fill from the head's raw output `p` `[3K]` for value `x`, censored at `floor`.
    fn compute(&mut self, p: &[f32], x: f32, floor: Option<f32>) {
        let k = self.terms.len();
        let (means, rest) = p.split_at(k);
        let (log_scales, logits) = rest.split_at(k);
        let c_max = logits
            .iter()
            .fold(f64::NEG_INFINITY, |m, &c| m.max(f64::from(c)));
        let c_lse = c_max
            + logits
                .iter()
                .map(|&c| (f64::from(c) - c_max).exp())
                .sum::<f64>()
                .ln();
        self.censored = floor.is_some_and(|fl| x <= fl);
        let at = f64::from(if self.censored { floor.unwrap_or(x) } else { x });
        for j in 0..k {
            let s = f64::from(log_scales[j]).max(MIN_LOG_SCALE);
            self.a[j] = f64::from(logits[j]) - c_lse;
            self.inv_scale[j] = (-s).exp();
            self.u[j] = (at - f64::from(means[j])) * self.inv_scale[j];
            self.terms[j] = self.a[j]
                + if self.censored {
                    log_ndtr(self.u[j])
                } else {
                    -s - 0.5 * self.u[j] * self.u[j] - HALF_LOG_2PI
                };
        }
        let t_max = self.terms.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        self.total = t_max
            + self
                .terms
                .iter()
                .map(|v| (v - t_max).exp())
                .sum::<f64>()
                .ln();
    }

    /// d NLL / d p, times `g`, into `out` `[3K]` (`p` the raw output the element was computed
    /// from: a log scale below the floor gets no gradient).
    fn gradient(&self, p: &[f32], g: f64, out: &mut [f32]) {
        let k = self.terms.len();
        let (d_means, rest) = out.split_at_mut(k);
        let (d_scales, d_logits) = rest.split_at_mut(k);
        for j in 0..k {
            // The component's responsibility r_k and the derivative of its term with respect
            // to u (∂/∂μ = −(∂/∂u)/σ, ∂/∂ln σ = −u·∂/∂u, plus −1 for the density's 1/σ).
            let r = (self.terms[j] - self.total).exp();
            let (du, ds_extra) = if self.censored {
                let u = self.u[j];
                // φ(u)/Φ(u), the inverse Mills ratio.
                ((-0.5 * u * u - HALF_LOG_2PI - log_ndtr(u)).exp(), 0.0)
            } else {
                (-self.u[j], -1.0)
            };
            d_means[j] = (g * r * du * self.inv_scale[j]) as f32;
            d_scales[j] = if f64::from(p[k + j]) > MIN_LOG_SCALE {
                (-g * r * (-self.u[j] * du + ds_extra)) as f32
            } else {
                0.0
            };
            d_logits[j] = (g * (self.a[j].exp() - r)) as f32;
        }
    }
}

impl GmmNll {
    fn floor_at(&self, element: usize, bins: usize) -> Option<f32> {
        self.floor.as_ref().map(|f| f[element % bins])
    }
}

impl CustomOp2 for GmmNll {
    fn name(&self) -> &'static str {
        "gmm-nll"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (raw, x) = (slice(s1, l1, OP)?, slice(s2, l2, OP)?);
        let (b, t, f, k3) = l1.shape().dims4()?;
        let mut nll = vec![0.0f32; b * t * f];
        nll.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
            let mut e = Element::new(k3 / 3);
            for (i, v) in out.iter_mut().enumerate() {
                let at = c * CHUNK + i;
                e.compute(&raw[at * k3..(at + 1) * k3], x[at], self.floor_at(at, f));
                *v = -e.total as f32;
            }
        });
        Ok((CpuStorage::F32(nll), Shape::from((b, t, f))))
    }

    fn bwd(
        &self,
        raw: &Tensor,
        x: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, f, k3) = raw.dims4()?;
        with_values([raw, x, grad_res], OP, |[rv, xv, gv]| {
            let mut d_raw = vec![0.0f32; rv.len()];
            d_raw
                .par_chunks_mut(CHUNK * k3)
                .enumerate()
                .for_each(|(c, out)| {
                    let mut e = Element::new(k3 / 3);
                    for (i, d) in out.chunks_exact_mut(k3).enumerate() {
                        let at = c * CHUNK + i;
                        let p = &rv[at * k3..(at + 1) * k3];
                        e.compute(p, xv[at], self.floor_at(at, f));
                        e.gradient(p, f64::from(gv[at]), d);
                    }
                });
            Ok((
                Some(Tensor::from_vec(d_raw, raw.shape(), raw.device())?),
                None,
            ))
        })
    }
}
