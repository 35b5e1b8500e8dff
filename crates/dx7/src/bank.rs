//! Voice banks: 32-voice bulk SysEx dumps (4104 bytes), single-voice SysEx dumps (163 bytes)
//! and raw packed banks (any whole number of 128-byte packed voices, e.g. 4096-byte banks and
//! the multi-bank `.dx7` files of hexter).

use crate::error::{Error, Result};
use crate::voice::{Voice, PACKED_LEN, UNPACKED_LEN};

/// Voices in a bulk dump.
pub const BANK_VOICES: usize = 32;
/// Bytes of a 32-voice bulk SysEx message: 6 header, 4096 data, checksum, `F7`.
pub const BULK_SYSEX_LEN: usize = 6 + BANK_VOICES * PACKED_LEN + 2;
/// Bytes of a single-voice SysEx message: 6 header, 155 data, checksum, `F7`.
pub const VOICE_SYSEX_LEN: usize = 6 + UNPACKED_LEN + 2;

const YAMAHA: u8 = 0x43;

/// The DX7 SysEx checksum: `(−Σ data) & 0x7F`.
pub fn checksum(data: &[u8]) -> u8 {
    (data
        .iter()
        .fold(0u8, |s, &b| s.wrapping_add(b))
        .wrapping_neg())
        & 0x7F
}

/// Parses a bank file's bytes: one or more SysEx messages (32-voice bulk or single voice) when
/// it starts with `F0`, otherwise raw packed voices (a whole number of 128-byte voices).
/// Voices are numbered from 1 across the file in error messages.
///
/// # Errors
/// As [`parse_each`], and the first voice's [`Error::Field`] if any is out of range.
pub fn parse(bytes: &[u8]) -> Result<Vec<Voice>> {
    parse_each(bytes)?.into_iter().collect()
}

/// Like [`parse`], but a voice with a field out of range is an error of its own, so the rest
/// of the bank can still be used.
///
/// # Errors
/// [`Error::Format`] for a size or header that is neither format, [`Error::Checksum`] for a
/// message whose checksum does not match.
pub fn parse_each(bytes: &[u8]) -> Result<Vec<Result<Voice>>> {
    if bytes.first() == Some(&0xF0) {
        parse_sysex(bytes)
    } else if !bytes.is_empty() && bytes.len().is_multiple_of(PACKED_LEN) {
        Ok(bytes
            .chunks_exact(PACKED_LEN)
            .enumerate()
            .map(|(i, p)| {
                Voice::from_packed(p.try_into().expect("chunks_exact gives 128 bytes"), i + 1)
            })
            .collect())
    } else {
        Err(Error::Format(format!(
            "{} bytes is neither SysEx (starting F0) nor a whole number of 128-byte packed voices",
            bytes.len()
        )))
    }
}

fn parse_sysex(mut bytes: &[u8]) -> Result<Vec<Result<Voice>>> {
    let mut voices = Vec::new();
    let mut message = 0;
    while !bytes.is_empty() {
        message += 1;
        let header = bytes
            .get(..6)
            .ok_or_else(|| Error::Format(format!("message {message} is cut short")))?;
        if header[0] != 0xF0 || header[1] != YAMAHA || header[2] & 0xF0 != 0 {
            return Err(Error::Format(format!(
                "message {message} is not a Yamaha voice dump (header {:02X?})",
                header
            )));
        }
        let (len, count) = match (header[3], header[4], header[5]) {
            (0x09, 0x20, 0x00) => (BULK_SYSEX_LEN, BANK_VOICES),
            (0x00, 0x01, 0x1B) => (VOICE_SYSEX_LEN, 1),
            _ => {
                return Err(Error::Format(format!(
                    "message {message} is not a DX7 voice dump (format {:02X} {:02X} {:02X})",
                    header[3], header[4], header[5]
                )))
            }
        };
        let msg = bytes.get(..len).ok_or_else(|| {
            Error::Format(format!(
                "message {message} has {} of its {len} bytes",
                bytes.len()
            ))
        })?;
        if msg[len - 1] != 0xF7 {
            return Err(Error::Format(format!(
                "message {message} does not end with F7"
            )));
        }
        let data = &msg[6..len - 2];
        let expected = checksum(data);
        if msg[len - 2] != expected {
            return Err(Error::Checksum {
                message,
                stored: msg[len - 2],
                expected,
            });
        }
        if count == 1 {
            voices.push(Voice::from_unpacked(data, voices.len() + 1));
        } else {
            for p in data.chunks_exact(PACKED_LEN) {
                let n = voices.len() + 1;
                voices.push(Voice::from_packed(
                    p.try_into().expect("chunks_exact gives 128 bytes"),
                    n,
                ));
            }
        }
        bytes = &bytes[len..];
    }
    Ok(voices)
}

