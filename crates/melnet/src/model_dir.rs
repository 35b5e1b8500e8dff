//! A model directory held for training: locked while it lives, opened (checked against the
//! dataset and the conditioning asked for) or made for the dataset, and cleaned up when a run
//! that made it never wrote a checkpoint. [`train`] is the one call a front-end makes.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use melnet_data::dataset::{Dataset, LabelInfo, LabelKind};
use melnet_data::lock::DirLock;

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::model::{Model, ModelConfig, ModelText, MODEL_FILE};
use crate::train::fit::check_dataset;
use crate::train::plan::{train_tiers, Resume, TrainPlan};
use crate::train::report::{Observer, Trained};

/// Full-resolution window of a new model that is not told one (other than a text model).
pub const DEFAULT_FRAMES: usize = 32;

/// What a model made by a run is: its tiers, window and conditioning. An existing model keeps
/// its own; asking it for conditioning it lacks is an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewModel {
    /// Tiers G [default: 1]; an existing model must have this many when given.
    pub tiers: Option<usize>,
    /// Full-resolution window in frames [default: [`DEFAULT_FRAMES`]; a text model's longest
    /// train recording, [`ModelText::window_frames`]].
    pub frames: Option<usize>,
    /// Condition on the dataset's category labels.
    pub labels: bool,
    /// Condition on the transcripts in this file (`id|text` per line).
    pub transcripts: Option<PathBuf>,
}

/// What opening a directory made, so that a run that fails before its first checkpoint can
/// leave things as it found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    /// The model existed.
    Nothing,
    /// The model, in a folder that existed.
    Model,
    /// The folder itself.
    Folder,
}

/// A model directory opened for training, locked until dropped.
#[derive(Debug)]
pub struct ModelDir {
    model: Model,
    made: Made,
    lock: DirLock,
}

