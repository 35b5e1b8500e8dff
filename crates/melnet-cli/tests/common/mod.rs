//! Helpers shared by the CLI test files: running the binary and checking clean failures.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// Layers of a model that trains a step in milliseconds.
pub const TINY: [&str; 11] = [
    "--layers",
    "1",
    "--width",
    "8",
    "--mixtures",
    "2",
    "--frames",
    "8",
    "--batch",
    "2",
    "-q",
];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn speech() -> PathBuf {
    repo().join("data/speech/goforward.wav")
}

/// Copies of three short bundled speech clips in the folder `dir` (created if missing).
pub fn copy_speech(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["goforward.wav", "numbers.wav", "something.wav"] {
        std::fs::copy(repo().join("data/speech").join(f), dir.join(f)).unwrap();
    }
}

pub struct Run {
    pub code: i32,
    pub stderr: String,
}

pub fn melnet(args: &[&str]) -> Run {
    melnet_env(args, &[])
}

/// Runs melnet with extra environment variables `(name, value)`; returns exit code and stderr.
pub fn melnet_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("melnet runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs melnet, expecting success; returns its stdout.
pub fn melnet_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args(args)
        .output()
        .expect("melnet runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A failing run: exit 1, exactly one line on stderr mentioning `needle`, and `dir` unchanged.
pub fn assert_fails_cleanly(args: &[&str], needle: &str, dir: &Path) {
    let before = files_in(dir);
    let run = melnet(args);
    assert_eq!(run.code, 1, "{args:?}: exit code; stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: stderr must be one line: {}",
        run.stderr
    );
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(
        lines[0].contains(needle),
        "{args:?}: '{}' does not mention '{needle}'",
        lines[0]
    );
    assert_eq!(files_in(dir), before, "{args:?}: output left behind");
}
