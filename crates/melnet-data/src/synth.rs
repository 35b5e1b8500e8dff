//! Synthesizer-preset datasets: DX7 banks (and voices bred from them) → one rendered note per
//! voice as audio, with a table of every voice's parameters for sound-matching research.
//!
//! A render directory holds `audio/00000.wav`, … (16-bit PCM, one per voice), `presets.csv`
//! (file, name, source, peak, RMS, flag), `labels.csv` (file and the 144 learnable parameters
//! normalised to [0, 1], ready for `prepare --labels`), `params.npy` (`(voices, 155)` f32, all
//! parameters normalised, unpacked order) and `synth.json` (settings, sources, the parameter
//! table with names, ranges and which are learnable). Audio files are written atomically and
//! reused by a re-run with the same settings; the tables are written when every voice is done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use dx7::{RenderSettings, Voice};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::files::{write_renamed, write_text};
use crate::{Error, Result};
use melspec::audio::{to_i16, write_wav, WavFormat};
use melspec::npy::write_f32_2d;

/// The settings file of a render directory.
pub const SYNTH_FILE: &str = "synth.json";
/// The preset table of a render directory.
pub const PRESETS_FILE: &str = "presets.csv";
/// The label table of a render directory (input of `prepare --labels`).
pub const LABELS_FILE: &str = "labels.csv";
/// The normalised parameters of a render directory, `(voices, 155)`.
pub const PARAMS_FILE: &str = "params.npy";
const AUDIO_DIR: &str = "audio";
const FORMAT: u32 = 1;

/// The DX7's output level relative to the engine's (a full-level operator at 1.0): 1/8.
pub const DX7_GAIN: f32 = 0.125;

/// A render whose RMS is below this (dBFS) is flagged `silent`.
pub const SILENT_DB: f32 = -60.0;

/// What to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthSettings {
    /// MIDI note (60 = middle C).
    pub note: u8,
    /// MIDI velocity (1–127).
    pub velocity: u8,
    /// Seconds the key is held.
    pub note_seconds: f64,
    /// Seconds rendered per voice.
    pub seconds: f64,
    /// Sample rate in Hz.
    pub sr: u32,
    /// Linear gain applied before writing the audio: [`DX7_GAIN`] (1/8) gives the DX7's
    /// own output level, where even six full-level carriers stay below full scale.
    pub gain: f32,
    /// Write 32-bit float WAV instead of 16-bit PCM (no quantisation, no clipping, twice the
    /// size).
    #[serde(default)]
    pub float: bool,
    /// Voices bred from the banks' voices, beyond the banks' own.
    pub breed: usize,
    /// Seed of the breeding.
    pub seed: u64,
}

impl SynthSettings {
    /// The audio files' sample format.
    pub fn wav_format(&self) -> WavFormat {
        if self.float {
            WavFormat::F32
        } else {
            WavFormat::I16
        }
    }

    /// The engine's render settings.
    pub fn render_settings(&self) -> RenderSettings {
        RenderSettings {
            note: self.note,
            velocity: self.velocity,
            note_seconds: self.note_seconds,
            seconds: self.seconds,
            sr: f64::from(self.sr),
        }
    }
}

/// One bank file given to [`render_banks`]: what was taken from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankSource {
    /// The path as given.
    pub path: String,
    /// blake3 of its bytes.
    pub hash: String,
    /// Voices read.
    pub voices: usize,
    /// Voices equal to an earlier one but for the name (dropped).
    pub duplicates: usize,
    /// Voices or the whole file not read, with the reason.
    pub skipped: Vec<String>,
}

/// `synth.json`: everything that determines a render directory's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthRecord {
    /// File format version.
    pub format: u32,
    /// Render settings.
    pub settings: SynthSettings,
    /// The banks, in the order given.
    pub banks: Vec<BankSource>,
    /// Voices rendered: the banks' unique voices, then the bred ones.
    pub voices: usize,
    /// The 155 parameters (unpacked order): name, max, learnable.
    pub params: Vec<ParamInfo>,
}

