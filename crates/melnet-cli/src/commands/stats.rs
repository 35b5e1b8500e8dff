//! `melnet stats`: the summary of a prepared dataset, and its statistics figure.

use std::path::PathBuf;

use anyhow::{Context, Result};
use melnet_data::dataset::{Dataset, LabelKind, Skipped};

use crate::output::Outputs;
use crate::plot::dataset_png;

/// Options of `melnet stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset directory made by `melnet prepare`.
    pub dataset: PathBuf,
    /// Draw histograms of the per-item min/max/mean/std and the mean spectrum per mel band to
    /// this PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Skipped files listed one per line, at most (the manifest lists all).
const SKIPPED_SHOWN: usize = 10;

/// Run `melnet stats`.
pub fn run(args: Args) -> Result<()> {
    let ds = Dataset::open(&args.dataset)?;
    let m = ds.manifest();
    let s = &m.stats;
    let p = &m.params;
    println!("dataset   {}", args.dataset.display());
    println!(
        "analysis  sr {} Hz, n_fft {}, hop {}, {} mels {}–{} Hz, power {}, {}",
        p.sr,
        p.stft.n_fft,
        p.stft.hop_length,
        p.n_mels,
        p.fmin,
        p.fmax_hz(),
        p.power,
        if m.settings.db {
            "dB (ref = max per file, top_db 80)"
        } else {
            "linear"
        }
    );
    println!(
        "files     {} ({} train, {} valid), {} skipped",
        m.items.len(),
        s.train_files,
        s.valid_files,
        m.skipped.len()
    );
    println!(
        "audio     {:.3} h; frames {} ({} train, {} valid)",
        s.seconds / 3600.0,
        m.total_frames,
        s.train_frames,
        s.valid_frames
    );
    println!(
        "train     min {:.3}, max {:.3}, mean {:.3}, std {:.3}",
        s.all.min, s.all.max, s.all.mean, s.all.std
    );
    if let (Some(info), Some(labels)) = (&m.labels, ds.labels()) {
        println!("labels    {}", label_summary(&info.kind, labels));
    }
    if !m.skipped.is_empty() {
        println!("skipped   {}", skip_summary(&m.skipped));
        for skipped in m.skipped.iter().take(SKIPPED_SHOWN) {
            println!("          {}: {}", skipped.path, skipped.reason);
        }
        if m.skipped.len() > SKIPPED_SHOWN {
            println!(
                "          … and {} more (manifest.json lists every one)",
                m.skipped.len() - SKIPPED_SHOWN
            );
        }
    }
    if let Some(png) = &args.png {
        let mut outputs = Outputs::new(&[]);
        let tmp = outputs.stage(png)?;
        dataset_png(&tmp, m, ds.labels(), &args.dataset.display().to_string())
            .with_context(|| format!("{}: drawing the figure", png.display()))?;
        outputs.commit()?;
    }
    Ok(())
}

/// How many files were skipped and why, by kind of reason (its first `: `-separated part that
/// does not name the file, as decoding and I/O errors begin), most frequent first:
/// `370 files: 201 no label in the label table, 158 too long, 11 too short`.
fn skip_summary(skipped: &[Skipped]) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for s in skipped {
        let name = s.path.rsplit('/').next().unwrap_or_default();
        let kind = s
            .reason
            .split(": ")
            .find(|part| name.is_empty() || !part.contains(name))
            .unwrap_or("unreadable");
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    kinds.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!("{} files: {}", skipped.len(), parts.join(", "))
}

/// One line about a dataset's labels: per-class counts, or the range of the vectors.
fn label_summary(kind: &LabelKind, labels: ndarray::ArrayView2<f32>) -> String {
    match kind {
        LabelKind::Category { classes } => {
            let mut counts = vec![0usize; classes.len()];
            for &c in labels.column(0) {
                counts[c as usize] += 1;
            }
            let listed: Vec<String> = classes
                .iter()
                .zip(&counts)
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            format!("category, {} classes: {}", classes.len(), listed.join(", "))
        }
        LabelKind::Vector { names } => {
            let (lo, hi) = labels
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let mean =
                labels.iter().map(|&v| f64::from(v)).sum::<f64>() / labels.len().max(1) as f64;
            let span = match names.as_slice() {
                [one] => one.clone(),
                [first, .., last] => format!("{first} … {last}"),
                [] => String::new(),
            };
            format!(
                "vector of {} ({span}): min {lo:.3}, max {hi:.3}, mean {mean:.3}",
                names.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_files_are_counted_by_kind_of_reason() {
        let skip = |path: &str, reason: &str| Skipped {
            path: path.into(),
            reason: reason.into(),
        };
        let skipped = [
            skip("a.ogg", "too long: 8.92 s (maximum 6 s)"),
            skip("b.ogg", "no label in the label table"),
            skip("c.ogg", "too long: 6.66 s (maximum 6 s)"),
            skip("d.ogg", "silent"),
            skip("x/e.ogg", "/data/x/e.ogg: cannot decode audio: no track"),
            skip("f.ogg", "/data/f.ogg: cannot decode audio: bad header"),
        ];
        assert_eq!(
            skip_summary(&skipped),
            "6 files: 2 too long, 2 cannot decode audio, 1 no label in the label table, 1 silent"
        );
    }
}
