//! Python bindings of melspec, dx7 and melnet's models ([`model`]): the extension module `melnet._melnet` behind the Python package
//! `melnet` (`python/melnet`). The functions here take explicit arguments (no defaults): the
//! package gives them librosa's names, keyword-only defaults and batch-shape handling. Each
//! one converts arrays, releases the GIL while melspec computes, and turns melspec's errors
//! into Python exceptions (`ValueError` for bad arguments and arrays, `OSError` for files).
//! Nothing here computes a number itself.
//!
//! Batches are 2-D or 3-D arrays whose first axis is the batch; its items are computed in
//! parallel (rayon).

// The phase-retrieval functions take librosa's options one by one after the parameter dicts.
#![allow(clippy::too_many_arguments)]

use std::path::PathBuf;

use melspec::inverse::InversionOptions;
use melspec::{
    AnalysisParams, Complex32, Istft, MelBasis, MelNorm, MelParams, MelSpectrogram, PadMode, Stft,
    StftParams, Window,
};
use ndarray::{Array2, Array3, ArrayView, ArrayView2, Axis, RemoveAxis};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

mod model;
mod train;

/// A melspec error as the Python exception a librosa user expects.
pub(crate) fn to_py(e: melspec::Error) -> PyErr {
    match e {
        melspec::Error::Io { .. } | melspec::Error::Decode { .. } | melspec::Error::Npy { .. } => {
            PyOSError::new_err(e.to_string())
        }
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Parse a melspec name (window, padding, norm) into its type, as a `ValueError` when unknown.
fn parse<T: std::str::FromStr<Err = melspec::Error>>(s: &str) -> PyResult<T> {
    s.parse().map_err(to_py)
}

/// STFT parameters as the Python side binds them: a dict with librosa's names (lengths in
/// samples; `window` and `pad_mode` by name).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Framing {
    n_fft: usize,
    hop_length: usize,
    win_length: usize,
    window: String,
    center: bool,
    pad_mode: String,
}

impl Framing {
    /// The STFT parameters, validated.
    fn params(&self) -> PyResult<StftParams> {
        let params = StftParams {
            n_fft: self.n_fft,
            hop_length: self.hop_length,
            win_length: self.win_length,
            window: parse::<Window>(&self.window)?,
            center: self.center,
            pad_mode: parse::<PadMode>(&self.pad_mode)?,
        };
        params.validate().map_err(to_py)?;
        Ok(params)
    }
}

/// Mel filterbank parameters as the Python side binds them: a dict with librosa's names
/// (frequencies in Hz, `fmax` resolved, `norm` by name).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Filterbank {
    sr: f64,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
    htk: bool,
    norm: String,
}

impl Filterbank {
    /// The filterbank parameters, validated.
    fn params(&self) -> PyResult<MelParams> {
        let params = MelParams {
            sr: self.sr,
            n_fft: self.n_fft,
            n_mels: self.n_mels,
            fmin: self.fmin,
            fmax: self.fmax,
            htk: self.htk,
            norm: parse::<MelNorm>(&self.norm)?,
        };
        params.validate().map_err(to_py)?;
        Ok(params)
    }
}

/// The whole analysis of `framing`, `filterbank` and `power` (a whole sample rate), validated.
fn analysis(framing: &Framing, filterbank: &Filterbank, power: f32) -> PyResult<AnalysisParams> {
    let sr = filterbank.sr;
    if sr.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&sr) {
        return Err(PyValueError::new_err(format!(
            "sr={sr}: must be a positive whole number of Hz"
        )));
    }
    let (stft, mel) = (framing.params()?, filterbank.params()?);
    let params = AnalysisParams {
        sr: sr as u32,
        stft,
        n_mels: mel.n_mels,
        fmin: mel.fmin,
        fmax: Some(mel.fmax),
        htk: mel.htk,
        norm: mel.norm,
        power,
    };
    params.validate().map_err(to_py)?;
    Ok(params)
}

