//! The model directory's life cycle through the library alone: one `train` call makes,
//! trains, resumes and refuses; the lock; what a failed run leaves behind.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use melnet::model::TierSpec;
use melnet::model_dir::{train, ModelDir, NewModel};
use melnet::train::fit::StepOptions;
use melnet::train::plan::{Budget, NewTier, Resume, Tiers, TrainPlan};
use melnet::train::report::{FitEnd, Observer, StepReport, Trained};
use melnet_data::dataset::{prepare, Dataset, PrepareOptions, PrepareSettings};

/// The bundled speech recordings as a 16-mel dB dataset in `dir`.
fn dataset(dir: &Path) -> Dataset {
    let mut params = melspec::Preset::by_name("melnet-small").unwrap().params;
    params.n_mels = 16;
    let settings = PrepareSettings {
        db: true,
        min_seconds: 0.5,
        ..PrepareSettings::default()
    };
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/speech");
    let out = dir.join("ds");
    prepare(
        &input,
        &out,
        &PrepareOptions::new(params, settings),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    Dataset::open(&out).unwrap()
}

/// A two-step plan of small tiers.
fn plan(resume: Resume) -> TrainPlan {
    TrainPlan {
        tiers: Tiers::All,
        new_tier: NewTier {
            spec: TierSpec {
                layers: 1,
                width: 8,
                n_mixtures: 2,
                ..TierSpec::default()
            },
            batch: 2,
            ..NewTier::default()
        },
        resume,
        check_spec: false,
        budget: Budget {
            steps: Some(2),
            ..Budget::default()
        },
        step: StepOptions {
            valid_every: 1,
            checkpoint_every: 1,
            ..StepOptions::default()
        },
    }
}

/// What a run told its observer.
#[derive(Default)]
struct Seen {
    started: Vec<(usize, u64, u64)>,
    steps: Vec<u64>,
    checkpoints: usize,
    finished: Vec<Trained>,
}

impl Observer for Seen {
    fn tier_started(&mut self, tier: usize, _: usize, from: u64, to: u64, _: Option<f64>) {
        self.started.push((tier, from, to));
    }
    fn step(&mut self, report: &StepReport) {
        self.steps.push(report.step);
    }
    fn checkpoint(&mut self, _: &Path) -> melnet::Result<()> {
        self.checkpoints += 1;
        Ok(())
    }
    fn tier_finished(&mut self, trained: &Trained) {
        self.finished.push(*trained);
    }
}

#[test]
fn one_call_makes_trains_resumes_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let run = dir.path().join("model");
    let new = NewModel {
        tiers: Some(2),
        frames: Some(16),
        ..NewModel::default()
    };
    let stop = AtomicBool::new(false);

    let mut seen = Seen::default();
    let (model, trained) = train(&run, &ds, &new, &plan(Resume::Never), &mut seen, &stop).unwrap();
    assert_eq!(model.config().tiers, 2);
    assert_eq!(seen.started, vec![(1, 0, 2), (2, 0, 2)]);
    assert_eq!(seen.steps, vec![1, 2, 1, 2]);
    assert_eq!(seen.checkpoints, 4);
    assert_eq!(seen.finished, trained);
    for (g, t) in trained.iter().enumerate() {
        assert_eq!((t.tier, t.step, t.end), (g + 1, 2, FitEnd::Finished));
        assert!(t.valid.is_finite() && t.parameters > 0);
        assert!(melnet::checkpoint::exists(&model.tier_dir(g + 1)));
    }

    // Trained tiers are not started again without resuming; the model is left as it was.
    let err = train(&run, &ds, &new, &plan(Resume::Never), &mut (), &stop).unwrap_err();
    assert!(err.to_string().contains("tier 1 exists"), "{err}");
    assert!(run.join("model.json").is_file());

    // Resuming continues each tier to the budget's total.
    let mut longer = plan(Resume::Always);
    longer.budget.steps = Some(3);
    longer.tiers = Tiers::One(2);
    let (_, trained) = train(&run, &ds, &new, &longer, &mut (), &stop).unwrap();
    assert_eq!((trained.len(), trained[0].tier, trained[0].step), (1, 2, 3));

    // A tier the model does not have; conditioning it lacks; other tiers.
    longer.tiers = Tiers::One(3);
    let err = train(&run, &ds, &new, &longer, &mut (), &stop).unwrap_err();
    assert!(err.to_string().contains("tiers 1 to 2"), "{err}");
    let labelled = NewModel {
        labels: true,
        ..new.clone()
    };
    let err = train(&run, &ds, &labelled, &longer, &mut (), &stop).unwrap_err();
    assert!(err.to_string().contains("other conditioning"), "{err}");
    let three = NewModel {
        tiers: Some(3),
        ..new.clone()
    };
    let err = train(&run, &ds, &three, &longer, &mut (), &stop).unwrap_err();
    assert!(err.to_string().contains("has 2 tiers"), "{err}");

    // Cancelled during tier 1's fourth step: the tier ends there with a checkpoint and no
    // further tier trains; cancelled before, nothing trains.
    let mut again = plan(Resume::Always);
    again.budget.steps = Some(10);
    let cancel = AtomicBool::new(false);
    let mut stopper = CancelAt {
        step: 4,
        cancel: &cancel,
    };
    let (model, trained) = train(&run, &ds, &new, &again, &mut stopper, &cancel).unwrap();
    assert_eq!(trained.len(), 1);
    assert_eq!((trained[0].step, trained[0].end), (4, FitEnd::Interrupted));
    let state = melnet::train::Trainer::read_state(&model.tier_dir(1)).unwrap();
    assert_eq!(state.step, 4);
    let (_, trained) = train(&run, &ds, &new, &again, &mut (), &cancel).unwrap();
    assert!(trained.is_empty());
}

