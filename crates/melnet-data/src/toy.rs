//! A synthetic text-to-speech task that learns in minutes (the proof that text conditioning
//! works): every letter of a small alphabet ([`LETTERS`]) is a chord of two tones on its own
//! mel bands with its own envelope, lasting a random number of frames; words are separated by
//! silence. This module renders texts and corpora and reads a spectrogram back
//! ([`ToySpeech::decode`]), scored by the character error rate ([`cer`]); sampling a model
//! and reading its spectrograms back is `melnet::toy`.

use std::path::Path;

use melspec::AnalysisParams;
use ndarray::ArrayView2;
use rand::Rng;

use crate::files::write_text;
use crate::{Error, Result};

/// The letters of the task (texts are words of these separated by single spaces).
pub const LETTERS: &str = "abcdef";

/// Frames of silence before the first and after the last word.
const EDGE_FRAMES: usize = 2;
/// Frames per letter.
const LETTER_FRAMES: std::ops::RangeInclusive<usize> = 4..=7;
/// Frames of silence between words.
const GAP_FRAMES: std::ops::RangeInclusive<usize> = 5..=7;
/// Each letter fades in and out over this long, raised-cosine shaped, s: a shorter or
/// straight ramp clicks, spreading energy 20–50 dB above the floor over every band below the
/// letter at its onset, so that the letter is told by the slope of that skirt rather than by
/// its own bands.
const FADE_SECONDS: f64 = 0.03;
/// A frame whose loudest band is this far below the spectrogram's loudest is silence, dB.
const SILENCE_DB: f32 = 35.0;
/// A frame whose loudest band stands less than this above its quietest is silence (noise), dB.
const CONTRAST_DB: f32 = 20.0;

/// The renderer and reader of the task for one analysis geometry.
#[derive(Debug, Clone)]
pub struct ToySpeech {
    params: AnalysisParams,
    /// Each letter's two mel bands.
    bands: Vec<[usize; 2]>,
    /// Centre frequency of every mel band, Hz.
    centres: Vec<f64>,
}

impl ToySpeech {
    /// The task for spectrograms of `params` (at least 26 mel bands: each letter has two bands
    /// of its own, two bands apart).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for fewer bands.
    pub fn new(params: AnalysisParams) -> Result<Self> {
        let letters = LETTERS.len();
        let half = params.n_mels / 2;
        if half < 2 * letters + 1 {
            return Err(Error::param(
                "n_mels",
                params.n_mels,
                format!("the toy task needs at least {} mel bands", 4 * letters + 2),
            ));
        }
        let edges = melspec::convert::mel_frequencies(
            params.n_mels + 2,
            params.fmin,
            params.fmax_hz(),
            params.htk,
        );
        Ok(ToySpeech {
            params,
            bands: (0..letters)
                .map(|i| [1 + 2 * i, half + 1 + 2 * i])
                .collect(),
            centres: edges[1..=params.n_mels].to_vec(),
        })
    }

    /// The audio of `text` at the analysis' sample rate, with random letter durations and
    /// word gaps from `rng`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a character outside [`LETTERS`] and the space, or a text
    /// without a letter.
    pub fn render(&self, text: &str, rng: &mut impl Rng) -> Result<Vec<f32>> {
        let letters = letters_of(text)?;
        let hop = self.params.stft.hop_length;
        let sr = f64::from(self.params.sr);
        let mut out = vec![0.0f32; EDGE_FRAMES * hop];
        for (i, letter) in letters.iter().enumerate() {
            match letter {
                None => out.resize(out.len() + rng.gen_range(GAP_FRAMES) * hop, 0.0),
                Some(l) => {
                    let n = rng.gen_range(LETTER_FRAMES) * hop;
                    let fade = FADE_SECONDS * sr;
                    let [lo, hi] = self.bands[*l].map(|b| self.centres[b]);
                    let start = out.len() as f64;
                    out.extend((0..n).map(|k| {
                        let p = k as f64 / n as f64;
                        let ramp = (k.min(n - 1 - k) as f64 / fade).min(1.0);
                        let edge = 0.5 - 0.5 * (std::f64::consts::PI * ramp).cos();
                        let t = (start + k as f64) / sr;
                        let tones = (std::f64::consts::TAU * lo * t).sin()
                            + (std::f64::consts::TAU * hi * t + i as f64).sin();
                        (0.2 * envelope(*l, p) * edge * tones) as f32
                    }));
                }
            }
        }
        out.resize(out.len() + EDGE_FRAMES * hop, 0.0);
        Ok(out)
    }

