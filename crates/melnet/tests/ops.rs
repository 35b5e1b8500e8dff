//! The hand-written operations (fused LSTM, LSTM layer, dense layer, frame sum, LSTM cell)
//! against their op-by-op forms in candle: outputs and gradients (candle's autograd on the same
//! graph). `finite_differences.rs` checks the same backward passes against f64 finite
//! differences.

use candle_core::{DType, Device, Tensor, Var, D};
use melnet::ops::fused_lstm::{lstm, lstms, Along, Direction};

/// The textbook LSTM with candle ops, same packed weights.
fn op_by_op(x: &Tensor, w: &Tensor, hidden: usize) -> candle_core::Result<Tensor> {
    let (batch, steps, input) = x.dims3()?;
    let w_ih = w.narrow(0, 0, input)?;
    let w_hh = w.narrow(0, input, hidden)?;
    let bias = w.narrow(0, input + hidden, 1)?;
    let mut h = Tensor::zeros((batch, hidden), DType::F32, x.device())?;
    let mut c = h.clone();
    let mut outs = Vec::new();
    for t in 0..steps {
        let xt = x.narrow(1, t, 1)?.squeeze(1)?;
        let z = xt
            .matmul(&w_ih)?
            .add(&h.matmul(&w_hh)?)?
            .broadcast_add(&bias)?;
        let gate = |k: usize| z.narrow(D::Minus1, k * hidden, hidden);
        let i = candle_nn::ops::sigmoid(&gate(0)?)?;
        let f = candle_nn::ops::sigmoid(&gate(1)?)?;
        let g = gate(2)?.tanh()?;
        let o = candle_nn::ops::sigmoid(&gate(3)?)?;
        c = f.mul(&c)?.add(&i.mul(&g)?)?;
        h = o.mul(&c.tanh()?)?;
        outs.push(h.clone());
    }
    Tensor::stack(&outs, 1)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    a.sub(b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Assert that the gradients `ours` and `reference` of each of `vars` agree to `tolerance`
/// relative to the reference's largest magnitude (at least 1); `case` names the case.
fn assert_gradients_agree(
    ours: &candle_core::backprop::GradStore,
    reference: &candle_core::backprop::GradStore,
    vars: &[(&str, &Var)],
    tolerance: f32,
    case: &str,
) -> candle_core::Result<()> {
    for (name, v) in vars {
        let a = ours.get(v).expect("gradient of the op");
        let b = reference.get(v).expect("gradient of the reference");
        let scale = b.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?.max(1.0);
        let err = max_abs_diff(a, b);
        assert!(err < tolerance * scale, "{name} gradient ({case}): {err}");
    }
    Ok(())
}

#[test]
fn fused_lstm_matches_op_by_op_outputs_and_gradients() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    // The last case runs in three parallel blocks of sequences (one shorter).
    for (batch, steps, input, hidden) in
        [(3, 7, 5, 4), (1, 1, 2, 3), (4, 12, 8, 16), (197, 5, 3, 4)]
    {
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (batch, steps, input), &dev)?)?;
        let w = Var::from_tensor(&Tensor::randn(
            0f32,
            0.5,
            (input + hidden + 1, 4 * hidden),
            &dev,
        )?)?;
        let r = Tensor::randn(0f32, 1.0, (batch, steps, hidden), &dev)?;
        // Backwards: the reference runs forwards over the steps in reverse order.
        for reverse in [false, true] {
            let fused = lstm(x.as_tensor(), w.as_tensor(), reverse)?;
            let reference = if reverse {
                let idx = Tensor::arange(0u32, steps as u32, &dev)?.flip(&[0])?;
                let flipped = x.as_tensor().index_select(&idx, 1)?;
                op_by_op(&flipped, w.as_tensor(), hidden)?.index_select(&idx, 1)?
            } else {
                op_by_op(x.as_tensor(), w.as_tensor(), hidden)?
            };
            assert!(
                max_abs_diff(&fused, &reference) < 1e-5,
                "outputs (reverse {reverse})"
            );

            let g_fused = fused.mul(&r)?.sum_all()?.backward()?;
            let g_ref = reference.mul(&r)?.sum_all()?.backward()?;
            assert_gradients_agree(
                &g_fused,
                &g_ref,
                &[("x", &x), ("w", &w)],
                1e-4,
                &format!("{batch},{steps},{input},{hidden}, reverse {reverse}"),
            )?;
        }
    }
    Ok(())
}