/// A parameter's description in `synth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamInfo {
    /// Name (`op1_output_level`, …).
    pub name: String,
    /// Largest raw value (normalised value = raw / max).
    pub max: u8,
    /// Whether it is one of the 144 learnable parameters (labels.csv's columns).
    pub learnable: bool,
}

impl SynthRecord {
    /// Whether `other` describes the same render: settings, bank contents (by hash, wherever
    /// the files now are), voice count and parameter table.
    pub fn same_render(&self, other: &SynthRecord) -> bool {
        let hashes = |r: &SynthRecord| r.banks.iter().map(|b| b.hash.clone()).collect::<Vec<_>>();
        self.format == other.format
            && self.settings == other.settings
            && self.voices == other.voices
            && self.params == other.params
            && hashes(self) == hashes(other)
    }
}

/// A voice to render and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedVoice {
    /// The voice.
    pub voice: Voice,
    /// `BANK#N` (N 1-based within the bank file) or `bred:PARENT_A+PARENT_B` indices.
    pub source: String,
}

/// Reads bank files (see [`dx7::bank::parse_each`]), dropping voices that sound the same as
/// an earlier one (every parameter but the name equal). Unreadable files and out-of-range voices are skipped and listed in the sources.
///
/// # Errors
/// [`Error::InvalidInput`] when no voice at all could be read.
pub fn load_banks(paths: &[PathBuf]) -> Result<(Vec<SourcedVoice>, Vec<BankSource>)> {
    let mut seen = HashSet::new();
    let mut voices = Vec::new();
    let mut sources = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let mut source = BankSource {
            path: name.clone(),
            hash: String::new(),
            voices: 0,
            duplicates: 0,
            skipped: Vec::new(),
        };
        match std::fs::read(path) {
            Err(e) => source.skipped.push(Error::io(path, e).to_string()),
            Ok(bytes) => {
                source.hash = blake3::hash(&bytes).to_hex().to_string();
                match dx7::bank::parse_each(&bytes) {
                    Err(e) => source.skipped.push(e.to_string()),
                    Ok(parsed) => {
                        for (i, v) in parsed.into_iter().enumerate() {
                            match v {
                                Err(e) => source.skipped.push(e.to_string()),
                                Ok(voice)
                                    if seen.insert(
                                        voice.unpacked()[..dx7::voice::global::NAME].to_vec(),
                                    ) =>
                                {
                                    source.voices += 1;
                                    voices.push(SourcedVoice {
                                        voice,
                                        source: format!("{name}#{}", i + 1),
                                    });
                                }
                                Ok(_) => source.duplicates += 1,
                            }
                        }
                    }
                }
            }
        }
        sources.push(source);
    }
    if voices.is_empty() {
        let reasons: Vec<String> = sources.iter().flat_map(|s| s.skipped.clone()).collect();
        return Err(Error::InvalidInput(format!(
            "no DX7 voices could be read{}",
            if reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", reasons.join("; "))
            }
        )));
    }
    Ok((voices, sources))
}

/// 32 example voices made in code (no patch data needed), one per algorithm: carriers near full
/// level, modulators at moderate levels, small integer ratios, varied envelopes, a little
/// feedback and vibrato; deterministic for a `seed`. For trying the pipeline and for tests.
pub fn example_bank(seed: u64) -> Vec<Voice> {
    use dx7::voice::{global, op, OP_LEN};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..32)
        .map(|i| {
            let mut v = Voice::init();
            let alg = &dx7::algorithm::ALGORITHMS[i];
            let mut set = |index: usize, value: u8| {
                v.set(index, value)
                    .expect("example values are within range");
            };
            set(global::ALGORITHM, i as u8);
            for n in 1..=6 {
                let o = (6 - n) * OP_LEN;
                let level = if alg.is_carrier(n) {
                    rng.gen_range(88..=99)
                } else {
                    rng.gen_range(55..=85)
                };
                set(o + op::OUTPUT_LEVEL, level);
                set(o + op::COARSE, rng.gen_range(1..=6));
                set(o + op::DETUNE, rng.gen_range(5..=9));
                let rates = [
                    rng.gen_range(55..=99),
                    rng.gen_range(25..=75),
                    rng.gen_range(20..=60),
                    rng.gen_range(35..=75),
                ];
                let levels = [99, rng.gen_range(70..=99), rng.gen_range(0..=90), 0];
                for k in 0..4 {
                    set(o + op::EG_RATE + k, rates[k]);
                    set(o + op::EG_LEVEL + k, levels[k]);
                }
                set(o + op::VELOCITY_SENS, rng.gen_range(0..=3));
            }
            set(global::FEEDBACK, rng.gen_range(0..=6));
            set(global::LFO_SPEED, rng.gen_range(25..=45));
            set(global::LFO_PITCH_MOD_DEPTH, rng.gen_range(0..=8));
            v.set_name(&format!("EXAMPLE {i:02}"))
                .expect("a 10-character ASCII name");
            v
        })
        .collect()
}

