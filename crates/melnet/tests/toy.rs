//! The synthetic text-to-speech task: its rendered texts read back from their spectrograms
//! (what makes the character error rate of generated speech meaningful).

use melnet::toy::{cer, random_text, ToySpeech};
use rand::SeedableRng;

#[test]
fn rendered_texts_read_back_from_their_spectrograms() {
    let params = melspec::Preset::by_name("melnet-small").unwrap().params;
    let toy = ToySpeech::new(params).unwrap();
    let mel = melspec::MelSpectrogram::new(params.stft(), params.mel(), params.power).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut worst = 0.0f64;
    for _ in 0..60 {
        let text = random_text(&mut rng);
        let audio = toy.render(&text, &mut rng).unwrap();
        let mut s = mel.process(&audio).unwrap();
        melspec::convert::to_db_ref_max(s.as_slice_mut().unwrap(), params.power).unwrap();
        let said = toy.decode(s.view());
        worst = worst.max(cer(&said, &text));
        assert_eq!(said, text);
    }
    assert_eq!(worst, 0.0);
    // Silence reads as nothing, a different text as errors.
    let quiet = ndarray::Array2::<f32>::from_elem((params.n_mels, 20), -80.0);
    assert_eq!(toy.decode(quiet.view()), "");
}
