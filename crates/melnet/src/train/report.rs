//! What training tells its caller as it goes: each step's numbers, how a tier's training
//! ended, where it left the tier, and the [`Observer`] that receives them.

use std::path::Path;

use crate::error::Result;

/// Why a tier's training returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitEnd {
    /// The tier reached its total steps.
    Finished,
    /// The time limit came first.
    TimeLimit,
    /// The run was cancelled (a checkpoint was written).
    Interrupted,
}

/// One step's numbers, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Steps done.
    pub step: u64,
    /// Training NLL of the step's batch, nats/element.
    pub loss: f32,
    /// The last validation NLL, nats/element (NaN before the first).
    pub valid: f32,
}

/// Where a run left a tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trained {
    /// The tier (1-based).
    pub tier: usize,
    /// The step reached.
    pub step: u64,
    /// The last validation NLL, nats per element.
    pub valid: f32,
    /// Trained parameters of the tier.
    pub parameters: usize,
    /// Why its training ended.
    pub end: FitEnd,
}

/// What a training run tells its caller as it goes (progress displays, figures). Every
/// method does nothing unless implemented.
pub trait Observer {
    /// Tier `tier` of `tiers` starts training at step `from` towards `to` (`u64::MAX`: no
    /// step limit), for at most `minutes`.
    fn tier_started(
        &mut self,
        tier: usize,
        tiers: usize,
        from: u64,
        to: u64,
        minutes: Option<f64>,
    ) {
        let _ = (tier, tiers, from, to, minutes);
    }

    /// A step was taken.
    fn step(&mut self, report: &StepReport) {
        let _ = report;
    }

    /// A checkpoint (and the log before it) was written to the tier directory `dir`.
    ///
    /// # Errors
    /// Whatever the observer fails with stops the run.
    fn checkpoint(&mut self, dir: &Path) -> Result<()> {
        let _ = dir;
        Ok(())
    }

    /// A tier's training ended (also after an interruption, which ends the run).
    fn tier_finished(&mut self, trained: &Trained) {
        let _ = trained;
    }
}

/// The observer that watches nothing.
impl Observer for () {}
