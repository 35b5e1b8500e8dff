//! A tier learns: on one fixed window the loss falls well below its start, with RMSProp (the
//! paper's optimiser) and with Adam. Checkpoints resume exactly; bad ones are errors.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use melnet::train::optim::{AdamConfig, Optim, OptimizerConfig, RmsPropConfig};
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
    // Seeded: candle's own initialisation draws from an unseeded generator.
    melnet::init::init(&varmap, 3).unwrap();
    let mut opt = make(varmap.all_vars());
    let x = window(16, 8);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..steps {
        let loss = tier
            .nll_elements(&x, &melnet::Context::default())
            .unwrap()
            .mean_all()
            .unwrap();
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
            Optim::new(
                vars,
                OptimizerConfig::RmsProp(RmsPropConfig {
                    lr: 1e-3,
                    ..RmsPropConfig::default()
                }),
            )
            .unwrap()
        },
        200,
    );
    assert!(end < start - 1.0, "RMSProp: {start} → {end} nats/element");
    let (start, end) = train(
        // At 1e-3 Adam overfits the one window until a collapsing scale makes the loss spike:
        // which step that happens at depends on the last bits of the sums.
        |vars| {
            Optim::new(
                vars,
                OptimizerConfig::Adam(AdamConfig {
                    lr: 3e-4,
                    ..AdamConfig::default()
                }),
            )
            .unwrap()
        },
        200,
    );
    assert!(end < start - 1.0, "Adam: {start} → {end} nats/element");
}

mod resume {
    use candle_core::{Device, Tensor};
    use melnet::train::optim::{AdamConfig, OptimizerConfig, RmsPropConfig};
    use melnet::train::Trainer;
    use melnet::TierConfig;
    use rand::{Rng, SeedableRng};

    fn config() -> TierConfig {
        TierConfig {
            layers: 1,
            width: 8,
            n_mixtures: 2,
            ..TierConfig::small(6)
        }
    }

