//! Phase retrieval: a signal whose STFT magnitude is close to a given one.
//!
//! - [`gla`]: Griffin–Lim and its fast variant (FGLA, with momentum), from any initial phase.
//! - [`pghi`]: phase-gradient heap integration, non-iterative.
//! - [`lws`]: local weighted sums, in-place updates from each coefficient's neighbours.
//!
//! [`reconstruct`] runs the method a user picks, by default PGHI followed by 8 FGLA iterations
//! (which [`crate::refine`] then continues in the signal domain).

pub mod gla;
#[allow(unsafe_code)] // only in the expansion of `vectorised!`
pub mod lws;
pub mod pghi;

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stft::StftParams;

/// A phase retrieval method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PhaseMethod {
    /// Griffin–Lim (no momentum).
    #[serde(rename = "gla")]
    Gla,
    /// Fast Griffin–Lim (momentum, default 0.99).
    #[serde(rename = "fgla")]
    Fgla,
    /// Phase-gradient heap integration only.
    #[serde(rename = "pghi")]
    Pghi,
    /// PGHI, then FGLA iterations from its phase.
    #[default]
    #[serde(rename = "pghi+fgla")]
    PghiFgla,
    /// Local weighted sums only.
    #[serde(rename = "lws")]
    Lws,
    /// LWS, then FGLA iterations from its phase.
    #[serde(rename = "lws+fgla")]
    LwsFgla,
}

impl PhaseMethod {
    /// Name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PhaseMethod::Gla => "gla",
            PhaseMethod::Fgla => "fgla",
            PhaseMethod::Pghi => "pghi",
            PhaseMethod::PghiFgla => "pghi+fgla",
            PhaseMethod::Lws => "lws",
            PhaseMethod::LwsFgla => "lws+fgla",
        }
    }
}

impl PhaseMethod {
    /// Griffin–Lim iterations used when none are given: 32 from a random or zero phase
    /// (`gla`, `fgla`), 8 after PGHI or LWS (measured: on bundled speech and music, 8 and 32
    /// FGLA iterations before the signal-domain refinement give the same quality), none for
    /// `pghi` and `lws` alone.
    pub fn default_iterations(self) -> usize {
        match self {
            PhaseMethod::Gla | PhaseMethod::Fgla => 32,
            PhaseMethod::PghiFgla | PhaseMethod::LwsFgla => 8,
            PhaseMethod::Pghi | PhaseMethod::Lws => 0,
        }
    }
}

impl std::str::FromStr for PhaseMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "gla" => Ok(PhaseMethod::Gla),
            "fgla" => Ok(PhaseMethod::Fgla),
            "pghi" => Ok(PhaseMethod::Pghi),
            "pghi+fgla" => Ok(PhaseMethod::PghiFgla),
            "lws" => Ok(PhaseMethod::Lws),
            "lws+fgla" => Ok(PhaseMethod::LwsFgla),
            _ => Err(Error::param(
                "phase",
                s,
                "expected gla, fgla, pghi, pghi+fgla, lws or lws+fgla",
            )),
        }
    }
}

/// Options of [`reconstruct`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseOptions {
    /// The method.
    pub method: PhaseMethod,
    /// Griffin–Lim iterations (ignored by `pghi`).
    pub n_iter: usize,
    /// FGLA momentum α (`fgla`, `pghi+fgla`; `gla` uses 0).
    pub momentum: f32,
    /// Seed of the random initial phase (GLA/FGLA without a given phase, and PGHI's
    /// negligible coefficients).
    pub seed: u64,
    /// Initial phase of `gla`/`fgla` when no phase is given.
    pub init: PhaseInit,
    /// LWS iterations and thresholds (`lws`, `lws+fgla`).
    pub lws: lws::LwsOptions,
}

/// Initial phase of Griffin–Lim when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PhaseInit {
    /// Uniform in [−π, π), from the seed.
    #[default]
    Random,
    /// All zeros.
    Zero,
}

impl std::str::FromStr for PhaseInit {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "random" => Ok(PhaseInit::Random),
            "zero" => Ok(PhaseInit::Zero),
            _ => Err(Error::param("init", s, "expected random or zero")),
        }
    }
}

