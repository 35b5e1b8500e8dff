//! A trained MelNet model in Python (`melnet.Model`): open a model directory made by `melnet
//! train` and, for a text model, say a text (`melnet.say`). Errors of the model's inputs are
//! `ValueError`, of its files `OSError`, of its computation `RuntimeError`.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// A melnet error as a Python exception.
fn to_py(e: melnet::Error) -> PyErr {
    match e {
        melnet::Error::InvalidConfig { .. } | melnet::Error::Shape { .. } => {
            PyValueError::new_err(e.to_string())
        }
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
    /// tier-1 frames)` and whether the text ended within `max_frames` full-resolution frames.
    #[allow(clippy::type_complexity)]
    fn say<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        speaker: Option<&str>,
        max_frames: usize,
        bias: f32,
        seed: u64,
    ) -> PyResult<(
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray2<f32>>,
        bool,
    )> {
        if !bias.is_finite() || bias < 0.0 {
            return Err(PyValueError::new_err(format!(
                "temperature={bias}: must be ≥ 0"
            )));
        }
        let (audio, mel, window, ended) = py
            .detach(|| -> melnet::Result<_> {
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
                let (mel, scale) = self.model.to_dataset_scale(speech.time_major());
                let options = melspec::inverse::InversionOptions {
                    phase: melspec::phase::PhaseOptions {
                        seed,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let audio = self.model.to_audio(&mel, scale, &options, &mut |_, _| {})?;
                let (phi, chars) = &speech.generated.alignment;
                let frames_1 = phi.len() / (*chars).max(1);
                let len = speech.text.chars().count().min(*chars);
                let window =
                    ndarray::Array2::from_shape_fn((len, frames_1), |(u, t)| phi[t * chars + u]);
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
}
