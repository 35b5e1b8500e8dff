//! `melnet presets`: the named analysis parameter sets as a table.

use anyhow::Result;
use melspec::PRESETS;

/// Options of `melnet presets` (none).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Print the presets.
pub fn run(_args: Args) -> Result<()> {
    println!(
        "{:<13} {:>6} {:>6} {:>5} {:>5} {:>5} {:>13}  note",
        "preset", "sr", "n_fft", "win", "hop", "mels", "fmin-fmax"
    );
    for p in PRESETS {
        let a = &p.params;
        let range = format!("{}-{}", a.fmin, a.fmax_hz());
        println!(
            "{:<13} {:>6} {:>6} {:>5} {:>5} {:>5} {:>13}  {}",
            p.name,
            a.sr,
            a.stft.n_fft,
            a.stft.win_length,
            a.stft.hop_length,
            a.n_mels,
            range,
            p.note
        );
    }
    Ok(())
}
