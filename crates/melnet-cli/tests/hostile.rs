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
    // Rate 0, in a format hound reads and in one only symphonia does (24-bit: it panicked).
    let pcm = vec![0u8; 6000];
    for bits in [16, 24] {
        let path = write(d, "zero.wav", &wav_bytes(1, bits, 0, &pcm));
        assert_fails_cleanly(&["mel", s(&path), "-o", s(&out)], "sample rate of 0", d);
        std::fs::remove_file(&path).unwrap();
    }
    // Compressed files cut in half: an error, not a shorter signal.
    for name in ["music/ambi_piano.flac", "music/C4v10.ogg"] {
        let bytes = std::fs::read(repo().join("data").join(name)).unwrap();
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
