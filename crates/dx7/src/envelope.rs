//! The DX7's envelope generators, run once per control block of [`BLOCK`] samples.
//!
//! The operator EG works on a log amplitude scale (Q24 log2 units, 2^24 = 6.02 dB): a falling
//! segment moves down linearly in that scale (an exponential decay), a rising segment takes
//! steps that shrink as the level grows (the DX7's fast-then-slow attack), starting no lower
//! than the level where the attack becomes audible. A segment whose target equals the current
//! level (or an attack to level 0) still lasts the time the DX7 measures for its rate.
//! Rates advance per block, scaled by 44.1 kHz / sr so times do not depend on the rate.

use crate::tables::{scale_output_level, PITCH_EG_LEVEL, PITCH_EG_RATE, STATIC_SEGMENT};

/// Samples per control block: envelopes, LFO and pitch are updated once per block and the
/// operator gains interpolated linearly within it.
pub const BLOCK: usize = 64;
const LG_BLOCK: i32 = 6;

/// An operator's amplitude envelope (4 rates, 4 levels, 0–99 each).
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    rates: [i32; 4],
    levels: [i32; 4],
    /// Output level incl. keyboard and velocity scaling, internal units · 32.
    out_level: i32,
    rate_scaling: i32,
    /// 44.1 kHz / sr in Q24.
    sr_factor: i64,
    /// Blocks (in samples) a segment that does not move still lasts.
    hold: i64,
    s: Segments,
}

/// What both envelope generators share: four segments, each moving the level toward its
/// target by a step per block; the fourth waits for the key's release.
#[derive(Debug, Clone, Default)]
struct Segments {
    level: i64,
    target: i64,
    inc: i64,
    rising: bool,
    stage: usize,
    released: bool,
}

impl Segments {
    /// Whether the current segment moves (segments 1–3, and 4 after the release).
    fn moving(&self) -> bool {
        self.stage < 3 || (self.stage < 4 && self.released)
    }

    /// Moves the level by `rise` (rising) or `inc` (falling); true when it reaches the target.
    fn advance(&mut self, rise: i64) -> bool {
        let reached = if self.rising {
            self.level += rise;
            self.level >= self.target
        } else {
            self.level -= self.inc;
            self.level <= self.target
        };
        if reached {
            self.level = self.target;
        }
        reached
    }

    /// Releases the key; true the first time (the caller enters segment 4).
    fn release(&mut self) -> bool {
        !std::mem::replace(&mut self.released, true)
    }
}

impl Envelope {
    /// A key-down envelope at level 0 starting its first segment.
    pub(crate) fn new(
        rates: [i32; 4],
        levels: [i32; 4],
        out_level: i32,
        rate_scaling: i32,
        sr: f64,
    ) -> Self {
        let mut env = Envelope {
            rates,
            levels,
            out_level,
            rate_scaling,
            sr_factor: (44100.0 / sr * f64::from(1 << 24)) as i64,
            hold: 0,
            s: Segments::default(),
        };
        env.enter(0);
        env
    }

    /// Releases the key: jumps to the fourth segment.
    pub(crate) fn release(&mut self) {
        if self.s.release() {
            self.enter(3);
        }
    }

    fn enter(&mut self, stage: usize) {
        self.s.stage = stage;
        if stage >= 4 {
            return;
        }
        let new_level = self.levels[stage];
        let actual = ((scale_output_level(new_level) >> 1) << 6) + self.out_level - 4256;
        self.s.target = i64::from(actual.max(16)) << 16;
        self.s.rising = self.s.target > self.s.level;
        let qrate = ((self.rates[stage] * 41) >> 6) + self.rate_scaling;
        let qrate = qrate.min(63);
        self.hold = if self.s.target == self.s.level || (stage == 0 && new_level == 0) {
            let rate = (self.rates[stage] + self.rate_scaling).min(99);
            let mut samples = if rate < 77 {
                STATIC_SEGMENT[rate as usize]
            } else {
                20 * (99 - rate)
            };
            if rate < 77 && stage == 0 && new_level == 0 {
                samples /= 20; // attacks to 0 are measured 20 times shorter
            }
            (i64::from(samples) * self.sr_factor) >> 24
        } else {
            0
        };
        let inc = i64::from(4 + (qrate & 3)) << (2 + LG_BLOCK + (qrate >> 2));
        self.s.inc = (inc * self.sr_factor) >> 24;
    }

    /// Advances one block; returns the level (Q24 log2, 2^24 · 14 ≈ full scale).
    pub(crate) fn next(&mut self) -> i32 {
        if self.hold > 0 {
            self.hold -= BLOCK as i64;
            if self.hold <= 0 {
                self.hold = 0;
                self.enter(self.s.stage + 1);
            }
        }
        if self.s.moving() && self.hold == 0 {
            let mut rise = 0;
            if self.s.rising {
                // Attacks start at the audible threshold and slow down as the level grows.
                const JUMP: i64 = 1716 << 16;
                self.s.level = self.s.level.max(JUMP);
                rise = (((17 << 24) - self.s.level) >> 24) * self.s.inc;
            }
            if self.s.advance(rise) {
                self.enter(self.s.stage + 1);
            }
        }
        self.s.level as i32
    }
}

