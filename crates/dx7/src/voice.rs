//! One DX7 voice: the 155-byte unpacked layout (the "VCED" order), the 128-byte packed layout
//! of bulk dumps, parameter names and ranges, and normalised parameter vectors.
//!
//! Byte order of the unpacked voice: six operator blocks of 21 bytes, **operator 6 first**
//! (offset `(6 − n) · 21` for operator `n`), then 29 global bytes (pitch EG, algorithm,
//! feedback, LFO, transpose, name). Every field is an unsigned value in `0..=max`
//! ([`params`]); a [`Voice`] holds only in-range values.

use std::sync::LazyLock;

use crate::error::{Error, Result};

/// Bytes in an unpacked voice.
pub const UNPACKED_LEN: usize = 155;
/// Bytes in a packed voice (bulk-dump layout).
pub const PACKED_LEN: usize = 128;
/// Bytes per operator block in the unpacked layout.
pub const OP_LEN: usize = 21;

/// Offsets within an operator's 21-byte block.
pub mod op {
    /// EG rates 1–4 (0–99) start here.
    pub const EG_RATE: usize = 0;
    /// EG levels 1–4 (0–99) start here.
    pub const EG_LEVEL: usize = 4;
    /// Keyboard level scaling break point (0–99; 39 = C3).
    pub const BREAK_POINT: usize = 8;
    /// Left scaling depth (0–99).
    pub const LEFT_DEPTH: usize = 9;
    /// Right scaling depth (0–99).
    pub const RIGHT_DEPTH: usize = 10;
    /// Left curve (0 −LIN, 1 −EXP, 2 +EXP, 3 +LIN).
    pub const LEFT_CURVE: usize = 11;
    /// Right curve (as the left).
    pub const RIGHT_CURVE: usize = 12;
    /// Keyboard rate scaling (0–7).
    pub const RATE_SCALING: usize = 13;
    /// Amplitude modulation sensitivity (0–3).
    pub const AMP_MOD_SENS: usize = 14;
    /// Key velocity sensitivity (0–7).
    pub const VELOCITY_SENS: usize = 15;
    /// Output level (0–99).
    pub const OUTPUT_LEVEL: usize = 16;
    /// Oscillator mode (0 ratio, 1 fixed).
    pub const MODE: usize = 17;
    /// Coarse frequency (0–31).
    pub const COARSE: usize = 18;
    /// Fine frequency (0–99).
    pub const FINE: usize = 19;
    /// Detune (0–14, 7 = none).
    pub const DETUNE: usize = 20;
}

/// Offsets of the global fields in the unpacked voice.
pub mod global {
    /// Pitch EG rates 1–4 (0–99).
    pub const PITCH_EG_RATE: usize = 126;
    /// Pitch EG levels 1–4 (0–99, 50 = no shift).
    pub const PITCH_EG_LEVEL: usize = 130;
    /// Algorithm (0–31 for algorithms 1–32).
    pub const ALGORITHM: usize = 134;
    /// Feedback (0–7).
    pub const FEEDBACK: usize = 135;
    /// Oscillator key sync (0–1).
    pub const OSC_KEY_SYNC: usize = 136;
    /// LFO speed (0–99).
    pub const LFO_SPEED: usize = 137;
    /// LFO delay (0–99).
    pub const LFO_DELAY: usize = 138;
    /// LFO pitch modulation depth (0–99).
    pub const LFO_PITCH_MOD_DEPTH: usize = 139;
    /// LFO amplitude modulation depth (0–99).
    pub const LFO_AMP_MOD_DEPTH: usize = 140;
    /// LFO key sync (0–1).
    pub const LFO_KEY_SYNC: usize = 141;
    /// LFO wave (0 triangle, 1 saw down, 2 saw up, 3 square, 4 sine, 5 sample & hold).
    pub const LFO_WAVE: usize = 142;
    /// Pitch modulation sensitivity (0–7).
    pub const PITCH_MOD_SENS: usize = 143;
    /// Transpose (0–48, 24 = C3: no shift).
    pub const TRANSPOSE: usize = 144;
    /// Ten name characters (ASCII).
    pub const NAME: usize = 145;
}

