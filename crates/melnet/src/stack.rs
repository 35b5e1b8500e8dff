//! The three stacks of a MelNet layer (arXiv 1906.01083 §4): time-delayed, centralized and
//! frequency-delayed. Hidden states are `[batch, frames, bins, width]` (centralized:
//! `[batch, frames, width]`).

use candle_core::{Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use crate::ops::dense::dense;
use crate::ops::frame_sum::frame_sum;
use crate::ops::fused_lstm::{Along, Direction};
use crate::ops::lstm_layer::{lstm_layer, LayerDims};
use crate::rnn::Rnn;
use crate::step::{Dense, Lstm, LstmState};

/// `lin` applied to the last axis of `x` of any rank, as one 2-D operation ([`dense`]; candle's
/// batched broadcast product has no backward for every stride pattern, e.g. an input width of
/// one).
pub(crate) fn linear(lin: &Linear, x: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let last = *dims.last().expect("at least one axis");
    let rows = x.elem_count() / last.max(1);
    let x = x.reshape((rows, last))?;
    let y = match lin.bias() {
        Some(b) => dense(&x, lin.weight(), b)?,
        None => lin.forward(&x)?,
    };
    let mut out = dims;
    *out.last_mut().expect("at least one axis") = y.dim(1)?;
    y.reshape(out)
}

/// An LSTM along time (one sequence per bin) of `[batch, frames, bins, width]`, forwards or
/// backwards.
pub(crate) const fn time(reverse: bool) -> Direction {
    Direction {
        along: Along::Rows,
        reverse,
    }
}

/// An LSTM along frequency (one sequence per frame, restarting every frame) of
/// `[batch, frames, bins, width]`, upwards or downwards.
pub(crate) const fn frequency(reverse: bool) -> Direction {
    Direction {
        along: Along::Columns,
        reverse,
    }
}

/// The LSTMs `rnns` over `x` `[batch, frames, bins, input]` along `directions`, their outputs
/// side by side, projected by `proj`, plus `residual` (`x` itself when `None`): a layer of every
/// stack and of the feature network, as one operation ([`lstm_layer`]).
pub(crate) fn residual_layer(
    rnns: &[&Rnn],
    directions: &[Direction],
    proj: &Linear,
    x: &Tensor,
    residual: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let mut parts = rnns
        .iter()
        .map(|r| r.w.flatten_all())
        .collect::<candle_core::Result<Vec<_>>>()?;
    parts.push(proj.weight().flatten_all()?);
    if let Some(b) = proj.bias() {
        parts.push(b.clone());
    } else {
        candle_core::bail!("LSTM layer: a projection without bias");
    }
    let dims = LayerDims {
        input: x.dim(3)?,
        hidden: rnns.first().map_or(Ok(0), |r| r.w.dim(1))? / 4,
        n: rnns.len(),
        output: proj.weight().dim(0)?,
    };
    lstm_layer(x, &Tensor::cat(&parts, 0)?, directions, dims, residual)
}

/// One layer of the time-delayed stack (eq. 6): LSTMs forward in time, and forward and
/// backward in frequency, over the previous layer; concatenated, projected, plus residual.
#[derive(Debug, Clone)]
pub struct TimeDelayedStack {
    pub(crate) time: Rnn,
    pub(crate) freq_up: Rnn,
    pub(crate) freq_down: Rnn,
    pub(crate) proj: Linear,
}

impl TimeDelayedStack {
    /// A layer of width `width`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(TimeDelayedStack {
            time: Rnn::new(width, width, vb.pp("time"))?,
            freq_up: Rnn::new(width, width, vb.pp("freq_up"))?,
            freq_down: Rnn::new(width, width, vb.pp("freq_down"))?,
            proj: candle_nn::linear(3 * width, width, vb.pp("proj"))?,
        })
    }

    /// `h^t[l]` from `h^t[l−1]` `[batch, frames, bins, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        residual_layer(
            &[&self.time, &self.freq_up, &self.freq_down],
            &[time(false), frequency(false), frequency(true)],
            &self.proj,
            h,
            None,
        )
    }
}

/// One layer of the centralized stack (§4.2): an LSTM along frames over a whole-frame
/// summary, projected, plus residual.
#[derive(Debug, Clone)]
pub struct CentralizedStack {
    pub(crate) time: Rnn,
    pub(crate) proj: Linear,
}

impl CentralizedStack {
    /// A layer of width `width`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(CentralizedStack {
            time: Rnn::new(width, width, vb.pp("time"))?,
            proj: candle_nn::linear(width, width, vb.pp("proj"))?,
        })
    }

    /// `h^c[l]` from `h^c[l−1]` `[batch, frames, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        // A grid of one bin: the LSTM runs along the frames.
        let (b, t, d) = h.dims3()?;
        residual_layer(
            &[&self.time],
            &[time(false)],
            &self.proj,
            &h.reshape((b, t, 1, d))?,
            None,
        )?
        .reshape((b, t, d))
    }
}

