//! Limited-memory BFGS over an `f32` vector (Nocedal & Wright, *Numerical Optimization*,
//! algorithms 7.4 and 7.5), with a backtracking line search on the Armijo condition.
//!
//! Written here rather than taken from a crate because the objectives it serves (a signal of
//! 10⁵–10⁶ samples through an STFT) compute the value and the gradient in one pass, and the
//! iterations must not allocate: the generic solvers evaluate cost and gradient separately,
//! which doubles the STFT work.

use std::collections::VecDeque;

use rayon::prelude::*;

use crate::error::Result;

/// Stopping rule and memory of [`minimise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsOptions {
    /// Iterations (accepted steps).
    pub max_iter: usize,
    /// Correction pairs kept for the inverse-Hessian estimate.
    pub history: usize,
    /// Most objective evaluations one line search may spend before giving up.
    pub max_evals_per_step: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            max_iter: 20,
            history: 7,
            max_evals_per_step: 20,
        }
    }
}

/// An objective: `f(x)`, with `∇f(x)` written into the second argument.
pub type Objective<'a> = dyn FnMut(&[f32], &mut [f32]) -> Result<f64> + 'a;

/// Armijo's sufficient-decrease constant.
const ARMIJO: f64 = 1e-4;

/// Minimise `f` from `x` (updated in place). `eval(x, grad)` returns `f(x)` and writes `∇f(x)`
/// into `grad` (same length as `x`); `progress(iteration, value)` is called after every accepted
/// step. Every accepted step lowers the value, so the returned values — `f` at the start, then
/// after each step — decrease strictly. Stops early when no step along the search direction
/// lowers `f` (converged to f32 precision), or at a zero gradient.
///
/// # Errors
/// Whatever `eval` returns.
pub fn minimise(
    x: &mut [f32],
    opts: &LbfgsOptions,
    eval: &mut Objective,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<Vec<f64>> {
    let n = x.len();
    let mut grad = vec![0.0f32; n];
    let mut value = eval(x, &mut grad)?;
    let mut values = vec![value];
    let mut memory = Memory::new(opts.history);
    let mut direction = vec![0.0f32; n];
    let mut trial = vec![0.0f32; n];
    let mut trial_grad = vec![0.0f32; n];
    for iteration in 1..=opts.max_iter {
        let grad_norm = norm(&grad);
        if grad_norm == 0.0 {
            break;
        }
        memory.direction(&grad, &mut direction);
        let mut slope = dot(&direction, &grad);
        if memory.is_empty() || slope >= 0.0 {
            // Steepest descent, scaled to move the signal by a small fraction of its norm.
            memory.clear();
            let x_norm = norm(x);
            let step_scale = if x_norm > 0.0 { 1e-3 * x_norm } else { 1.0 } / grad_norm;
            direction.copy_from_slice(&grad);
            scale(-(step_scale as f32), &mut direction);
            slope = dot(&direction, &grad);
        }
        let mut step = 1.0f64;
        let mut accepted = None;
        for _ in 0..opts.max_evals_per_step {
            let a = step as f32;
            zip_map(&mut trial, x, &direction, |xi, d| xi + a * d);
            let v = eval(&trial, &mut trial_grad)?;
            if v.is_finite() && v <= value + ARMIJO * step * slope && v < value {
                accepted = Some(v);
                break;
            }
            // Minimiser of the quadratic through value, slope and v, kept in [0.1, 0.5]·step.
            let curvature = v - value - slope * step;
            let next = if v.is_finite() && curvature > 0.0 {
                -slope * step * step / (2.0 * curvature)
            } else {
                0.5 * step
            };
            step = next.clamp(0.1 * step, 0.5 * step);
        }
        let Some(v) = accepted else { break };
        memory.push(&trial, x, &trial_grad, &grad);
        x.copy_from_slice(&trial);
        std::mem::swap(&mut grad, &mut trial_grad);
        value = v;
        values.push(value);
        progress(iteration, value);
    }
    Ok(values)
}

/// The last correction pairs `s = x⁺ − x`, `y = ∇f(x⁺) − ∇f(x)`, oldest first.
struct Memory {
    capacity: usize,
    pairs: VecDeque<(Vec<f32>, Vec<f32>, f64)>,
    alphas: Vec<f64>,
}

impl Memory {
    fn new(capacity: usize) -> Self {
        Memory {
            capacity,
            pairs: VecDeque::with_capacity(capacity),
            alphas: vec![0.0; capacity],
        }
    }

    fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn clear(&mut self) {
        self.pairs.clear();
    }

    /// Store the pair of a step from `x` to `x_new` if it has positive curvature (which keeps
    /// the estimate positive definite); the oldest pair's buffers are reused.
    fn push(&mut self, x_new: &[f32], x: &[f32], g_new: &[f32], g: &[f32]) {
        if self.capacity == 0 {
            return;
        }
        let (mut s, mut y) = if self.pairs.len() == self.capacity {
            let (s, y, _) = self.pairs.pop_front().expect("memory is full");
            (s, y)
        } else {
            (vec![0.0; x.len()], vec![0.0; x.len()])
        };
        zip_map(&mut s, x_new, x, |a, b| a - b);
        zip_map(&mut y, g_new, g, |a, b| a - b);
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y) && sy > 0.0 {
            self.pairs.push_back((s, y, 1.0 / sy));
        }
    }

    /// `d = −H·g` by the two-loop recursion, `H₀ = (sᵀy / yᵀy)·I` from the newest pair.
    fn direction(&mut self, g: &[f32], d: &mut [f32]) {
        d.copy_from_slice(g);
        scale(-1.0, d);
        for (i, (s, y, rho)) in self.pairs.iter().enumerate().rev() {
            let a = rho * dot(s, d);
            self.alphas[i] = a;
            axpy(-a, y, d);
        }
        if let Some((s, y, _)) = self.pairs.back() {
            scale((dot(s, y) / dot(y, y)) as f32, d);
        }
        for (i, (s, y, rho)) in self.pairs.iter().enumerate() {
            let b = rho * dot(y, d);
            axpy(self.alphas[i] - b, s, d);
        }
    }
}

