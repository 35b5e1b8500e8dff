//! `melnet prepare`: a folder of recordings → a training set (`frames.npy` + `manifest.json`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{bail, Result};
use melnet_data::dataset::{
    prepare, prepare::find_audio, LabelTable, Outcome, PrepareOptions, PrepareSettings, Progress,
    Shard,
};

use crate::args::{
    interrupted, parse_power, progress_bar, resolve, FrameArgs, MelArgs, PresetArgs,
};

/// Options of `melnet prepare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder searched recursively for audio files (wav, flac, ogg, mp3).
    pub input: PathBuf,
    /// Dataset directory (created if missing). Running the same command again finishes an
    /// interrupted run, adds new files, or does nothing when the dataset is complete.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub preset: PresetArgs,
    #[command(flatten)]
    pub frame: FrameArgs,
    #[command(flatten)]
    pub mel: MelArgs,
    /// Exponent of the magnitude: 2 = power, 1 = magnitude.
    #[arg(long, default_value = "2", value_parser = parse_power)]
    pub power: f32,
    /// Store dB values: per file power_to_db(ref=max, amin=1e-10, top_db=80) as `melnet mel
    /// --db` (the reference is kept per item in the manifest) [default: linear values].
    #[arg(long)]
    pub db: bool,
    /// Cut leading and trailing audio quieter than this many dB below the file's loudest
    /// frame [default: no trimming].
    #[arg(long = "trim-silence", value_name = "DB")]
    pub trim_silence: Option<f32>,
    /// Skip files shorter than this many seconds (after trimming).
    #[arg(long, default_value_t = 0.5)]
    pub min_seconds: f64,
    /// Skip files longer than this many seconds [default: no limit].
    #[arg(long)]
    pub max_seconds: Option<f64>,
    /// Fraction of files held out for validation (at least one file when there are two or
    /// more); the split is a deterministic function of the seed and the file's path.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Seed of the train/valid split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Largest number of frames per frame file: a larger dataset is stored as
    /// `frames-00000.npy`, `frames-00001.npy`, … of whole items (one file is `frames.npy`).
    #[arg(long, default_value_t = melnet_data::dataset::frames::DEFAULT_CHUNK_FRAMES)]
    pub chunk_frames: usize,
    /// Prepare only shard K of N (1 ≤ K ≤ N) of the files, assigned by content hash, into
    /// the output directory as parts and a `shard.json`; `melnet merge` assembles the N
    /// shard directories into one dataset, the same as one machine would have made.
    #[arg(long, value_name = "K/N", value_parser = |s: &str| Shard::parse(s).map_err(|e| e.to_string()))]
    pub shard: Option<Shard>,
    /// Label table (CSV with a header): the first column is the file's path relative to the
    /// input folder, the others either all numeric (a vector per file, e.g. `labels.csv` of
    /// `melnet synth render`) or one category column. Files without a row are skipped; the
    /// dataset keeps the labels in `labels.npy`, one row per item.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "labels_from_folders")]
    pub labels: Option<PathBuf>,
    /// Label each file with the sub-folder of the input folder it lies in (a category: a
    /// speaker, a class); files at the top level are skipped.
    #[arg(long)]
    pub labels_from_folders: bool,
    /// Stop after computing this many files, as an interruption would (for testing resume).
    #[arg(long, hide = true)]
    pub stop_after: Option<usize>,
    /// Quiet: no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `melnet prepare`.
pub fn run(args: Args) -> Result<()> {
    let mut params = resolve(&args.preset, Some(&args.frame), Some(&args.mel))?;
    params.power = args.power;
    if args.jobs == Some(0) {
        bail!("invalid parameter jobs = 0: must be at least 1");
    }
    let opts = PrepareOptions {
        params,
        settings: PrepareSettings {
            db: args.db,
            trim_silence_db: args.trim_silence,
            min_seconds: args.min_seconds,
            max_seconds: args.max_seconds,
            valid_fraction: args.valid_fraction,
            seed: args.seed,
        },
        jobs: args.jobs,
        stop_after: args.stop_after,
        chunk_frames: args.chunk_frames,
        shard: args.shard,
        labels: if args.labels_from_folders {
            Some(LabelTable::from_folders(&find_audio(&args.input)?)?)
        } else {
            args.labels.as_deref().map(LabelTable::read).transpose()?
        },
    };
    let cancel = interrupted();
    let bar = progress_bar(
        args.quiet,
        0,
        "{msg} [{bar:30}] {pos}/{len} files, ETA {eta}",
    );
    let frames = std::sync::atomic::AtomicUsize::new(0);
    let report = |p: &Progress| match p {
        Progress::Found(n) => bar.set_length(*n as u64),
        Progress::Done { frames: f, .. } => {
            let total = frames.fetch_add(*f, Ordering::Relaxed) + f;
            bar.set_message(format!("{total} frames"));
            bar.inc(1);
        }
        Progress::Skipped { path, reason } => {
            bar.println(format!("skipped {path}: {reason}"));
            bar.inc(1);
        }
    };
    let outcome = prepare(&args.input, &args.output, &opts, cancel, &report)?;
    bar.finish_and_clear();
    match outcome {
        Outcome::Complete {
            manifest,
            computed,
            reused,
        } => {
            let s = &manifest.stats;
            println!(
                "{}: {} files ({computed} computed, {reused} reused), {:.2} h, {} frames \
                 ({} train / {} valid files), {} skipped",
                args.output.display(),
                manifest.items.len(),
                s.seconds / 3600.0,
                manifest.total_frames,
                s.train_files,
                s.valid_files,
                manifest.skipped.len()
            );
            Ok(())
        }
        Outcome::Shard {
            shard,
            files,
            computed,
            reused,
        } => {
            println!(
                "{}: shard {shard}: {files} files ({computed} computed, {reused} reused); \
                 assemble the {} shards with `melnet merge`",
                args.output.display(),
                shard.count
            );
            Ok(())
        }
        Outcome::UpToDate(manifest) => {
            println!(
                "{}: up to date ({} files, {} frames)",
                args.output.display(),
                manifest.items.len(),
                manifest.total_frames
            );
            Ok(())
        }
        Outcome::Interrupted { done, remaining } => {
            eprintln!(
                "interrupted: {done} files done, {remaining} to go; run the same command again \
                 to finish"
            );
            Err(crate::args::Interrupted.into())
        }
    }
}
