//! Analysis options shared by several subcommands, and their resolution into validated
//! [`AnalysisParams`]: a preset, then every option given on the command line on top.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use melspec::inverse::{InversionOptions, MelInverse, NnlsOptions};
use melspec::phase::lws::LwsOptions;
use melspec::phase::{PhaseInit, PhaseMethod, PhaseOptions};
use melspec::refine::{Compression, RefineOptions};
use melspec::{AnalysisParams, Audio, MelNorm, PadMode, Preset, Window};

/// Preset, sample rate and FFT size.
#[derive(Debug, Clone, Args)]
pub struct PresetArgs {
    /// Named parameter set (see `melnet presets`); every option below overrides it
    /// [default: librosa, or the parameters in the input's sidecar JSON where there is one].
    #[arg(long)]
    pub preset: Option<String>,
    /// Analysis sample rate in Hz; audio at another rate is resampled [default: the preset's,
    /// librosa: 22050].
    #[arg(long)]
    pub sr: Option<u32>,
    /// FFT size in samples [default: the preset's, librosa: 2048].
    #[arg(long)]
    pub n_fft: Option<usize>,
}

/// Framing options.
#[derive(Debug, Clone, Args)]
pub struct FrameArgs {
    /// Hop between frames in samples [default: the preset's, librosa: 512].
    #[arg(long, alias = "hop")]
    pub hop_length: Option<usize>,
    /// Window length in samples, ≤ n_fft [default: n_fft].
    #[arg(long, alias = "win")]
    pub win_length: Option<usize>,
    /// Window shape: hann or hamming [default: hann].
    #[arg(long)]
    pub window: Option<Window>,
    /// Do not pad n_fft/2 at both ends (frame t then starts at t·hop instead of being centred
    /// there) [default: centred].
    #[arg(long)]
    pub no_center: bool,
    /// Padding at the ends when centring: constant (zeros) or reflect [default: constant].
    #[arg(long)]
    pub pad_mode: Option<PadMode>,
}

/// Mel filterbank options.
#[derive(Debug, Clone, Args)]
pub struct MelArgs {
    /// Number of mel bands [default: the preset's, librosa: 128].
    #[arg(long)]
    pub n_mels: Option<usize>,
    /// Lowest mel edge in Hz [default: the preset's, librosa: 0].
    #[arg(long)]
    pub fmin: Option<f64>,
    /// Highest mel edge in Hz, ≤ sr/2 [default: the preset's, librosa: sr/2].
    #[arg(long)]
    pub fmax: Option<f64>,
    /// Use the HTK mel scale instead of Slaney [default: Slaney].
    #[arg(long)]
    pub htk: bool,
    /// Filter normalisation: slaney (constant energy per band) or none (peak 1)
    /// [default: slaney].
    #[arg(long)]
    pub norm: Option<MelNorm>,
}

/// Resolve a preset and command-line overrides into validated parameters. `fmax` comes back
/// resolved to Hz.
pub fn resolve(
    preset: &PresetArgs,
    frame: Option<&FrameArgs>,
    mel: Option<&MelArgs>,
) -> Result<AnalysisParams> {
    resolve_over(None, preset, frame, mel)
}

