//! Sampling speed of a model of G tiers (G = 1: one full-resolution tier): the tiered
//! incremental sampler ([`melnet::generate`]) against the naive method, for `bench/run.sh
//! sample`. Naive: for every element of tier g, the training forward pass over the tier's
//! frames so far (and, for an upper tier, the feature network over the same frames of x^{<g}),
//! then a draw at that element — a lower bound on what a correct naive sampler costs, which
//! must also run the feature network over the whole of x^{<g}. It is timed per tier at two
//! short lengths; its cost grows as a power of the length (2 in theory: every element re-reads
//! all frames so far), measured from those two, capped at 2 so that timing noise cannot inflate
//! it, and used to extrapolate to the tier's frames. The incremental time is the best of three. Weights are seeded random: speed does not
//! depend on training. Prints one JSON line.
//!
//! `cargo run --release -p melnet --example sample_throughput -- --tiers 3 --mels 64 --frames 188`

mod support;

use std::time::Instant;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::{VarBuilder, VarMap};
use melnet::model::TierSpec;
use melnet::multiscale::{tier_shapes, Grid, TierShape};
use melnet::{SampleOptions, Tier};
use rand::{Rng, SeedableRng};

/// Draws are clamped to a range like a standardised dataset's, as `melnet sample` does: random
/// weights fed their own unclamped draws overflow, and arithmetic on overflowed values is not
/// that of real sampling (NaN runs fast, huge and subnormal values slowly).
const RANGE: (f32, f32) = (-3.0, 3.0);

/// Seconds to sample `frames` frames of tier `shape` naively: for every element a forward pass
/// over all frames so far (with the same frames of `coarse`, x^{<g} `[frames', bins']`), then
/// a draw from the mixture at that element.
fn naive(
    tier: &Tier,
    shape: &TierShape,
    coarse: &[f32],
    frames: usize,
    rng: &mut impl Rng,
) -> melnet::Result<f64> {
    let bins = shape.grid.bins;
    let start = Instant::now();
    let mut x = vec![0.0f32; frames * bins];
    for t in 0..frames {
        let cond = match shape.conditioning {
            Some((_, cg)) => Some(Tensor::from_slice(
                &coarse[..(t + 1) * cg.bins],
                (1, t + 1, cg.bins),
                &Device::Cpu,
            )?),
            None => None,
        };
        for f in 0..bins {
            let seen = Tensor::from_slice(&x[..(t + 1) * bins], (1, t + 1, bins), &Device::Cpu)?;
            let gmm = tier.forward(&seen, &melnet::Context::coarse(cond.clone()))?;
            let (gm, gs, gw) = (gmm.means()?, gmm.log_scales()?, gmm.log_weights()?);
            let k = gm.dim(3)?;
            let at =
                |p: &Tensor| -> melnet::Result<Vec<f32>> { Ok(p.i((0, t, f))?.to_vec1::<f32>()?) };
            let (means, log_w) = (at(&gm)?, at(&gw)?);
            let scales: Vec<f32> = at(&gs)?.iter().map(|v| v.exp()).collect();
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
            x[t * bins + f] = (means[pick] + scales[pick] * z).clamp(RANGE.0, RANGE.1);
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

fn main() -> melnet::Result<()> {
    support::init();
    let tiers = support::arg("--tiers", 1.0) as usize;
    let full = Grid {
        frames: support::arg("--frames", 64.0) as usize,
        bins: support::arg("--mels", 32.0) as usize,
    };
    let (short, long) = (
        support::arg("--naive-short", 2.0) as usize,
        support::arg("--naive-long", 4.0) as usize,
    );
    let (sr, hop) = (support::arg("--sr", 24000.0), support::arg("--hop", 512.0));
    let spec = TierSpec {
        layers: support::arg("--layers", 2.0) as usize,
        width: support::arg("--width", 32.0) as usize,
        ..TierSpec::default()
    };
    let shapes = tier_shapes(full, tiers);
    let models: Vec<Tier> = shapes
        .iter()
        .map(|shape| {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
            let tier = Tier::new(spec.tier_config(shape)?, vb)?;
            melnet::init::init(&varmap, shape.tier as u64)?;
            Ok(tier)
        })
        .collect::<melnet::Result<_>>()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let options = SampleOptions {
        bias: 0.0,
        range: RANGE,
    };

    let warm = Grid { frames: 4, ..full };
    melnet::generate(
        &models,
        warm,
        1,
        None,
        &Default::default(),
        options,
        &mut rng,
        |_, _, _| {},
    )?;
    // Best of three; `ends[g - 1]`: seconds from the start to the end of tier g.
    let mut best: Option<(f64, Vec<f64>, melnet::Generated)> = None;
    for _ in 0..3 {
        let start = Instant::now();
        let mut ends = vec![0.0; tiers];
        let generated = melnet::generate(
            &models,
            full,
            1,
            None,
            &Default::default(),
            options,
            &mut rng,
            |g, _, _| ends[g - 1] = start.elapsed().as_secs_f64(),
        )?;
        let seconds = start.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|b| seconds < b.0) {
            best = Some((seconds, ends, generated));
        }
    }
    let (incremental, ends, generated) = best.expect("three runs");

    let mut rows = Vec::new();
    let mut naive_total = 0.0;
    for (g, (tier, shape)) in models.iter().zip(&shapes).enumerate() {
        let coarse = if g == 0 {
            &[][..]
        } else {
            &generated.levels[g - 1].1[..]
        };
        naive(tier, shape, coarse, 1, &mut rng)?; // warm-up
        let t_short = naive(tier, shape, coarse, short, &mut rng)?;
        let t_long = naive(tier, shape, coarse, long, &mut rng)?;
        let exponent = ((t_long / t_short).ln() / (long as f64 / short as f64).ln()).min(2.0);
        let extrapolated = t_long * (shape.grid.frames as f64 / long as f64).powf(exponent);
        naive_total += extrapolated;
        let own = ends[g] - if g == 0 { 0.0 } else { ends[g - 1] };
        rows.push(format!(
            "{{\"tier\": {}, \"frames\": {}, \"bins\": {}, \"incremental_s\": {own}, \
             \"naive_short_s\": {t_short}, \"naive_long_s\": {t_long}, \
             \"naive_exponent\": {exponent}, \"naive_extrapolated_s\": {extrapolated}}}",
            shape.tier, shape.grid.frames, shape.grid.bins
        ));
    }
    println!(
        "{{\"tiers\": {tiers}, \"frames\": {}, \"bins\": {}, \"incremental_s\": {incremental}, \
         \"incremental_elements_per_s\": {}, \"frames_per_s\": {}, \"real_time_factor\": {}, \
         \"naive_extrapolated_s\": {naive_total}, \"speedup\": {}, \"per_tier\": [{}]}}",
        full.frames,
        full.bins,
        full.len() as f64 / incremental,
        full.frames as f64 / incremental,
        full.frames as f64 * hop / sr / incremental,
        naive_total / incremental,
        rows.join(", ")
    );
    Ok(())
}
