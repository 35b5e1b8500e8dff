//! Audio files in and out: decoding to mono f32, band-limited resampling, WAV writing.
//!
//! Samples are f32 in [−1, 1] (integer PCM is scaled by 2^(bits−1), as soundfile/librosa do).
//! Multi-channel audio is down-mixed to the mean of its channels.

use std::fs::File;
use std::path::Path;

use rubato::{FftFixedIn, Resampler};
use symphonia::core::codecs::audio::well_known::CODEC_ID_VORBIS;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::error::{Error, Result};
use crate::limits::MAX_SAMPLE_RATE;

/// File extensions (lower case) that [`load`] can decode.
pub const EXTENSIONS: &[&str] = &["wav", "wave", "flac", "ogg", "oga", "mp3"];

/// A mono signal with its sample rate and facts about the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Mono samples in [−1, 1], length `samples.len()` at `sr` Hz.
    pub samples: Vec<f32>,
    /// Sample rate of `samples`, Hz.
    pub sr: u32,
    /// Sample rate of the file, Hz.
    pub source_sr: u32,
    /// Number of channels in the file (before down-mixing).
    pub source_channels: u16,
    /// Length of the file in samples per channel, at `source_sr`.
    pub source_len: usize,
}

impl Audio {
    /// Duration of `samples` in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sr)
    }

    /// Resample to `sr` Hz (no-op when the rate already matches).
    ///
    /// # Errors
    /// See [`resample`].
    pub fn resampled(self, sr: u32) -> Result<Self> {
        if sr == self.sr {
            return Ok(self);
        }
        let samples = resample(&self.samples, self.sr, sr)?;
        Ok(Audio {
            samples,
            sr,
            ..self
        })
    }
}

/// Decode an audio file (WAV of any PCM width or 32-bit float; FLAC, OGG/Vorbis, MP3) to mono.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened, [`Error::Decode`] when it is not audio, is
/// truncated or corrupt, or declares a sample rate of 0 or above [`MAX_SAMPLE_RATE`], and
/// [`Error::InvalidInput`] when it holds no samples or a non-finite one.
pub fn load(path: &Path) -> Result<Audio> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let is_wav = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "wav" | "wave"));
    let audio = if is_wav {
        // hound handles every PCM width and float WAV exactly; fall back to symphonia for WAV
        // variants hound does not know (e.g. µ-law).
        match hound::WavReader::new(std::io::BufReader::new(file)) {
            Ok(reader) => load_wav(path, reader)?,
            Err(hound_err) => load_symphonia(path).map_err(|_| Error::Decode {
                path: path.to_owned(),
                reason: hound_err.to_string(),
            })?,
        }
    } else {
        load_symphonia(path)?
    };
    if audio.samples.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: audio file holds no samples",
            path.display()
        )));
    }
    if audio.sr == 0 || audio.sr > MAX_SAMPLE_RATE {
        return Err(Error::Decode {
            path: path.to_owned(),
            reason: format!(
                "declares a sample rate of {} Hz (accepted: 1 to {MAX_SAMPLE_RATE})",
                audio.sr
            ),
        });
    }
    ensure_finite(&audio.samples, &path.display().to_string())?;
    Ok(audio)
}

/// Decode `path` and resample it to `sr` Hz.
///
/// # Errors
/// As [`load`] and [`resample`].
pub fn load_resampled(path: &Path, sr: u32) -> Result<Audio> {
    load(path)?.resampled(sr)
}

fn load_wav(path: &Path, reader: hound::WavReader<std::io::BufReader<File>>) -> Result<Audio> {
    let decode_err = |e: hound::Error| Error::Decode {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let spec = reader.spec();
    let declared = reader.len() as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(decode_err)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(decode_err)?
        }
    };
    if interleaved.len() < declared {
        return Err(Error::Decode {
            path: path.to_owned(),
            reason: format!(
                "truncated: header declares {declared} samples, file holds {}",
                interleaved.len()
            ),
        });
    }
    Ok(from_interleaved(
        interleaved,
        spec.channels,
        spec.sample_rate,
    ))
}

/// Decode with symphonia; a panic inside the decoder (which malformed streams can trigger)
/// becomes a decode error instead of ending the program.
fn load_symphonia(path: &Path) -> Result<Audio> {
    std::panic::catch_unwind(|| decode_symphonia(path)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder failed".into());
        Err(Error::Decode {
            path: path.to_owned(),
            reason: format!("the decoder failed: {reason}"),
        })
    })
}