/// As [`resolve`], starting from `base` (e.g. a sidecar's parameters) unless `--preset` is
/// given.
pub fn resolve_over(
    base: Option<AnalysisParams>,
    preset: &PresetArgs,
    frame: Option<&FrameArgs>,
    mel: Option<&MelArgs>,
) -> Result<AnalysisParams> {
    let mut p = match (&preset.preset, base) {
        (Some(name), _) => Preset::by_name(name)?.params,
        (None, Some(base)) => base,
        (None, None) => AnalysisParams::default(),
    };
    if let Some(sr) = preset.sr {
        p.sr = sr;
    }
    if let Some(n_fft) = preset.n_fft {
        p.stft.n_fft = n_fft;
        p.stft.win_length = n_fft;
    }
    if let Some(f) = frame {
        if let Some(h) = f.hop_length {
            p.stft.hop_length = h;
        }
        if let Some(w) = f.win_length {
            p.stft.win_length = w;
        }
        if let Some(w) = f.window {
            p.stft.window = w;
        }
        p.stft.center &= !f.no_center;
        if let Some(m) = f.pad_mode {
            p.stft.pad_mode = m;
        }
    }
    if let Some(m) = mel {
        if let Some(n) = m.n_mels {
            p.n_mels = n;
        }
        if let Some(f) = m.fmin {
            p.fmin = f;
        }
        if m.fmax.is_some() {
            p.fmax = m.fmax;
        }
        p.htk |= m.htk;
        if let Some(n) = m.norm {
            p.norm = n;
        }
    }
    p.fmax = Some(p.fmax_hz());
    p.validate()?;
    Ok(p)
}

/// Decode `path` and resample it to `sr`, with the file named in any error.
pub fn load_audio(path: &Path, sr: u32) -> Result<Audio> {
    let audio = melspec::audio::load(path)?;
    let audio = audio
        .resampled(sr)
        .with_context(|| format!("{}: resampling to {sr} Hz", path.display()))?;
    Ok(audio)
}

/// What a conditioned model generates or scores (`melnet sample`, `melnet eval --input`).
#[derive(Debug, Clone, Default, Args)]
pub struct ConditionArgs {
    /// The class (speaker, category) of a label-conditioned model, by name.
    #[arg(long)]
    pub label: Option<String>,
    /// The text to say, for a text-conditioned model (its characters must be in the model's
    /// alphabet).
    #[arg(long)]
    pub text: Option<String>,
}

impl ConditionArgs {
    /// The conditions of `count` spectrograms of `model`.
    ///
    /// # Errors
    /// A label or character the model does not know, or one missing or unexpected.
    pub fn conditions(&self, model: &melnet::Model, count: usize) -> Result<melnet::Conditions> {
        Ok(model.conditions(self.label.as_deref(), self.text.as_deref(), count)?)
    }
}

