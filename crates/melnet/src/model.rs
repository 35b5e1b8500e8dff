//! A model directory (DESIGN.md §5 "A model"): `model.json` — format version, the number of
//! tiers G, the full-resolution geometry, the dataset's analysis parameters, scale and
//! normalisation statistics — and one directory `tier-g` per tier with its checkpoints
//! ([`crate::checkpoint`]) and `log.csv`. This module owns the whole directory and the
//! steps from a trained model to audio: tiered sampling in the dataset's scale
//! ([`Model::generate`]), evaluation ([`Model::nll`]) and post-processing
//! ([`Model::to_audio`]).
//!
//! Spectrograms here are time-major `[count, frames, bins]` at full resolution, in the model's
//! normalised scale unless a function says otherwise.

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use melnet_data::dataset::{CorpusStats, Dataset, Levels, Normalization, Transcripts, DB_FLOOR};
use melspec::AnalysisParams;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{io, read_json, write_atomic};
use crate::config::{FeatureConfig, TextConfig, TierConfig};
use crate::error::{Error, Result};
use crate::generate::{generate, Generated};
use crate::multiscale::{assemble, split_tiers, tier_shapes, Axis, Grid, TierShape};
use crate::sample::SampleOptions;
use crate::text::{Alphabet, Text};
use crate::tier::{Conditions, Context, Tier};

/// Version of the `model.json` format.
pub const MODEL_FORMAT: u32 = 1;
/// The model file of a model directory.
pub const MODEL_FILE: &str = "model.json";
/// The per-tier training log of a tier directory: `step,train_nll,valid_nll` (nats/element).
pub const LOG_FILE: &str = "log.csv";

/// The model-level configuration, `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// [`MODEL_FORMAT`].
    pub format: u32,
    /// Number of tiers G (1 = a single full-resolution tier).
    pub tiers: usize,
    /// Full-resolution bins (the dataset's mel bands).
    pub n_mels: usize,
    /// Full-resolution training window, frames (each tier's window is its split).
    pub frames: usize,
    /// The dataset's analysis parameters.
    pub params: AnalysisParams,
    /// Values are dB (per-item reference max, 80 dB range) as `melnet prepare --db` writes.
    pub db: bool,
    /// How the model's inputs are normalised.
    pub normalization: Normalization,
    /// The training split's statistics (normalisation, and the range draws are clamped to).
    pub stats: CorpusStats,
    /// The dataset trained on, as given.
    pub dataset: PathBuf,
    /// Class names of a label-conditioned model (index i is class i); every tier has their
    /// embeddings.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// A text-conditioned model's characters and transcripts; tier 1 has the text encoder and
    /// attention.
    #[serde(default)]
    pub text: Option<ModelText>,
}

impl ModelConfig {
    /// The configuration of a new, unconditioned model of `tiers` tiers and `frames`-frame
    /// windows for the dataset `ds`: its geometry, analysis, scale and train-split statistics,
    /// standardised inputs (set `labels` / `text` for a conditioned one).
    pub fn for_dataset(ds: &Dataset, tiers: usize, frames: usize) -> Self {
        let m = ds.manifest();
        ModelConfig {
            format: MODEL_FORMAT,
            tiers,
            n_mels: m.n_mels,
            frames,
            params: m.params,
            db: m.settings.db,
            normalization: Normalization::Standard,
            stats: m.stats.clone(),
            dataset: ds.dir().to_path_buf(),
            labels: None,
            text: None,
        }
    }
}

/// The text of a text-conditioned model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelText {
    /// The characters the model knows, in id order.
    pub alphabet: Alphabet,
    /// The transcripts trained on (LJSpeech `metadata.csv`), absolute (so a resumed run finds
    /// them from anywhere).
    pub transcripts: PathBuf,
}

impl ModelText {
    /// The full-resolution window a text model of `ds` trains on unless told otherwise, frames:
    /// its longest train recording, so that every window holds a whole recording and the end
    /// of its text (batches are cut to their longest item, so shorter ones cost no more).
    pub fn window_frames(ds: &Dataset) -> usize {
        ds.longest_item(Some(melnet_data::dataset::Split::Train))
    }

