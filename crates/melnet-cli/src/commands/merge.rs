//! `melnet merge`: the shard directories of a sharded `prepare` → one dataset.

use std::path::PathBuf;

use anyhow::Result;
use melnet_data::dataset::LabelTable;

/// Options of `melnet merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The N shard directories made by `melnet prepare --shard K/N`, all of them.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Dataset directory to assemble into (created if missing); the result is the dataset
    /// `melnet prepare` would have made on one machine, byte for byte.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Largest number of frames per frame file (as `melnet prepare --chunk-frames`).
    #[arg(long, default_value_t = melnet_data::dataset::frames::DEFAULT_CHUNK_FRAMES)]
    pub chunk_frames: usize,
    /// The label table the shards were prepared with (`prepare --labels`).
    #[arg(long, value_name = "FILE.csv", conflicts_with = "labels_from_folders")]
    pub labels: Option<PathBuf>,
    /// The shards were prepared with `--labels-from-folders`.
    #[arg(long)]
    pub labels_from_folders: bool,
}

/// Run `melnet merge`.
pub fn run(args: Args) -> Result<()> {
    let labels = if args.labels_from_folders {
        let first = args.shards.first().expect("clap requires a shard");
        Some(LabelTable::from_folders(
            &melnet_data::dataset::shard::listing(first)?,
        )?)
    } else {
        args.labels.as_deref().map(LabelTable::read).transpose()?
    };
    let m = melnet_data::dataset::merge(&args.shards, &args.output, args.chunk_frames, labels)?;
    println!(
        "{}: {} shards merged: {} files, {:.2} h, {} frames in {} file(s) ({} train / {} valid \
         files), {} skipped",
        args.output.display(),
        args.shards.len(),
        m.items.len(),
        m.stats.seconds / 3600.0,
        m.total_frames,
        m.chunks.len(),
        m.stats.train_files,
        m.stats.valid_files,
        m.skipped.len()
    );
    Ok(())
}