/// Probability that a bred voice's parameter is mutated.
const MUTATION_RATE: f64 = 0.05;

/// Voice `index` bred from `parents` with `seed`: two distinct parents drawn at random, each
/// learnable parameter taken from one of them (uniform crossover), then with probability 5 %
/// moved by up to ±10 % of its range (at least one step), clamped to the range. Transpose comes
/// from the first parent; the name is `BRED` and the index. Each bred voice depends only on
/// (seed, index, parents), so renders can be resumed and split.
pub fn breed(parents: &[Voice], seed: u64, index: usize) -> (Voice, usize, usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let a = rng.gen_range(0..parents.len());
    let b = if parents.len() > 1 {
        (a + rng.gen_range(1..parents.len())) % parents.len()
    } else {
        a
    };
    let mut voice = parents[a].clone();
    for (i, p) in dx7::voice::params()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.learnable)
    {
        let mut v = if rng.gen_bool(0.5) {
            parents[a].get(i)
        } else {
            parents[b].get(i)
        };
        if rng.gen_bool(MUTATION_RATE) {
            let reach = i32::from(p.max / 10).max(1);
            let delta = rng.gen_range(1..=reach) * if rng.gen_bool(0.5) { 1 } else { -1 };
            v = (i32::from(v) + delta).clamp(0, i32::from(p.max)) as u8;
        }
        voice
            .set(i, v)
            .expect("values are clamped to the parameter's range");
    }
    let name = format!("BRED{index:06}");
    voice
        .set_name(&name[name.len().saturating_sub(10)..])
        .expect("BRED and digits are printable ASCII");
    (voice, a, b)
}

/// Progress reports of [`render_banks`].
#[derive(Debug, Clone, Copy)]
pub enum SynthProgress {
    /// Voices to render in total.
    Found(usize),
    /// A voice is done (rendered now, or reused from an earlier run).
    Done {
        /// Reused from an earlier run.
        reused: bool,
    },
}

/// How a [`render_banks`] run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SynthOutcome {
    /// Every voice is rendered and the tables are written.
    Complete {
        /// The record written to `synth.json`.
        record: Box<SynthRecord>,
        /// Voices rendered in this run.
        rendered: usize,
        /// Voices reused from earlier runs.
        reused: usize,
        /// Voices flagged `silent`.
        silent: usize,
        /// Voices flagged `clipped`.
        clipped: usize,
    },
    /// Cancelled: finished voices are kept for the next run.
    Interrupted {
        /// Voices finished.
        done: usize,
        /// Voices still to do.
        remaining: usize,
    },
}

/// Level of one rendered voice.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Level {
    peak: f32,
    rms_db: f32,
}

impl Level {
    fn of(x: &[f32]) -> Level {
        let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let ms =
            x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64;
        Level {
            peak,
            rms_db: (10.0 * ms.max(1e-20).log10()) as f32,
        }
    }

    fn flag(&self) -> &'static str {
        if self.peak >= 1.0 {
            "clipped"
        } else if self.rms_db < SILENT_DB {
            "silent"
        } else {
            ""
        }
    }
}