    /// The text of a model trained on the items of `ds` with the transcripts at `path`: the
    /// alphabet of the transcripts of its items.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when no item has a transcript; transcript read errors.
    pub fn new(path: &Path, ds: &Dataset) -> Result<Self> {
        let table = Transcripts::read(path)?;
        let said: Vec<&str> = ds
            .manifest()
            .items
            .iter()
            .filter_map(|i| table.get(&i.path))
            .collect();
        if said.is_empty() {
            return Err(Error::InvalidConfig {
                name: "text",
                value: path.display().to_string(),
                reason: format!(
                    "no item of {} has a transcript (ids are file names without extension)",
                    ds.dir().display()
                ),
            });
        }
        Ok(ModelText {
            alphabet: Alphabet::of(said),
            transcripts: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        })
    }
}

/// The layers of one tier, as `melnet train` asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierSpec {
    /// Layers L.
    pub layers: usize,
    /// Hidden width D.
    pub width: usize,
    /// Mixture components K.
    pub n_mixtures: usize,
    /// Use the centralized stack (`None`: tier 1 only, as the paper).
    pub centralized: Option<bool>,
    /// Layers of an upper tier's feature network.
    pub feature_layers: usize,
    /// Score values at a dB dataset's floor as censored observations ([`Model::floors`]).
    pub censored: bool,
    /// Logistic components of a text tier's attention window.
    pub attention_mixtures: usize,
}

impl TierSpec {
    /// Check the values (as a tier built from them would).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        let one = Grid { frames: 1, bins: 1 };
        self.tier_config(&TierShape {
            tier: 2,
            grid: one,
            conditioning: Some((Axis::Time, one)),
        })
        .map(|_| ())
    }

    /// Approximate peak memory, bytes, of training a tier with these layers on windows of
    /// `frames` × `n_mels` values, `batch` at a time: parameters with their gradients and two
    /// optimiser states (16 bytes each; about 45·D² per layer for the five LSTMs and
    /// projections of the stacks), and the activations autograd keeps (about 300 bytes per
    /// value, hidden unit and layer, measured on `melnet train` runs of width 32–128, 1–4
    /// layers). An upper tier models at most as many values as the full resolution, so this
    /// bounds every tier of a model.
    pub fn training_memory(&self, n_mels: usize, frames: usize, batch: usize) -> f64 {
        let d = self.width as f64;
        let layers = (self.layers + self.feature_layers) as f64;
        let parameters = layers * 45.0 * d * d + d * (3.0 * self.n_mixtures as f64 + n_mels as f64);
        let values = (batch * frames) as f64 * n_mels as f64;
        parameters * 16.0 + values * d * (layers + 1.0) * 300.0
    }

    /// Refuse to train these layers when [`TierSpec::training_memory`] exceeds the memory
    /// budget ([`melspec::limits::memory_limit`]).
    ///
    /// # Errors
    /// [`Error::Melspec`] with [`melspec::Error::TooLarge`] and the estimate.
    pub fn check_training_memory(&self, n_mels: usize, frames: usize, batch: usize) -> Result<()> {
        let what = format!(
            "training {} layers of width {} on {batch} windows of {frames} frames × {n_mels} bins",
            self.layers, self.width
        );
        melspec::limits::ensure_memory(what, self.training_memory(n_mels, frames, batch))?;
        Ok(())
    }

    /// The configuration of a tier of `shape` with these layers: its bins, and for an upper
    /// tier its split axis and feature network; the centralized stack in tier 1 only unless
    /// [`TierSpec::centralized`] says otherwise. Without a floor: [`Model::tier_config`] adds
    /// the data's.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for invalid layers.
    pub fn tier_config(&self, shape: &TierShape) -> Result<TierConfig> {
        let config = TierConfig {
            n_mels: shape.grid.bins,
            layers: self.layers,
            width: self.width,
            n_mixtures: self.n_mixtures,
            centralized: self.centralized.unwrap_or(shape.tier == 1),
            conditioning: shape.conditioning.map(|(axis, _)| FeatureConfig {
                axis,
                layers: self.feature_layers,
            }),
            ..TierConfig::small(shape.grid.bins)
        };
        config.validate()?;
        Ok(config)
    }
}

