//! Every hand-written backward pass against central finite differences in f64: the gradient
//! each op computes (in f32) of a weighted sum of its outputs equals the finite differences of
//! the same function written independently here, in plain f64 Rust, in every input
//! coordinate. (The mixture NLL's backward has the same check in `tests/gmm.rs`.)

use candle_core::{Device, Tensor, Var};
use melnet::ops::dense::dense;
use melnet::ops::frame_sum::frame_sum;
use melnet::ops::fused_lstm::{lstms, Along, Direction};
use melnet::ops::lstm_cell::lstm_cell;
use melnet::ops::lstm_layer::{lstm_layer, LayerDims};

/// `n` reproducible values in about ±`scale`.
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| scale * ((i as f32 * 0.618 + seed as f32 * 1.37).sin() * 1.7).sin())
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One input of an op: its name, values and shape.
struct Input {
    name: &'static str,
    values: Vec<f32>,
    shape: Vec<usize>,
}

fn input(name: &'static str, shape: &[usize], seed: u64, scale: f32) -> Input {
    Input {
        name,
        values: values(shape.iter().product(), seed, scale),
        shape: shape.to_vec(),
    }
}

/// Check the gradients of `Σ weight · op(inputs)` that `op`'s backward pass gives against
/// central finite differences (f64) of `Σ weight · reference(inputs)`, where `reference` is
/// the op written in f64; `case` names the case in failures.
fn check(
    case: &str,
    inputs: &[Input],
    op: impl Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    reference: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let vars = inputs
        .iter()
        .map(|i| Var::from_tensor(&Tensor::from_vec(i.values.clone(), &i.shape[..], &dev)?))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = op(&tensors)?;
    let weight = values(out.elem_count(), 99, 1.0);
    let grads = out
        .mul(&Tensor::from_vec(weight.clone(), out.shape(), &dev)?)?
        .sum_all()?
        .backward()?;
    let at64: Vec<Vec<f64>> = inputs
        .iter()
        .map(|i| i.values.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let objective = |args: &[Vec<f64>]| -> f64 {
        let y = reference(args);
        assert_eq!(y.len(), weight.len(), "{case}: reference output size");
        y.iter().zip(&weight).map(|(y, w)| y * f64::from(*w)).sum()
    };
    // The reference's outputs at the op's inputs equal the op's (it is the same function).
    let ours = out.flatten_all()?.to_vec1::<f32>()?;
    let theirs = reference(&at64);
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (f64::from(*a) - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-5, "{case}: outputs differ by {worst}");
    let h = 1e-6;
    for (k, (input, var)) in inputs.iter().zip(&vars).enumerate() {
        let analytic = grads
            .get(var)
            .expect("a gradient for every input")
            .flatten_all()?
            .to_vec1::<f32>()?;
        let numeric: Vec<f64> = (0..input.values.len())
            .map(|i| {
                let mut args = at64.clone();
                args[k][i] += h;
                let up = objective(&args);
                args[k][i] -= 2.0 * h;
                (up - objective(&args)) / (2.0 * h)
            })
            .collect();
        let scale = numeric.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, (a, n)) in analytic.iter().zip(&numeric).enumerate() {
            assert!(
                (f64::from(*a) - n).abs() < 1e-4 * scale,
                "{case}: ∂/∂{}[{i}]: backward {a}, finite difference {n}",
                input.name
            );
        }
    }
    Ok(())
}

