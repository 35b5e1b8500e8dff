//! Decibels: power and amplitude ↔ dB (`librosa.power_to_db`, `amplitude_to_db`,
//! `db_to_power`, `db_to_amplitude`), the dB scale of any power `|X|^p`, and [`Scale`], the
//! record of how a spectrogram's values were scaled (written into its sidecar, undone before
//! inversion).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The scale of a spectrogram's values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scale", rename_all = "lowercase")]
pub enum Scale {
    /// `|X|^power` (power = 2: power, power = 1: magnitude), linear units.
    Linear,
    /// Decibels: `10·log10(max(amin, S)/reference)` for power, `20·log10` for magnitude,
    /// floored at `max − top_db`.
    Db {
        /// The reference value in linear units of the spectrogram (power or magnitude).
        reference: f32,
        /// The floor applied before the log, in linear units.
        amin: f32,
        /// Dynamic range kept below the maximum, dB.
        top_db: Option<f32>,
    },
}

impl Scale {
    /// Undo the scale in place: dB values back to linear units of `|X|^power` with the
    /// stored reference ([`db_to_linear`], the inverse of
    /// [`to_db_ref_max`] for every power); values clipped at `max − top_db`
    /// stay clipped. Linear values are left as they are.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `power` is not positive and finite.
    pub fn to_linear(&self, values: &mut [f32], power: f32) -> Result<()> {
        match *self {
            Scale::Db { reference, .. } => db_to_linear(values, reference, power),
            Scale::Linear => Ok(()),
        }
    }
}

/// The reference a dB conversion is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbRef {
    /// The maximum of the input (librosa's `ref=np.max`).
    Max,
    /// A fixed value, in the input's units (power or amplitude).
    Value(f32),
}

/// Power → dB in place: `10·log10(max(amin, S)) − 10·log10(max(amin, ref))`, then values below
/// `max − top_db` are raised to it (`librosa.power_to_db`). Returns the reference value used.
///
/// # Errors
/// [`Error::InvalidParameter`] when `amin ≤ 0` or `top_db < 0`.
pub fn power_to_db(s: &mut [f32], reference: DbRef, amin: f32, top_db: Option<f32>) -> Result<f32> {
    if amin.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(Error::param("amin", amin, "must be strictly positive"));
    }
    if let Some(t) = top_db {
        if t.partial_cmp(&0.0) == Some(std::cmp::Ordering::Less) || t.is_nan() {
            return Err(Error::param("top_db", t, "must be non-negative"));
        }
    }
    let ref_value = match reference {
        DbRef::Max => s.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        DbRef::Value(v) => v.abs(),
    };
    let offset = 10.0 * amin.max(ref_value).log10();
    let mut peak = f32::NEG_INFINITY;
    for x in s.iter_mut() {
        *x = 10.0 * amin.max(*x).log10() - offset;
        peak = peak.max(*x);
    }
    if let Some(t) = top_db {
        let floor = peak - t;
        s.iter_mut().for_each(|x| *x = x.max(floor));
    }
    Ok(ref_value)
}

/// Amplitude → dB in place: [`power_to_db`] of `S²` with `ref²` and `amin²`
/// (`librosa.amplitude_to_db`, whose default `amin` is 1e-5). Returns the amplitude
/// reference used.
///
/// # Errors
/// As [`power_to_db`].
pub fn amplitude_to_db(
    s: &mut [f32],
    reference: DbRef,
    amin: f32,
    top_db: Option<f32>,
) -> Result<f32> {
    let ref_value = match reference {
        DbRef::Max => s.iter().map(|x| x.abs()).fold(f32::NEG_INFINITY, f32::max),
        DbRef::Value(v) => v.abs(),
    };
    s.iter_mut().for_each(|x| *x = *x * *x);
    power_to_db(s, DbRef::Value(ref_value * ref_value), amin * amin, top_db)?;
    Ok(ref_value)
}

/// The dB range librosa keeps below the maximum by default.
pub const TOP_DB: f32 = 80.0;

/// librosa's dB floor for `S = |X|^power`, in units of `S`: 1e-10 for power 2
/// (`power_to_db`), 1e-5 for magnitudes (`amplitude_to_db`), `1e-10^(power/2)` otherwise (the
/// same floor on `|X|²`).
fn default_amin(power: f32) -> f32 {
    match power {
        2.0 => 1e-10,
        1.0 => 1e-5,
        p => 10f64.powf(-5.0 * f64::from(p)) as f32,
    }
}

/// Refuse a power that is not positive and finite.
fn check_power(power: f32) -> Result<()> {
    if power.is_finite() && power > 0.0 {
        Ok(())
    } else {
        Err(Error::param("power", power, "must be positive"))
    }
}

/// The dB scale of librosa's defaults (floor by the power, [`TOP_DB`] range) with `reference`
/// in units of `|X|^power`.
pub fn db_scale(power: f32, reference: f32) -> Scale {
    Scale::Db {
        reference,
        amin: default_amin(power),
        top_db: Some(TOP_DB),
    }
}