impl Default for PhaseOptions {
    fn default() -> Self {
        PhaseOptions {
            method: PhaseMethod::PghiFgla,
            n_iter: PhaseMethod::PghiFgla.default_iterations(),
            momentum: 0.99,
            seed: 0,
            init: PhaseInit::Random,
            lws: lws::LwsOptions::default(),
        }
    }
}

/// Signal of `length` samples whose STFT magnitude approximates `magnitude`
/// `(n_fft/2 + 1, frames)`. `init_phase` (radians, same shape) warm-starts the iterations of
/// `gla`, `fgla` and `pghi+fgla` (replacing `opts.init` or PGHI) and of `lws`/`lws+fgla`
/// (replacing zero phase); `progress(done, total)` is called after every iteration (LWS and
/// Griffin–Lim counted together).
///
/// # Errors
/// [`Error::ShapeMismatch`] when `magnitude` or `init_phase` do not fit `params`;
/// [`Error::InvalidInput`] for empty, negative or non-finite magnitudes.
pub fn reconstruct(
    magnitude: ArrayView2<f32>,
    params: &StftParams,
    opts: &PhaseOptions,
    init_phase: Option<ArrayView2<f32>>,
    length: Option<usize>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f32>> {
    check_magnitude(magnitude, params)?;
    if let Some(p) = init_phase {
        if p.dim() != magnitude.dim() {
            return Err(Error::ShapeMismatch {
                what: "initial phase".into(),
                expected: format!("{:?} (as the magnitude)", magnitude.dim()),
                got: format!("{:?}", p.dim()),
            });
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let (n_iter, momentum) = match opts.method {
        PhaseMethod::Pghi | PhaseMethod::Lws => (0, 0.0),
        PhaseMethod::Gla => (opts.n_iter, 0.0),
        PhaseMethod::Fgla | PhaseMethod::PghiFgla | PhaseMethod::LwsFgla => {
            (opts.n_iter, opts.momentum)
        }
    };
    let lws_iter = match opts.method {
        PhaseMethod::Lws | PhaseMethod::LwsFgla => {
            opts.lws.n_iter + usize::from(opts.lws.no_future)
        }
        _ => 0,
    };
    let total = lws_iter + n_iter;
    let phase: Array2<f32> = match (opts.method, init_phase, opts.init) {
        (PhaseMethod::Lws | PhaseMethod::LwsFgla, p, _) => {
            lws::lws(magnitude, p, params, &opts.lws, &mut |done, _| {
                progress(done, total)
            })?
        }
        (PhaseMethod::Pghi, _, _) => pghi::pghi(magnitude, params, &mut rng)?,
        (_, Some(p), _) => p.to_owned(),
        (PhaseMethod::PghiFgla, None, _) => pghi::pghi(magnitude, params, &mut rng)?,
        (_, None, PhaseInit::Zero) => Array2::zeros(magnitude.dim()),
        (_, None, PhaseInit::Random) => Array2::from_shape_fn(magnitude.dim(), |_| {
            rng.gen_range(-std::f32::consts::PI..std::f32::consts::PI)
        }),
    };
    let mut gla = gla::GriffinLim::new(magnitude, phase.view(), params, momentum, length)?;
    for i in 0..n_iter {
        gla.step();
        progress(lws_iter + i + 1, total);
    }
    Ok(gla.finish())
}

/// Validate a magnitude spectrogram against the STFT geometry.
pub(crate) fn check_magnitude(magnitude: ArrayView2<f32>, params: &StftParams) -> Result<()> {
    params.validate()?;
    if magnitude.nrows() != params.n_bins() {
        return Err(Error::ShapeMismatch {
            what: "magnitude bins".into(),
            expected: format!(
                "{} (n_fft/2 + 1 for n_fft = {})",
                params.n_bins(),
                params.n_fft
            ),
            got: magnitude.nrows().to_string(),
        });
    }
    if magnitude.ncols() == 0 {
        return Err(Error::InvalidInput(
            "magnitude spectrogram has no frames".into(),
        ));
    }
    if let Some(v) = magnitude.iter().find(|v| !v.is_finite() || **v < 0.0) {
        return Err(Error::InvalidInput(format!(
            "magnitude spectrogram holds an invalid value ({v}); magnitudes must be finite and ≥ 0"
        )));
    }
    Ok(())
}
