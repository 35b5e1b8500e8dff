//! Upper tiers (multi-scale MelNet): causality with conditioning, and the incremental sampler
//! against the training forward pass for every tier of a 3-tier model (both split axes).

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use melnet::multiscale::{split, split_tiers, tier_shapes, Axis, Grid};
use melnet::{FeatureConfig, Sampler, Tier, TierConfig};

mod support;
use support::{real_spectrogram, worst_difference};

fn new_tier(config: TierConfig, seed: u64) -> Tier {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let tier = Tier::new(config, vb).unwrap();
    melnet::init::init(&varmap, seed).unwrap();
    tier
}

fn upper(bins: usize, axis: Axis, centralized: bool) -> TierConfig {
    TierConfig {
        layers: 2,
        width: 8,
        n_mixtures: 3,
        centralized,
        conditioning: Some(FeatureConfig { axis, layers: 1 }),
        ..TierConfig::small(bins)
    }
}

/// Makes (x^{<g}, x^g) from a full-resolution spectrogram.
type Parts<'a> = dyn Fn(&[f32]) -> (Vec<f32>, Vec<f32>) + 'a;

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// The mixture parameters of the upper tier for every element of x^g, when x^g and x^{<g} are
/// made from the full-resolution `x` by `parts` (the right split, or a broken one).
fn params(tier: &Tier, x: &[f32], full: Grid, axis: Axis, parts: &Parts) -> Vec<f32> {
    let (coarse, fine) = parts(x);
    let (cg, fg) = full.split(axis);
    let dev = &Device::Cpu;
    let xt = Tensor::from_vec(fine, (1, fg.frames, fg.bins), dev).unwrap();
    let ct = Tensor::from_vec(coarse, (1, cg.frames, cg.bins), dev).unwrap();
    let g = tier
        .forward(&xt, &melnet::Context::coarse(Some(ct.clone())))
        .unwrap();
    flat(
        &Tensor::cat(
            &[
                &g.means().unwrap(),
                &g.log_scales().unwrap(),
                &g.log_weights().unwrap(),
            ],
            3,
        )
        .unwrap(),
    )
}

/// Every (output element of x^g, perturbed full-resolution element) pair that breaks the rule:
/// (t, f) of x^g depends on every element of x^{<g}, and of x^g only on frames < t and on
/// bins < f of frame t.
fn violations(tier: &Tier, full: Grid, axis: Axis, parts: &Parts) -> Vec<String> {
    let (_, fg) = full.split(axis);
    let per = 3 * tier.config().n_mixtures;
    let x: Vec<f32> = (0..full.len())
        .map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0)
        .collect();
    let base = params(tier, &x, full, axis, parts);
    let mut bad = Vec::new();
    for tp in 0..full.frames {
        for fp in 0..full.bins {
            let mut moved_x = x.clone();
            moved_x[tp * full.bins + fp] += 1.0;
            let moved = params(tier, &moved_x, full, axis, parts);
            // Where the perturbed element lies: coarse, or fine at (ft, ff).
            let row = match axis {
                Axis::Time => tp,
                Axis::Frequency => fp,
            };
            let fine_at = (row % 2 == 1).then_some(match axis {
                Axis::Time => (tp / 2, fp),
                Axis::Frequency => (tp, fp / 2),
            });
            for t in 0..fg.frames {
                for f in 0..fg.bins {
                    let e = (t * fg.bins + f) * per;
                    let diff = base[e..e + per]
                        .iter()
                        .zip(&moved[e..e + per])
                        .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
                    let allowed = match fine_at {
                        None => true,
                        Some((ft, ff)) => ft < t || (ft == t && ff < f),
                    };
                    let must = fine_at.is_none()
                        || fine_at.is_some_and(|(ft, ff)| ft < t || (ft == t && ff < f));
                    if !allowed && diff != 0.0 {
                        bad.push(format!("({t},{f}) sees ({tp},{fp})"));
                    }
                    if must && diff == 0.0 {
                        bad.push(format!("({t},{f}) ignores ({tp},{fp})"));
                    }
                }
            }
        }
    }
    bad
}

