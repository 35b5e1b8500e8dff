//! `melnet demo` on the bundled recordings: the shipped English model says a few sentences,
//! then the whole mission from scratch — prepare → train (time-boxed) → eval → sample
//! (unconditional and primed) → invert — and a self-contained HTML report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use melnet::model::Nll;
use melnet::model_dir::NewModel;
use melnet::train::fit::StepOptions;
use melnet::train::plan::NewTier;
use melnet::train::Trainer;
use melnet::{Model, ModelConfig, SampleOptions, SampleRequest};
use melnet_data::dataset::{Dataset, Levels, Split};
use melspec::audio::{write_wav, WavFormat};
use melspec::db::to_db_ref_max;
use melspec::inverse::InversionOptions;
use melspec::{MelSpectrogram, SpectrogramKind};

use super::report::{data_uri, escape, timed, timing_table, Stage};
use super::{prepare_db, train_for, Args};
use crate::args::load_audio;
use crate::commands::sample::{self, Report};
use crate::commands::say;
use crate::output::write_spectrogram;
use crate::output::Outputs;
use crate::plot::{dataset_png, levels_png, spectrogram_png, FreqAxis, SpectrogramPlot};
use melnet::eval::valid_nll;
use rand::SeedableRng;

/// The demo's model: 3 tiers up to 64 mel bands over 64-frame windows (tier 1: 32 × 32,
/// tier 2: 32 × 32 conditioned on it along frequency, tier 3: 32 frames × 64 conditioned along
/// time).
const TIERS: usize = 3;
/// Full-resolution mel bands of the demo.
const N_MELS: usize = 64;
/// Full-resolution training window, frames.
const FRAMES: usize = 64;

/// What the shipped English model says at the top of the page: one sentence per voice, none of
/// them in its training text.
const SAID: [(&str, &str); 4] = [
    ("slt", "the weather was cold and wet all week"),
    ("rms", "she opened the door and looked outside"),
    ("awb", "we walked home after the game"),
    ("kal16", "he bought a new car last year"),
];

/// Unconditional spectrograms generated for the loudness comparison, and their seconds.
const LEVEL_COUNT: usize = 8;
/// See [`LEVEL_COUNT`].
const LEVEL_SECONDS: f64 = 10.0;