/// The textbook LSTM in f64 over `x` `[steps, input]` from zero states, packed weights `w`
/// `[input + hidden + 1, 4·hidden]` (gates i, f, g, o): outputs `[steps, hidden]`, in the
/// order of `x` (run from the last step when `reverse`).
fn lstm64(x: &[f64], w: &[f64], input: usize, hidden: usize, reverse: bool) -> Vec<f64> {
    let steps = x.len() / input;
    let g4 = 4 * hidden;
    let (mut h, mut c) = (vec![0.0; hidden], vec![0.0; hidden]);
    let mut out = vec![0.0; steps * hidden];
    for s in 0..steps {
        let t = if reverse { steps - 1 - s } else { s };
        let mut z: Vec<f64> = w[(input + hidden) * g4..].to_vec();
        for (i, xi) in x[t * input..(t + 1) * input].iter().enumerate() {
            (0..g4).for_each(|j| z[j] += xi * w[i * g4 + j]);
        }
        for (i, hi) in h.iter().enumerate() {
            (0..g4).for_each(|j| z[j] += hi * w[(input + i) * g4 + j]);
        }
        for u in 0..hidden {
            let (i, f) = (sigmoid(z[u]), sigmoid(z[hidden + u]));
            let (g, o) = (z[2 * hidden + u].tanh(), sigmoid(z[3 * hidden + u]));
            c[u] = f * c[u] + i * g;
            h[u] = o * c[u].tanh();
        }
        out[t * hidden..(t + 1) * hidden].copy_from_slice(&h);
    }
    out
}

/// Grid sizes `[batch, rows, columns, input]`.
#[derive(Clone, Copy)]
struct Grid {
    batch: usize,
    rows: usize,
    columns: usize,
    input: usize,
}

/// `lstms` in f64: LSTM k (weights `w[k]`) along `directions[k]` over `x` of `grid`, outputs
/// side by side `[batch, rows, columns, n·hidden]`.
fn lstms64(x: &[f64], w: &[f64], grid: Grid, hidden: usize, directions: &[Direction]) -> Vec<f64> {
    let Grid {
        batch,
        rows,
        columns,
        input,
    } = grid;
    let n = directions.len();
    let per = (input + hidden + 1) * 4 * hidden;
    let mut out = vec![0.0; batch * rows * columns * n * hidden];
    for (k, d) in directions.iter().enumerate() {
        let wk = &w[k * per..(k + 1) * per];
        // Each sequence as the list of its elements' (row, column) along the axis.
        let (outer, steps) = match d.along {
            Along::Rows => (columns, rows),
            Along::Columns => (rows, columns),
        };
        for b in 0..batch {
            for o in 0..outer {
                let at = |s: usize| match d.along {
                    Along::Rows => (b * rows + s) * columns + o,
                    Along::Columns => (b * rows + o) * columns + s,
                };
                let seq: Vec<f64> = (0..steps)
                    .flat_map(|s| x[at(s) * input..(at(s) + 1) * input].to_vec())
                    .collect();
                let y = lstm64(&seq, wk, input, hidden, d.reverse);
                for s in 0..steps {
                    let row = at(s) * n * hidden + k * hidden;
                    out[row..row + hidden].copy_from_slice(&y[s * hidden..(s + 1) * hidden]);
                }
            }
        }
    }
    out
}

/// `y = x·Wᵀ + b` in f64: `x` `[rows, input]`, `w` `[output, input]`, `b` `[output]`.
fn dense64(x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (output, input) = (b.len(), w.len() / b.len());
    x.chunks_exact(input)
        .flat_map(|row| {
            (0..output).map(move |o| {
                b[o] + row
                    .iter()
                    .zip(&w[o * input..(o + 1) * input])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            })
        })
        .collect()
}

const ROWS_FORWARD: Direction = Direction {
    along: Along::Rows,
    reverse: false,
};
const COLUMNS_BACKWARD: Direction = Direction {
    along: Along::Columns,
    reverse: true,
};
const COLUMNS_FORWARD: Direction = Direction {
    along: Along::Columns,
    reverse: false,
};

#[test]
fn fused_lstms_backward_matches_finite_differences() -> candle_core::Result<()> {
    let (hidden, grid) = (
        3,
        Grid {
            batch: 2,
            rows: 3,
            columns: 4,
            input: 2,
        },
    );
    for directions in [
        vec![ROWS_FORWARD],
        vec![COLUMNS_BACKWARD],
        vec![ROWS_FORWARD, COLUMNS_FORWARD, COLUMNS_BACKWARD],
    ] {
        let n = directions.len();
        let inputs = [
            input(
                "x",
                &[grid.batch, grid.rows, grid.columns, grid.input],
                1,
                1.0,
            ),
            input("w", &[n, grid.input + hidden + 1, 4 * hidden], 2, 0.6),
        ];
        check(
            &format!("{directions:?}"),
            &inputs,
            |t| lstms(&t[0], &t[1], &directions),
            |a| lstms64(&a[0], &a[1], grid, hidden, &directions),
        )?;
    }
    Ok(())
}

