//! Incremental sampling (DESIGN.md §5): O(T·F·L) cell steps instead of a full forward pass per
//! element. For every frame the time-delayed and centralized stacks advance one step from
//! their cached states (their inputs are the previous frame, known in full), then the
//! frequency-delayed stack steps bin by bin, and the head's mixture is drawn from for every
//! bin. The kernels are plain Rust on the weights of a [`crate::Tier`], read from its typed
//! layers (the tier alone knows its layout); the equivalence test (`tests/sampling.rs`) holds
//! them to the training forward pass. An upper tier's conditioning terms come from
//! [`crate::Tier::conditioning`], the function the forward pass uses, computed once over the
//! complete x^{<g} and added to the input layers frame by frame.
//!
//! Buffers of one frame are bin-major: row `f·count + s` is bin `f` of sample `s`.

use candle_core::Tensor;
use candle_nn::Linear;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::bins::add_bin_terms;
use crate::config::TierConfig;
use crate::error::{Error, Result};
use crate::gmm::MIN_LOG_SCALE;
use crate::multiscale::Grid;
use crate::ops::fused_lstm::cell;
use crate::ops::gemm::Weights;
use crate::stack::Rnn;
use crate::text::{mass_beyond, sigmoid, step, Text, TERMINATION};
use crate::tier::Tier;

/// A linear layer, weights transposed to `[input, output]`.
struct Dense {
    w: Weights,
    b: Vec<f32>,
    input: usize,
}

/// An LSTM's weights (see [`crate::ops::fused_lstm`]): input `[input, 4·hidden]`, recurrent
/// `[hidden, 4·hidden]`, bias `[4·hidden]`.
struct Lstm {
    w_ih: Weights,
    w_hh: Weights,
    bias: Vec<f32>,
    input: usize,
    hidden: usize,
}

/// The weights of one layer.
struct Layer {
    time: Lstm,
    up: Lstm,
    down: Lstm,
    time_proj: Dense,
    central: Option<(Lstm, Dense)>,
    freq: Lstm,
    freq_proj: Dense,
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

impl Dense {
    /// `lin` for products of `rows` rows.
    fn new(lin: &Linear, rows: usize) -> Result<Self> {
        let (output, input) = lin.weight().dims2()?;
        let w = values(&lin.weight().t()?.contiguous()?)?;
        let w = Weights::new(&w, input, output, rows);
        let b = match lin.bias() {
            Some(b) => values(b)?,
            None => vec![0.0; output],
        };
        Ok(Dense { w, b, input })
    }

    fn output(&self) -> usize {
        self.b.len()
    }

    /// `out = x·W + b` for `rows` rows of `x`.
    fn apply(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        self.apply_rows(x, rows, out, 0..self.input);
        let n = self.output();
        for row in out[..rows * n].chunks_exact_mut(n) {
            row.iter_mut().zip(&self.b).for_each(|(v, b)| *v += b);
        }
    }

    /// `out += x·W[inputs]`: the part of the product from the input columns `inputs` (x holds
    /// only those columns).
    fn apply_rows(&self, x: &[f32], rows: usize, out: &mut [f32], inputs: std::ops::Range<usize>) {
        let first = inputs.start == 0;
        self.w.product(out, x, rows, inputs, !first);
    }
}

impl Lstm {
    /// `rnn` for steps of `inputs` input rows and `states` state rows.
    fn new(rnn: &Rnn, inputs: usize, states: usize) -> Result<Self> {
        let (rows, gates) = rnn.w.dims2()?;
        let hidden = gates / 4;
        let input = rows - hidden - 1;
        let w = values(&rnn.w)?;
        let (w_ih, rest) = w.split_at(input * gates);
        let (w_hh, bias) = rest.split_at(hidden * gates);
        Ok(Lstm {
            w_ih: Weights::new(w_ih, input, gates, inputs),
            w_hh: Weights::new(w_hh, hidden, gates, states),
            bias: bias.to_vec(),
            input,
            hidden,
        })
    }

    /// The input part of the gates of `rows` rows of inputs `x` `[rows, input]`:
    /// `z = x·W_ih + b` `[rows, 4·hidden]`.
    fn project(&self, x: &[f32], rows: usize, z: &mut [f32]) {
        let g4 = 4 * self.hidden;
        let z = &mut z[..rows * g4];
        self.w_ih.product(z, x, rows, 0..self.input, false);
        for row in z.chunks_exact_mut(g4) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
    }

