//! Playing one note of a voice: per-operator pitch, envelopes and modulation, combined by the
//! voice's algorithm, block by block.

use crate::algorithm::ALGORITHMS;
use crate::envelope::{Envelope, PitchEnvelope, BLOCK};
use crate::error::{Error, Result};
use crate::lfo::Lfo;
use crate::operator::{self, Feedback, ATTENUATION_AUDIBLE, ATTENUATION_MAX};
use crate::tables::{
    scale_level, scale_output_level, scale_rate, scale_velocity, AMP_MOD_SENS, PITCH_MOD_SENS,
};
use crate::voice::{global, op, Voice};

/// Q24 log2 frequency of MIDI note 0 (8.18 Hz): 2^24 · (log2(440) − 69/12), and of a
/// semitone (rounded down, as the engines count notes in integer steps).
const PITCH_NOTE_0: i32 = 50_857_777;
const PITCH_SEMITONE: i32 = (1 << 24) / 12;
/// Output scale: a single operator at full level (±2 in Q24) → ±1.0.
const OUTPUT_SCALE: f32 = 1.0 / (1 << 25) as f32;

/// What to play and how long: the arguments of [`render`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderSettings {
    /// MIDI note (0–127; 60 = middle C), before the voice's transpose.
    pub note: u8,
    /// MIDI velocity (1–127).
    pub velocity: u8,
    /// Seconds the key is held (the release starts at the first block after).
    pub note_seconds: f64,
    /// Seconds rendered in total.
    pub seconds: f64,
    /// Sample rate in Hz.
    pub sr: f64,
}

impl Default for RenderSettings {
    /// Note 60, velocity 100, held 4 s of 5 s, 22050 Hz.
    fn default() -> Self {
        RenderSettings {
            note: 60,
            velocity: 100,
            note_seconds: 4.0,
            seconds: 5.0,
            sr: 22050.0,
        }
    }
}

impl RenderSettings {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, reason| {
            Err(Error::Setting {
                name,
                value,
                reason,
            })
        };
        if self.note > 127 {
            return bad("note", f64::from(self.note), "must be a MIDI note 0..=127");
        }
        if self.velocity == 0 || self.velocity > 127 {
            return bad("velocity", f64::from(self.velocity), "must be 1..=127");
        }
        if !(self.sr.is_finite() && (1000.0..=1_536_000.0).contains(&self.sr)) {
            return bad("sr", self.sr, "must be 1000..=1536000 Hz");
        }
        if !(self.seconds.is_finite() && self.seconds > 0.0 && self.seconds <= 3600.0) {
            return bad("seconds", self.seconds, "must be in (0, 3600]");
        }
        if !(self.note_seconds.is_finite() && self.note_seconds >= 0.0) {
            return bad("note_seconds", self.note_seconds, "must be finite and ≥ 0");
        }
        Ok(())
    }

    /// Samples rendered: `round(seconds · sr)`.
    pub fn samples(&self) -> usize {
        (self.seconds * self.sr).round() as usize
    }
}

/// Renders one note of `voice`: mono samples at `settings.sr`, a single full-level operator
/// peaking at 1.0 (several carriers can exceed it).
///
/// # Errors
/// [`Error::Setting`] for an invalid setting.
pub fn render(voice: &Voice, settings: &RenderSettings) -> Result<Vec<f32>> {
    settings.validate()?;
    let mut out = vec![0.0; settings.samples()];
    let mut note = Note::new(voice, settings.note, settings.velocity, settings.sr);
    let release = (settings.note_seconds * settings.sr).ceil() as usize;
    let mut block = [0.0; BLOCK];
    for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
        if b * BLOCK >= release {
            note.release();
        }
        note.next_block(&mut block);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    Ok(out)
}

/// One operator's state while a note plays.
#[derive(Debug, Clone)]
struct OperatorState {
    envelope: Envelope,
    /// Q24 log2 Hz before pitch modulation.
    pitch: i32,
    fixed: bool,
    amp_mod_sens: u32,
    phase: u32,
    /// Attenuation reached at the end of the last block (0 before the first).
    attenuation: i32,
}

