//! Tier configuration (serialised next to every checkpoint).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::multiscale::Axis;

/// The recurrent cell (only LSTM for now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Long short-term memory.
    #[default]
    Lstm,
}

/// Hyper-parameters of one MelNet tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Frequency bins of the modelled spectrogram (mel bands for tier 1).
    pub n_mels: usize,
    /// Number of layers L.
    pub layers: usize,
    /// Hidden width D of every stack.
    pub width: usize,
    /// Mixture components K of the output distribution.
    pub n_mixtures: usize,
    /// Use the centralized stack (first tier only in the paper).
    pub centralized: bool,
    /// Recurrent cell.
    pub cell: Cell,
    /// For an upper tier (g ≥ 2): its split axis and feature network; `None` for an
    /// unconditional tier.
    #[serde(default)]
    pub conditioning: Option<FeatureConfig>,
    /// The data's floor per bin, in the model's (normalised) scale: values at or below it are
    /// censored observations ("this quiet or quieter", e.g. a dB spectrogram clipped at
    /// `top_db`), scored by the mixture's mass below the floor, and draws below it are returned
    /// as the floor. `None`: the plain density everywhere.
    #[serde(default)]
    pub floor: Option<Vec<f32>>,
    /// Classes of the label conditioning (speaker, category): each has an embedding added to
    /// the input layers of both delayed stacks. 0: unconditioned on labels.
    #[serde(default)]
    pub labels: usize,
    /// Text conditioning (tier 1 of a text-to-speech model): a character encoder and an
    /// attention LSTM in the centralized stack. `None`: no text.
    #[serde(default)]
    pub text: Option<TextConfig>,
}

/// The text conditioning of a tier (see [`crate::text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// Characters the model knows (ids `0..alphabet`).
    pub alphabet: usize,
    /// Width of the character embedding and of each direction of the encoder LSTM.
    pub width: usize,
    /// Logistic components of the attention window.
    pub mixtures: usize,
}

/// The feature network of an upper tier (see [`crate::feature::FeatureNetwork`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// The axis x^{<g} and x^g are split along.
    pub axis: Axis,
    /// Layers of the feature network (four LSTMs each).
    pub layers: usize,
}

impl TierConfig {
    /// `melnet train`'s default, a tier that learns in minutes on two CPU cores: 2 layers of
    /// width 32, K = 10, centralized stack on.
    pub fn small(n_mels: usize) -> Self {
        TierConfig {
            n_mels,
            layers: 2,
            width: 32,
            n_mixtures: 10,
            centralized: true,
            cell: Cell::Lstm,
            conditioning: None,
            floor: None,
            labels: 0,
            text: None,
        }
    }

    /// Check the values.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("n_mels", self.n_mels),
            ("layers", self.layers),
            ("width", self.width),
            ("n_mixtures", self.n_mixtures),
        ]
        .into_iter()
        .chain(self.conditioning.map(|c| ("feature_layers", c.layers)))
        .chain(self.text.into_iter().flat_map(|t| {
            [
                ("text alphabet", t.alphabet),
                ("text width", t.width),
                ("attention mixtures", t.mixtures),
            ]
        })) {
            if value == 0 {
                return Err(Error::InvalidConfig {
                    name,
                    value: "0".into(),
                    reason: "must be positive".into(),
                });
            }
        }
        if self.text.is_some() && !self.centralized {
            return Err(Error::InvalidConfig {
                name: "text",
                value: "without the centralized stack".into(),
                reason: "the attention runs in the centralized stack; enable it".into(),
            });
        }
        match &self.floor {
            Some(f) if f.len() != self.n_mels || f.iter().any(|v| !v.is_finite()) => {
                Err(Error::InvalidConfig {
                    name: "floor",
                    value: format!("{} values", f.len()),
                    reason: format!("must be {} finite values, one per bin", self.n_mels),
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_must_have_one_finite_value_per_bin() {
        let with = |floor: Vec<f32>| TierConfig {
            floor: Some(floor),
            ..TierConfig::small(3)
        };
        assert!(with(vec![-1.0; 3]).validate().is_ok());
        for bad in [vec![-1.0; 2], vec![-1.0, f32::NAN, -1.0]] {
            let e = with(bad).validate().unwrap_err().to_string();
            assert!(e.contains("floor") && !e.contains('\n'), "{e}");
        }
    }
}
