//! The synthetic text-to-speech task: its rendered texts read back from their spectrograms
//! (what makes the character error rate of generated speech meaningful).

use melnet_data::toy::{cer, random_text, ToySpeech};
use rand::SeedableRng;

#[test]
fn rendered_texts_read_back_from_their_spectrograms() {
    let params = melspec::Preset::by_name("melnet-small").unwrap().params;
    let toy = ToySpeech::new(params).unwrap();
    let mel = melspec::MelSpectrogram::new(params.stft, params.mel(), params.power).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut worst = 0.0f64;
    for _ in 0..60 {
        let text = random_text(&mut rng);
        let audio = toy.render(&text, &mut rng).unwrap();
        let mut s = mel.process(&audio).unwrap();
        melspec::db::to_db_ref_max(s.as_slice_mut().unwrap(), params.power).unwrap();
        let said = toy.decode(s.view());
        worst = worst.max(cer(&said, &text));
        assert_eq!(said, text);
    }
    assert_eq!(worst, 0.0);
    // Silence reads as nothing, a different text as errors.
    let quiet = ndarray::Array2::<f32>::from_elem((params.n_mels, 20), -80.0);
    assert_eq!(toy.decode(quiet.view()), "");
}

/// A text model's training batches hold whole items (their transcripts' ends included), are
/// only as long as their longest item, and come grouped by length; validation is not grouped.
#[test]
fn text_batches_are_whole_items_as_long_as_the_longest() {
    use melnet::model::ModelText;
    use melnet::train::fit::TrainingData;
    use melnet::{Model, ModelConfig};
    use melnet_data::dataset::{prepare, Dataset, PrepareOptions, PrepareSettings, Split};
    let dir = tempfile::tempdir().unwrap();
    let params = melspec::Preset::by_name("melnet-small").unwrap().params;
    let corpus = dir.path().join("corpus");
    melnet_data::toy::write_corpus(&corpus, 40, 0, params, &[]).unwrap();
    let settings = PrepareSettings {
        db: true,
        min_seconds: 0.1,
        valid_fraction: 0.25,
        ..PrepareSettings::default()
    };
    let options = PrepareOptions::new(params, settings);
    let ds_dir = dir.path().join("ds");
    let stop = std::sync::atomic::AtomicBool::new(false);
    prepare(&corpus, &ds_dir, &options, &stop, &|_| {}).unwrap();
    let ds = Dataset::open(&ds_dir).unwrap();
    let longest = ds.longest_item(None);
    let frames = 2 * longest + 2;
    let model = Model::create(
        &dir.path().join("model"),
        ModelConfig {
            text: Some(ModelText::new(&corpus.join("metadata.csv"), &ds).unwrap()),
            ..ModelConfig::for_dataset(&ds, 1, frames)
        },
    )
    .unwrap();
    let data = TrainingData::new(&model, &ds).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut lengths = std::collections::HashSet::new();
    for grouped in [true, false] {
        for _ in 0..20 {
            let w = data.draw(Split::Train, &mut rng, 4, grouped).unwrap();
            let most = *w.real.iter().max().unwrap();
            assert_eq!(w.frames, most.next_multiple_of(2), "as long as the longest");
            assert!(w.whole.iter().all(|&whole| whole), "every item whole");
            assert_eq!(w.x.len(), 4 * w.frames * params.n_mels);
            if grouped {
                assert!(
                    w.real.windows(2).all(|p| p[0] <= p[1]),
                    "in order of length"
                );
            }
            lengths.insert(w.frames);
        }
    }
    assert!(
        lengths.len() > 3,
        "batches of different lengths: {lengths:?}"
    );
    let valid = data.valid().unwrap();
    assert_eq!(
        valid.real.len(),
        melnet::train::fit::VALID_WINDOWS,
        "validation draws its fixed number of windows"
    );
    assert!(valid.frames <= frames);
}
