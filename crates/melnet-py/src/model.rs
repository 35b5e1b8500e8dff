//! A trained MelNet model in Python (`melnet.Model`): open a model directory made by `melnet
//! train` and, for a text model, say a text (`melnet.say`). Errors of the model's inputs are
//! `ValueError`, of its files `OSError`, of its computation `RuntimeError`.

use std::path::PathBuf;

use melspec::inverse::InversionOptions;
use ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// A melnet error as a Python exception.
pub(crate) fn to_py(e: melnet::Error) -> PyErr {
    match e {
        melnet::Error::InvalidConfig { .. }
        | melnet::Error::Shape { .. }
        | melnet::Error::Invalid(_) => PyValueError::new_err(e.to_string()),
        melnet::Error::File { .. } | melnet::Error::Checkpoint(_) => {
            PyOSError::new_err(e.to_string())
        }
        melnet::Error::Melspec(e) => crate::to_py(e),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The English model shipped in the repository this package was built from
/// (`models/tts-en`).
#[pyfunction]
pub fn default_model_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tts-en"))
}

/// A model directory and its trained tiers, loaded once.
#[pyclass(name = "Model", module = "melnet._melnet", frozen)]
pub struct Model {
    model: melnet::Model,
    tiers: Vec<melnet::Tier>,
}

impl Model {
    /// A generated spectrogram (time-major, the model's normalised scale) in the dataset's
    /// scale `(n_mels, frames)` and its audio `(samples,)` by melspec's default inversion with
    /// the initial phase from `seed`, as `melnet sample` and `melnet say` write them.
    fn heard(&self, time_major: &[f32], seed: u64) -> melnet::Result<(Array2<f32>, Vec<f32>)> {
        let (mel, scale) = self.model.to_dataset_scale(time_major);
        let audio =
            self.model
                .to_audio(&mel, scale, &InversionOptions::seeded(seed), &mut |_, _| {})?;
        Ok((mel, audio))
    }
}

#[pymethods]
impl Model {
    /// Open the model directory `path` and load every tier's latest checkpoint.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| {
            let model = melnet::Model::open(&path)?;
            let tiers = model.load_tiers()?;
            Ok(Model { model, tiers })
        })
        .map_err(to_py)
    }

    /// `model.json` as JSON text (analysis parameters, tiers, labels, the text alphabet).
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(self.model.config())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Say `text` as `speaker` (`None`: the model's first label): the audio `(samples,)` at the
    /// model's rate (peak 0.99, melspec's default inversion), the spectrogram `(n_mels,
    /// frames)` in the dataset's scale (dB for a dB model), the attention window `(chars,
    /// tier-1 frames)` over the said frames, and whether the text ended within `max_seconds`.
    #[allow(clippy::type_complexity)]
    fn say<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        speaker: Option<&str>,
        max_seconds: f64,
        bias: f32,
        seed: u64,
    ) -> PyResult<(
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray2<f32>>,
        bool,
    )> {
        if !bias.is_finite() || bias < 0.0 {
            return Err(PyValueError::new_err(format!("bias={bias}: must be ≥ 0")));
        }
        let (audio, mel, window, ended) = py
            .detach(|| -> melnet::Result<_> {
                let max_frames = self.model.frames_for("max_seconds", max_seconds)?;
                let speech = self.model.say(
                    &self.tiers,
                    text,
                    speaker,
                    melnet::SayOptions {
                        max_frames,
                        bias,
                        seed,
                    },
                    |_, _, _| {},
                )?;
                let (mel, audio) = self.heard(speech.time_major(), seed)?;
                let window =
                    speech
                        .generated
                        .attention(0, 1, speech.text.chars().count(), speech.frames);
                let ended = speech.ended();
                Ok((audio, mel, window, ended))
            })
            .map_err(to_py)?;
        Ok((
            audio.into_pyarray(py),
            mel.into_pyarray(py),
            window.into_pyarray(py),
            ended,
        ))
    }

    /// Draw `count` spectrograms of `seconds` (after the prime, the
    /// first `prime_seconds` of the recording or spectrogram file `prime`), conditioned on
    /// `label` and `text` where the model is, as `melnet sample` does with the same seed: each
    /// spectrogram `(n_mels, frames)` in the dataset's scale (the prime first; a text model's
    /// cut where its text ended) and its audio `(samples,)`.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        seconds: f64,
        count: usize,
        label: Option<&str>,
        text: Option<&str>,
        bias: f32,
        seed: u64,
        prime: Option<PathBuf>,
        prime_seconds: f64,
    ) -> PyResult<Vec<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>)>> {
        let drawn = py
            .detach(|| -> melnet::Result<_> {
                let prime = match &prime {
                    Some(path) => Some(self.model.read_spectrogram(path, prime_seconds)?),
                    None => None,
                };
                let request = melnet::SampleRequest {
                    frames: self.model.frames_for("seconds", seconds)?,
                    count,
                    prime: prime.as_ref(),
                    label,
                    text,
                    bias,
                    seed,
                };
                let samples = self.model.sample(&self.tiers, &request, |_, _, _| {})?;
                (0..samples.count)
                    .map(|i| self.heard(samples.time_major(i), seed))
                    .collect::<melnet::Result<Vec<_>>>()
            })
            .map_err(to_py)?;
        Ok(drawn
            .into_iter()
            .map(|(mel, audio)| (mel.into_pyarray(py), audio.into_pyarray(py)))
            .collect())
    }

    /// The NLL of the spectrogram `s` `(n_mels, frames)` in the dataset's scale (as `melnet
    /// eval --input` scores it) given `label` and `text` where the model is conditioned on
    /// them: each tier's and the full resolution's mean, nats per element, and the
    /// per-element NLL `(n_mels, frames)`.
    #[allow(clippy::type_complexity)]
    fn nll<'py>(
        &self,
        py: Python<'py>,
        s: PyReadonlyArray2<'py, f32>,
        label: Option<&str>,
        text: Option<&str>,
    ) -> PyResult<(Vec<f64>, f64, Bound<'py, PyArray2<f32>>)> {
        let s = s.as_array();
        let n_mels = self.model.config().n_mels;
        if s.nrows() != n_mels || s.ncols() == 0 {
            return Err(PyValueError::new_err(format!(
                "S has shape {:?}; the model has {n_mels} mels (give (n_mels, frames))",
                s.shape()
            )));
        }
        if let Some(v) = s.iter().find(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "S holds a non-finite value ({v})"
            )));
        }
        let mut x = s.t().as_standard_layout().into_owned();
        let (nll, map) = py
            .detach(|| -> melnet::Result<_> {
                let frames = x.nrows();
                let values = x.as_slice_mut().expect("standard layout");
                self.model.normalize(values);
                let conditions = self.model.conditions(label, text, 1)?;
                self.model
                    .nll(&self.tiers, values, 1, frames, &conditions, None)
            })
            .map_err(to_py)?;
        let frames = s.ncols();
        let map = ndarray::Array2::from_shape_vec((frames, n_mels), map)
            .expect("one value per element")
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        Ok((nll.tiers, nll.full, map.into_pyarray(py)))
    }
}