/// A note of a voice being played, rendered block by block.
#[derive(Debug, Clone)]
pub struct Note {
    ops: [OperatorState; 6],
    pitch_envelope: PitchEnvelope,
    lfo: Lfo,
    algorithm: usize,
    feedback_shift: u32,
    feedback: Feedback,
    pitch_mod_depth: u32,
    pitch_mod_sens: i32,
    amp_mod_depth: u32,
    increments: PhaseIncrements,
    /// Each operator's last block (Q24).
    outputs: [[i32; BLOCK]; 6],
    audible: [bool; 6],
    /// Summed modulation of an operator with several modulators.
    scratch: [i32; BLOCK],
}

impl Note {
    /// Keys `voice` down at MIDI `note` (before transpose) and `velocity` at sample rate `sr`.
    /// Settings are assumed valid ([`RenderSettings::validate`]).
    pub fn new(voice: &Voice, note: u8, velocity: u8, sr: f64) -> Note {
        let d = voice.unpacked();
        let g = |i: usize| i32::from(d[i]);
        let note = i32::from(note) + g(global::TRANSPOSE) - 24;
        let ops = std::array::from_fn(|k| {
            // Operator blocks are stored 6 first; index k is operator k + 1.
            let o = voice.operator(k + 1);
            let f = |i: usize| i32::from(o[i]);
            let scaling = scale_level(
                note,
                f(op::BREAK_POINT),
                [f(op::LEFT_DEPTH), f(op::RIGHT_DEPTH)],
                [f(op::LEFT_CURVE), f(op::RIGHT_CURVE)],
            );
            let level = (scale_output_level(f(op::OUTPUT_LEVEL)) + scaling).min(127) << 5;
            let level = (level + scale_velocity(i32::from(velocity), f(op::VELOCITY_SENS))).max(0);
            let rates = std::array::from_fn(|i| f(op::EG_RATE + i));
            let levels = std::array::from_fn(|i| f(op::EG_LEVEL + i));
            let rate_scaling = scale_rate(note, f(op::RATE_SCALING));
            OperatorState {
                envelope: Envelope::new(rates, levels, level, rate_scaling, sr),
                pitch: operator_pitch(note, f(op::MODE), f(op::COARSE), f(op::FINE), f(op::DETUNE)),
                fixed: f(op::MODE) == 1,
                amp_mod_sens: AMP_MOD_SENS[o[op::AMP_MOD_SENS] as usize],
                phase: 0,
                attenuation: 0,
            }
        });
        let pitch_rates = std::array::from_fn(|i| g(global::PITCH_EG_RATE + i));
        let pitch_levels = std::array::from_fn(|i| g(global::PITCH_EG_LEVEL + i));
        let feedback = g(global::FEEDBACK) as u32;
        Note {
            ops,
            pitch_envelope: PitchEnvelope::new(pitch_rates, pitch_levels, sr),
            lfo: Lfo::new(
                d[global::LFO_SPEED],
                d[global::LFO_DELAY],
                d[global::LFO_KEY_SYNC] == 1,
                d[global::LFO_WAVE],
                sr,
            ),
            algorithm: usize::from(d[global::ALGORITHM]),
            feedback_shift: if feedback == 0 { 16 } else { 8 - feedback },
            feedback: Feedback::default(),
            pitch_mod_depth: ((g(global::LFO_PITCH_MOD_DEPTH) * 165) >> 6) as u32,
            pitch_mod_sens: PITCH_MOD_SENS[usize::from(d[global::PITCH_MOD_SENS])],
            amp_mod_depth: ((g(global::LFO_AMP_MOD_DEPTH) * 165) >> 6) as u32,
            increments: PhaseIncrements::new(sr),
            outputs: [[0; BLOCK]; 6],
            audible: [false; 6],
            scratch: [0; BLOCK],
        }
    }

    /// Releases the key (envelopes go to their fourth segment).
    pub fn release(&mut self) {
        for o in &mut self.ops {
            o.envelope.release();
        }
        self.pitch_envelope.release();
    }