/// `lstms`: several LSTMs over one `[batch, rows, columns, input]` tensor along either axis,
/// side by side, equal what the plain op gives on each direction's sequences laid out one
/// after another, concatenated — outputs and gradients, including splits into several
/// parallel blocks of whole sequences.
#[test]
fn several_directions_match_plain_lstms_concatenated() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let dirs = [
        Direction {
            along: Along::Rows,
            reverse: false,
        },
        Direction {
            along: Along::Columns,
            reverse: false,
        },
        Direction {
            along: Along::Columns,
            reverse: true,
        },
        Direction {
            along: Along::Rows,
            reverse: true,
        },
    ];
    for (batch, rows, columns, input, hidden) in [
        (2, 5, 3, 4, 6),
        (1, 3, 1, 2, 3),
        (9, 4, 16, 3, 5),
        (3, 70, 2, 2, 4),
    ] {
        let x = Var::from_tensor(&Tensor::randn(
            0f32,
            1.0,
            (batch, rows, columns, input),
            &dev,
        )?)?;
        let ws: Vec<Var> = dirs
            .iter()
            .map(|_| {
                Var::from_tensor(
                    &Tensor::randn(0f32, 0.5, (input + hidden + 1, 4 * hidden), &dev).unwrap(),
                )
                .unwrap()
            })
            .collect();
        let r = Tensor::randn(0f32, 1.0, (batch, rows, columns, dirs.len() * hidden), &dev)?;
        let w = Tensor::stack(&ws.iter().map(|v| v.as_tensor()).collect::<Vec<_>>(), 0)?;
        let ours = lstms(x.as_tensor(), &w, &dirs)?;
        let plain: Vec<Tensor> = dirs
            .iter()
            .zip(&ws)
            .map(|(d, w)| {
                let xt = x.as_tensor();
                match d.along {
                    Along::Rows => lstm(
                        &xt.permute((0, 2, 1, 3))?.contiguous()?.reshape((
                            batch * columns,
                            rows,
                            input,
                        ))?,
                        w.as_tensor(),
                        d.reverse,
                    )?
                    .reshape((batch, columns, rows, hidden))?
                    .permute((0, 2, 1, 3))?
                    .contiguous(),
                    Along::Columns => lstm(
                        &xt.reshape((batch * rows, columns, input))?,
                        w.as_tensor(),
                        d.reverse,
                    )?
                    .reshape((batch, rows, columns, hidden)),
                }
            })
            .collect::<candle_core::Result<_>>()?;
        let plain = Tensor::cat(&plain, 3)?;
        assert!(
            max_abs_diff(&ours, &plain) < 1e-6,
            "outputs {:?}",
            ours.dims()
        );
        let g_ours = ours.mul(&r)?.sum_all()?.backward()?;
        let g_plain = plain.mul(&r)?.sum_all()?.backward()?;
        let vars: Vec<(&str, &Var)> = std::iter::once(("x", &x))
            .chain(ws.iter().map(|w| ("w", w)))
            .collect();
        assert_gradients_agree(
            &g_ours,
            &g_plain,
            &vars,
            1e-5,
            &format!("{batch},{rows},{columns}"),
        )?;
    }
    Ok(())
}

#[test]
fn mismatched_weights_are_an_error() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 2, 3), DType::F32, &dev).unwrap();
    let w = Tensor::zeros((5, 8), DType::F32, &dev).unwrap();
    assert!(lstm(&x, &w, false).is_err());
}

