//! Diagnostic: how fast a text model's attention walks through its texts — characters per
//! tier-1 frame in the data (each validation window's text over its real frames), with the
//! model teacher-forced on those windows (where the window's mean position first reaches the
//! last character, and where it is at the window's last real frame), and free-running on the
//! same texts and speakers (`Model::say`). A model that reads faster free-running than teacher-forced says
//! its texts too quickly.
//! `cargo run --release --example tts_pace -- MODEL DATASET [N]`

use melnet::train::fit::TrainingData;
use melnet::{Model, SayOptions};
use melnet_data::dataset::Dataset;

fn main() -> melnet::Result<()> {
    melnet::keep_candle_on_calling_thread();
    let args: Vec<String> = std::env::args().collect();
    let model = Model::open(args[1].as_ref())?;
    let ds = Dataset::open(args[2].as_ref()).expect("dataset");
    let n: usize = args.get(3).map_or(16, |v| v.parse().expect("a count"));
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
    let labels = model.config().labels.clone().unwrap_or_default();
    let data = TrainingData::new(&model, &ds)?;
    let windows = data.valid()?;
    let frames = windows.frames;
    let count = windows.count().min(n);
    let grid = model.grid(frames);
    let x = &windows.x[..count * grid.len()];
    let conditions = melnet::Conditions {
        labels: windows
            .conditions
            .labels
            .as_ref()
            .map(|l| l[..count].to_vec()),
        texts: windows
            .conditions
            .texts
            .as_ref()
            .map(|t| t[..count].to_vec()),
    };
    let (xt, context) = model
        .tier_inputs(x, count, frames, &conditions)?
        .swap_remove(0);
    let (_, alignment) = tiers[0].forward_aligned(&xt, &context)?;
    let phi = alignment.expect("a text model").to_vec3::<f32>()?;
    let split = frames / phi[0].len(); // full-resolution frames per tier-1 frame
    let texts = conditions.texts.as_ref().expect("texts");
    let (mut data_rate, mut forced_rate, mut free_rate) = (0.0, 0.0, 0.0);
    println!("chars  data  forced  free   (characters per tier-1 frame)");
    for s in 0..count {
        let chars = texts[s].len();
        let real = windows.real[s].div_ceil(split);
        // The window's mean position at tier-1 frame t.
        let position = |t: usize| {
            let (mass, pos) = phi[s][t][..chars]
                .iter()
                .enumerate()
                .fold((0.0, 0.0), |(m, p), (u, &w)| (m + w, p + u as f32 * w));
            if mass > 0.0 {
                pos / mass
            } else {
                f32::NAN
            }
        };
        let reached = (0..phi[s].len()).find(|&t| position(t) >= (chars - 1) as f32);
        let at_end = position(real.min(phi[s].len()) - 1);
        let text: String = texts[s].iter().map(|&i| alphabet[i as usize]).collect();
        let speaker = conditions
            .labels
            .as_ref()
            .map(|l| labels[l[s] as usize].as_str());
        let said = model.say(
            &tiers,
            &text,
            speaker,
            SayOptions {
                max_frames: 4 * frames,
                bias: 0.0,
                seed: s as u64,
            },
            |_, _, _| {},
        )?;
        let free = said.frames.div_ceil(split);
        let forced = reached.map_or(f64::NAN, |t| chars as f64 / (t + 1) as f64);
        let (d, f) = (chars as f64 / real as f64, chars as f64 / free as f64);
        println!("{chars:5} {d:5.2} {forced:7.2} {f:5.2}   forced position at the last real frame {at_end:.1}");
        data_rate += d;
        forced_rate += forced;
        free_rate += f;
    }
    let c = count as f64;
    println!(
        "mean  {:5.2} {:7.2} {:5.2}",
        data_rate / c,
        forced_rate / c,
        free_rate / c
    );
    Ok(())
}