/// `f` on every item (index along the first axis) of `batch`, in parallel, in order.
fn par_items<A: Sync, D: RemoveAxis, R: Send>(
    batch: ArrayView<A, D>,
    f: impl Fn(ArrayView<A, D::Smaller>) -> melspec::Result<R> + Sync,
) -> melspec::Result<Vec<R>> {
    (0..batch.len_of(Axis(0)))
        .into_par_iter()
        .map(|i| f(batch.index_axis(Axis(0), i)))
        .collect()
}

/// `f` on every signal (row) of `batch` `(items, n)`, the results stacked into
/// `(items, rows, cols)`.
fn map_signals<T: Clone + Send>(
    batch: ArrayView2<f32>,
    f: impl Fn(&[f32]) -> melspec::Result<Array2<T>> + Sync,
) -> melspec::Result<Array3<T>> {
    stack_items(par_items(batch, |row| match row.as_slice() {
        Some(s) => f(s),
        None => f(&row.to_vec()),
    })?)
}

/// Equally shaped 2-D results as `(items, rows, cols)`.
fn stack_items<T: Clone>(items: Vec<Array2<T>>) -> melspec::Result<Array3<T>> {
    let views: Vec<_> = items.iter().map(|a| a.view()).collect();
    ndarray::stack(Axis(0), &views).map_err(|e| melspec::Error::InvalidInput(e.to_string()))
}

/// Signals of equal length as `(items, length)`.
fn stack_signals(items: Vec<Vec<f32>>) -> melspec::Result<Array2<f32>> {
    let n = items.first().map_or(0, Vec::len);
    Array2::from_shape_vec((items.len(), n), items.concat())
        .map_err(|e| melspec::Error::InvalidInput(e.to_string()))
}

/// Mel spectrograms `(items, n_mels, frames)` of the signals `y` `(items, n)`.
#[pyfunction]
fn melspectrogram<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f32>,
    framing: Framing,
    filterbank: Filterbank,
    power: f32,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let plan =
        MelSpectrogram::new(framing.params()?, filterbank.params()?, power).map_err(to_py)?;
    let y = y.as_array();
    let out = py
        .detach(|| map_signals(y, |s| plan.process(s)))
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// Mel filterbank applied to power spectrograms `s` `(items, n_fft/2 + 1, frames)`, giving
/// `(items, n_mels, frames)`.
#[pyfunction]
fn mel_apply<'py>(
    py: Python<'py>,
    s: PyReadonlyArray3<'py, f32>,
    filterbank: Filterbank,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let basis = MelBasis::new(filterbank.params()?).map_err(to_py)?;
    let s = s.as_array();
    let out = py
        .detach(|| stack_items(par_items(s, |item| basis.apply(item))?))
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// The mel filterbank `(n_mels, n_fft/2 + 1)`.
#[pyfunction]
fn mel_filters<'py>(
    py: Python<'py>,
    filterbank: Filterbank,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let basis = MelBasis::new(filterbank.params()?).map_err(to_py)?;
    Ok(basis.to_dense().into_pyarray(py))
}