/// The residual LSTM layer (`lstm_layer`: LSTMs, projection, bias and residual as one op)
/// equals the same layer composed of candle ops around `lstms` — outputs and the gradients of
/// the input, every weight and the residual — with the input as residual and with a separate
/// one.
#[test]
fn lstm_layer_matches_its_op_by_op_composition() -> candle_core::Result<()> {
    use melnet::ops::lstm_layer::{lstm_layer, LayerDims};
    let dev = Device::Cpu;
    let dirs = [
        Direction {
            along: Along::Rows,
            reverse: false,
        },
        Direction {
            along: Along::Columns,
            reverse: true,
        },
        Direction {
            along: Along::Columns,
            reverse: false,
        },
    ];
    for (n, (batch, rows, columns, input, hidden), separate) in [
        (3, (2, 5, 3, 4, 6), false),
        (1, (1, 4, 1, 3, 5), false),
        (1, (3, 2, 7, 4, 3), true),
        (2, (2, 70, 3, 2, 4), true),
    ] {
        let dims = LayerDims {
            input,
            hidden,
            n,
            output: input,
        };
        let var = |shape: &[usize], std: f32| {
            Var::from_tensor(&Tensor::randn(0f32, std, shape, &dev).unwrap()).unwrap()
        };
        let x = var(&[batch, rows, columns, input], 1.0);
        let w_lstm = var(&[n, input + hidden + 1, 4 * hidden], 0.5);
        let w_proj = var(&[input, n * hidden], 0.5);
        let b_proj = var(&[input], 0.5);
        let r = var(&[batch, rows, columns, input], 1.0);
        let residual = separate.then_some(r.as_tensor());
        let flat = Tensor::cat(
            &[
                w_lstm.as_tensor().flatten_all()?,
                w_proj.as_tensor().flatten_all()?,
                b_proj.as_tensor().clone(),
            ],
            0,
        )?;
        let ours = lstm_layer(x.as_tensor(), &flat, &dirs[..n], dims, residual)?;
        let hs = lstms(x.as_tensor(), w_lstm.as_tensor(), &dirs[..n])?;
        let projected = hs
            .reshape((batch * rows * columns, n * hidden))?
            .matmul(&w_proj.as_tensor().t()?)?
            .broadcast_add(b_proj.as_tensor())?
            .reshape((batch, rows, columns, input))?;
        let reference = (projected + residual.unwrap_or(x.as_tensor()))?;
        assert!(
            max_abs_diff(&ours, &reference) < 1e-5,
            "outputs {:?}",
            ours.dims()
        );
        let weight = Tensor::randn(0f32, 1.0, ours.dims(), &dev)?;
        let g_ours = ours.mul(&weight)?.sum_all()?.backward()?;
        let g_ref = reference.mul(&weight)?.sum_all()?.backward()?;
        let mut checked = vec![
            ("x", &x),
            ("lstm", &w_lstm),
            ("proj", &w_proj),
            ("bias", &b_proj),
        ];
        if separate {
            checked.push(("residual", &r));
        }
        assert_gradients_agree(
            &g_ours,
            &g_ref,
            &checked,
            1e-5,
            &format!("n {n}, {batch},{rows},{columns}"),
        )?;
    }
    Ok(())
}

/// The dense layer equals candle's `Linear` (a product and a broadcast bias): outputs and the
/// gradients of input, weight and bias, including an input width of one.
#[test]
fn dense_matches_candle_linear() -> candle_core::Result<()> {
    use candle_nn::Module;
    use melnet::ops::dense::dense;
    let dev = Device::Cpu;
    for (rows, input, output) in [(5, 3, 4), (300, 1, 32), (7, 32, 30)] {
        let var = |shape: &[usize]| {
            Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev).unwrap()).unwrap()
        };
        let (x, w, b) = (var(&[rows, input]), var(&[output, input]), var(&[output]));
        let ours = dense(x.as_tensor(), w.as_tensor(), b.as_tensor())?;
        let lin = candle_nn::Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let reference = lin.forward(x.as_tensor())?;
        assert!(
            max_abs_diff(&ours, &reference) < 1e-5,
            "outputs ({rows},{input},{output})"
        );
        let weight = Tensor::randn(0f32, 1.0, (rows, output), &dev)?;
        let g_ours = ours.mul(&weight)?.sum_all()?.backward()?;
        let g_ref = reference.mul(&weight)?.sum_all()?.backward()?;
        assert_gradients_agree(
            &g_ours,
            &g_ref,
            &[("x", &x), ("w", &w), ("b", &b)],
            1e-5,
            &format!("{rows},{input},{output}"),
        )?;
    }
    assert!(dense(
        &Tensor::zeros((2, 3), DType::F32, &dev)?,
        &Tensor::zeros((4, 2), DType::F32, &dev)?,
        &Tensor::zeros(4, DType::F32, &dev)?
    )
    .is_err());
    Ok(())
}

