//! Replays every committed fuzz input — the corpus in `fuzz/corpus/TARGET/` and the crashers
//! kept in `fuzz/artifacts/TARGET/` — through its target on the stable toolchain: each must
//! return (no panic) within a few seconds, under a 512 MiB memory budget.

use std::path::PathBuf;
use std::time::{Duration, Instant};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "artifacts"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz.join(kind).join(target)).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_is_handled() {
    std::env::set_var(melspec::limits::MEMORY_LIMIT_VAR, "512M");
    for (name, target) in melnet_fuzz::TARGETS {
        let files = inputs(name);
        assert!(!files.is_empty(), "no corpus for {name}");
        for path in files {
            let data = std::fs::read(&path).unwrap();
            let started = Instant::now();
            target(&data);
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{}: {:?}",
                path.display(),
                started.elapsed()
            );
        }
    }
}
