//! What a trained model predicts against what the data holds, to find out why free-running
//! samples drift louder or quieter than the data: tier 1 teacher-forced on the validation
//! windows — the predicted share of floor elements Σ_k π_k Φ((floor − μ_k)/σ_k) and the
//! predicted mean of the censored value E[max(x, floor)] against the real ones, binned by the
//! level of the same bin one frame earlier (the feedback a free-running sampler lives on) —
//! then tier 1 free-running from the same model: its level frame by frame.
//!
//! `cargo run --release -p melnet --example calibration -- MODEL DATASET [FRAMES] [BIAS]`

use candle_core::Tensor;
use melnet::multiscale::Grid;
use melnet::{Model, SampleOptions, Sampler};
use melnet_data::dataset::Dataset;
use rand::SeedableRng;

/// Φ(u) for f64 through erfc.
fn ndtr(u: f64) -> f64 {
    0.5 * libm::erfc(-u / std::f64::consts::SQRT_2)
}

/// φ(u).
fn pdf(u: f64) -> f64 {
    (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn main() -> melnet::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = Model::open(args[1].as_ref())?;
    let ds = Dataset::open(args[2].as_ref()).expect("dataset");
    let free_frames: usize = args.get(3).map_or(400, |v| v.parse().unwrap());
    let bias: f32 = args.get(4).map_or(0.0, |v| v.parse().unwrap());
    let tiers = model.load_tiers()?;
    let c = model.config();
    // LONG=N: 16 training windows of N full-resolution frames instead of the validation
    // windows (how the predictions hold up past the training window length).
    let long: Option<usize> = std::env::var("LONG").ok().map(|v| v.parse().unwrap());
    let count = melnet::train::fit::VALID_WINDOWS;
    let (x, frames) = match long {
        None => {
            let windows = melnet::train::fit::TrainingData::new(&model, &ds)?.valid()?;
            (windows.x, windows.frames)
        }
        Some(frames) => {
            let w = ds
                .windows(melnet_data::dataset::Split::Train, frames, true)
                .expect("windows");
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            let mut buf = vec![0.0f32; count * frames * c.n_mels];
            for chunk in buf.chunks_exact_mut(frames * c.n_mels) {
                w.sample(&mut rng, c.normalization, chunk).expect("window");
            }
            (buf, frames)
        }
    };
    let inputs = model.tier_inputs(&x, count, frames, &melnet::Conditions::default())?;
    let (xt, _) = &inputs[0];
    let tier = &tiers[0];
    let grid = Grid {
        frames: xt.dim(1)?,
        bins: xt.dim(2)?,
    };
    let floor = tier.config().floor.clone().expect("a censored model");
    // NOISE: Gaussian noise of this standard deviation (normalised units) added to the context
    // the model sees, the scored values staying clean.
    let noise: f64 = std::env::var("NOISE").map_or(0.0, |v| v.parse().unwrap());
    let seen = if noise > 0.0 {
        (xt + (Tensor::randn(0f32, 1.0, xt.shape(), xt.device())? * noise)?)?
    } else {
        xt.clone()
    };
    let gmm = tier.forward(&seen, &melnet::Context::default())?;
    let flat = |t: Tensor| -> melnet::Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
    let (mu, ls, lw) = (
        flat(gmm.means()?)?,
        flat(gmm.log_scales()?)?,
        flat(gmm.log_weights()?)?,
    );
    let xv = flat(xt.clone())?;
    let k = mu.len() / xv.len();
    // Per element: predicted floor probability, predicted E[max(x, floor)], the mode's mean.
    let (mut p_floor, mut e_cens, mut mode) = (vec![0.0f32; xv.len()], xv.clone(), xv.clone());
    for (i, _) in xv.iter().enumerate() {
        let fl = f64::from(floor[i % grid.bins]);
        let (mut p, mut e, mut best) = (0.0f64, 0.0f64, (f32::NEG_INFINITY, 0.0f32));
        for j in 0..k {
            let at = i * k + j;
            let (m, s, w) = (
                f64::from(mu[at]),
                f64::from(ls[at]).exp(),
                f64::from(lw[at]).exp(),
            );
            let a = (fl - m) / s;
            let phi = ndtr(a);
            p += w * phi;
            e += w * (fl * phi + m * (1.0 - phi) + s * pdf(a));
            if lw[at] > best.0 {
                best = (lw[at], mu[at].max(fl as f32));
            }
        }
        p_floor[i] = p as f32;
        e_cens[i] = e as f32;
        mode[i] = best.1;
    }
    // In dB (denormalised, time-major rows of `bins`).
    let db = |v: &[f32]| {
        let mut v = v.to_vec();
        model.denormalize(&mut v);
        v
    };
    let (x_db, e_db, mode_db) = (db(&xv), db(&e_cens), db(&mode));
    let at_floor: Vec<bool> = xv
        .iter()
        .enumerate()
        .map(|(i, &v)| v <= floor[i % grid.bins] + 1e-4)
        .collect();
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    println!(
        "teacher-forced tier 1 ({} windows, {}×{}): floor share real {:.1} % predicted {:.1} %; \
         mean real {:.1} dB, predicted E[max(x,floor)] {:.1} dB, mode {:.1} dB",
        count,
        grid.frames,
        grid.bins,
        100.0 * at_floor.iter().filter(|&&b| b).count() as f64 / xv.len() as f64,
        100.0 * mean(&p_floor),
        mean(&x_db),
        mean(&e_db),
        mean(&mode_db),
    );
    // Predicted minus real mean level per block of frames.
    let per = grid.frames * grid.bins;
    let tblock = (grid.frames / 8).max(1);
    print!("predicted − real dB per {tblock} frames:");
    for b in 0..grid.frames.div_ceil(tblock) {
        let mut d = 0.0f64;
        let mut cnt = 0usize;
        for i in 0..xv.len() {
            let t = (i % per) / grid.bins;
            if t / tblock == b {
                d += f64::from(e_db[i] - x_db[i]);
                cnt += 1;
            }
        }
        print!(" {:+.2}", d / cnt as f64);
    }
    println!();
    // Binned by the same bin's real level one frame earlier.
    let edges = [-80.5f32, -70.0, -60.0, -50.0, -40.0, -30.0, 0.0];
    println!("previous frame's level → next: n, real floor %, predicted floor %, real dB, predicted dB, mode dB, real−previous dB");
    for w in edges.windows(2) {
        let (mut n, mut rf, mut pf, mut rx, mut px, mut md, mut dlt) =
            (0usize, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let per = grid.frames * grid.bins;
        for i in 0..xv.len() {
            let t = (i % per) / grid.bins;
            if t == 0 {
                continue;
            }
            let prev = x_db[i - grid.bins];
            if prev < w[0] || prev >= w[1] {
                continue;
            }
            n += 1;
            rf += f64::from(u8::from(at_floor[i]));
            pf += f64::from(p_floor[i]);
            rx += f64::from(x_db[i]);
            px += f64::from(e_db[i]);
            md += f64::from(mode_db[i]);
            dlt += f64::from(x_db[i] - prev);
        }
        let n1 = n.max(1) as f64;
        println!(
            "  [{:>6.1}, {:>6.1}) dB: {n:>6}, {:>5.1} %, {:>5.1} %, {:>6.1}, {:>6.1}, {:>6.1}, {:>+5.1}",
            w[0],
            w[1],
            100.0 * rf / n1,
            100.0 * pf / n1,
            rx / n1,
            px / n1,
            md / n1,
            dlt / n1
        );
    }
    // Free-running tier 1: mean level per block of frames.
    let n = 8;
    let mut sampler = Sampler::new(tier, n)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let out = sampler.generate(
        free_frames,
        SampleOptions {
            bias,
            range: model.range(),
        },
        &mut rng,
        |_| {},
    )?;
    let bins = grid.bins;
    let out_db = db(&out);
    let block = (free_frames / 8).max(1);
    print!("free-running tier 1, {n} samples, bias {bias}: mean dB / floor % per {block} frames:");
    for b in 0..free_frames.div_ceil(block) {
        let (mut s, mut fl, mut cnt) = (0.0f64, 0usize, 0usize);
        for smp in 0..n {
            for t in b * block..((b + 1) * block).min(free_frames) {
                let row = (smp * free_frames + t) * bins;
                for (f, &fv) in floor.iter().enumerate().take(bins) {
                    s += f64::from(out_db[row + f]);
                    fl += usize::from(out[row + f] <= fv + 1e-4);
                    cnt += 1;
                }
            }
        }
        print!(
            " {:.1}/{:.0}%",
            s / cnt as f64,
            100.0 * fl as f64 / cnt as f64
        );
    }
    println!();
    Ok(())
}
