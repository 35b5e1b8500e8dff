//! Sampling speed of one tier: the incremental sampler against the naive method (the training
//! forward pass re-run on the growing spectrogram for every element), for `bench/run.sh
//! sample`. The naive method is timed at two short lengths; its cost grows as a power of the
//! length (ideally 2: every element re-reads all frames so far), measured from those two and
//! used to extrapolate to `--frames`. Prints one JSON line.
//!
//! `cargo run --release -p melnet --example sample_throughput -- --layers 6 --width 256`

mod support;

use std::time::Instant;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::{VarBuilder, VarMap};
use melnet::{SampleOptions, Sampler, Tier, TierConfig};
use rand::{Rng, SeedableRng};

/// Seconds to sample `frames` frames naively: for every element a forward pass over all
/// frames so far, then a draw from the mixture at that element.
fn naive(tier: &Tier, frames: usize, bins: usize, rng: &mut impl Rng) -> melnet::Result<f64> {
    let start = Instant::now();
    let mut x = vec![0.0f32; frames * bins];
    for t in 0..frames {
        for f in 0..bins {
            let seen = Tensor::from_slice(&x[..(t + 1) * bins], (1, t + 1, bins), &Device::Cpu)?;
            let gmm = tier.forward(&seen, None)?;
            let k = gmm.means.dim(3)?;
            let at =
                |p: &Tensor| -> melnet::Result<Vec<f32>> { Ok(p.i((0, t, f))?.to_vec1::<f32>()?) };
            let (means, log_w) = (at(&gmm.means)?, at(&gmm.log_weights)?);
            let scales: Vec<f32> = at(&gmm.log_scales)?.iter().map(|v| v.exp()).collect();
            let mut u: f32 = rng.gen();
            let mut pick = k - 1;
            for (j, w) in log_w.iter().enumerate() {
                u -= w.exp();
                if u < 0.0 {
                    pick = j;
                    break;
                }
            }
            let z: f32 = rng.sample(rand_distr::StandardNormal);
            x[t * bins + f] = means[pick] + scales[pick] * z;
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

fn main() -> melnet::Result<()> {
    support::init();
    let bins = support::arg("--mels", 32.0) as usize;
    let frames = support::arg("--frames", 64.0) as usize;
    let (short, long) = (
        support::arg("--naive-short", 2.0) as usize,
        support::arg("--naive-long", 4.0) as usize,
    );
    let (sr, hop) = (support::arg("--sr", 24000.0), support::arg("--hop", 512.0));
    let config = TierConfig {
        layers: support::arg("--layers", 2.0) as usize,
        width: support::arg("--width", 32.0) as usize,
        ..TierConfig::small(bins)
    };
    let varmap = VarMap::new();
    let tier = Tier::new(
        config.clone(),
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )?;
    melnet::init::init(&varmap, 0)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);

    let mut sampler = Sampler::new(&tier, 1)?;
    sampler.generate(2, SampleOptions::default(), &mut rng, |_| {})?; // warm-up
    sampler.reset();
    let start = Instant::now();
    sampler.generate(frames, SampleOptions::default(), &mut rng, |_| {})?;
    let incremental = start.elapsed().as_secs_f64();

    naive(&tier, 1, bins, &mut rng)?; // warm-up
    let t_short = naive(&tier, short, bins, &mut rng)?;
    let t_long = naive(&tier, long, bins, &mut rng)?;
    let exponent = (t_long / t_short).ln() / (long as f64 / short as f64).ln();
    let naive_extrapolated = t_long * (frames as f64 / long as f64).powf(exponent);
    let elements = (frames * bins) as f64;
    println!(
        "{{\"frames\": {frames}, \"incremental_s\": {incremental}, \
         \"incremental_elements_per_s\": {}, \"real_time_factor\": {}, \
         \"naive_short_s\": {t_short}, \"naive_long_s\": {t_long}, \"naive_exponent\": {exponent}, \
         \"naive_extrapolated_s\": {naive_extrapolated}, \"speedup\": {}}}",
        elements / incremental,
        frames as f64 * hop / sr / incremental,
        naive_extrapolated / incremental
    );
    Ok(())
}