fn decode_symphonia(path: &Path) -> Result<Audio> {
    let decode_err = |e: SymphoniaError| Error::Decode {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(decode_err)?;
    let (track_id, params, declared_frames) = format
        .tracks()
        .iter()
        .find_map(|t| {
            let params = t.codec_params.as_ref()?.audio()?.clone();
            Some((t.id, params, t.num_frames))
        })
        .ok_or_else(|| Error::Decode {
            path: path.to_owned(),
            reason: "no audio track".into(),
        })?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(decode_err)?;
    let mut sr = params.sample_rate;
    let mut channels = params.channels.as_ref().map(|c| c.count() as u16);
    // A Vorbis stream whose length symphonia cannot read lacks its final (end-of-stream) page.
    let is_vorbis = params.codec == CODEC_ID_VORBIS;
    // Reserve the declared length up front: growing a long buffer by copying dominates
    // decoding time otherwise.
    let declared = usize::try_from(declared_frames.unwrap_or(0))
        .unwrap_or(usize::MAX)
        .saturating_mul(params.channels.as_ref().map_or(1, |c| c.count()));
    let mut interleaved = Vec::with_capacity(declared.min(1 << 27));
    let mut packet_samples: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(decode_err(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A corrupt packet is skipped, as every player does; a broken stream fails below.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(decode_err(e)),
        };
        let spec = decoded.spec();
        sr = Some(spec.rate());
        channels = Some(spec.channels().count() as u16);
        decoded.copy_to_vec_interleaved(&mut packet_samples);
        interleaved.extend_from_slice(&packet_samples);
    }
    let (Some(sr), Some(channels)) = (sr, channels) else {
        return Err(Error::Decode {
            path: path.to_owned(),
            reason: "stream declares no sample rate or channel layout".into(),
        });
    };
    let decoded = interleaved.len() / usize::from(channels.max(1));
    let truncated = match declared_frames {
        Some(n) if (decoded as u64) < n => Some(format!(
            "truncated: the stream declares {n} samples, decoding ended after {decoded}"
        )),
        None if is_vorbis => {
            Some("truncated: the Ogg stream ends without its end-of-stream page".into())
        }
        _ => None,
    };
    if let Some(reason) = truncated {
        return Err(Error::Decode {
            path: path.to_owned(),
            reason,
        });
    }
    Ok(from_interleaved(interleaved, channels.max(1), sr))
}

fn from_interleaved(interleaved: Vec<f32>, channels: u16, sr: u32) -> Audio {
    let c = usize::from(channels.max(1));
    let samples: Vec<f32> = if c == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(c)
            .map(|frame| frame.iter().sum::<f32>() / c as f32)
            .collect()
    };
    Audio {
        source_len: samples.len(),
        samples,
        sr,
        source_sr: sr,
        source_channels: channels,
    }
}

/// Check that every sample of `x` is finite.
///
/// # Errors
/// [`Error::InvalidInput`] naming `what`, the first bad value and its position.
pub fn ensure_finite(x: &[f32], what: &str) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::InvalidInput(format!(
            "{what}: sample {i} is {} (audio must be finite everywhere)",
            x[i]
        ))),
    }
}

/// Band-limited resampling of a mono signal from `from` Hz to `to` Hz.
///
/// Uses rubato's FFT resampler (synchronous, anti-aliased); the output has
/// `ceil(len · to / from)` samples and is aligned with the input (the resampler's delay is
/// removed).
///
/// # Errors
/// [`Error::InvalidParameter`] for a rate of 0 or above [`MAX_SAMPLE_RATE`],
/// [`Error::InvalidInput`] for a non-finite sample, [`Error::Resample`] if rubato fails.
pub fn resample(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    for (rate, which) in [(from, "source"), (to, "target")] {
        if rate == 0 || rate > MAX_SAMPLE_RATE {
            return Err(Error::param(
                "sr",
                rate,
                format!("{which} sample rate must be between 1 and {MAX_SAMPLE_RATE} Hz"),
            ));
        }
    }
    if from == to || x.is_empty() {
        return Ok(x.to_vec());
    }
    ensure_finite(x, "the signal")?;
    let expected = (x.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let rs_err = |e: &dyn std::fmt::Display| Error::Resample(e.to_string());
    let mut rs =
        FftFixedIn::<f32>::new(from as usize, to as usize, 1024, 2, 1).map_err(|e| rs_err(&e))?;
    let delay = rs.output_delay();
    let mut out: Vec<f32> = Vec::with_capacity(expected + delay + 2048);
    let mut pos = 0;
    while x.len() - pos >= rs.input_frames_next() {
        let n = rs.input_frames_next();
        let chunk = rs
            .process(&[&x[pos..pos + n]], None)
            .map_err(|e| rs_err(&e))?;
        out.extend_from_slice(&chunk[0]);
        pos += n;
    }
    if pos < x.len() {
        let chunk = rs
            .process_partial(Some(&[&x[pos..]]), None)
            .map_err(|e| rs_err(&e))?;
        out.extend_from_slice(&chunk[0]);
    }
    while out.len() < expected + delay {
        let chunk = rs
            .process_partial(None::<&[&[f32]]>, None)
            .map_err(|e| rs_err(&e))?;
        out.extend_from_slice(&chunk[0]);
    }
    out.drain(..delay);
    out.truncate(expected);
    Ok(out)
}

/// Sample format of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavFormat {
    /// IEEE 32-bit float.
    #[default]
    F32,
    /// 16-bit PCM (values clipped to [−1, 1]).
    I16,
}