/// An observer that cancels the run after step `step`.
struct CancelAt<'a> {
    step: u64,
    cancel: &'a AtomicBool,
}

impl Observer for CancelAt<'_> {
    fn step(&mut self, report: &StepReport) {
        if report.step == self.step {
            self.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[test]
fn the_lock_is_held_while_the_directory_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let run = dir.path().join("model");
    let new = NewModel::default();
    let held = ModelDir::open_or_create(&run, &ds, &new, &plan(Resume::Never)).unwrap();
    let err = ModelDir::open_or_create(&run, &ds, &new, &plan(Resume::IfAny)).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    drop(held);
    ModelDir::open_or_create(&run, &ds, &new, &plan(Resume::IfAny)).unwrap();
}

#[test]
fn a_run_that_fails_before_its_first_checkpoint_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let stop = AtomicBool::new(false);
    let huge = NewModel {
        frames: Some(1 << 24),
        ..NewModel::default()
    };
    // A folder the run made goes; one the caller made stays, empty.
    let made = dir.path().join("made");
    let err = train(&made, &ds, &huge, &plan(Resume::Never), &mut (), &stop).unwrap_err();
    assert!(err.to_string().contains("needs about"), "{err}");
    assert!(!made.exists());
    let kept = dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    train(&kept, &ds, &huge, &plan(Resume::Never), &mut (), &stop).unwrap_err();
    assert_eq!(std::fs::read_dir(&kept).unwrap().count(), 0);
    // Nothing to resume is an error that makes nothing.
    let none = dir.path().join("none");
    let err = train(
        &none,
        &ds,
        &NewModel::default(),
        &plan(Resume::Always),
        &mut (),
        &stop,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no model to resume"), "{err}");
    assert!(!none.exists());
    // An invalid plan is refused before anything is made.
    let mut bad = plan(Resume::Never);
    bad.step.clip_grad = Some(-1.0);
    let err = train(&none, &ds, &NewModel::default(), &bad, &mut (), &stop).unwrap_err();
    assert!(err.to_string().contains("clip_grad"), "{err}");
    assert!(!none.exists());
}
