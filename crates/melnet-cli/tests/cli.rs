//! The `melnet` binary end to end: outputs, and one-line errors with nothing written on bad
//! input.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;

mod common;
use common::*;

#[test]
fn mel_writes_array_sidecar_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.npy");
    let png = dir.path().join("m.png");
    let run = melnet(&[
        "mel",
        speech().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--preset",
        "speech",
        "--db",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mel = Array2::<f32>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    let sidecar = melspec::Sidecar::read(&dir.path().join("m.json")).unwrap();
    assert_eq!(mel.nrows(), 80);
    assert_eq!(sidecar.shape, [mel.nrows(), mel.ncols()]);
    assert_eq!(sidecar.params.sr, 22050);
    let source = sidecar.source.unwrap();
    assert_eq!(source.sr, 16000);
    // 16 kHz → 22.05 kHz, centred frames.
    assert_eq!(mel.ncols(), 1 + source.analysed_samples / 256);
    // dB with ref = max and top_db = 80: maximum 0, nothing below −80.
    let max = mel.iter().fold(f32::MIN, |a, &b| a.max(b));
    let min = mel.iter().fold(f32::MAX, |a, &b| a.min(b));
    assert_eq!(max, 0.0);
    assert!(min >= -80.0);
    let png_bytes = std::fs::read(&png).unwrap();
    assert_eq!(&png_bytes[1..4], b"PNG");
    assert_eq!(files_in(dir.path()), ["m.json", "m.npy", "m.png"]);
}

#[test]
fn mel_matches_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.npy");
    let run = melnet(&[
        "mel",
        speech().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--sr",
        "16000",
        "--n-fft",
        "512",
        "--hop",
        "160",
        "--win",
        "400",
        "--n-mels",
        "40",
        "--fmin",
        "20",
        "--htk",
        "--pad-mode",
        "reflect",
        "--power",
        "1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours = Array2::<f32>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    let p = melspec::Sidecar::read(&dir.path().join("m.json"))
        .unwrap()
        .params;
    assert_eq!(
        (p.stft.n_fft, p.stft.hop_length, p.stft.win_length, p.n_mels),
        (512, 160, 400, 40)
    );
    assert!(p.htk && p.power == 1.0 && p.stft.pad_mode == melspec::PadMode::Reflect);
    let audio = melspec::audio::load(&speech()).unwrap();
    let expect = melspec::MelSpectrogram::new(p.stft, p.mel(), 1.0)
        .unwrap()
        .process(&audio.samples)
        .unwrap();
    assert_eq!(ours, expect);
}

#[test]
fn stft_writes_magnitude_and_phase() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.npy");
    let phase = dir.path().join("p.npy");
    let run = melnet(&[
        "stft",
        speech().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--phase",
        phase.to_str().unwrap(),
        "--sr",
        "16000",
        "--n-fft",
        "1024",
        "--hop",
        "256",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mag = Array2::<f32>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    let ph = Array2::<f32>::read_npy(std::fs::File::open(&phase).unwrap()).unwrap();
    assert_eq!(mag.dim(), ph.dim());
    assert_eq!(mag.nrows(), 513);
    assert!(ph.iter().all(|v| v.abs() <= std::f32::consts::PI + 1e-6));
    assert!(mag.iter().all(|v| *v >= 0.0));
}

#[test]
fn filterbank_and_presets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fb.npy");
    let run = melnet(&[
        "filterbank",
        "-o",
        out.to_str().unwrap(),
        "--preset",
        "melnet-small",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fb = Array2::<f32>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(fb.dim(), (32, 1025));
    // Too many mels for the FFT size: librosa warns; so do we, and still write the result.
    let run = melnet(&[
        "filterbank",
        "-o",
        out.to_str().unwrap(),
        "--n-fft",
        "256",
        "--n-mels",
        "256",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("warning: "), "{}", run.stderr);
    let presets = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .arg("presets")
        .output()
        .unwrap();
    let text = String::from_utf8(presets.stdout).unwrap();
    for name in ["librosa", "speech", "melnet-small", "melnet-paper"] {
        assert!(text.contains(name));
    }
}

#[test]
fn bad_input_fails_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.npy");
    let out = out.to_str().unwrap();
    let speech = speech();
    let speech = speech.to_str().unwrap();

    let not_audio = d.join("notes.wav");
    std::fs::write(&not_audio, "hello, not audio").unwrap();
    let bytes = std::fs::read(repo().join("data/speech/numbers.wav")).unwrap();
    let truncated = d.join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let empty = d.join("empty.wav");
    melspec::audio::write_wav(&empty, &[], 16000, melspec::audio::WavFormat::I16).unwrap();
    let short = d.join("short.wav");
    melspec::audio::write_wav(&short, &[0.1; 300], 22050, melspec::audio::WavFormat::F32).unwrap();
    let missing = d.join("missing.wav");

    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["mel".into(), s(&missing), "-o".into(), out.into()],
            "missing.wav",
        ),
        (
            vec!["mel".into(), s(&not_audio), "-o".into(), out.into()],
            "notes.wav",
        ),
        (
            vec!["mel".into(), s(&truncated), "-o".into(), out.into()],
            "truncated",
        ),
        (
            vec!["mel".into(), s(&empty), "-o".into(), out.into()],
            "no samples",
        ),
        (
            vec![
                "mel".into(),
                s(&short),
                "-o".into(),
                out.into(),
                "--no-center".into(),
            ],
            "shorter than n_fft",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                out.into(),
                "--hop".into(),
                "0".into(),
            ],
            "hop_length",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                out.into(),
                "--n-fft".into(),
                "512".into(),
                "--win".into(),
                "1024".into(),
            ],
            "win_length",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                out.into(),
                "--fmax".into(),
                "20000".into(),
            ],
            "fmax",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                out.into(),
                "--fmin".into(),
                "5000".into(),
                "--fmax".into(),
                "4000".into(),
            ],
            "fmin",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                s(&d.join("no/such/dir/out.npy")),
            ],
            "does not exist",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                out.into(),
                "--png".into(),
                s(&d.join("nodir/x.png")),
            ],
            "does not exist",
        ),
        (
            vec!["stft".into(), s(&missing), "-o".into(), out.into()],
            "missing.wav",
        ),
        (
            vec![
                "mel".into(),
                speech.into(),
                "-o".into(),
                out.into(),
                "--preset".into(),
                "nope".into(),
            ],
            "preset",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_fails_cleanly(&args, needle, d);
    }
}

