//! The DX7's published scaling curves and lookup tables, as measured on the instrument and
//! documented by the open emulations (Music Synthesizer for Android, Dexed). Levels are in the
//! engine's log units: 1 output-level step = 0.75 dB at the top of the range; "Q24" values are
//! fixed point with 2^24 = 1.

/// Output level (0–99) → the DX7's internal 0–127 log scale: a table below 20, linear above.
pub(crate) fn scale_output_level(level: i32) -> i32 {
    const LOW: [i32; 20] = [
        0, 5, 9, 13, 17, 20, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 42, 43, 45, 46,
    ];
    if level >= 20 {
        28 + level
    } else {
        LOW[level as usize]
    }
}

/// Key velocity (0–127) and sensitivity (0–7) → an offset to the operator's output level in
/// 1/32 steps of the internal scale (0 at velocity ≈ 100, negative below).
pub(crate) fn scale_velocity(velocity: i32, sensitivity: i32) -> i32 {
    const VELOCITY: [i32; 64] = [
        0, 70, 86, 97, 106, 114, 121, 126, 132, 138, 142, 148, 152, 156, 160, 163, 166, 170, 173,
        174, 178, 181, 184, 186, 189, 190, 194, 196, 198, 200, 202, 205, 206, 209, 211, 214, 216,
        218, 220, 222, 224, 225, 227, 229, 230, 232, 233, 235, 237, 238, 240, 241, 242, 243, 244,
        246, 246, 248, 249, 250, 251, 252, 253, 254,
    ];
    let v = VELOCITY[(velocity.clamp(0, 127) >> 1) as usize] - 239;
    ((sensitivity * v + 7) >> 3) << 4
}

/// Keyboard rate scaling: note and sensitivity (0–7) → an increase of the EG's rate index.
pub(crate) fn scale_rate(note: i32, sensitivity: i32) -> i32 {
    let x = (note / 3 - 7).clamp(0, 31);
    (sensitivity * x) >> 3
}

/// Keyboard level scaling: the offset (internal level units) for MIDI `note` given the break
/// point (0–99, counted in keys from A−1), the left and right depths (0–99) and curves
/// (0 −LIN, 1 −EXP, 2 +EXP, 3 +LIN); the offset grows in groups of three keys away from it.
pub(crate) fn scale_level(note: i32, break_point: i32, depth: [i32; 2], curve: [i32; 2]) -> i32 {
    let offset = note - break_point - 17;
    if offset >= 0 {
        scale_curve((offset + 1) / 3, depth[1], curve[1])
    } else {
        scale_curve(-(offset - 1) / 3, depth[0], curve[0])
    }
}

fn scale_curve(group: i32, depth: i32, curve: i32) -> i32 {
    const EXP: [i32; 33] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14, 16, 19, 23, 27, 33, 39, 47, 56, 66, 80, 94, 110, 126,
        142, 158, 174, 190, 206, 222, 238, 250,
    ];
    let scale = if curve == 0 || curve == 3 {
        (group * depth * 329) >> 12
    } else {
        (EXP[group.min(32) as usize] * depth * 329) >> 15
    };
    if curve < 2 {
        -scale
    } else {
        scale
    }
}

/// Samples at 44.1 kHz an EG segment lasts when its level does not change (or an attack from
/// level 0), by rate 0–76 as measured on a DX7; rates 77–99 take `20 · (99 − rate)`.
pub(crate) const STATIC_SEGMENT: [i32; 77] = [
    1764000, 1764000, 1411200, 1411200, 1190700, 1014300, 992250, 882000, 705600, 705600, 584325,
    507150, 502740, 441000, 418950, 352800, 308700, 286650, 253575, 220500, 220500, 176400, 145530,
    145530, 125685, 110250, 110250, 88200, 88200, 74970, 61740, 61740, 55125, 48510, 44100, 37485,
    31311, 30870, 27562, 27562, 22050, 18522, 17640, 15435, 14112, 13230, 11025, 9261, 9261, 7717,
    6615, 6615, 5512, 5512, 4410, 3969, 3969, 3439, 2866, 2690, 2249, 1984, 1896, 1808, 1411, 1367,
    1234, 1146, 926, 837, 837, 705, 573, 573, 529, 441, 441,
];