/// The pitch envelope: 4 rates and 4 levels (50 = no shift), linear in pitch.
#[derive(Debug, Clone)]
pub(crate) struct PitchEnvelope {
    rates: [i32; 4],
    levels: [i32; 4],
    /// Pitch change per block at table speed 1, Q24 octaves.
    unit: i32,
    s: Segments,
}

impl PitchEnvelope {
    /// A key-down pitch envelope starting from level 4.
    pub(crate) fn new(rates: [i32; 4], levels: [i32; 4], sr: f64) -> Self {
        // The full pitch range (−4..+4 octaves) takes about 21.3 s at speed 1.
        let unit = (BLOCK as f64 * f64::from(1 << 24) / (21.3 * sr) + 0.5) as i32;
        let mut env = PitchEnvelope {
            rates,
            levels,
            unit,
            s: Segments {
                level: i64::from(PITCH_EG_LEVEL[levels[3] as usize] << 19),
                ..Segments::default()
            },
        };
        env.enter(0);
        env
    }

    /// Releases the key: jumps to the fourth segment.
    pub(crate) fn release(&mut self) {
        if self.s.release() {
            self.enter(3);
        }
    }

    fn enter(&mut self, stage: usize) {
        self.s.stage = stage;
        if stage < 4 {
            self.s.target = i64::from(PITCH_EG_LEVEL[self.levels[stage] as usize] << 19);
            self.s.rising = self.s.target > self.s.level;
            self.s.inc = i64::from(PITCH_EG_RATE[self.rates[stage] as usize] * self.unit);
        }
    }

    /// Advances one block; returns the pitch offset in Q24 octaves.
    pub(crate) fn next(&mut self) -> i32 {
        if self.s.moving() && self.s.advance(self.s.inc) {
            self.enter(self.s.stage + 1);
        }
        self.s.level as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks until the envelope's level stops changing while the key is held.
    fn blocks_to_settle(env: &mut Envelope) -> usize {
        let mut last = env.next();
        for n in 1..1_000_000 {
            let l = env.next();
            if l == last && env.s.stage >= 3 {
                return n;
            }
            last = l;
        }
        unreachable!("envelope never settled")
    }

    #[test]
    fn fast_attack_reaches_full_level_within_a_few_milliseconds() {
        let sr = 44100.0;
        let mut env = Envelope::new([99, 99, 99, 99], [99, 99, 99, 0], 127 << 5, 0, sr);
        let n = blocks_to_settle(&mut env);
        assert!(n * BLOCK < 441, "{n} blocks");
        // Level 99 at output level 99: 15 · 2^24 (gain 2 in the engine's scale).
        assert_eq!(env.next(), 15 << 24);
    }

    #[test]
    fn decay_time_scales_with_rate_and_not_with_sample_rate() {
        let time = |rate: i32, sr: f64| {
            let mut env = Envelope::new([99, rate, 99, 99], [99, 0, 0, 0], 127 << 5, 0, sr);
            blocks_to_settle(&mut env) as f64 * BLOCK as f64 / sr
        };
        let (slow, fast) = (time(40, 44100.0), time(70, 44100.0));
        assert!(slow > 4.0 * fast, "{slow} vs {fast}");
        // The same segment at 22.05 kHz and 96 kHz lasts the same time to within a block.
        for sr in [22050.0, 96000.0] {
            assert!(
                (time(40, sr) - slow).abs() < 2.0 * BLOCK as f64 / 22050.0,
                "{sr}"
            );
        }
    }

    #[test]
    fn release_falls_to_level_4() {
        let mut env = Envelope::new([99, 99, 99, 60], [99, 99, 99, 0], 127 << 5, 0, 44100.0);
        for _ in 0..10 {
            env.next();
        }
        env.release();
        let mut last = env.next();
        for _ in 0..100_000 {
            let l = env.next();
            assert!(l <= last);
            last = l;
        }
        assert_eq!(last, 16 << 16, "the floor of the internal scale");
    }

    #[test]
    fn pitch_envelope_moves_linearly_to_its_levels() {
        // Start at level 4 = 99 (+127/32 octaves), go to 50 (0) at rate 50.
        let mut env = PitchEnvelope::new([50, 99, 99, 99], [50, 50, 50, 99], 44100.0);
        let first = env.next();
        assert!(first < 127 << 19 && first > 0);
        let second = env.next();
        assert_eq!(first - second, PITCH_EG_RATE[50] * env.unit);
        for _ in 0..100_000 {
            env.next();
        }
        assert_eq!(env.next(), 0);
    }
}
