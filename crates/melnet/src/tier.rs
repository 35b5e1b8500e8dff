//! One MelNet tier (arXiv 1906.01083 §4): delayed inputs, L layers of stacks, GMM head; an
//! upper tier (§6) also a feature network over the coarser tiers' output, added to its input
//! layers; a conditioned tier label embeddings added there too, and (tier 1) the text
//! attention in its centralized stack ([`crate::text`]).

use candle_core::{Tensor, D};
use candle_nn::{Embedding, Linear, Module, VarBuilder};

use crate::bins::BinGain;
use crate::config::TierConfig;
use crate::error::{Error, Result};
use crate::feature::FeatureNetwork;
use crate::gmm::Gmm;
use crate::multiscale::{Axis, TierShape};
use crate::stack::{linear, CentralizedStack, FrequencyDelayedStack, TimeDelayedStack};
use crate::text::{Attention, Text, TextEncoder};

/// What a tier's output depends on besides the modelled spectrogram itself.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// x^{<g} `[batch, frames', bins']`, the coarser tiers' output (upper tiers).
    pub coarse: Option<Tensor>,
    /// Each item's class, u32 `[batch]` (a tier with labels).
    pub labels: Option<Tensor>,
    /// Each item's text (a text tier).
    pub text: Option<Text>,
    /// Training only: the attention guide's penalty weights `[batch, frames, chars]` for a
    /// text tier ([`crate::text::guide`]); `None` leaves the loss the NLL alone.
    pub guide: Option<Tensor>,
}

impl Context {
    /// The context of items `start..start + len` of the batch.
    ///
    /// # Errors
    /// When the range is outside the batch; candle errors.
    pub fn narrow(&self, start: usize, len: usize) -> Result<Self> {
        let cut = |t: &Option<Tensor>| t.as_ref().map(|t| t.narrow(0, start, len)).transpose();
        Ok(Context {
            coarse: cut(&self.coarse)?,
            labels: cut(&self.labels)?,
            text: self
                .text
                .as_ref()
                .map(|t| t.narrow(start, len))
                .transpose()?,
            guide: cut(&self.guide)?,
        })
    }

    /// Only x^{<g} (or nothing, for an unconditional tier).
    pub fn coarse(coarse: Option<Tensor>) -> Self {
        Context {
            coarse,
            ..Context::default()
        }
    }
}

/// What each of a batch of items is conditioned on, at the model level (see
/// [`crate::Model::tier_inputs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Each item's class index (a label-conditioned model).
    pub labels: Option<Vec<u32>>,
    /// Each item's character ids (a text-conditioned model).
    pub texts: Option<Vec<Vec<u32>>>,
}

/// The label embeddings of a tier: one row per class for each delayed stack's input layer,
/// and one more whose per-bin terms ([`BinGain`]) go to the frequency-delayed stack's.
#[derive(Debug, Clone)]
pub struct LabelEmbeddings {
    pub(crate) time: Embedding,
    pub(crate) freq: Embedding,
    pub(crate) bins: Embedding,
    pub(crate) gain: BinGain,
}

/// The text conditioning of a tier: encoder and attention.
#[derive(Debug, Clone)]
pub struct TextConditioning {
    pub(crate) encoder: TextEncoder,
    pub(crate) attention: Attention,
}

/// A tier modelling `x` `[batch, frames, bins]`: unconditional (tier 1), or conditioned on the
/// coarser tiers' output x^{<g} (tiers g ≥ 2, with a [`FeatureNetwork`]). The sampler
/// ([`crate::Sampler`]) reads its weights from these fields, so the layout is known here only.
#[derive(Debug, Clone)]
pub struct Tier {
    pub(crate) config: TierConfig,
    pub(crate) time_input: Linear,
    pub(crate) freq_input: Linear,
    pub(crate) central_input: Option<Linear>,
    pub(crate) features: Option<FeatureNetwork>,
    pub(crate) labels: Option<LabelEmbeddings>,
    pub(crate) text: Option<TextConditioning>,
    pub(crate) time: Vec<TimeDelayedStack>,
    pub(crate) central: Vec<CentralizedStack>,
    pub(crate) freq: Vec<FrequencyDelayedStack>,
    pub(crate) head: Linear,
}