/// Renders every voice of `banks` (and `settings.breed` bred voices) into `output`, reusing
/// audio files an earlier run with the same settings and banks left. Up to `jobs` threads
/// (all cores for `None`); `cancel` stops the run after the voices in flight. The directory
/// is locked for the run.
///
/// # Errors
/// Invalid settings; no readable voice; `output` holding a render with other settings or in
/// use; I/O errors writing files.
pub fn render_banks(
    banks: &[PathBuf],
    output: &Path,
    settings: &SynthSettings,
    jobs: Option<usize>,
    cancel: &AtomicBool,
    progress: &(dyn Fn(SynthProgress) + Sync),
) -> Result<SynthOutcome> {
    let render_settings = settings.render_settings();
    render_settings
        .validate()
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    if !(settings.gain.is_finite() && settings.gain > 0.0) {
        return Err(Error::param(
            "gain",
            settings.gain,
            "must be positive and finite",
        ));
    }
    let (sourced, sources) = load_banks(banks)?;
    let parents: Vec<Voice> = sourced.iter().map(|s| s.voice.clone()).collect();
    let mut voices = sourced;
    for i in 0..settings.breed {
        let (voice, a, b) = breed(&parents, settings.seed, i);
        voices.push(SourcedVoice {
            voice,
            source: format!("bred:{}+{}", a + 1, b + 1),
        });
    }
    let record = SynthRecord {
        format: FORMAT,
        settings: settings.clone(),
        banks: sources,
        voices: voices.len(),
        params: dx7::voice::params()
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                max: p.max,
                learnable: p.learnable,
            })
            .collect(),
    };
    progress(SynthProgress::Found(voices.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::param("jobs", jobs.unwrap_or(0), e.to_string()))?;
    // Each worker holds one voice's samples (and a copy while writing).
    let samples = render_settings.samples();
    melspec::limits::ensure_memory(
        format!(
            "rendering {samples} samples per voice on {} threads",
            pool.current_num_threads()
        ),
        samples as f64 * 8.0 * pool.current_num_threads() as f64,
    )?;

    std::fs::create_dir_all(output.join(AUDIO_DIR)).map_err(|e| Error::io(output, e))?;
    let _lock = crate::lock::DirLock::acquire(output)?;
    let record_path = output.join(SYNTH_FILE);
    if record_path.is_file() {
        let text = std::fs::read_to_string(&record_path).map_err(|e| Error::io(&record_path, e))?;
        let old: SynthRecord = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", record_path.display())))?;
        if !old.same_render(&record) {
            return Err(Error::InvalidInput(format!(
                "{}: rendered with other settings or banks; use another directory",
                output.display()
            )));
        }
    } else {
        let text = serde_json::to_string_pretty(&record).expect("record serialises");
        write_text(&record_path, &text)?;
    }

    let width = (voices.len().saturating_sub(1)).to_string().len().max(5);
    let files: Vec<String> = (0..voices.len())
        .map(|i| format!("{AUDIO_DIR}/{i:0width$}.wav"))
        .collect();
    let rendered = AtomicUsize::new(0);
    let failed: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
    let levels: Vec<Option<Level>> = pool.install(|| {
        voices
            .par_iter()
            .zip(&files)
            .map(|(v, file)| {
                let path = output.join(file);
                if let Some(level) = read_level(&path, settings, samples) {
                    progress(SynthProgress::Done { reused: true });
                    return Some(level);
                }
                if cancel.load(Ordering::Relaxed) {
                    return None;
                }
                let result = dx7::render(&v.voice, &render_settings)
                    .map_err(|e| Error::InvalidInput(e.to_string()))
                    .and_then(|mut x| {
                        for v in &mut x {
                            *v *= settings.gain;
                        }
                        write_renamed(&path, |tmp| {
                            write_wav(tmp, &x, settings.sr, settings.wav_format())
                        })?;
                        // The level of what was written, as a resumed run reads it back.
                        if !settings.float {
                            for v in &mut x {
                                *v = f32::from(to_i16(*v)) / 32767.0;
                            }
                        }
                        Ok(Level::of(&x))
                    });
                match result {
                    Ok(level) => {
                        rendered.fetch_add(1, Ordering::Relaxed);
                        progress(SynthProgress::Done { reused: false });
                        Some(level)
                    }
                    Err(e) => {
                        cancel.store(true, Ordering::Relaxed);
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        None
                    }
                }
            })
            .collect()
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let remaining = levels.iter().filter(|l| l.is_none()).count();
    if remaining > 0 {
        return Ok(SynthOutcome::Interrupted {
            done: levels.len() - remaining,
            remaining,
        });
    }
    let levels: Vec<Level> = levels.into_iter().flatten().collect();
    write_tables(output, &voices, &files, &levels)?;
    let rendered = rendered.into_inner();
    Ok(SynthOutcome::Complete {
        rendered,
        reused: voices.len() - rendered,
        silent: levels.iter().filter(|l| l.flag() == "silent").count(),
        clipped: levels.iter().filter(|l| l.flag() == "clipped").count(),
        record: Box::new(record),
    })
}

/// The level of an earlier run's audio file, if it is complete (rate, format and length).
fn read_level(path: &Path, settings: &SynthSettings, samples: usize) -> Option<Level> {
    let mut reader = hound::WavReader::open(path).ok()?;
    let spec = reader.spec();
    let bits = if settings.float { 32 } else { 16 };
    if spec.sample_rate != settings.sr
        || spec.channels != 1
        || spec.bits_per_sample != bits
        || reader.len() as usize != samples
    {
        return None;
    }
    let x: Vec<f32> = if settings.float {
        reader
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .ok()?
    } else {
        // write_wav scales 16-bit samples by 32767.
        reader
            .samples::<i16>()
            .map(|s| s.map(|v| f32::from(v) / 32767.0))
            .collect::<std::result::Result<_, _>>()
            .ok()?
    };
    Some(Level::of(&x))
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::InvalidInput(format!("{}: {e}", path.display()))
}

/// Writes `presets.csv`, `labels.csv` and `params.npy`.
fn write_tables(
    output: &Path,
    voices: &[SourcedVoice],
    files: &[String],
    levels: &[Level],
) -> Result<()> {
    let params = dx7::voice::params();
    let presets = output.join(PRESETS_FILE);
    write_renamed(&presets, |tmp| {
        let mut w = csv::Writer::from_path(tmp).map_err(|e| csv_error(tmp, e))?;
        w.write_record(["file", "name", "source", "peak", "rms_db", "flag"])
            .map_err(|e| csv_error(tmp, e))?;
        for ((v, file), level) in voices.iter().zip(files).zip(levels) {
            w.write_record([
                file.as_str(),
                &v.voice.name(),
                &v.source,
                &format!("{:.4}", level.peak),
                &format!("{:.2}", level.rms_db),
                level.flag(),
            ])
            .map_err(|e| csv_error(tmp, e))?;
        }
        w.flush().map_err(|e| Error::io(tmp, e))
    })?;
    let labels = output.join(LABELS_FILE);
    write_renamed(&labels, |tmp| {
        let mut w = csv::Writer::from_path(tmp).map_err(|e| csv_error(tmp, e))?;
        let header = std::iter::once("file").chain(
            params
                .iter()
                .filter(|p| p.learnable)
                .map(|p| p.name.as_str()),
        );
        w.write_record(header).map_err(|e| csv_error(tmp, e))?;
        for (v, file) in voices.iter().zip(files) {
            let values = v.voice.normalised();
            let row = std::iter::once(file.clone()).chain(
                values
                    .iter()
                    .zip(params)
                    .filter(|(_, p)| p.learnable)
                    .map(|(x, _)| format!("{x:.6}")),
            );
            w.write_record(row).map_err(|e| csv_error(tmp, e))?;
        }
        w.flush().map_err(|e| Error::io(tmp, e))
    })?;
    let mut matrix = Array2::<f32>::zeros((voices.len(), params.len()));
    for (mut row, v) in matrix.rows_mut().into_iter().zip(voices) {
        row.assign(&ndarray::ArrayView1::from(&v.voice.normalised()));
    }
    write_renamed(&output.join(PARAMS_FILE), |tmp| {
        write_f32_2d(tmp, matrix.view())
    })
}