#[test]
fn usage_errors_exit_2() {
    let run = melnet(&["mel"]);
    assert_eq!(run.code, 2);
    let run = melnet(&["mel", "x.wav", "-o", "y.npy", "--power", "3"]);
    assert_eq!(run.code, 2);
    let run = melnet(&[
        "invert",
        "m.npy",
        "-o",
        "y.wav",
        "--refine-compression",
        "2",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("exponent in (0, 1]"), "{}", run.stderr);
}

fn write_npy(path: &Path, a: &Array2<f32>) {
    use ndarray_npy::WriteNpyExt;
    a.write_npy(std::fs::File::create(path).unwrap()).unwrap();
}

/// Write `a` as a Fortran-order `.npy` (what `np.save(p, S.T)` writes for a C-order `S.T`).
fn write_fortran_npy(path: &Path, a: &Array2<f32>) {
    use ndarray_npy::WriteNpyExt;
    let fortran = a.t().as_standard_layout().into_owned().reversed_axes();
    assert!(fortran.t().is_standard_layout() && fortran.dim() == a.dim());
    let mut bytes = Vec::new();
    fortran.write_npy(&mut bytes).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'fortran_order': True"));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn invert_uses_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let mel = dir.path().join("m.npy");
    let wav = dir.path().join("out.wav");
    let run = melnet(&[
        "mel",
        speech().to_str().unwrap(),
        "-o",
        mel.to_str().unwrap(),
        "--preset",
        "speech",
        "--sr",
        "16000",
        "--db",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = melnet(&[
        "invert",
        mel.to_str().unwrap(),
        "-o",
        wav.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = melspec::audio::load(&wav).unwrap();
    let original = melspec::audio::load(&speech()).unwrap();
    assert_eq!(out.sr, 16000);
    assert_eq!(out.samples.len(), original.samples.len());
    // The dB sidecar was undone: the level is the original's, within a few dB.
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let ratio = rms(&out.samples) / rms(&original.samples);
    assert!((0.5..2.0).contains(&ratio), "level ratio {ratio}");
    // The same spectrogram in Fortran order inverts to the same audio.
    let values: Array2<f32> = ndarray_npy::read_npy(&mel).unwrap();
    write_fortran_npy(&mel, &values);
    let again = dir.path().join("again.wav");
    let run = melnet(&[
        "invert",
        mel.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(melspec::audio::load(&again).unwrap().samples, out.samples);
}

#[test]
fn roundtrip_writes_wav_report_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rt");
    let input = speech();
    let args = [
        "roundtrip",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--sr",
        "16000",
        "--n-fft",
        "1024",
        "--hop",
        "256",
        "--n-mels",
        "80",
        "--fmax",
        "8000",
        "-q",
    ];
    let run = melnet(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        files_in(&out),
        [
            "goforward.comparison.png",
            "goforward.reconstructed.wav",
            "goforward.report.json"
        ]
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("goforward.report.json")).unwrap())
            .unwrap();
    let sc = report["spectral_convergence_db"].as_f64().unwrap();
    assert!(sc < -8.0, "SC {sc}");
    assert!(report["timing_seconds"]["phase"].as_f64().unwrap() > 0.0);
    assert_eq!(report["refine"], 60);
    assert_eq!(report["refine_compression"], "0.5");
    assert!(report["timing_seconds"]["refine"].as_f64().unwrap() > 0.0);
    // The refinement (on by default) brings the output's mel spectrogram closer to the input's.
    let plain = dir.path().join("plain");
    let mut without = args.to_vec();
    without[3] = plain.to_str().unwrap();
    without.extend(["--refine-n-iter", "0"]);
    let run = melnet(&without);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let unrefined: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(plain.join("goforward.report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(unrefined["refine"], 0);
    let error = |r: &serde_json::Value| r["mel_relative_error"].as_f64().unwrap();
    assert!(
        error(&report) < 0.5 * error(&unrefined),
        "mel error {} without refinement, {} with",
        error(&unrefined),
        error(&report)
    );
}

#[test]
fn invert_retrieves_the_phase_with_lws() {
    let dir = tempfile::tempdir().unwrap();
    let mag = dir.path().join("s.npy");
    let wav = dir.path().join("out.wav");
    let run = melnet(&[
        "stft",
        speech().to_str().unwrap(),
        "-o",
        mag.to_str().unwrap(),
        "--sr",
        "16000",
        "--n-fft",
        "1024",
        "--hop",
        "256",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let target: Array2<f32> = ndarray_npy::read_npy(&mag).unwrap();
    let params = melspec::Sidecar::read(&dir.path().join("s.json"))
        .unwrap()
        .params;
    for (phase, bound) in [("lws", -25.0), ("lws+fgla", -27.0)] {
        let args = [
            "invert",
            mag.to_str().unwrap(),
            "--linear",
            "--phase",
            phase,
            "-o",
            wav.to_str().unwrap(),
            "-q",
        ];
        let run = melnet(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out = melspec::audio::load(&wav).unwrap().samples;
        let estimate = melspec::Stft::new(params.stft)
            .unwrap()
            .process(&out)
            .unwrap()
            .mapv(|c| c.norm());
        let sc = melspec::metrics::spectral_convergence_db(target.view(), estimate.view()).unwrap();
        assert!(sc < bound, "{phase}: spectral convergence {sc} dB");
    }
    let run = melnet(&[
        "invert",
        mag.to_str().unwrap(),
        "--linear",
        "--phase",
        "lsw",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("lws+fgla"), "{}", run.stderr);
}

#[test]
fn invert_many_files_in_parallel_skipping_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mels = dir.path().join("mels");
    std::fs::create_dir(&mels).unwrap();
    for name in ["goforward", "numbers", "something"] {
        let wav = repo().join(format!("data/speech/{name}.wav"));
        let out = mels.join(format!("{name}.npy"));
        let args = [
            "mel",
            wav.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--preset",
            "speech",
        ];
        let run = melnet(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let mut bad = Array2::from_elem((80, 10), 1.0f32);
    bad[[3, 3]] = f32::NAN;
    ndarray_npy::write_npy(mels.join("broken.npy"), &bad).unwrap();
    // A folder: the good files are written, the bad one is reported and skipped.
    let out = dir.path().join("wavs");
    let run = melnet(&[
        "invert",
        mels.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("broken.npy"), "{}", run.stderr);
    assert!(run.stderr.contains("1 of 4 files"), "{}", run.stderr);
    assert_eq!(
        files_in(&out),
        ["goforward.wav", "numbers.wav", "something.wav"]
    );
    let one = melspec::audio::load(&out.join("numbers.wav")).unwrap();
    let sidecar = melspec::Sidecar::read(&mels.join("numbers.json")).unwrap();
    let analysed = sidecar.source.unwrap().analysed_samples;
    assert_eq!(one.samples.len(), analysed);
    // Listed files into a new folder; the same as inverting each alone.
    let listed = dir.path().join("listed");
    let a = mels.join("numbers.npy");
    let b = mels.join("something.npy");
    let run = melnet(&[
        "invert",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        listed.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(files_in(&listed), ["numbers.wav", "something.wav"]);
    let alone = dir.path().join("alone.wav");
    let run = melnet(&["invert", a.to_str().unwrap(), "-o", alone.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read(&alone).unwrap(),
        std::fs::read(listed.join("numbers.wav")).unwrap()
    );
    // Two inputs that would write one file, and one-file options with several: refused.
    let copy = dir.path().join("numbers.npy");
    std::fs::copy(&a, &copy).unwrap();
    let run = melnet(&[
        "invert",
        a.to_str().unwrap(),
        copy.to_str().unwrap(),
        "-o",
        listed.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("would both be written"),
        "{}",
        run.stderr
    );
    let run = melnet(&[
        "invert",
        mels.to_str().unwrap(),
        "-o",
        listed.to_str().unwrap(),
        "--length",
        "100",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("one input file"), "{}", run.stderr);
}

#[test]
fn invert_rejects_bad_spectrograms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.wav");
    let out = out.to_str().unwrap();
    let mut nan = Array2::from_elem((128, 10), 1.0f32);
    nan[[5, 5]] = f32::NAN;
    let mut inf = Array2::from_elem((128, 10), 1.0f32);
    inf[[5, 5]] = f32::INFINITY;
    let mut negative = Array2::from_elem((128, 10), 1.0f32);
    negative[[5, 5]] = -3.0;
    let cases = [
        ("nan.npy", nan, "non-finite"),
        ("inf.npy", inf, "non-finite"),
        ("negative.npy", negative, "negative"),
        ("bins.npy", Array2::from_elem((70, 10), 1.0f32), "mel bands"),
        ("empty.npy", Array2::zeros((128, 0)), "empty"),
    ];
    for (name, array, _) in &cases {
        write_npy(&d.join(name), array);
    }
    for (name, _, needle) in &cases {
        let input = d.join(name);
        assert_fails_cleanly(&["invert", input.to_str().unwrap(), "-o", out], needle, d);
    }
    let linear = d.join("linear.npy");
    write_npy(&linear, &Array2::from_elem((100, 10), 1.0f32));
    assert_fails_cleanly(
        &["invert", linear.to_str().unwrap(), "--linear", "-o", out],
        "bins",
        d,
    );
    write_npy(&linear, &Array2::from_elem((1025, 10), 1.0f32));
    assert_fails_cleanly(
        &[
            "invert",
            linear.to_str().unwrap(),
            "--linear",
            "--refine",
            "5",
            "-o",
            out,
        ],
        "--refine-n-iter matches a mel spectrogram",
        d,
    );
    let not_npy = d.join("text.npy");
    std::fs::write(&not_npy, "not an array").unwrap();
    assert_fails_cleanly(
        &["invert", not_npy.to_str().unwrap(), "-o", out],
        "text.npy",
        d,
    );
}

#[test]
fn prepare_resumes_and_stats_draws() {
    let input = tempfile::tempdir().unwrap();
    copy_speech(input.path());
    let out = tempfile::tempdir().unwrap();
    let ds = out.path().join("ds");
    let (i, d) = (input.path().to_str().unwrap(), ds.to_str().unwrap());
    let args = [
        "prepare",
        i,
        "-o",
        d,
        "--preset",
        "melnet-small",
        "--db",
        "-q",
    ];
    let mut stopped = args.to_vec();
    stopped.extend(["--stop-after", "1"]);
    let run = melnet(&stopped);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr.contains("run the same command again"),
        "{}",
        run.stderr
    );
    assert!(!ds.join("manifest.json").exists());
    let run = melnet(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = melnet(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let png = out.path().join("stats.png");
    let stats = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args(["stats", d, "--png", png.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(stats.status.success());
    let text = String::from_utf8(stats.stdout).unwrap();
    assert!(
        text.contains("files     3 (2 train, 1 valid), 0 skipped"),
        "{text}"
    );
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
}

#[test]
fn prepare_and_stats_reject_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("ds");
    let out = out.to_str().unwrap();
    let missing = d.join("missing");
    assert_fails_cleanly(
        &["prepare", missing.to_str().unwrap(), "-o", out],
        "missing",
        d,
    );
    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("x.wav"), "not audio").unwrap();
    let run = melnet(&["prepare", bad.to_str().unwrap(), "-o", out, "-q"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no usable audio"), "{}", run.stderr);
    assert!(!d.join("ds/manifest.json").exists() && !d.join("ds/frames.npy").exists());
    let run = melnet(&["stats", bad.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

/// The current checkpoint directory of tier `g` of the model in `model`.
fn ckpt(model: &Path, g: usize) -> PathBuf {
    let tier = model.join(format!("tier-{g}"));
    let name = std::fs::read_to_string(tier.join("current")).unwrap();
    tier.join(name.trim())
}

#[test]
fn train_resume_and_eval() {
    let input = tempfile::tempdir().unwrap();
    copy_speech(input.path());
    let work = tempfile::tempdir().unwrap();
    let ds = work.path().join("ds");
    let run_dir = work.path().join("run");
    let (d, r) = (ds.to_str().unwrap(), run_dir.to_str().unwrap());
    let i = input.path().to_str().unwrap();
    assert_eq!(
        melnet(&[
            "prepare",
            i,
            "-o",
            d,
            "--preset",
            "melnet-small",
            "--db",
            "-q"
        ])
        .code,
        0
    );
    let train = |steps: &str, extra: &[&str]| {
        let mut a = vec!["train", "--data", d, "--out", r, "--steps", steps];
        a.extend_from_slice(&TINY);
        a.extend_from_slice(&["--valid-every", "1"]);
        a.extend_from_slice(extra);
        melnet(&a)
    };
    let run = train("0", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(ckpt(&run_dir, 1).join("weights.safetensors").exists());
    assert!(run_dir.join("model.json").exists());
    // A second fresh run into the same directory is refused.
    assert_eq!(train("2", &[]).code, 1);
    // A tier the model does not have.
    let run = train("3", &["--resume", "--tier", "2"]);
    assert_eq!(run.code, 1, "--tier 2");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("tiers 1 to 1"), "{}", run.stderr);
    // Not a tier number: a usage error.
    for bad in ["0", "x"] {
        let run = train("3", &["--resume", "--tier", bad]);
        assert_eq!(run.code, 2, "--tier {bad}");
        assert!(run.stderr.contains("a tier number"), "{}", run.stderr);
    }
    let run = train("3", &["--resume"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = std::fs::read_to_string(run_dir.join("tier-1/log.csv")).unwrap();
    // Header, the untrained validation (step 0), steps 1–3.
    assert_eq!(log.lines().count(), 5, "{log}");
    assert!(run_dir.join("tier-1/loss.png").exists());
    let eval = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args(["eval", "--run", r, "--data", d])
        .output()
        .unwrap();
    assert!(eval.status.success());
    let text = String::from_utf8(eval.stdout).unwrap();
    assert!(
        text.starts_with("tier 1: ") && text.contains("full resolution: "),
        "{text}"
    );
    // A corrupted checkpoint: one line, non-zero exit.
    let w = ckpt(&run_dir, 1).join("weights.safetensors");
    std::fs::write(&w, b"garbage").unwrap();
    let run = train("5", &["--resume"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

/// SIGKILL at any moment — in particular while a checkpoint is being written, with one
/// written at every step — leaves every tier either at its previous checkpoint or at the new
/// one, never a mix: resuming after repeated kills ends with the weights and optimiser state
/// of an uninterrupted run, bit for bit.
#[test]
fn train_killed_during_saves_resumes_to_the_uninterrupted_result() {
    let input = tempfile::tempdir().unwrap();
    for f in ["goforward.wav", "numbers.wav"] {
        std::fs::copy(repo().join("data/speech").join(f), input.path().join(f)).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let ds = work.path().join("ds");
    let d = ds.to_str().unwrap();
    let prep = melnet(&["prepare", input.path().to_str().unwrap(), "-o", d, "-q"]);
    assert_eq!(prep.code, 0, "{}", prep.stderr);
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--data",
            d,
            "--tiers",
            "2",
            "--layers",
            "1",
            "--width",
            "8",
            "--mixtures",
            "2",
            "--frames",
            "8",
            "--batch",
            "2",
            "--steps",
            "40",
            "--checkpoint-every",
            "1",
            "--valid-every",
            "1000",
            "--threads",
            "1",
            "-q",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    let whole = work.path().join("whole");
    let run = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args(args(&whole))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let killed = work.path().join("killed");
    let mut kills = 0;
    for attempt in 0..200u64 {
        let mut a = args(&killed);
        if killed.join("model.json").exists() {
            a.push("--resume".into());
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_melnet"))
            .args(&a)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Once the run has logged a step (it is in its cycle of steps and saves), kill it
        // after 0–9 ms: a step and a save take a few ms each.
        let logs = || -> Vec<Option<String>> {
            (1..=2)
                .map(|g| std::fs::read_to_string(killed.join(format!("tier-{g}/log.csv"))).ok())
                .collect()
        };
        let before = logs();
        while child.try_wait().unwrap().is_none() && logs() == before {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        std::thread::sleep(std::time::Duration::from_millis(attempt * 7 % 10));
        if kills < 16 && child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            // Whatever was killed, every tier with a checkpoint names a complete one.
            for g in 1..=2 {
                let tier = killed.join(format!("tier-{g}"));
                if tier.join("current").exists() {
                    let c = ckpt(&killed, g);
                    for f in [
                        "config.json",
                        "weights.safetensors",
                        "optimizer.safetensors",
                        "state.json",
                    ] {
                        assert!(c.join(f).is_file(), "{} lacks {f}", c.display());
                    }
                }
            }
            continue;
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "resume after {kills} kills: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        break;
    }
    assert!(kills >= 8, "only {kills} kills landed");
    for g in 1..=2 {
        let state = std::fs::read_to_string(ckpt(&killed, g).join("state.json")).unwrap();
        assert!(state.contains("\"step\": 40"), "{state}");
        for f in ["weights.safetensors", "optimizer.safetensors"] {
            assert!(
                std::fs::read(ckpt(&whole, g).join(f)).unwrap()
                    == std::fs::read(ckpt(&killed, g).join(f)).unwrap(),
                "tier {g} {f} differs from the uninterrupted run's"
            );
        }
    }
    // The log has one row per step, as the uninterrupted run's.
    for g in 1..=2 {
        let log = |m: &Path| std::fs::read_to_string(m.join(format!("tier-{g}/log.csv"))).unwrap();
        let rows = |t: String| -> Vec<String> {
            t.lines()
                .map(|l| l.split(',').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(rows(log(&whole)), rows(log(&killed)));
    }
}

#[test]
fn train_refuses_a_dataset_of_another_width() {
    let input = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("data/speech/numbers.wav"),
        input.path().join("a.wav"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("data/speech/goforward.wav"),
        input.path().join("b.wav"),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let (ds32, ds40) = (work.path().join("ds32"), work.path().join("ds40"));
    let run_dir = work.path().join("run");
    let i = input.path().to_str().unwrap();
    for (ds, mels) in [(&ds32, "32"), (&ds40, "40")] {
        let run = melnet(&[
            "prepare",
            i,
            "-o",
            ds.to_str().unwrap(),
            "--n-mels",
            mels,
            "-q",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let r = run_dir.to_str().unwrap();
    let base = [
        "--layers", "1", "--width", "8", "--frames", "8", "--batch", "2", "-q",
    ];
    let mut args = vec![
        "train",
        "--data",
        ds32.to_str().unwrap(),
        "--out",
        r,
        "--steps",
        "1",
    ];
    args.extend_from_slice(&base);
    assert_eq!(melnet(&args).code, 0);
    let mut args = vec![
        "train",
        "--data",
        ds40.to_str().unwrap(),
        "--out",
        r,
        "--steps",
        "2",
    ];
    args.extend_from_slice(&base);
    args.push("--resume");
    let run = melnet(&args);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("40 mels"), "{}", run.stderr);
    let run = melnet(&["eval", "--run", r, "--data", ds40.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn train_config_file_adam_epochs_and_divergence() {
    let input = tempfile::tempdir().unwrap();
    for f in ["goforward.wav", "numbers.wav"] {
        std::fs::copy(repo().join("data/speech").join(f), input.path().join(f)).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ds = w.join("ds");
    let d = ds.to_str().unwrap();
    let run = melnet(&["prepare", input.path().to_str().unwrap(), "-o", d, "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let train = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "train", "--data", d, "--out", out, "--frames", "8", "--batch", "2", "-q",
        ];
        a.extend_from_slice(extra);
        melnet(&a)
    };
    // A tier file, Adam, and the length in epochs.
    let toml = w.join("tier.toml");
    std::fs::write(&toml, "layers = 1\nwidth = 8\nn_mixtures = 2\n").unwrap();
    let r = w.join("run");
    let (r, t) = (r.to_str().unwrap(), toml.to_str().unwrap());
    let run = train(
        r,
        &["--config", t, "--optimizer", "adam", "--epochs", "0.05"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ckpt(&w.join("run"), 1).join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (config["layers"].as_u64(), config["width"].as_u64()),
        (Some(1), Some(8))
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ckpt(&w.join("run"), 1).join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["optimizer"]["kind"], "adam");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ds.join("manifest.json")).unwrap()).unwrap();
    let train_frames = manifest["stats"]["train_frames"].as_f64().unwrap();
    let expected = (0.05 * (train_frames / 16.0).max(1.0)).ceil() as u64;
    assert_eq!(state["step"].as_u64(), Some(expected));
    // Resuming with another tier is refused, the run untouched.
    let before = std::fs::read(ckpt(&w.join("run"), 1).join("weights.safetensors")).unwrap();
    let run = train(r, &["--resume", "--width", "16", "--steps", "50"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("resuming continues it"),
        "{}",
        run.stderr
    );
    assert_eq!(
        before,
        std::fs::read(ckpt(&w.join("run"), 1).join("weights.safetensors")).unwrap()
    );
    // Bad tier files: one line, nothing written.
    for (text, needle) in [
        ("layers = 1\nwidht = 8\n", "widht"),
        ("n_mels = 99\n", "n_mels"),
        ("layers = 0\n", "layers"),
    ] {
        std::fs::write(&toml, text).unwrap();
        let out = w.join("bad");
        let run = train(out.to_str().unwrap(), &["--config", t]);
        assert_eq!(run.code, 1);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
        assert!(!out.exists());
    }
    // Time-boxed: stops long before its step count, with a checkpoint and a validation.
    let timed = w.join("timed");
    let started = std::time::Instant::now();
    let run = train(
        timed.to_str().unwrap(),
        &[
            "--layers",
            "1",
            "--width",
            "8",
            "--steps",
            "1000000",
            "--minutes",
            "0.01",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("time limit reached"), "{}", run.stderr);
    assert!(started.elapsed().as_secs() < 30);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt(&timed, 1).join("state.json")).unwrap())
            .unwrap();
    let steps = state["step"].as_u64().unwrap();
    assert!(steps > 0 && steps < 1_000_000);
    let log = std::fs::read_to_string(timed.join("tier-1/log.csv")).unwrap();
    let last = log.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("{steps},")) && !last.ends_with(','),
        "the last step is validated: {last}"
    );
    // Divergence stops with a clear message; the last checkpoint loads and evaluates.
    let r = w.join("diverge");
    let r = r.to_str().unwrap();
    let run = train(
        r,
        &[
            "--layers",
            "1",
            "--width",
            "8",
            "--lr",
            "1e30",
            "--checkpoint-every",
            "1",
            "--steps",
            "20",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("non-finite"), "{}", run.stderr);
    assert!(
        run.stderr.contains("last good checkpoint"),
        "{}",
        run.stderr
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ckpt(&w.join("diverge"), 1).join("state.json")).unwrap(),
    )
    .unwrap();
    assert!(state["step"].as_u64().unwrap() < 20);
    let run = melnet(&["eval", "--run", r, "--data", d]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn sample_writes_audio_spectrograms_and_pictures() {
    let input = tempfile::tempdir().unwrap();
    for f in ["goforward.wav", "numbers.wav"] {
        std::fs::copy(repo().join("data/speech").join(f), input.path().join(f)).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (ds, run_dir) = (w.join("ds"), w.join("run"));
    let (d, r) = (ds.to_str().unwrap(), run_dir.to_str().unwrap());
    let i = input.path().to_str().unwrap();
    let prep = melnet(&[
        "prepare",
        i,
        "-o",
        d,
        "--preset",
        "melnet-small",
        "--db",
        "-q",
    ]);
    assert_eq!(prep.code, 0, "{}", prep.stderr);
    let tiny = [
        "--layers",
        "1",
        "--width",
        "8",
        "--mixtures",
        "2",
        "--frames",
        "8",
    ];
    let mut args = vec!["train", "--data", d, "--out", r, "--steps", "2", "-q"];
    args.extend_from_slice(&tiny);
    assert_eq!(melnet(&args).code, 0);
    // Two unconditional samples of 10 frames.
    let out = w.join("s.wav");
    let o = out.to_str().unwrap();
    let common = ["--iters", "4", "-q"];
    let mut args = vec![
        "sample", "--run", r, "-o", o, "--frames", "10", "--count", "2",
    ];
    args.extend_from_slice(&common);
    let run = melnet(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for n in ["s-1", "s-2"] {
        for ext in ["wav", "npy", "json", "png"] {
            assert!(w.join(format!("{n}.{ext}")).is_file(), "{n}.{ext}");
        }
        let mel: ndarray::Array2<f32> = ndarray_npy::read_npy(w.join(format!("{n}.npy"))).unwrap();
        assert_eq!(mel.dim(), (32, 10));
        // In the dataset's scale: dB within the training range.
        assert!(mel.iter().all(|v| (-80.0..=0.0).contains(v)));
    }
    // The levels line: the floor share of both spectrograms, against the training data's.
    let at_floor: usize = ["s-1", "s-2"]
        .iter()
        .map(|n| {
            let mel: ndarray::Array2<f32> =
                ndarray_npy::read_npy(w.join(format!("{n}.npy"))).unwrap();
            mel.iter().filter(|&&v| v <= -80.0).count()
        })
        .sum();
    let share = format!(
        "levels: {:.1} % of elements at the floor (training data ",
        100.0 * at_floor as f64 / 640.0
    );
    assert!(run.stderr.contains(&share), "{share} in {}", run.stderr);
    // Primed from audio: the output starts with the prime's frames.
    let primed = w.join("p.wav");
    let p = primed.to_str().unwrap();
    let wav = repo().join("data/speech/numbers.wav");
    let mut args = vec![
        "sample",
        "--run",
        r,
        "-o",
        p,
        "--frames",
        "5",
        "--prime",
        wav.to_str().unwrap(),
        "--prime-seconds",
        "0.5",
    ];
    args.extend_from_slice(&common);
    let run = melnet(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mel: ndarray::Array2<f32> = ndarray_npy::read_npy(w.join("p.npy")).unwrap();
    let prime_frames = (0.5f64 * 24000.0 / 512.0).round() as usize;
    assert_eq!(mel.dim(), (32, prime_frames + 5));
    // Primed from its own .npy, rewritten in Fortran order: the same prime frames.
    let again = w.join("q.wav");
    let p_npy = w.join("p.npy");
    write_fortran_npy(&p_npy, &mel);
    let mut args = vec![
        "sample",
        "--run",
        r,
        "-o",
        again.to_str().unwrap(),
        "--frames",
        "1",
        "--prime",
        p_npy.to_str().unwrap(),
        "--prime-seconds",
        "0.5",
    ];
    args.extend_from_slice(&common);
    assert_eq!(melnet(&args).code, 0);
    let q: ndarray::Array2<f32> = ndarray_npy::read_npy(w.join("q.npy")).unwrap();
    let diff = (&q.slice(ndarray::s![.., ..prime_frames])
        - &mel.slice(ndarray::s![.., ..prime_frames]))
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(diff < 1e-3, "prime frames differ by {diff} dB");
    // Bad input: one line, non-zero exit, nothing written.
    let bad_npy = w.join("bad.npy");
    ndarray_npy::write_npy(&bad_npy, &ndarray::Array2::<f32>::zeros((7, 4))).unwrap();
    let x = w.join("x.wav");
    let x = x.to_str().unwrap();
    for (extra, needle) in [
        (vec!["--prime", bad_npy.to_str().unwrap()], "7 rows"),
        (vec!["--count", "0"], "--count"),
        (vec!["--bias=-1"], "--bias"),
    ] {
        let mut args = vec!["sample", "--run", r, "-o", x, "--frames", "2", "-q"];
        args.extend_from_slice(&extra);
        assert_fails_cleanly(&args, needle, w);
    }
    let missing = w.join("nope");
    assert_fails_cleanly(
        &["sample", "--run", missing.to_str().unwrap(), "-o", x, "-q"],
        "nope",
        w,
    );
}

#[test]
fn demo_writes_a_self_contained_report_and_resumes() {
    let input = tempfile::tempdir().unwrap();
    copy_speech(input.path());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("demo");
    let (i, o) = (input.path().to_str().unwrap(), out.to_str().unwrap());
    // The first run without a shipped English model (the page says why), the second with the
    // repository's.
    let nowhere = work.path().join("no-model");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tts-en");
    let demo = |say_model: &Path| {
        melnet_env(
            &[
                "demo",
                "-o",
                o,
                "--data",
                i,
                "--minutes",
                "0.02",
                "--seconds",
                "0.5",
                "-q",
            ],
            &[("MELNET_SAY_MODEL", say_model.to_str().unwrap())],
        )
    };
    let run = demo(&nowhere);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("Not available:") && html.contains("no-model"));
    // Input, primed continuation, two unconditional samples: each a picture and a player.
    assert_eq!(html.matches("<audio controls").count(), 4);
    assert_eq!(html.matches("src=\"data:audio/wav;base64,").count(), 4);
    // The four spectrograms, the three tiers' stages, the levels figure, three loss curves,
    // the dataset figure.
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 12);
    assert!(html.contains("<h3>Loudness</h3>") && html.contains("% of their elements at the"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external assets"
    );
    for stage in [
        "prepare",
        "train",
        "eval",
        "sample primed + invert",
        "levels",
    ] {
        assert!(html.contains(&format!("<td>{stage}</td>")), "{stage}");
    }
    let step = |dir: &Path| -> u64 {
        let state = ckpt(&dir.join("model"), 3).join("state.json");
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
        state["step"].as_u64().unwrap()
    };
    let first = step(&out);
    assert!(first > 0);
    // Again into the same directory: the dataset is reused and training continues; the page
    // now opens with the shipped model saying four sentences (a player and a spectrogram with
    // its attention window each).
    let run = demo(Path::new(shipped));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(step(&out) > first);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let said = html
        .find("The shipped English model says")
        .expect("the shipped model");
    assert!(said < html.find("From scratch").unwrap());
    assert_eq!(html.matches("<audio controls").count(), 8);
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 16);
    for voice in ["slt", "rms", "awb", "kal16"] {
        assert!(out.join(format!("say/{voice}.wav")).is_file(), "{voice}");
    }
    // Bad input: one line, non-zero exit.
    let missing = work.path().join("no-such-folder");
    let run = melnet(&["demo", "-o", o, "--data", missing.to_str().unwrap(), "-q"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-folder"), "{}", run.stderr);
}

#[test]
fn sharded_prepare_and_merge_equal_one_machine() {
    let input = tempfile::tempdir().unwrap();
    copy_speech(input.path());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let i = input.path().to_str().unwrap();
    let prep = |out: &str, extra: &[&str]| {
        let mut a = vec!["prepare", i, "-o", out, "--chunk-frames", "200", "-q"];
        a.extend_from_slice(extra);
        melnet(&a)
    };
    let one = w.join("one");
    assert_eq!(prep(one.to_str().unwrap(), &[]).code, 0);
    let shards: Vec<PathBuf> = (1..=2).map(|k| w.join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        let run = prep(dir.to_str().unwrap(), &["--shard", &format!("{}/2", k + 1)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let merged = w.join("merged");
    let run = melnet(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
        "--chunk-frames",
        "200",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = files_in(&one);
    assert!(
        names.iter().filter(|n| n.starts_with("frames-")).count() > 1,
        "{names:?}"
    );
    for name in names
        .iter()
        .filter(|n| n.ends_with(".npy") || n.ends_with(".json"))
    {
        assert!(
            std::fs::read(one.join(name)).unwrap() == std::fs::read(merged.join(name)).unwrap(),
            "{name} differs"
        );
    }
    // A shard alone is not a dataset; a bad shard spec is a usage error.
    assert_eq!(melnet(&["stats", shards[0].to_str().unwrap()]).code, 1);
    assert_eq!(
        prep(w.join("x").to_str().unwrap(), &["--shard", "3/2"]).code,
        2
    );
}