#[test]
fn upper_tiers_see_all_of_the_coarse_part_and_only_the_past_of_their_own() {
    for axis in [Axis::Time, Axis::Frequency] {
        for centralized in [false, true] {
            let full = Grid { frames: 5, bins: 6 };
            let (_, fg) = full.split(axis);
            let tier = new_tier(upper(fg.bins, axis, centralized), 3);
            let right = |x: &[f32]| split(x, 1, full, axis);
            let bad = violations(&tier, full, axis, &right);
            assert!(
                bad.is_empty(),
                "{axis:?} centralized={centralized}: {bad:?}"
            );

            // Negative control: conditioning made from the spectrogram shifted by one row
            // along the axis (so "coarse" holds the fine rows) must be caught.
            let shifted = |x: &[f32]| {
                let mut y = vec![0.0f32; x.len()];
                for t in 0..full.frames {
                    for b in 0..full.bins {
                        let (st, sb) = match axis {
                            Axis::Time => (t + 1, b),
                            Axis::Frequency => (t, b + 1),
                        };
                        if st < full.frames && sb < full.bins {
                            y[t * full.bins + b] = x[st * full.bins + sb];
                        }
                    }
                }
                (split(&y, 1, full, axis).0, split(x, 1, full, axis).1)
            };
            let bad = violations(&tier, full, axis, &shifted);
            assert!(
                bad.iter().any(|v| v.contains("sees")),
                "{axis:?}: a shifted conditioning was not caught"
            );
        }
    }
}

#[test]
fn conditioning_of_the_wrong_shape_is_an_error() {
    let tier = new_tier(upper(4, Axis::Time, false), 1);
    let dev = &Device::Cpu;
    let x = Tensor::zeros((1, 3, 4), DType::F32, dev).unwrap();
    assert!(
        tier.forward(&x, &melnet::Context::default()).is_err(),
        "an upper tier needs conditioning"
    );
    for (t, f) in [(5, 4), (2, 4), (3, 5), (4, 3)] {
        let c = Tensor::zeros((1, t, f), DType::F32, dev).unwrap();
        assert!(
            tier.forward(&x, &melnet::Context::coarse(Some(c.clone())))
                .is_err(),
            "coarse {t} × {f}"
        );
    }
    for t in [3, 4] {
        let c = Tensor::zeros((1, t, 4), DType::F32, dev).unwrap();
        assert!(
            tier.forward(&x, &melnet::Context::coarse(Some(c.clone())))
                .is_ok(),
            "{t} coarse frames"
        );
    }
    let c = Tensor::zeros((1, 4, 4), DType::F32, dev).unwrap();
    let unconditional = new_tier(TierConfig::small(4), 1);
    assert!(unconditional
        .forward(&x, &melnet::Context::coarse(Some(c.clone())))
        .is_err());
}

#[test]
fn teacher_forced_sampler_equals_the_forward_pass_on_every_tier() {
    // 3 tiers of 25 frames × 32 mels: tier 3 splits time (odd), tier 2 frequency.
    let full = Grid {
        frames: 25,
        bins: 32,
    };
    let x = real_spectrogram(full.frames);
    let shapes = tier_shapes(full, 3);
    let parts = split_tiers(&x, 1, full, 3);
    let dev = &Device::Cpu;
    for (shape, part) in shapes.iter().zip(&parts) {
        let g = shape.grid;
        let config = TierConfig {
            layers: 2,
            width: 12,
            n_mixtures: 4,
            centralized: shape.tier == 1,
            conditioning: shape
                .conditioning
                .map(|(axis, _)| FeatureConfig { axis, layers: 1 }),
            ..TierConfig::small(g.bins)
        };
        let tier = new_tier(config, 20 + shape.tier as u64);
        let xt = Tensor::from_vec(part.x.clone(), (1, g.frames, g.bins), dev).unwrap();
        let coarse = shape.conditioning.map(|(_, cg)| {
            Tensor::from_vec(
                part.conditioning.clone().unwrap(),
                (1, cg.frames, cg.bins),
                dev,
            )
            .unwrap()
        });
        let gmm = tier.forward(&xt, &melnet::Context::coarse(coarse)).unwrap();
        let mut sampler = Sampler::new(&tier, 1).unwrap();
        if let Some((_, cg)) = shape.conditioning {
            // Without conditioning an upper tier refuses to step.
            assert!(sampler.teacher_force(&part.x, g.frames).is_err());
            sampler.reset();
            sampler
                .condition(part.conditioning.as_ref().unwrap(), cg, g.frames)
                .unwrap();
        }
        let raw = sampler.teacher_force(&part.x, g.frames).unwrap();
        let worst = worst_difference(&raw, &gmm);
        assert!(
            worst < 2e-5,
            "tier {} ({:?}): worst relative difference {worst}",
            shape.tier,
            shape.conditioning
        );
    }
}