/// The tier settings a TOML file may hold (`melnet train --config`); each one given replaces
/// the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierFile {
    /// Layers L.
    pub layers: Option<usize>,
    /// Hidden width D.
    pub width: Option<usize>,
    /// Mixture components K.
    pub n_mixtures: Option<usize>,
    /// The centralized stack.
    pub centralized: Option<bool>,
    /// Layers of an upper tier's feature network.
    pub feature_layers: Option<usize>,
    /// Censored scoring at the floor.
    pub censored: Option<bool>,
    /// Logistic components of a text tier's attention window.
    pub attention_mixtures: Option<usize>,
}

impl TierFile {
    /// Parse TOML text (`path` names it in errors).
    ///
    /// # Errors
    /// [`Error::File`] with the parser's one-line message (an unknown key, a wrong type).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::File {
            path: path.to_owned(),
            reason: e.message().to_string(),
        })
    }

    /// `base` with the settings given here replacing its own.
    pub fn over(&self, base: TierSpec) -> TierSpec {
        TierSpec {
            layers: self.layers.unwrap_or(base.layers),
            width: self.width.unwrap_or(base.width),
            n_mixtures: self.n_mixtures.unwrap_or(base.n_mixtures),
            centralized: self.centralized.or(base.centralized),
            feature_layers: self.feature_layers.unwrap_or(base.feature_layers),
            censored: self.censored.unwrap_or(base.censored),
            attention_mixtures: self.attention_mixtures.unwrap_or(base.attention_mixtures),
        }
    }

    /// Read and parse the file at `path`.
    ///
    /// # Errors
    /// [`Error::File`] when it cannot be read or parsed.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::File {
            path: path.to_owned(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }
}

impl Default for TierSpec {
    /// [`TierConfig::small`]'s layers; one feature layer.
    fn default() -> Self {
        let small = TierConfig::small(1);
        TierSpec {
            layers: small.layers,
            width: small.width,
            n_mixtures: small.n_mixtures,
            centralized: None,
            feature_layers: 1,
            censored: true,
            attention_mixtures: 5,
        }
    }
}

/// An open model directory.
#[derive(Debug, Clone)]
pub struct Model {
    dir: PathBuf,
    config: ModelConfig,
}

/// Per-tier and full-resolution negative log-likelihood, nats per element.
#[derive(Debug, Clone, PartialEq)]
pub struct Nll {
    /// Mean over each tier's elements, index 0 is tier 1.
    pub tiers: Vec<f64>,
    /// Scored elements of each tier per spectrogram (on average, when padding is left out).
    pub elements: Vec<usize>,
    /// The sum of every tier's element NLLs over the full-resolution element count (exact for
    /// the multi-scale factorisation; comparable across G).
    pub full: f64,
}

