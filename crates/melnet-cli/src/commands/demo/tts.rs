//! `melnet demo --tts`: the synthetic text-to-speech task end to end — render the toy corpus
//! ([`melnet_data::toy`]) → prepare → train a text-conditioned tier (time-boxed) → say the
//! held-out texts → read them back (character error rate) → an HTML page with the attention
//! alignment figures and audio.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use melnet::model_dir::NewModel;
use melnet::toy::{read_back, Reading};
use melnet::train::fit::StepOptions;
use melnet::train::optim::{AdamConfig, OptimizerConfig};
use melnet::train::plan::NewTier;
use melnet::{ModelConfig, SampleOptions};
use melnet_data::dataset::Dataset;
use melnet_data::toy::{held_out_texts, write_corpus};
use rand::SeedableRng;

use super::report::{data_uri, escape, timed, timing_table, Stage};
use super::{prepare_db, train_for, Args};
use crate::commands::sample::{write_alignment, write_sample};
use crate::commands::toy::mean_cer;
use crate::output::Outputs;
use melnet::eval::valid_nll;
use melspec::inverse::InversionOptions;

/// Recordings in the corpus.
const ITEMS: usize = 400;
/// Held-out texts said and read back.
const HELD_OUT: usize = 20;
/// Of those, the ones shown with audio and alignment.
const SHOWN: usize = 4;
/// Most frames per said text.
const MAX_FRAMES: usize = 160;
/// Adam's learning rate at the start: the text matters at few elements (a letter's bands at its
/// onset), and at 1e-3 the model had not learnt them after ten minutes (BENCHMARKS.md).
const LR: f64 = 1e-2;
/// The learning rate halves every this many epochs (~1,000 steps of the demo's corpus).
const LR_HALVE_EVERY_EPOCHS: f64 = 23.0;

/// Where `melnet demo --tts` writes: `--output`, else `out/demo-tts`.
fn output_dir(args: &Args) -> PathBuf {
    args.output
        .clone()
        .unwrap_or_else(|| PathBuf::from("out/demo-tts"))
}

/// Run `melnet demo --tts`.
pub fn run(args: &Args) -> Result<()> {
    let dir = output_dir(args);
    let (corpus, ds_dir, model_dir, samples) = (
        dir.join("corpus"),
        dir.join("dataset"),
        dir.join("model"),
        dir.join("samples"),
    );
    std::fs::create_dir_all(&samples)
        .with_context(|| format!("{}: cannot create", samples.display()))?;
    let _lock = melnet_data::lock::DirLock::acquire(&dir)?;
    let mut stages = Vec::new();
    let params = melspec::Preset::by_name("melnet-small")?.params;
    let held_out = held_out_texts(0, HELD_OUT);

    timed(&mut stages, "corpus", args.quiet, || {
        if !corpus.join("held-out.txt").is_file() {
            write_corpus(&corpus, ITEMS, 0, params, &held_out)?;
        }
        Ok(())
    })?;
    timed(&mut stages, "prepare", args.quiet, || {
        prepare_db(&corpus, &ds_dir, params, 0.1)
    })?;
    let ds = Dataset::open(&ds_dir)?;
    let (model, steps) = timed(&mut stages, "train", args.quiet, || {
        let new = NewModel {
            tiers: Some(1),
            transcripts: Some(corpus.join("metadata.csv")),
            ..NewModel::default()
        };
        let new_tier = NewTier {
            optimizer: OptimizerConfig::Adam(AdamConfig {
                lr: LR,
                ..AdamConfig::default()
            }),
            ..NewTier::default()
        };
        let step = StepOptions {
            lr_halve_every_epochs: Some(LR_HALVE_EVERY_EPOCHS),
            ..StepOptions::default()
        };
        train_for(
            &model_dir,
            &ds,
            &new,
            new_tier,
            step,
            args.minutes,
            args.quiet,
        )
    })?;
    let steps = steps[0];
    let nll = timed(&mut stages, "eval", args.quiet, || {
        Ok(valid_nll(&model, &model.load_tiers()?, &ds)?.0)
    })?;
    let (readings, shown) = timed(
        &mut stages,
        "say held-out texts + read back",
        args.quiet,
        || {
            let tiers = model.load_tiers()?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(0);
            let options = SampleOptions {
                bias: melnet::toy::READ_BIAS,
                range: model.range(),
            };
            let (generated, readings) =
                read_back(&model, &tiers, &held_out, MAX_FRAMES, options, &mut rng)?;
            let bins = model.config().n_mels;
            let total = generated.full.len() / (held_out.len() * bins);
            let mut outputs = Outputs::new(&[]);
            let mut shown = Vec::new();
            for (i, r) in readings.iter().take(SHOWN).enumerate() {
                let wav = samples.join(format!("said-{}.wav", i + 1));
                let files = [
                    wav.clone(),
                    wav.with_extension("npy"),
                    wav.with_extension("png"),
                ];
                let one = &generated.full[i * total * bins..(i * total + r.frames) * bins];
                let inversion = InversionOptions::default();
                write_sample(&mut outputs, &model, one, &files, &inversion, args.quiet)?;
                let png = wav.with_extension("attention.png");
                let window =
                    generated.attention(i, held_out.len(), r.text.chars().count(), r.frames);
                write_alignment(&mut outputs, &model, one, window.view(), &r.text, &png)?;
                shown.push((wav, png));
            }
            outputs.commit()?;
            Ok((readings, shown))
        },
    )?;
    let page = Page {
        args,
        dir: &dir,
        stages: &stages,
        steps,
        nll: nll.full,
        model: model.config(),
        readings: &readings,
        shown: &shown,
        items: ds.manifest().items.len(),
    };
    let index = dir.join("index.html");
    let mut outputs = Outputs::new(&[]);
    let tmp = outputs.stage(&index)?;
    std::fs::write(&tmp, page.render()?)?;
    outputs.commit()?;
    println!(
        "{}: mean CER {:.4} on {} held-out texts",
        index.display(),
        mean_cer(&readings),
        readings.len()
    );
    Ok(())
}

