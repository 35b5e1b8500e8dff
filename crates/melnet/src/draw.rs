//! Drawing new spectrograms from a trained model, as `melnet sample` and Python's
//! `Model.sample` do: the conditions resolved by name, the draws seeded, an optional prime
//! continued, a text model's spectrograms cut where each text was said.

use std::time::Instant;

use ndarray::Array2;
use rand::SeedableRng;

use crate::{Error, Generated, Model, Result, SampleOptions, Tier};

/// What [`Model::sample`] draws.
#[derive(Debug, Clone, Copy)]
pub struct SampleRequest<'a> {
    /// Full-resolution frames to generate after the prime (a text model stops when its text
    /// has been said).
    pub frames: usize,
    /// Spectrograms, drawn together.
    pub count: usize,
    /// A normalised prime `[frames, n_mels]` that every spectrogram continues
    /// ([`Model::read_spectrogram`]).
    pub prime: Option<&'a Array2<f32>>,
    /// The label (speaker, class) of a label-conditioned model, by name.
    pub label: Option<&'a str>,
    /// The text a text-conditioned model says.
    pub text: Option<&'a str>,
    /// Bias b ≥ 0 towards likelier values ([`SampleOptions::bias`]; 0: the model as trained).
    pub bias: f32,
    /// Seed of the draws.
    pub seed: u64,
}

/// Spectrograms drawn by [`Model::sample`].
pub struct Samples {
    /// Everything the tiers generated (`full` is `[count, frames, bins]`, normalised, the
    /// prime first).
    pub generated: Generated,
    /// Spectrograms.
    pub count: usize,
    /// Wall-clock seconds of generation.
    pub seconds: f64,
}

impl Samples {
    /// Full-resolution frames generated for each spectrogram, the prime included.
    pub fn frames(&self) -> usize {
        self.generated.frames(self.count)
    }

    /// Frames of spectrogram `i`: up to where its text was said for a text model (all its
    /// frames when the text did not end), the prime included.
    pub fn length(&self, i: usize) -> usize {
        let all = self.frames();
        self.generated
            .ends
            .get(i)
            .copied()
            .flatten()
            .map_or(all, |end| end.min(all))
    }

    /// Spectrogram `i`'s frames `[length(i), bins]`, time-major and normalised (the model's
    /// scale).
    ///
    /// # Panics
    /// When `i` is not below `count`.
    pub fn time_major(&self, i: usize) -> &[f32] {
        let bins = self.generated.full.len() / (self.count * self.frames()).max(1);
        let start = i * self.frames() * bins;
        &self.generated.full[start..start + self.length(i) * bins]
    }
}

impl Model {
    /// Draw `request.count` spectrograms with the model's trained `tiers`
    /// ([`Model::load_tiers`]). `progress(g, done, total)` is called after every frame of tier
    /// g.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for no spectrograms, fewer than 2 frames in all, a negative or
    /// non-finite bias, a label or characters the model does not know (or a condition it
    /// needs and was not given); too little memory; candle errors.
    pub fn sample(
        &self,
        tiers: &[Tier],
        request: &SampleRequest,
        progress: impl FnMut(usize, usize, usize) + Send,
    ) -> Result<Samples> {
        let bad = |name, value: String, reason: &str| Error::InvalidConfig {
            name,
            value,
            reason: reason.into(),
        };
        let n = request.count;
        if n == 0 {
            return Err(bad("count", "0".into(), "must be positive"));
        }
        if !request.bias.is_finite() || request.bias < 0.0 {
            return Err(bad(
                "bias",
                request.bias.to_string(),
                "must be non-negative and finite",
            ));
        }
        let prime_frames = request.prime.map_or(0, |p| p.nrows());
        let total = prime_frames + request.frames;
        if total < 2 {
            return Err(bad(
                "frames",
                request.frames.to_string(),
                "audio needs at least 2 frames",
            ));
        }
        let p = &self.config().params;
        // The generated spectrograms at every tier, and their audio.
        melspec::limits::ensure_memory(
            format!("generating {n} × {total} frames"),
            n as f64
                * total as f64
                * (self.config().n_mels as f64 * 8.0 + 4.0 * p.stft.hop_length as f64),
        )?;
        let conditions = self.conditions(request.label, request.text, n)?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(request.seed);
        let started = Instant::now();
        let prime = request.prime.map(|m| m.as_standard_layout());
        let generated = self.generate(
            tiers,
            total,
            n,
            prime
                .as_ref()
                .map(|m| m.as_slice().expect("standard layout")),
            &conditions,
            SampleOptions {
                bias: request.bias,
                range: self.range(),
            },
            &mut rng,
            progress,
        )?;
        Ok(Samples {
            generated,
            count: n,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
