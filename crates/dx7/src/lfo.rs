//! The DX7's LFO: six waves, a delay with a ramp, key sync; updated once per control block.
//! Values are Q24 in [0, 1]; the phase is a 32-bit turn.

use std::sync::LazyLock;

use crate::envelope::BLOCK;
use crate::tables::LFO_HZ;

/// 1024 points of one sine cycle (Q24), generated as the reference engine does by rotating a
/// Q30 vector by 2π/1024 with rounding at every step, and a closing 0.
static SINE: LazyLock<[i32; 1025]> = LazyLock::new(|| {
    const N: usize = 1024;
    let step = std::f64::consts::TAU / N as f64;
    let c = (step.cos() * f64::from(1 << 30) + 0.5).floor() as i64;
    let s = (step.sin() * f64::from(1 << 30) + 0.5).floor() as i64;
    let (mut u, mut v) = (1i64 << 30, 0i64);
    let mut table = [0i32; N + 1];
    for i in 0..N / 2 {
        table[i] = ((v + 32) >> 6) as i32;
        table[i + N / 2] = -table[i];
        let t = (u * s + v * c + (1 << 29)) >> 30;
        u = (u * c - v * s + (1 << 29)) >> 30;
        v = t;
    }
    table
});

/// sin(2π · phase / 2^24), Q24, interpolated linearly in the 1024-point table.
fn sine(phase: u32) -> i32 {
    let k = ((phase >> 14) & 1023) as usize;
    let low = i64::from(phase & ((1 << 14) - 1));
    let (y0, y1) = (SINE[k], SINE[k + 1]);
    y0 + ((i64::from(y1 - y0) * low) >> 14) as i32
}

/// LFO wave shapes in voice order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wave {
    Triangle,
    SawDown,
    SawUp,
    Square,
    Sine,
    SampleHold,
}

/// LFO state for one note.
#[derive(Debug, Clone)]
pub(crate) struct Lfo {
    phase: u32,
    delta: u32,
    wave: Wave,
    delay_state: u32,
    delay_inc: [u32; 2],
    random: u32,
}

impl Lfo {
    /// An LFO for speed, delay (0–99), key sync and wave (0–5) at sample rate `sr`, keyed on.
    pub(crate) fn new(speed: u8, delay: u8, key_sync: bool, wave: u8, sr: f64) -> Self {
        // Phase units per block and Hz (the engine's LFO runs 1.0332 times the table rate).
        let ratio = (4_437_500_000.0 * BLOCK as f64 / sr) as u32;
        let delta = (LFO_HZ[usize::from(speed)] * f64::from(ratio)) as u32;
        // Delay: 2^32 / 15.5 s / 11 per block at 44.1 kHz, times a rate from the delay value;
        // the LFO fades in over the second half of the delay state.
        let unit = (BLOCK as f64 * 25_190_424.0 / sr + 0.5) as u32;
        let a = 99 - i32::from(delay);
        let delay_inc = if a == 99 {
            [u32::MAX; 2]
        } else {
            let first = (16 + (a & 15)) << (1 + (a >> 4));
            let second = (first & 0xff80).max(0x80);
            [
                unit.wrapping_mul(first as u32),
                unit.wrapping_mul(second as u32),
            ]
        };
        let wave = match wave {
            0 => Wave::Triangle,
            1 => Wave::SawDown,
            2 => Wave::SawUp,
            3 => Wave::Square,
            4 => Wave::Sine,
            _ => Wave::SampleHold,
        };
        Lfo {
            // Key sync starts the wave at its midpoint; a free-running LFO of a fresh synth at 0.
            phase: if key_sync { (1u32 << 31) - 1 } else { 0 },
            delta,
            wave,
            delay_state: 0,
            delay_inc,
            random: 0,
        }
    }

    /// Advances one block; returns the wave value, Q24 in [0, 1].
    pub(crate) fn next(&mut self) -> i32 {
        self.phase = self.phase.wrapping_add(self.delta);
        let p = self.phase;
        match self.wave {
            Wave::Triangle => {
                let x = (p >> 7) as i32 ^ -((p >> 31) as i32);
                x & ((1 << 24) - 1)
            }
            Wave::SawDown => ((!p ^ (1 << 31)) >> 8) as i32,
            Wave::SawUp => ((p ^ (1 << 31)) >> 8) as i32,
            Wave::Square => ((!p >> 7) & (1 << 24)) as i32,
            Wave::Sine => (1 << 23) + (sine(p >> 8) >> 1),
            Wave::SampleHold => {
                if p < self.delta {
                    self.random = (self.random * 179 + 17) & 0xff;
                }
                (((self.random ^ 0x80) + 1) << 16) as i32
            }
        }
    }

    /// Advances the delay one block; returns the LFO depth factor, Q24 in [0, 1].
    pub(crate) fn delay(&mut self) -> i32 {
        let inc = self.delay_inc[usize::from(self.delay_state >= 1 << 31)];
        match self.delay_state.checked_add(inc) {
            None => 1 << 24,
            Some(d) => {
                self.delay_state = d;
                if d < 1 << 31 {
                    0
                } else {
                    ((d >> 7) & ((1 << 24) - 1)) as i32
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_sets_the_period() {
        let sr = 48000.0;
        let mut lfo = Lfo::new(50, 0, true, 2, sr); // saw up, 7.99 Hz · 1.0332
        let mut wraps = 0;
        let mut last = lfo.next();
        let blocks = (sr / BLOCK as f64 * 10.0) as usize; // 10 s
        for _ in 0..blocks {
            let v = lfo.next();
            if v < last {
                wraps += 1;
            }
            last = v;
        }
        let hz = wraps as f64 / 10.0;
        assert!((hz - 7.993605 * 1.0332).abs() < 0.15, "{hz}");
    }

    #[test]
    fn waves_stay_in_range() {
        for wave in 0..6 {
            let mut lfo = Lfo::new(80, 0, false, wave, 44100.0);
            for _ in 0..5000 {
                let v = lfo.next();
                assert!((0..=1 << 24).contains(&v), "wave {wave}: {v}");
            }
        }
    }

    #[test]
    fn sine_table_is_a_sine() {
        for k in 0..256u32 {
            let phase = k << 16;
            let want = (f64::from(phase) / f64::from(1 << 24) * std::f64::consts::TAU).sin();
            assert!(
                (f64::from(sine(phase)) / f64::from(1 << 24) - want).abs() < 1e-5,
                "{k}"
            );
        }
    }

    #[test]
    fn delay_fades_in() {
        let mut none = Lfo::new(50, 0, true, 0, 44100.0);
        // No delay: full depth from the first block (one step short of 1.0, then 1.0).
        assert_eq!(none.delay(), (1 << 24) - 1);
        assert_eq!(none.delay(), 1 << 24);
        let mut slow = Lfo::new(50, 60, true, 0, 44100.0);
        let depths: Vec<i32> = (0..20_000).map(|_| slow.delay()).collect();
        assert_eq!(depths[0], 0);
        assert_eq!(*depths.last().unwrap(), 1 << 24);
        assert!(depths.windows(2).all(|w| w[1] >= w[0]));
    }
}
