//! A tier learns: on one fixed window the loss falls well below its start, with RMSProp (the
//! paper's optimiser) and with AdamW.

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use melnet::train::optim::{RmsProp, RmsPropConfig};
use melnet::{Tier, TierConfig};

/// A smooth, structured "spectrogram" `[1, frames, bins]`: a moving ridge plus a decay.
fn window(frames: usize, bins: usize) -> Tensor {
    let v: Vec<f32> = (0..frames * bins)
        .map(|i| {
            let (t, f) = ((i / bins) as f32, (i % bins) as f32);
            (-(f - 2.0 - (t * 0.4) % (bins as f32 - 4.0)).powi(2) / 2.0).exp() - 0.05 * f
        })
        .collect();
    Tensor::from_vec(v, (1, frames, bins), &Device::Cpu).unwrap()
}

fn train<O: Optimizer>(make: impl FnOnce(Vec<candle_core::Var>) -> O, steps: usize) -> (f32, f32) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let config = TierConfig {
        layers: 2,
        width: 16,
        n_mixtures: 3,
        ..TierConfig::small(8)
    };
    let tier = Tier::new(config, vb).unwrap();
    let mut opt = make(varmap.all_vars());
    let x = window(16, 8);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..steps {
        let loss = tier.forward(&x).unwrap().nll(&x).unwrap();
        last = loss.to_scalar::<f32>().unwrap();
        first.get_or_insert(last);
        opt.backward_step(&loss).unwrap();
    }
    (first.unwrap(), last)
}

#[test]
fn loss_falls_on_a_fixed_window() {
    let (start, end) = train(
        |vars| {
            RmsProp::new(
                vars,
                RmsPropConfig {
                    lr: 1e-3,
                    ..RmsPropConfig::default()
                },
            )
            .unwrap()
        },
        200,
    );
    assert!(end < start - 1.0, "RMSProp: {start} → {end} nats/element");
    let (start, end) = train(
        |vars| {
            AdamW::new(
                vars,
                ParamsAdamW {
                    lr: 3e-3,
                    weight_decay: 0.0,
                    ..ParamsAdamW::default()
                },
            )
            .unwrap()
        },
        200,
    );
    assert!(end < start - 1.0, "AdamW: {start} → {end} nats/element");
}