    /// One step of `rows` sequences from their projected inputs `z` `[rows, 4·hidden]`
    /// ([`Lstm::project`], overwritten): states `h`, `c` `[rows, hidden]` updated in place.
    fn recur(&self, z: &mut [f32], rows: usize, h: &mut [f32], c: &mut [f32]) {
        let (hd, g4) = (self.hidden, 4 * self.hidden);
        let z = &mut z[..rows * g4];
        self.w_hh.product(z, h, rows, 0..hd, true);
        for ((zr, cr), hr) in z
            .chunks_exact_mut(g4)
            .zip(c.chunks_exact_mut(hd))
            .zip(h.chunks_exact_mut(hd))
        {
            cell(zr, cr, hr);
        }
    }

    /// One step of `rows` sequences: inputs `x` `[rows, input]`, states `h`, `c`
    /// `[rows, hidden]` updated in place; `z` is scratch of at least `rows · 4·hidden`. One
    /// wide sequence computes its gates in two halves side by side.
    fn step(&self, x: &[f32], rows: usize, h: &mut [f32], c: &mut [f32], z: &mut [f32]) {
        let Some((left, right)) = self.w_ih.halves().filter(|_| rows == 1) else {
            self.project(x, rows, z);
            self.recur(z, rows, h, c);
            return;
        };
        let (input, hidden) = (self.input, self.hidden);
        let z = &mut z[..4 * hidden];
        let state = &*h;
        let gates = |dst: &mut [f32], cols: std::ops::Range<usize>| {
            self.w_ih
                .columns(dst, x, 1, (0..input, cols.clone()), false);
            self.w_hh.columns(dst, state, 1, (0..hidden, cols), true);
        };
        let (z_left, z_right) = z.split_at_mut(left.end);
        rayon::join(|| gates(z_left, left), || gates(z_right, right));
        z.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        cell(z, c, h);
    }
}

/// One frame's run of a time-delayed layer's frequency LSTM: its outputs `[bins·count, D]`,
/// states `[count, D]` and the projected inputs of the frame `[bins·count, 4D]`.
struct FrequencyRun {
    out: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
    z: Vec<f32>,
}

impl FrequencyRun {
    fn new(bins: usize, count: usize, width: usize) -> Self {
        FrequencyRun {
            out: vec![0.0; bins * count * width],
            h: vec![0.0; count * width],
            c: vec![0.0; count * width],
            z: vec![0.0; bins * count * 4 * width],
        }
    }

