//! Incremental sampling (DESIGN.md §5): O(T·F·L) cell steps instead of a full forward pass per
//! element. The sampler is the schedule: for every frame the time-delayed and centralized
//! stacks advance one step from their cached states (their inputs are the previous frame,
//! known in full), then the frequency-delayed stack steps bin by bin, and the head's mixture
//! is drawn from for every bin. Each layer steps itself (the stepping forms in
//! [`crate::stack`] and [`crate::text`], next to their training forward passes); the
//! equivalence tests (`tests/sampling.rs`) hold the two to each other. An upper tier's
//! conditioning terms come from [`crate::Tier::conditioning`], the function the forward pass
//! uses, computed once over the complete x^{<g} and added to the input layers frame by frame.
//!
//! Buffers of one frame are bin-major: row `f·count + s` is bin `f` of sample `s`.

use candle_core::Tensor;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::config::TierConfig;
use crate::error::{Error, Result};
use crate::gmm::MIN_LOG_SCALE;
use crate::multiscale::Grid;
use crate::stack::{
    CentralizedStep, FrequencyDelayedState, FrequencyDelayedStep, TimeDelayedState, TimeDelayedStep,
};
use crate::step::{values, Dense, LstmState};
use crate::text::{AttentionState, AttentionStep, Text};
use crate::tier::Tier;

/// One layer of the three stacks in stepping form.
struct Layer {
    time: TimeDelayedStep,
    central: Option<CentralizedStep>,
    freq: FrequencyDelayedStep,
}

/// The recurrent state and buffers of a batch of `count` spectrograms.
struct State {
    count: usize,
    /// Previous and current frame, `[count, bins]`.
    prev: Vec<f32>,
    cur: Vec<f32>,
    /// Each layer's states.
    time: Vec<TimeDelayedState>,
    central: Vec<LstmState>,
    freq: Vec<FrequencyDelayedState>,
    /// `h^t[l]` of the frame for l = 0..=L, `[bins·count, D]`.
    ht: Vec<Vec<f32>>,
    /// `h^c[l]` of the frame for l = 0..=L, `[count, D]`.
    hc: Vec<Vec<f32>>,
    /// `h^f[l]` of the bin for l = 0..=L, `[count, D]`.
    hf: Vec<Vec<f32>>,
    /// Scratch: scalar inputs `[bins·count]`; head output `[count, 3K]`.
    scalars: Vec<f32>,
    raw: Vec<f32>,
}