/// Inversion options shared by `melnet invert` and `melnet roundtrip`.
#[derive(Debug, Clone, Args)]
pub struct InversionArgs {
    /// Phase retrieval: gla (Griffin–Lim), fgla (fast Griffin–Lim), pghi (phase-gradient heap
    /// integration, non-iterative), pghi+fgla (PGHI, then FGLA), lws (local weighted sums) or
    /// lws+fgla (LWS, then FGLA).
    #[arg(long, default_value = "pghi+fgla")]
    pub phase: PhaseMethod,
    /// Griffin–Lim iterations (gla, fgla, pghi+fgla, lws+fgla) [default: 32 for gla and fgla,
    /// 8 after PGHI or LWS].
    #[arg(long, alias = "iters")]
    pub n_iter: Option<usize>,
    /// LWS iterations (lws, lws+fgla).
    #[arg(long, alias = "lws-iters", default_value_t = 100)]
    pub lws_n_iter: usize,
    /// Run LWS' no-future pass (each frame from the past frames only) before its iterations.
    #[arg(long)]
    pub lws_no_future: bool,
    /// FGLA momentum (fgla, pghi+fgla).
    #[arg(long, default_value_t = 0.99)]
    pub momentum: f32,
    /// Mel → linear spectrogram: nnls (non-negative least squares, converged), pinv (clipped
    /// pseudo-inverse, where librosa stops) or transpose.
    #[arg(long, default_value = "nnls")]
    pub mel_inverse: MelInverse,
    /// Iteration limit of the NNLS solver per frame.
    #[arg(long, alias = "nnls-iters", default_value_t = 1000)]
    pub nnls_max_iter: usize,
    /// Signal-domain refinement after phase retrieval: L-BFGS iterations adjusting the samples
    /// so that the output's mel spectrogram matches the input (0 = off, fastest) [default: 60
    /// for mel spectrograms; linear ones are not refined].
    #[arg(long, alias = "refine")]
    pub refine_n_iter: Option<usize>,
    /// Distance the refinement minimises: log (log mel) or an exponent γ in (0, 1] (mel^γ).
    #[arg(long, default_value = "0.5")]
    pub refine_compression: Compression,
    /// Seed of the random initial phase (for `melnet sample` also of the draws).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initial phase of gla/fgla: random or zero (--init-phase, where offered, overrides it).
    #[arg(long, default_value = "random")]
    pub init: PhaseInit,
    /// Quiet: no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

impl InversionArgs {
    /// The library options.
    pub fn options(&self) -> InversionOptions {
        InversionOptions {
            mel_inverse: self.mel_inverse,
            nnls: NnlsOptions {
                max_iter: self.nnls_max_iter,
                ..NnlsOptions::default()
            },
            phase: PhaseOptions {
                method: self.phase,
                n_iter: self.n_iter.unwrap_or(self.phase.default_iterations()),
                momentum: self.momentum,
                seed: self.seed,
                init: self.init,
                lws: LwsOptions {
                    n_iter: self.lws_n_iter,
                    no_future: self.lws_no_future,
                    ..LwsOptions::default()
                },
            },
            refine: RefineOptions {
                n_iter: self
                    .refine_n_iter
                    .unwrap_or(RefineOptions::default().n_iter),
                compression: self.refine_compression,
            },
        }
    }
}

/// A progress bar over phase-retrieval and refinement iterations (hidden when `quiet` or when
/// stderr is not a terminal).
pub fn inversion_bar(quiet: bool) -> indicatif::ProgressBar {
    let bar = progress_bar(
        quiet,
        0,
        "{msg} [{bar:30}] {pos}/{len} iterations, ETA {eta}",
    );
    bar.set_message("inversion");
    bar
}

/// `--power`: the exponent of the magnitude, 1 (magnitude) or 2 (power).
pub fn parse_power(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(p) if p == 1.0 || p == 2.0 => Ok(p),
        _ => Err("1 (magnitude) or 2 (power)".into()),
    }
}

/// The progress bar of every long command: `template` (indicatif syntax) over `len` units,
/// hidden when `quiet` (indicatif also hides it when stderr is not a terminal).
pub fn progress_bar(quiet: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("progress templates are constants")
            .progress_chars("=> "),
    );
    bar
}

/// `--bias`, the sampling bias ([`melnet::SampleOptions::bias`]), checked: finite and
/// ≥ 0.
///
/// # Errors
/// Otherwise, naming the option.
pub fn sampling_bias(bias: f32) -> Result<f32> {
    if !bias.is_finite() || bias < 0.0 {
        anyhow::bail!("invalid parameter: --bias must be ≥ 0");
    }
    Ok(bias)
}

/// The error of a command that stopped cleanly after Ctrl-C (what it finished is kept); the
/// program exits with status 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// The process's Ctrl-C flag, its handler installed on first use: the first Ctrl-C sets the
/// flag (long jobs poll it, finish what they can and exit with 130), a second one exits at
/// once with 130.
pub fn interrupted() -> &'static std::sync::atomic::AtomicBool {
    use std::sync::atomic::{AtomicBool, Ordering};
    static FLAG: AtomicBool = AtomicBool::new(false);
    static HANDLER: std::sync::Once = std::sync::Once::new();
    HANDLER.call_once(|| {
        // Without a handler (e.g. one installed elsewhere), Ctrl-C keeps its default.
        let _ = ctrlc::set_handler(|| {
            if FLAG.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    });
    &FLAG
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo, `melnet say`'s callers in code and Python invert with the library's defaults:
    /// they must be the command line's.
    #[test]
    fn the_command_line_inverts_with_the_library_defaults() {
        use clap::FromArgMatches;
        let cmd = <InversionArgs as clap::Args>::augment_args(clap::Command::new("invert"));
        let args = InversionArgs::from_arg_matches(&cmd.get_matches_from(["invert"])).unwrap();
        assert_eq!(args.options(), InversionOptions::default());
    }
}