/// What the page shows.
struct Page<'a> {
    args: &'a Args,
    dir: &'a Path,
    stages: &'a [Stage],
    steps: u64,
    nll: f64,
    model: &'a ModelConfig,
    readings: &'a [Reading],
    shown: &'a [(PathBuf, PathBuf)],
    items: usize,
}

impl Page<'_> {
    fn render(&self) -> Result<String> {
        let mut html = String::new();
        html.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>melnet demo: synthetic text-to-speech</title><style>\
             body{font-family:sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}\
             img{max-width:100%;border:1px solid #ccc}audio{width:100%;margin-top:.3em}\
             figure{margin:1.5em 0}table{border-collapse:collapse}\
             td,th{border:1px solid #ccc;padding:.25em .7em;text-align:left}\
             td.n{text-align:right}code{background:#f3f3f3}\
             </style></head><body>\n<h1>melnet demo: synthetic text-to-speech</h1>\n",
        );
        let p = &self.model.params;
        writeln!(
            html,
            "<p>Every letter of <code>{}</code> is a chord of two tones on its own mel bands \
             with its own envelope, lasting 4–7 frames; words are separated by silence. A \
             one-tier MelNet with a character encoder and a Graves mixture-of-logistics \
             attention in its centralized stack was trained for {:.1} minutes ({} steps, {} \
             recordings, {} Hz, hop {}, {} mel bands, whole recordings of up to {} frames, \
             noise of standard deviation {} on its inputs; validation NLL {:.4} nats/element), \
             then asked to say {} texts it never saw (sampling bias {}). Each spectrogram is \
             read back by the loudest letter chord per frame.</p>",
            melnet_data::toy::LETTERS,
            self.args.minutes,
            self.steps,
            self.items,
            p.sr,
            p.stft.hop_length,
            p.n_mels,
            self.model.frames,
            melnet::train::fit::INPUT_NOISE,
            self.nll,
            self.readings.len(),
            melnet::toy::READ_BIAS
        )?;
        writeln!(
            html,
            "<h2>Character error rate: {:.2} %</h2><table><tr><th>text</th><th>read back</th>\
             <th>CER</th><th>frames</th><th>ended</th></tr>",
            100.0 * mean_cer(self.readings)
        )?;
        for r in self.readings {
            writeln!(
                html,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"n\">{:.3}</td>\
                 <td class=\"n\">{}</td><td>{}</td></tr>",
                escape(&r.text),
                escape(&r.said),
                r.cer,
                r.frames,
                if r.ended { "yes" } else { "no" }
            )?;
        }
        html.push_str("</table>\n<h2>Said, with the attention alignment</h2>\n");
        for ((wav, png), r) in self.shown.iter().zip(self.readings) {
            writeln!(
                html,
                "<figure><figcaption><b>\"{}\"</b> read back as \"{}\"</figcaption>\
                 <img alt=\"spectrogram and attention of {}\" src=\"{}\">\
                 <audio controls preload=\"auto\" src=\"{}\"></audio></figure>",
                escape(&r.text),
                escape(&r.said),
                escape(&r.text),
                data_uri(png, "image/png")?,
                data_uri(wav, "audio/wav")?
            )?;
        }
        writeln!(
            html,
            "<h2>Training</h2><figure><img alt=\"loss curve\" src=\"{}\"></figure>",
            data_uri(&self.dir.join("model/tier-1/loss.png"), "image/png")?
        )?;
        timing_table(&mut html, self.stages);
        writeln!(
            html,
            "</table>\n<p>Made by <code>melnet demo --tts -o {} --minutes {}</code>.</p>\n\
             </body></html>",
            escape(&output_dir(self.args).display().to_string()),
            self.args.minutes
        )?;
        Ok(html)
    }
}
