//! Configuration of tiers (serialised next to every checkpoint) and of their optimisers.

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

/// RMSProp hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the squared-gradient average (PyTorch `alpha`).
    pub alpha: f64,
    /// Added to the root mean square.
    pub eps: f64,
    /// Momentum of the update (0 = none).
    pub momentum: f64,
}

impl Default for RmsPropConfig {
    /// The paper's setting: lr 1e-4, momentum 0.9 (PyTorch's alpha 0.99, eps 1e-8).
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-4,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.9,
        }
    }
}

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the gradient average.
    pub beta1: f64,
    /// Decay of the squared-gradient average.
    pub beta2: f64,
    /// Added to the root mean square.
    pub eps: f64,
}

impl Default for AdamConfig {
    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Which optimiser, with its settings (stored in a run's `state.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// RMSProp with momentum.
    RmsProp(RmsPropConfig),
    /// Adam with bias correction.
    Adam(AdamConfig),
}

impl OptimizerConfig {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::RmsProp(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
        }
    }

    /// Check the settings: a positive finite learning rate, decay rates and momentum in
    /// [0, 1), a positive `eps`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] naming the first bad value.
    pub fn validate(&self) -> crate::Result<()> {
        let (lr, eps, decays): (f64, f64, [(&'static str, f64); 2]) = match *self {
            OptimizerConfig::RmsProp(c) => {
                (c.lr, c.eps, [("alpha", c.alpha), ("momentum", c.momentum)])
            }
            OptimizerConfig::Adam(c) => (c.lr, c.eps, [("beta1", c.beta1), ("beta2", c.beta2)]),
        };
        let bad = |name: &'static str, value: f64, reason: &str| {
            Err(crate::Error::InvalidConfig {
                name,
                value: value.to_string(),
                reason: reason.into(),
            })
        };
        if !(lr.is_finite() && lr > 0.0) {
            return bad("lr", lr, "the learning rate must be positive and finite");
        }
        if !(eps.is_finite() && eps > 0.0) {
            return bad("eps", eps, "must be positive and finite");
        }
        for (name, v) in decays {
            if !(0.0..1.0).contains(&v) {
                return bad(name, v, "must be in [0, 1)");
            }
        }
        Ok(())
    }

    /// Change the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            OptimizerConfig::RmsProp(c) => c.lr = lr,
            OptimizerConfig::Adam(c) => c.lr = lr,
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