impl ModelDir {
    /// Lock `dir` (made if missing) and open the model in it, checked against `ds` and
    /// `new`; or, when it holds none (and `plan` is not [`Resume::Always`]), make one for `ds` as `new`
    /// says (its window checked against the memory the plan's new tiers need).
    ///
    /// # Errors
    /// The directory in use by another process; a model of other data, tiers or
    /// conditioning; nothing to resume; an invalid window; I/O errors. What this call made
    /// is removed again.
    pub fn open_or_create(
        dir: &Path,
        ds: &Dataset,
        new: &NewModel,
        plan: &TrainPlan,
    ) -> Result<Self> {
        let existed = dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| Error::File {
            path: dir.to_path_buf(),
            reason: format!("cannot create: {e}"),
        })?;
        let lock = match DirLock::acquire(dir) {
            Ok(lock) => lock,
            Err(e) => {
                if !existed {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(e.into());
            }
        };
        let made = match (dir.join(MODEL_FILE).exists(), existed) {
            (true, _) => Made::Nothing,
            (false, true) => Made::Model,
            (false, false) => Made::Folder,
        };
        match open_checked(dir, ds, new).and_then(|found| match found {
            Some(model) => Ok(model),
            None => create(dir, ds, new, plan),
        }) {
            Ok(model) => Ok(ModelDir { model, made, lock }),
            Err(e) => {
                discard(dir, made, &lock, None);
                Err(e)
            }
        }
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model, the directory unlocked.
    pub fn into_model(self) -> Model {
        self.model
    }

    /// Carry out `plan` on the model ([`train_tiers`]). When the run fails and this directory
    /// made the model, which then has no checkpoint, what it made is removed (it would block
    /// a retry); a folder the caller made is kept, emptied of what the run wrote. A model with
    /// a checkpoint stays: the error names the last good one.
    ///
    /// # Errors
    /// As [`train_tiers`].
    pub fn train(
        &self,
        ds: &Dataset,
        plan: &TrainPlan,
        observer: &mut dyn Observer,
        cancel: &AtomicBool,
    ) -> Result<Vec<Trained>> {
        train_tiers(&self.model, ds, plan, observer, cancel).inspect_err(|_| {
            discard(self.model.dir(), self.made, &self.lock, Some(&self.model));
        })
    }
}

/// Open the model in `dir` if it has one, checked against `ds` and what `new` asks for.
fn open_checked(dir: &Path, ds: &Dataset, new: &NewModel) -> Result<Option<Model>> {
    if !dir.join(MODEL_FILE).exists() {
        return Ok(None);
    }
    let model = Model::open(dir)?;
    check_dataset(&model, ds)?;
    let c = model.config();
    let other_text = new.transcripts.as_ref().is_some_and(|t| {
        let t = std::fs::canonicalize(t).unwrap_or_else(|_| t.clone());
        c.text.as_ref().is_none_or(|m| m.transcripts != t)
    });
    if (new.labels && c.labels.is_none()) || other_text {
        return Err(Error::Invalid(format!(
            "{}: the model was made with other conditioning (labels {}, text {:?}); labels and transcripts are for a new model",
            dir.display(),
            c.labels.is_some(),
            c.text.as_ref().map(|t| &t.transcripts)
        )));
    }
    if let Some(tiers) = new.tiers.filter(|&t| t != c.tiers) {
        return Err(Error::Invalid(format!(
            "{}: the model has {} tiers ({tiers} tiers is for a new model)",
            dir.display(),
            c.tiers
        )));
    }
    Ok(Some(model))
}

/// Make the model `new` for `ds` in `dir`.
fn create(dir: &Path, ds: &Dataset, new: &NewModel, plan: &TrainPlan) -> Result<Model> {
    if plan.resume == Resume::Always {
        return Err(Error::Invalid(format!(
            "{}: no model to resume",
            dir.display()
        )));
    }
    let frames = match (new.frames, &new.transcripts) {
        (Some(frames), _) => frames,
        (None, Some(_)) => ModelText::window_frames(ds),
        (None, None) => DEFAULT_FRAMES,
    };
    if frames == 0 {
        return Err(Error::InvalidConfig {
            name: "frames",
            value: "0".into(),
            reason: "must be positive".into(),
        });
    }
    let m = ds.manifest();
    let tier = &plan.new_tier;
    tier.spec
        .check_training_memory(m.n_mels, frames, tier.batch)?;
    let labels = match (&m.labels, new.labels) {
        (_, false) => None,
        (
            Some(LabelInfo {
                kind: LabelKind::Category { classes },
                ..
            }),
            true,
        ) => Some(classes.clone()),
        (_, true) => {
            return Err(Error::Invalid(format!(
                "{}: conditioning on labels needs category labels (prepare the dataset with --labels FILE.csv of one text column, or --labels-from-folders)",
                ds.dir().display()
            )))
        }
    };
    let text = match &new.transcripts {
        Some(path) => Some(ModelText::new(path, ds)?),
        None => None,
    };
    Model::create(
        dir,
        ModelConfig {
            labels,
            text,
            ..ModelConfig::for_dataset(ds, new.tiers.unwrap_or(1), frames)
        },
    )
}

/// Remove what opening `dir` made (`made`), unless a tier of `model` has a checkpoint.
fn discard(dir: &Path, made: Made, lock: &DirLock, model: Option<&Model>) {
    let tier_dirs: Vec<PathBuf> = model
        .into_iter()
        .flat_map(|m| (1..=m.config().tiers).map(|g| m.tier_dir(g)))
        .collect();
    if tier_dirs.iter().any(|d| checkpoint::exists(d)) {
        return;
    }
    match made {
        Made::Nothing => {}
        Made::Model => {
            for d in &tier_dirs {
                let _ = std::fs::remove_dir_all(d);
            }
            let _ = std::fs::remove_file(dir.join(MODEL_FILE));
            let _ = std::fs::remove_file(lock.path());
        }
        Made::Folder => {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Open or make the model in `dir` for `ds` ([`ModelDir::open_or_create`]) and carry out
/// `plan` on it ([`ModelDir::train`]); returns the model and where each trained tier was
/// left.
///
/// # Errors
/// As those two.
pub fn train(
    dir: &Path,
    ds: &Dataset,
    new: &NewModel,
    plan: &TrainPlan,
    observer: &mut dyn Observer,
    cancel: &AtomicBool,
) -> Result<(Model, Vec<Trained>)> {
    plan.validate()?;
    let held = ModelDir::open_or_create(dir, ds, new, plan)?;
    let trained = held.train(ds, plan, observer, cancel)?;
    Ok((held.into_model(), trained))
}
