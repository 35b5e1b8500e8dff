//! Fuzz targets: each takes arbitrary bytes, lays them out as the files a melnet reader
//! expects, and runs the reader and the first steps that use what it returns. A target must
//! never panic, hang or allocate beyond the memory budget (set it low with
//! `MELNET_MEMORY_LIMIT`, as `scripts/fuzz` does): every bad input is an `Err`.
//!
//! The same functions serve the coverage-guided libFuzzer harness (`fuzz/`, nightly
//! toolchain, `scripts/fuzz`) and the regression test that replays the committed corpus and
//! crashers on the stable toolchain (`tests/regressions.rs`, part of the test suite).
//!
//! Multi-file targets split their input at [`SEPARATOR`]: part `i` becomes file `i` of the
//! layout; missing parts are empty files.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use melnet_data::dataset::{Dataset, Normalization, Split};

/// Separates the files of a multi-file input.
pub const SEPARATOR: &[u8] = b"\n--8<--\n";

/// A fuzz target: runs on any bytes.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/NAME.rs` and `fuzz/corpus/NAME/` are named.
pub const TARGETS: [(&str, Target); 6] = [
    ("audio", audio),
    ("npy_sidecar", npy_sidecar),
    ("manifest", manifest),
    ("checkpoint", checkpoint),
    ("tier_toml", tier_toml),
    ("sysex", sysex),
];

/// The largest signal or spectrogram (values) a target analyses further after reading it:
/// reading is what is fuzzed, not the speed of long analyses.
const FURTHER: usize = 1 << 18;

/// A fresh scratch directory (in memory where `/dev/shm` exists).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    tempfile::tempdir_in(base).expect("a scratch directory")
}

/// `data` split at [`SEPARATOR`] into exactly `n` parts (the last takes the rest).
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    while parts.len() + 1 < n {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts.resize(n, &[]);
    parts
}

/// The parts joined with [`SEPARATOR`] (the inverse of [`split`], for making seeds).
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(SEPARATOR)
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).expect("scratch space is writable");
    path.to_owned()
}

/// An audio file: the first byte picks the extension (WAV, FLAC, OGG, MP3), the rest is the
/// file. Decoded, then (when short) resampled and analysed.
pub fn audio(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let ext = ["wav", "flac", "ogg", "mp3"][usize::from(kind % 4)];
    let dir = scratch();
    let path = write(&dir.path().join(format!("x.{ext}")), bytes);
    let Ok(audio) = melspec::audio::load(&path) else {
        return;
    };
    if audio.samples.len() > FURTHER {
        return;
    }
    let Ok(audio) = audio.resampled(16_000) else {
        return;
    };
    let params = melspec::AnalysisParams {
        sr: 16_000,
        stft: melspec::StftParams {
            n_fft: 512,
            hop_length: 128,
            win_length: 512,
            ..melspec::AnalysisParams::default().stft
        },
        n_mels: 40,
        fmax: None,
        ..melspec::AnalysisParams::default()
    };
    if let Ok(plan) = melspec::MelSpectrogram::new(params.stft, params.mel(), params.power) {
        let _ = plan.process(&audio.samples);
    }
}

/// A spectrogram `.npy` and its sidecar JSON, read as `melnet invert` reads them; a small
/// readable pair is inverted (one Griffin–Lim iteration, no refinement).
pub fn npy_sidecar(data: &[u8]) {
    let parts = split(data, 2);
    let dir = scratch();
    let npy = write(&dir.path().join("x.npy"), parts[0]);
    let json = write(&dir.path().join("x.json"), parts[1]);
    let values = melspec::npy::read_f32_2d(&npy);
    let sidecar = melspec::Sidecar::read(&json);
    let (Ok(mut values), Ok(sidecar)) = (values, sidecar) else {
        return;
    };
    if sidecar.shape != [values.nrows(), values.ncols()] || values.len() > FURTHER {
        return;
    }
    let params = sidecar.params;
    let Some(slice) = values.as_slice_mut() else {
        return;
    };
    if slice.iter().any(|v| !v.is_finite()) || sidecar.scale.to_linear(slice, params.power).is_err()
    {
        return;
    }
    let mut opts = melspec::inverse::InversionOptions::default();
    opts.phase.method = melspec::phase::PhaseMethod::Fgla;
    opts.phase.n_iter = 1;
    opts.refine.n_iter = 0;
    let length = sidecar.source.map(|s| s.analysed_samples);
    if sidecar.kind == melspec::SpectrogramKind::Mel {
        let _ =
            melspec::inverse::mel_to_audio(values.view(), &params, &opts, length, &mut |_, _| {});
    }
}

