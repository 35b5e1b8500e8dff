//! Training sets of mel frames: a folder of recordings → frame files `(total_frames, n_mels)`
//! (`frames.npy`, or `frames-00000.npy`, … for large corpora; time-major, f32, readable with
//! `np.load(..., mmap_mode="r")`) and `manifest.json`.

pub mod frames;
pub mod labels;
pub mod levels;
pub mod manifest;
mod parts;
pub mod prepare;
pub mod reader;
pub mod shard;
pub mod transcripts;

pub use labels::{LabelInfo, LabelKind, LabelTable};
pub use levels::{Levels, DB_FLOOR};
pub use manifest::{
    CorpusStats, Item, Manifest, Normalization, PrepareSettings, Skipped, Split, Summary,
    MANIFEST_FILE,
};
pub use prepare::{prepare, Outcome, PrepareOptions, Progress};
pub use reader::{Dataset, WindowIndex, WindowSampler};
pub use shard::{merge, Shard};
pub use transcripts::Transcripts;
