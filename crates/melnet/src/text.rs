//! Text conditioning (DESIGN.md §5 "Conditioning"): characters → embedding → bidirectional
//! LSTM encoder → memory `[batch, chars, 2E]`; an attention LSTM in tier 1's centralized stack
//! whose state gives a Graves mixture-of-logistics window over the characters (monotonic:
//! κ_t = κ_{t−1} + [`STEP_SCALE`]·exp(κ̂_t)) and whose context, projected to the stack's width,
//! is added to the stack residually. Generation stops when the window's mass has passed the last character
//! ([`TERMINATION`]).

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Embedding, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::config::TextConfig;
use crate::error::{Error, Result};
use crate::stack::{linear, Rnn};

/// The window's step per frame is `STEP_SCALE · exp(κ̂)`: an untrained attention moves about
/// one character every five frames (a letter lasts 4–7 frames in the toy task, ~4 in speech at
/// a 21 ms hop) instead of one per frame, which would run past the text before it learns.
pub const STEP_SCALE: f64 = 0.2;

/// Generation of a text has ended when the attention window's mass beyond the last character
/// ([`mass_beyond`]) exceeds this.
pub const TERMINATION: f32 = 0.5;

/// The characters a text model knows, in id order (recorded in the model's config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Alphabet(String);

impl Alphabet {
    /// The distinct characters of `texts`, sorted.
    pub fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut chars: Vec<char> = texts.into_iter().flat_map(str::chars).collect();
        chars.sort_unstable();
        chars.dedup();
        Alphabet(chars.into_iter().collect())
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The characters, in id order.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ids of the characters of `text`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first character the alphabet does not have, or an
    /// empty text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        if text.is_empty() {
            return Err(Error::InvalidConfig {
                name: "text",
                value: "\"\"".into(),
                reason: "is empty".into(),
            });
        }
        text.chars()
            .map(|ch| {
                self.0
                    .chars()
                    .position(|a| a == ch)
                    .map(|i| i as u32)
                    .ok_or_else(|| Error::InvalidConfig {
                        name: "text",
                        value: format!("{text:?}"),
                        reason: format!(
                            "has the character {ch:?}, which the model does not know (it knows {:?})",
                            self.0
                        ),
                    })
            })
            .collect()
    }
}

/// A batch of encoded texts: ids `[batch, chars]` u32 padded with 0 after each text's end,
/// and each text's length.
#[derive(Debug, Clone)]
pub struct Text {
    pub(crate) ids: Tensor,
    pub(crate) lengths: Vec<usize>,
}

impl Text {
    /// The batch of `texts` (character ids, each non-empty).
    ///
    /// # Errors
    /// [`Error::Shape`] for no text or an empty one; candle errors.
    pub fn new(texts: &[Vec<u32>]) -> Result<Self> {
        let chars = texts.iter().map(Vec::len).max().unwrap_or(0);
        if texts.iter().any(Vec::is_empty) || chars == 0 {
            return Err(Error::Shape {
                what: "text batch",
                expected: "at least one text, none empty".into(),
                got: format!(
                    "lengths {:?}",
                    texts.iter().map(Vec::len).collect::<Vec<_>>()
                ),
            });
        }
        let mut ids = vec![0u32; texts.len() * chars];
        for (row, t) in ids.chunks_exact_mut(chars).zip(texts) {
            row[..t.len()].copy_from_slice(t);
        }
        Ok(Text {
            ids: Tensor::from_vec(ids, (texts.len(), chars), &Device::Cpu)?,
            lengths: texts.iter().map(Vec::len).collect(),
        })
    }

    /// Texts in the batch.
    pub fn batch(&self) -> usize {
        self.lengths.len()
    }

    /// Characters of each text.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// `[batch, chars]` f32: 1 on each text's characters, 0 on the padding.
    fn mask(&self) -> Result<Tensor> {
        let chars = self.ids.dim(1)?;
        let m: Vec<f32> = self
            .lengths
            .iter()
            .flat_map(|&n| (0..chars).map(move |u| if u < n { 1.0 } else { 0.0 }))
            .collect();
        Ok(Tensor::from_vec(m, (self.batch(), chars), &Device::Cpu)?)
    }

