//! Text conditioning (DESIGN.md §5 "Conditioning"): characters → embedding → bidirectional
//! LSTM encoder → memory `[batch, chars, 2E]`; an attention LSTM in tier 1's centralized stack,
//! fed the stack's state and its own previous context (as Graves feeds the window back), whose
//! state gives a mixture-of-logistics window over the characters (monotonic per component:
//! κ_t = κ_{t−1} + [`step`]`(κ̂_t)`, at most [`MAX_STEP`] characters a frame); the context,
//! projected to the stack's width, is added to the centralized stack residually and, as per-bin
//! terms ([`crate::bins`]), to the frequency-delayed stack. Training adds an attention
//! [`guide`] to the loss. Generation stops when the window's mass has passed the last character
//! ([`TERMINATION`]).

use candle_core::{DType, Tensor, D};
use candle_nn::{Embedding, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::bins::{add_bin_terms, BinGain};
use crate::config::TextConfig;
use crate::error::{Error, Result};
use crate::ops::lstm_cell::lstm_cell;
use crate::rnn::Rnn;
use crate::stack::linear;
use crate::step::{values, Dense, Lstm, LstmState};

/// The window's step at κ̂ = 0, characters per frame: an untrained attention moves about one
/// character every five frames (a letter lasts 4–7 frames in the toy task, ~4 in speech at a
/// 21 ms hop) instead of one per frame, which would run past the text before it learns.
pub const INITIAL_STEP: f32 = 0.2;

/// The most the window moves in one frame, characters: no character lasts less than a frame,
/// and an unbounded step (Graves's `exp(κ̂)`) let a sampled window leap over the rest of a
/// text in two or three frames, ending it early.
pub const MAX_STEP: f32 = 1.0;

/// The window's step for the raw log-step κ̂: `MAX_STEP · σ(κ̂ + logit(INITIAL_STEP /
/// MAX_STEP))`, characters per frame.
pub fn step(raw: f32) -> f32 {
    MAX_STEP * sigmoid(raw + step_offset())
}

/// `logit(INITIAL_STEP / MAX_STEP)`, so that [`step`]`(0) = INITIAL_STEP`.
fn step_offset() -> f32 {
    let p = INITIAL_STEP / MAX_STEP;
    (p / (1.0 - p)).ln()
}

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
            ids: Tensor::from_vec(ids, (texts.len(), chars), &crate::device())?,
            lengths: texts.iter().map(Vec::len).collect(),
        })
    }

    /// Texts `start..start + len` of the batch (padded to the batch's longest, as here).
    ///
    /// # Errors
    /// When the range is outside the batch; candle errors.
    pub fn narrow(&self, start: usize, len: usize) -> Result<Self> {
        Ok(Text {
            ids: self.ids.narrow(0, start, len)?,
            lengths: self
                .lengths
                .get(start..start + len)
                .ok_or_else(|| Error::Shape {
                    what: "text batch",
                    expected: format!("items {start}..{}", start + len),
                    got: format!("{} texts", self.batch()),
                })?
                .to_vec(),
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
        Ok(Tensor::from_vec(
            m,
            (self.batch(), chars),
            self.ids.device(),
        )?)
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
        Ok(Tensor::from_vec(
            r,
            (self.batch(), chars),
            self.ids.device(),
        )?)
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
            embedding: crate::init::embedding(config.alphabet, e, vb.pp("embedding"))?,
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
    /// The previous frame's context `2E` → the attention LSTM's input (added to the stack's
    /// state, as Graves feeds the window back).
    pub(crate) feedback: Linear,
    /// Context `2E` → the width of the per-bin terms added to the frequency-delayed stack.
    pub(crate) bins: Linear,
    /// Their gains per mel bin.
    pub(crate) gain: BinGain,
    pub(crate) mixtures: usize,
}

/// Window parameters from raw `[.., 3K]`: weights `softmax(α̂)`, widths `exp(β̂)`, steps
/// [`step`]`(κ̂)` (in this order along the last axis, each K wide).
fn window_parts(raw: &Tensor, k: usize) -> Result<(Tensor, Tensor, Tensor)> {
    let alpha = candle_nn::ops::softmax_last_dim(&raw.narrow(D::Minus1, 0, k)?.contiguous()?)?;
    let beta = raw.narrow(D::Minus1, k, k)?.exp()?;
    let step = (candle_nn::ops::sigmoid(
        &raw.narrow(D::Minus1, 2 * k, k)?
            .affine(1.0, f64::from(step_offset()))?,
    )? * f64::from(MAX_STEP))?;
    Ok((alpha, beta, step))
}

impl Attention {
    /// An attention cell for a stack of width `width` over `bins` mel bins and a memory of
    /// `config`.
    ///
    /// # Errors
    /// Variable store errors.
    pub fn new(config: &TextConfig, width: usize, bins: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            rnn: Rnn::new(width, width, vb.pp("rnn"))?,
            window: candle_nn::linear(width, 3 * config.mixtures, vb.pp("window"))?,
            out: candle_nn::linear(2 * config.width, width, vb.pp("out"))?,
            feedback: candle_nn::linear(2 * config.width, width, vb.pp("feedback"))?,
            bins: candle_nn::linear(2 * config.width, width, vb.pp("bins"))?,
            gain: BinGain::new(bins, width, vb.pp("bins"))?,
            mixtures: config.mixtures,
        })
    }

    /// Over `memory` `[batch, chars, 2E]` of `text`, given the centralized stack's states `h`
    /// `[batch, frames, width]`: the states with the projected context added; the per-bin
    /// terms of the context for the frequency-delayed stack `[batch, frames, bins, width]`
    /// ([`BinGain`]); and the window `[batch, frames, chars]` (the alignment). The attention
    /// LSTM's input at frame t is `h_t` plus the projected context of frame t − 1, so it runs
    /// frame by frame; frame t's window depends on `h` of frames ≤ t only.
    ///
    /// # Errors
    /// Shape and candle errors.
    pub fn forward(
        &self,
        h: &Tensor,
        memory: &Tensor,
        text: &Text,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let k = self.mixtures;
        let (b, t, d) = h.dims3()?;
        let chars = memory.dim(1)?;
        let w = &self.rnn.w;
        let (w_ih, w_hh, bias) = (
            w.narrow(0, 0, d)?,
            w.narrow(0, d, d)?,
            w.narrow(0, 2 * d, 1)?,
        );
        // The stack's part of every frame's gate inputs at once; the fed-back context's
        // part frame by frame.
        let pre = h
            .reshape((b * t, d))?
            .matmul(&w_ih)?
            .broadcast_add(&bias)?
            .reshape((b, t, 4 * d))?;
        let u = Tensor::arange(0u32, chars as u32, h.device())?
            .to_dtype(DType::F32)?
            .reshape((1, 1, chars))?;
        let mask = text.mask()?;
        let mut s = h.zeros_like()?.narrow(1, 0, 1)?.squeeze(1)?;
        let mut c = s.clone();
        let mut kappa = Tensor::zeros((b, k, 1), DType::F32, h.device())?;
        let mut context = Tensor::zeros((b, memory.dim(2)?), DType::F32, h.device())?;
        let (mut phis, mut contexts) = (Vec::with_capacity(t), Vec::with_capacity(t));
        for frame in 0..t {
            let z = (pre.narrow(1, frame, 1)?.squeeze(1)?
                + linear(&self.feedback, &context)?.matmul(&w_ih)?
                + s.matmul(&w_hh)?)?;
            let states = lstm_cell(&z, &c)?;
            s = states.narrow(1, 0, d)?;
            c = states.narrow(1, d, d)?;
            let (alpha, beta, step) = window_parts(&linear(&self.window, &s)?, k)?;
            kappa = (kappa + step.unsqueeze(2)?)?;
            // [b, k, 1] against positions [1, 1, chars].
            let (alpha, beta) = (alpha.unsqueeze(2)?, beta.unsqueeze(2)?);
            let edge = |offset: f64| -> Result<Tensor> {
                let z = (u.affine(1.0, offset)?.broadcast_sub(&kappa)?).broadcast_div(&beta)?;
                Ok(candle_nn::ops::sigmoid(&z)?)
            };
            let phi = (edge(0.5)? - edge(-0.5)?)?
                .broadcast_mul(&alpha)?
                .sum(1)?
                .mul(&mask)?;
            context = phi.unsqueeze(1)?.matmul(memory)?.squeeze(1)?;
            phis.push(phi);
            contexts.push(context.clone());
        }
        let phi = Tensor::stack(&phis, 1)?;
        let context = Tensor::stack(&contexts, 1)?;
        let bin_terms = self.gain.terms(&linear(&self.bins, &context)?)?;
        Ok(((h + linear(&self.out, &context)?)?, bin_terms, phi))
    }
}

