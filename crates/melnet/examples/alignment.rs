//! Diagnostic: the attention of a text model — teacher-forced on its first validation windows,
//! and free-running on the first N held-out texts — per frame the most attended character,
//! beside what the frame reads as; and the teacher-forced NLL at letter onsets with the right
//! texts and with every letter swapped (how much the model takes the letter from the text);
//! the first letter sampled for every validation window from scratch and primed with its
//! silent first frame; and the first validation windows continued free-running from their own
//! first 12 frames.
//! `cargo run --release --example alignment -- MODEL DATASET [N]`

use melnet::toy::read_back;
use melnet::train::fit::TrainingData;
use melnet::{Model, SampleOptions};
use melnet_data::dataset::Dataset;
use melnet_data::toy::{held_out_texts, ToySpeech};
use rand::SeedableRng;

/// Per frame, the character with the most attention (`phi(t)` over `chars`) of `text`.
fn attended(phi: impl Fn(usize, usize) -> f32, frames: usize, text: &[char]) -> String {
    (0..frames)
        .map(|t| {
            let u = (0..text.len())
                .max_by(|&a, &b| phi(t, a).total_cmp(&phi(t, b)))
                .unwrap_or(0);
            text.get(u).copied().unwrap_or('?')
        })
        .collect()
}

/// Per frame, the letter the frame reads as ('.' for silence).
fn heard(model: &Model, toy: &ToySpeech, one: &[f32]) -> String {
    let (mel, _) = model.to_dataset_scale(one);
    (0..mel.ncols())
        .map(|t| {
            let said = toy.decode(mel.slice(ndarray::s![.., t..t + 1]));
            said.chars().next().unwrap_or('.')
        })
        .collect()
}

