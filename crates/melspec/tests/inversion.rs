//! Mel inversion and phase retrieval on a real speech clip (16 kHz, n_fft 1024, hop 256).

use std::path::PathBuf;

use melspec::inverse::{mel_to_audio, mel_to_power, InversionOptions, MelInverse, NnlsOptions};
use melspec::metrics::spectral_convergence_db;
use melspec::phase::gla::GriffinLim;
use melspec::phase::lws::LwsOptions;
use melspec::phase::{reconstruct, PhaseMethod, PhaseOptions};
use melspec::refine::{refine, Compression, RefineOptions};
use melspec::{AnalysisParams, MelBasis, MelSpectrogram, Preset, Stft};
use ndarray::Array2;
use rand::{Rng, SeedableRng};

/// `data/speech/numbers.wav`: CMU Sphinx test utterance, 16 kHz.
fn clip() -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/numbers.wav");
    melspec::audio::load(&path).unwrap().samples
}

/// The benchmark geometry: 16 kHz, n_fft 1024, hop 256, 80 mels up to 8 kHz.
fn params() -> AnalysisParams {
    AnalysisParams {
        sr: 16000,
        ..Preset::by_name("speech").unwrap().params
    }
}

fn magnitude(y: &[f32]) -> Array2<f32> {
    Stft::new(params().stft)
        .unwrap()
        .process(y)
        .unwrap()
        .mapv(|c| c.norm())
}

fn mel(y: &[f32]) -> (MelBasis, Array2<f32>) {
    let p = params();
    let plan = MelSpectrogram::new(p.stft, p.mel(), 2.0).unwrap();
    let mel = plan.process(y).unwrap();
    (plan.basis().clone(), mel)
}

fn sc_of(y: &[f32], target: &Array2<f32>) -> f32 {
    spectral_convergence_db(target.view(), magnitude(y).view()).unwrap()
}

fn nnls(basis: &MelBasis, m: &Array2<f32>) -> Array2<f32> {
    mel_to_power(basis, m.view(), MelInverse::Nnls, NnlsOptions::default()).unwrap()
}

/// ‖W·P − M‖ / ‖M‖.
fn mel_error(basis: &MelBasis, p: &Array2<f32>, m: &Array2<f32>) -> f64 {
    let w = basis.to_dense().mapv(f64::from);
    let fit = w.dot(&p.mapv(f64::from));
    let diff = (&fit - &m.mapv(f64::from)).mapv(|v| v * v).sum().sqrt();
    diff / m.mapv(|v| f64::from(v).powi(2)).sum().sqrt()
}

#[test]
fn nnls_satisfies_optimality_conditions() {
    let (basis, m) = mel(&clip());
    let p = nnls(&basis, &m);
    assert!(p.iter().all(|v| *v >= 0.0));
    // KKT: the gradient Wᵀ(W·P − M) vanishes where P > 0 and is ≥ 0 where P = 0.
    let w = basis.to_dense().mapv(f64::from);
    let residual = w.dot(&p.mapv(f64::from)) - m.mapv(f64::from);
    let grad = w.t().dot(&residual);
    let wtm = w.t().dot(&m.mapv(f64::from));
    let mut checked = 0;
    for t in 0..p.ncols() {
        let scale = wtm.column(t).mapv(|v| v * v).sum().sqrt();
        if scale == 0.0 {
            continue;
        }
        let kkt: f64 = p
            .column(t)
            .iter()
            .zip(grad.column(t))
            .map(|(x, g)| if *x > 0.0 { g * g } else { g.min(0.0).powi(2) })
            .sum::<f64>()
            .sqrt();
        assert!(
            kkt <= 1e-3 * scale,
            "frame {t}: KKT residual {kkt:e} vs {scale:e}"
        );
        checked += 1;
    }
    assert!(checked > 100);
}

#[test]
fn nnls_fits_the_mel_spectrogram_better_than_the_clipped_pinv() {
    let (basis, m) = mel(&clip());
    let pinv = mel_to_power(&basis, m.view(), MelInverse::Pinv, NnlsOptions::default()).unwrap();
    let e_pinv = mel_error(&basis, &pinv, &m);
    let e_nnls = mel_error(&basis, &nnls(&basis, &m), &m);
    assert!(e_nnls < 0.5 * e_pinv, "nnls {e_nnls} vs pinv {e_pinv}");
}