/// A 32-voice bulk SysEx message (device channel 1) holding `voices`.
///
/// # Errors
/// [`Error::Format`] unless exactly 32 voices are given.
pub fn to_bulk_sysex(voices: &[Voice]) -> Result<Vec<u8>> {
    if voices.len() != BANK_VOICES {
        return Err(Error::Format(format!(
            "a bulk dump holds 32 voices, got {}",
            voices.len()
        )));
    }
    let mut out = vec![0xF0, YAMAHA, 0x00, 0x09, 0x20, 0x00];
    for v in voices {
        out.extend_from_slice(&v.to_packed());
    }
    out.push(checksum(&out[6..]));
    out.push(0xF7);
    Ok(out)
}

/// A single-voice SysEx message (device channel 1).
pub fn to_voice_sysex(voice: &Voice) -> Vec<u8> {
    let mut out = vec![0xF0, YAMAHA, 0x00, 0x00, 0x01, 0x1B];
    out.extend_from_slice(voice.unpacked());
    out.push(checksum(voice.unpacked()));
    out.push(0xF7);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::global;

    fn bank() -> Vec<Voice> {
        (0..32)
            .map(|i| {
                let mut v = Voice::init();
                v.set(global::ALGORITHM, i as u8).unwrap();
                v.set_name(&format!("VOICE {i}")).unwrap();
                v
            })
            .collect()
    }

    #[test]
    fn bulk_dump_round_trips() {
        let voices = bank();
        let syx = to_bulk_sysex(&voices).unwrap();
        assert_eq!(syx.len(), 4104);
        assert_eq!(&syx[..6], &[0xF0, 0x43, 0x00, 0x09, 0x20, 0x00]);
        assert_eq!(parse(&syx).unwrap(), voices);
        // The raw 4096 data bytes are a bank too, and two messages in one file are 64 voices.
        assert_eq!(parse(&syx[6..4102]).unwrap(), voices);
        assert_eq!(
            parse(&[syx.clone(), syx.clone()].concat()).unwrap().len(),
            64
        );
        let single = to_voice_sysex(&voices[3]);
        assert_eq!(single.len(), 163);
        assert_eq!(parse(&single).unwrap(), vec![voices[3].clone()]);
    }

    #[test]
    fn checksum_is_negated_sum() {
        assert_eq!(checksum(&[]), 0);
        assert_eq!(checksum(&[1]), 0x7F);
        assert_eq!(checksum(&[0x40, 0x40]), 0);
        let syx = to_bulk_sysex(&bank()).unwrap();
        let sum: u32 = syx[6..4103].iter().map(|&b| u32::from(b)).sum();
        assert_eq!(sum & 0x7F, 0);
    }

    #[test]
    fn bad_dumps_are_named() {
        let mut syx = to_bulk_sysex(&bank()).unwrap();
        syx[4102] ^= 1;
        let err = parse(&syx).unwrap_err().to_string();
        assert!(err.starts_with("bulk dump 1: checksum"), "{err}");
        let syx = to_bulk_sysex(&bank()).unwrap();
        let err = parse(&syx[..4000]).unwrap_err().to_string();
        assert!(err.contains("has 4000 of its 4104 bytes"), "{err}");
        assert!(parse(&[0u8; 100])
            .unwrap_err()
            .to_string()
            .contains("100 bytes"));
        assert!(parse(&[]).is_err());
        // A field out of range in voice 5 of a bulk dump (output level 100), checksum fixed.
        let mut syx = to_bulk_sysex(&bank()).unwrap();
        syx[6 + 4 * 128 + 14] = 100;
        syx[4102] = checksum(&syx[6..4102]);
        let err = parse(&syx).unwrap_err().to_string();
        assert_eq!(
            err,
            "voice 5 (VOICE 4): op6_output_level = 100 is out of range 0..=99"
        );
        assert!(to_bulk_sysex(&bank()[..3]).is_err());
        // parse_each keeps the other 31 voices.
        let each = parse_each(&syx).unwrap();
        assert_eq!(each.iter().filter(|v| v.is_ok()).count(), 31);
        assert!(each[4].is_err());
    }
}
