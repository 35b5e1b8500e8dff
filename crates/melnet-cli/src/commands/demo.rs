//! `melnet demo`: the whole mission on the bundled recordings — prepare → train (time-boxed)
//! → eval → sample (unconditional and primed) → invert — and a self-contained HTML report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::Parser;
use melspec::audio::{write_wav, WavFormat};
use melspec::convert::to_db_ref_max;
use melspec::dataset::{Dataset, Split};
use melspec::{MelSpectrogram, SpectrogramKind};

use crate::args::load_audio;
use crate::cli::{Cli, Command};
use crate::commands::sample::{self, Report};
use crate::commands::stft::{source_of, write_spectrogram};
use crate::commands::train::{read_data, valid_nll};
use crate::output::Outputs;
use crate::plot::{dataset_png, FreqAxis};

/// Options of `melnet demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory: the dataset, the run, the samples and `index.html`. Running the demo
    /// again into it reuses the dataset and continues training the run.
    #[arg(short, long, default_value = "out/demo")]
    pub output: PathBuf,
    /// Minutes of training.
    #[arg(long, default_value_t = 5.0)]
    pub minutes: f64,
    /// Folder of recordings to learn from.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Seconds of each generated sample (the primed one continues 2 s of a held-out
    /// recording for as long).
    #[arg(long, default_value_t = 4.0)]
    pub seconds: f64,
    /// Quiet: no progress bars.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Parse `argv` as a `melnet` command line (so every default is the command's own).
fn command(argv: &[String]) -> Result<Command> {
    let mut full = vec!["melnet".to_string()];
    full.extend_from_slice(argv);
    Ok(Cli::try_parse_from(&full)
        .map_err(|e| anyhow::anyhow!("internal command line {argv:?}: {e}"))?
        .command)
}

/// Run a `melnet` command line.
fn run_command(argv: &[String]) -> Result<()> {
    crate::commands::run(command(argv)?)
}

/// `p` as a command-line word.
fn word(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{}: not a UTF-8 path", p.display()))
}

/// One stage's name and wall-clock seconds.
struct Stage {
    name: &'static str,
    seconds: f64,
    note: String,
}

/// Time `f` as stage `name`.
fn timed<T>(
    stages: &mut Vec<Stage>,
    name: &'static str,
    quiet: bool,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if !quiet {
        eprintln!("== {name}");
    }
    let start = Instant::now();
    let value = f().with_context(|| format!("demo stage {name}"))?;
    stages.push(Stage {
        name,
        seconds: start.elapsed().as_secs_f64(),
        note: String::new(),
    });
    Ok(value)
}