/// One voice parameter: its name (`op1_eg_rate1`, `algorithm`, …), range and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Snake-case name; operator fields are prefixed `op1_` … `op6_`.
    pub name: String,
    /// Largest value (the smallest is 0).
    pub max: u8,
    /// Whether the parameter shapes the sound of a note at a fixed pitch: every field except
    /// transpose and the ten name characters (144 of 155), the ones sound matching predicts.
    pub learnable: bool,
}

const OP_FIELDS: [(&str, u8); OP_LEN] = [
    ("eg_rate1", 99),
    ("eg_rate2", 99),
    ("eg_rate3", 99),
    ("eg_rate4", 99),
    ("eg_level1", 99),
    ("eg_level2", 99),
    ("eg_level3", 99),
    ("eg_level4", 99),
    ("break_point", 99),
    ("left_depth", 99),
    ("right_depth", 99),
    ("left_curve", 3),
    ("right_curve", 3),
    ("rate_scaling", 7),
    ("amp_mod_sens", 3),
    ("velocity_sens", 7),
    ("output_level", 99),
    ("mode", 1),
    ("coarse", 31),
    ("fine", 99),
    ("detune", 14),
];

const GLOBAL_FIELDS: [(&str, u8); 19] = [
    ("pitch_eg_rate1", 99),
    ("pitch_eg_rate2", 99),
    ("pitch_eg_rate3", 99),
    ("pitch_eg_rate4", 99),
    ("pitch_eg_level1", 99),
    ("pitch_eg_level2", 99),
    ("pitch_eg_level3", 99),
    ("pitch_eg_level4", 99),
    ("algorithm", 31),
    ("feedback", 7),
    ("osc_key_sync", 1),
    ("lfo_speed", 99),
    ("lfo_delay", 99),
    ("lfo_pitch_mod_depth", 99),
    ("lfo_amp_mod_depth", 99),
    ("lfo_key_sync", 1),
    ("lfo_wave", 5),
    ("pitch_mod_sens", 7),
    ("transpose", 48),
];

static PARAMS: LazyLock<Vec<Param>> = LazyLock::new(|| {
    let mut params = Vec::with_capacity(UNPACKED_LEN);
    for block in 0..6 {
        let n = 6 - block;
        for (name, max) in OP_FIELDS {
            params.push(Param {
                name: format!("op{n}_{name}"),
                max,
                learnable: true,
            });
        }
    }
    for (name, max) in GLOBAL_FIELDS {
        params.push(Param {
            name: name.to_string(),
            max,
            learnable: name != "transpose",
        });
    }
    for i in 1..=10 {
        params.push(Param {
            name: format!("name{i}"),
            max: 127,
            learnable: false,
        });
    }
    params
});

/// The 155 parameters in unpacked byte order.
pub fn params() -> &'static [Param] {
    &PARAMS
}

/// A DX7 voice whose every field is within range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Voice {
    data: [u8; UNPACKED_LEN],
}

impl Voice {
    /// The DX7's INIT VOICE: algorithm 1, operator 1 a sine at output level 99 (the others
    /// silent), all EG rates 99, levels 99/99/99/0, no modulation, transpose C3.
    pub fn init() -> Voice {
        let mut data = [0u8; UNPACKED_LEN];
        for block in 0..6 {
            let o = block * OP_LEN;
            data[o..o + 4].fill(99);
            data[o + op::EG_LEVEL..o + op::EG_LEVEL + 3].fill(99);
            data[o + op::BREAK_POINT] = 39;
            data[o + op::COARSE] = 1;
            data[o + op::DETUNE] = 7;
        }
        data[5 * OP_LEN + op::OUTPUT_LEVEL] = 99;
        let g = global::PITCH_EG_RATE;
        data[g..g + 4].fill(99);
        data[global::PITCH_EG_LEVEL..global::PITCH_EG_LEVEL + 4].fill(50);
        data[global::OSC_KEY_SYNC] = 1;
        data[global::LFO_SPEED] = 35;
        data[global::LFO_KEY_SYNC] = 1;
        data[global::PITCH_MOD_SENS] = 3;
        data[global::TRANSPOSE] = 24;
        data[global::NAME..].copy_from_slice(b"INIT VOICE");
        Voice { data }
    }