/// One layer of the frequency-delayed stack (eq. 7): an LSTM forward in frequency over
/// `h^f[l−1] + h^t[l] + h^c[l]`, restarting every frame; projected, plus residual.
#[derive(Debug, Clone)]
pub struct FrequencyDelayedStack {
    pub(crate) freq: Rnn,
    pub(crate) proj: Linear,
}

impl FrequencyDelayedStack {
    /// A layer of width `width`.
    ///
    /// # Errors
    /// When the variable store fails.
    pub fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(FrequencyDelayedStack {
            freq: Rnn::new(width, width, vb.pp("freq"))?,
            proj: candle_nn::linear(width, width, vb.pp("proj"))?,
        })
    }

    /// `h^f[l]` from `h^f[l−1]` and the same layer's `h^t[l]` (both `[batch, frames, bins,
    /// width]`) and optional `h^c[l]` `[batch, frames, width]`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(
        &self,
        h_f: &Tensor,
        h_t: &Tensor,
        h_c: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let input = match h_c {
            Some(c) => frame_sum(h_f, h_t, c)?,
            None => (h_f + h_t)?,
        };
        residual_layer(
            &[&self.freq],
            &[frequency(false)],
            &self.proj,
            &input,
            Some(h_f),
        )
    }
}

/// Rows times squared width of a frame from which a time-delayed layer's two frequency LSTMs
/// run on two threads (waking a thread costs tens of microseconds: at the default width a
/// frame takes less than that on one).
const PARALLEL_FRAME: usize = 1 << 20;

/// One frame's run of a time-delayed layer's frequency LSTM: its outputs `[bins·count, D]`,
/// its state, and the projected inputs of the frame `[bins·count, 4D]`.
struct FrequencyRun {
    out: Vec<f32>,
    state: LstmState,
    z: Vec<f32>,
}

impl FrequencyRun {
    fn new(bins: usize, count: usize, width: usize) -> Self {
        FrequencyRun {
            out: vec![0.0; bins * count * width],
            state: LstmState::new(count, width),
            z: vec![0.0; bins * count * 4 * width],
        }
    }

    /// Run `lstm` over the `bins` bins of `input` `[bins·count, D]` from zero states, upwards
    /// or (`backwards`) downwards.
    fn run(&mut self, lstm: &Lstm, input: &[f32], bins: usize, backwards: bool) {
        let rows = self.state.h.len();
        self.state.reset();
        lstm.project(input, input.len() / lstm.hidden().max(1), &mut self.z);
        for i in 0..bins {
            let bin = if backwards { bins - 1 - i } else { i };
            let at = bin * rows..(bin + 1) * rows;
            lstm.recur(&mut self.z[4 * at.start..4 * at.end], &mut self.state);
            self.out[at].copy_from_slice(&self.state.h);
        }
    }
}

/// A [`TimeDelayedStack`] layer in stepping form, for `count` spectrograms of `bins` bins.
pub(crate) struct TimeDelayedStep {
    time: Lstm,
    up: Lstm,
    down: Lstm,
    proj: Dense,
    bins: usize,
    count: usize,
}

/// The state of a [`TimeDelayedStep`]: the time LSTM's states per bin `[bins·count, D]`,
/// carried from frame to frame, and the frequency LSTMs' runs of the frame.
pub(crate) struct TimeDelayedState {
    time: LstmState,
    up: FrequencyRun,
    down: FrequencyRun,
}

impl TimeDelayedStack {
    /// The stepping form for `count` spectrograms of `bins` bins.
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub(crate) fn stepper(&self, bins: usize, count: usize) -> crate::Result<TimeDelayedStep> {
        let grid = bins * count;
        Ok(TimeDelayedStep {
            time: Lstm::new(&self.time, grid, grid)?,
            up: Lstm::new(&self.freq_up, grid, count)?,
            down: Lstm::new(&self.freq_down, grid, count)?,
            proj: Dense::new(&self.proj, grid)?,
            bins,
            count,
        })
    }
}

impl TimeDelayedStep {
    /// A zero state.
    pub fn state(&self) -> TimeDelayedState {
        let (d, bins, count) = (self.time.hidden(), self.bins, self.count);
        TimeDelayedState {
            time: LstmState::new(bins * count, d),
            up: FrequencyRun::new(bins, count, d),
            down: FrequencyRun::new(bins, count, d),
        }
    }

