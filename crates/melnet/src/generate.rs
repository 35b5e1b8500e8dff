//! Tiered sampling (DESIGN.md §5 "Multi-scale"): tier 1 from scratch or primed, then every
//! upper tier with its incremental [`Sampler`] conditioned on everything generated so far,
//! interleaved as it goes. Spectrograms are time-major `[count, frames, bins]`, normalised.

use rand::Rng;

use crate::error::{Error, Result};
use crate::multiscale::{interleave, split_tiers, tier_shapes, Axis, Grid};
use crate::sample::{SampleOptions, Sampler};
use crate::text::Text;
use crate::tier::{Conditions, Tier};

/// How many tiers split time: tier 1 has `frames >> time_splits` frames (rounded up).
fn time_splits(shapes: &[crate::multiscale::TierShape]) -> usize {
    shapes
        .iter()
        .filter(|s| matches!(s.conditioning, Some((Axis::Time, _))))
        .count()
}

/// The error for conditions a model needs and was not given.
fn missing(what: &'static str) -> Error {
    Error::Shape {
        what: "conditions",
        expected: format!("{what} for a model conditioned on them"),
        got: "none".into(),
    }
}

/// Spectrograms from [`generate`].
#[derive(Debug, Clone)]
pub struct Generated {
    /// What tiers 1 … g generated together, x^{≤g}, for g = 1 … G (index 0 is tier 1 alone):
    /// its grid and values `[count, frames, bins]` — coarse to fine.
    pub levels: Vec<(Grid, Vec<f32>)>,
    /// The full-resolution spectrograms `[count, frames, bins]`.
    pub full: Vec<f32>,
    /// Full-resolution frames of the prime at the start of each.
    pub prime_frames: usize,
    /// A text model's attention windows over tier 1's frames, `[frames, count, chars]`, and
    /// `chars` (the longest text's characters); empty for other models.
    pub alignment: (Vec<f32>, usize),
    /// A text model's full-resolution frames up to the end of each text (the frame in which
    /// its attention passed the last character, included); `None` for a text that did not
    /// end, and for other models.
    pub ends: Vec<Option<usize>>,
}

impl Generated {
    /// Full-resolution frames of each of its `count` spectrograms.
    pub fn frames(&self, count: usize) -> usize {
        let bins = self.levels.last().map_or(1, |(g, _)| g.bins.max(1));
        self.full.len() / (count * bins).max(1)
    }

    /// The attention window of spectrogram `i` of `count` over its first `chars` characters,
    /// `(chars, tier-1 frames)`, for the tier-1 frames that its first `frames`
    /// full-resolution frames cover (all of them for a one-tier model); empty for a model
    /// without text.
    pub fn attention(
        &self,
        i: usize,
        count: usize,
        chars: usize,
        frames: usize,
    ) -> ndarray::Array2<f32> {
        let (phi, width) = (&self.alignment.0, self.alignment.1);
        let frames_1 = phi.len() / (count * width).max(1);
        let shown = frames_1.min((frames * frames_1).div_ceil(self.frames(count).max(1)));
        let chars = chars.min(width);
        ndarray::Array2::from_shape_fn((chars, shown), |(u, t)| phi[(t * count + i) * width + u])
    }
}

