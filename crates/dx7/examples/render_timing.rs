//! Single-threaded render time per voice of a bank file: `cargo run --release -p dx7 --example
//! render_timing -- BANK... [--sr HZ]` prints the best of five passes (ms per 5-s voice).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut sr = 44100.0;
    if let Some(i) = args.iter().position(|a| a == "--sr") {
        sr = args.get(i + 1).ok_or("--sr needs a value")?.parse()?;
        args.drain(i..i + 2);
    }
    let mut voices = Vec::new();
    for path in &args {
        voices.extend(
            dx7::bank::parse_each(&std::fs::read(path)?)?
                .into_iter()
                .flatten(),
        );
    }
    if voices.is_empty() {
        return Err("no voices".into());
    }
    let settings = dx7::RenderSettings {
        note: 60,
        velocity: 100,
        note_seconds: 4.0,
        seconds: 5.0,
        sr,
    };
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for v in &voices {
            std::hint::black_box(dx7::render(v, &settings)?);
        }
        best = best.min(t.elapsed().as_secs_f64() / voices.len() as f64);
    }
    println!(
        "{} voices, {sr} Hz, 5 s: {:.3} ms per voice (best of 5)",
        voices.len(),
        best * 1e3
    );
    Ok(())
}