impl Model {
    /// Create the model directory `dir` with `config` (refuses a directory that has a model).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an invalid config; [`Error::Checkpoint`] when a model
    /// exists or on I/O errors.
    pub fn create(dir: &Path, config: ModelConfig) -> Result<Self> {
        validate(&config)?;
        if dir.join(MODEL_FILE).exists() || legacy(dir) {
            return Err(Error::Checkpoint(format!(
                "{}: a model exists; resume it or use another directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let text = serde_json::to_vec_pretty(&config).expect("model config serialises");
        write_atomic(dir, MODEL_FILE, &text)?;
        Ok(Model {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// Open the model directory `dir`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when it is not a model directory (a single-tier run of melnet
    /// 0.1 is named as such), of another format, or broken.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join(MODEL_FILE).is_file() && legacy(dir) {
            return Err(Error::Checkpoint(format!(
                "{}: a single-tier run of melnet 0.1 (data.json, no model.json), which this \
                 version does not read; train it again with `melnet train --data DATASET --model \
                 NEW_DIR --tiers 1` (same options)",
                dir.display()
            )));
        }
        let config: ModelConfig = read_json(dir, MODEL_FILE)?;
        if config.format != MODEL_FORMAT {
            return Err(Error::Checkpoint(format!(
                "{}: model format {}, this version reads {MODEL_FORMAT}",
                dir.join(MODEL_FILE).display(),
                config.format
            )));
        }
        validate(&config).map_err(|e| Error::Checkpoint(format!("{}: {e}", dir.display())))?;
        Ok(Model {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The directory of tier `g` (1 … G).
    pub fn tier_dir(&self, g: usize) -> PathBuf {
        self.dir.join(format!("tier-{g}"))
    }

    /// The full-resolution grid of `frames` frames.
    pub fn grid(&self, frames: usize) -> Grid {
        Grid {
            frames,
            bins: self.config.n_mels,
        }
    }

    /// Every tier's shapes for a full-resolution spectrogram of `frames` frames.
    pub fn shapes(&self, frames: usize) -> Vec<TierShape> {
        tier_shapes(self.grid(frames), self.config.tiers)
    }

    /// The configuration of tier `g` with the layers `spec`: its bins, its split axis and
    /// feature network (g ≥ 2), the data's floor when `spec.censored`, the model's labels
    /// (every tier) and text (tier 1).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for g outside 1 … G or invalid layers.
    pub fn tier_config(&self, g: usize, spec: TierSpec) -> Result<TierConfig> {
        if g == 0 || g > self.config.tiers {
            return Err(Error::InvalidConfig {
                name: "tier",
                value: g.to_string(),
                reason: format!("the model has tiers 1 to {}", self.config.tiers),
            });
        }
        let mut config = spec.tier_config(&self.shapes(self.config.frames)[g - 1])?;
        if spec.censored {
            config.floor = self.floors().map(|mut f| f.swap_remove(g - 1));
        }
        config.labels = self.config.labels.as_ref().map_or(0, Vec::len);
        if g == 1 {
            config.text = self.config.text.as_ref().map(|t| TextConfig {
                alphabet: t.alphabet.len(),
                width: spec.width,
                mixtures: spec.attention_mixtures,
            });
        }
        config.validate()?;
        Ok(config)
    }

    /// The data's floor for every tier, one value per bin in the model's normalised scale: a
    /// dB dataset is clipped at `top_db` below each item's maximum, so
    /// [`melnet_data::dataset::DB_FLOOR`] is where quieter values were cut. `None` for a linear
    /// dataset.
    pub fn floors(&self) -> Option<Vec<Vec<f32>>> {
        if !self.config.db {
            return None;
        }
        // Enough frames for every time split to have a fine part.
        let full = self.grid(1 << self.config.tiers);
        let mut map = vec![DB_FLOOR; full.len()];
        self.normalize(&mut map);
        let shapes = tier_shapes(full, self.config.tiers);
        Some(
            split_tiers(&map, 1, full, self.config.tiers)
                .into_iter()
                .zip(shapes)
                .map(|(t, shape)| t.x[..shape.grid.bins].to_vec())
                .collect(),
        )
    }

    /// Every tier's current checkpoint, for inference.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when a tier is untrained, broken, or does not fit the model.
    pub fn load_tiers(&self) -> Result<Vec<Tier>> {
        (1..=self.config.tiers)
            .map(|g| {
                let dir = self.tier_dir(g);
                if !crate::checkpoint::exists(&dir) {
                    return Err(Error::Checkpoint(format!(
                        "{}: tier {g} has no checkpoint (train it with `melnet train --tier {g}`)",
                        dir.display()
                    )));
                }
                let tier = crate::checkpoint::load_tier(&dir)?;
                tier.check_shape(&self.shapes(self.config.frames)[g - 1])
                    .map_err(|e| Error::Checkpoint(format!("{}: {e}", dir.display())))?;
                Ok(tier)
            })
            .collect()
    }

    /// The conditions of `count` spectrograms with the class named `label` and the text `text`
    /// (each required exactly when the model is conditioned on it).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a label or character the model does not know, one it needs
    /// and was not given, or one given to a model without that conditioning.
    pub fn conditions(
        &self,
        label: Option<&str>,
        text: Option<&str>,
        count: usize,
    ) -> Result<Conditions> {
        let bad = |name, value: &str, reason: String| Error::InvalidConfig {
            name,
            value: value.into(),
            reason,
        };
        let labels = match (&self.config.labels, label) {
            (None, None) => None,
            (Some(classes), Some(name)) => {
                let class = classes.iter().position(|c| c == name).ok_or_else(|| {
                    bad(
                        "label",
                        name,
                        format!("is not one of the model's labels {classes:?}"),
                    )
                })?;
                Some(vec![class as u32; count])
            }
            (Some(classes), None) => {
                return Err(bad(
                    "label",
                    "none",
                    format!("the model is conditioned on labels; give one of {classes:?}"),
                ))
            }
            (None, Some(name)) => {
                return Err(bad("label", name, "the model has no labels".into()));
            }
        };
        let texts = match (&self.config.text, text) {
            (None, None) => None,
            (Some(t), Some(said)) => Some(vec![t.alphabet.encode(said)?; count]),
            (Some(_), None) => {
                return Err(bad(
                    "text",
                    "none",
                    "the model is conditioned on text; give the text to say".into(),
                ))
            }
            (None, Some(said)) => return Err(bad("text", said, "the model has no text".into())),
        };
        Ok(Conditions { labels, texts })
    }

    /// Normalise dataset-scale values in place, as the model's inputs.
    pub fn normalize(&self, values: &mut [f32]) {
        self.config
            .stats
            .normalize(self.config.normalization, values);
    }

    /// Undo [`Model::normalize`] in place and clamp to the training split's range.
    pub fn denormalize(&self, values: &mut [f32]) {
        let s = &self.config.stats;
        s.denormalize(self.config.normalization, values);
        values
            .iter_mut()
            .for_each(|v| *v = v.clamp(s.all.min, s.all.max));
    }

    /// Full-resolution frames that `seconds` of audio take (rounded up): what `--seconds`,
    /// `--max-seconds` and their Python keywords ask for.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (named `name`) unless `seconds` is positive and under a day.
    pub fn frames_for(&self, name: &'static str, seconds: f64) -> Result<usize> {
        if !(seconds.is_finite() && seconds > 0.0 && seconds < 86_400.0) {
            return Err(Error::InvalidConfig {
                name,
                value: seconds.to_string(),
                reason: "must be positive and under a day".into(),
            });
        }
        let p = &self.config.params;
        Ok((seconds * f64::from(p.sr) / p.stft.hop_length as f64).ceil() as usize)
    }

    /// The training split's range in the model's normalised scale (draws are clamped to it).
    pub fn range(&self) -> (f32, f32) {
        let s = &self.config.stats;
        let mut r = [s.all.min, s.all.max];
        s.normalize(self.config.normalization, &mut r);
        (r[0], r[1])
    }

    /// Per-tier and full-resolution NLL of `count` full-resolution spectrograms `x`
    /// `[count, frames, bins]` (normalised) given their `conditions`, with the per-element NLL
    /// at full resolution `[count, frames, bins]` (each element scored by the tier that models
    /// it). With `real`, only the first `real[i]` frames of spectrogram i count in the means
    /// (the rest is padding).
    ///
    /// # Errors
    /// Shape and candle errors.
    pub fn nll(
        &self,
        tiers: &[Tier],
        x: &[f32],
        count: usize,
        frames: usize,
        conditions: &Conditions,
        real: Option<&[usize]>,
    ) -> Result<(Nll, Vec<f32>)> {
        let full = self.grid(frames);
        if x.len() != count * full.len() || tiers.len() != self.config.tiers {
            return Err(Error::Shape {
                what: "scored spectrogram",
                expected: format!(
                    "[{count}, {frames}, {}] and {} tiers",
                    full.bins, self.config.tiers
                ),
                got: format!("{} values, {} tiers", x.len(), tiers.len()),
            });
        }
        let inputs = self.tier_inputs(x, count, frames, conditions)?;
        let all = vec![frames; count];
        let masks = self.tier_masks(real.unwrap_or(&all), frames)?;
        let mut maps = Vec::with_capacity(inputs.len());
        let (mut means, mut elements) = (Vec::new(), Vec::new());
        let (mut total, mut scored) = (0.0f64, 0usize);
        for ((tier, (xt, context)), mask) in tiers.iter().zip(&inputs).zip(&masks) {
            let map = tier
                .nll_elements(xt, context)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let mask = mask.flatten_all()?.to_vec1::<f32>()?;
            let sum: f64 = map
                .iter()
                .zip(&mask)
                .filter(|(_, &m)| m > 0.0)
                .map(|(&v, _)| f64::from(v))
                .sum();
            let n = mask.iter().filter(|&&m| m > 0.0).count();
            total += sum;
            scored += n;
            means.push(sum / n.max(1) as f64);
            elements.push(n / count.max(1));
            maps.push(map);
        }
        let nll = Nll {
            tiers: means,
            elements,
            full: total / scored.max(1) as f64,
        };
        Ok((nll, assemble(&maps, count, full)))
    }

    /// Every tier's teacher-forced inputs from `count` full-resolution spectrograms `x`
    /// `[count, frames, bins]` with their `conditions`: x^g `[count, frames, bins]` of the
    /// tier's grid and its [`Context`] (x^{<g}, labels, and text for tier 1), index 0 is
    /// tier 1.
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` is not `count · frames · bins` long or the conditions do not
    /// fit the model (missing, unexpected, another count, a class it does not have); candle
    /// errors.
    pub fn tier_inputs(
        &self,
        x: &[f32],
        count: usize,
        frames: usize,
        conditions: &Conditions,
    ) -> Result<Vec<(Tensor, Context)>> {
        let full = self.grid(frames);
        if x.len() != count * full.len() {
            return Err(Error::Shape {
                what: "full-resolution spectrograms",
                expected: format!("[{count}, {frames}, {}]", full.bins),
                got: format!("{} values", x.len()),
            });
        }
        let (labels, text) = self.condition_tensors(conditions, count)?;
        let tensor =
            |v: Vec<f32>, g: Grid| Tensor::from_vec(v, (count, g.frames, g.bins), &crate::device());
        split_tiers(x, count, full, self.config.tiers)
            .into_iter()
            .zip(self.shapes(frames))
            .map(|(part, shape)| {
                let coarse = match (part.conditioning, shape.conditioning) {
                    (Some(v), Some((_, cg))) => Some(tensor(v, cg)?),
                    _ => None,
                };
                let context = Context {
                    coarse,
                    labels: labels.clone(),
                    text: text.clone().filter(|_| shape.tier == 1),
                    guide: None,
                };
                Ok((tensor(part.x, shape.grid)?, context))
            })
            .collect()
    }

    /// Every tier's loss mask for `count` full-resolution windows of `frames` frames of which
    /// the first `real[i]` of window i are data and the rest padding: `[count, frames, bins]`
    /// of each tier's grid, 1 on data, 0 on padding; index 0 is tier 1.
    ///
    /// # Errors
    /// Candle errors.
    pub fn tier_masks(&self, real: &[usize], frames: usize) -> Result<Vec<Tensor>> {
        let full = self.grid(frames);
        let mask: Vec<f32> = real
            .iter()
            .flat_map(|&n| (0..full.len()).map(move |e| f32::from(u8::from(e / full.bins < n))))
            .collect();
        split_tiers(&mask, real.len(), full, self.config.tiers)
            .into_iter()
            .zip(self.shapes(frames))
            .map(|(part, shape)| {
                let g = shape.grid;
                Ok(Tensor::from_vec(
                    part.x,
                    (real.len(), g.frames, g.bins),
                    &crate::device(),
                )?)
            })
            .collect()
    }

    /// The labels (u32 `[count]`) and texts of `conditions`, checked against the model.
    ///
    /// # Errors
    /// [`Error::Shape`] when they do not fit the model.
    fn condition_tensors(
        &self,
        conditions: &Conditions,
        count: usize,
    ) -> Result<(Option<Tensor>, Option<Text>)> {
        let classes = self.config.labels.as_ref().map(Vec::len);
        let labels = match (classes, &conditions.labels) {
            (None, None) => None,
            (Some(n), Some(l)) if l.len() == count && l.iter().all(|&c| (c as usize) < n) => {
                Some(Tensor::from_slice(l, count, &crate::device())?)
            }
            (n, l) => {
                return Err(Error::Shape {
                    what: "labels",
                    expected: match n {
                        Some(n) => format!("{count} class indices below {n}"),
                        None => "none (the model has no labels)".into(),
                    },
                    got: format!("{l:?}"),
                })
            }
        };
        let text = match (&self.config.text, &conditions.texts) {
            (None, None) => None,
            (Some(_), Some(t)) if t.len() == count => Some(Text::new(t)?),
            (a, t) => {
                return Err(Error::Shape {
                    what: "texts",
                    expected: match a {
                        Some(_) => format!("{count} texts"),
                        None => "none (the model has no text)".into(),
                    },
                    got: t
                        .as_ref()
                        .map_or("none".into(), |t| format!("{} texts", t.len())),
                })
            }
        };
        Ok((labels, text))
    }

    /// Generate `count` full-resolution spectrograms of `frames` frames (normalised; a text
    /// model stops earlier when the texts are said) with the model's `tiers`
    /// ([`Model::load_tiers`]) given `conditions`; see [`crate::generate::generate`].
    ///
    /// # Errors
    /// [`Error::Shape`] when `tiers` are not this model's G or the prime does not fit; candle
    /// errors.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        &self,
        tiers: &[Tier],
        frames: usize,
        count: usize,
        prime: Option<&[f32]>,
        conditions: &Conditions,
        options: SampleOptions,
        rng: &mut (impl Rng + Send),
        progress: impl FnMut(usize, usize, usize) + Send,
    ) -> Result<Generated> {
        if tiers.len() != self.config.tiers {
            return Err(Error::Shape {
                what: "tiers",
                expected: format!("the model's {}", self.config.tiers),
                got: tiers.len().to_string(),
            });
        }
        generate(
            tiers,
            self.grid(frames),
            count,
            prime,
            conditions,
            options,
            rng,
            progress,
        )
    }

    /// A normalised spectrogram `[frames, bins]` (time-major, model scale) back in the
    /// dataset's scale as `(n_mels, frames)` — denormalised and clamped to the training range —
    /// with the [`melspec::Scale`] its values are in (dB relative to 1.0 for a dB dataset: the
    /// per-item reference of generated values is unknown).
    pub fn to_dataset_scale(&self, time_major: &[f32]) -> (ndarray::Array2<f32>, melspec::Scale) {
        let bins = self.config.n_mels;
        let mut v = time_major.to_vec();
        self.denormalize(&mut v);
        let mel = ndarray::Array2::from_shape_vec((v.len() / bins.max(1), bins), v)
            .expect("whole frames")
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        let scale = if self.config.db {
            melspec::db::db_scale(self.config.params.power, 1.0)
        } else {
            melspec::Scale::Linear
        };
        (mel, scale)
    }

    /// The [`Levels`] (dB) of `count` spectrograms `[count, frames, bins]` (normalised, as
    /// [`Model::generate`] gives), leaving out their first `skip` frames (a prime); `None` for
    /// a linear model.
    pub fn levels(&self, x: &[f32], count: usize, skip: usize) -> Option<Levels> {
        if !self.config.db {
            return None;
        }
        let bins = self.config.n_mels;
        let mut levels = Levels::new(bins, DB_FLOOR);
        for one in x.chunks_exact((x.len() / count.max(1)).max(1)) {
            let mut v = one[(skip * bins).min(one.len())..].to_vec();
            self.denormalize(&mut v);
            levels.add(&v);
        }
        Some(levels)
    }

    /// Audio from a spectrogram in the dataset's scale `(n_mels, frames)` (as
    /// [`Model::to_dataset_scale`] gives): back to linear units, mel inversion with `options`,
    /// peak at −1 dBFS (the level of generated values is arbitrary). Samples at the model's
    /// sample rate.
    ///
    /// # Errors
    /// Inversion errors.
    pub fn to_audio(
        &self,
        mel: &ndarray::Array2<f32>,
        scale: melspec::Scale,
        options: &melspec::inverse::InversionOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<f32>> {
        let p = &self.config.params;
        let mut linear = mel.as_standard_layout().into_owned();
        scale.to_linear(linear.as_slice_mut().expect("standard layout"), p.power)?;
        let mut signal = melspec::inverse::mel_to_audio(linear.view(), p, options, None, progress)?;
        let peak = signal.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if peak > 0.0 {
            let gain = 10f32.powf(-1.0 / 20.0) / peak;
            signal.iter_mut().for_each(|v| *v *= gain);
        }
        Ok(signal)
    }
}

/// A directory of melnet 0.1's single-tier runs.
fn legacy(dir: &Path) -> bool {
    dir.join("data.json").is_file() && dir.join("state.json").is_file()
}

fn validate(config: &ModelConfig) -> Result<()> {
    let bad = |name, value: usize, reason: &str| {
        Err(Error::InvalidConfig {
            name,
            value: value.to_string(),
            reason: reason.into(),
        })
    };
    if config.tiers == 0 {
        return bad("tiers", config.tiers, "must be positive");
    }
    if config.n_mels == 0 || config.frames == 0 {
        return bad("frames", config.frames, "frames and bins must be positive");
    }
    // Every tier needs at least one row along both axes.
    let shapes = tier_shapes(
        Grid {
            frames: config.frames,
            bins: config.n_mels,
        },
        config.tiers,
    );
    if let Some(s) = shapes.iter().find(|s| s.grid.is_empty()) {
        return bad(
            "tiers",
            config.tiers,
            &format!(
                "tier {} of a {}-frame × {}-bin window would be empty ({} × {}); use fewer tiers or a longer window",
                s.tier, config.frames, config.n_mels, s.grid.frames, s.grid.bins
            ),
        );
    }
    if config.params.n_mels != config.n_mels {
        return bad(
            "n_mels",
            config.n_mels,
            "differs from the analysis parameters",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(tiers: usize, db: bool) -> Model {
        let bins = 6;
        let mut params = melspec::Preset::by_name("melnet-small")
            .expect("a preset")
            .params;
        params.n_mels = bins;
        Model {
            dir: PathBuf::new(),
            config: ModelConfig {
                format: MODEL_FORMAT,
                tiers,
                n_mels: bins,
                frames: 8,
                params,
                db,
                normalization: Normalization::StandardPerMel,
                stats: CorpusStats {
                    train_files: 1,
                    train_frames: 8,
                    valid_files: 0,
                    valid_frames: 0,
                    seconds: 1.0,
                    all: melnet_data::dataset::Summary {
                        min: -80.0,
                        max: 0.0,
                        mean: -40.0,
                        std: 20.0,
                    },
                    mel_mean: (0..bins).map(|b| -30.0 - b as f64).collect(),
                    mel_std: (0..bins).map(|b| 10.0 + b as f64).collect(),
                },
                dataset: PathBuf::new(),
                labels: None,
                text: None,
            },
        }
    }

    #[test]
    fn masks_cover_each_windows_data_in_every_tier() {
        // 8 frames × 6 bins, G = 3 (tier 3 splits time, tier 2 frequency): a window with 3
        // frames of data and one full window.
        let m = model(3, true);
        let masks = m.tier_masks(&[3, 8], 8).unwrap();
        let ones = |t: &Tensor| t.sum_all().unwrap().to_scalar::<f32>().unwrap();
        let dims: Vec<Vec<usize>> = masks.iter().map(|t| t.dims().to_vec()).collect();
        assert_eq!(dims, vec![vec![2, 4, 3], vec![2, 4, 3], vec![2, 4, 6]]);
        // Tier 3 holds the odd frames (1, 3, 5, 7): one of them is data in the short window.
        let tier3 = masks[2].to_vec3::<f32>().unwrap();
        assert_eq!(
            tier3[0].iter().map(|r| r[0]).collect::<Vec<_>>(),
            [1.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(ones(&masks[2]), (1 + 4) as f32 * 6.0);
        // Tiers 1 and 2 hold the even frames (0, 2, 4, 6): two of them are data.
        assert_eq!(ones(&masks[0]), (2 + 4) as f32 * 3.0);
        assert_eq!(ones(&masks[1]), (2 + 4) as f32 * 3.0);
    }

    #[test]
    fn floors_follow_each_tiers_bins_and_the_normalisation() {
        let m = model(3, true);
        // −80 dB per band in the per-band standardised scale.
        let band = |b: usize| ((-80.0 - (-30.0 - b as f64)) / (10.0 + b as f64)) as f32;
        let floors = m.floors().expect("a dB model has floors");
        // Tier 3 splits time (all 6 bins), tier 2 frequency: tier 1 has the even bands,
        // tier 2 the odd ones.
        assert_eq!(floors[0], vec![band(0), band(2), band(4)]);
        assert_eq!(floors[1], vec![band(1), band(3), band(5)]);
        assert_eq!(floors[2], (0..6).map(band).collect::<Vec<_>>());
        let spec = TierSpec::default();
        assert_eq!(
            m.tier_config(2, spec).unwrap().floor,
            Some(floors[1].clone())
        );
        let plain = TierSpec {
            censored: false,
            ..spec
        };
        assert_eq!(m.tier_config(2, plain).unwrap().floor, None);
        assert_eq!(model(3, false).floors(), None);
    }
}