    /// Read a text back from a dB mel spectrogram `(n_mels, frames)`: each frame is silence
    /// (its loudest band [`SILENCE_DB`] below the spectrogram's loudest, or less than
    /// [`CONTRAST_DB`] above its own quietest) or the letter whose two
    /// bands are loudest; single frames between two runs are merged into them, runs of the same
    /// letter are one letter and silence between letters one space.
    pub fn decode(&self, mel_db: ArrayView2<f32>) -> String {
        let top = mel_db.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut labels: Vec<Option<usize>> = mel_db
            .columns()
            .into_iter()
            .map(|frame| {
                let loudest = frame.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let quietest = frame.iter().fold(f32::INFINITY, |m, &v| m.min(v));
                if loudest < top - SILENCE_DB || loudest - quietest < CONTRAST_DB {
                    return None;
                }
                let score = |b: &[usize; 2]| frame[b[0]] + frame[b[1]];
                (0..self.bands.len())
                    .max_by(|&a, &b| score(&self.bands[a]).total_cmp(&score(&self.bands[b])))
            })
            .collect();
        // A lone frame unlike both neighbours is a blur of the transition: take the previous.
        for t in 1..labels.len().saturating_sub(1) {
            if labels[t] != labels[t - 1] && labels[t] != labels[t + 1] {
                labels[t] = labels[t - 1];
            }
        }
        let mut text = String::new();
        let mut last: Option<Option<usize>> = None;
        for label in labels {
            if last == Some(label) {
                continue;
            }
            last = Some(label);
            match label {
                Some(l) => text.push(LETTERS.as_bytes()[l] as char),
                None if !text.is_empty() => text.push(' '),
                None => {}
            }
        }
        text.trim_end().to_string()
    }
}