/// Complex STFTs `(items, n_fft/2 + 1, frames)` of the signals `y` `(items, n)`.
#[pyfunction]
fn stft<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f32>,
    framing: Framing,
) -> PyResult<Bound<'py, PyArray3<Complex32>>> {
    let plan = Stft::new(framing.params()?).map_err(to_py)?;
    let y = y.as_array();
    let out = py
        .detach(|| {
            // One allocation for the batch, each item written in place (an STFT is large).
            let n_frames = plan.params().n_frames(y.ncols())?;
            let mut out = Array3::zeros((y.nrows(), plan.params().n_bins(), n_frames));
            for (row, item) in y.outer_iter().zip(out.outer_iter_mut()) {
                match row.as_slice() {
                    Some(s) => plan.process_into(s, item),
                    None => plan.process_into(&row.to_vec(), item),
                }?;
            }
            Ok(out)
        })
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// Signals `(items, length)` from complex STFTs `(items, n_fft/2 + 1, frames)`; `length`
/// defaults to the iSTFT's natural length.
#[pyfunction]
fn istft<'py>(
    py: Python<'py>,
    s: PyReadonlyArray3<'py, Complex32>,
    framing: Framing,
    length: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let plan = Istft::new(framing.params()?).map_err(to_py)?;
    let s = s.as_array();
    let out = py
        .detach(|| stack_signals(par_items(s, |item| plan.process(item, length))?))
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// Audio from mel spectrograms `m` `(items, n_mels, frames)` of `|X|^power`, by melspec's
/// chain: NNLS mel inversion, the phase method `phase` (Griffin–Lim iterations `n_iter`,
/// melspec's default for the method when `None`), then `refine` signal-domain refinement
/// iterations. Returns `(items, length)`.
#[pyfunction]
fn mel_to_audio<'py>(
    py: Python<'py>,
    m: PyReadonlyArray3<'py, f32>,
    framing: Framing,
    filterbank: Filterbank,
    power: f32,
    phase: &str,
    n_iter: Option<usize>,
    momentum: f32,
    refine: usize,
    length: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let m = m.as_array();
    let params = analysis(&framing, &filterbank, power)?;
    let mut opts = InversionOptions::default();
    opts.phase.method = parse(phase)?;
    opts.phase.n_iter = n_iter.unwrap_or(opts.phase.method.default_iterations());
    opts.phase.momentum = momentum;
    opts.refine.n_iter = refine;
    let out = py
        .detach(|| {
            stack_signals(par_items(m, |item| {
                melspec::inverse::mel_to_audio(item, &params, &opts, length, &mut |_, _| {})
            })?)
        })
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// Phase retrieval: signals `(items, length)` whose STFT magnitudes approach `s`
/// `(items, n_fft/2 + 1, frames)`, by `method` (`gla`, `fgla`, `pghi`, `pghi+fgla`, `lws`,
/// `lws+fgla`) with `n_iter` Griffin–Lim iterations from the initial phase `init` (`random`
/// from `seed`, or `zero`).
#[pyfunction]
fn reconstruct<'py>(
    py: Python<'py>,
    s: PyReadonlyArray3<'py, f32>,
    framing: Framing,
    method: &str,
    n_iter: usize,
    momentum: f32,
    init: &str,
    seed: u64,
    length: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let params = framing.params()?;
    let opts = melspec::phase::PhaseOptions {
        method: parse(method)?,
        n_iter,
        momentum,
        seed,
        init: parse(init)?,
        ..Default::default()
    };
    let s = s.as_array();
    let out = py
        .detach(|| {
            stack_signals(par_items(s, |item| {
                melspec::phase::reconstruct(item, &params, &opts, None, length, &mut |_, _| {})
            })?)
        })
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// STFT magnitudes `(items, n_fft/2 + 1, frames)` from mel spectrograms `m`
/// `(items, n_mels, frames)` of `|X|^power`, by non-negative least squares.
#[pyfunction]
fn mel_to_stft<'py>(
    py: Python<'py>,
    m: PyReadonlyArray3<'py, f32>,
    filterbank: Filterbank,
    power: f32,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let m = m.as_array();
    let basis = MelBasis::new(filterbank.params()?).map_err(to_py)?;
    let opts = InversionOptions::default();
    let out = py
        .detach(|| {
            stack_items(par_items(m, |item| {
                melspec::inverse::mel_to_magnitude(&basis, item, power, &opts)
            })?)
        })
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// Spectral convergence (dB) of the magnitude `estimate` against `target`, both
/// `(bins, frames)`; with `log_spectral`, the log-spectral distance (dB) instead.
#[pyfunction]
fn spectral_distance(
    target: PyReadonlyArray2<'_, f32>,
    estimate: PyReadonlyArray2<'_, f32>,
    log_spectral: bool,
) -> PyResult<f32> {
    let (t, e) = (target.as_array(), estimate.as_array());
    if log_spectral {
        melspec::metrics::log_spectral_distance_db(t, e)
    } else {
        melspec::metrics::spectral_convergence_db(t, e)
    }
    .map_err(to_py)
}

/// A prepared dataset (`melnet prepare`) as numbered windows of one split.
#[pyclass(module = "melnet._melnet")]
struct Windows {
    dataset: melnet_data::dataset::Dataset,
    index: melnet_data::dataset::WindowIndex,
    norm: melnet_data::dataset::Normalization,
}

