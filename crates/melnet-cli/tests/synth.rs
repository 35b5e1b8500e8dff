//! Synthesizer-preset datasets through the CLI: an example bank made in code → `synth render`
//! (with bred voices) → `prepare --labels` → `stats`; resuming; bad banks, settings and tables.

use std::path::Path;
use std::process::Command;

mod common;
use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const SHORT: [&str; 8] = [
    "--seconds",
    "0.6",
    "--note-seconds",
    "0.4",
    "--sr",
    "8000",
    "--quiet",
    "--jobs",
];

#[test]
fn bank_to_labelled_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let bank = dir.path().join("example.syx");
    melnet_ok(&["synth", "example-bank", "-o", s(&bank)]);
    assert_eq!(std::fs::metadata(&bank).unwrap().len(), 4104);
    let voices = dx7::bank::parse(&std::fs::read(&bank).unwrap()).unwrap();
    assert_eq!(voices.len(), 32);

    let render = dir.path().join("render");
    let args = [
        &[
            "synth",
            "render",
            s(&bank),
            "-o",
            s(&render),
            "--breed",
            "8",
            "--seed",
            "3",
        ][..],
        &SHORT,
        &["2"],
    ]
    .concat();
    let out = melnet_ok(&args);
    assert!(
        out.contains(
            "40 voices (32 from 1 banks, 0 duplicates dropped, 8 bred; 40 rendered, 0 reused)"
        ),
        "{out}"
    );
    // The tables: one row per voice, the learnable parameters as labels.
    let presets = std::fs::read_to_string(render.join("presets.csv")).unwrap();
    assert_eq!(presets.lines().count(), 41);
    assert!(presets
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("audio/00000.wav,EXAMPLE 00,"));
    assert!(presets
        .lines()
        .nth(33)
        .unwrap()
        .contains(",BRED000000,bred:"));
    let labels = std::fs::read_to_string(render.join("labels.csv")).unwrap();
    let header: Vec<&str> = labels.lines().next().unwrap().split(',').collect();
    assert_eq!(header.len(), 145);
    assert_eq!(
        (header[0], header[1], header[144]),
        ("file", "op6_eg_rate1", "pitch_mod_sens")
    );
    let params: ndarray::Array2<f32> = ndarray_npy::read_npy(render.join("params.npy")).unwrap();
    assert_eq!(params.dim(), (40, 155));
    assert!(params.iter().all(|v| (0.0..=1.0).contains(v)));
    // Row 0 is the first voice of the bank, normalised.
    assert_eq!(params.row(0).to_vec(), voices[0].normalised().to_vec());
    let audio = melspec::audio::load(&render.join("audio/00007.wav")).unwrap();
    assert_eq!((audio.sr, audio.samples.len()), (8000, 4800));
    assert!(
        audio.samples.iter().any(|v| v.abs() > 0.01),
        "the voice is audible"
    );

    // A second run reuses every file and writes the same tables.
    let again = melnet_ok(&args);
    assert!(again.contains("0 rendered, 40 reused"), "{again}");
    assert_eq!(
        std::fs::read_to_string(render.join("presets.csv")).unwrap(),
        presets
    );
    // Other settings in the same directory are refused.
    let mut other = args.clone();
    let sr = other.iter().position(|a| *a == "--sr").unwrap() + 1;
    other[sr] = "16000";
    assert_fails_cleanly(&other, "rendered with other settings", &render);

    // Prepare with the labels: every item keeps its row.
    let ds = dir.path().join("ds");
    melnet_ok(&[
        "prepare",
        s(&render),
        "-o",
        s(&ds),
        "--labels",
        s(&render.join("labels.csv")),
        "--preset",
        "speech",
        "--min-seconds",
        "0.1",
        "-q",
    ]);
    let dataset = melnet_data::dataset::Dataset::open(&ds).unwrap();
    let m = dataset.manifest();
    assert_eq!(m.labels.as_ref().unwrap().dim(), 144);
    assert_eq!(m.items.len() + m.skipped.len(), 40);
    for (i, item) in m.items.iter().enumerate() {
        let row: usize = item.path["audio/".len()..item.path.len() - 4]
            .parse()
            .unwrap();
        let learnable: Vec<f32> = params
            .row(row)
            .iter()
            .zip(dx7::voice::params())
            .filter(|(_, p)| p.learnable)
            .map(|(v, _)| *v)
            .collect();
        let label = dataset.label(i).unwrap();
        assert!(
            label
                .iter()
                .zip(&learnable)
                .all(|(a, b)| (a - b).abs() < 1e-6),
            "{}",
            item.path
        );
    }
    let stats = melnet_ok(&["stats", s(&ds)]);
    assert!(
        stats.contains("labels    vector of 144 (op6_eg_rate1 … pitch_mod_sens)"),
        "{stats}"
    );
}

#[test]
fn bad_banks_settings_and_tables_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let bank = dir.path().join("example.syx");
    melnet_ok(&["synth", "example-bank", "-o", s(&bank)]);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let target = out.join("render");

    // A bank whose checksum is wrong, and a file that is no bank: nothing to render.
    let mut bytes = std::fs::read(&bank).unwrap();
    bytes[4102] ^= 1;
    let corrupt = dir.path().join("corrupt.syx");
    std::fs::write(&corrupt, &bytes).unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a bank").unwrap();
    assert_fails_cleanly(
        &["synth", "render", s(&corrupt), s(&text), "-o", s(&target)],
        "no DX7 voices could be read: bulk dump 1: checksum",
        &out,
    );
    // Bad settings.
    for (flag, value, needle) in [
        ("--sr", "0", "sr"),
        ("--seconds", "0", "seconds"),
        ("--gain", "0", "gain"),
        ("--jobs", "0", "jobs"),
    ] {
        assert_fails_cleanly(
            &["synth", "render", s(&bank), "-o", s(&target), flag, value],
            needle,
            &out,
        );
    }
    // An hour per voice at 96 kHz under a 64 MB budget is refused before anything is written.
    let run = Command::new(env!("CARGO_BIN_EXE_melnet"))
        .args([
            "synth",
            "render",
            s(&bank),
            "-o",
            s(&target),
            "--seconds",
            "3600",
            "--sr",
            "96000",
        ])
        .env("MELNET_MEMORY_LIMIT", "64M")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("more than the limit") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(files_in(&out).is_empty());
    // The readable bank still renders next to a corrupt one, which is reported.
    let args = [
        &["synth", "render", s(&bank), s(&corrupt), "-o", s(&target)][..],
        &SHORT,
        &["2"],
    ]
    .concat();
    let report = melnet_ok(&args);
    assert!(
        report.contains("skipped") && report.contains("checksum"),
        "{report}"
    );

    // Label tables: malformed or missing ones are one-line errors and no dataset is written.
    let ds = out.join("ds");
    for (table, needle) in [
        (
            Some("file,a,b\naudio/00000.wav,1,x\n"),
            "line 2, column b: not a number",
        ),
        (Some("file,a\n"), "no rows"),
        (
            Some("file,a\naudio/00000.wav,1\naudio/00000.wav,2\n"),
            "listed twice",
        ),
        (None, "labels.csv"),
    ] {
        let path = dir.path().join("labels.csv");
        match table {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        let args = [
            "prepare",
            s(&target),
            "-o",
            s(&ds),
            "--labels",
            s(&path),
            "-q",
        ];
        assert_fails_cleanly(&args, needle, &out);
    }
}
