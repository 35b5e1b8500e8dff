//! Decoding real files of every supported format, PCM widths, resampling, and bad files.

use std::path::{Path, PathBuf};

use melspec::audio::{load, resample, write_wav, WavFormat};
use melspec::{Error, Istft, PadMode, Stft, StftParams, Window};
use rand::{Rng, SeedableRng};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn decodes_every_bundled_format() {
    // (file, rate, channels, approximate seconds)
    let cases = [
        ("data/speech/goforward.wav", 16000, 1, 2.79),
        ("data/music/ambi_piano.flac", 44100, 0, 0.0),
        ("data/singing/ambi_choir.flac", 44100, 2, 1.6),
        ("data/music/C4v10.ogg", 48000, 2, 0.0),
        ("tests/data/goforward.mp3", 16000, 1, 2.0),
    ];
    for (file, sr, channels, seconds) in cases {
        let audio = load(&repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(audio.sr, sr, "{file}");
        if channels > 0 {
            assert_eq!(audio.source_channels, channels, "{file}");
        }
        if seconds > 0.0 {
            assert!(
                (audio.seconds() - seconds).abs() < 0.1,
                "{file}: {} s",
                audio.seconds()
            );
        }
        let rms =
            (audio.samples.iter().map(|x| x * x).sum::<f32>() / audio.samples.len() as f32).sqrt();
        assert!(rms > 1e-3, "{file}: decoded silence");
        assert!(audio
            .samples
            .iter()
            .all(|x| x.is_finite() && x.abs() <= 1.0));
    }
}

fn write_pcm(path: &Path, bits: u16, float: bool, channels: u16, x: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 8000,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in x {
        for c in 0..channels {
            // Second channel carries the negated signal scaled by 0.5: the mean is 0.25·x.
            let v = if c == 0 { s } else { -0.5 * s };
            if float {
                w.write_sample(v).unwrap();
            } else {
                let full = (1i64 << (bits - 1)) as f32;
                w.write_sample((v * full).round().clamp(-full, full - 1.0) as i32)
                    .unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

#[test]
fn wav_of_every_width_decodes_to_the_same_signal() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f32> = (0..800).map(|n| 0.8 * (n as f32 * 0.05).sin()).collect();
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        for channels in [1u16, 2] {
            let path = dir.path().join(format!("w{bits}{float}{channels}.wav"));
            write_pcm(&path, bits, float, channels, &x);
            let audio = load(&path).unwrap();
            let expect_gain = if channels == 1 { 1.0 } else { 0.25 };
            let step = if float {
                1e-6
            } else {
                2.0 / (1u64 << bits) as f32
            };
            for (a, b) in audio.samples.iter().zip(&x) {
                assert!(
                    (a - expect_gain * b).abs() <= step,
                    "{bits}-bit float={float} ch={channels}: {a} vs {}",
                    expect_gain * b
                );
            }
            assert_eq!(audio.samples.len(), x.len());
        }
    }
}

#[test]
fn bad_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wav");
    assert!(matches!(load(&missing), Err(Error::Io { .. })));

    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "this is not audio").unwrap();
    assert!(matches!(load(&text), Err(Error::Decode { .. })));
    let text_flac = dir.path().join("notes.flac");
    std::fs::write(&text_flac, "this is not audio either").unwrap();
    assert!(matches!(load(&text_flac), Err(Error::Decode { .. })));

    let full = dir.path().join("full.wav");
    write_pcm(&full, 16, false, 1, &[0.5; 4000]);
    let bytes = std::fs::read(&full).unwrap();
    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let Err(err) = load(&truncated) else {
        panic!("truncated WAV must fail")
    };
    assert!(err.to_string().contains("truncated"), "{err}");

    let empty = dir.path().join("empty.wav");
    write_pcm(&empty, 16, false, 1, &[]);
    assert!(matches!(load(&empty), Err(Error::InvalidInput(_))));
}

/// Frequency (Hz) of the strongest DFT bin of `x` near `guess`, refined by parabolic
/// interpolation, and the amplitude of a sine (√2 · RMS).
fn sine_freq_and_amp(x: &[f32], sr: f64, guess: f64) -> (f64, f64) {
    let n = x.len();
    let power = |f: f64| {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, &v) in x.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * f * i as f64 / sr;
            re += f64::from(v) * ph.cos();
            im -= f64::from(v) * ph.sin();
        }
        re * re + im * im
    };
    let step = 0.05;
    let (mut best, mut best_p) = (guess, 0.0);
    let mut f = guess * 0.9;
    while f < guess * 1.1 {
        let p = power(f);
        if p > best_p {
            best = f;
            best_p = p;
        }
        f += step;
    }
    let rms = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n as f64).sqrt();
    (best, rms * 2f64.sqrt())
}