/// `d += a·v`.
fn axpy(a: f64, v: &[f32], d: &mut [f32]) {
    let a = a as f32;
    d.par_chunks_mut(BLOCK)
        .zip(v.par_chunks(BLOCK))
        .for_each(|(d, v)| d.iter_mut().zip(v).for_each(|(d, v)| *d += a * v));
}

/// `d *= a`.
fn scale(a: f32, d: &mut [f32]) {
    d.par_chunks_mut(BLOCK)
        .for_each(|d| d.iter_mut().for_each(|d| *d *= a));
}

/// Length of the blocks the vector operations are split into across threads (fixed, so that
/// sums are taken in the same order on every machine).
const BLOCK: usize = 1 << 14;

/// `out[i] = f(a[i], b[i])`, in parallel blocks.
fn zip_map(out: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    out.par_chunks_mut(BLOCK)
        .zip(a.par_chunks(BLOCK).zip(b.par_chunks(BLOCK)))
        .for_each(|(o, (a, b))| {
            o.iter_mut()
                .zip(a.iter().zip(b))
                .for_each(|(o, (a, b))| *o = f(*a, *b));
        });
}

/// Dot product: f32 partial sums over 1024 values (`mel::dot`, eight lanes), the
/// blocks' sums added in order in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let partial: Vec<f64> = a
        .par_chunks(BLOCK)
        .zip(b.par_chunks(BLOCK))
        .map(|(a, b)| {
            a.chunks(1024)
                .zip(b.chunks(1024))
                .map(|(a, b)| f64::from(crate::mel::dot(a, b)))
                .sum::<f64>()
        })
        .collect();
    partial.iter().sum()
}

fn norm(v: &[f32]) -> f64 {
    dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rosenbrock function in 2·k dimensions (minimum 0 at all ones).
    fn rosenbrock(x: &[f32], g: &mut [f32]) -> Result<f64> {
        let mut f = 0.0f64;
        for i in (0..x.len()).step_by(2) {
            let (a, b) = (f64::from(x[i]), f64::from(x[i + 1]));
            f += 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
            g[i] = (-400.0 * a * (b - a * a) - 2.0 * (1.0 - a)) as f32;
            g[i + 1] = (200.0 * (b - a * a)) as f32;
        }
        Ok(f)
    }

    #[test]
    fn finds_the_minimum_of_rosenbrock_with_strictly_falling_values() {
        let mut x = vec![-1.2f32, 1.0, -1.2, 1.0, 0.5, 0.5];
        let opts = LbfgsOptions {
            max_iter: 200,
            ..LbfgsOptions::default()
        };
        let values = minimise(&mut x, &opts, &mut rosenbrock, &mut |_, _| {}).unwrap();
        assert!(values.windows(2).all(|w| w[1] < w[0]));
        assert!(*values.last().unwrap() < 1e-6, "{values:?}");
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-2), "{x:?}");
        assert!(values.len() < 150, "{} iterations", values.len());
    }

    #[test]
    fn a_quadratic_is_solved_in_few_steps() {
        // f = Σ c_i (x_i − i)², badly scaled.
        let c: Vec<f64> = (0..50).map(|i| 1.0 + f64::from(i) * 2.0).collect();
        let mut eval = |x: &[f32], g: &mut [f32]| -> Result<f64> {
            let mut f = 0.0;
            for i in 0..x.len() {
                let d = f64::from(x[i]) - i as f64;
                f += c[i] * d * d;
                g[i] = (2.0 * c[i] * d) as f32;
            }
            Ok(f)
        };
        let mut x = vec![0.0f32; 50];
        let opts = LbfgsOptions {
            max_iter: 60,
            ..LbfgsOptions::default()
        };
        let values = minimise(&mut x, &opts, &mut eval, &mut |_, _| {}).unwrap();
        assert!(*values.last().unwrap() < 1e-6 * values[0], "{values:?}");
    }
}
