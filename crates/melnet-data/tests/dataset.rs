//! Dataset preparation and reading on bundled real recordings.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use melnet_data::dataset::{
    prepare, Dataset, LabelTable, Normalization, Outcome, PrepareOptions, PrepareSettings, Split,
};
use melspec::db::power_to_db;
use melspec::{DbRef, MelSpectrogram, Preset};
use rand::SeedableRng;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(rel)
}

const FILES: &[&str] = &[
    "speech/goforward.wav",
    "speech/numbers.wav",
    "speech/something.wav",
    "music/ambi_piano.flac",
    "singing/ambi_choir.flac",
];

/// A folder with copies of `files` (keeping their sub-folders).
fn input_with(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        let dest = dir.path().join(f);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(data(f), dest).unwrap();
    }
    dir
}

fn options() -> PrepareOptions {
    let settings = PrepareSettings {
        db: true,
        valid_fraction: 0.2,
        ..PrepareSettings::default()
    };
    PrepareOptions {
        jobs: Some(2),
        ..PrepareOptions::new(Preset::by_name("melnet-small").unwrap().params, settings)
    }
}

fn run(input: &Path, output: &Path, opts: &PrepareOptions) -> Outcome {
    prepare(input, output, opts, &AtomicBool::new(false), &|_| {}).unwrap()
}

#[test]
fn frames_match_the_mel_of_each_file_and_stats_match() {
    let input = input_with(FILES);
    let out = tempfile::tempdir().unwrap();
    let opts = options();
    assert!(matches!(
        run(input.path(), out.path(), &opts),
        Outcome::Complete { .. }
    ));
    let ds = Dataset::open(out.path()).unwrap();
    let m = ds.manifest();
    assert_eq!(m.items.len(), FILES.len());
    let p = opts.params;
    let plan = MelSpectrogram::new(p.stft, p.mel(), p.power).unwrap();
    let (mut sum, mut sum_sq, mut n) = (vec![0.0f64; 32], vec![0.0f64; 32], 0usize);
    for item in &m.items {
        let audio = melspec::audio::load_resampled(&input.path().join(&item.path), p.sr).unwrap();
        let mut mel = plan.process(&audio.samples).unwrap();
        let r = power_to_db(mel.as_slice_mut().unwrap(), DbRef::Max, 1e-10, Some(80.0)).unwrap();
        assert_eq!(item.db_reference, Some(r));
        let frames = ds.item_frames(item).unwrap();
        assert_eq!(frames, mel.t(), "{}", item.path);
        let values: Vec<f64> = frames.iter().map(|v| f64::from(*v)).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let std =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!((item.stats.mean - mean).abs() < 1e-6 * mean.abs().max(1.0));
        assert!((item.stats.std - std).abs() < 1e-6 * std.max(1.0));
        if item.split == Split::Train {
            for row in frames.rows() {
                for (k, v) in row.iter().enumerate() {
                    sum[k] += f64::from(*v);
                    sum_sq[k] += f64::from(*v).powi(2);
                }
                n += 1;
            }
        }
    }
    assert_eq!(m.stats.train_frames, n);
    for k in 0..32 {
        let mean = sum[k] / n as f64;
        let std = (sum_sq[k] / n as f64 - mean * mean).sqrt();
        assert!((m.stats.mel_mean[k] - mean).abs() < 1e-6 * mean.abs().max(1.0));
        assert!((m.stats.mel_std[k] - std).abs() < 1e-5 * std.max(1.0));
    }
    // Numpy reads frames.npy as (total_frames, n_mels).
    let all = melspec::npy::read_f32_2d(&out.path().join("frames.npy")).unwrap();
    assert_eq!(all.dim(), (m.total_frames, 32));
}