/// An [`Attention`] in stepping form, for `count` spectrograms.
pub(crate) struct AttentionStep {
    rnn: Lstm,
    window: Dense,
    out: Dense,
    feedback: Dense,
    bins: Dense,
    /// [`BinGain`]'s gains `[bins, D]`.
    gain: Vec<f32>,
    mixtures: usize,
    count: usize,
}

/// The state of an [`AttentionStep`]: each spectrogram's text and where its window is.
pub(crate) struct AttentionState {
    /// `[count, chars, 2E]`, and each text's length.
    memory: Vec<f32>,
    lengths: Vec<usize>,
    chars: usize,
    /// The attention LSTM's state `[count, D]`, window positions κ `[count, K]`.
    lstm: LstmState,
    kappa: Vec<f32>,
    /// The previous frame's context `[count, 2E]`.
    context: Vec<f32>,
    /// Scratch: window parameters `[count, 3K]`, one frame's window `[count, chars]`, the
    /// LSTM's input and the projected context `[count, D]`.
    raw: Vec<f32>,
    phi: Vec<f32>,
    add: Vec<f32>,
    /// The context projected for the per-bin terms, `[count, D]`.
    to_bins: Vec<f32>,
    /// Every frame's window since the start, `[frames, count, chars]`.
    pub alignment: Vec<f32>,
    /// The frame at which each text's window passed its last character.
    pub ended: Vec<Option<usize>>,
}