fn main() -> melnet::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = Model::open(args[1].as_ref())?;
    let ds = Dataset::open(args[2].as_ref()).expect("dataset");
    let free: usize = args.get(3).map_or(0, |n| n.parse().expect("a count"));
    let tiers = model.load_tiers()?;
    let alphabet: Vec<char> = model
        .config()
        .text
        .as_ref()
        .expect("a text model")
        .alphabet
        .as_str()
        .chars()
        .collect();
    let toy = ToySpeech::new(model.config().params)?;
    let bins = model.config().n_mels;
    let data = TrainingData::new(&model, &ds)?;
    let windows = data.valid()?;
    let (x, conditions) = (windows.x.clone(), windows.conditions.clone());
    let frames = windows.frames;
    let count = x.len() / model.grid(frames).len();
    let (xt, context) = model
        .tier_inputs(&x, count, frames, &conditions)?
        .swap_remove(0);
    let (_, alignment) = tiers[0].forward_aligned(&xt, &context)?;
    let phi = alignment.expect("a text model").to_vec3::<f32>()?;
    println!("teacher-forced:");
    let conditions_texts = conditions.texts.expect("texts");
    for (s, ids) in conditions_texts.iter().enumerate().take(4) {
        let text: Vec<char> = ids.iter().map(|&i| alphabet[i as usize]).collect();
        let one = &x[s * frames * bins..(s + 1) * frames * bins];
        println!(
            "text  {:?}\nheard {}\nattn  {}\n",
            text.iter().collect::<String>(),
            heard(&model, &toy, one),
            attended(|t, u| phi[s][t][u], frames, &text)
        );
    }
    // Does the model use the text? NLL per element of the frames where a letter starts, with
    // the right texts and with every letter swapped for the next one of the alphabet.
    let space = alphabet.iter().position(|&c| c == ' ');
    let swapped: Vec<Vec<u32>> = conditions_texts
        .iter()
        .map(|ids| {
            ids.iter()
                .map(|&i| {
                    if Some(i as usize) == space {
                        i
                    } else {
                        let mut j = (i + 1) % alphabet.len() as u32;
                        if Some(j as usize) == space {
                            j = (j + 1) % alphabet.len() as u32;
                        }
                        j
                    }
                })
                .collect()
        })
        .collect();
    let onset_nll = |texts: &[Vec<u32>]| -> melnet::Result<f32> {
        let text = melnet::Text::new(texts)?;
        let ctx = melnet::Context {
            text: Some(text),
            ..context.clone()
        };
        let nll = tiers[0].nll_elements(&xt, &ctx)?.to_vec3::<f32>()?;
        let (mut sum, mut n) = (0.0, 0usize);
        for s in 0..count {
            let one = &x[s * frames * bins..(s + 1) * frames * bins];
            let h: Vec<char> = heard(&model, &toy, one).chars().collect();
            for t in 1..frames.min(windows.real[s]) {
                if h[t] != '.' && h[t] != h[t - 1] {
                    sum += nll[s][t].iter().sum::<f32>() / bins as f32;
                    n += 1;
                }
            }
        }
        Ok(sum / n.max(1) as f32)
    };
    println!(
        "onset frames, NLL per element: right texts {:.3}, letters swapped {:.3}\n",
        onset_nll(&conditions_texts)?,
        onset_nll(&swapped)?
    );
    let options = SampleOptions {
        bias: 0.0,
        range: model.range(),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    // The first letter, sampled COPIES times for each validation window: from scratch, and
    // primed with the window's silent first frame (as much as the sampler has to go on) — how
    // sharply the model takes the letter from the text where its timing is certain.
    const COPIES: usize = 8;
    let (mut right, mut draws) = ([0usize; 2], 0);
    println!("first letter, {COPIES} draws each: window's letter, from scratch, primed with its first frame");
    for (s, ids) in conditions_texts.iter().enumerate() {
        let one = &x[s * frames * bins..(s + 1) * frames * bins];
        let Some(first) = heard(&model, &toy, one).chars().find(|&c| c != '.') else {
            continue;
        };
        let conditions = melnet::Conditions {
            labels: None,
            texts: Some(vec![ids.clone(); COPIES]),
        };
        draws += COPIES;
        let mut line = format!("{first}");
        for (i, prime) in [None, Some(&one[..bins])].into_iter().enumerate() {
            let g = model.generate(
                &tiers,
                12,
                COPIES,
                prime,
                &conditions,
                options,
                &mut rng,
                |_, _, _| {},
            )?;
            let len = g.full.len() / (COPIES * bins);
            let firsts: String = g
                .full
                .chunks_exact(len * bins)
                .map(|c| {
                    heard(&model, &toy, c)
                        .chars()
                        .find(|&c| c != '.')
                        .unwrap_or('-')
                })
                .collect();
            right[i] += firsts.chars().filter(|&c| c == first).count();
            line += &format!(" {firsts}");
        }
        if s < 8 {
            println!("{line}");
        }
    }
    let n = draws.max(1);
    println!(
        "right: from scratch {:.1} %, primed {:.1} %\n",
        100.0 * right[0] as f64 / n as f64,
        100.0 * right[1] as f64 / n as f64
    );
    // Free-running after a real start: each of the first validation windows primed with its
    // own first PRIME frames, then sampled with its text.
    const PRIME: usize = 12;
    println!("primed with the first {PRIME} frames:");
    for (s, ids) in conditions_texts.iter().enumerate().take(4) {
        let one = &x[s * frames * bins..(s + 1) * frames * bins];
        let conditions = melnet::Conditions {
            labels: None,
            texts: Some(vec![ids.clone()]),
        };
        let g = model.generate(
            &tiers,
            frames,
            1,
            Some(&one[..PRIME * bins]),
            &conditions,
            options,
            &mut rng,
            |_, _, _| {},
        )?;
        let end = g.ends[0].unwrap_or(g.full.len() / bins);
        println!(
            "real  {}
said  {}
",
            heard(&model, &toy, one),
            heard(&model, &toy, &g.full[..end * bins])
        );
    }
    if free == 0 {
        return Ok(());
    }
    println!("free-running:");
    let texts = held_out_texts(0, free);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let (generated, readings) = read_back(&model, &tiers, &texts, 160, options, &mut rng)?;
    let (align, chars) = &generated.alignment;
    let total = generated.full.len() / (texts.len() * bins);
    for (i, r) in readings.iter().enumerate() {
        let text: Vec<char> = r.text.chars().collect();
        let one = &generated.full[i * total * bins..(i * total + r.frames) * bins];
        let at = |t: usize, u: usize| align[(t * texts.len() + i) * chars + u];
        println!(
            "text  {:?} said {:?}\nheard {}\nattn  {}\n",
            r.text,
            r.said,
            heard(&model, &toy, one),
            attended(at, r.frames, &text)
        );
    }
    Ok(())
}