/// Run `melnet demo`.
pub fn run(args: Args) -> Result<()> {
    if !args.minutes.is_finite() || args.minutes <= 0.0 {
        bail!("invalid parameter: --minutes must be positive");
    }
    if !args.seconds.is_finite() || args.seconds <= 0.0 {
        bail!("invalid parameter: --seconds must be positive");
    }
    if !args.data.is_dir() {
        bail!(
            "{}: no such folder of recordings (run the demo from the repository root, or give --data)",
            args.data.display()
        );
    }
    let dir = &args.output;
    let (ds_dir, run_dir, samples) = (dir.join("dataset"), dir.join("run"), dir.join("samples"));
    std::fs::create_dir_all(&samples)
        .with_context(|| format!("{}: cannot create", samples.display()))?;
    let quiet: Vec<String> = if args.quiet {
        vec!["-q".into()]
    } else {
        Vec::new()
    };
    let argv = |words: &[&str]| -> Vec<String> {
        words
            .iter()
            .map(|w| w.to_string())
            .chain(quiet.iter().cloned())
            .collect()
    };
    let mut stages = Vec::new();

    timed(&mut stages, "prepare", args.quiet, || {
        run_command(&argv(&[
            "prepare",
            word(&args.data)?,
            "-o",
            word(&ds_dir)?,
            "--preset",
            "melnet-small",
            "--db",
        ]))
    })?;
    let ds = Dataset::open(&ds_dir)?;
    let stats_png = dir.join("stats.png");
    {
        let mut outputs = Outputs::new();
        let tmp = outputs.stage(&stats_png)?;
        dataset_png(&tmp, ds.manifest(), word(&args.data)?)?;
        outputs.commit()?;
    }

    let resume = run_dir.join("state.json").exists();
    let minutes = args.minutes.to_string();
    timed(&mut stages, "train", args.quiet, || {
        let mut words = vec![
            "train",
            "--data",
            word(&ds_dir)?,
            "--out",
            word(&run_dir)?,
            "--steps",
            "1000000000",
            "--minutes",
            &minutes,
        ];
        if resume {
            words.push("--resume");
        }
        run_command(&argv(&words))
    })?;
    let nll = timed(&mut stages, "eval", args.quiet, || {
        valid_nll(&run_dir, &ds_dir)
    })?;
    let data = read_data(&run_dir)?;
    let trained = melnet::train::Trainer::load(&run_dir)?;
    let steps = trained.state().step;
    let config = trained.tier().config().clone();
    drop(trained);

    // A held-out recording: its start primes the model, its continuation is the reference.
    let held_out = ds
        .items(Some(Split::Valid))
        .next()
        .context("the dataset has no validation item")?
        .path
        .clone();
    let source = args.data.join(&held_out);
    let prime_seconds = 2.0f64;
    let p = data.params;
    let input_wav = samples.join("input.wav");
    timed(&mut stages, "input", args.quiet, || {
        let audio = load_audio(&source, p.sr)?;
        let keep =
            (((prime_seconds + args.seconds) * f64::from(p.sr)) as usize).min(audio.samples.len());
        let clip = &audio.samples[..keep];
        let mut mel = MelSpectrogram::new(p.stft(), p.mel(), p.power)?.process(clip)?;
        let scale = to_db_ref_max(
            mel.as_slice_mut().expect("mel spectrogram is contiguous"),
            p.power,
        );
        let sidecar = melspec::Sidecar {
            kind: SpectrogramKind::Mel,
            params: p,
            scale,
            shape: [mel.nrows(), mel.ncols()],
            source: Some(source_of(&source, &audio)),
        };
        let mut outputs = Outputs::new();
        write_spectrogram(
            &mut outputs,
            &input_wav.with_extension("npy"),
            mel.view(),
            &sidecar,
            Some(&input_wav.with_extension("png")),
            FreqAxis::Mel(p.mel()),
            &[],
        )?;
        let tmp = outputs.stage(&input_wav)?;
        write_wav(&tmp, clip, p.sr, WavFormat::F32)?;
        outputs.commit()
    })?;

    let seconds = args.seconds.to_string();
    let sample_with = |out: &Path, extra: &[&str]| -> Result<Report> {
        let mut words = vec![
            "sample",
            "--run",
            word(&run_dir)?,
            "-o",
            word(out)?,
            "--seconds",
            &seconds,
        ];
        words.extend_from_slice(extra);
        match command(&argv(&words))? {
            Command::Sample(a) => sample::sample(&a),
            _ => unreachable!("parsed a sample command line"),
        }
    };
    let primed = timed(&mut stages, "sample primed + invert", args.quiet, || {
        sample_with(
            &samples.join("primed.wav"),
            &[
                "--prime",
                word(&source)?,
                "--prime-seconds",
                &prime_seconds.to_string(),
            ],
        )
    })?;
    let unconditional = timed(
        &mut stages,
        "sample unconditional + invert",
        args.quiet,
        || {
            sample_with(
                &samples.join("unconditional.wav"),
                &["--count", "2", "--seed", "1"],
            )
        },
    )?;
    for (stage, report) in stages
        .iter_mut()
        .filter(|s| s.name.starts_with("sample"))
        .zip([&primed, &unconditional])
    {
        stage.note = format!(
            "generation {:.2} s, {:.1}× real time",
            report.seconds, report.real_time_factor
        );
    }

    let page = Page {
        args: &args,
        dir,
        stages: &stages,
        nll,
        steps,
        config: &config,
        data: &data,
        manifest: ds.manifest(),
        held_out: &held_out,
        prime_seconds,
        primed: &primed,
        unconditional: &unconditional,
    };
    let html = page.render()?;
    let index = dir.join("index.html");
    let mut outputs = Outputs::new();
    let tmp = outputs.stage(&index)?;
    std::fs::write(&tmp, html)?;
    outputs.commit()?;
    println!("{}", index.display());
    Ok(())
}

/// Everything the report shows.
struct Page<'a> {
    args: &'a Args,
    dir: &'a Path,
    stages: &'a [Stage],
    nll: f32,
    steps: u64,
    config: &'a melnet::TierConfig,
    data: &'a crate::commands::train::DataSettings,
    manifest: &'a melspec::dataset::Manifest,
    held_out: &'a str,
    prime_seconds: f64,
    primed: &'a Report,
    unconditional: &'a Report,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `path` as a `data:` URI (the page must open from disk with no other files).
fn data_uri(path: &Path, mime: &str) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

