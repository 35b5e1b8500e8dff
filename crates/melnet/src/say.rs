//! Text to speech with a text-conditioned model: one spectrogram saying a text in a speaker's
//! voice, ending where the model has said it, and its audio (`melnet say`, Python
//! `melnet.say`).

use crate::draw::SampleRequest;
use crate::{Error, Generated, Model, Result, Tier};

/// How [`Model::say`] draws.
#[derive(Debug, Clone, Copy)]
pub struct SayOptions {
    /// Longest spectrogram in full-resolution frames; speech ends earlier when the model has
    /// said the text.
    pub max_frames: usize,
    /// Bias b ≥ 0 towards likelier values (0 samples the model as trained; see
    /// [`crate::SampleOptions::bias`]).
    pub bias: f32,
    /// Seed of the draws.
    pub seed: u64,
}

/// A said text.
pub struct Speech {
    /// The text as the model read it (lower-cased).
    pub text: String,
    /// The speaker label it was said with (`None` for a model without labels).
    pub speaker: Option<String>,
    /// Everything the tiers generated for it (one spectrogram; `full` is `[1, frames, bins]`,
    /// normalised; `alignment` the attention window over tier 1's frames).
    pub generated: Generated,
    /// Full-resolution frames up to the end of the text (all generated frames when it did not
    /// end within `max_frames`).
    pub frames: usize,
    /// Wall-clock seconds of generation.
    pub seconds: f64,
}

impl Speech {
    /// The said frames `[frames, bins]`, time-major and normalised (the model's scale).
    pub fn time_major(&self) -> &[f32] {
        let bins = self.generated.full.len() / self.generated.frames(1).max(1);
        &self.generated.full[..self.frames * bins]
    }

    /// Whether the model finished the text within `max_frames` (otherwise the speech is cut).
    pub fn ended(&self) -> bool {
        self.generated.ends.first().copied().flatten().is_some()
    }
}

impl Model {
    /// Say `text` (upper case is lowered; every other character must be in the model's
    /// alphabet) as `speaker` (a label of the model; `None` takes its first label) with its
    /// trained `tiers` ([`Model::load_tiers`]). `progress(g, done, total)` is called after every
    /// frame of tier g.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a model without text, an empty text, characters outside
    /// the alphabet, an unknown speaker or `max_frames` below 2; as [`Model::sample`].
    pub fn say(
        &self,
        tiers: &[Tier],
        text: &str,
        speaker: Option<&str>,
        options: SayOptions,
        progress: impl FnMut(usize, usize, usize) + Send,
    ) -> Result<Speech> {
        let bad = |name, value: &str, reason: &str| Error::InvalidConfig {
            name,
            value: value.into(),
            reason: reason.into(),
        };
        if self.config().text.is_none() {
            return Err(bad(
                "model",
                &self.dir().display().to_string(),
                "is not conditioned on text (train it with --text)",
            ));
        }
        let text = text.to_lowercase();
        if text.trim().is_empty() {
            return Err(bad("text", "", "nothing to say"));
        }
        let speaker = match speaker {
            Some(s) => Some(s.to_string()),
            None => self
                .config()
                .labels
                .as_ref()
                .and_then(|l| l.first().cloned()),
        };
        let samples = self.sample(
            tiers,
            &SampleRequest {
                frames: options.max_frames,
                count: 1,
                prime: None,
                label: speaker.as_deref(),
                text: Some(&text),
                bias: options.bias,
                seed: options.seed,
            },
            progress,
        )?;
        let frames = samples.length(0);
        Ok(Speech {
            text,
            speaker,
            generated: samples.generated,
            frames,
            seconds: samples.seconds,
        })
    }
}