    /// Renders the next [`BLOCK`] samples into `out`.
    pub fn next_block(&mut self, out: &mut [f32; BLOCK]) {
        let lfo = self.lfo.next();
        let lfo_delay = self.lfo.delay();

        // Pitch: envelope plus LFO (depth · delay · sensitivity, signed by the wave).
        let depth = u64::from(self.pitch_mod_depth) * lfo_delay as u64;
        let sens_lfo = i64::from(self.pitch_mod_sens) * i64::from(lfo - (1 << 23));
        let lfo_pitch = ((depth as i64 * sens_lfo) >> 39).abs() as i32 * sens_lfo.signum() as i32;
        let pitch_mod = self.pitch_envelope.next() + lfo_pitch;
        // Amplitude: depth · delay · (1 − wave), per operator by its sensitivity.
        let amp_mod = (((u64::from(self.amp_mod_depth) * lfo_delay as u64) >> 8)
            * ((1u64 << 24) - lfo as u64))
            >> 24;

        let mut targets = [0i32; 6];
        let mut incs = [0u32; 6];
        for (k, o) in self.ops.iter_mut().enumerate() {
            let pitch = if o.fixed {
                o.pitch
            } else {
                o.pitch + pitch_mod
            };
            incs[k] = self.increments.phase_increment(pitch);
            let mut level = o.envelope.next();
            if o.amp_mod_sens != 0 {
                let sens = (amp_mod * u64::from(o.amp_mod_sens)) >> 24;
                let factor = ((sens as f32) / 262_144.0 * 0.07 + 12.2).exp() as u64;
                level -= ((level as u64 * (factor << 4)) >> 28) as i32;
            }
            targets[k] = ATTENUATION_MAX - (level >> 14);
        }

        let alg = &ALGORITHMS[self.algorithm];
        let (fb_from, fb_to) = alg.feedback;
        let feedback_on = self.feedback_shift < 16;
        // The DX7's engine halves feedback twice on algorithms 4, 6 and 32.
        let loop_shift = |s: u32| {
            if matches!(self.algorithm, 3 | 5 | 31) {
                (s + 2).min(16)
            } else {
                s
            }
        };
        let mut n = 6;
        while n >= 1 {
            let k = n - 1;
            let o = &self.ops[k];
            let from = if o.attenuation == 0 {
                ATTENUATION_MAX - 1
            } else {
                o.attenuation
            };
            let to = targets[k];
            let chain_end = if feedback_on && n == fb_to {
                fb_from
            } else {
                n
            };
            if from <= ATTENUATION_AUDIBLE || to <= ATTENUATION_AUDIBLE {
                if n == fb_to && feedback_on {
                    // The loop's operators from `fb_to` down to `fb_from` are computed together;
                    // only the last one's output leaves the loop.
                    let mut chain = [(0u32, 0u32, 0i32, 0i32); 3];
                    for (link, m) in chain.iter_mut().zip((chain_end..=n).rev()) {
                        let from = if m == n { from } else { targets[m - 1] };
                        *link = (self.ops[m - 1].phase, incs[m - 1], from, targets[m - 1]);
                    }
                    operator::feedback_block(
                        &mut self.outputs[chain_end - 1],
                        &chain[..=n - chain_end],
                        &mut self.feedback,
                        loop_shift(self.feedback_shift),
                    );
                    self.audible[chain_end - 1] = true;
                } else {
                    // Modulators have higher numbers: their outputs lie above this one's.
                    let (head, tail) = self.outputs.split_at_mut(k + 1);
                    let mut heard = alg.modulators_of(n).filter(|m| self.audible[m - 1]);
                    let input = match (heard.next(), heard.next()) {
                        (None, _) => None,
                        (Some(m), None) => Some(&tail[m - 1 - (k + 1)]),
                        (Some(a), Some(b)) => {
                            let sum = &mut self.scratch;
                            for ((s, x), y) in
                                sum.iter_mut().zip(&tail[a - k - 2]).zip(&tail[b - k - 2])
                            {
                                *s = x + y;
                            }
                            for m in heard {
                                for (s, y) in sum.iter_mut().zip(&tail[m - k - 2]) {
                                    *s += y;
                                }
                            }
                            Some(&*sum)
                        }
                    };
                    operator::block(&mut head[k], input, o.phase, incs[k], from, to);
                    self.audible[k] = true;
                }
            } else {
                (chain_end..=n).for_each(|m| self.audible[m - 1] = false);
            }
            for m in chain_end..=n {
                let q = &mut self.ops[m - 1];
                q.phase = q.phase.wrapping_add(incs[m - 1].wrapping_mul(BLOCK as u32));
                q.attenuation = targets[m - 1];
            }
            n = chain_end - 1;
        }

        out.fill(0.0);
        for n in (1..=6).filter(|&n| alg.is_carrier(n) && self.audible[n - 1]) {
            for (o, &y) in out.iter_mut().zip(&self.outputs[n - 1]) {
                *o += y as f32 * OUTPUT_SCALE;
            }
        }
    }
}