impl Page<'_> {
    /// A figure with its spectrogram image and audio player.
    fn example(&self, html: &mut String, title: &str, wav: &Path, text: &str) -> Result<()> {
        let rel = wav
            .strip_prefix(self.dir)
            .unwrap_or(wav)
            .display()
            .to_string();
        writeln!(
            html,
            "<figure><figcaption><b>{}</b> — {} <span class=\"file\">({})</span></figcaption>\
             <img alt=\"spectrogram of {}\" src=\"{}\">\
             <audio controls preload=\"auto\" src=\"{}\"></audio></figure>",
            escape(title),
            escape(text),
            escape(&rel),
            escape(title),
            data_uri(&wav.with_extension("png"), "image/png")?,
            data_uri(wav, "audio/wav")?,
        )?;
        Ok(())
    }

    fn render(&self) -> Result<String> {
        let m = self.manifest;
        let s = &m.stats;
        let p = &self.data.params;
        let c = self.config;
        let mut html = String::new();
        html.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>melnet demo</title><style>\
             body{font-family:sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}\
             img{max-width:100%;border:1px solid #ccc}audio{width:100%;margin-top:.3em}\
             figure{margin:1.5em 0}table{border-collapse:collapse}\
             td,th{border:1px solid #ccc;padding:.25em .7em;text-align:left}\
             td.n{text-align:right}.file{color:#777;font-size:.9em}code{background:#f3f3f3}\
             </style></head><body>\n<h1>melnet demo</h1>\n",
        );
        writeln!(
            html,
            "<p>A MelNet tier trained for {:.1} minutes ({} threads) on {} recordings \
             ({:.1} minutes of audio, {} frames; {} files for training, {} held out), then \
             sampled with the incremental sampler and inverted to audio by melspec \
             (NNLS mel inversion, PGHI + fast Griffin–Lim).</p>",
            self.args.minutes,
            rayon::current_num_threads(),
            m.items.len(),
            s.seconds / 60.0,
            m.total_frames,
            s.train_files,
            s.valid_files
        )?;
        writeln!(
            html,
            "<h2>Model</h2><table>\
             <tr><th>analysis</th><td>{} Hz, n_fft {}, hop {}, {} mel bands, dB</td></tr>\
             <tr><th>tier</th><td>{} layers, width {}, {} mixture components, centralized stack {}</td></tr>\
             <tr><th>training</th><td>{} steps of {} windows × {} frames</td></tr>\
             <tr><th>validation NLL</th><td>{:.4} nats/element ({:.4} bits/element)</td></tr>\
             </table>",
            p.sr,
            p.n_fft,
            p.hop_length,
            p.n_mels,
            c.layers,
            c.width,
            c.n_mixtures,
            if c.centralized { "on" } else { "off" },
            self.steps,
            self.data.batch,
            self.data.frames,
            self.nll,
            self.nll / std::f32::consts::LN_2
        )?;
        html.push_str("<h2>Input, continuation and samples</h2>\n");
        let input = self.dir.join("samples/input.wav");
        self.example(
            &mut html,
            "Input",
            &input,
            &format!(
                "the held-out recording {} (its first {:.0} s prime the model)",
                self.held_out, self.prime_seconds
            ),
        )?;
        self.example(
            &mut html,
            "Primed continuation",
            &self.primed.files[0][0],
            &format!(
                "{} primed frames from the input, then {} generated frames",
                self.primed.prime_frames, self.primed.frames
            ),
        )?;
        for (i, files) in self.unconditional.files.iter().enumerate() {
            self.example(
                &mut html,
                &format!("Unconditional sample {}", i + 1),
                &files[0],
                &format!(
                    "{} frames generated from nothing",
                    self.unconditional.frames
                ),
            )?;
        }
        writeln!(
            html,
            "<h2>Training</h2><figure><figcaption>Negative log-likelihood per element \
             (training batches and the fixed validation windows)</figcaption>\
             <img alt=\"loss curves\" src=\"{}\"></figure>",
            data_uri(&self.dir.join("run/loss.png"), "image/png")?
        )?;
        writeln!(
            html,
            "<h2>Dataset</h2><figure><figcaption>Per-item statistics and mean spectrum \
             ({})</figcaption><img alt=\"dataset statistics\" src=\"{}\"></figure>",
            escape(&self.args.data.display().to_string()),
            data_uri(&self.dir.join("stats.png"), "image/png")?
        )?;
        html.push_str("<h2>Timing</h2><table><tr><th>stage</th><th>seconds</th><th></th></tr>\n");
        for st in self.stages {
            writeln!(
                html,
                "<tr><td>{}</td><td class=\"n\">{:.2}</td><td>{}</td></tr>",
                st.name,
                st.seconds,
                escape(&st.note)
            )?;
        }
        writeln!(
            html,
            "</table>\n<p>Made by <code>melnet demo -o {} --minutes {}</code>; the files \
             behind this page are next to it.</p>\n</body></html>",
            escape(&self.dir.display().to_string()),
            self.args.minutes
        )?;
        Ok(html)
    }
}
