//! The multi-scale split (arXiv 1906.01083 §6, DESIGN.md §5 "Multi-scale"): a full-resolution
//! spectrogram is split by alternate rows into G tiers. Tier g ≥ 2 splits along
//! [`split_axis`]`(g)` — frequency when g is even, time when g is odd — starting from the full
//! resolution at g = G: the rows 0, 2, 4, … ("coarse") are everything the tiers below g
//! generate, x^{<g}, and the rows 1, 3, 5, … ("fine") are x^g. Tier 1 is what is left after
//! the G − 1 splits. So every tier's shape follows from (frames, bins, G).
//!
//! Spectrograms here are time-major batches `[batch, frames, bins]` of `f32` (the model's
//! layout). An odd number of rows leaves the extra row in the coarse part: coarse has
//! ⌈n/2⌉ rows, fine ⌊n/2⌋.

use serde::{Deserialize, Serialize};

/// The axis a tier splits along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    /// Frames: fine frame i lies between coarse frames i and i + 1.
    Time,
    /// Bins: fine bin i lies between coarse bins i and i + 1.
    Frequency,
}

/// The split axis of tier `g` ≥ 2: frequency when g is even, time when g is odd.
pub fn split_axis(g: usize) -> Axis {
    if g.is_multiple_of(2) {
        Axis::Frequency
    } else {
        Axis::Time
    }
}

/// The size of one spectrogram, frames × bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// Frames (time).
    pub frames: usize,
    /// Bins (frequency).
    pub bins: usize,
}

impl Grid {
    /// Elements, frames · bins.
    pub fn len(&self) -> usize {
        self.frames * self.bins
    }

    /// True when the grid has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows along `axis`.
    pub fn along(&self, axis: Axis) -> usize {
        match axis {
            Axis::Time => self.frames,
            Axis::Frequency => self.bins,
        }
    }

    /// This grid with `rows` rows along `axis`.
    fn with(self, axis: Axis, rows: usize) -> Grid {
        match axis {
            Axis::Time => Grid {
                frames: rows,
                ..self
            },
            Axis::Frequency => Grid { bins: rows, ..self },
        }
    }

    /// The (coarse, fine) grids of a split along `axis`: ⌈n/2⌉ and ⌊n/2⌋ rows.
    pub fn split(&self, axis: Axis) -> (Grid, Grid) {
        let n = self.along(axis);
        (self.with(axis, n.div_ceil(2)), self.with(axis, n / 2))
    }
}

/// The shapes of tier `g` of a G-tier model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierShape {
    /// Tier number, 1 … G.
    pub tier: usize,
    /// The grid of x^g, the part the tier generates.
    pub grid: Grid,
    /// For g ≥ 2: the split axis and the grid of x^{<g}, the part the tier is conditioned on.
    pub conditioning: Option<(Axis, Grid)>,
}

/// The shapes of every tier (index 0 is tier 1) of a `tiers`-tier model of `full`.
pub fn tier_shapes(full: Grid, tiers: usize) -> Vec<TierShape> {
    let mut shapes = Vec::with_capacity(tiers);
    let mut x = full;
    for g in (2..=tiers).rev() {
        let axis = split_axis(g);
        let (coarse, fine) = x.split(axis);
        shapes.push(TierShape {
            tier: g,
            grid: fine,
            conditioning: Some((axis, coarse)),
        });
        x = coarse;
    }
    if tiers > 0 {
        shapes.push(TierShape {
            tier: 1,
            grid: x,
            conditioning: None,
        });
    }
    shapes.reverse();
    shapes
}

/// Split `batch` spectrograms `x` `[batch, frames, bins]` of grid `grid` along `axis` into
/// (coarse, fine): rows 0, 2, 4, … and rows 1, 3, 5, … (see [`Grid::split`] for their grids).
///
/// # Panics
/// When `x` is not `batch · grid.len()` long (an internal invariant of the callers).
pub fn split(x: &[f32], batch: usize, grid: Grid, axis: Axis) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), batch * grid.len(), "split: input size");
    let (cg, fg) = grid.split(axis);
    let mut coarse = Vec::with_capacity(batch * cg.len());
    let mut fine = Vec::with_capacity(batch * fg.len());
    for item in x.chunks_exact(grid.len().max(1)) {
        match axis {
            Axis::Time => {
                for (t, frame) in item.chunks_exact(grid.bins).enumerate() {
                    let out = if t % 2 == 0 { &mut coarse } else { &mut fine };
                    out.extend_from_slice(frame);
                }
            }
            Axis::Frequency => {
                for frame in item.chunks_exact(grid.bins) {
                    coarse.extend(frame.iter().step_by(2));
                    fine.extend(frame.iter().skip(1).step_by(2));
                }
            }
        }
    }
    (coarse, fine)
}