/// Pitch → phase increment as the DX7 engines compute it: 2^pitch interpolated linearly
/// between 1024 points per octave and truncated to a 24-bit fraction of a cycle per sample.
/// (Matching the truncation matters: with strong feedback a sub-LSB difference in phase grows
/// into an audibly different noise.)
#[derive(Debug, Clone)]
struct PhaseIncrements {
    /// `2^(44 + i/1024) / sr`, rounded, i = 0..=1024 (2^20 Hz at the top of the table's octave).
    table: Vec<i64>,
}

impl PhaseIncrements {
    fn new(sr: f64) -> Self {
        let step = 2f64.powf(1.0 / 1024.0);
        // Built by repeated multiplication (not powf per entry): the reference tables are, and
        // the rounding of the last bit must agree.
        let mut y = (1u64 << 44) as f64 / sr;
        let table = (0..=1024)
            .map(|_| {
                let v = (y + 0.5).floor() as i64;
                y *= step;
                v
            })
            .collect();
        PhaseIncrements { table }
    }

    /// Pitch (Q24 log2 Hz, below 2^20 Hz) → phase increment, 32-bit turn per sample.
    fn phase_increment(&self, pitch: i32) -> u32 {
        let ix = ((pitch & 0xff_ffff) >> 14) as usize;
        let low = i64::from(pitch & ((1 << 14) - 1));
        let y = self.table[ix] + (((self.table[ix + 1] - self.table[ix]) * low) >> 14);
        let shift = 20 - (pitch >> 24);
        let q24 = if (0..64).contains(&shift) {
            y >> shift
        } else {
            0
        };
        (q24 as u32).wrapping_shl(8)
    }
}