    /// `[batch, chars]` u32: position u of text b reversed within its own length
    /// (`len − 1 − u`), padding in place; its own inverse.
    fn reversal(&self) -> Result<Tensor> {
        let chars = self.ids.dim(1)?;
        let r: Vec<u32> = self
            .lengths
            .iter()
            .flat_map(|&n| (0..chars).map(move |u| if u < n { n - 1 - u } else { u } as u32))
            .collect();
        Ok(Tensor::from_vec(r, (self.batch(), chars), &Device::Cpu)?)
    }
}

/// The character encoder: embedding, then an LSTM each way over the text.
#[derive(Debug, Clone)]
pub struct TextEncoder {
    pub(crate) embedding: Embedding,
    pub(crate) forward: Rnn,
    pub(crate) backward: Rnn,
    alphabet: usize,
}

impl TextEncoder {
    /// An encoder of `config`'s alphabet and width under `vb`.
    ///
    /// # Errors
    /// Variable store errors.
    pub fn new(config: &TextConfig, vb: VarBuilder) -> Result<Self> {
        let e = config.width;
        Ok(TextEncoder {
            embedding: candle_nn::embedding(config.alphabet, e, vb.pp("embedding"))?,
            forward: Rnn::new(e, e, vb.pp("forward"))?,
            backward: Rnn::new(e, e, vb.pp("backward"))?,
            alphabet: config.alphabet,
        })
    }

    /// The memory of `text`: `[batch, chars, 2E]`, forward and backward states side by side;
    /// the backward LSTM starts at each text's own last character (padding never reaches a
    /// character's state).
    ///
    /// # Errors
    /// [`Error::Shape`] for a character id outside the alphabet; candle errors.
    pub fn memory(&self, text: &Text) -> Result<Tensor> {
        let max = text.ids.max_all()?.to_scalar::<u32>()?;
        if max as usize >= self.alphabet {
            return Err(Error::Shape {
                what: "text",
                expected: format!("character ids below {}", self.alphabet),
                got: max.to_string(),
            });
        }
        let fwd = self
            .forward
            .forward(&self.embedding.forward(&text.ids)?, false)?;
        let rev = text.reversal()?;
        let back_in = self.embedding.forward(&text.ids.gather(&rev, 1)?)?;
        let back = self.backward.forward(&back_in, false)?;
        let rev_rows = rev.unsqueeze(2)?.broadcast_as(back.shape())?.contiguous()?;
        let back = back.gather(&rev_rows, 1)?;
        Ok(Tensor::cat(&[fwd, back], 2)?)
    }
}

/// The attention of a tier's centralized stack: an LSTM over the stack's states, the window
/// parameters from its state, and the projection of the context into the stack.
#[derive(Debug, Clone)]
pub struct Attention {
    pub(crate) rnn: Rnn,
    /// `[3K]` per frame: weight logits α̂, log-widths β̂, log-steps κ̂.
    pub(crate) window: Linear,
    /// Context `2E` → the stack's width.
    pub(crate) out: Linear,
    pub(crate) mixtures: usize,
}

/// Window parameters from raw `[.., 3K]`: weights `softmax(α̂)`, widths `exp(β̂)`, steps
/// [`STEP_SCALE`]` · exp(κ̂)` (in this order along the last axis, each K wide).
fn window_parts(raw: &Tensor, k: usize) -> Result<(Tensor, Tensor, Tensor)> {
    let alpha = candle_nn::ops::softmax_last_dim(&raw.narrow(D::Minus1, 0, k)?.contiguous()?)?;
    let beta = raw.narrow(D::Minus1, k, k)?.exp()?;
    let step = (raw.narrow(D::Minus1, 2 * k, k)?.exp()? * STEP_SCALE)?;
    Ok((alpha, beta, step))
}