/// `x` shifted by one along `dim` (1 = frames, 2 = bins), zeros entering at the start: the
/// element at index i sees index i − 1. No wrap-around.
fn delay(x: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    let n = x.dim(dim)?;
    x.pad_with_zeros(dim, 1, 0)?.narrow(dim, 0, n)
}

impl Tier {
    /// Build a tier; parameter names under `vb` are stable safetensors keys.
    ///
    /// # Errors
    /// Invalid config, variable store errors.
    pub fn new(config: TierConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let d = config.width;
        let layers = config.layers;
        let make = |i: usize, name: &str| vb.pp(format!("layers.{i}.{name}"));
        Ok(Tier {
            time_input: candle_nn::linear(1, d, vb.pp("time_input"))?,
            freq_input: candle_nn::linear(1, d, vb.pp("freq_input"))?,
            central_input: if config.centralized {
                Some(candle_nn::linear(config.n_mels, d, vb.pp("central_input"))?)
            } else {
                None
            },
            features: match config.conditioning {
                Some(c) => Some(FeatureNetwork::new(c.axis, c.layers, d, vb.pp("features"))?),
                None => None,
            },
            labels: match config.labels {
                0 => None,
                n => Some(LabelEmbeddings {
                    time: crate::init::embedding(n, d, vb.pp("label_time"))?,
                    freq: crate::init::embedding(n, d, vb.pp("label_freq"))?,
                    bins: crate::init::embedding(n, d, vb.pp("label_bins"))?,
                    gain: BinGain::new(config.n_mels, d, vb.pp("label_bins"))?,
                }),
            },
            text: match &config.text {
                Some(t) => Some(TextConditioning {
                    encoder: TextEncoder::new(t, vb.pp("text.encoder"))?,
                    attention: Attention::new(t, d, config.n_mels, vb.pp("text.attention"))?,
                }),
                None => None,
            },
            time: (0..layers)
                .map(|i| TimeDelayedStack::new(d, make(i, "time_delayed")))
                .collect::<candle_core::Result<_>>()?,
            central: if config.centralized {
                (0..layers)
                    .map(|i| CentralizedStack::new(d, make(i, "centralized")))
                    .collect::<candle_core::Result<_>>()?
            } else {
                Vec::new()
            },
            freq: (0..layers)
                .map(|i| FrequencyDelayedStack::new(d, make(i, "frequency_delayed")))
                .collect::<candle_core::Result<_>>()?,
            head: candle_nn::linear(d, 3 * config.n_mixtures, vb.pp("head"))?,
            config,
        })
    }