/// Generate `count` spectrograms of the full-resolution grid `full` with the G = `tiers.len()`
/// tiers of a multi-scale model (tier g models [`tier_shapes`]`(full, G)[g - 1]`): tier 1 from
/// scratch, then each upper tier conditioned on everything generated so far (its feature
/// network run once over the complete x^{<g}), interleaved as it goes. Every tier with labels
/// gets `conditions.labels`, a text tier 1 `conditions.texts`: it stops when the texts have
/// been said, and the full resolution is then as many frames as that tier 1 needs (at most
/// `full.frames`). A `prime` `[prime_frames, bins]` (full resolution, at most
/// `full.frames`) is split the same way and primes every tier: the outputs start with it.
/// `progress(g, done, total)` is called after every frame of tier g.
///
/// # Errors
/// [`Error::Shape`] when the prime does not fit, a tier does not model its shape, or the
/// conditions do not fit the tiers; candle errors.
#[allow(clippy::too_many_arguments)]
pub fn generate(
    tiers: &[Tier],
    full: Grid,
    count: usize,
    prime: Option<&[f32]>,
    conditions: &Conditions,
    options: SampleOptions,
    rng: &mut (impl Rng + Send),
    mut progress: impl FnMut(usize, usize, usize) + Send,
) -> Result<Generated> {
    let bins = full.bins;
    let prime_frames = prime.map_or(0, |p| p.len() / bins.max(1));
    if prime.is_some_and(|p| p.len() != prime_frames * bins || prime_frames > full.frames) {
        return Err(Error::Shape {
            what: "prime",
            expected: format!("[≤ {}, {bins}]", full.frames),
            got: format!("{} values", prime.map_or(0, <[f32]>::len)),
        });
    }
    let mut full = full;
    let mut shapes = tier_shapes(full, tiers.len());
    let primes: Vec<Vec<f32>> = match prime {
        Some(p) => split_tiers(
            p,
            1,
            Grid {
                frames: prime_frames,
                bins,
            },
            tiers.len(),
        )
        .into_iter()
        .map(|t| t.x)
        .collect(),
        None => vec![Vec::new(); tiers.len()],
    };
    let mut levels = Vec::with_capacity(tiers.len());
    let mut current: Vec<f32> = Vec::new();
    let mut alignment = (Vec::new(), 0);
    let mut ends = vec![None; count];
    for (index, (tier, prime)) in tiers.iter().zip(&primes).enumerate() {
        let shape = shapes[index];
        let g = shape.grid;
        tier.check_shape(&shape)?;
        let level = match shape.conditioning {
            Some((Axis::Time, cg)) => Grid {
                frames: cg.frames + g.frames,
                ..cg
            },
            Some((Axis::Frequency, cg)) => Grid {
                bins: cg.bins + g.bins,
                ..cg
            },
            None => g,
        };
        if g.is_empty() {
            // A time split of a spectrogram of one frame: nothing for this tier.
            levels.push((level, current.clone()));
            continue;
        }
        let mut sampler = Sampler::new(tier, count)?;
        if let Some((_, cg)) = shape.conditioning {
            sampler.condition(&current, cg, g.frames)?;
        }
        if tier.config().labels > 0 {
            let labels = conditions
                .labels
                .as_deref()
                .ok_or_else(|| missing("labels"))?;
            sampler.set_labels(labels)?;
        }
        if tier.config().text.is_some() {
            let texts = conditions
                .texts
                .as_deref()
                .ok_or_else(|| missing("texts"))?;
            sampler.set_text(&Text::new(texts)?)?;
        }
        let primed = prime.len() / g.bins.max(1);
        if primed > 0 {
            let all: Vec<f32> = (0..count).flat_map(|_| prime.iter().copied()).collect();
            sampler.teacher_force(&all, primed)?;
        }
        let mut todo = g.frames - primed;
        let drawn = sampler.generate(todo, options, rng, |done| {
            progress(shape.tier, primed + done, g.frames)
        })?;
        if drawn.len() < count * todo * g.bins {
            // A text tier 1 finished early: the grids of every tier follow its length.
            todo = drawn.len() / (count * g.bins);
            full.frames = ((primed + todo) << time_splits(&shapes)).min(full.frames);
            shapes = tier_shapes(full, tiers.len());
        }
        if tier.config().text.is_some() {
            let (a, chars) = sampler.alignment();
            alignment = (a.to_vec(), chars);
            let time_splits = time_splits(&shapes);
            ends = sampler.ended().map_or(Vec::new(), |e| {
                e.iter()
                    .map(|e| e.map(|t| ((t + 1) << time_splits).min(full.frames)))
                    .collect()
            });
        }
        let g = shapes[index].grid;
        let level = if shape.conditioning.is_none() {
            g
        } else {
            level
        };
        let mut x = Vec::with_capacity(count * g.len());
        for s in 0..count {
            x.extend_from_slice(prime);
            x.extend_from_slice(&drawn[s * todo * g.bins..(s + 1) * todo * g.bins]);
        }
        current = match shape.conditioning {
            Some((axis, _)) => interleave(&current, &x, count, level, axis),
            None => x,
        };
        levels.push((level, current.clone()));
    }
    debug_assert_eq!(current.len(), count * full.len());
    Ok(Generated {
        levels,
        full: current,
        prime_frames,
        alignment,
        ends,
    })
}