#[test]
fn nnls_is_scale_invariant() {
    let (basis, m) = mel(&clip());
    let p1 = nnls(&basis, &m);
    let p2 = nnls(&basis, &m.mapv(|v| v * 1000.0)).mapv(|v| v / 1000.0);
    // Both runs stop at the same relative accuracy; they can differ by about one solver step
    // (float rounding decides on which iteration the rule fires), far below what an absolute
    // tolerance would give (the ×1000 run would stop at a different accuracy altogether).
    let peak = p1.iter().fold(0.0f32, |a, b| a.max(*b));
    let err = (&p1 - &p2).iter().fold(0.0f32, |a, b| a.max(b.abs()));
    assert!(err <= 1e-3 * peak, "max difference {err:e}, peak {peak:e}");
    let rms = |a: &Array2<f32>| a.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
    let rel = rms(&(&p1 - &p2)) / rms(&p1);
    assert!(rel <= 1e-4, "relative difference {rel:e}");
}

#[test]
fn griffin_lim_decreases_inconsistency() {
    let y = clip();
    let a = magnitude(&y[..16000]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let random = a.mapv(|_| rng.gen_range(-std::f32::consts::PI..std::f32::consts::PI));
    let zero = Array2::zeros(a.dim());
    for (momentum, steps, phase) in [(0.0, 12, &random), (0.99, 5, &random), (0.0, 12, &zero)] {
        let mut gla =
            GriffinLim::new(a.view(), phase.view(), &params().stft, momentum, None).unwrap();
        let mut previous = gla.inconsistency();
        for i in 0..steps {
            gla.step();
            let now = gla.inconsistency();
            assert!(
                now <= previous * (1.0 + 1e-5),
                "momentum {momentum}, step {i}: {now} after {previous}"
            );
            previous = now;
        }
    }
}

fn oracle(method: PhaseMethod) -> f32 {
    let y = clip();
    let a = magnitude(&y);
    let opts = PhaseOptions {
        method,
        n_iter: 32,
        ..PhaseOptions::default()
    };
    let out = reconstruct(
        a.view(),
        &params().stft,
        &opts,
        None,
        Some(y.len()),
        &mut |_, _| {},
    )
    .unwrap();
    sc_of(&out, &a)
}

#[test]
fn pghi_alone_reaches_minus_18_db() {
    let sc = oracle(PhaseMethod::Pghi);
    assert!(sc <= -18.0, "PGHI: {sc} dB");
}

#[test]
fn pghi_then_fgla_reaches_minus_24_db() {
    let sc = oracle(PhaseMethod::PghiFgla);
    assert!(sc <= -24.0, "PGHI+FGLA: {sc} dB");
}

#[test]
fn lws_alone_reaches_minus_27_db() {
    let sc = oracle(PhaseMethod::Lws);
    assert!(sc <= -27.0, "LWS: {sc} dB");
}

#[test]
fn lws_then_fgla_reaches_minus_29_db() {
    let sc = oracle(PhaseMethod::LwsFgla);
    assert!(sc <= -29.0, "LWS+FGLA: {sc} dB");
}

#[test]
fn lws_no_future_pass_improves_on_zero_phase() {
    let y = clip();
    let a = magnitude(&y);
    let run = |no_future| {
        let opts = PhaseOptions {
            method: PhaseMethod::Lws,
            lws: LwsOptions {
                n_iter: 0,
                no_future,
                ..LwsOptions::default()
            },
            ..PhaseOptions::default()
        };
        let out = reconstruct(
            a.view(),
            &params().stft,
            &opts,
            None,
            Some(y.len()),
            &mut |_, _| {},
        );
        sc_of(&out.unwrap(), &a)
    };
    let (zero, no_future) = (run(false), run(true));
    eprintln!("zero {zero} no_future {no_future}");
    assert!(
        no_future < zero - 3.0,
        "zero phase {zero} dB, no-future pass {no_future} dB"
    );
}

#[test]
fn mel_to_audio_reaches_minus_11_db_and_is_deterministic() {
    let y = clip();
    let (_, m) = mel(&y);
    let opts = InversionOptions::default();
    let run = || mel_to_audio(m.view(), &params(), &opts, Some(y.len()), &mut |_, _| {}).unwrap();
    let out = run();
    assert_eq!(out.len(), y.len());
    let sc = sc_of(&out, &magnitude(&y));
    assert!(sc <= -11.0, "mel → audio: {sc} dB");
    assert_eq!(out, run(), "same seed, same output");
}

/// ‖mel(y) − M‖ / ‖M‖.
fn mel_relative_error(y: &[f32], m: &Array2<f32>) -> f32 {
    let (_, got) = mel(y);
    melspec::metrics::relative_error(m.view(), got.view()).unwrap()
}

#[test]
fn refinement_lowers_the_mel_error_at_every_step() {
    let y = clip();
    let (_, m) = mel(&y);
    let p = params();
    let no_refine = InversionOptions {
        refine: RefineOptions {
            n_iter: 0,
            ..RefineOptions::default()
        },
        ..InversionOptions::default()
    };
    let start = mel_to_audio(m.view(), &p, &no_refine, Some(y.len()), &mut |_, _| {}).unwrap();
    let plan = MelSpectrogram::new(p.stft, p.mel(), p.power).unwrap();
    for compression in [Compression::Power(0.5), Compression::Log] {
        let mut x = start.clone();
        let opts = RefineOptions {
            n_iter: 30,
            compression,
        };
        let mut steps = 0;
        let values = refine(&plan, m.view(), &mut x, &opts, &mut |done, total| {
            assert_eq!((done, total), (steps + 1, 30));
            steps = done;
        })
        .unwrap();
        assert_eq!(
            values.len(),
            31,
            "{compression:?}: stopped early: {values:?}"
        );
        assert!(
            values.windows(2).all(|w| w[1] < w[0]),
            "{compression:?}: {values:?}"
        );
        assert!(
            values[30] < 0.5 * values[0],
            "{compression:?}: {} → {}",
            values[0],
            values[30]
        );
        if compression == Compression::Power(0.5) {
            let (before, after) = (mel_relative_error(&start, &m), mel_relative_error(&x, &m));
            assert!(after < 0.5 * before, "mel error {before} → {after}");
        }
    }
}

#[test]
fn refinement_in_mel_to_audio_keeps_the_requested_length() {
    let y = clip();
    let (_, m) = mel(&y);
    // 300 samples short of the analysed length: a different frame count, so the refinement runs
    // at the natural length and trims.
    let length = y.len() - 300;
    let run = |iterations| {
        let opts = InversionOptions {
            refine: RefineOptions {
                n_iter: iterations,
                ..RefineOptions::default()
            },
            ..InversionOptions::default()
        };
        mel_to_audio(m.view(), &params(), &opts, Some(length), &mut |_, _| {}).unwrap()
    };
    let (plain, refined) = (run(0), run(10));
    assert_eq!(refined.len(), length);
    let mut full = y.clone();
    full.truncate(length);
    let (_, m_short) = mel(&full);
    let (before, after) = (
        mel_relative_error(&plain, &m_short),
        mel_relative_error(&refined, &m_short),
    );
    assert!(after < before, "mel error {before} → {after}");
}

#[test]
fn warm_start_is_not_reapplied() {
    // Starting GLA from the true phase must keep the signal (librosa re-adds the initial phase
    // every iteration, which destroys it).
    let y = clip();
    let p = params().stft;
    let spec = Stft::new(p).unwrap().process(&y[..16000]).unwrap();
    let (a, phase) = (spec.mapv(|c| c.norm()), spec.mapv(|c| c.arg()));
    let opts = PhaseOptions {
        method: PhaseMethod::Fgla,
        n_iter: 10,
        ..PhaseOptions::default()
    };
    let out = reconstruct(
        a.view(),
        &p,
        &opts,
        Some(phase.view()),
        Some(16000),
        &mut |_, _| {},
    )
    .unwrap();
    let snr = melspec::metrics::snr_db(&y[..16000], &out);
    assert!(snr > 40.0, "warm-started FGLA drifted: SNR {snr} dB");
}

#[test]
fn bad_spectrograms_are_rejected() {
    let basis = MelBasis::new(params().mel()).unwrap();
    let opts = NnlsOptions::default();
    let mut m = Array2::from_elem((80, 4), 1.0f32);
    m[[3, 2]] = f32::NAN;
    assert!(mel_to_power(&basis, m.view(), MelInverse::Nnls, opts).is_err());
    m[[3, 2]] = -1.0;
    assert!(mel_to_power(&basis, m.view(), MelInverse::Nnls, opts).is_err());
    let wrong = Array2::from_elem((70, 4), 1.0f32);
    assert!(mel_to_power(&basis, wrong.view(), MelInverse::Nnls, opts).is_err());
    let empty = Array2::<f32>::zeros((80, 0));
    assert!(mel_to_power(&basis, empty.view(), MelInverse::Nnls, opts).is_err());
    let mag = Array2::from_elem((100, 4), 1.0f32);
    let p = params().stft;
    assert!(reconstruct(
        mag.view(),
        &p,
        &PhaseOptions::default(),
        None,
        None,
        &mut |_, _| {}
    )
    .is_err());
}