#[pymethods]
impl Windows {
    /// Open `path` and number the windows of `frames` frames of `split` (`train` or `valid`)
    /// that start every `hop` frames of each item; items shorter than `frames` are skipped,
    /// or with `pad` padded with the corpus minimum.
    #[new]
    fn new(
        path: PathBuf,
        frames: usize,
        split: &str,
        normalization: &str,
        hop: usize,
        pad: bool,
    ) -> PyResult<Self> {
        let split = match split {
            "train" => melnet_data::dataset::Split::Train,
            "valid" => melnet_data::dataset::Split::Valid,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "split={split:?}: expected 'train' or 'valid'"
                )))
            }
        };
        let dataset = melnet_data::dataset::Dataset::open(&path).map_err(to_py)?;
        let index = dataset
            .window_index(split, frames, hop, pad)
            .map_err(to_py)?;
        Ok(Windows {
            dataset,
            index,
            norm: parse(normalization)?,
        })
    }

    fn __len__(&self) -> usize {
        self.index.len() as usize
    }

    /// Window `i` as `(n_mels, frames)`, normalised.
    fn window<'py>(&self, py: Python<'py>, i: u64) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n_mels = self.dataset.manifest().n_mels;
        let mut out = vec![0.0f32; self.index.n_frames() * n_mels];
        py.detach(|| {
            self.dataset
                .read_window(&self.index, i, self.norm, &mut out)
        })
        .map_err(to_py)?;
        let time_major = Array2::from_shape_vec((self.index.n_frames(), n_mels), out)
            .expect("the window holds frames × n_mels values");
        Ok(time_major
            .reversed_axes()
            .as_standard_layout()
            .into_owned()
            .into_pyarray(py))
    }

    /// The label of window `i`'s item (`dim` values; a category's class index), or `None`
    /// when the dataset has no labels.
    fn label<'py>(&self, py: Python<'py>, i: u64) -> PyResult<Option<Bound<'py, PyArray1<f32>>>> {
        let item = self
            .index
            .item(i)
            .ok_or_else(|| PyValueError::new_err(format!("window {i} of {}", self.index.len())))?;
        Ok(self
            .dataset
            .label(item)
            .map(|l| l.to_owned().into_pyarray(py)))
    }

    /// The dataset's label description (`manifest.json`'s `labels`) as JSON (`null` without).
    fn labels_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.dataset.manifest().labels)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The training split's statistics (`manifest.json`'s `stats`) as JSON.
    fn stats_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.dataset.manifest().stats)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The analysis parameters of the dataset as JSON.
    fn params_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.dataset.manifest().params)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// Decode an audio file to mono float32, resampled to `sr` Hz unless `None`; returns
/// `(samples, sr)`.
#[pyfunction]
fn load(
    py: Python<'_>,
    path: PathBuf,
    sr: Option<u32>,
) -> PyResult<(Bound<'_, PyArray1<f32>>, u32)> {
    let audio = py
        .detach(|| {
            let audio = melspec::audio::load(&path)?;
            match sr {
                Some(sr) => audio.resampled(sr),
                None => Ok(audio),
            }
        })
        .map_err(to_py)?;
    Ok((audio.samples.into_pyarray(py), audio.sr))
}

/// `librosa.power_to_db` (or `amplitude_to_db` with `amplitude`) of `s`, any shape, against a
/// fixed reference value.
#[pyfunction]
fn to_db<'py>(
    py: Python<'py>,
    s: numpy::PyReadonlyArrayDyn<'py, f32>,
    reference: f32,
    amin: f32,
    top_db: Option<f32>,
    amplitude: bool,
) -> PyResult<Bound<'py, numpy::PyArrayDyn<f32>>> {
    let mut out = s.as_array().as_standard_layout().into_owned();
    let values = out.as_slice_mut().expect("standard layout");
    let reference = melspec::DbRef::Value(reference);
    py.detach(|| {
        if amplitude {
            melspec::db::amplitude_to_db(values, reference, amin, top_db)
        } else {
            melspec::db::power_to_db(values, reference, amin, top_db)
        }
    })
    .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// `librosa.db_to_power` (or `db_to_amplitude` with `amplitude`) of `s`, any shape.
