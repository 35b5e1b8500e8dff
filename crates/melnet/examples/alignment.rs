//! Diagnostic: the teacher-forced attention of a text model on its first validation windows —
//! per frame the most attended character, beside what the window's frames read as.
//! `cargo run --release --example alignment -- MODEL DATASET`

use melnet::toy::ToySpeech;
use melnet::train::fit::TrainingData;
use melnet::Model;
use melspec::dataset::Dataset;

fn main() -> melnet::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = Model::open(args[1].as_ref())?;
    let ds = Dataset::open(args[2].as_ref()).expect("dataset");
    let tiers = model.load_tiers()?;
    let data = TrainingData::new(&model, &ds)?;
    let windows = data.valid()?;
    let (x, conditions) = (windows.x, windows.conditions);
    let frames = model.config().frames;
    let count = x.len() / model.grid(frames).len();
    let (xt, context) = model
        .tier_inputs(&x, count, frames, &conditions)?
        .swap_remove(0);
    let (_, alignment) = tiers[0].forward_aligned(&xt, &context)?;
    let phi = alignment.expect("a text model").to_vec3::<f32>()?;
    let alphabet = model
        .config()
        .text
        .as_ref()
        .expect("text")
        .alphabet
        .as_str()
        .to_string();
    let chars: Vec<char> = alphabet.chars().collect();
    let toy = ToySpeech::new(model.config().params)?;
    let bins = model.config().n_mels;
    for (s, ids) in conditions.texts.expect("texts").iter().enumerate().take(4) {
        let text: String = ids.iter().map(|&i| chars[i as usize]).collect();
        let one = &x[s * frames * bins..(s + 1) * frames * bins];
        let (mel, _) = model.to_dataset_scale(one);
        let heard: String = (0..frames)
            .map(|t| {
                let said = toy.decode(mel.slice(ndarray::s![.., t..t + 1]));
                said.chars().next().unwrap_or('.')
            })
            .collect();
        let attended: String = (0..frames)
            .map(|t| {
                let row = &phi[s][t];
                let (u, _) =
                    row.iter()
                        .enumerate()
                        .fold((0, f32::MIN), |b, (u, &v)| if v > b.1 { (u, v) } else { b });
                ids.get(u).map_or('?', |&i| chars[i as usize])
            })
            .collect();
        println!("text  {text:?}\nheard {heard}\nattn  {attended}\n");
    }
    Ok(())
}