impl State {
    fn new(config: &TierConfig, layers: &[Layer], count: usize) -> Self {
        let (f, d, l) = (config.n_mels, config.width, config.layers);
        State {
            count,
            prev: vec![0.0; count * f],
            cur: vec![0.0; count * f],
            time: layers.iter().map(|layer| layer.time.state()).collect(),
            central: layers
                .iter()
                .filter_map(|layer| layer.central.as_ref().map(CentralizedStep::state))
                .collect(),
            freq: layers.iter().map(|layer| layer.freq.state()).collect(),
            ht: vec![vec![0.0; f * count * d]; l + 1],
            hc: vec![vec![0.0; count * d]; l + 1],
            hf: vec![vec![0.0; count * d]; l + 1],
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
    attention: Option<AttentionStep>,
    text: Option<AttentionState>,
}

/// The label terms of each spectrogram's class ([`Tier::label_terms`]): the time-delayed
/// stack's `[count, width]`, the frequency-delayed stack's `[count, bins, width]`.
struct LabelTerms {
    to_time: Vec<f32>,
    to_freq: Vec<f32>,
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
        let (n, bins) = (count.max(1), config.n_mels);
        let layers = (0..config.layers)
            .map(|i| {
                Ok(Layer {
                    time: tier.time[i].stepper(bins, n)?,
                    central: tier.central.get(i).map(|c| c.stepper(n)).transpose()?,
                    freq: tier.freq[i].stepper(n)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sampler {
            time_input: Dense::new(&tier.time_input, bins * n)?,
            freq_input: Dense::new(&tier.freq_input, n)?,
            central_input: tier
                .central_input
                .as_ref()
                .map(|c| Dense::new(c, n))
                .transpose()?,
            head: Dense::new(&tier.head, n)?,
            state: State::new(&config, &layers, n),
            layers,
            frames: 0,
            conditioning: None,
            labels: None,
            attention: tier
                .text
                .as_ref()
                .map(|t| t.attention.stepper(n))
                .transpose()?,
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
        let attention = self.attention.as_ref().expect("a tier with text attends");
        let chars = memory.dim(1)?;
        self.text = Some(attention.state(values(&memory)?, text.lengths(), chars));
        Ok(())
    }

    /// The attention windows of every frame so far, `[frames, count, chars]` (a text tier
    /// after [`Sampler::set_text`]; empty otherwise), and `chars`.
    pub fn alignment(&self) -> (&[f32], usize) {
        self.text
            .as_ref()
            .map_or((&[][..], 0), |t| (&t.alignment[..], t.chars()))
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
        self.state = State::new(&self.config, &self.layers, self.state.count);
        if let Some(t) = self.text.as_mut() {
            t.reset();
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
            (Some(c), true) if t < c.frames => Some(c),
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
        let add = |h: &mut [f32], terms: &[f32]| h.iter_mut().zip(terms).for_each(|(v, a)| *v += a);
        let s = &mut self.state;
        let n = s.count;
        // Inputs from the previous frame: each bin's own value, and the whole frame.
        for (bin, chunk) in s.scalars.chunks_exact_mut(n).enumerate() {
            for (sample, v) in chunk.iter_mut().enumerate() {
                *v = s.prev[sample * f + bin];
            }
        }
        self.time_input.apply(&s.scalars, f * n, &mut s.ht[0]);
        for (row, h) in s.ht[0].chunks_exact_mut(d).enumerate() {
            let (bin, sample) = (row / n, row % n);
            if let Some(c) = cond {
                add(h, &c.to_time[cond_row(c, sample, bin)]);
            }
            if let Some(lt) = &self.labels {
                add(h, &lt.to_time[sample * d..(sample + 1) * d]);
            }
        }
        if let Some(c) = &self.central_input {
            c.apply(&s.prev, n, &mut s.hc[0]);
        }
        let attention_layer = self.tier.attention_layer();
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, above) = s.ht.split_at_mut(l + 1);
            layer.time.step(&mut s.time[l], &below[l], &mut above[0]);
            if let Some(central) = &layer.central {
                let (below, above) = s.hc.split_at_mut(l + 1);
                central.step(&mut s.central[l], &below[l], &mut above[0]);
                if let (Some(a), Some(text)) = (&self.attention, self.text.as_mut()) {
                    if l == attention_layer {
                        a.step(text, &mut above[0], t);
                    }
                }
            }
        }
        // The frequency-delayed stack, bin by bin.
        s.freq
            .iter_mut()
            .for_each(FrequencyDelayedState::start_frame);
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
            for (sample, h) in s.hf[0].chunks_exact_mut(d).enumerate() {
                if let Some(c) = cond {
                    add(h, &c.to_freq[cond_row(c, sample, bin)]);
                }
                if let Some(lt) = &self.labels {
                    let at = (sample * f + bin) * d;
                    add(h, &lt.to_freq[at..at + d]);
                }
            }
            for (l, layer) in self.layers.iter().enumerate() {
                if let (Some(a), Some(text)) = (&self.attention, &self.text) {
                    if l == attention_layer {
                        a.add_bin_terms(text, &mut s.hf[l], bin);
                    }
                }
                let h_t = &s.ht[l + 1][bin * n * d..(bin + 1) * n * d];
                let h_c = layer.central.as_ref().map(|_| &s.hc[l + 1][..]);
                let (below, above) = s.hf.split_at_mut(l + 1);
                layer
                    .freq
                    .step(&mut s.freq[l], &below[l], h_t, h_c, &mut above[0]);
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