    /// `h^t[l]` of the next frame, `out` `[bins·count, D]`, from `h^t[l−1]` `input` (the same
    /// layout: row `bin·count + s` is bin `bin` of spectrogram `s`): the time LSTM steps once
    /// per bin from its state, the frequency LSTMs run over the frame afresh (up and down side
    /// by side when there is enough work to pay for waking a second thread).
    pub fn step(&self, state: &mut TimeDelayedState, input: &[f32], out: &mut [f32]) {
        let (bins, d) = (self.bins, self.time.hidden());
        let rows = bins * self.count;
        self.time.step(input, &mut state.time);
        let (up, down) = (&mut state.up, &mut state.down);
        let mut run_up = || up.run(&self.up, input, bins, false);
        let mut run_down = || down.run(&self.down, input, bins, true);
        if rows * d * d >= PARALLEL_FRAME {
            rayon::join(run_up, run_down);
        } else {
            run_up();
            run_down();
        }
        let proj = &self.proj;
        proj.apply_part(&state.time.h, rows, out, 0..d);
        proj.apply_part(&state.up.out, rows, out, d..2 * d);
        proj.apply_part(&state.down.out, rows, out, 2 * d..3 * d);
        add_bias_and_residual(out, proj.bias(), input);
    }
}

/// `out += b + residual` row by row (`out`, `residual` `[rows, D]`, `b` `[D]`).
fn add_bias_and_residual(out: &mut [f32], b: &[f32], residual: &[f32]) {
    let d = b.len();
    for (row, res) in out.chunks_exact_mut(d).zip(residual.chunks_exact(d)) {
        row.iter_mut()
            .zip(b)
            .zip(res)
            .for_each(|((v, b), r)| *v += b + r);
    }
}

/// A [`CentralizedStack`] layer in stepping form, for `count` spectrograms.
pub(crate) struct CentralizedStep {
    time: Lstm,
    proj: Dense,
    count: usize,
}

impl CentralizedStack {
    /// The stepping form for `count` spectrograms.
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub(crate) fn stepper(&self, count: usize) -> crate::Result<CentralizedStep> {
        Ok(CentralizedStep {
            time: Lstm::new(&self.time, count, count)?,
            proj: Dense::new(&self.proj, count)?,
            count,
        })
    }
}

impl CentralizedStep {
    /// A zero state: the LSTM's, carried from frame to frame.
    pub fn state(&self) -> LstmState {
        LstmState::new(self.count, self.time.hidden())
    }

    /// `h^c[l]` of the next frame, `out` `[count, D]`, from `h^c[l−1]` `input` `[count, D]`.
    pub fn step(&self, state: &mut LstmState, input: &[f32], out: &mut [f32]) {
        self.time.step(input, state);
        self.proj
            .apply_part(&state.h, self.count, out, 0..self.time.hidden());
        add_bias_and_residual(out, self.proj.bias(), input);
    }
}

/// A [`FrequencyDelayedStack`] layer in stepping form, for `count` spectrograms.
pub(crate) struct FrequencyDelayedStep {
    freq: Lstm,
    proj: Dense,
    count: usize,
}

/// The state of a [`FrequencyDelayedStep`] within a frame: the LSTM's, and its input
/// `[count, D]`.
pub(crate) struct FrequencyDelayedState {
    lstm: LstmState,
    input: Vec<f32>,
}

impl FrequencyDelayedState {
    /// Start a frame: the LSTM restarts at the lowest bin.
    pub fn start_frame(&mut self) {
        self.lstm.reset();
    }
}

impl FrequencyDelayedStack {
    /// The stepping form for `count` spectrograms.
    ///
    /// # Errors
    /// Candle errors reading the weights.
    pub(crate) fn stepper(&self, count: usize) -> crate::Result<FrequencyDelayedStep> {
        Ok(FrequencyDelayedStep {
            freq: Lstm::new(&self.freq, count, count)?,
            proj: Dense::new(&self.proj, count)?,
            count,
        })
    }
}

impl FrequencyDelayedStep {
    /// A zero state.
    pub fn state(&self) -> FrequencyDelayedState {
        let d = self.freq.hidden();
        FrequencyDelayedState {
            lstm: LstmState::new(self.count, d),
            input: vec![0.0; self.count * d],
        }
    }

    /// `h^f[l]` of the next bin, `out` `[count, D]`, from that bin's `h^f[l−1]` `h_f`, the
    /// same layer's `h^t[l]` `h_t` and the frame's `h^c[l]` `h_c` (each `[count, D]`).
    pub fn step(
        &self,
        state: &mut FrequencyDelayedState,
        h_f: &[f32],
        h_t: &[f32],
        h_c: Option<&[f32]>,
        out: &mut [f32],
    ) {
        for (i, v) in state.input.iter_mut().enumerate() {
            *v = h_f[i] + h_t[i] + h_c.map_or(0.0, |c| c[i]);
        }
        self.freq.step(&state.input, &mut state.lstm);
        let d = self.freq.hidden();
        self.proj.apply_part(&state.lstm.h, self.count, out, 0..d);
        add_bias_and_residual(out, self.proj.bias(), h_f);
    }
}