#[pyfunction]
fn from_db<'py>(
    py: Python<'py>,
    s: numpy::PyReadonlyArrayDyn<'py, f32>,
    reference: f32,
    amplitude: bool,
) -> PyResult<Bound<'py, numpy::PyArrayDyn<f32>>> {
    let mut out = s.as_array().as_standard_layout().into_owned();
    let values = out.as_slice_mut().expect("standard layout");
    if amplitude {
        melspec::db::db_to_amplitude(values, reference);
    } else {
        melspec::db::db_to_power(values, reference);
    }
    Ok(out.into_pyarray(py))
}

/// The extension module.
/// DX7 voices of a bank file (bulk or single-voice SysEx, raw packed voices) as unpacked
/// parameters `(voices, 155)` uint8; the names of voices skipped for an out-of-range field come
/// back as the second element with the reason.
#[pyfunction]
fn dx7_load_bank(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(Bound<'_, PyArray2<u8>>, Vec<String>)> {
    let bytes =
        std::fs::read(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
    let parsed = dx7::bank::parse_each(&bytes)
        .map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))?;
    let mut voices = Vec::new();
    let mut skipped = Vec::new();
    for v in parsed {
        match v {
            Ok(v) => voices.extend_from_slice(v.unpacked()),
            Err(e) => skipped.push(e.to_string()),
        }
    }
    let n = voices.len() / dx7::voice::UNPACKED_LEN;
    let array = Array2::from_shape_vec((n, dx7::voice::UNPACKED_LEN), voices)
        .expect("whole voices of 155 bytes");
    Ok((array.into_pyarray(py), skipped))
}

/// One note of each voice in `voices` (`(n, 155)` uint8, unpacked parameters) → `(n, samples)`
/// float32, voices rendered in parallel without the GIL.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dx7_render<'py>(
    py: Python<'py>,
    voices: PyReadonlyArray2<'py, u8>,
    note: u8,
    velocity: u8,
    note_seconds: f64,
    seconds: f64,
    sr: f64,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let settings = dx7::RenderSettings {
        note,
        velocity,
        note_seconds,
        seconds,
        sr,
    };
    settings
        .validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let voices = voices.as_array();
    let parsed = voices
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, row)| dx7::Voice::from_unpacked(&row.to_vec(), i + 1))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let samples = settings.samples();
    melspec::limits::ensure_array("rendered notes", &[parsed.len(), samples], 4).map_err(to_py)?;
    let rows = py
        .detach(|| {
            parsed
                .par_iter()
                .map(|v| dx7::render(v, &settings))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    Ok(Array2::from_shape_vec((parsed.len(), samples), flat)
        .expect("every voice renders the same length")
        .into_pyarray(py))
}

/// The 155 voice parameters as JSON: name, max and whether learnable.
#[pyfunction]
fn dx7_params_json() -> String {
    let params: Vec<serde_json::Value> = dx7::voice::params()
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "max": p.max, "learnable": p.learnable}))
        .collect();
    serde_json::Value::Array(params).to_string()
}

#[pymodule]
fn _melnet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(model::default_model_dir, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(melspectrogram, m)?)?;
    m.add_function(wrap_pyfunction!(mel_apply, m)?)?;
    m.add_function(wrap_pyfunction!(mel_filters, m)?)?;
    m.add_function(wrap_pyfunction!(stft, m)?)?;
    m.add_function(wrap_pyfunction!(istft, m)?)?;
    m.add_function(wrap_pyfunction!(mel_to_audio, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(to_db, m)?)?;
    m.add_function(wrap_pyfunction!(from_db, m)?)?;
    m.add_function(wrap_pyfunction!(reconstruct, m)?)?;
    m.add_function(wrap_pyfunction!(mel_to_stft, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_distance, m)?)?;
    m.add_function(wrap_pyfunction!(dx7_load_bank, m)?)?;
    m.add_function(wrap_pyfunction!(dx7_render, m)?)?;
    m.add_function(wrap_pyfunction!(dx7_params_json, m)?)?;
    m.add_class::<Windows>()?;
    Ok(())
}