impl AttentionState {
    /// Back to the first character.
    pub fn reset(&mut self) {
        self.lstm.reset();
        self.kappa.fill(0.0);
        self.context.fill(0.0);
        self.alignment.clear();
        self.ended.fill(None);
    }

    /// Characters of the longest text.
    pub fn chars(&self) -> usize {
        self.chars
    }
}

impl Attention {
    /// The stepping form for `count` spectrograms.
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub(crate) fn stepper(&self, count: usize) -> Result<AttentionStep> {
        Ok(AttentionStep {
            rnn: Lstm::new(&self.rnn, count, count)?,
            window: Dense::new(&self.window, count)?,
            out: Dense::new(&self.out, count)?,
            feedback: Dense::new(&self.feedback, count)?,
            bins: Dense::new(&self.bins, count)?,
            gain: values(&self.gain.gain)?,
            mixtures: self.mixtures,
            count,
        })
    }
}

impl AttentionStep {
    /// The state at the first character of texts of `lengths` characters whose memory is
    /// `memory` `[count, chars, 2E]` ([`TextEncoder::memory`], as values).
    pub fn state(&self, memory: Vec<f32>, lengths: &[usize], chars: usize) -> AttentionState {
        let (n, d, k) = (self.count, self.rnn.hidden(), self.mixtures);
        let m = memory.len() / (n * chars).max(1);
        AttentionState {
            memory,
            lengths: lengths.to_vec(),
            chars,
            lstm: LstmState::new(n, d),
            kappa: vec![0.0; n * k],
            context: vec![0.0; n * m],
            raw: vec![0.0; n * 3 * k],
            phi: vec![0.0; n * chars],
            add: vec![0.0; n * d],
            to_bins: vec![0.0; n * d],
            alignment: Vec::new(),
            ended: vec![None; n],
        }
    }

