//! Limits that keep hostile or mistaken inputs from exhausting the machine: the largest
//! accepted parameter values, and a memory budget that sizes are checked against before
//! anything is allocated, so that an absurd request is an error naming its size instead of an
//! out-of-memory kill.

use crate::error::{Error, Result};

/// Largest accepted sample rate, Hz (twice the highest rate of studio converters, 768 kHz).
pub const MAX_SAMPLE_RATE: u32 = 1_536_000;

/// Largest accepted FFT size, samples (2^20: 24 s at 44.1 kHz).
pub const MAX_N_FFT: usize = 1 << 20;

/// Largest accepted number of mel bands.
pub const MAX_N_MELS: usize = 1 << 14;

/// The environment variable that sets the memory budget (bytes, or with a suffix K, M, G or T
/// in powers of 1024, e.g. `512M`); without it the budget is the machine's physical memory.
pub const MEMORY_LIMIT_VAR: &str = "MELNET_MEMORY_LIMIT";

/// The memory budget in bytes: `MELNET_MEMORY_LIMIT` when set and valid, else the physical
/// memory (`MemTotal` of `/proc/meminfo`), else 16 GiB where that cannot be read.
pub fn memory_limit() -> u64 {
    if let Some(limit) = std::env::var(MEMORY_LIMIT_VAR)
        .ok()
        .and_then(|v| parse_bytes(&v))
    {
        return limit;
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(16 << 30)
}

/// `bytes` as a number with a suffix K, M, G or T (powers of 1024), or `None` if malformed.
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.chars().last()?.to_ascii_uppercase() {
        'K' => (&text[..text.len() - 1], 10),
        'M' => (&text[..text.len() - 1], 20),
        'G' => (&text[..text.len() - 1], 30),
        'T' => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// `bytes` for people: `1.5 GiB`, `12.0 MiB`, `512 B`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024.0 {
        return format!("{bytes:.0} B");
    }
    let mut value = bytes / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Check that `what` needing about `bytes` bytes fits the [`memory_limit`]. `bytes` is a float
/// so that products of declared sizes cannot overflow on the way here.
///
/// # Errors
/// [`Error::TooLarge`] with the estimate and the limit.
pub fn ensure_memory(what: impl Into<String>, bytes: f64) -> Result<()> {
    let limit = memory_limit();
    if bytes.is_finite() && bytes <= limit as f64 {
        Ok(())
    } else {
        Err(Error::TooLarge {
            what: what.into(),
            needed: human_bytes(bytes),
            limit: human_bytes(limit as f64),
        })
    }
}

/// [`ensure_memory`] for an array `what` of shape `dims` with elements of `elem_bytes` bytes.
///
/// # Errors
/// [`Error::TooLarge`] naming the array and its shape.
pub fn ensure_array(what: &str, dims: &[usize], elem_bytes: usize) -> Result<()> {
    let bytes = dims
        .iter()
        .fold(elem_bytes as f64, |acc, &d| acc * d as f64);
    ensure_memory(format!("{what} of shape {dims:?}"), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_with_suffixes() {
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes("2g"), Some(2 << 30));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(parse_bytes("99999999999T"), None);
    }

    #[test]
    fn refuses_what_exceeds_the_machine() {
        assert!(ensure_memory("a little", 1e6).is_ok());
        let err = ensure_memory("the output", 1e30).unwrap_err().to_string();
        assert!(err.starts_with("the output needs about "), "{err}");
        assert!(ensure_memory("nothing sensible", f64::NAN).is_err());
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GiB");
    }
}