/// A dataset: `manifest.json` and `frames.npy`, opened as training opens it; a window of
/// each split is read and normalised.
pub fn manifest(data: &[u8]) {
    let parts = split(data, 2);
    let dir = scratch();
    write(&dir.path().join("manifest.json"), parts[0]);
    write(&dir.path().join("frames.npy"), parts[1]);
    let Ok(ds) = Dataset::open(dir.path()) else {
        return;
    };
    let n_mels = ds.manifest().n_mels;
    for split in [Split::Train, Split::Valid] {
        let Ok(index) = ds.window_index(split, 4, 2, true) else {
            continue;
        };
        if index.is_empty() || 4 * n_mels > FURTHER {
            continue;
        }
        let mut out = vec![0.0; 4 * n_mels];
        let _ = ds.read_window(&index, index.len() - 1, Normalization::Standard, &mut out);
    }
}

/// A tier checkpoint: `config.json`, `state.json`, `weights.safetensors` and
/// `optimizer.safetensors` in the current checkpoint directory of a tier directory, loaded
/// for training and for inference.
pub fn checkpoint(data: &[u8]) {
    use melnet::checkpoint::{CONFIG_FILE, CURRENT_FILE, OPTIMIZER_FILE, STATE_FILE, WEIGHTS_FILE};
    let parts = split(data, 4);
    let dir = scratch();
    let tier = dir.path().join("tier-1");
    let ckpt = tier.join("checkpoint-0000000001");
    std::fs::create_dir_all(&ckpt).expect("scratch space is writable");
    write(&tier.join(CURRENT_FILE), b"checkpoint-0000000001");
    for (name, bytes) in [CONFIG_FILE, STATE_FILE, WEIGHTS_FILE, OPTIMIZER_FILE]
        .iter()
        .zip(&parts)
    {
        write(&ckpt.join(name), bytes);
    }
    let _ = melnet::train::Trainer::load(&tier);
    let _ = melnet::checkpoint::load_tier(&tier);
}

/// A tier settings TOML file (`melnet train --config`), and the memory check of the tier it
/// describes.
pub fn tier_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = melnet::model::TierFile::parse(Path::new("tier.toml"), text) else {
        return;
    };
    let spec = file.over(melnet::model::TierSpec::default());
    if spec.validate().is_ok() {
        let _ = spec.check_training_memory(80, 32, 8);
    }
}

/// A DX7 bank file (bulk or single-voice SysEx, or raw packed voices): parsed voice by voice;
/// the first two readable voices play a short note.
pub fn sysex(data: &[u8]) {
    let Ok(voices) = dx7::bank::parse_each(data) else {
        return;
    };
    let settings = dx7::RenderSettings {
        note: 60,
        velocity: 100,
        note_seconds: 0.02,
        seconds: 0.04,
        sr: 8000.0,
    };
    for voice in voices.iter().flatten().take(2) {
        let _ = voice.to_packed();
        let _ = dx7::render(voice, &settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_inverts_join() {
        let parts: [&[u8]; 3] = [b"a", b"", b"c\nd"];
        assert_eq!(split(&join(&parts), 3), parts.to_vec());
        assert_eq!(split(b"only", 3), vec![&b"only"[..], b"", b""]);
    }
}
