//! Sampling a model of the synthetic text task (`melnet_data::toy`: letters as tone chords)
//! and reading its spectrograms back: texts ([`read_back`], scored by the character error
//! rate) and classes ([`read_labels`]).

use melnet_data::toy::{cer, classify, ToySpeech};
use rand::Rng;

use crate::error::{Error, Result};
use crate::generate::Generated;
use crate::model::Model;
use crate::sample::SampleOptions;
use crate::tier::{Conditions, Tier};

/// The sampling bias ([`SampleOptions::bias`]) the task says texts with by default:
/// unbiased draws wander between letters' chords at onsets (a letter's upper bands starting
/// while its lower ones go on with the previous letter); at 3 the character error of five
/// models trained 10–25 minutes fell from 35–54 % to 25–34 % (BENCHMARKS.md). Models trained
/// on noisy inputs hardly need it (the demo's: 0.8 % at 3, 0.8–2.4 % unbiased).
pub const READ_BIAS: f32 = 3.0;

/// A text sampled from a model and read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The text asked for.
    pub text: String,
    /// What the spectrogram says ([`ToySpeech::decode`]).
    pub said: String,
    /// [`cer`] of `said` against `text`.
    pub cer: f64,
    /// Full-resolution frames read (up to the end of the text, or all when it did not end).
    pub frames: usize,
    /// Whether the attention passed the last character within the frames allowed.
    pub ended: bool,
}

/// Sample `texts` (side by side, at most `max_frames` full-resolution frames each) from the
/// text `model` with its `tiers`, and read each back up to its end.
///
/// # Errors
/// A character the model does not know; as [`Model::generate`].
pub fn read_back(
    model: &Model,
    tiers: &[Tier],
    texts: &[String],
    max_frames: usize,
    options: SampleOptions,
    rng: &mut (impl Rng + Send),
) -> Result<(Generated, Vec<Reading>)> {
    let alphabet = &model
        .config()
        .text
        .as_ref()
        .ok_or_else(|| not_conditioned(model, "text"))?
        .alphabet;
    let conditions = Conditions {
        labels: None,
        texts: Some(
            texts
                .iter()
                .map(|t| alphabet.encode(t))
                .collect::<Result<_>>()?,
        ),
    };
    let (generated, heard) = say(
        model,
        tiers,
        &conditions,
        texts.len(),
        max_frames,
        options,
        rng,
    )?;
    let readings = texts
        .iter()
        .zip(heard)
        .map(|(text, h)| Reading {
            cer: cer(&h.said, text),
            said: h.said,
            text: text.clone(),
            frames: h.frames,
            ended: h.ended,
        })
        .collect();
    Ok((generated, readings))
}

/// One generated spectrogram read back ([`say`]).
struct Heard {
    said: String,
    frames: usize,
    ended: bool,
}

/// Generate `count` spectrograms of at most `frames` frames with `conditions` and read each
/// back up to its end (a text's end, or all frames).
///
/// # Errors
/// As [`Model::generate`]; an invalid geometry ([`ToySpeech::new`]).
fn say(
    model: &Model,
    tiers: &[Tier],
    conditions: &Conditions,
    count: usize,
    frames: usize,
    options: SampleOptions,
    rng: &mut (impl Rng + Send),
) -> Result<(Generated, Vec<Heard>)> {
    let generated = model.generate(
        tiers,
        frames,
        count,
        None,
        conditions,
        options,
        rng,
        |_, _, _| {},
    )?;
    let toy = ToySpeech::new(model.config().params)?;
    let bins = model.config().n_mels;
    let total = generated.full.len() / (count * bins).max(1);
    let heard = (0..count)
        .map(|i| {
            let end = generated.ends.get(i).copied().flatten();
            let frames = end.unwrap_or(total);
            let one = &generated.full[i * total * bins..(i * total + frames) * bins];
            let (mel, _) = model.to_dataset_scale(one);
            Heard {
                said: toy.decode(mel.view()),
                frames,
                ended: end.is_some(),
            }
        })
        .collect();
    Ok((generated, heard))
}

/// The error for a task's model that lacks its conditioning (`what`).
fn not_conditioned(model: &Model, what: &str) -> Error {
    Error::InvalidConfig {
        name: "model",
        value: model.dir().display().to_string(),
        reason: format!("is not conditioned on {what}"),
    }
}

/// A sample of the label task read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelReading {
    /// The class asked for.
    pub label: String,
    /// What the spectrogram says.
    pub said: String,
    /// Its class by [`classify`].
    pub heard: Option<char>,
}

impl LabelReading {
    /// Whether the sample sounds like its class.
    pub fn correct(&self) -> bool {
        self.heard.is_some_and(|c| self.label == c.to_string())
    }
}

/// Sample `per_class` spectrograms of `frames` full-resolution frames for every class of the
/// label `model` (side by side) and read each back.
///
/// # Errors
/// [`Error::InvalidConfig`] for a model without labels; as [`Model::generate`].
pub fn read_labels(
    model: &Model,
    tiers: &[Tier],
    per_class: usize,
    frames: usize,
    options: SampleOptions,
    rng: &mut (impl Rng + Send),
) -> Result<Vec<LabelReading>> {
    let classes = model
        .config()
        .labels
        .clone()
        .ok_or_else(|| not_conditioned(model, "labels"))?;
    let labels: Vec<u32> = (0..classes.len() as u32)
        .flat_map(|c| std::iter::repeat_n(c, per_class))
        .collect();
    let conditions = Conditions {
        labels: Some(labels.clone()),
        texts: None,
    };
    let (_, heard) = say(
        model,
        tiers,
        &conditions,
        labels.len(),
        frames,
        options,
        rng,
    )?;
    Ok(labels
        .iter()
        .zip(heard)
        .map(|(&c, h)| LabelReading {
            label: classes[c as usize].clone(),
            heard: classify(&h.said),
            said: h.said,
        })
        .collect())
}