#[test]
fn resampling_keeps_frequency_and_amplitude() {
    for (from, to) in [
        (44100u32, 22050u32),
        (16000, 22050),
        (48000, 24000),
        (22050, 16000),
    ] {
        let freq = 440.0;
        let amp = 0.6;
        let x: Vec<f32> = (0..from as usize)
            .map(|n| amp * (2.0 * std::f32::consts::PI * freq * n as f32 / from as f32).sin())
            .collect();
        let y = resample(&x, from, to).unwrap();
        assert_eq!(y.len(), to as usize, "{from}→{to}: length");
        // Ignore the edges, where the band-limited filter sees the signal start and stop.
        let mid = &y[to as usize / 10..to as usize * 9 / 10];
        let (f, a) = sine_freq_and_amp(mid, f64::from(to), f64::from(freq));
        assert!(
            (f / f64::from(freq) - 1.0).abs() < 0.01,
            "{from}→{to}: {f} Hz"
        );
        assert!(
            (a / f64::from(amp) - 1.0).abs() < 0.01,
            "{from}→{to}: amplitude {a}"
        );
    }
    assert!(resample(&[0.0; 10], 0, 100).is_err());
}

#[test]
fn istft_inverts_stft_for_random_signals() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let grid = [
        (512, 128, 512, true, PadMode::Constant),
        (1024, 256, 1024, true, PadMode::Reflect),
        (512, 160, 400, true, PadMode::Constant),
        (2048, 512, 2048, false, PadMode::Constant),
        (256, 64, 200, false, PadMode::Constant),
        (1536, 256, 1536, true, PadMode::Reflect),
    ];
    for (n_fft, hop_length, win_length, center, pad_mode) in grid {
        let params = StftParams {
            n_fft,
            hop_length,
            win_length,
            window: Window::Hann,
            center,
            pad_mode,
        };
        let len = rng.gen_range(3000..9000);
        let x: Vec<f32> = (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let spec = Stft::new(params).unwrap().process(&x).unwrap();
        let y = Istft::new(params)
            .unwrap()
            .process(spec.view(), Some(len))
            .unwrap();
        // Without centring the first and last n_fft − hop samples are not fully covered by
        // windows; compare where the window sum-square is at least 10% of its plateau.
        let (lo, hi) = if center {
            (0, len)
        } else {
            (n_fft, len - n_fft)
        };
        let err = x[lo..hi]
            .iter()
            .zip(&y[lo..hi])
            .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
        assert!(err < 1e-5, "{n_fft}/{hop_length}/{win_length}: {err}");
    }
}

#[test]
fn written_wav_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f32> = (0..1000).map(|n| (n as f32 * 0.01).sin() * 0.9).collect();
    for format in [WavFormat::F32, WavFormat::I16] {
        let path = dir.path().join("out.wav");
        write_wav(&path, &x, 22050, format).unwrap();
        let audio = load(&path).unwrap();
        assert_eq!(audio.sr, 22050);
        for (a, b) in audio.samples.iter().zip(&x) {
            assert!((a - b).abs() <= 1.0 / 16384.0);
        }
    }
}