    /// Run `lstm` over the `bins` bins of `input` `[bins·count, D]` from zero states, upwards
    /// or (`backwards`) downwards.
    fn run(&mut self, lstm: &Lstm, input: &[f32], bins: usize, count: usize, backwards: bool) {
        let d = self.h.len() / count.max(1);
        self.h.fill(0.0);
        self.c.fill(0.0);
        lstm.project(input, bins * count, &mut self.z);
        for i in 0..bins {
            let bin = if backwards { bins - 1 - i } else { i };
            let rows = bin * count * d..(bin + 1) * count * d;
            let gates = &mut self.z[4 * rows.start..4 * rows.end];
            lstm.recur(gates, count, &mut self.h, &mut self.c);
            self.out[rows].copy_from_slice(&self.h);
        }
    }
}

/// Rows times squared width of a frame from which its two frequency LSTMs run on two threads
/// (waking a thread costs tens of microseconds: at the default width a frame takes less than
/// that on one).
const PARALLEL_FRAME: usize = 1 << 20;

/// The recurrent state and scratch buffers of a batch of `count` spectrograms.
struct State {
    count: usize,
    /// Previous and current frame, `[count, bins]`.
    prev: Vec<f32>,
    cur: Vec<f32>,
    /// Time LSTM states per layer, `[bins·count, D]`.
    time_h: Vec<Vec<f32>>,
    time_c: Vec<Vec<f32>>,
    /// Centralized LSTM states per layer, `[count, D]`.
    central_h: Vec<Vec<f32>>,
    central_c: Vec<Vec<f32>>,
    /// `h^t[l]` of the frame for l = 0..=L, `[bins·count, D]`.
    ht: Vec<Vec<f32>>,
    /// `h^c[l]` of the frame for l = 0..=L, `[count, D]`.
    hc: Vec<Vec<f32>>,
    /// `h^f[l]` of the bin for l = 0..=L, `[count, D]`.
    hf: Vec<Vec<f32>>,
    /// Frequency-delayed LSTM states per layer, `[count, D]`.
    freq_h: Vec<Vec<f32>>,
    freq_c: Vec<Vec<f32>>,
    /// Scratch: time-delayed LSTM outputs (time `[bins·count, D]`, up, down); gate
    /// pre-activations `[bins·count, 4D]`; one-step inputs `[count, D]`; scalar inputs
    /// `[bins·count]`; head output `[count, 3K]`.
    out_time: Vec<f32>,
    up: FrequencyRun,
    down: FrequencyRun,
    z: Vec<f32>,
    step_in: Vec<f32>,
    scalars: Vec<f32>,
    raw: Vec<f32>,
}

impl State {
    fn new(config: &TierConfig, count: usize) -> Self {
        let (f, d, l) = (config.n_mels, config.width, config.layers);
        let bins = |n| vec![vec![0.0; f * count * d]; n];
        let rows = |n| vec![vec![0.0; count * d]; n];
        State {
            count,
            prev: vec![0.0; count * f],
            cur: vec![0.0; count * f],
            time_h: bins(l),
            time_c: bins(l),
            central_h: rows(l),
            central_c: rows(l),
            ht: bins(l + 1),
            hc: rows(l + 1),
            hf: rows(l + 1),
            freq_h: rows(l),
            freq_c: rows(l),
            out_time: vec![0.0; f * count * d],
            up: FrequencyRun::new(f, count, d),
            down: FrequencyRun::new(f, count, d),
            z: vec![0.0; f * count * 4 * d],
            step_in: vec![0.0; count * d],
            scalars: vec![0.0; f * count],
            raw: vec![0.0; count * 3 * config.n_mixtures],
        }
    }
}

/// Drawing options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleOptions {
    /// Bias b ≥ 0 towards likelier values (the paper's temperature): σ ← exp(σ̂ − b),
    /// π ← softmax(π̂·(1 + b)). 0 samples the model as trained.
    pub bias: f32,
    /// Draws are clamped to `[lo, hi]` before they are fed back (e.g. the training data's
    /// range): one draw from a mixture's far tail would otherwise push the recurrences where
    /// they never were in training.
    pub range: (f32, f32),
}

impl Default for SampleOptions {
    /// No bias, no clamping.
    fn default() -> Self {
        SampleOptions {
            bias: 0.0,
            range: (f32::MIN, f32::MAX),
        }
    }
}

/// The incremental sampler of one tier, with the state of `count` spectrograms generated
/// side by side.
pub struct Sampler {
    tier: Tier,
    config: TierConfig,
    time_input: Dense,
    freq_input: Dense,
    central_input: Option<Dense>,
    layers: Vec<Layer>,
    head: Dense,
    state: State,
    frames: usize,
    conditioning: Option<Conditioning>,
    labels: Option<LabelTerms>,
    attention: Option<AttentionWeights>,
    text: Option<TextRun>,
}

/// The label terms of each spectrogram's class ([`Tier::label_terms`]): the time-delayed
/// stack's `[count, width]`, the frequency-delayed stack's `[count, bins, width]`.
struct LabelTerms {
    to_time: Vec<f32>,
    to_freq: Vec<f32>,
}

/// The weights of a text tier's attention.
struct AttentionWeights {
    rnn: Lstm,
    window: Dense,
    out: Dense,
    feedback: Dense,
    bins: Dense,
    /// [`crate::bins::BinGain`]'s gains `[bins, D]`.
    gain: Vec<f32>,
}

/// The text of each spectrogram and the attention window's state.
struct TextRun {
    /// `[count, chars, 2E]`, and each text's length.
    memory: Vec<f32>,
    lengths: Vec<usize>,
    chars: usize,
    /// Attention LSTM state `[count, D]`, window positions κ `[count, K]`.
    h: Vec<f32>,
    c: Vec<f32>,
    kappa: Vec<f32>,
    /// Scratch: window parameters `[count, 3K]`, one frame's window `[count, chars]`, the
    /// context `[count, 2E]`.
    raw: Vec<f32>,
    phi: Vec<f32>,
    context: Vec<f32>,
    /// The context projected for the per-bin terms, `[count, D]`.
    to_bins: Vec<f32>,
    /// Every frame's window since the start, `[frames, count, chars]`.
    alignment: Vec<f32>,
    /// The frame at which each text's window passed its last character.
    ended: Vec<Option<usize>>,
}

