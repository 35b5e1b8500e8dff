//! Shared test data.

/// `frames` frames of a real recording, melnet-small analysis in dB, standardised: `[frames, 32]`.
pub fn real_spectrogram(frames: usize) -> Vec<f32> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/numbers.wav");
    let p = melspec::Preset::by_name("melnet-small").unwrap().params;
    let audio = melspec::audio::load_resampled(&path, p.sr).unwrap();
    let mel = melspec::MelSpectrogram::new(p.stft, p.mel(), p.power)
        .unwrap()
        .process(&audio.samples)
        .unwrap();
    let mut db: Vec<f32> = mel.iter().copied().collect();
    melspec::db::to_db_ref_max(&mut db, p.power).unwrap();
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

/// The largest relative difference, over every element and component, between the mixture
/// parameters of the sampler's raw head output `raw` `[elements, 3K]` and those of the training
/// forward pass `gmm`.
pub fn worst_difference(raw: &[f32], gmm: &melnet::Gmm) -> f32 {
    let flat = |t: candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let means = flat(gmm.means().unwrap());
    let log_scales = flat(gmm.log_scales().unwrap());
    let log_weights = flat(gmm.log_weights().unwrap());
    let k = gmm.means().unwrap().dim(3).unwrap();
    let mut worst = 0.0f32;
    for (e, r) in raw.chunks_exact(3 * k).enumerate() {
        let logits = &r[2 * k..];
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let lse = max + logits.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
        for j in 0..k {
            let min_log_scale = melnet::gmm::MIN_LOG_SCALE as f32;
            let ours = [r[j], r[k + j].max(min_log_scale), logits[j] - lse];
            let theirs = [
                means[e * k + j],
                log_scales[e * k + j],
                log_weights[e * k + j],
            ];
            for (a, b) in ours.iter().zip(theirs) {
                worst = worst.max((a - b).abs() / (1.0 + b.abs()));
            }
        }
    }
    worst
}
