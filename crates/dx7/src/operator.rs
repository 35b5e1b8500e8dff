//! The operator: a sine computed the way the DX7's operator chip computes it — a quarter-wave
//! log-sine table and an exponential table, so the envelope's attenuation is an addition in
//! the log domain and the output keeps the chip's 12-bit-mantissa resolution.
//!
//! Phases are 32-bit turns (2^32 = one cycle). Outputs and modulation inputs are Q24 with a
//! full-level operator swinging ±4 · 2^24 (±2 at output level 99, EG level 99, velocity
//! neutral); a modulation input of 2^24 shifts the phase by one cycle. Gains are
//! attenuations in 1/1024 octave (0 = loudest, 16384 = silent).

use std::sync::LazyLock;

use crate::envelope::BLOCK;

/// Largest attenuation (silence).
pub(crate) const ATTENUATION_MAX: i32 = 1 << 14;
/// Operators quieter than this over a whole block are not computed (−98 dB).
pub(crate) const ATTENUATION_AUDIBLE: i32 = ATTENUATION_MAX - 100;

struct Tables {
    /// −1024 · log2|sin| over a whole cycle of 4096 steps (the quarter-wave values at bin
    /// centres, mirrored), with bit 15 set in the negative half.
    log_sin: [u16; 4096],
    /// 4096 + (2^((1023 − k)/1024) − 1) · 4096 for the low 10 bits k of a log value: the
    /// output's mantissa, before the shift by the log value's integer part.
    mantissa: [u16; 1024],
}

const NEGATIVE: u16 = 0x8000;

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let quarter: [u16; 1024] = std::array::from_fn(|i| {
        let x = ((0.5 + i as f64) / 1024.0 * std::f64::consts::FRAC_PI_2).sin();
        (-1024.0 * x.log2()).round() as u16
    });
    Tables {
        log_sin: std::array::from_fn(|i| {
            let q = i & 1023;
            let v = if i & 1024 == 0 {
                quarter[q]
            } else {
                quarter[q ^ 1023]
            };
            if i & 2048 == 0 {
                v
            } else {
                v | NEGATIVE
            }
        }),
        mantissa: std::array::from_fn(|k| {
            let e = ((k ^ 1023) as f64 / 1024.0).exp2();
            4096 + ((e - 1.0) * 4096.0).round() as u16
        }),
    }
});

/// One operator sample: phase (32-bit turn) and attenuation (0..=16384) → Q24 output.
#[inline(always)]
fn sample(t: &Tables, phase: u32, attenuation: u32) -> i32 {
    let entry = t.log_sin[(phase >> 20) as usize]; // 4096 steps per cycle
    let log = u32::from(entry & !NEGATIVE) + attenuation;
    let magnitude = (u32::from(t.mantissa[(log & 1023) as usize]) >> (log >> 10)) as i32;
    // Negative half: −magnitude − 1 (one's complement), as the chip's sign-magnitude output.
    let sign = -i32::from(entry >> 15);
    (magnitude ^ sign) << 13
}

/// Attenuation at sample `i` of a block moving linearly from `from` to `to`.
#[inline(always)]
fn ramp(from: i32, step: i32, i: usize) -> u32 {
    (from + step * (i as i32 + 1)) as u32
}

/// The per-sample attenuation step from `from` to `to`, and the endpoints brought into
/// [64, 16384]. (Envelopes never go below 128; the rounded step overshoots by at most 32, so
/// the ramp stays positive and the output shift below 32 without a clamp per sample.)
fn step(from: i32, to: i32) -> (i32, i32, i32) {
    let (from, to) = (
        from.clamp(64, ATTENUATION_MAX),
        to.clamp(64, ATTENUATION_MAX),
    );
    (from, to, (to - from + (BLOCK as i32 >> 1)) >> 6)
}

/// One block of an operator: `out[i] = op(phase + i·inc + input[i])`, the attenuation moving
/// from `from` to `to` over the block. `input` is the summed modulation (Q24), or `None`.
pub(crate) fn block(
    out: &mut [i32; BLOCK],
    input: Option<&[i32; BLOCK]>,
    phase: u32,
    inc: u32,
    from: i32,
    to: i32,
) {
    let t = &*TABLES;
    let (from, _, d) = step(from, to);
    match input {
        Some(input) => {
            for (i, (o, &x)) in out.iter_mut().zip(input).enumerate() {
                let p = phase
                    .wrapping_add(inc.wrapping_mul(i as u32))
                    .wrapping_add((x as u32) << 8);
                *o = sample(t, p, ramp(from, d, i));
            }
        }
        None => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = sample(
                    t,
                    phase.wrapping_add(inc.wrapping_mul(i as u32)),
                    ramp(from, d, i),
                );
            }
        }
    }
}

/// Feedback state: the last two outputs of the loop's last operator (Q24).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Feedback {
    y: [i32; 2],
}

/// One block of a feedback loop over a chain of operators (one for self-feedback; 6 → 5 → 4
/// or 6 → 5 in algorithms 4 and 6): the first operator's phase is offset by the mean of the
/// chain's last two outputs divided by `2^shift`; each next operator takes the previous
/// operator's output as its input. `chain[k] = (phase, inc, from, to)`; the first operator's
/// attenuation ramps, the others' hold `to`. Writes the last operator's output.
pub(crate) fn feedback_block(
    out: &mut [i32; BLOCK],
    chain: &[(u32, u32, i32, i32)],
    state: &mut Feedback,
    shift: u32,
) {
    let t = &*TABLES;
    let (phase, inc, from, to) = chain[0];
    let (from, _, d) = step(from, to);
    let [mut y0, mut y] = state.y;
    for (i, o) in out.iter_mut().enumerate() {
        let fb = (y0 + y) >> (shift + 1);
        y0 = y;
        let p = phase
            .wrapping_add(inc.wrapping_mul(i as u32))
            .wrapping_add((fb as u32) << 8);
        y = sample(t, p, ramp(from, d, i));
        for &(phase, inc, _, to) in &chain[1..] {
            let p = phase
                .wrapping_add(inc.wrapping_mul(i as u32))
                .wrapping_add((y as u32) << 8);
            y = sample(t, p, to.clamp(64, ATTENUATION_MAX) as u32);
        }
        *o = y;
    }
    state.y = [y0, y];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_a_sine_with_log_domain_gain() {
        let t = &*TABLES;
        let full = f64::from(4 << 24);
        for k in 0..64u32 {
            let phase = k << 26;
            let want = (f64::from(phase) / 4_294_967_296.0 * std::f64::consts::TAU).sin();
            let got = f64::from(sample(t, phase, 0)) / full;
            // Quarter-wave table of 1024 steps: the phase is quantised to 1/4096 cycle.
            assert!((got - want).abs() < 2e-3, "{k}: {got} vs {want}");
            // 1024 units of attenuation halve the output (one octave = 6.02 dB).
            let half = f64::from(sample(t, phase, 1024)) / full;
            assert!((half - got / 2.0).abs() < 2e-3, "{k}");
        }
        assert_eq!(sample(t, 1 << 30, ATTENUATION_MAX as u32), 0);
    }
}