    /// Advance the window one frame on the centralized stack's states `hc` `[count, D]` and
    /// add the projected context to them (as [`Attention::forward`]); `frame` is the frame's
    /// index.
    pub fn step(&self, state: &mut AttentionState, hc: &mut [f32], frame: usize) {
        let (n, k, chars) = (self.count, self.mixtures, state.chars);
        let m = state.context.len() / n.max(1);
        // The LSTM's input: the stack's states plus the previous frame's context fed back.
        self.feedback.apply(&state.context, n, &mut state.add);
        state
            .add
            .iter_mut()
            .zip(hc.iter())
            .for_each(|(a, h)| *a += h);
        self.rnn.step(&state.add, &mut state.lstm);
        self.window.apply(&state.lstm.h, n, &mut state.raw);
        for s in 0..n {
            // The raw parameters become weights α, widths β and steps in place.
            let raw = &mut state.raw[s * 3 * k..(s + 1) * 3 * k];
            let (alpha, rest) = raw.split_at_mut(k);
            let (beta, steps) = rest.split_at_mut(k);
            let max = alpha.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            alpha.iter_mut().for_each(|a| *a = (*a - max).exp());
            let total: f32 = alpha.iter().sum();
            alpha.iter_mut().for_each(|a| *a /= total);
            beta.iter_mut().for_each(|b| *b = b.exp());
            let kappa = &mut state.kappa[s * k..(s + 1) * k];
            kappa
                .iter_mut()
                .zip(steps.iter())
                .for_each(|(kp, &st)| *kp += step(st));
            let (alpha, beta, length) = (&*alpha, &*beta, state.lengths[s]);
            let phi = &mut state.phi[s * chars..(s + 1) * chars];
            for (u, p) in phi.iter_mut().enumerate() {
                *p = if u < length {
                    (0..k)
                        .map(|j| {
                            let at = |o: f32| sigmoid((u as f32 + o - kappa[j]) / beta[j]);
                            alpha[j] * (at(0.5) - at(-0.5))
                        })
                        .sum()
                } else {
                    0.0
                };
            }
            let context = &mut state.context[s * m..(s + 1) * m];
            context.fill(0.0);
            for (u, p) in phi.iter().enumerate() {
                let row = &state.memory[(s * chars + u) * m..(s * chars + u + 1) * m];
                context.iter_mut().zip(row).for_each(|(c, v)| *c += p * v);
            }
            if state.ended[s].is_none() && mass_beyond(alpha, beta, kappa, length) > TERMINATION {
                state.ended[s] = Some(frame);
            }
        }
        state.alignment.extend_from_slice(&state.phi);
        self.bins.apply(&state.context, n, &mut state.to_bins);
        self.out.apply(&state.context, n, &mut state.add);
        hc.iter_mut()
            .zip(state.add.iter())
            .for_each(|(h, a)| *h += a);
    }

    /// Add this frame's per-bin context terms of bin `bin` to `h` `[count, D]` (the input of
    /// the frequency-delayed stack's layer after the attention).
    pub fn add_bin_terms(&self, state: &AttentionState, h: &mut [f32], bin: usize) {
        add_bin_terms(h, &self.gain, &state.to_bins, bin, self.rnn.hidden());
    }
}

/// Width of the attention guide's diagonal band, as a fraction of the text and of the frames.
const GUIDE_WIDTH: f32 = 0.2;

/// Weight of the attention guide's penalty in the training loss at the first step (nats per
/// element); it halves every [`GUIDE_HALF_LIFE`] steps ([`guide_weight`]).
pub const GUIDE_WEIGHT: f64 = 1.0;

/// Steps over which the guide's weight halves: the guide gets the window off the first
/// character early on, then leaves the alignment to the likelihood (letters and words do not
/// last the same time, so the diagonal is only roughly right).
pub const GUIDE_HALF_LIFE: f64 = 500.0;

/// The guide's weight at training step `step`.
pub fn guide_weight(step: u64) -> f64 {
    GUIDE_WEIGHT * 0.5f64.powf(step as f64 / GUIDE_HALF_LIFE)
}