/// Pitch EG rate (0–99) → speed in units of [`crate::envelope`]'s pitch step.
pub(crate) const PITCH_EG_RATE: [i32; 100] = [
    1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 16,
    16, 17, 18, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 33, 34, 36, 37, 38, 39, 41, 42,
    44, 46, 47, 49, 51, 53, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 79, 82, 85, 88, 91, 94,
    98, 102, 106, 110, 115, 120, 125, 130, 135, 141, 147, 153, 159, 165, 171, 178, 185, 193, 202,
    211, 232, 243, 254, 255,
];

/// Pitch EG level (0–99) → pitch offset in 1/32 octave (−128 = −4 octaves, 50 → 0, 99 → +127).
pub(crate) const PITCH_EG_LEVEL: [i32; 100] = [
    -128, -116, -104, -95, -85, -76, -68, -61, -56, -52, -49, -46, -43, -41, -39, -37, -35, -33,
    -32, -31, -30, -29, -28, -27, -26, -25, -24, -23, -22, -21, -20, -19, -18, -17, -16, -15, -14,
    -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    38, 40, 43, 46, 49, 53, 58, 65, 73, 82, 92, 103, 115, 127,
];

/// LFO speed (0–99) → frequency in Hz, as measured on a DX7 (before the engine's 1.0332
/// phase-unit factor, see [`crate::lfo`]).
pub(crate) const LFO_HZ: [f64; 100] = [
    0.062541, 0.125031, 0.312393, 0.437120, 0.624610, 0.750694, 0.936330, 1.125302, 1.249609,
    1.436782, 1.560915, 1.752081, 1.875117, 2.062494, 2.247191, 2.374451, 2.560492, 2.686728,
    2.873976, 2.998950, 3.188013, 3.369840, 3.500175, 3.682224, 3.812065, 4.000800, 4.186202,
    4.310716, 4.501260, 4.623209, 4.814636, 4.930480, 5.121901, 5.315191, 5.434783, 5.617346,
    5.750431, 5.946717, 6.062811, 6.248438, 6.431695, 6.564264, 6.749460, 6.868132, 7.052186,
    7.250580, 7.375719, 7.556294, 7.687577, 7.877738, 7.993605, 8.181967, 8.372405, 8.504848,
    8.685079, 8.810573, 8.986341, 9.122423, 9.300595, 9.500285, 9.607994, 9.798158, 9.950249,
    10.117361, 11.251125, 11.384335, 12.562814, 13.676149, 13.904338, 15.092062, 16.366612,
    16.638935, 17.869907, 19.193858, 19.425019, 20.833333, 21.034918, 22.502250, 24.003841,
    24.260068, 25.746653, 27.173913, 27.578599, 29.052876, 30.693677, 31.191516, 32.658393,
    34.317090, 34.674064, 36.416606, 38.197097, 38.550501, 40.387722, 40.749796, 42.625746,
    44.326241, 44.883303, 46.772685, 48.590865, 49.261084,
];

/// Pitch modulation sensitivity (0–7) → depth factor (/255).
pub(crate) const PITCH_MOD_SENS: [i32; 8] = [0, 10, 20, 33, 55, 92, 153, 255];

/// Amplitude modulation sensitivity (0–3) → depth factor (Q24).
pub(crate) const AMP_MOD_SENS: [u32; 4] = [0, 4342338, 7171437, 16777216];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_have_documented_shapes() {
        // Output level: 99 → 127 (top of the internal scale), 20 → 48, monotone.
        assert_eq!(scale_output_level(99), 127);
        assert!((1..100).all(|l| scale_output_level(l) > scale_output_level(l - 1)));
        // Velocity: sensitivity 0 is neutral; full sensitivity is ~0 at velocity 127 and cuts
        // quieter notes.
        assert!((0..128).all(|v| scale_velocity(v, 0) == 0));
        assert_eq!(scale_velocity(127, 7), 224);
        assert!(scale_velocity(20, 7) < scale_velocity(100, 7));
        // Level scaling: nothing at the break point; −LIN lowers, +EXP raises further out.
        assert_eq!(scale_level(56, 39, [99, 99], [0, 0]), 0);
        assert!(scale_level(96, 39, [0, 99], [0, 0]) < 0);
        assert!(scale_level(96, 39, [0, 99], [0, 2]) > 0);
        assert!(scale_level(20, 39, [99, 0], [3, 0]) > 0);
        // Rate scaling grows with the note, not with sensitivity 0.
        assert_eq!(scale_rate(100, 0), 0);
        assert!(scale_rate(100, 7) > scale_rate(40, 7));
        assert_eq!(PITCH_EG_LEVEL[50], 0);
    }
}