/// A spectrogram of `S = |X|^power` to dB in place with librosa's defaults relative to its
/// maximum. The decibels are always those of the power `|X|²`, `10·log10(S^(2/power))`:
/// `power_to_db(S, ref=max, amin=1e-10, top_db=80)` for power 2, `amplitude_to_db(S, ref=max,
/// amin=1e-5, top_db=80)` for power 1, and for any other power `power_to_db` of `S^(2/power)`
/// with the reference and floor raised likewise. [`Scale::to_linear`] undoes it for every
/// power. Returns the scale to record (reference in units of `S`).
///
/// # Errors
/// [`Error::InvalidParameter`] when `power` is not positive and finite.
pub fn to_db_ref_max(s: &mut [f32], power: f32) -> Result<Scale> {
    check_power(power)?;
    let amin = default_amin(power);
    let reference = match power {
        2.0 => power_to_db(s, DbRef::Max, amin, Some(TOP_DB))?,
        1.0 => amplitude_to_db(s, DbRef::Max, amin, Some(TOP_DB))?,
        p => {
            let e = 2.0 / p;
            let reference = s.iter().map(|x| x.abs()).fold(f32::NEG_INFINITY, f32::max);
            s.iter_mut().for_each(|x| *x = x.abs().powf(e));
            power_to_db(
                s,
                DbRef::Value(reference.powf(e)),
                amin.powf(e),
                Some(TOP_DB),
            )?;
            reference
        }
    };
    Ok(db_scale(power, reference))
}

/// dB (of the power `|X|²`, as [`to_db_ref_max`] writes them) → `S = |X|^power` in place,
/// with `reference` in units of `S`: `librosa.db_to_power` for power 2, `db_to_amplitude`
/// for power 1, `(reference^(2/power) · 10^(S/10))^(power/2)` otherwise.
///
/// # Errors
/// [`Error::InvalidParameter`] when `power` is not positive and finite.
pub fn db_to_linear(s: &mut [f32], reference: f32, power: f32) -> Result<()> {
    check_power(power)?;
    match power {
        2.0 => db_to_power(s, reference),
        1.0 => db_to_amplitude(s, reference),
        p => {
            db_to_power(s, reference.powf(2.0 / p));
            s.iter_mut().for_each(|x| *x = x.powf(p / 2.0));
        }
    }
    Ok(())
}

/// dB → power in place: `ref · 10^(S/10)` (`librosa.db_to_power`).
pub fn db_to_power(s: &mut [f32], reference: f32) {
    s.iter_mut()
        .for_each(|x| *x = reference * 10f32.powf(0.1 * *x));
}

/// dB → amplitude in place: `ref · 10^(S/20)` (`librosa.db_to_amplitude`).
pub fn db_to_amplitude(s: &mut [f32], reference: f32) {
    s.iter_mut()
        .for_each(|x| *x = reference * 10f32.powf(0.05 * *x));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_round_trip_and_top_db() {
        let mut s = vec![1.0, 0.1, 1e-12];
        let r = power_to_db(&mut s, DbRef::Max, 1e-10, Some(80.0)).unwrap();
        assert_eq!(r, 1.0);
        assert!((s[1] + 10.0).abs() < 1e-5);
        assert_eq!(s[2], -80.0);
        db_to_power(&mut s, r);
        assert!((s[1] - 0.1).abs() < 1e-6);
        let mut a = vec![2.0, 0.2];
        let r = amplitude_to_db(&mut a, DbRef::Max, 1e-5, None).unwrap();
        assert_eq!(r, 2.0);
        assert!((a[1] + 20.0).abs() < 1e-4);
        db_to_amplitude(&mut a, r);
        assert!((a[1] - 0.2).abs() < 1e-6);
        assert!(power_to_db(&mut [1.0], DbRef::Max, 0.0, None).is_err());
    }

    #[test]
    fn db_of_every_power_is_the_db_of_the_power_and_round_trips() {
        let x = [3.0f32, 0.5, 0.02, 1e-3, 0.0];
        let power_db = {
            let mut p: Vec<f32> = x.iter().map(|v| v * v).collect();
            power_to_db(&mut p, DbRef::Max, 1e-10, Some(TOP_DB)).unwrap();
            p
        };
        for power in [0.5f32, 1.0, 1.5, 2.0, 3.0] {
            let s: Vec<f32> = x.iter().map(|v| v.powf(power)).collect();
            let mut db = s.clone();
            let scale = to_db_ref_max(&mut db, power).unwrap();
            for (a, b) in db.iter().zip(&power_db) {
                assert!((a - b).abs() < 1e-3, "power {power}: {a} dB vs {b} dB");
            }
            let Scale::Db {
                reference, amin, ..
            } = scale
            else {
                panic!("a dB scale")
            };
            assert!((amin.powf(2.0 / power) / 1e-10 - 1.0).abs() < 1e-4);
            db_to_linear(&mut db, reference, power).unwrap();
            // Values above the 80 dB floor come back; the floor stays the floor.
            for (i, (a, b)) in db.iter().zip(&s).enumerate().take(3) {
                assert!(
                    (a / b - 1.0).abs() < 1e-4,
                    "power {power}, value {i}: {a} vs {b}"
                );
            }
        }
        assert_eq!(default_amin(1.0), 1e-5);
        assert_eq!(default_amin(2.0), 1e-10);
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(to_db_ref_max(&mut [1.0], bad).is_err());
            assert!(db_to_linear(&mut [1.0], 1.0, bad).is_err());
        }
    }
}