/// Run `melnet demo` on the bundled recordings (`args.minutes` checked).
pub fn run(args: &Args) -> Result<()> {
    if !args.seconds.is_finite() || args.seconds <= 0.0 {
        bail!("invalid parameter: --seconds must be positive");
    }
    if !args.data.is_dir() {
        bail!(
            "{}: no such folder of recordings (run the demo from the repository root, or give --data)",
            args.data.display()
        );
    }
    let dir = &args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("out/demo"));
    let (ds_dir, model_dir, samples) =
        (dir.join("dataset"), dir.join("model"), dir.join("samples"));
    std::fs::create_dir_all(&samples)
        .with_context(|| format!("{}: cannot create", samples.display()))?;
    // One demo at a time per folder (the dataset inside has its own lock).
    let _lock = melnet_data::lock::DirLock::acquire(dir)?;
    let mut stages = Vec::new();

    let said = timed(&mut stages, "say (shipped model)", args.quiet, || {
        say_examples(&dir.join("say"), args.quiet)
    })?;
    timed(&mut stages, "prepare", args.quiet, || {
        let mut params = melspec::Preset::by_name("melnet-small")?.params;
        params.n_mels = N_MELS;
        prepare_db(&args.data, &ds_dir, params, 0.5)
    })?;
    let ds = Dataset::open(&ds_dir)?;
    let stats_png = dir.join("stats.png");
    {
        let mut outputs = Outputs::new(&[]);
        let tmp = outputs.stage(&stats_png)?;
        dataset_png(
            &tmp,
            ds.manifest(),
            ds.labels(),
            &args.data.display().to_string(),
        )?;
        outputs.commit()?;
    }

    let (model, tier_steps) = timed(&mut stages, "train", args.quiet, || {
        let new = NewModel {
            tiers: Some(TIERS),
            frames: Some(FRAMES),
            ..NewModel::default()
        };
        train_for(
            &model_dir,
            &ds,
            &new,
            NewTier::default(),
            StepOptions::default(),
            args.minutes,
            args.quiet,
        )
    })?;
    let (nll, _, _) = timed(&mut stages, "eval", args.quiet, || {
        Ok(valid_nll(&model, &model.load_tiers()?, &ds)?)
    })?;
    let configs: Vec<melnet::TierConfig> = (1..=TIERS)
        .map(|g| Trainer::read_config(&model.tier_dir(g)))
        .collect::<melnet::Result<_>>()?;

    // A held-out recording: its start primes the model, its continuation is the reference.
    let held_out = ds
        .items(Some(Split::Valid))
        .next()
        .context("the dataset has no validation item")?
        .path
        .clone();
    let source = args.data.join(&held_out);
    let prime_seconds = 2.0f64;
    let p = model.config().params;
    let input_wav = samples.join("input.wav");
    timed(&mut stages, "input", args.quiet, || {
        let audio = load_audio(&source, p.sr)?;
        let keep =
            (((prime_seconds + args.seconds) * f64::from(p.sr)) as usize).min(audio.samples.len());
        let clip = &audio.samples[..keep];
        let mut mel = MelSpectrogram::new(p.stft, p.mel(), p.power)?.process(clip)?;
        let scale = to_db_ref_max(
            mel.as_slice_mut().expect("mel spectrogram is contiguous"),
            p.power,
        )?;
        let sidecar = melspec::Sidecar {
            kind: SpectrogramKind::Mel,
            params: p,
            scale,
            shape: [mel.nrows(), mel.ncols()],
            source: Some(melspec::sidecar::Source::of(&source, &audio)),
        };
        let mut outputs = Outputs::new(&[]);
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

    let tiers = model.load_tiers()?;
    let sample_with = |out: &Path, count: usize, seed: u64, prime: Option<&Path>| {
        let prime = match prime {
            Some(path) => Some(model.read_spectrogram(path, prime_seconds)?),
            None => None,
        };
        let request = SampleRequest {
            frames: model.frames_for("--seconds", args.seconds)?,
            count,
            prime: prime.as_ref(),
            label: None,
            text: None,
            bias: 0.0,
            seed,
        };
        let drawn = sample::draw(&model, &tiers, &request, args.quiet)?;
        let inversion = InversionOptions::seeded(seed);
        sample::write_report(&model, drawn, out, None, &inversion, args.quiet)
    };
    let primed = timed(&mut stages, "sample primed + invert", args.quiet, || {
        sample_with(&samples.join("primed.wav"), 1, 0, Some(&source))
    })?;
    let unconditional = timed(
        &mut stages,
        "sample unconditional + invert",
        args.quiet,
        || sample_with(&samples.join("unconditional.wav"), 2, 1, None),
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
    // The first unconditional sample as each tier left it, coarse to fine.
    let levels = timed(&mut stages, "tier figures", args.quiet, || {
        level_pngs(&model, &unconditional, &samples)
    })?;

    // Loudness: LEVEL_COUNT unconditional spectrograms of LEVEL_SECONDS (no audio) against
    // the training data.
    let loudness = timed(&mut stages, "levels", args.quiet, || {
        let frames = (LEVEL_SECONDS * f64::from(p.sr) / p.stft.hop_length as f64).ceil() as usize;
        let tiers = model.load_tiers()?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let options = SampleOptions {
            bias: 0.0,
            range: model.range(),
        };
        let generated = model.generate(
            &tiers,
            frames,
            LEVEL_COUNT,
            None,
            &Default::default(),
            options,
            &mut rng,
            |_, _, _| {},
        )?;
        let ours = model
            .levels(&generated.full, LEVEL_COUNT, 0)
            .context("the demo's dataset is in dB")?;
        let data = ds.levels(Some(Split::Train))?;
        let png = samples.join("levels.png");
        let mut outputs = Outputs::new(&[]);
        let tmp = outputs.stage(&png)?;
        levels_png(
            &tmp,
            &data,
            &ours,
            &format!(
                "mean level per mel band: training data vs {LEVEL_COUNT} unconditional samples of {LEVEL_SECONDS} s"
            ),
        )?;
        outputs.commit()?;
        Ok(Loudness { data, ours, png })
    })?;

    let page = Page {
        args,
        dir,
        said: &said,
        stages: &stages,
        nll: &nll,
        tier_steps: &tier_steps,
        configs: &configs,
        model: model.config(),
        manifest: ds.manifest(),
        held_out: &held_out,
        prime_seconds,
        primed: &primed,
        unconditional: &unconditional,
        levels: &levels,
        loudness: &loudness,
    };
    let html = page.render()?;
    let index = dir.join("index.html");
    let mut outputs = Outputs::new(&[]);
    let tmp = outputs.stage(&index)?;
    std::fs::write(&tmp, html)?;
    outputs.commit()?;
    println!("{}", index.display());
    Ok(())
}

/// The shipped English model ([`SAID`]) saying its sentences into `dir`, or why it cannot (no
/// model where `melnet say` looks, other voices, tiers that do not load): the page says so and
/// the demo goes on.
fn say_examples(dir: &Path, quiet: bool) -> Result<std::result::Result<Vec<say::Said>, String>> {
    let model = say::default_model();
    let usable = Model::open(&model).and_then(|m| {
        let tiers = m.load_tiers()?;
        Ok((m, tiers))
    });
    let (loaded, tiers) = match usable {
        Ok(usable) => usable,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let speakers = loaded.config().labels.clone().unwrap_or_default();
    if let Some((voice, _)) = SAID.iter().find(|(v, _)| !speakers.iter().any(|s| s == v)) {
        return Ok(Err(format!(
            "{}: has no voice {voice} (its labels: {speakers:?})",
            model.display()
        )));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    SAID.iter()
        .map(|(voice, text)| {
            let request = say::Request {
                text,
                speaker: Some(voice),
                max_seconds: 10.0,
                bias: 0.0,
                output: &dir.join(format!("{voice}.wav")),
                inversion: InversionOptions::default(),
                quiet,
            };
            say::say_with(&loaded, &tiers, &request, Instant::now())
        })
        .collect::<Result<Vec<_>>>()
        .map(Ok)
}

/// Figures of the first spectrogram of `report` after each tier (x^{≤g}, g = 1 … G), each
/// stretched to the full grid by repeating rows so that all share the axes; returns their
/// paths with a caption.
fn level_pngs(model: &Model, report: &Report, dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let c = model.config();
    let full = report
        .generated
        .levels
        .last()
        .map(|(g, _)| *g)
        .context("no tiers")?;
    let p = c.params;
    let mut out = Vec::new();
    for (g, (grid, values)) in report.generated.levels.iter().enumerate() {
        let one = &values[..grid.len()];
        // Nearest row of the level for every full-resolution element.
        let mut stretched = vec![0.0f32; full.len()];
        for t in 0..full.frames {
            let lt = (t * grid.frames / full.frames).min(grid.frames.max(1) - 1);
            for f in 0..full.bins {
                let lf = (f * grid.bins / full.bins).min(grid.bins.max(1) - 1);
                stretched[t * full.bins + f] = one[lt * grid.bins + lf];
            }
        }
        let (db, _) = model.to_dataset_scale(&stretched);
        let path = dir.join(format!("tiers-1-{}.png", g + 1));
        let caption = format!(
            "after tier {}: {} frames × {} bins{}",
            g + 1,
            grid.frames,
            grid.bins,
            if g == 0 { " (tier 1 alone)" } else { "" }
        );
        let mut outputs = Outputs::new(&[]);
        let tmp = outputs.stage(&path)?;
        spectrogram_png(
            &tmp,
            &SpectrogramPlot {
                db: db.view(),
                axis: FreqAxis::Mel(p.mel()),
                frame_seconds: p.stft.hop_length as f64 / f64::from(p.sr),
                title: format!("unconditional sample 1, {caption}"),
            },
        )?;
        outputs.commit()?;
        out.push((path, caption));
    }
    Ok(out)
}

/// Everything the report shows.
struct Page<'a> {
    args: &'a Args,
    dir: &'a Path,
    said: &'a std::result::Result<Vec<say::Said>, String>,
    stages: &'a [Stage],
    nll: &'a Nll,
    tier_steps: &'a [u64],
    configs: &'a [melnet::TierConfig],
    model: &'a ModelConfig,
    manifest: &'a melnet_data::dataset::Manifest,
    held_out: &'a str,
    prime_seconds: f64,
    primed: &'a Report,
    unconditional: &'a Report,
    levels: &'a [(PathBuf, String)],
    loudness: &'a Loudness,
}

/// Unconditional samples' levels against the training data's, and their figure.
struct Loudness {
    data: Levels,
    ours: Levels,
    png: PathBuf,
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

    /// The shipped English model's sentences: text, audio, spectrogram and attention.
    fn said_html(&self, html: &mut String) -> Result<()> {
        let said = match self.said {
            Ok(said) => said,
            Err(why) => {
                writeln!(
                    html,
                    "<h2>The shipped English model</h2><p>Not available: {} \
                     (<code>scripts/recipes/tts-en.sh</code> trains it into \
                     <code>models/tts-en</code>).</p>",
                    escape(why)
                )?;
                return Ok(());
            }
        };
        html.push_str(
            "<h2>The shipped English model says</h2><p>Sentences it never trained on, one per \
             voice, as <code>melnet say \"TEXT\" --speaker VOICE -o OUT.wav</code> says them \
             with <code>models/tts-en</code> (trained by <code>scripts/recipes/tts-en.sh</code> \
             on WordNet's examples read by four flite voices; see BENCHMARKS.md for how well a \
             recogniser reads it). Under each spectrogram: the attention window, which character \
             the model reads at each of tier 1's frames.</p>\n",
        );
        for s in said {
            let speaker = s.speech.speaker.as_deref().unwrap_or("");
            let rel = s
                .wav
                .strip_prefix(self.dir)
                .unwrap_or(&s.wav)
                .display()
                .to_string();
            writeln!(
                html,
                "<figure><figcaption><b>{}</b> — “{}” ({:.1} s of audio in {:.1} s, text to \
                 WAV{}) <span class=\"file\">({})</span></figcaption>\
                 <img alt=\"spectrogram and attention of {}\" src=\"{}\">\
                 <audio controls preload=\"auto\" src=\"{}\"></audio></figure>",
                escape(speaker),
                escape(&s.speech.text),
                s.audio_seconds,
                s.seconds,
                if !s.speech.ended() {
                    "; the text did not end within 10 s"
                } else {
                    ""
                },
                escape(&rel),
                escape(speaker),
                data_uri(&s.wav.with_extension("attention.png"), "image/png")?,
                data_uri(&s.wav, "audio/wav")?,
            )?;
        }
        Ok(())
    }

    fn render(&self) -> Result<String> {
        let m = self.manifest;
        let s = &m.stats;
        let p = &self.model.params;
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
        self.said_html(&mut html)?;
        writeln!(
            html,
            "<h2>From scratch: a MelNet trained here for {:.1} minutes</h2>\
             <p>A {}-tier MelNet trained for {:.1} minutes in all ({} threads) on {} recordings \
             ({:.1} minutes of audio, {} frames; {} files for training, {} held out), then \
             sampled tier by tier with the incremental sampler and inverted to audio by melspec \
             (NNLS mel inversion, PGHI + fast Griffin–Lim, signal-domain refinement).</p>",
            self.args.minutes,
            self.model.tiers,
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
            "<h3>Model</h3><p>Analysis: {} Hz, n_fft {}, hop {}, {} mel bands, dB; \
             training windows of {} frames at full resolution.</p><table>\
             <tr><th>tier</th><th>models</th><th>layers × width, K</th><th>centralized</th>\
             <th>steps</th><th>validation NLL (nats/element)</th></tr>",
            p.sr, p.stft.n_fft, p.stft.hop_length, p.n_mels, self.model.frames
        )?;
        let shapes = melnet::multiscale::tier_shapes(
            melnet::multiscale::Grid {
                frames: self.model.frames,
                bins: self.model.n_mels,
            },
            self.model.tiers,
        );
        for (g, c) in self.configs.iter().enumerate() {
            let shape = shapes[g];
            writeln!(
                html,
                "<tr><td>{}</td><td>{} frames × {} bins{}</td><td>{} × {}, {}</td><td>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{:.4}</td></tr>",
                g + 1,
                shape.grid.frames,
                shape.grid.bins,
                match shape.conditioning {
                    Some((axis, _)) =>
                        format!(", conditioned on tiers 1–{} (split along {axis:?})", g),
                    None => ", unconditional".into(),
                },
                c.layers,
                c.width,
                c.n_mixtures,
                if c.centralized { "on" } else { "off" },
                self.tier_steps.get(g).copied().unwrap_or(0),
                self.nll.tiers[g]
            )?;
        }
        writeln!(
            html,
            "<tr><th colspan=\"5\">full resolution (sum over tiers / elements)</th>\
             <td class=\"n\">{:.4} ({:.4} bits)</td></tr></table>",
            self.nll.full,
            self.nll.full / std::f64::consts::LN_2
        )?;
        html.push_str("<h3>Input, continuation and samples</h3>\n");
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
        html.push_str(
            "<h3>Tier by tier</h3><p>The first unconditional sample as the tiers built it: \
             tier 1 draws a coarse spectrogram, each tier above fills in the rows between \
             (shown stretched to the full grid).</p>\n",
        );
        for (png, caption) in self.levels {
            writeln!(
                html,
                "<figure><figcaption>{}</figcaption><img alt=\"{}\" src=\"{}\"></figure>",
                escape(caption),
                escape(caption),
                data_uri(png, "image/png")?
            )?;
        }
        let l = self.loudness;
        let silent = l
            .ours
            .second_half_floor_shares()
            .iter()
            .filter(|&&v| v >= 0.9)
            .count();
        writeln!(
            html,
            "<h3>Loudness</h3><p>{LEVEL_COUNT} unconditional samples of {LEVEL_SECONDS} s \
             (spectrograms only) against the training data: {:.1} % of their elements at the \
             −80 dB floor (the data: {:.1} %); {silent} of {LEVEL_COUNT} with a second half \
             ≥ 90 % floor; mean level {:.1} dB (the data: {:.1} dB). A model that has learnt \
             the data's loudness keeps these close; one whose samples fall silent shows a \
             large floor share and a low curve.</p>\
             <figure><figcaption>Mean level per mel band</figcaption>\
             <img alt=\"mean level per mel band, data and samples\" src=\"{}\"></figure>",
            100.0 * l.ours.floor_share(),
            100.0 * l.data.floor_share(),
            l.ours.mean(),
            l.data.mean(),
            data_uri(&l.png, "image/png")?
        )?;
        html.push_str("<h3>Training</h3>\n");
        for g in 1..=self.model.tiers {
            writeln!(
                html,
                "<figure><figcaption>Tier {g}: negative log-likelihood per element \
                 (training batches and the fixed validation windows)</figcaption>\
                 <img alt=\"loss curves of tier {g}\" src=\"{}\"></figure>",
                data_uri(
                    &self.dir.join(format!("model/tier-{g}/loss.png")),
                    "image/png"
                )?
            )?;
        }
        writeln!(
            html,
            "<h3>Dataset</h3><figure><figcaption>Per-item statistics and mean spectrum \
             ({})</figcaption><img alt=\"dataset statistics\" src=\"{}\"></figure>",
            escape(&self.args.data.display().to_string()),
            data_uri(&self.dir.join("stats.png"), "image/png")?
        )?;
        timing_table(&mut html, self.stages);
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
