//! Shared test data.

/// `frames` frames of a real recording, melnet-small analysis in dB, standardised: `[frames, 32]`.
pub fn real_spectrogram(frames: usize) -> Vec<f32> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/numbers.wav");
    let p = melspec::Preset::by_name("melnet-small").unwrap().params;
    let audio = melspec::audio::load_resampled(&path, p.sr).unwrap();
    let mel = melspec::MelSpectrogram::new(p.stft(), p.mel(), p.power)
        .unwrap()
        .process(&audio.samples)
        .unwrap();
    let mut db: Vec<f32> = mel.iter().copied().collect();
    melspec::convert::to_db_ref_max(&mut db, p.power);
    let (n_mels, total) = mel.dim();
    let start = total / 3;
    let mut x = Vec::with_capacity(frames * n_mels);
    for t in start..start + frames {
        x.extend((0..n_mels).map(|m| db[m * total + t]));
    }
    let mean = x.iter().sum::<f32>() / x.len() as f32;
    let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / x.len() as f32).sqrt();
    x.iter().map(|v| (v - mean) / std).collect()
}