/// A sample as [`write_wav`] stores it in 16-bit PCM: clipped to [−1, 1], times 32767,
/// rounded half away from zero.
#[inline]
pub fn to_i16(s: f32) -> i16 {
    // As f32::round without a libm call per sample (adding 0.5 is exact below 2^22).
    let y = s.clamp(-1.0, 1.0) * 32767.0;
    (y + 0.5f32.copysign(y)) as i16
}

/// Write a mono WAV file of `samples` at `sr` Hz.
///
/// # Errors
/// [`Error::Io`] when the file cannot be written.
pub fn write_wav(path: &Path, samples: &[f32], sr: u32, format: WavFormat) -> Result<()> {
    let (bits, sample_format) = match format {
        WavFormat::F32 => (32, hound::SampleFormat::Float),
        WavFormat::I16 => (16, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sr,
        bits_per_sample: bits,
        sample_format,
    };
    let to_io = |e: hound::Error| match e {
        hound::Error::IoError(e) => Error::io(path, e),
        other => Error::io(path, std::io::Error::other(other.to_string())),
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(to_io)?;
    match format {
        WavFormat::F32 => {
            for &s in samples {
                w.write_sample(s).map_err(to_io)?;
            }
        }
        WavFormat::I16 => {
            let n = u32::try_from(samples.len()).map_err(|_| {
                Error::io(
                    path,
                    std::io::Error::other("too many samples for a WAV file"),
                )
            })?;
            // The sized writer skips hound's per-sample format checks.
            let mut w16 = w.get_i16_writer(n);
            for &s in samples {
                w16.write_sample(to_i16(s));
            }
            w16.flush().map_err(to_io)?;
        }
    }
    w.finalize().map_err(to_io)
}

/// The non-silent part of `y`, as `librosa.effects.trim(y, top_db)` finds it: RMS over frames
/// of 2048 samples every 512 (centred), in dB relative to the loudest frame; the range runs
/// from the first to the last frame above `−top_db`. Returns the sample range to keep (empty
/// when everything is silent).
pub fn trim_silence(y: &[f32], top_db: f32) -> std::ops::Range<usize> {
    const FRAME: usize = 2048;
    const HOP: usize = 512;
    if y.is_empty() {
        return 0..0;
    }
    let n_frames = 1 + y.len() / HOP;
    let rms: Vec<f32> = (0..n_frames)
        .map(|t| {
            let centre = t * HOP;
            let lo = centre.saturating_sub(FRAME / 2);
            let hi = (centre + FRAME / 2).min(y.len());
            let energy: f32 = y[lo..hi].iter().map(|v| v * v).sum();
            (energy / FRAME as f32).sqrt()
        })
        .collect();
    let peak = rms.iter().fold(0.0f32, |a, &b| a.max(b));
    if peak == 0.0 {
        return 0..0;
    }
    let threshold = peak * 10f32.powf(-top_db / 20.0);
    let first = rms.iter().position(|&r| r > threshold);
    let last = rms.iter().rposition(|&r| r > threshold);
    match (first, last) {
        (Some(f), Some(l)) => (f * HOP).min(y.len())..((l + 1) * HOP).min(y.len()),
        _ => 0..0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_removes_leading_and_trailing_silence() {
        let mut y = vec![0.0f32; 10000];
        y.extend((0..8000).map(|n| (n as f32 * 0.1).sin() * 0.5));
        y.extend(vec![0.0f32; 10000]);
        let kept = trim_silence(&y, 60.0);
        assert!(kept.start > 7000 && kept.start <= 10000, "{kept:?}");
        assert!(kept.end >= 18000 && kept.end < 21000, "{kept:?}");
        assert_eq!(trim_silence(&[0.0; 100], 60.0), 0..0);
    }
}