/// The attention guide (Tachibana et al. 2017, "guided attention"): penalty weights
/// `[batch, frames, chars]`, `1 − exp(−(u/U − t/T)² / (2·0.2²))` for character u of a text of U
/// characters said over T frames — small near the diagonal, so a window that walks through the
/// text at an even pace costs little. Training adds [`guide_weight`] times the mean over
/// frames of `Σ_u φ_t(u)·W(t, u)` to the loss; it pulls an untrained window off the first
/// character, where it otherwise tends to stay. `said[b]` is the frames text b takes (T), or
/// `None` when the window does not hold all of it (then its row is zero: no guide).
///
/// # Errors
/// Candle errors.
pub fn guide(text: &Text, said: &[Option<usize>], frames: usize) -> Result<Tensor> {
    let chars = text.ids.dim(1)?;
    let mut w = vec![0.0f32; text.batch() * frames * chars];
    for (b, (&n, t_b)) in text.lengths.iter().zip(said).enumerate() {
        let Some(t_b) = t_b.filter(|&t| t > 0) else {
            continue;
        };
        for t in 0..t_b.min(frames) {
            for u in 0..n {
                let d = u as f32 / n as f32 - t as f32 / t_b as f32;
                w[(b * frames + t) * chars + u] =
                    1.0 - (-d * d / (2.0 * GUIDE_WIDTH * GUIDE_WIDTH)).exp();
            }
        }
    }
    Ok(Tensor::from_vec(
        w,
        (text.batch(), frames, chars),
        text.ids.device(),
    )?)
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
    fn steps_start_at_the_initial_step_and_never_pass_the_maximum() {
        assert!((step(0.0) - INITIAL_STEP).abs() < 1e-6);
        assert!(step(-20.0) < 1e-6);
        assert!(step(1e4) <= MAX_STEP && step(20.0) > 0.999 * MAX_STEP);
        let raw = Tensor::new(
            &[[0.5f32, -1.0, 3.0, 0.0, 0.0, 0.0, -2.0, 0.0, 40.0]],
            &crate::device(),
        )
        .unwrap();
        let (_, _, steps) = window_parts(&raw, 3).unwrap();
        let steps = steps.to_vec2::<f32>().unwrap();
        for (got, raw) in steps[0].iter().zip([-2.0, 0.0, 40.0]) {
            assert!(
                (got - step(raw)).abs() < 1e-6,
                "{got} against {}",
                step(raw)
            );
        }
    }

    #[test]
    fn reversal_stays_within_each_text() {
        let t = Text::new(&[vec![1, 2, 3], vec![4]]).unwrap();
        let r = t.reversal().unwrap().to_vec2::<u32>().unwrap();
        assert_eq!(r, vec![vec![2, 1, 0], vec![0, 1, 2]]);
        assert!(Text::new(&[vec![1], vec![]]).is_err());
    }

    #[test]
    fn guide_is_light_on_the_diagonal_and_absent_without_a_whole_text() {
        let t = Text::new(&[vec![1, 2, 3, 4], vec![1, 2]]).unwrap();
        let w = guide(&t, &[Some(8), None], 10)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        // Text 0 (4 characters over 8 frames): character u is due at frame 2u.
        assert!(w[0][0][0] < 1e-6 && w[0][6][3] < 0.1);
        assert!(w[0][0][3] > 0.9 && w[0][7][0] > 0.9);
        // After the text's frames, on padding characters, and for text 1: nothing.
        assert!(w[0][8..].iter().flatten().all(|&v| v == 0.0));
        assert!(w[1].iter().flatten().all(|&v| v == 0.0));
    }

    #[test]
    fn mass_beyond_grows_as_the_window_passes_the_end() {
        let m = |k: f32| mass_beyond(&[1.0], &[0.3], &[k], 4);
        assert!(m(0.0) < 1e-4);
        assert!((m(3.5) - 0.5).abs() < 1e-6);
        assert!(m(5.0) > 0.99);
    }
}