impl TextRun {
    /// Advance the attention `w` one frame on the centralized stack's states `hc`
    /// `[count, D]` and add the projected context to them; `frame` is the frame's index; `z`
    /// and `add` are scratch (`[count, 4D]`, `[count, D]`).
    fn step(
        &mut self,
        w: &AttentionWeights,
        hc: &mut [f32],
        frame: usize,
        z: &mut [f32],
        add: &mut [f32],
    ) {
        let n = self.lengths.len();
        let k = self.kappa.len() / n.max(1);
        let (u_all, m) = (self.chars, self.memory.len() / (n * self.chars).max(1));
        // The LSTM's input: the stack's states plus the previous frame's context fed back.
        w.feedback.apply(&self.context, n, add);
        add.iter_mut().zip(hc.iter()).for_each(|(a, h)| *a += h);
        w.rnn.step(add, n, &mut self.h, &mut self.c, z);
        w.window.apply(&self.h, n, &mut self.raw);
        for s in 0..n {
            // The raw parameters become weights α, widths β and steps in place.
            let raw = &mut self.raw[s * 3 * k..(s + 1) * 3 * k];
            let (alpha, rest) = raw.split_at_mut(k);
            let (beta, steps) = rest.split_at_mut(k);
            let max = alpha.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            alpha.iter_mut().for_each(|a| *a = (*a - max).exp());
            let total: f32 = alpha.iter().sum();
            alpha.iter_mut().for_each(|a| *a /= total);
            beta.iter_mut().for_each(|b| *b = b.exp());
            let kappa = &mut self.kappa[s * k..(s + 1) * k];
            kappa
                .iter_mut()
                .zip(steps.iter())
                .for_each(|(kp, &st)| *kp += step(st));
            let (alpha, beta) = (&*alpha, &*beta);
            let phi = &mut self.phi[s * u_all..(s + 1) * u_all];
            for (u, p) in phi.iter_mut().enumerate() {
                *p = if u < self.lengths[s] {
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
            let context = &mut self.context[s * m..(s + 1) * m];
            context.fill(0.0);
            for (u, p) in phi.iter().enumerate() {
                let row = &self.memory[(s * u_all + u) * m..(s * u_all + u + 1) * m];
                context.iter_mut().zip(row).for_each(|(c, v)| *c += p * v);
            }
            if self.ended[s].is_none()
                && mass_beyond(alpha, beta, kappa, self.lengths[s]) > TERMINATION
            {
                self.ended[s] = Some(frame);
            }
        }
        self.alignment.extend_from_slice(&self.phi);
        w.bins.apply(&self.context, n, &mut self.to_bins);
        w.out.apply(&self.context, n, add);
        hc.iter_mut().zip(add.iter()).for_each(|(h, a)| *h += a);
    }
}

/// An upper tier's conditioning terms for every frame, each `[count, frames, bins, width]`.
struct Conditioning {
    to_time: Vec<f32>,
    to_freq: Vec<f32>,
    frames: usize,
}

impl Sampler {
    /// A sampler for `count` spectrograms of `tier`.
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub fn new(tier: &Tier, count: usize) -> Result<Self> {
        let config = tier.config.clone();
        // Rows of the products: one per spectrogram, or one per bin of each.
        let (n, grid) = (count.max(1), count.max(1) * config.n_mels);
        let layers = (0..config.layers)
            .map(|i| {
                let (t, f) = (&tier.time[i], &tier.freq[i]);
                Ok(Layer {
                    time: Lstm::new(&t.time, grid, grid)?,
                    up: Lstm::new(&t.freq_up, grid, n)?,
                    down: Lstm::new(&t.freq_down, grid, n)?,
                    time_proj: Dense::new(&t.proj, grid)?,
                    central: match tier.central.get(i) {
                        Some(c) => Some((Lstm::new(&c.time, n, n)?, Dense::new(&c.proj, n)?)),
                        None => None,
                    },
                    freq: Lstm::new(&f.freq, n, n)?,
                    freq_proj: Dense::new(&f.proj, n)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sampler {
            time_input: Dense::new(&tier.time_input, grid)?,
            freq_input: Dense::new(&tier.freq_input, n)?,
            central_input: tier
                .central_input
                .as_ref()
                .map(|c| Dense::new(c, n))
                .transpose()?,
            layers,
            head: Dense::new(&tier.head, n)?,
            state: State::new(&config, count.max(1)),
            frames: 0,
            conditioning: None,
            labels: None,
            attention: match &tier.text {
                Some(t) => Some(AttentionWeights {
                    rnn: Lstm::new(&t.attention.rnn, n, n)?,
                    window: Dense::new(&t.attention.window, n)?,
                    out: Dense::new(&t.attention.out, n)?,
                    feedback: Dense::new(&t.attention.feedback, n)?,
                    bins: Dense::new(&t.attention.bins, n)?,
                    gain: values(&t.attention.gain.gain)?,
                }),
                None => None,
            },
            text: None,
            tier: tier.clone(),
            config,
        })
    }

    /// Condition an upper tier on x^{<g} `coarse` `[count, frames, bins]` of grid `grid` (the
    /// complete output of the coarser tiers, or their split of a real spectrogram), for x^g of
    /// `frames` frames in all (primed and generated, counted from the start). Runs the feature
    /// network once.
    ///
    /// # Errors
    /// [`Error::Shape`] when the tier is unconditional or the sizes do not fit; candle errors.
    pub fn condition(&mut self, coarse: &[f32], grid: Grid, frames: usize) -> Result<()> {
        let n = self.count();
        if coarse.len() != n * grid.len() {
            return Err(Error::Shape {
                what: "conditioning",
                expected: format!("[{n}, {}, {}]", grid.frames, grid.bins),
                got: format!("{} values", coarse.len()),
            });
        }
        let coarse = Tensor::from_slice(coarse, (n, grid.frames, grid.bins), self.tier.device())?;
        let (to_time, to_freq) = self
            .tier
            .conditioning(Some(&coarse), n, frames, self.config.n_mels)?
            .expect("a tier given conditioning is conditioned");
        self.conditioning = Some(Conditioning {
            to_time: values(&to_time)?,
            to_freq: values(&to_freq)?,
            frames,
        });
        Ok(())
    }

    /// Condition a tier with labels on each spectrogram's class `classes` `[count]`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the tier has no labels, the count differs or a class is out of
    /// range; candle errors.
    pub fn set_labels(&mut self, classes: &[u32]) -> Result<()> {
        let ids = Tensor::from_slice(classes, classes.len(), self.tier.device())?;
        if classes.len() != self.count() {
            return Err(Error::Shape {
                what: "labels",
                expected: format!("{} classes", self.count()),
                got: classes.len().to_string(),
            });
        }
        let (to_time, to_freq) = self
            .tier
            .label_terms(Some(&ids), classes.len())?
            .expect("a tier given labels has them");
        self.labels = Some(LabelTerms {
            to_time: values(&to_time)?,
            to_freq: values(&to_freq)?,
        });
        Ok(())
    }

    /// Condition a text tier on each spectrogram's text (`count` of them); starts the
    /// attention window at the first character (call before the first frame, or after
    /// [`Sampler::reset`]).
    ///
    /// # Errors
    /// [`Error::Shape`] when the tier has no text or the count differs; candle errors.
    pub fn set_text(&mut self, text: &Text) -> Result<()> {
        let n = self.count();
        let memory = self
            .tier
            .text_memory(Some(text), n)?
            .expect("a tier given text has it");
        let (d, k) = (
            self.config.width,
            self.config.text.map_or(0, |t| t.mixtures),
        );
        let (_, chars, m) = memory.dims3()?;
        self.text = Some(TextRun {
            memory: values(&memory)?,
            lengths: text.lengths().to_vec(),
            chars,
            h: vec![0.0; n * d],
            c: vec![0.0; n * d],
            kappa: vec![0.0; n * k],
            raw: vec![0.0; n * 3 * k],
            phi: vec![0.0; n * chars],
            context: vec![0.0; n * m],
            to_bins: vec![0.0; n * d],
            alignment: Vec::new(),
            ended: vec![None; n],
        });
        Ok(())
    }

    /// The attention windows of every frame so far, `[frames, count, chars]` (a text tier
    /// after [`Sampler::set_text`]; empty otherwise), and `chars`.
    pub fn alignment(&self) -> (&[f32], usize) {
        self.text
            .as_ref()
            .map_or((&[][..], 0), |t| (&t.alignment[..], t.chars))
    }

    /// For a text tier: the frame at which each text's attention passed its last character
    /// ([`crate::text::TERMINATION`]), `None` while it has not.
    pub fn ended(&self) -> Option<&[Option<usize>]> {
        self.text.as_ref().map(|t| &t.ended[..])
    }

    /// The tier's configuration.
    pub fn config(&self) -> &TierConfig {
        &self.config
    }

    /// Spectrograms generated side by side.
    pub fn count(&self) -> usize {
        self.state.count
    }

    /// Frames consumed or generated since the start.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Start again from empty spectrograms.
    pub fn reset(&mut self) {
        let s = &mut self.state;
        for buf in [&mut s.prev]
            .into_iter()
            .chain(s.time_h.iter_mut())
            .chain(s.time_c.iter_mut())
            .chain(s.central_h.iter_mut())
            .chain(s.central_c.iter_mut())
        {
            buf.fill(0.0);
        }
        if let Some(t) = self.text.as_mut() {
            for buf in [&mut t.h, &mut t.c, &mut t.kappa, &mut t.context] {
                buf.fill(0.0);
            }
            t.alignment.clear();
            t.ended.fill(None);
        }
        self.frames = 0;
    }

    /// Advance every recurrence through one frame. `fill(bin, raw, values)` is called for each
    /// bin in order with the head's raw output `[count, 3K]` (means, log-scales, weight logits)
    /// and must write that bin's value of each spectrogram into `values` `[count]`.
    ///
    /// # Errors
    /// [`Error::Shape`] when an upper tier has no conditioning for this frame.
    fn frame(&mut self, mut fill: impl FnMut(usize, &[f32], &mut [f32])) -> Result<()> {
        let (f, d) = (self.config.n_mels, self.config.width);
        let t = self.frames;
        // An upper tier's conditioning terms of frame t: row (sample, bin) at
        // ((sample·frames + t)·bins + bin)·width.
        let cond = match (&self.conditioning, self.tier.features.is_some()) {
            (None, false) => None,
            (Some(c), true) if t < c.frames => Some((c, t)),
            _ => {
                return Err(Error::Shape {
                    what: "upper-tier sampling",
                    expected: format!("conditioning (Sampler::condition) covering frame {t}"),
                    got: match &self.conditioning {
                        Some(c) => format!("{} frames", c.frames),
                        None => "none".into(),
                    },
                })
            }
        };
        if self.tier.labels.is_some() != self.labels.is_some()
            || self.attention.is_some() != self.text.is_some()
        {
            return Err(Error::Shape {
                what: "conditioned sampling",
                expected: format!(
                    "labels {} and text {} (Sampler::set_labels, Sampler::set_text)",
                    self.tier.labels.is_some(),
                    self.attention.is_some()
                ),
                got: format!(
                    "labels {} and text {}",
                    self.labels.is_some(),
                    self.text.is_some()
                ),
            });
        }
        let cond_row = |c: &Conditioning, sample: usize, bin: usize| {
            let at = ((sample * c.frames + t) * f + bin) * d;
            at..at + d
        };
        let s = &mut self.state;
        let n = s.count;
        // Inputs from the previous frame: each bin's own value, and the whole frame.
        for (bin, chunk) in s.scalars.chunks_exact_mut(n).enumerate() {
            for (sample, v) in chunk.iter_mut().enumerate() {
                *v = s.prev[sample * f + bin];
            }
        }
        self.time_input.apply(&s.scalars, f * n, &mut s.ht[0]);
        if let Some((c, _)) = cond {
            for (row, h) in s.ht[0].chunks_exact_mut(d).enumerate() {
                let (bin, sample) = (row / n, row % n);
                let add = &c.to_time[cond_row(c, sample, bin)];
                h.iter_mut().zip(add).for_each(|(v, a)| *v += a);
            }
        }
        if let Some(lt) = &self.labels {
            for (row, h) in s.ht[0].chunks_exact_mut(d).enumerate() {
                let add = &lt.to_time[(row % n) * d..(row % n + 1) * d];
                h.iter_mut().zip(add).for_each(|(v, a)| *v += a);
            }
        }
        if let Some(c) = &self.central_input {
            c.apply(&s.prev, n, &mut s.hc[0]);
        }
        let attention_layer = self.tier.attention_layer();
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, above) = s.ht.split_at_mut(l + 1);
            let (input, out) = (&below[l], &mut above[0]);
            // Time LSTM: one step per bin sequence from the cached state.
            layer
                .time
                .step(input, f * n, &mut s.time_h[l], &mut s.time_c[l], &mut s.z);
            s.out_time.copy_from_slice(&s.time_h[l]);
            // Frequency LSTMs over this frame's input, fresh every frame: up and down side by
            // side when there is enough work to pay for waking a second thread.
            let (up, down) = (&mut s.up, &mut s.down);
            let mut run_up = || up.run(&layer.up, input, f, n, false);
            let mut run_down = || down.run(&layer.down, input, f, n, true);
            if f * n * d * d >= PARALLEL_FRAME {
                rayon::join(run_up, run_down);
            } else {
                run_up();
                run_down();
            }
            let proj = &layer.time_proj;
            proj.apply_rows(&s.out_time, f * n, out, 0..d);
            proj.apply_rows(&s.up.out, f * n, out, d..2 * d);
            proj.apply_rows(&s.down.out, f * n, out, 2 * d..3 * d);
            for (row, res) in out.chunks_exact_mut(d).zip(input.chunks_exact(d)) {
                row.iter_mut()
                    .zip(&proj.b)
                    .zip(res)
                    .for_each(|((v, b), r)| *v += b + r);
            }
            if let Some((lstm, proj)) = &layer.central {
                let (below, above) = s.hc.split_at_mut(l + 1);
                let (input, out) = (&below[l], &mut above[0]);
                lstm.step(input, n, &mut s.central_h[l], &mut s.central_c[l], &mut s.z);
                proj.apply(&s.central_h[l], n, out);
                out.iter_mut().zip(input.iter()).for_each(|(v, r)| *v += r);
                if let (Some(w), Some(text)) = (&self.attention, self.text.as_mut()) {
                    if l == attention_layer {
                        text.step(w, out, t, &mut s.z, &mut s.step_in);
                    }
                }
            }
        }
        // The frequency-delayed stack, bin by bin.
        for buf in s.freq_h.iter_mut().chain(s.freq_c.iter_mut()) {
            buf.fill(0.0);
        }
        let values = &mut s.scalars[..n];
        for bin in 0..f {
            for (sample, v) in values.iter_mut().enumerate() {
                *v = if bin == 0 {
                    0.0
                } else {
                    s.cur[sample * f + bin - 1]
                };
            }
            self.freq_input.apply(values, n, &mut s.hf[0]);
            if let Some((c, _)) = cond {
                for (sample, h) in s.hf[0].chunks_exact_mut(d).enumerate() {
                    let add = &c.to_freq[cond_row(c, sample, bin)];
                    h.iter_mut().zip(add).for_each(|(v, a)| *v += a);
                }
            }
            if let Some(lt) = &self.labels {
                for (sample, h) in s.hf[0].chunks_exact_mut(d).enumerate() {
                    let at = (sample * f + bin) * d;
                    let add = &lt.to_freq[at..at + d];
                    h.iter_mut().zip(add).for_each(|(v, a)| *v += a);
                }
            }
            for (l, layer) in self.layers.iter().enumerate() {
                if let (Some(w), Some(text)) = (&self.attention, &self.text) {
                    if l == attention_layer {
                        add_bin_terms(&mut s.hf[l], &w.gain, &text.to_bins, bin, d);
                    }
                }
                let rows = bin * n * d..(bin + 1) * n * d;
                let central = self.config.centralized.then(|| &s.hc[l + 1]);
                for (i, v) in s.step_in.iter_mut().enumerate() {
                    let mut x = s.hf[l][i] + s.ht[l + 1][rows.start + i];
                    if let Some(c) = central {
                        x += c[i];
                    }
                    *v = x;
                }
                layer
                    .freq
                    .step(&s.step_in, n, &mut s.freq_h[l], &mut s.freq_c[l], &mut s.z);
                let (below, above) = s.hf.split_at_mut(l + 1);
                layer.freq_proj.apply(&s.freq_h[l], n, &mut above[0]);
                above[0]
                    .iter_mut()
                    .zip(below[l].iter())
                    .for_each(|(v, r)| *v += r);
            }
            self.head.apply(&s.hf[self.config.layers], n, &mut s.raw);
            fill(bin, &s.raw, values);
            for (sample, v) in values.iter().enumerate() {
                s.cur[sample * f + bin] = *v;
            }
        }
        std::mem::swap(&mut s.prev, &mut s.cur);
        self.frames += 1;
        Ok(())
    }

    /// Run the recurrences over known frames `x` `[count, frames, bins]` (teacher forcing)
    /// and return the head's raw output for every element, `[count, frames, bins, 3K]`
    /// (means, log-scales before the floor, weight logits): the same numbers as
    /// [`crate::Tier::forward`] on `x`. Continues from the current state, so it also primes.
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` is not `count · frames · bins` long.
    pub fn teacher_force(&mut self, x: &[f32], frames: usize) -> Result<Vec<f32>> {
        let (n, f, k3) = (self.count(), self.config.n_mels, 3 * self.config.n_mixtures);
        if x.len() != n * frames * f {
            return Err(Error::Shape {
                what: "teacher-forced spectrogram",
                expected: format!("[{n}, {frames}, {f}]"),
                got: format!("{} values", x.len()),
            });
        }
        let mut raw = vec![0.0f32; n * frames * f * k3];
        on_pool(|| {
            for t in 0..frames {
                self.frame(|bin, head, values| {
                    for (sample, v) in values.iter_mut().enumerate() {
                        *v = x[(sample * frames + t) * f + bin];
                        let at = ((sample * frames + t) * f + bin) * k3;
                        raw[at..at + k3].copy_from_slice(&head[sample * k3..(sample + 1) * k3]);
                    }
                })?;
            }
            Ok::<_, Error>(())
        })?;
        Ok(raw)
    }

    /// Generate up to `frames` more frames of every spectrogram, `[count, frames', bins]`,
    /// drawing from `rng`; `progress(frame)` is called after each frame. A text tier stops
    /// after the frame in which the last of its texts ended ([`Sampler::ended`]), so
    /// `frames'` may be fewer.
    ///
    /// # Errors
    /// [`Error::Shape`] when an upper tier's conditioning does not cover the frames, or the
    /// tier's labels or text are not set.
    pub fn generate(
        &mut self,
        frames: usize,
        options: SampleOptions,
        rng: &mut (impl Rng + Send),
        mut progress: impl FnMut(usize) + Send,
    ) -> Result<Vec<f32>> {
        let (n, f, k) = (self.count(), self.config.n_mels, self.config.n_mixtures);
        let mut out = vec![0.0f32; n * frames * f];
        let mut weights = vec![0.0f32; k];
        // Draws below the floor (censored values) are the floor.
        let floor = self.config.floor.clone();
        on_pool(|| {
            for t in 0..frames {
                self.frame(|bin, head, values| {
                    let lo = floor
                        .as_ref()
                        .map_or(options.range.0, |fl| fl[bin].max(options.range.0));
                    for (sample, v) in values.iter_mut().enumerate() {
                        let raw = &head[sample * 3 * k..(sample + 1) * 3 * k];
                        *v = draw(raw, options.bias, &mut weights, rng)
                            .max(lo)
                            .min(options.range.1);
                        out[(sample * frames + t) * f + bin] = *v;
                    }
                })?;
                progress(t + 1);
                if self.ended().is_some_and(|e| e.iter().all(Option::is_some)) {
                    return Ok(keep_frames(&out, n, frames, t + 1, f));
                }
            }
            Ok(out)
        })
    }
}

/// `work` on a thread of rayon's pool (run in place when already on one): the products it
/// splits in two ([`Lstm::step`], the frequency LSTMs of a frame) then cost a push onto the
/// pool's queue instead of waking a worker from outside and sleeping until it is done.
fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| work())
}

/// The first `keep` of the `frames` frames of each of the `count` spectrograms of `x`
/// `[count, frames, bins]`.
fn keep_frames(x: &[f32], count: usize, frames: usize, keep: usize, bins: usize) -> Vec<f32> {
    (0..count)
        .flat_map(|s| &x[s * frames * bins..(s * frames + keep) * bins])
        .copied()
        .collect()
}

/// One draw from the mixture with raw parameters `raw` `[3K]`, biased by `bias`; `weights`
/// is scratch `[K]`.
fn draw(raw: &[f32], bias: f32, weights: &mut [f32], rng: &mut impl Rng) -> f32 {
    let k = weights.len();
    let (means, rest) = raw.split_at(k);
    let (log_scales, logits) = rest.split_at(k);
    let sharpen = 1.0 + bias;
    let max = logits
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v * sharpen));
    let mut total = 0.0;
    for (w, &l) in weights.iter_mut().zip(logits) {
        *w = (l * sharpen - max).exp();
        total += *w;
    }
    let mut u = rng.gen::<f32>() * total;
    let mut pick = k - 1;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            pick = i;
            break;
        }
        u -= w;
    }
    let sigma = (log_scales[pick].max(MIN_LOG_SCALE as f32) - bias).exp();
    let z: f32 = rng.sample(StandardNormal);
    means[pick] + sigma * z
}
