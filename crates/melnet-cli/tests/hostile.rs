//! Hostile and mistaken inputs and outputs (issue 14): every case here once panicked, ran out
//! of memory, replaced a special file or silently accepted bad data. Each must now fail with
//! one line and exit 1 (or, for special outputs, succeed without replacing them).

use std::path::{Path, PathBuf};

use melspec::audio::{write_wav, WavFormat};

mod common;
use common::*;

/// A RIFF/WAVE file: format tag `format` (1 PCM, 3 float), one channel, `bits` per sample.
fn wav_bytes(format: u16, bits: u16, sr: u32, data: &[u8]) -> Vec<u8> {
    let block = bits / 8;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&sr.to_le_bytes());
    v.extend_from_slice(&sr.wrapping_mul(u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A short real clip's mel spectrogram `m.npy` (+ `m.json`) in `dir`.
fn mel_of_speech(dir: &Path) -> PathBuf {
    let out = dir.join("m.npy");
    let run = melnet(&["mel", s(&speech()), "-o", s(&out)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    out
}

#[test]
fn special_files_are_written_through_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let is_char_device = |p: &str| std::fs::metadata(p).unwrap().file_type().is_char_device();
    let run = melnet(&["mel", s(&speech()), "-o", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(is_char_device("/dev/null"));
    assert!(
        !Path::new("/dev/null.json").exists(),
        "no sidecar next to a device"
    );
    let run = melnet(&["mel", s(&speech()), "-o", "/dev/full"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("No space left"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(is_char_device("/dev/full"));

    // A FIFO gets the bytes and stays a FIFO.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.npy");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let run = melnet(&["mel", s(&speech()), "-o", s(&fifo)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bytes = reader.join().unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"), "{} bytes", bytes.len());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_link_is_kept_and_its_target_written() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link.wav");
    std::os::unix::fs::symlink("real.wav", &link).unwrap();
    let m = mel_of_speech(dir.path());
    // Dangling: the target is created, the link kept.
    let run = melnet(&["invert", s(&m), "-o", s(&link), "--refine", "0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let first = std::fs::metadata(dir.path().join("real.wav")).unwrap();
    assert!(first.is_file() && first.len() > 1000);
    // Existing target: replaced through the link.
    let run = melnet(&["invert", s(&m), "-o", s(&link), "--refine", "0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.wav");
    std::fs::copy(speech(), &a).unwrap();
    let before = std::fs::read(&a).unwrap();
    assert_fails_cleanly(&["mel", s(&a), "-o", s(&a)], "also an input", dir.path());
    let m = mel_of_speech(dir.path());
    assert_fails_cleanly(
        &["invert", s(&m), "-o", s(&dir.path().join("m.json"))],
        "also an input",
        dir.path(),
    );
    assert_eq!(std::fs::read(&a).unwrap(), before);
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pcm: Vec<u8> = (0..64_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let huge_rate = write(d, "rate.wav", &wav_bytes(1, 16, u32::MAX, &pcm));
    let out = d.join("o.npy");
    assert_fails_cleanly(
        &["mel", s(&huge_rate), "-o", s(&out)],
        "sample rate of 4294967295 Hz",
        d,
    );
    for (flag, value, needle) in [
        ("--n-fft", "2147483648", "n_fft"),
        ("--sr", "4000000000", "sr = 4000000000"),
    ] {
        assert_fails_cleanly(
            &["mel", s(&speech()), "-o", s(&out), flag, value],
            needle,
            d,
        );
    }
    // n_fft at the limit with hop 1: the output alone would be hundreds of GiB.
    assert_fails_cleanly(
        &[
            "stft",
            s(&speech()),
            "-o",
            s(&out),
            "--n-fft",
            "1048576",
            "--hop",
            "1",
        ],
        "needs about",
        d,
    );

    // A .npy header declaring 51 TB over 1 KB of data.
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (128, 100000000000), }";
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{dict:<117}\n");
    npy.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    npy.extend_from_slice(padded.as_bytes());
    npy.extend_from_slice(&[0; 1024]);
    let huge = write(d, "huge.npy", &npy);
    let wav = d.join("o.wav");
    assert_fails_cleanly(
        &["invert", s(&huge), "-o", s(&wav)],
        "the header declares",
        d,
    );

    let m = mel_of_speech(d);
    assert_fails_cleanly(
        &["invert", s(&m), "-o", s(&wav), "--length", "1000000000000"],
        "needs about",
        d,
    );

    // Sidecars with absurd values name the sidecar.
    let json = d.join("m.json");
    let original = std::fs::read_to_string(&json).unwrap();
    let mut sidecar: serde_json::Value = serde_json::from_str(&original).unwrap();
    sidecar["params"]["n_fft"] = serde_json::json!(1u64 << 40);
    std::fs::write(&json, sidecar.to_string()).unwrap();
    assert_fails_cleanly(
        &["invert", s(&m), "-o", s(&wav)],
        "m.json: invalid sidecar",
        d,
    );
    let mut sidecar: serde_json::Value = serde_json::from_str(&original).unwrap();
    sidecar["source"]["analysed_samples"] = serde_json::json!(1_000_000_000_000_000u64);
    std::fs::write(&json, sidecar.to_string()).unwrap();
    assert_fails_cleanly(&["invert", s(&m), "-o", s(&wav)], "analysed_samples", d);
}

#[test]
fn hostile_audio_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("o.npy");
    // NaN in a float WAV, at the analysis rate and needing resampling.
    let mut x: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin()).collect();
    x[100] = f32::NAN;
    for sr in [22_050, 44_100] {
        let path = d.join(format!("nan{sr}.wav"));
        write_wav(&path, &x, sr, WavFormat::F32).unwrap();
        assert_fails_cleanly(&["mel", s(&path), "-o", s(&out)], "sample 100 is NaN", d);
        std::fs::remove_file(&path).unwrap();
    }
    // Rate 0, in a format hound reads and in one only symphonia does (24-bit: 0.5 panicked).
    let pcm = vec![0u8; 6000];
    for bits in [16, 24] {
        let path = write(d, "zero.wav", &wav_bytes(1, bits, 0, &pcm));
        assert_fails_cleanly(&["mel", s(&path), "-o", s(&out)], "sample rate of 0", d);
        std::fs::remove_file(&path).unwrap();
    }
    // Compressed files cut in half: an error, not a shorter signal.
    for name in [
        "data/music/ambi_piano.flac",
        "data/music/C4v10.ogg",
        "tests/data/goforward.mp3",
    ] {
        let bytes = std::fs::read(repo().join(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let path = write(d, &format!("cut.{ext}"), &bytes[..bytes.len() / 2]);
        assert_fails_cleanly(&["mel", s(&path), "-o", s(&out)], "truncated", d);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn degenerate_spectrograms_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = d.join("one.npy");
    melspec::npy::write_f32_2d(&one, ndarray::Array2::<f32>::ones((128, 1)).view()).unwrap();
    let wav = d.join("o.wav");
    for phase in ["fgla", "pghi", "lws"] {
        assert_fails_cleanly(
            &["invert", s(&one), "-o", s(&wav), "--phase", phase],
            "at least 2 frames",
            d,
        );
    }
    assert_fails_cleanly(
        &["invert", s(&one), "-o", s(&wav), "--length", "0"],
        "length",
        d,
    );
    let run = melnet(&["invert", s(&one), "-o", s(&wav), "--length", "300"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A small dataset (`ds`) of three speech clips and a one-step tiny model (`run`) in `dir`.
fn tiny_run(dir: &Path) -> (PathBuf, PathBuf) {
    let input = dir.join("in");
    copy_speech(&input);
    let (ds, run) = (dir.join("ds"), dir.join("run"));
    let prepared = melnet(&[
        "prepare",
        s(&input),
        "-o",
        s(&ds),
        "--preset",
        "melnet-small",
        "--db",
        "-q",
    ]);
    assert_eq!(prepared.code, 0, "{}", prepared.stderr);
    let mut args = vec!["train", "--data", s(&ds), "--out", s(&run), "--steps", "1"];
    args.extend_from_slice(&TINY);
    let trained = melnet(&args);
    assert_eq!(trained.code, 0, "{}", trained.stderr);
    (ds, run)
}

/// The current checkpoint directory of tier 1 of `run`.
fn checkpoint(run: &Path) -> PathBuf {
    let tier = run.join("tier-1");
    let name = std::fs::read_to_string(tier.join("current")).unwrap();
    tier.join(name.trim())
}

#[test]
fn training_options_and_sizes_are_checked_before_a_run_exists() {
    let dir = tempfile::tempdir().unwrap();
    let (ds, _) = tiny_run(dir.path());
    let out = dir.path().join("new");
    let cases: [(&[&str], &str); 11] = [
        (&["--lr", "nan"], "--lr NaN"),
        (&["--input-noise", "inf"], "--input-noise"),
        (&["--lr=-1"], "--lr -1"),
        (&["--momentum", "nan"], "momentum"),
        (&["--clip-grad=-1"], "--clip-grad"),
        (&["--minutes=-1"], "--minutes"),
        (&["--minutes", "nan"], "--minutes"),
        (&["--width", "100000"], "needs about"),
        (&["--frames", "100000"], "needs about"),
        (&["--batch", "100000"], "needs about"),
        (&["--layers", "1000"], "needs about"),
    ];
    for (extra, needle) in cases {
        let mut args = vec![
            "train",
            "--data",
            s(&ds),
            "--out",
            s(&out),
            "--steps",
            "1",
            "-q",
        ];
        args.extend_from_slice(extra);
        assert_fails_cleanly(&args, needle, dir.path());
    }
    // A folder the user made is kept, and nothing of the failed run is left in it.
    std::fs::create_dir(&out).unwrap();
    let run = melnet(&[
        "train",
        "--data",
        s(&ds),
        "--out",
        s(&out),
        "--width",
        "100000",
        "-q",
    ]);
    assert_eq!(run.code, 1);
    assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
    let run = melnet(&["--threads", "100000", "presets"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn broken_checkpoints_and_manifests_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (ds, run) = tiny_run(dir.path());
    let resume = |run: &Path| {
        let mut a = vec!["train", "--data", s(&ds), "--out", s(run), "--steps", "2"];
        a.push("--resume");
        a.push("-q");
        melnet(&a)
    };
    let expect_error = |r: Run, needle: &str| {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(needle), "'{}' lacks '{needle}'", r.stderr);
    };
    let wav = dir.path().join("s.wav");
    let sample = |model: &Path| {
        melnet(&[
            "sample",
            "--model",
            s(model),
            "-o",
            s(&wav),
            "--seconds",
            "0.5",
        ])
    };
    // A NaN weight.
    let bad = dir.path().join("nan");
    copy_dir(&run, &bad);
    let w = checkpoint(&bad).join("weights.safetensors");
    let mut bytes = std::fs::read(&w).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..12 + header].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&w, bytes).unwrap();
    expect_error(resume(&bad), "non-finite value (NaN)");
    let sampled = sample(&bad);
    expect_error(sampled, "weights.safetensors");
    // Garbage weights, with backtraces asked for: still one line (candle appends its trace).
    let garbage = dir.path().join("garbage");
    copy_dir(&run, &garbage);
    std::fs::write(checkpoint(&garbage).join("weights.safetensors"), b"garbage").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_melnet"))
        .env("RUST_BACKTRACE", "1")
        .args([
            "sample",
            "--model",
            s(&garbage),
            "-o",
            s(&wav),
            "--seconds",
            "0.5",
        ])
        .output()
        .unwrap();
    expect_error(
        Run {
            code: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        "weights.safetensors",
    );
    // A negative learning rate in state.json.
    let bad = dir.path().join("lr");
    copy_dir(&run, &bad);
    let state = checkpoint(&bad).join("state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, text.replace("\"lr\": 0.0003", "\"lr\": -1")).unwrap();
    expect_error(resume(&bad), "state.json");
    // A tensor reshaped to another rank.
    let bad = dir.path().join("rank");
    copy_dir(&run, &bad);
    let w = checkpoint(&bad).join("weights.safetensors");
    let bytes = std::fs::read(&w).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let text = String::from_utf8(bytes[8..8 + header].to_vec()).unwrap();
    let reshaped = text.replacen("\"shape\":[6,8]", "\"shape\":[48]", 1);
    assert_ne!(reshaped, text, "the head weight is [6, 8]: {text}");
    let mut out = (reshaped.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(reshaped.as_bytes());
    out.extend_from_slice(&bytes[8 + header..]);
    std::fs::write(&w, out).unwrap();
    let sampled = sample(&bad);
    expect_error(sampled, "shape mismatch");

    // Edited manifests: overlapping frame ranges, a spread that contradicts the range.
    let manifest = ds.join("manifest.json");
    let original = std::fs::read_to_string(&manifest).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 3] = [
        ("do not follow", |m| {
            m["items"][1]["frames"][0] =
                serde_json::json!(m["items"][1]["frames"][0].as_u64().unwrap() - 3)
        }),
        ("statistics disagree", |m| {
            m["stats"]["all"]["std"] = serde_json::json!(0.0)
        }),
        ("do not end at item boundaries", |m| {
            m["chunks"] = serde_json::json!([5])
        }),
    ];
    for (needle, edit) in edits {
        let mut m: serde_json::Value = serde_json::from_str(&original).unwrap();
        edit(&mut m);
        std::fs::write(&manifest, m.to_string()).unwrap();
        expect_error(melnet(&["stats", s(&ds)]), needle);
        expect_error(resume(&run), "manifest.json");
    }
    std::fs::write(&manifest, original).unwrap();
    // A dataset analysed otherwise (linear, not dB) is refused by eval and resume.
    let linear = dir.path().join("linear");
    let made = melnet(&[
        "prepare",
        s(&dir.path().join("in")),
        "-o",
        s(&linear),
        "--preset",
        "melnet-small",
        "-q",
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    expect_error(
        melnet(&["eval", "--model", s(&run), "--data", s(&linear)]),
        "other parameters",
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ds, run) = tiny_run(dir.path());
    let resume = |steps: &str| {
        melnet(&[
            "train",
            "--data",
            s(&ds),
            "--out",
            s(&run),
            "--resume",
            "--steps",
            steps,
            "-q",
        ])
    };
    for target in [&ds, &run] {
        // This test process plays the first writer.
        let held = melnet_data::lock::DirLock::acquire(target).unwrap();
        let r = if target == &ds {
            melnet(&[
                "prepare",
                s(&dir.path().join("in")),
                "-o",
                s(&ds),
                "--preset",
                "melnet-small",
                "--db",
                "-q",
            ])
        } else {
            resume("3")
        };
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("in use by another melnet process (pid "),
            "{}",
            r.stderr
        );
        drop(held);
    }
    let r = resume("2");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_full_disk_is_reported_with_the_file_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_speech(&input);
    // A 50 KiB file-size limit (SIGXFSZ ignored, so writes fail with EFBIG) stands in for a
    // full disk: at 128 mels the first part fails, at 32 the parts fit and frames.npy fails.
    for (preset, needle) in [
        ("speech", ".npy.tmp: "),
        ("melnet-small", "frames.npy.tmp: "),
    ] {
        let out = dir.path().join(preset);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 100; trap '' XFSZ; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_melnet"))
            .args([
                "prepare",
                s(&input),
                "-o",
                s(&out),
                "--preset",
                preset,
                "-q",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&status.stderr);
        assert_eq!(status.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(needle) && stderr.contains("File too large"),
            "{stderr}"
        );
        let mut stack = vec![out];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                assert!(!name.ends_with(".tmp"), "left behind: {}", p.display());
                if p.is_dir() {
                    stack.push(p);
                }
            }
        }
    }
}

#[test]
fn odd_names_short_samples_and_bad_headers_are_handled() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A file name that is not UTF-8: analysed, its sidecar holds the name lossily.
    let odd = d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.wav"));
    std::fs::copy(speech(), &odd).unwrap();
    let out = d.join("o.npy");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_melnet"))
        .arg("mel")
        .arg(&odd)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let sidecar = std::fs::read_to_string(d.join("o.json")).unwrap();
    assert!(sidecar.contains("caf\u{fffd}.wav"), "{sidecar}");

    // A .npy whose header is not Python-dict text, with line breaks: one line.
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header = format!("{:<117}\n", "{'descr':\n'<f4',\n'shape': [[nonsense");
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend_from_slice(&[0; 64]);
    let bad = write(d, "bad.npy", &npy);
    assert_fails_cleanly(
        &["invert", s(&bad), "-o", s(&d.join("x.wav"))],
        "bad.npy",
        d,
    );

    // One generated frame cannot become audio: refused before sampling.
    let (_, run_dir) = tiny_run(&d.join("t"));
    let wav = d.join("s.wav");
    assert_fails_cleanly(
        &[
            "sample",
            "--model",
            s(&run_dir),
            "-o",
            s(&wav),
            "--frames",
            "1",
        ],
        "at least 2 frames",
        d,
    );
}

#[test]
fn prepare_skips_unusable_files_by_name_and_its_dataset_trains() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_speech(&input);
    let mut x: Vec<f32> = (0..30_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    x[5] = f32::NAN;
    write_wav(&input.join("nan.wav"), &x, 44_100, WavFormat::F32).unwrap();
    let flac = std::fs::read(repo().join("data/music/guit_em9.flac")).unwrap();
    std::fs::write(input.join("cut.flac"), &flac[..flac.len() / 2]).unwrap();
    let ds = dir.path().join("ds");
    let run = melnet(&[
        "prepare",
        s(&input),
        "-o",
        s(&ds),
        "--preset",
        "melnet-small",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ds.join("manifest.json")).unwrap()).unwrap();
    let skipped: Vec<(String, String)> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap().to_string();
            (field("path"), field("reason"))
        })
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped
        .iter()
        .any(|(p, r)| p == "nan.wav" && r.contains("NaN")));
    assert!(skipped
        .iter()
        .any(|(p, r)| p == "cut.flac" && r.contains("truncated")));
    let stats = melnet(&["stats", s(&ds)]);
    assert_eq!(stats.code, 0, "{}", stats.stderr);
    let mut args = vec!["train", "--data", s(&ds), "--out"];
    let out = dir.path().join("run");
    args.push(s(&out));
    args.extend_from_slice(&["--steps", "1"]);
    args.extend_from_slice(&TINY);
    let trained = melnet(&args);
    assert_eq!(trained.code, 0, "{}", trained.stderr);
}

/// SIGKILL at seeded random moments of `prepare` (listing, hashing, analysing, assembling),
/// then a rerun each time: the dataset it ends with is byte for byte the uninterrupted one.
#[test]
fn prepare_killed_at_random_moments_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let mut n = 0;
    for sub in ["speech", "music", "singing"] {
        for e in std::fs::read_dir(repo().join("data").join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, input.join(p.file_name().unwrap())).unwrap();
            n += 1;
        }
    }
    assert!(n >= 10);
    let args = |out: &Path| -> Vec<String> {
        let out = s(out).to_string();
        let input = s(&input).to_string();
        [
            "prepare",
            &input,
            "-o",
            &out,
            "--preset",
            "melnet-small",
            "--db",
            "-q",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let whole = dir.path().join("whole");
    let started = std::time::Instant::now();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args(args(&whole))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let span = started.elapsed().as_micros() as u64;

    let mut state = 0x9e37_79b9_7f4a_7c15u64; // the seed
    let mut kills = 0;
    // Rounds from scratch (a resumed run is shorter than the first, so later kills in a round
    // land less often) until enough kills have landed, each round checked.
    let mut round = 0;
    while kills < 8 && round < 40 {
        round += 1;
        let killed = dir.path().join(format!("killed-{round}"));
        loop {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_melnet"))
                .args(args(&killed))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let wait = (state >> 33) % span.max(1);
            std::thread::sleep(std::time::Duration::from_micros(wait));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                continue;
            }
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "after {kills} kills: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            break;
        }
        for f in ["frames.npy", "manifest.json"] {
            assert!(
                std::fs::read(whole.join(f)).unwrap() == std::fs::read(killed.join(f)).unwrap(),
                "{f} differs from the uninterrupted run's (round {round}, {kills} kills so far)"
            );
        }
    }
    assert!(kills >= 8, "only {kills} kills landed in {round} rounds");
}