/// The inverse of [`split`]: `batch` spectrograms of grid `grid` from their coarse and fine
/// parts along `axis`.
///
/// # Panics
/// When the parts do not have the sizes [`Grid::split`] gives.
pub fn interleave(coarse: &[f32], fine: &[f32], batch: usize, grid: Grid, axis: Axis) -> Vec<f32> {
    let (cg, fg) = grid.split(axis);
    assert_eq!(coarse.len(), batch * cg.len(), "interleave: coarse size");
    assert_eq!(fine.len(), batch * fg.len(), "interleave: fine size");
    let mut x = Vec::with_capacity(batch * grid.len());
    for i in 0..batch {
        let c = &coarse[i * cg.len()..(i + 1) * cg.len()];
        let f = &fine[i * fg.len()..(i + 1) * fg.len()];
        match axis {
            Axis::Time => {
                for t in 0..grid.frames {
                    let (src, row) = if t % 2 == 0 { (c, t / 2) } else { (f, t / 2) };
                    x.extend_from_slice(&src[row * grid.bins..(row + 1) * grid.bins]);
                }
            }
            Axis::Frequency => {
                for t in 0..grid.frames {
                    let cr = &c[t * cg.bins..(t + 1) * cg.bins];
                    let fr = &f[t * fg.bins..(t + 1) * fg.bins];
                    for b in 0..grid.bins {
                        x.push(if b % 2 == 0 { cr[b / 2] } else { fr[b / 2] });
                    }
                }
            }
        }
    }
    x
}

/// The parts of `batch` full-resolution spectrograms `x` `[batch, frames, bins]` for a
/// `tiers`-tier model, index 0 is tier 1: each tier's x^g and, for g ≥ 2, its conditioning
/// x^{<g} — the teacher-forced inputs of training and evaluation.
pub fn split_tiers(x: &[f32], batch: usize, full: Grid, tiers: usize) -> Vec<TierData> {
    let mut out = Vec::with_capacity(tiers);
    let mut current = x.to_vec();
    let mut grid = full;
    for g in (2..=tiers).rev() {
        let axis = split_axis(g);
        let (coarse, fine) = split(&current, batch, grid, axis);
        out.push(TierData {
            x: fine,
            conditioning: Some(coarse.clone()),
        });
        current = coarse;
        grid = grid.split(axis).0;
    }
    if tiers > 0 {
        out.push(TierData {
            x: current,
            conditioning: None,
        });
    }
    out.reverse();
    out
}

/// One tier's part of a batch (see [`split_tiers`]); shapes from [`tier_shapes`].
#[derive(Debug, Clone, PartialEq)]
pub struct TierData {
    /// x^g `[batch, frames, bins]` of the tier's grid.
    pub x: Vec<f32>,
    /// x^{<g} `[batch, frames, bins]` of the conditioning grid (tiers g ≥ 2).
    pub conditioning: Option<Vec<f32>>,
}