/// Each character of `text` as a letter index, `None` for a space.
fn letters_of(text: &str) -> Result<Vec<Option<usize>>> {
    let bad = |reason: String| Error::param("text", format!("{text:?}"), reason);
    let letters = text
        .chars()
        .map(|c| match (c, LETTERS.find(c)) {
            (' ', _) => Ok(None),
            (_, Some(i)) => Ok(Some(i)),
            _ => Err(bad(format!(
                "has {c:?}; the toy task's texts are words of {LETTERS:?} and spaces"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    if letters.iter().all(Option::is_none) {
        return Err(bad("has no letter".into()));
    }
    Ok(letters)
}

/// Letter `l`'s loudness at `p` ∈ [0, 1] of its duration: six different shapes.
fn envelope(l: usize, p: f64) -> f64 {
    use std::f64::consts::PI;
    match l % 6 {
        0 => 1.0,
        1 => 0.3 + 0.7 * p,
        2 => 1.0 - 0.7 * p,
        3 => 0.3 + 0.7 * (PI * p).sin(),
        4 => 1.0 - 0.6 * (PI * p).sin(),
        _ => 0.6 + 0.4 * (2.0 * PI * p).cos(),
    }
}

/// A random text: one to three words of one to four letters, no letter twice in a row.
pub fn random_text(rng: &mut impl Rng) -> String {
    let letters: Vec<char> = LETTERS.chars().collect();
    let words = rng.gen_range(1..=3);
    let mut text = String::new();
    for w in 0..words {
        if w > 0 {
            text.push(' ');
        }
        let mut prev = None;
        for _ in 0..rng.gen_range(1..=4) {
            let mut c = letters[rng.gen_range(0..letters.len())];
            while Some(c) == prev {
                c = letters[rng.gen_range(0..letters.len())];
            }
            text.push(c);
            prev = Some(c);
        }
    }
    text
}

/// `count` distinct random texts, the same for the same `seed`: a corpus's held-out texts.
pub fn held_out_texts(seed: u64, count: usize) -> Vec<String> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x4e1d);
    let mut texts: Vec<String> = Vec::with_capacity(count);
    while texts.len() < count {
        let t = random_text(&mut rng);
        if !texts.contains(&t) {
            texts.push(t);
        }
    }
    texts
}

/// The character error rate of `said` against `target`: their edit distance (insertions,
/// deletions, substitutions) over `target`'s characters.
pub fn cer(said: &str, target: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (said.chars().collect(), target.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()] as f64 / b.len().max(1) as f64
}

/// Write a corpus of `items` random texts (none of `held_out`) rendered with `params`' sample
/// rate into `dir`: `wavs/toy-NNNNN.wav` (16-bit), `metadata.csv` (`id|text`, LJSpeech's
/// format) and `held-out.txt` (`held_out`, one per line), from `seed`.
///
/// # Errors
/// I/O errors; an invalid geometry ([`ToySpeech::new`]).
pub fn write_corpus(
    dir: &Path,
    items: usize,
    seed: u64,
    params: AnalysisParams,
    held_out: &[String],
) -> Result<()> {
    use rand::SeedableRng;
    let toy = ToySpeech::new(params)?;
    let wavs = dir.join("wavs");
    std::fs::create_dir_all(&wavs).map_err(|e| Error::io(&wavs, e))?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut metadata = String::new();
    for i in 0..items {
        let text = loop {
            let t = random_text(&mut rng);
            if !held_out.contains(&t) {
                break t;
            }
        };
        let id = format!("toy-{i:05}");
        let path = wavs.join(format!("{id}.wav"));
        melspec::audio::write_wav(
            &path,
            &toy.render(&text, &mut rng)?,
            params.sr,
            melspec::audio::WavFormat::I16,
        )?;
        metadata.push_str(&format!("{id}|{text}\n"));
    }
    write_text(&dir.join("metadata.csv"), &metadata)?;
    write_text(&dir.join("held-out.txt"), &held_out.join("\n"))
}

/// Write the label task's corpus: `items` recordings in `dir/<letter>/toy-NNNNN.wav`, each one
/// to four "words" of its folder's letter (that letter's chord and envelope, the class's
/// timbre) with random durations and gaps, from `seed`; a class per letter of [`LETTERS`].
///
/// # Errors
/// I/O errors; an invalid geometry ([`ToySpeech::new`]).
pub fn write_label_corpus(
    dir: &Path,
    items: usize,
    seed: u64,
    params: AnalysisParams,
) -> Result<()> {
    use rand::SeedableRng;
    let toy = ToySpeech::new(params)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..items {
        let letter = LETTERS.chars().nth(i % LETTERS.len()).expect("a letter");
        let folder = dir.join(letter.to_string());
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let words = vec![letter.to_string(); rng.gen_range(1..=4)].join(" ");
        melspec::audio::write_wav(
            &folder.join(format!("toy-{i:05}.wav")),
            &toy.render(&words, &mut rng)?,
            params.sr,
            melspec::audio::WavFormat::I16,
        )?;
    }
    Ok(())
}

/// The class a read-back spectrogram of the label task sounds like: its most frequent letter
/// (`None` for silence).
pub fn classify(said: &str) -> Option<char> {
    LETTERS
        .chars()
        .map(|l| (said.chars().filter(|&c| c == l).count(), l))
        .filter(|&(n, _)| n > 0)
        .max()
        .map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_its_most_frequent_letter() {
        assert_eq!(classify("a b a"), Some('a'));
        assert_eq!(classify("c"), Some('c'));
        assert_eq!(classify(""), None);
    }

    #[test]
    fn edit_distance_counts_each_kind_of_error() {
        assert_eq!(cer("abc", "abc"), 0.0);
        assert_eq!(cer("ab", "abc"), 1.0 / 3.0);
        assert_eq!(cer("abxc", "abc"), 1.0 / 3.0);
        assert_eq!(cer("axc", "abc"), 1.0 / 3.0);
        assert_eq!(cer("", "ab"), 1.0);
    }

    #[test]
    fn texts_outside_the_alphabet_are_refused() {
        let toy = ToySpeech::new(melspec::Preset::by_name("melnet-small").unwrap().params).unwrap();
        let mut rng = rand::thread_rng();
        assert!(toy.render("abg", &mut rng).is_err());
        assert!(toy.render("  ", &mut rng).is_err());
        let mut few = toy.params;
        few.n_mels = 20;
        assert!(ToySpeech::new(few).is_err());
    }
}
