//! The incremental sampler against the training forward pass: teacher-forcing a real
//! spectrogram through the sampler's stepping code must give the same mixture parameters at
//! every element, with and without the centralized stack. And sampling itself: seeded,
//! batched, primed.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use melnet::{Context, SampleOptions, Sampler, Text, TextConfig, Tier, TierConfig};
use rand::SeedableRng;

mod support;
use support::{real_spectrogram, worst_difference};

/// A tier initialised from `seed`, with its weights by name.
fn tier(config: TierConfig, seed: u64) -> (Tier, HashMap<String, Tensor>) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let tier = Tier::new(config, vb).unwrap();
    melnet::init::init(&varmap, seed).unwrap();
    let tensors = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    (tier, tensors)
}

fn config(centralized: bool) -> TierConfig {
    TierConfig {
        layers: 3,
        width: 16,
        n_mixtures: 4,
        centralized,
        ..TierConfig::small(32)
    }
}

#[test]
fn teacher_forced_sampler_equals_the_training_forward_pass() {
    // With and without the centralized stack; and a wide tier, whose frequency LSTMs run
    // side by side on two threads, and whose one-row LSTM steps compute their gates in two
    // halves side by side.
    let wide = TierConfig {
        layers: 1,
        width: 256,
        ..config(true)
    };
    for (config, frames) in [(config(true), 24), (config(false), 24), (wide, 5)] {
        let x = real_spectrogram(frames);
        let centralized = (config.centralized, config.width);
        let f = config.n_mels;
        let (tier, _) = tier(config.clone(), 11);
        let gmm = tier
            .forward(
                &Tensor::from_vec(x.clone(), (1, frames, f), &Device::Cpu).unwrap(),
                &Context::default(),
            )
            .unwrap();
        let mut sampler = Sampler::new(&tier, 1).unwrap();
        let raw = sampler.teacher_force(&x, frames).unwrap();
        let worst = worst_difference(&raw, &gmm);
        assert!(
            worst < 2e-5,
            "(centralized, width) {centralized:?}: worst relative difference {worst}"
        );
    }
}

#[test]
fn conditioned_sampler_equals_the_training_forward_pass() {
    // Labels and text (two spectrograms side by side with texts of different lengths, so the
    // shorter one is padded in training), the attention after layer 1 of 3.
    let frames = 20;
    let config = TierConfig {
        labels: 3,
        text: Some(TextConfig {
            alphabet: 6,
            width: 8,
            mixtures: 2,
        }),
        ..config(true)
    };
    let f = config.n_mels;
    let (tier, _) = tier(config, 12);
    let one = real_spectrogram(frames);
    let x: Vec<f32> = one.iter().chain(one.iter().rev()).copied().collect();
    let classes = [2u32, 0];
    let texts = [vec![1u32, 4, 5, 0, 2, 3, 3], vec![5, 1]];
    let text = Text::new(&texts).unwrap();
    let context = Context {
        labels: Some(Tensor::from_slice(&classes, 2, &Device::Cpu).unwrap()),
        text: Some(text.clone()),
        ..Context::default()
    };
    let xt = Tensor::from_vec(x.clone(), (2, frames, f), &Device::Cpu).unwrap();
    let (gmm, alignment) = tier.forward_aligned(&xt, &context).unwrap();
    let mut sampler = Sampler::new(&tier, 2).unwrap();
    // Without its labels and text the tier refuses to step.
    assert!(sampler.teacher_force(&x, frames).is_err());
    sampler.reset();
    sampler.set_labels(&classes).unwrap();
    sampler.set_text(&text).unwrap();
    let raw = sampler.teacher_force(&x, frames).unwrap();
    let worst = worst_difference(&raw, &gmm);
    assert!(worst < 2e-5, "worst relative difference {worst}");
    // The alignments agree too: training's [2, frames, 7], the sampler's [frames, 2, 7].
    let trained = alignment.unwrap().to_vec3::<f32>().unwrap();
    let (stepped, chars) = sampler.alignment();
    assert_eq!(chars, 7);
    for (t, frame) in stepped.chunks_exact(2 * chars).enumerate() {
        for (s, row) in frame.chunks_exact(chars).enumerate() {
            for (u, &v) in row.iter().enumerate() {
                assert!((v - trained[s][t][u]).abs() < 1e-5, "({s}, {t}, {u})");
                // Nothing on the second text's padding.
                if s == 1 && u >= 2 {
                    assert_eq!(v, 0.0);
                }
            }
        }
    }
    // The labels matter: another class changes the parameters.
    let other = Context {
        labels: Some(Tensor::from_slice(&[1u32, 0], 2, &Device::Cpu).unwrap()),
        ..context.clone()
    };
    let changed = tier.forward(&xt, &other).unwrap();
    assert!(worst_difference(&raw, &changed) > 1e-3);
    // Out-of-range classes and unknown character ids are errors, as are missing ones.
    assert!(sampler.set_labels(&[3, 0]).is_err());
    assert!(sampler
        .set_text(&Text::new(&[vec![6], vec![0]]).unwrap())
        .is_err());
    assert!(tier
        .forward(
            &xt,
            &Context {
                text: None,
                ..context
            }
        )
        .is_err());
}