impl Attention {
    /// An attention cell for a stack of width `width` over a memory of `config`.
    ///
    /// # Errors
    /// Variable store errors.
    pub fn new(config: &TextConfig, width: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            rnn: Rnn::new(width, width, vb.pp("rnn"))?,
            window: candle_nn::linear(width, 3 * config.mixtures, vb.pp("window"))?,
            out: candle_nn::linear(2 * config.width, width, vb.pp("out"))?,
            mixtures: config.mixtures,
        })
    }

    /// The stack's states `h` `[batch, frames, width]` with the projected context added, and
    /// the window `[batch, frames, chars]` (the alignment), over `memory` `[batch, chars, 2E]`
    /// of `text`. Frame t's window depends on `h` of frames ≤ t only.
    ///
    /// # Errors
    /// Shape and candle errors.
    pub fn forward(&self, h: &Tensor, memory: &Tensor, text: &Text) -> Result<(Tensor, Tensor)> {
        let k = self.mixtures;
        let (b, t, _) = h.dims3()?;
        let chars = memory.dim(1)?;
        let s = self.rnn.forward(h, false)?;
        let (alpha, beta, step) = window_parts(&linear(&self.window, &s)?, k)?;
        let kappa = step.cumsum(1)?;
        // [b, t, k, 1] against positions [1, 1, 1, chars].
        let shape = (b, t, k, 1);
        let (alpha, beta, kappa) = (
            alpha.reshape(shape)?,
            beta.reshape(shape)?,
            kappa.reshape(shape)?,
        );
        let u = Tensor::arange(0u32, chars as u32, &Device::Cpu)?
            .to_dtype(DType::F32)?
            .reshape((1, 1, 1, chars))?;
        let edge = |offset: f64| -> Result<Tensor> {
            let z = (u.affine(1.0, offset)?.broadcast_sub(&kappa)?).broadcast_div(&beta)?;
            Ok(candle_nn::ops::sigmoid(&z)?)
        };
        let phi = (edge(0.5)? - edge(-0.5)?)?
            .broadcast_mul(&alpha)?
            .sum(2)?
            .broadcast_mul(&text.mask()?.unsqueeze(1)?)?;
        let context = phi.matmul(memory)?;
        Ok(((h + linear(&self.out, &context)?)?, phi))
    }
}

/// The window's mass beyond the last of `chars` characters, given one frame's weights
/// `alpha`, widths `beta` and positions `kappa` (each `[K]`): Σ_k α_k (1 − σ((chars − 0.5 −
/// κ_k)/β_k)).
pub fn mass_beyond(alpha: &[f32], beta: &[f32], kappa: &[f32], chars: usize) -> f32 {
    let edge = chars as f32 - 0.5;
    alpha
        .iter()
        .zip(beta)
        .zip(kappa)
        .map(|((a, b), k)| a * (1.0 - sigmoid((edge - k) / b)))
        .sum()
}

/// The logistic function.
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_encodes_known_characters_and_names_unknown_ones() {
        let a = Alphabet::of(["abc", "ca b"]);
        assert_eq!(a.as_str(), " abc");
        assert_eq!(a.encode("cab ").unwrap(), vec![3, 1, 2, 0]);
        let e = a.encode("abd").unwrap_err().to_string();
        assert!(e.contains("'d'") && !e.contains('\n'), "{e}");
        assert!(a.encode("").is_err());
    }

    #[test]
    fn reversal_stays_within_each_text() {
        let t = Text::new(&[vec![1, 2, 3], vec![4]]).unwrap();
        let r = t.reversal().unwrap().to_vec2::<u32>().unwrap();
        assert_eq!(r, vec![vec![2, 1, 0], vec![0, 1, 2]]);
        assert!(Text::new(&[vec![1], vec![]]).is_err());
    }

    #[test]
    fn mass_beyond_grows_as_the_window_passes_the_end() {
        let m = |k: f32| mass_beyond(&[1.0], &[0.3], &[k], 4);
        assert!(m(0.0) < 1e-4);
        assert!((m(3.5) - 0.5).abs() < 1e-6);
        assert!(m(5.0) > 0.99);
    }
}