fn bytes(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

#[test]
fn interrupted_run_resumes_to_identical_output() {
    let input = input_with(FILES);
    let whole = tempfile::tempdir().unwrap();
    run(input.path(), whole.path(), &options());

    let resumed = tempfile::tempdir().unwrap();
    let stopped = PrepareOptions {
        stop_after: Some(2),
        chunk_frames: melnet_data::dataset::frames::DEFAULT_CHUNK_FRAMES,
        shard: None,
        ..options()
    };
    match run(input.path(), resumed.path(), &stopped) {
        Outcome::Interrupted { done, remaining } => {
            assert_eq!((done, remaining), (2, FILES.len() - 2));
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
    assert!(!resumed.path().join("manifest.json").exists());
    match run(input.path(), resumed.path(), &options()) {
        Outcome::Complete {
            computed, reused, ..
        } => assert_eq!((computed, reused), (FILES.len() - 2, 2)),
        other => panic!("expected completion, got {other:?}"),
    }
    assert!(bytes(whole.path(), "frames.npy") == bytes(resumed.path(), "frames.npy"));
    let text = |d: &Path| String::from_utf8(bytes(d, "manifest.json")).unwrap();
    assert_eq!(text(whole.path()), text(resumed.path()));
    // Finished: a re-run changes nothing.
    assert!(matches!(
        run(input.path(), resumed.path(), &options()),
        Outcome::UpToDate(_)
    ));
}

#[test]
fn added_files_are_the_only_ones_computed() {
    let input = input_with(&FILES[..3]);
    let out = tempfile::tempdir().unwrap();
    run(input.path(), out.path(), &options());
    std::fs::create_dir_all(input.path().join("music")).unwrap();
    std::fs::copy(data(FILES[3]), input.path().join(FILES[3])).unwrap();
    match run(input.path(), out.path(), &options()) {
        Outcome::Complete {
            computed,
            reused,
            manifest,
        } => {
            assert_eq!((computed, reused), (1, 3));
            assert_eq!(manifest.items.len(), 4);
        }
        other => panic!("expected completion, got {other:?}"),
    }
    // Other parameters for the same directory are refused.
    let mut other = options();
    other.params.n_mels = 40;
    assert!(prepare(
        input.path(),
        out.path(),
        &other,
        &AtomicBool::new(false),
        &|_| {}
    )
    .is_err());
}

#[test]
fn split_is_deterministic_and_has_a_valid_file() {
    let input = input_with(FILES);
    let splits = |seed: u64| {
        let out = tempfile::tempdir().unwrap();
        let mut opts = options();
        opts.settings.seed = seed;
        run(input.path(), out.path(), &opts);
        let ds = Dataset::open(out.path()).unwrap();
        ds.manifest()
            .items
            .iter()
            .map(|i| (i.path.clone(), i.split))
            .collect::<Vec<_>>()
    };
    let a = splits(7);
    assert_eq!(a, splits(7));
    for seed in [0, 1, 2, 3] {
        let s = splits(seed);
        assert!(
            s.iter().any(|(_, split)| *split == Split::Valid),
            "seed {seed}"
        );
        assert!(
            s.iter().any(|(_, split)| *split == Split::Train),
            "seed {seed}"
        );
    }
}

#[test]
fn bad_files_are_skipped_and_listed() {
    let input = input_with(&FILES[..2]);
    std::fs::write(input.path().join("broken.wav"), "this is not a wav file").unwrap();
    melspec::audio::write_wav(
        &input.path().join("short.wav"),
        &[0.1; 1000],
        16000,
        melspec::audio::WavFormat::F32,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let Outcome::Complete { manifest, .. } = run(input.path(), out.path(), &options()) else {
        panic!("expected completion");
    };
    assert_eq!(manifest.items.len(), 2);
    let skipped: Vec<&str> = manifest.skipped.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(skipped, ["broken.wav", "short.wav"]);
    assert!(manifest.skipped[1].reason.contains("too short"));

    let empty = tempfile::tempdir().unwrap();
    let err = prepare(
        empty.path(),
        out.path(),
        &options(),
        &AtomicBool::new(false),
        &|_| {},
    );
    assert!(err.is_err());
    let only_bad = tempfile::tempdir().unwrap();
    std::fs::write(only_bad.path().join("x.wav"), "nope").unwrap();
    let out2 = tempfile::tempdir().unwrap();
    let err = prepare(
        only_bad.path(),
        out2.path(),
        &options(),
        &AtomicBool::new(false),
        &|_| {},
    );
    assert!(err.is_err());
}

#[test]
fn windows_cover_valid_positions_and_stay_inside_items() {
    let input = input_with(FILES);
    let out = tempfile::tempdir().unwrap();
    run(input.path(), out.path(), &options());
    let ds = Dataset::open(out.path()).unwrap();
    let n = 60;
    let sampler = ds.windows(Split::Train, n, false).unwrap();
    let items: Vec<_> = ds.items(Some(Split::Train)).cloned().collect();
    let expected: u64 = items
        .iter()
        .filter(|i| i.n_frames() >= n)
        .map(|i| (i.n_frames() - n + 1) as u64)
        .sum();
    assert_eq!(sampler.positions(), expected);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut seen = std::collections::HashSet::new();
    let mut window = vec![0.0f32; n * 32];
    for _ in 0..expected * 12 {
        let (start, index) = sampler
            .sample(&mut rng, Normalization::None, &mut window)
            .unwrap();
        let item = items
            .iter()
            .find(|i| (i.frames[0]..i.frames[1]).contains(&start))
            .expect("window starts inside a train item");
        assert_eq!(&ds.manifest().items[index], item, "the item it names");
        assert!(
            start + n <= item.frames[1],
            "window crosses the end of {}",
            item.path
        );
        seen.insert(start);
    }
    assert!((0..expected).all(|p| sampler.real_frames(p) == n));
    assert_eq!(sampler.mean_real_frames(), n as f64);
    assert_eq!(seen.len() as u64, expected, "every valid position is drawn");
    let longest = items.iter().map(|i| i.n_frames()).max().unwrap();
    assert!(ds.windows(Split::Train, longest + 1, false).is_err());
    // Padding: every item is eligible once it is shorter than the window.
    let padded = ds.windows(Split::Train, longest + 1, true).unwrap();
    assert_eq!(padded.positions(), items.len() as u64);
    let mut window = vec![0.0f32; (longest + 1) * 32];
    for p in 0..padded.positions() {
        let (_, index) = padded.read(p, Normalization::None, &mut window).unwrap();
        let item = &ds.manifest().items[index];
        assert_eq!(padded.real_frames(p), item.n_frames(), "{}", item.path);
    }
    let mean = items.iter().map(|i| i.n_frames()).sum::<usize>() as f64 / items.len() as f64;
    assert!((padded.mean_real_frames() - mean).abs() < 1e-9);
}

#[test]
fn normalisation_round_trips() {
    let input = input_with(&FILES[..3]);
    let out = tempfile::tempdir().unwrap();
    run(input.path(), out.path(), &options());
    let ds = Dataset::open(out.path()).unwrap();
    let item = &ds.manifest().items[0];
    let original = ds.item_frames(item).unwrap();
    for norm in [
        Normalization::Standard,
        Normalization::StandardPerMel,
        Normalization::MinMax,
    ] {
        let mut v = original.clone();
        ds.normalize(norm, v.as_slice_mut().unwrap());
        if norm == Normalization::MinMax && item.split == Split::Train {
            assert!(v.iter().all(|x| (-1e-6..=1.0 + 1e-6).contains(x)));
        }
        ds.denormalize(norm, v.as_slice_mut().unwrap());
        let err = (&v - &original).iter().fold(0.0f32, |a, b| a.max(b.abs()));
        assert!(err < 1e-3, "{norm:?}: {err}");
    }
}

/// Every file of `dir`'s dataset (manifest and frame files) by name.
fn dataset_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn shards_merge_into_the_one_machine_dataset_byte_for_byte() {
    let mut files = FILES.to_vec();
    files.extend([
        "music/guit_em9.flac",
        "music/loop_amen.flac",
        "speech/numbers.wav",
    ]);
    let input = input_with(&files);
    std::fs::write(input.path().join("broken.wav"), b"RIFF not audio").unwrap();
    let work = tempfile::tempdir().unwrap();
    // Labels for every file but one (which is then skipped): they go through sharding too.
    let table = work.path().join("labels.csv");
    let mut csv = String::from("file,a,b\n");
    for (i, f) in files.iter().enumerate().skip(1) {
        if files.iter().position(|g| g == f) == Some(i) {
            csv += &format!("{f},{i},{}\n", i as f32 / 10.0);
        }
    }
    std::fs::write(&table, csv).unwrap();
    let labels = Some(LabelTable::read(&table).unwrap());
    for chunk_frames in [melnet_data::dataset::frames::DEFAULT_CHUNK_FRAMES, 300] {
        let opts = PrepareOptions {
            chunk_frames,
            labels: labels.clone(),
            ..options()
        };
        let one = work.path().join(format!("one-{chunk_frames}"));
        run(input.path(), &one, &opts);
        for n in [1, 3] {
            let shards: Vec<PathBuf> = (1..=n)
                .map(|k| {
                    let dir = work.path().join(format!("shard-{chunk_frames}-{k}of{n}"));
                    let shard = Some(melnet_data::dataset::Shard { index: k, count: n });
                    let outcome = run(
                        input.path(),
                        &dir,
                        &PrepareOptions {
                            shard,
                            ..opts.clone()
                        },
                    );
                    assert!(matches!(outcome, Outcome::Shard { .. }), "{outcome:?}");
                    dir
                })
                .collect();
            let merged = work.path().join(format!("merged-{chunk_frames}-{n}"));
            // Merging needs the same table.
            assert!(melnet_data::dataset::merge(&shards, &merged, chunk_frames, None).is_err());
            melnet_data::dataset::merge(&shards, &merged, chunk_frames, labels.clone()).unwrap();
            assert!(
                dataset_files(&one) == dataset_files(&merged),
                "{n} shards, chunks of {chunk_frames}: the merged dataset differs"
            );
            if n == 3 {
                assert!(melnet_data::dataset::merge(
                    &shards[..2],
                    &merged,
                    chunk_frames,
                    labels.clone()
                )
                .is_err());
            }
        }
    }
    // The reader reads across frame files: every frame as from the single file.
    let single = Dataset::open(&work.path().join(format!(
        "one-{}",
        melnet_data::dataset::frames::DEFAULT_CHUNK_FRAMES
    )))
    .unwrap();
    let chunked = Dataset::open(&work.path().join("one-300")).unwrap();
    // Labels follow the items; the unlabelled file is skipped with its reason.
    let m = single.manifest();
    assert!(m
        .skipped
        .iter()
        .any(|s| s.path == files[0] && s.reason.contains("no label")));
    for (i, item) in m.items.iter().enumerate() {
        let k = files.iter().position(|f| *f == item.path).unwrap();
        let want = [k as f32, k as f32 / 10.0];
        assert_eq!(single.label(i).unwrap().to_vec(), want, "{}", item.path);
    }
    assert!(
        chunked.manifest().chunks.len() > 3,
        "{:?}",
        chunked.manifest().chunks
    );
    let m = single.manifest();
    let mut a = vec![0.0; m.total_frames * m.n_mels];
    let mut b = a.clone();
    single.read_frames(0, &mut a).unwrap();
    chunked.read_frames(0, &mut b).unwrap();
    assert!(a == b);
    let boundary = chunked.manifest().chunks[0];
    let mut a = vec![0.0; 7 * m.n_mels];
    let mut b = a.clone();
    single.read_frames(boundary - 3, &mut a).unwrap();
    chunked.read_frames(boundary - 3, &mut b).unwrap();
    assert!(a == b);
    assert!(chunked.read_frames(m.total_frames - 1, &mut b).is_err());
}

#[test]
fn identical_files_share_one_part_without_racing() {
    // Copies of one recording: one part is computed, the copies reuse it (two workers once
    // wrote the same part's temporary file at the same time and one failed).
    let input = tempfile::tempdir().unwrap();
    for i in 0..12 {
        std::fs::copy(
            data("speech/numbers.wav"),
            input.path().join(format!("{i:02}.wav")),
        )
        .unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let opts = PrepareOptions {
        jobs: Some(4),
        ..options()
    };
    match run(input.path(), out.path(), &opts) {
        Outcome::Complete {
            manifest,
            computed,
            reused,
        } => {
            assert_eq!(manifest.items.len(), 12);
            assert_eq!((computed, reused), (1, 11));
        }
        other => panic!("{other:?}"),
    }
}