#[test]
fn priming_continues_the_teacher_forced_state() {
    // Teacher-forcing a spectrogram in two parts gives the same parameters as in one.
    let frames = 10;
    let x = real_spectrogram(frames);
    let config = config(true);
    let (tier, _) = tier(config, 5);
    let mut whole = Sampler::new(&tier, 1).unwrap();
    let all = whole.teacher_force(&x, frames).unwrap();
    let mut parts = Sampler::new(&tier, 1).unwrap();
    let split = 4 * 32;
    let mut joined = parts.teacher_force(&x[..split], 4).unwrap();
    joined.extend(parts.teacher_force(&x[split..], frames - 4).unwrap());
    assert_eq!(all, joined);
    assert_eq!(parts.frames(), frames);
}

#[test]
fn sampling_is_seeded_batched_and_biased() {
    let config = config(true);
    let (tier, _) = tier(config, 7);
    let run = |count: usize, seed: u64, bias: f32| {
        let mut s = Sampler::new(&tier, count).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        s.generate(
            6,
            SampleOptions {
                bias,
                ..SampleOptions::default()
            },
            &mut rng,
            |_| {},
        )
        .unwrap()
    };
    let a = run(2, 1, 0.0);
    assert_eq!(a.len(), 2 * 6 * 32);
    assert!(a.iter().all(|v| v.is_finite()));
    assert_eq!(a, run(2, 1, 0.0), "same seed, same samples");
    assert_ne!(a, run(2, 2, 0.0), "another seed, other samples");
    assert_ne!(a[..6 * 32], a[6 * 32..], "the samples of a batch differ");
    // A strong bias concentrates the draws: smaller frame-to-frame spread than unbiased.
    let spread = |v: &[f32]| {
        let m = v.iter().sum::<f32>() / v.len() as f32;
        v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32
    };
    let biased = run(2, 1, 3.0);
    assert!(
        spread(&biased) < spread(&a),
        "{} vs {}",
        spread(&biased),
        spread(&a)
    );
}

#[test]
fn wrong_weights_or_shapes_are_errors() {
    let config = config(true);
    let (t, mut tensors) = tier(config.clone(), 1);
    let mut s = Sampler::new(&t, 1).unwrap();
    assert!(s.teacher_force(&[0.0; 31], 1).is_err());
    let other = TierConfig {
        width: 8,
        ..config.clone()
    };
    let err = Tier::from_tensors(other, tensors.clone()).unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
    // A tensor of the wrong rank.
    tensors.insert(
        "head.bias".into(),
        Tensor::zeros((2, 6), DType::F32, &Device::Cpu).unwrap(),
    );
    assert!(Tier::from_tensors(config.clone(), tensors.clone()).is_err());
    tensors.remove("head.bias");
    assert!(Tier::from_tensors(config, tensors).is_err());
}

#[test]
fn draws_below_the_floor_are_the_floor() {
    // A floor per bin in the middle of the initial mixtures' mass: many draws fall below it.
    let floor: Vec<f32> = (0..32).map(|b| -0.2 + 0.01 * b as f32).collect();
    let config = TierConfig {
        floor: Some(floor.clone()),
        ..config(true)
    };
    let (tier, _) = tier(config, 7);
    let mut s = Sampler::new(&tier, 2).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let x = s
        .generate(6, SampleOptions::default(), &mut rng, |_| {})
        .unwrap();
    let at_floor = x
        .iter()
        .enumerate()
        .filter(|(i, &v)| {
            assert!(v >= floor[i % 32], "element {i}: {v} below the floor");
            v == floor[i % 32]
        })
        .count();
    assert!(
        at_floor > x.len() / 10 && at_floor < x.len(),
        "{at_floor} of {} at the floor",
        x.len()
    );
}