#[test]
fn lstm_layer_backward_matches_finite_differences() -> candle_core::Result<()> {
    let directions = [ROWS_FORWARD, COLUMNS_BACKWARD];
    let grid = Grid {
        batch: 2,
        rows: 3,
        columns: 3,
        input: 3,
    };
    let shape = [grid.batch, grid.rows, grid.columns];
    for (output, residual) in [(3, false), (4, true)] {
        let dims = LayerDims {
            input: grid.input,
            hidden: 2,
            n: 2,
            output,
        };
        let mut inputs = vec![
            input("x", &[shape[0], shape[1], shape[2], grid.input], 3, 1.0),
            input("w", &[dims.weights_len()], 4, 0.6),
        ];
        if residual {
            inputs.push(input(
                "residual",
                &[shape[0], shape[1], shape[2], output],
                5,
                1.0,
            ));
        }
        let reference = |a: &[Vec<f64>]| {
            let per = (dims.input + dims.hidden + 1) * 4 * dims.hidden;
            let (lstm_w, rest) = a[1].split_at(dims.n * per);
            let (proj, bias) = rest.split_at(output * dims.n * dims.hidden);
            let h = lstms64(&a[0], lstm_w, grid, dims.hidden, &directions);
            let mut y = dense64(&h, proj, bias);
            let r = if residual { &a[2] } else { &a[0] };
            y.iter_mut().zip(r).for_each(|(y, r)| *y += r);
            y
        };
        check(
            &format!("residual {residual}"),
            &inputs,
            |t| lstm_layer(&t[0], &t[1], &directions, dims, t.get(2)),
            reference,
        )?;
    }
    Ok(())
}

#[test]
fn dense_backward_matches_finite_differences() -> candle_core::Result<()> {
    for (rows, inputs, outputs) in [(4, 3, 5), (6, 1, 2)] {
        check(
            &format!("{rows} × {inputs} → {outputs}"),
            &[
                input("x", &[rows, inputs], 6, 1.0),
                input("w", &[outputs, inputs], 7, 1.0),
                input("b", &[outputs], 8, 1.0),
            ],
            |t| dense(&t[0], &t[1], &t[2]),
            |a| dense64(&a[0], &a[1], &a[2]),
        )?;
    }
    Ok(())
}

#[test]
fn frame_sum_backward_matches_finite_differences() -> candle_core::Result<()> {
    let (b, t, f, d) = (2, 3, 4, 2);
    check(
        "frame sum",
        &[
            input("a", &[b, t, f, d], 9, 1.0),
            input("b", &[b, t, f, d], 10, 1.0),
            input("c", &[b, t, d], 11, 1.0),
        ],
        |x| frame_sum(&x[0], &x[1], &x[2]),
        |a| {
            (0..b * t * f * d)
                .map(|i| {
                    let (frame, unit) = (i / (f * d), i % d);
                    a[0][i] + a[1][i] + a[2][frame * d + unit]
                })
                .collect()
        },
    )
}

#[test]
fn lstm_cell_backward_matches_finite_differences() -> candle_core::Result<()> {
    let (batch, hidden) = (3, 4);
    check(
        "cell",
        &[
            input("z", &[batch, 4 * hidden], 12, 2.0),
            input("c", &[batch, hidden], 13, 1.0),
        ],
        |t| lstm_cell(&t[0], &t[1]),
        |a| {
            let mut out = Vec::with_capacity(batch * 2 * hidden);
            for (z, c) in a[0].chunks_exact(4 * hidden).zip(a[1].chunks_exact(hidden)) {
                let next: Vec<f64> = (0..hidden)
                    .map(|u| {
                        sigmoid(z[hidden + u]) * c[u] + sigmoid(z[u]) * z[2 * hidden + u].tanh()
                    })
                    .collect();
                out.extend((0..hidden).map(|u| sigmoid(z[3 * hidden + u]) * next[u].tanh()));
                out.extend(next);
            }
            out
        },
    )
}