/// The frame sum equals `a + b` plus `c` broadcast over the bins: outputs and gradients.
#[test]
fn frame_sum_matches_a_broadcast_sum() -> candle_core::Result<()> {
    use melnet::ops::frame_sum::frame_sum;
    let dev = Device::Cpu;
    let var = |shape: &[usize]| {
        Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev).unwrap()).unwrap()
    };
    let (a, b, c) = (var(&[2, 3, 5, 4]), var(&[2, 3, 5, 4]), var(&[2, 3, 4]));
    let ours = frame_sum(a.as_tensor(), b.as_tensor(), c.as_tensor())?;
    let reference = (a.as_tensor() + b.as_tensor())?.broadcast_add(&c.as_tensor().unsqueeze(2)?)?;
    assert!(max_abs_diff(&ours, &reference) < 1e-6);
    let weight = Tensor::randn(0f32, 1.0, (2, 3, 5, 4), &dev)?;
    let g_ours = ours.mul(&weight)?.sum_all()?.backward()?;
    let g_ref = reference.mul(&weight)?.sum_all()?.backward()?;
    assert_gradients_agree(
        &g_ours,
        &g_ref,
        &[("a", &a), ("b", &b), ("c", &c)],
        1e-6,
        "",
    )?;
    assert!(frame_sum(a.as_tensor(), b.as_tensor(), a.as_tensor()).is_err());
    Ok(())
}

/// One LSTM cell step equals the textbook cell in candle ops: the new hidden and cell states
/// and the gradients of the gate pre-activations and the previous cell state.
#[test]
fn lstm_cell_matches_the_textbook_cell() -> candle_core::Result<()> {
    use melnet::ops::lstm_cell::lstm_cell;
    let dev = Device::Cpu;
    for (batch, hidden) in [(3, 5), (2, 20)] {
        let z = Var::from_tensor(&Tensor::randn(0f32, 1.5, (batch, 4 * hidden), &dev)?)?;
        let c = Var::from_tensor(&Tensor::randn(0f32, 1.0, (batch, hidden), &dev)?)?;
        let ours = lstm_cell(z.as_tensor(), c.as_tensor())?;
        let gate = |i: usize| z.as_tensor().narrow(1, i * hidden, hidden);
        let (i, f) = (
            candle_nn::ops::sigmoid(&gate(0)?)?,
            candle_nn::ops::sigmoid(&gate(1)?)?,
        );
        let (g, o) = (gate(2)?.tanh()?, candle_nn::ops::sigmoid(&gate(3)?)?);
        let next = ((f * c.as_tensor())? + (i * g)?)?;
        let reference = Tensor::cat(&[(o * next.tanh()?)?, next], 1)?;
        assert!(
            max_abs_diff(&ours, &reference) < 1e-6,
            "states ({batch},{hidden})"
        );
        let weight = Tensor::randn(0f32, 1.0, (batch, 2 * hidden), &dev)?;
        let g_ours = ours.mul(&weight)?.sum_all()?.backward()?;
        let g_ref = reference.mul(&weight)?.sum_all()?.backward()?;
        assert_gradients_agree(
            &g_ours,
            &g_ref,
            &[("z", &z), ("c", &c)],
            1e-5,
            &format!("{batch},{hidden}"),
        )?;
    }
    Ok(())
}