    /// A tier with the weights `tensors` (its safetensors names, as a checkpoint holds them).
    ///
    /// # Errors
    /// Invalid config; a tensor missing or of another shape than `config` needs.
    pub fn from_tensors(
        config: TierConfig,
        tensors: std::collections::HashMap<String, Tensor>,
    ) -> Result<Self> {
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, &crate::device());
        Tier::new(config, vb)
    }

    /// The device of the tier's weights.
    pub fn device(&self) -> &candle_core::Device {
        self.head.weight().device()
    }

    /// The configuration.
    pub fn config(&self) -> &TierConfig {
        &self.config
    }

    /// Check that this tier models `shape`: its bins, and a feature network along the shape's
    /// split axis exactly when it is an upper tier.
    ///
    /// # Errors
    /// [`Error::Shape`] naming both.
    pub fn check_shape(&self, shape: &TierShape) -> Result<()> {
        let describe = |bins: usize, axis: Option<Axis>| match axis {
            None => format!("{bins} bins (unconditional)"),
            Some(a) => format!("{bins} bins (split along {a:?})"),
        };
        let axis = self.config.conditioning.map(|f| f.axis);
        let expect = shape.conditioning.map(|(a, _)| a);
        if self.config.n_mels == shape.grid.bins && axis == expect {
            return Ok(());
        }
        Err(Error::Shape {
            what: "tier",
            expected: format!(
                "tier {} of {}",
                shape.tier,
                describe(shape.grid.bins, expect)
            ),
            got: describe(self.config.n_mels, axis),
        })
    }

    /// The conditioning terms `(W^t_z z, W^f_z z)` `[batch, frames, bins, width]` that an
    /// upper tier adds to its time- and frequency-delayed input layers, computed from x^{<g}
    /// `coarse` `[batch, frames', bins']` for x^g of grid `frames × bins`; `None` for an
    /// unconditional tier (then `coarse` must be `None` too).
    ///
    /// # Errors
    /// [`Error::Shape`] when conditioning is missing, unexpected, or its grid is not the coarse
    /// part of a split that has `frames × bins` as its fine part; candle errors.
    pub fn conditioning(
        &self,
        coarse: Option<&Tensor>,
        batch: usize,
        frames: usize,
        bins: usize,
    ) -> Result<Option<(Tensor, Tensor)>> {
        let (net, coarse) = match (&self.features, coarse) {
            (None, None) => return Ok(None),
            (Some(net), Some(c)) => (net, c),
            (net, _) => {
                return Err(Error::Shape {
                    what: "tier conditioning",
                    expected: if net.is_some() {
                        "x^{<g} for an upper tier".into()
                    } else {
                        "none for an unconditional tier".into()
                    },
                    got: format!("{:?}", coarse.map(|c| c.dims().to_vec())),
                })
            }
        };
        let (cb, ct, cf) = coarse.dims3()?;
        let (fine, other, other_coarse, rows) = match net.axis() {
            Axis::Time => (frames, bins, cf, ct),
            Axis::Frequency => (bins, frames, ct, cf),
        };
        if cb != batch || other_coarse != other || !(rows == fine || rows == fine + 1) {
            return Err(Error::Shape {
                what: "tier conditioning",
                expected: format!(
                    "[{batch}, ·, ·] with {fine} or {} rows along {:?} and {other} along the other axis",
                    fine + 1,
                    net.axis()
                ),
                got: format!("{:?}", coarse.dims()),
            });
        }
        Ok(Some(net.forward(coarse, fine)?))
    }

    /// The centralized layer (0-based) after which the text attention adds its context: layer
    /// L/2 of the paper (the first of two).
    pub(crate) fn attention_layer(&self) -> usize {
        (self.config.layers / 2).max(1) - 1
    }

    /// The label terms of `labels` (u32 `[batch]`) for the input layers: the time-delayed
    /// stack's `[batch, width]` (every bin alike) and the frequency-delayed stack's
    /// `[batch, bins, width]`; `None` for a tier without labels (then `labels` must be `None`
    /// too).
    ///
    /// # Errors
    /// [`Error::Shape`] when labels are missing, unexpected, of another batch, or a class the
    /// tier does not have; candle errors.
    pub fn label_terms(
        &self,
        labels: Option<&Tensor>,
        batch: usize,
    ) -> Result<Option<(Tensor, Tensor)>> {
        let classes = self.config.labels;
        match (&self.labels, labels) {
            (None, None) => Ok(None),
            (Some(emb), Some(ids))
                if ids.dims() == [batch]
                    && (ids.max_all()?.to_scalar::<u32>()? as usize) < classes =>
            {
                let to_freq = emb
                    .gain
                    .terms(&emb.bins.forward(ids)?)?
                    .broadcast_add(&emb.freq.forward(ids)?.unsqueeze(1)?)?;
                Ok(Some((emb.time.forward(ids)?, to_freq)))
            }
            (_, ids) => Err(Error::Shape {
                what: "tier labels",
                expected: if classes == 0 {
                    "none for a tier without labels".into()
                } else {
                    format!("[{batch}] class indices below {classes}")
                },
                got: match ids {
                    Some(ids) => format!("{:?}", ids.to_vec1::<u32>()?),
                    None => "none".into(),
                },
            }),
        }
    }

    /// The text memory `[batch, chars, 2E]` of `text`; `None` for a tier without text (then
    /// `text` must be `None` too).
    ///
    /// # Errors
    /// [`Error::Shape`] when the text is missing, unexpected or of another batch; candle
    /// errors.
    pub fn text_memory(&self, text: Option<&Text>, batch: usize) -> Result<Option<Tensor>> {
        match (&self.text, text) {
            (None, None) => Ok(None),
            (Some(t), Some(x)) if x.batch() == batch => Ok(Some(t.encoder.memory(x)?)),
            (t, x) => Err(Error::Shape {
                what: "tier text",
                expected: if t.is_some() {
                    format!("{batch} texts")
                } else {
                    "none for a tier without text".into()
                },
                got: x.map_or("none".into(), |x| format!("{} texts", x.batch())),
            }),
        }
    }

    /// Mixture parameters for every element of `x` `[batch, frames, bins]` given `context`
    /// (see [`Tier::forward_aligned`]).
    ///
    /// # Errors
    /// As [`Tier::forward_aligned`].
    pub fn forward(&self, x: &Tensor, context: &Context) -> Result<Gmm> {
        Ok(self.forward_aligned(x, context)?.0)
    }

    /// Mixture parameters for every element of `x` `[batch, frames, bins]` given `context`
    /// (x^{<g} for an upper tier, see [`Tier::conditioning`]; labels; text), and for a text
    /// tier the attention window `[batch, frames, chars]`. The element (t, f) depends only on
    /// frames < t and on bins < f of frame t of `x` (and on anything in `context`).
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` does not have `n_mels` bins or the context does not fit the
    /// tier; candle errors.
    pub fn forward_aligned(&self, x: &Tensor, context: &Context) -> Result<(Gmm, Option<Tensor>)> {
        let (b, t, f) = x.dims3()?;
        if f != self.config.n_mels {
            return Err(Error::Shape {
                what: "tier input",
                expected: format!("[batch, frames, {}]", self.config.n_mels),
                got: format!("{:?}", x.dims()),
            });
        }
        let conditioning = self.conditioning(context.coarse.as_ref(), b, t, f)?;
        let labels = self.label_terms(context.labels.as_ref(), b)?;
        let memory = self.text_memory(context.text.as_ref(), b)?;
        let prev_frame = delay(x, 1)?;
        let prev_bin = delay(x, 2)?;
        let mut h_t = linear(&self.time_input, &prev_frame.unsqueeze(D::Minus1)?)?;
        let mut h_f = linear(&self.freq_input, &prev_bin.unsqueeze(D::Minus1)?)?;
        if let Some((to_time, to_freq)) = conditioning {
            h_t = (h_t + to_time)?;
            h_f = (h_f + to_freq)?;
        }
        if let Some((to_time, to_freq)) = labels {
            let d = self.config.width;
            h_t = h_t.broadcast_add(&to_time.reshape((b, 1, 1, d))?)?;
            h_f = h_f.broadcast_add(&to_freq.unsqueeze(1)?)?;
        }
        let mut h_c = match &self.central_input {
            Some(lin) => Some(linear(lin, &prev_frame)?),
            None => None,
        };
        let mut alignment = None;
        for l in 0..self.config.layers {
            h_t = self.time[l].forward(&h_t)?;
            if let Some(c) = h_c.as_mut() {
                *c = self.central[l].forward(c)?;
                if let (Some(tc), Some(m), Some(text)) = (&self.text, &memory, &context.text) {
                    if l == self.attention_layer() {
                        let (with_context, bin_terms, phi) = tc.attention.forward(c, m, text)?;
                        *c = with_context;
                        h_f = (h_f + bin_terms)?;
                        alignment = Some(phi);
                    }
                }
            }
            h_f = self.freq[l].forward(&h_f, &h_t, h_c.as_ref())?;
        }
        Ok((Gmm::from_raw(linear(&self.head, &h_f)?)?, alignment))
    }

    /// Per-element negative log-likelihood of `x` `[batch, frames, bins]` given `context`
    /// (as [`Tier::forward`]), nats, `[batch, frames, bins]`: censored at the tier's floor
    /// ([`TierConfig::floor`]) where it has one.
    ///
    /// # Errors
    /// As [`Tier::forward`].
    pub fn nll_elements(&self, x: &Tensor, context: &Context) -> Result<Tensor> {
        Ok(self
            .forward(x, context)?
            .nll_elements(x, self.config.floor.as_deref())?)
    }
}