    /// A voice from its unpacked bytes (`data.len() ≥ 155`; a 156th byte, Dexed's operator
    /// switches, is ignored).
    ///
    /// # Errors
    /// [`Error::Format`] if fewer than 155 bytes, [`Error::Field`] naming voice `number`
    /// (1-based, for the message) and the first field out of range.
    pub fn from_unpacked(data: &[u8], number: usize) -> Result<Voice> {
        let data: [u8; UNPACKED_LEN] = data
            .get(..UNPACKED_LEN)
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| Error::Format(format!("a voice needs 155 bytes, got {}", data.len())))?;
        let voice = Voice { data };
        voice.validate(number)?;
        Ok(voice)
    }

    /// A voice from its 128 packed bytes (bulk-dump layout). Bits the MIDI specification marks
    /// "don't care" (bit 7 of every byte, the unused high bits of the combined bytes) are
    /// ignored, as the DX7 ignores them; every field is then range-checked.
    ///
    /// # Errors
    /// [`Error::Field`] naming voice `number` (1-based) and the field.
    pub fn from_packed(packed: &[u8; PACKED_LEN], number: usize) -> Result<Voice> {
        let mut data = [0u8; UNPACKED_LEN];
        for block in 0..6 {
            let p = &packed[block * 17..block * 17 + 17];
            let o = block * OP_LEN;
            for i in 0..11 {
                data[o + i] = p[i] & 0x7F;
            }
            data[o + op::LEFT_CURVE] = p[11] & 3;
            data[o + op::RIGHT_CURVE] = (p[11] >> 2) & 3;
            data[o + op::RATE_SCALING] = p[12] & 7;
            data[o + op::DETUNE] = (p[12] >> 3) & 0x0F;
            data[o + op::AMP_MOD_SENS] = p[13] & 3;
            data[o + op::VELOCITY_SENS] = (p[13] >> 2) & 7;
            data[o + op::OUTPUT_LEVEL] = p[14] & 0x7F;
            data[o + op::MODE] = p[15] & 1;
            data[o + op::COARSE] = (p[15] >> 1) & 0x1F;
            data[o + op::FINE] = p[16] & 0x7F;
        }
        for i in 0..8 {
            data[global::PITCH_EG_RATE + i] = packed[102 + i] & 0x7F;
        }
        data[global::ALGORITHM] = packed[110] & 0x1F;
        data[global::FEEDBACK] = packed[111] & 7;
        data[global::OSC_KEY_SYNC] = (packed[111] >> 3) & 1;
        for i in 0..4 {
            data[global::LFO_SPEED + i] = packed[112 + i] & 0x7F;
        }
        data[global::LFO_KEY_SYNC] = packed[116] & 1;
        data[global::LFO_WAVE] = (packed[116] >> 1) & 7;
        data[global::PITCH_MOD_SENS] = (packed[116] >> 4) & 7;
        data[global::TRANSPOSE] = packed[117] & 0x7F;
        for i in 0..10 {
            data[global::NAME + i] = packed[118 + i] & 0x7F;
        }
        let voice = Voice { data };
        voice.validate(number)?;
        Ok(voice)
    }

    /// A voice from normalised parameters (`values.len() == 155`, each in [0, 1], unpacked
    /// order): value · max rounded to the nearest step. Values outside [0, 1] are clamped.
    ///
    /// # Errors
    /// [`Error::Format`] on a wrong length or a non-finite value.
    pub fn from_normalised(values: &[f32]) -> Result<Voice> {
        if values.len() != UNPACKED_LEN {
            return Err(Error::Format(format!(
                "expected 155 parameters, got {}",
                values.len()
            )));
        }
        let mut data = [0u8; UNPACKED_LEN];
        for ((d, &v), p) in data.iter_mut().zip(values).zip(params()) {
            if !v.is_finite() {
                return Err(Error::Format(format!("{} is not finite", p.name)));
            }
            *d = (v.clamp(0.0, 1.0) * f32::from(p.max)).round() as u8;
        }
        Ok(Voice { data })
    }

    fn validate(&self, number: usize) -> Result<()> {
        for (&value, p) in self.data.iter().zip(params()) {
            if value > p.max {
                return Err(Error::Field {
                    voice: number,
                    name: self.name(),
                    field: p.name.clone(),
                    value,
                    max: p.max,
                });
            }
        }
        Ok(())
    }

    /// The unpacked bytes (155, operator 6 first).
    pub fn unpacked(&self) -> &[u8; UNPACKED_LEN] {
        &self.data
    }

    /// The packed bytes (bulk-dump layout; "don't care" bits zero).
    pub fn to_packed(&self) -> [u8; PACKED_LEN] {
        let d = &self.data;
        let mut p = [0u8; PACKED_LEN];
        for block in 0..6 {
            let o = block * OP_LEN;
            let q = &mut p[block * 17..block * 17 + 17];
            q[..11].copy_from_slice(&d[o..o + 11]);
            q[11] = d[o + op::LEFT_CURVE] | d[o + op::RIGHT_CURVE] << 2;
            q[12] = d[o + op::RATE_SCALING] | d[o + op::DETUNE] << 3;
            q[13] = d[o + op::AMP_MOD_SENS] | d[o + op::VELOCITY_SENS] << 2;
            q[14] = d[o + op::OUTPUT_LEVEL];
            q[15] = d[o + op::MODE] | d[o + op::COARSE] << 1;
            q[16] = d[o + op::FINE];
        }
        p[102..110].copy_from_slice(&d[global::PITCH_EG_RATE..global::PITCH_EG_RATE + 8]);
        p[110] = d[global::ALGORITHM];
        p[111] = d[global::FEEDBACK] | d[global::OSC_KEY_SYNC] << 3;
        p[112..116].copy_from_slice(&d[global::LFO_SPEED..global::LFO_SPEED + 4]);
        p[116] =
            d[global::LFO_KEY_SYNC] | d[global::LFO_WAVE] << 1 | d[global::PITCH_MOD_SENS] << 4;
        p[117] = d[global::TRANSPOSE];
        p[118..].copy_from_slice(&d[global::NAME..]);
        p
    }

    /// The parameters normalised to [0, 1] (value / max), unpacked order; see [`params`].
    pub fn normalised(&self) -> [f32; UNPACKED_LEN] {
        std::array::from_fn(|i| f32::from(self.data[i]) / f32::from(params()[i].max))
    }

    /// Parameter `index` (unpacked order).
    ///
    /// # Panics
    /// If `index ≥ 155`.
    pub fn get(&self, index: usize) -> u8 {
        self.data[index]
    }

    /// Sets parameter `index` (unpacked order).
    ///
    /// # Errors
    /// [`Error::Field`] if `value` exceeds the parameter's max or the index is out of bounds.
    pub fn set(&mut self, index: usize, value: u8) -> Result<()> {
        let p = params()
            .get(index)
            .ok_or_else(|| Error::Format(format!("no parameter {index}")))?;
        if value > p.max {
            return Err(Error::Field {
                voice: 0,
                name: self.name(),
                field: p.name.clone(),
                value,
                max: p.max,
            });
        }
        self.data[index] = value;
        Ok(())
    }

    /// The operator block of operator `n` (1–6): 21 bytes, offsets in [`op`].
    ///
    /// # Panics
    /// If `n` is not in 1..=6.
    pub fn operator(&self, n: usize) -> &[u8] {
        assert!((1..=6).contains(&n), "operators are numbered 1 to 6");
        let o = (6 - n) * OP_LEN;
        &self.data[o..o + OP_LEN]
    }

    /// The name, trailing spaces removed; characters outside printable ASCII shown as `?`.
    pub fn name(&self) -> String {
        let name: String = self.data[global::NAME..]
            .iter()
            .map(|&c| {
                if (32..127).contains(&c) {
                    c as char
                } else {
                    '?'
                }
            })
            .collect();
        name.trim_end().to_string()
    }

    /// Replaces the name (up to 10 printable ASCII characters, padded with spaces).
    ///
    /// # Errors
    /// [`Error::Format`] for a longer name or a character outside printable ASCII.
    pub fn set_name(&mut self, name: &str) -> Result<()> {
        if name.len() > 10 || !name.bytes().all(|c| (32..127).contains(&c)) {
            return Err(Error::Format(format!(
                "a voice name is up to 10 printable ASCII characters, got {name:?}"
            )));
        }
        let field = &mut self.data[global::NAME..];
        field.fill(b' ');
        field[..name.len()].copy_from_slice(name.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_table_has_144_learnable_and_11_fixed() {
        assert_eq!(params().len(), UNPACKED_LEN);
        assert_eq!(params().iter().filter(|p| p.learnable).count(), 144);
        assert_eq!(params()[0].name, "op6_eg_rate1");
        assert_eq!(
            params()[5 * OP_LEN + op::OUTPUT_LEVEL].name,
            "op1_output_level"
        );
        assert_eq!(params()[global::ALGORITHM].name, "algorithm");
        assert_eq!(params()[global::TRANSPOSE].name, "transpose");
    }

    #[test]
    fn packed_round_trip_keeps_every_field() {
        let mut v = Voice::init();
        // A value at the top of every range exercises every bit of the combined bytes.
        for (i, p) in params().iter().enumerate().take(global::NAME) {
            v.set(i, p.max).unwrap();
        }
        let back = Voice::from_packed(&v.to_packed(), 1).unwrap();
        assert_eq!(back, v);
        let init = Voice::init();
        assert_eq!(Voice::from_packed(&init.to_packed(), 1).unwrap(), init);
        assert_eq!(init.name(), "INIT VOICE");
    }

    #[test]
    fn out_of_range_field_is_named() {
        let mut bytes = *Voice::init().unpacked();
        bytes[2 * OP_LEN + op::DETUNE] = 15;
        let err = Voice::from_unpacked(&bytes, 7).unwrap_err().to_string();
        assert_eq!(
            err,
            "voice 7 (INIT VOICE): op4_detune = 15 is out of range 0..=14"
        );
        let mut packed = Voice::init().to_packed();
        packed[110] = 0x20; // bit 5 is "don't care": algorithm 1
        assert_eq!(
            Voice::from_packed(&packed, 1)
                .unwrap()
                .get(global::ALGORITHM),
            0
        );
        packed[117] = 49;
        let err = Voice::from_packed(&packed, 3).unwrap_err().to_string();
        assert!(
            err.contains("voice 3") && err.contains("transpose = 49"),
            "{err}"
        );
    }

    #[test]
    fn normalised_round_trip() {
        let v = Voice::init();
        assert_eq!(Voice::from_normalised(&v.normalised()).unwrap(), v);
        assert!(v.normalised().iter().all(|x| (0.0..=1.0).contains(x)));
        assert!(Voice::from_normalised(&[0.5; 3]).is_err());
    }
}