/// An operator's base pitch, Q24 log2 Hz: ratio mode follows the note (coarse 0 = ×0.5,
/// fine adds up to +99 %, detune ±7 steps of a few cents, smaller at high notes); fixed mode is
/// 10^(coarse mod 4) Hz · 10^(fine/100), detune adding steps above 7 only.
fn operator_pitch(note: i32, mode: i32, coarse: i32, fine: i32, detune: i32) -> i32 {
    const Q24: f64 = (1 << 24) as f64;
    if mode == 0 {
        let pitch = PITCH_NOTE_0 + PITCH_SEMITONE * note;
        // Detune, measured on a DX7: a fraction of the pitch shrinking with it. The octave is
        // taken in single precision and the sum truncated, as the reference engine does.
        let octave = f64::from(pitch as f32 / (1 << 24) as f32);
        let detune_ratio = 0.0209 * (-0.396 * octave).exp() / 7.0;
        let mut pitch =
            (f64::from(pitch) + detune_ratio * f64::from(pitch) * f64::from(detune - 7)) as i32;
        pitch += if coarse == 0 {
            -(1 << 24)
        } else {
            (f64::from(coarse).log2() * Q24) as i32
        };
        if fine != 0 {
            // 2^24 / ln 2 · ln(1 + fine/100), rounded.
            pitch +=
                (24_204_406.323_123 * (1.0 + 0.01 * f64::from(fine)).ln() + 0.5).floor() as i32;
        }
        pitch
    } else {
        // (2^24 · log2(10) / 100) per step of (coarse mod 4) · 100 + fine.
        let mut pitch = (4_458_616 * ((coarse & 3) * 100 + fine)) >> 3;
        if detune > 7 {
            pitch += 13_457 * (detune - 7);
        }
        pitch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::OP_LEN;

    fn peak_hz(x: &[f32], sr: f64) -> f64 {
        // Zero crossings (upward) over the steady part.
        let ups = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        ups as f64 / (x.len() as f64 / sr)
    }

    fn settings(sr: f64) -> RenderSettings {
        RenderSettings {
            note: 69,
            velocity: 100,
            note_seconds: 1.0,
            seconds: 1.5,
            sr,
        }
    }

    #[test]
    fn init_voice_is_a_sine_at_the_note_with_unit_peak() {
        for sr in [22050.0, 44100.0, 48000.0] {
            let x = render(&Voice::init(), &settings(sr)).unwrap();
            assert_eq!(x.len(), (1.5 * sr) as usize);
            let held = &x[(0.1 * sr) as usize..(0.9 * sr) as usize];
            assert!((peak_hz(held, sr) - 440.0).abs() < 2.0, "{sr}");
            let peak = held.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((peak - 1.0).abs() < 2e-3, "{peak}");
            // Released at 1 s with rate 99: silent well before 1.5 s.
            assert!(x[(1.2 * sr) as usize..].iter().all(|v| v.abs() < 1e-3));
        }
    }

    #[test]
    fn output_level_is_0_75_db_per_step() {
        let level = |ol: u8| {
            let mut v = Voice::init();
            v.set(5 * OP_LEN + op::OUTPUT_LEVEL, ol).unwrap();
            let x = render(&v, &settings(44100.0)).unwrap();
            let held = &x[4410..40000];
            (held.iter().map(|v| v * v).sum::<f32>() / held.len() as f32).sqrt()
        };
        let db = 20.0 * (level(99) / level(79)).log10();
        assert!((db - 15.05).abs() < 0.2, "{db}");
    }

    #[test]
    fn ratio_fixed_and_transpose_set_the_pitch() {
        let sr = 44100.0;
        let mut v = Voice::init();
        let o = 5 * OP_LEN;
        v.set(o + op::COARSE, 2).unwrap();
        let x = render(&v, &settings(sr)).unwrap();
        assert!((peak_hz(&x[4410..40000], sr) - 880.0).abs() < 3.0);
        v.set(o + op::MODE, 1).unwrap();
        v.set(o + op::COARSE, 2).unwrap(); // 100 Hz
        v.set(o + op::FINE, 50).unwrap(); // · 10^0.5
        let x = render(&v, &settings(sr)).unwrap();
        assert!((peak_hz(&x[4410..40000], sr) - 316.2).abs() < 2.0);
        let mut v = Voice::init();
        v.set(global::TRANSPOSE, 36).unwrap(); // an octave up
        let x = render(&v, &settings(sr)).unwrap();
        assert!((peak_hz(&x[4410..40000], sr) - 880.0).abs() < 3.0);
    }

    #[test]
    fn modulation_adds_sidebands_and_routing_follows_the_algorithm() {
        let sr = 44100.0;
        // Algorithm 1: operator 2 modulates 1. With operator 2 at level 0 the output is a sine
        // (one upward crossing per period); at level 99 it is rich in harmonics.
        let mut v = Voice::init();
        let op2 = 4 * OP_LEN;
        v.set(op2 + op::OUTPUT_LEVEL, 99).unwrap();
        let rich = render(&v, &settings(sr)).unwrap();
        assert!(peak_hz(&rich[4410..40000], sr) > 600.0);
        // Algorithm 32: operator 2 is a carrier, so the same voice gives two summed sines.
        v.set(global::ALGORITHM, 31).unwrap();
        let two = render(&v, &settings(sr)).unwrap();
        let peak = two[4410..40000].iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - 2.0).abs() < 5e-3, "{peak}");
    }

    #[test]
    fn settings_are_checked() {
        let v = Voice::init();
        for bad in [
            RenderSettings {
                sr: 0.0,
                ..Default::default()
            },
            RenderSettings {
                sr: f64::NAN,
                ..Default::default()
            },
            RenderSettings {
                seconds: 0.0,
                ..Default::default()
            },
            RenderSettings {
                note: 128,
                ..Default::default()
            },
            RenderSettings {
                velocity: 0,
                ..Default::default()
            },
            RenderSettings {
                note_seconds: -1.0,
                ..Default::default()
            },
        ] {
            assert!(render(&v, &bad).is_err(), "{bad:?}");
        }
    }
}