    /// The batch of step `s`: depends only on `s`.
    fn batch(s: u64) -> Tensor {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + s);
        let v: Vec<f32> = (0..2 * 5 * 6).map(|_| rng.gen_range(-1.0..1.0)).collect();
        Tensor::from_vec(v, (2, 5, 6), &Device::Cpu).unwrap()
    }

    /// The current checkpoint's file `name` in the tier directory `dir`.
    fn file(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
        melnet::checkpoint::current(dir).unwrap().join(name)
    }

    fn weights(dir: &std::path::Path) -> Vec<u8> {
        std::fs::read(file(dir, "weights.safetensors")).unwrap()
    }

    fn rmsprop() -> OptimizerConfig {
        OptimizerConfig::RmsProp(RmsPropConfig {
            lr: 1e-3,
            ..RmsPropConfig::default()
        })
    }

    #[test]
    fn n_steps_then_resume_equals_uninterrupted() {
        resume_equals_uninterrupted(rmsprop());
        // Adam's bias correction depends on the step count, which must resume too.
        resume_equals_uninterrupted(OptimizerConfig::Adam(AdamConfig::default()));
    }

    /// The steps `steps` of `t` on their batches, gradients clipped to norm 1.
    fn train_steps(t: &mut Trainer, steps: std::ops::Range<u64>) {
        for s in steps {
            t.step(
                &batch(s),
                None,
                &melnet::Context::default(),
                None,
                Some(1.0),
            )
            .unwrap();
        }
    }

    fn resume_equals_uninterrupted(opt: OptimizerConfig) {
        let whole = tempfile::tempdir().unwrap();
        let mut a = Trainer::new(config(), opt, 5, 2).unwrap();
        train_steps(&mut a, 0..7);
        a.save(whole.path()).unwrap();

        let split = tempfile::tempdir().unwrap();
        let mut b = Trainer::new(config(), opt, 5, 2).unwrap();
        train_steps(&mut b, 0..3);
        b.save(split.path()).unwrap();
        drop(b);
        let mut c = Trainer::load(split.path()).unwrap();
        assert_eq!(c.state().step, 3);
        train_steps(&mut c, 3..7);
        c.save(split.path()).unwrap();
        assert_eq!(weights(whole.path()), weights(split.path()));
        assert_eq!(
            std::fs::read(file(whole.path(), "optimizer.safetensors")).unwrap(),
            std::fs::read(file(split.path(), "optimizer.safetensors")).unwrap()
        );
    }

    /// Training on one thread and on two (the batch's halves side by side) gives the same
    /// weights, bit for bit.
    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let trained = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            pool.install(|| {
                let mut t = Trainer::new(config(), rmsprop(), 5, 2).unwrap();
                // Four steps: the two-thread trainer runs its halves side by side, one after
                // the other, side by side, then whichever was faster.
                train_steps(&mut t, 0..4);
                t.save(dir.path()).unwrap();
            });
            weights(dir.path())
        };
        assert_eq!(trained(1), trained(2));
    }

    #[test]
    fn same_seed_same_initial_weights() {
        let (d1, d2, d3) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let opt = rmsprop();
        Trainer::new(config(), opt, 1, 2)
            .unwrap()
            .save(d1.path())
            .unwrap();
        Trainer::new(config(), opt, 1, 2)
            .unwrap()
            .save(d2.path())
            .unwrap();
        Trainer::new(config(), opt, 2, 2)
            .unwrap()
            .save(d3.path())
            .unwrap();
        assert_eq!(weights(d1.path()), weights(d2.path()));
        assert_ne!(weights(d1.path()), weights(d3.path()));
    }

    #[test]
    fn corrupt_or_mismatched_checkpoints_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let t = Trainer::new(config(), rmsprop(), 0, 2).unwrap();
        t.save(dir.path()).unwrap();
        // Truncated weights.
        let w = file(dir.path(), "weights.safetensors");
        let bytes = std::fs::read(&w).unwrap();
        std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
        assert!(Trainer::load(dir.path()).is_err());
        // Weights of another configuration.
        let other = Trainer::new(
            TierConfig {
                width: 12,
                ..config()
            },
            rmsprop(),
            0,
            2,
        )
        .unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        other.save(dir2.path()).unwrap();
        std::fs::copy(
            file(dir.path(), "config.json"),
            file(dir2.path(), "config.json"),
        )
        .unwrap();
        let err = Trainer::load(dir2.path())
            .err()
            .expect("mismatch must fail");
        assert!(err.to_string().contains("shape"), "{err}");
        // Missing directory.
        assert!(Trainer::load(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn divergence_is_an_error_and_keeps_the_last_good_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let opt = OptimizerConfig::RmsProp(RmsPropConfig {
            lr: 1e30,
            ..RmsPropConfig::default()
        });
        let mut t = Trainer::new(config(), opt, 0, 2).unwrap();
        t.save(dir.path()).unwrap();
        let good = weights(dir.path());
        let mut failure = None;
        for s in 0..5 {
            match t.step(&batch(s), None, &melnet::Context::default(), None, None) {
                Ok(_) => {
                    if let Err(e) = t.save(dir.path()) {
                        failure = Some(e);
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let err = failure.expect("a learning rate of 1e30 must diverge");
        assert!(err.to_string().contains("non-finite"), "{err}");
        // What was saved last loads, and holds finite weights (saving refuses others).
        let back = Trainer::load(dir.path()).unwrap();
        back.save(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(back.state().step < 5);
        if back.state().step == 0 {
            assert_eq!(weights(dir.path()), good);
        }
    }
}

#[test]
fn a_masked_loss_leaves_the_padding_out() {
    // The loss over a mask is the mean NLL of the masked elements only: padding values change
    // nothing, and steps see the same number.
    let config = TierConfig {
        layers: 1,
        width: 8,
        ..TierConfig::small(8)
    };
    let adam = OptimizerConfig::Adam(AdamConfig::default());
    let trainer = melnet::train::Trainer::new(config, adam, 1, 1).unwrap();
    let context = melnet::Context::default();
    let x = window(12, 8);
    let mask: Vec<f32> = (0..12 * 8)
        .map(|i| f32::from(u8::from(i / 8 < 5)))
        .collect();
    let mask = Tensor::from_vec(mask, (1, 12, 8), &Device::Cpu).unwrap();
    let nll = trainer.tier().nll_elements(&x, &context).unwrap();
    let data_only: f32 = nll
        .narrow(1, 0, 5)
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    let masked = trainer.loss(&x, &context, Some(&mask)).unwrap();
    assert!((masked - data_only).abs() < 1e-5, "{masked} vs {data_only}");
    // Other values after frame 5 (causal: they cannot reach frames 0–4) leave it unchanged.
    let noisy = (x.clone() + (mask.affine(-1.0, 1.0).unwrap() * 3.0).unwrap()).unwrap();
    let again = trainer.loss(&noisy, &context, Some(&mask)).unwrap();
    assert!((again - masked).abs() < 1e-5);
    assert!((trainer.loss(&noisy, &context, None).unwrap() - masked).abs() > 1e-3);
}

#[test]
fn noised_inputs_are_reproducible_and_as_noisy_as_asked() {
    use melnet::train::fit::noised;
    use rand::SeedableRng;
    let x = window(64, 32);
    let draw = |seed| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        noised(&x, 0.5, &mut rng).unwrap()
    };
    let (a, b, c) = (draw(1), draw(1), draw(2));
    let diff = |p: &Tensor, q: &Tensor| {
        (p - q)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(
        diff(&a, &b),
        vec![0.0; a.elem_count()],
        "same stream, same noise"
    );
    let noise = diff(&a, &x);
    let n = noise.len() as f32;
    let mean = noise.iter().sum::<f32>() / n;
    let std = (noise.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    assert!(
        mean.abs() < 0.03 && (std - 0.5).abs() < 0.03,
        "mean {mean}, std {std}"
    );
    assert!(
        diff(&a, &c).iter().any(|&v| v != 0.0),
        "another stream, other noise"
    );
    // A step on noised inputs scores the clean values given the noisy ones: another loss.
    let config = TierConfig {
        layers: 1,
        width: 8,
        n_mixtures: 2,
        ..TierConfig::small(32)
    };
    let adam = OptimizerConfig::Adam(AdamConfig::default());
    let mut t = melnet::train::Trainer::new(config, adam, 0, 1).unwrap();
    let clean = t.loss(&x, &melnet::Context::default(), None).unwrap();
    let noisy = t
        .step(&x, Some(&a), &melnet::Context::default(), None, None)
        .unwrap();
    assert!((clean - noisy).abs() > 1e-4, "clean {clean}, noisy {noisy}");
}
