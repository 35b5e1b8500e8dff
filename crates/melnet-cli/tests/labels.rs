//! Category labels from sub-folders (`prepare --labels-from-folders`), on one machine and in
//! shards merged with the same option.

mod common;
use common::*;

#[test]
fn folders_become_categories_and_shards_agree() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_speech(&input.join("alice"));
    copy_speech(&input.join("bob"));
    std::fs::copy(
        repo().join("data/speech/numbers.wav"),
        input.join("loose.wav"),
    )
    .unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let common = [
        "--preset",
        "melnet-small",
        "--db",
        "-q",
        "--labels-from-folders",
    ];

    let one = dir.path().join("one");
    melnet_ok(&[&["prepare", &s(&input), "-o", &s(&one)][..], &common].concat());
    let ds = melnet_data::dataset::Dataset::open(&one).unwrap();
    let m = ds.manifest();
    assert_eq!(
        m.labels.as_ref().unwrap().kind,
        melnet_data::dataset::LabelKind::Category {
            classes: vec!["alice".into(), "bob".into()]
        }
    );
    assert!(m
        .skipped
        .iter()
        .any(|k| k.path == "loose.wav" && k.reason.contains("no label")));
    for (i, item) in m.items.iter().enumerate() {
        let want = if item.path.starts_with("alice/") {
            0.0
        } else {
            1.0
        };
        assert_eq!(ds.label(i).unwrap()[0], want, "{}", item.path);
    }
    let stats = melnet_ok(&["stats", &s(&one)]);
    assert!(
        stats.contains("labels    category, 2 classes: alice 3, bob 3"),
        "{stats}"
    );

    // Two shards merged with the same option give the same dataset, byte for byte.
    let shards: Vec<String> = (1..=2)
        .map(|k| {
            let d = dir.path().join(format!("shard{k}"));
            let shard = format!("{k}/2");
            melnet_ok(
                &[
                    &["prepare", &s(&input), "-o", &s(&d), "--shard", &shard][..],
                    &common,
                ]
                .concat(),
            );
            s(&d)
        })
        .collect();
    let merged = dir.path().join("merged");
    let merged_s = s(&merged);
    let mut merge: Vec<&str> = vec!["merge"];
    merge.extend(shards.iter().map(String::as_str));
    let without = [&merge[..], &["-o", &merged_s]].concat();
    assert_fails_cleanly(&without, "prepared with a label table", dir.path());
    melnet_ok(&[&without[..], &["--labels-from-folders"]].concat());
    for f in ["frames.npy", "labels.npy", "manifest.json"] {
        assert!(
            std::fs::read(one.join(f)).unwrap() == std::fs::read(merged.join(f)).unwrap(),
            "{f} differs"
        );
    }
    // Without sub-folders there is nothing to label by.
    let flat = dir.path().join("flat");
    copy_speech(&flat);
    let out = dir.path().join("flat-ds");
    assert_fails_cleanly(
        &[&["prepare", &s(&flat), "-o", &s(&out)][..], &common].concat(),
        "no file lies in a sub-folder",
        dir.path(),
    );
}
