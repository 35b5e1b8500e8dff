//! Causality of a tier: the mixture at (t, f) may depend on frames < t and on bins < f of frame
//! t — and on nothing else. Checked exhaustively on a small grid with random weights: perturb
//! every input element in turn and look at every output element.

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::{VarBuilder, VarMap};
use melnet::{Tier, TierConfig};

fn params(tier: &Tier, x: &Tensor) -> Vec<f32> {
    let g = tier.forward(x, &melnet::Context::default()).unwrap();
    Tensor::cat(
        &[
            &g.means().unwrap(),
            &g.log_scales().unwrap(),
            &g.log_weights().unwrap(),
        ],
        3,
    )
    .unwrap()
    .flatten_all()
    .unwrap()
    .to_vec1::<f32>()
    .unwrap()
}

#[test]
fn each_element_sees_only_the_past() {
    let dev = Device::Cpu;
    let (frames, bins, k) = (4, 5, 3);
    for centralized in [true, false] {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let config = TierConfig {
            n_mels: bins,
            layers: 2,
            width: 8,
            n_mixtures: k,
            centralized,
            ..TierConfig::small(bins)
        };
        let tier = Tier::new(config, vb).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, frames, bins), &dev).unwrap();
        let base = params(&tier, &x);
        let per = 3 * k;
        for tp in 0..frames {
            for fp in 0..bins {
                let mut v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                v[tp * bins + fp] += 1.0;
                let xp = Tensor::from_vec(v, (1, frames, bins), &dev).unwrap();
                let moved = params(&tier, &xp);
                for t in 0..frames {
                    for f in 0..bins {
                        let e = (t * bins + f) * per;
                        let diff = base[e..e + per]
                            .iter()
                            .zip(&moved[e..e + per])
                            .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
                        let past = tp < t || (tp == t && fp < f);
                        if past {
                            assert!(
                                diff > 0.0,
                                "centralized={centralized}: ({t},{f}) ignores its past ({tp},{fp})"
                            );
                        } else {
                            assert_eq!(
                                diff, 0.0,
                                "centralized={centralized}: ({t},{f}) sees ({tp},{fp})"
                            );
                        }
                    }
                }
            }
        }
        // The first element has no past: its mixture is the same for every input.
        let other = Tensor::randn(0f32, 1.0, (1, frames, bins), &dev).unwrap();
        let a = tier
            .forward(&x, &melnet::Context::default())
            .unwrap()
            .means()
            .unwrap()
            .i((0, 0, 0))
            .unwrap();
        let b = tier
            .forward(&other, &melnet::Context::default())
            .unwrap()
            .means()
            .unwrap()
            .i((0, 0, 0))
            .unwrap();
        assert_eq!(a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());
    }
}

#[test]
fn wrong_bin_count_is_an_error() {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let tier = Tier::new(TierConfig::small(8), vb).unwrap();
    let x = Tensor::zeros((1, 3, 7), DType::F32, &dev).unwrap();
    assert!(tier.forward(&x, &melnet::Context::default()).is_err());
    assert!(TierConfig {
        layers: 0,
        ..TierConfig::small(8)
    }
    .validate()
    .is_err());
}