/// Put per-tier arrays (index 0 is tier 1, each `[batch, frames, bins]` of its tier's grid)
/// back together into full-resolution `[batch, frames, bins]` arrays: the inverse of
/// [`split_tiers`]'s x^g parts. Used for generated spectrograms and per-element NLL maps.
///
/// # Panics
/// When the parts do not have the sizes [`tier_shapes`] gives.
pub fn assemble(parts: &[Vec<f32>], batch: usize, full: Grid) -> Vec<f32> {
    let shapes = tier_shapes(full, parts.len());
    let mut current = parts.first().cloned().unwrap_or_default();
    for (shape, fine) in shapes.iter().zip(parts).skip(1) {
        let (axis, coarse) = shape.conditioning.expect("tiers ≥ 2 are conditioned");
        let grid = match axis {
            Axis::Time => Grid {
                frames: coarse.frames + shape.grid.frames,
                ..coarse
            },
            Axis::Frequency => Grid {
                bins: coarse.bins + shape.grid.bins,
                ..coarse
            },
        };
        current = interleave(&current, fine, batch, grid, axis);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn interleave_inverts_split_for_odd_and_even_sizes() {
        for frames in 1..=7 {
            for bins in 1..=7 {
                let grid = Grid { frames, bins };
                for batch in [1, 3] {
                    let x = ramp(batch * grid.len());
                    for axis in [Axis::Time, Axis::Frequency] {
                        let (c, f) = split(&x, batch, grid, axis);
                        let (cg, fg) = grid.split(axis);
                        assert_eq!(c.len(), batch * cg.len());
                        assert_eq!(f.len(), batch * fg.len());
                        assert_eq!(
                            interleave(&c, &f, batch, grid, axis),
                            x,
                            "{grid:?} {axis:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn split_takes_alternate_rows() {
        // [1, 3, 4]: frames 0..3, bins 0..4, value = 10·t + b.
        let grid = Grid { frames: 3, bins: 4 };
        let x: Vec<f32> = (0..3)
            .flat_map(|t| (0..4).map(move |b| (10 * t + b) as f32))
            .collect();
        let (c, f) = split(&x, 1, grid, Axis::Time);
        assert_eq!(c, [0., 1., 2., 3., 20., 21., 22., 23.]);
        assert_eq!(f, [10., 11., 12., 13.]);
        let (c, f) = split(&x, 1, grid, Axis::Frequency);
        assert_eq!(c, [0., 2., 10., 12., 20., 22.]);
        assert_eq!(f, [1., 3., 11., 13., 21., 23.]);
    }

    /// The tier shapes by direct computation: halve along the axes from the top tier down.
    fn direct(frames: usize, bins: usize, tiers: usize) -> Vec<(usize, usize)> {
        let (mut t, mut f) = (frames, bins);
        let mut fine = vec![];
        for g in (2..=tiers).rev() {
            if g % 2 == 0 {
                fine.push((t, f / 2));
                f = f.div_ceil(2);
            } else {
                fine.push((t / 2, f));
                t = t.div_ceil(2);
            }
        }
        fine.push((t, f));
        fine.reverse();
        fine
    }

    #[test]
    fn tier_shapes_match_a_direct_computation() {
        for (bins, frames) in [(80, 200), (128, 431)] {
            for tiers in 1..=6 {
                let full = Grid { frames, bins };
                let shapes = tier_shapes(full, tiers);
                let got: Vec<(usize, usize)> = shapes
                    .iter()
                    .map(|s| (s.grid.frames, s.grid.bins))
                    .collect();
                assert_eq!(
                    got,
                    direct(frames, bins, tiers),
                    "{bins}×{frames}, G={tiers}"
                );
                // Every element of the full grid belongs to exactly one tier.
                let total: usize = shapes.iter().map(|s| s.grid.len()).sum();
                assert_eq!(total, full.len());
                // The split axes alternate: tier 2 frequency, tier 3 time, ...
                for s in &shapes[1..] {
                    assert_eq!(s.conditioning.unwrap().0, split_axis(s.tier));
                }
            }
        }
        // 128 × 431 with 6 tiers: tier 1 is 16 mels × 108 frames.
        let t1 = tier_shapes(
            Grid {
                frames: 431,
                bins: 128,
            },
            6,
        )[0]
        .grid;
        assert_eq!((t1.bins, t1.frames), (16, 108));
    }

    #[test]
    fn assemble_inverts_split_tiers() {
        for tiers in 1..=5 {
            for (frames, bins) in [(9, 7), (8, 8), (5, 32)] {
                let full = Grid { frames, bins };
                let x = ramp(2 * full.len());
                let parts = split_tiers(&x, 2, full, tiers);
                let shapes = tier_shapes(full, tiers);
                for (p, s) in parts.iter().zip(&shapes) {
                    assert_eq!(p.x.len(), 2 * s.grid.len());
                    if let (Some(c), Some((_, g))) = (&p.conditioning, s.conditioning) {
                        assert_eq!(c.len(), 2 * g.len());
                    }
                }
                let xs: Vec<Vec<f32>> = parts.into_iter().map(|p| p.x).collect();
                assert_eq!(assemble(&xs, 2, full), x);
            }
        }
    }
}
