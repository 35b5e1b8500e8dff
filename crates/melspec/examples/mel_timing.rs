//! Times `MelSpectrogram::process` on a WAV file (used by `bench/run.sh`).
//!
//! Usage: `mel_timing FILE.wav REPEATS` — prints `{"seconds": best, "frames": n}` as JSON. The
//! plan is built once outside the timed loop; the signal must already be at the analysis rate
//! (librosa preset: 22050 Hz, n_fft 2048, hop 512, 128 mels).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: mel_timing FILE.wav REPEATS")?;
    let repeats: usize = args.next().unwrap_or_else(|| "3".into()).parse()?;
    let audio = melspec::audio::load(std::path::Path::new(&path))?;
    let p = melspec::AnalysisParams::default();
    if audio.sr != p.sr {
        return Err(format!("{path}: expected {} Hz, got {}", p.sr, audio.sr).into());
    }
    let plan = melspec::MelSpectrogram::new(p.stft, p.mel(), p.power)?;
    let mut best = f64::INFINITY;
    let mut frames = 0;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mel = plan.process(&audio.samples)?;
        best = best.min(t.elapsed().as_secs_f64());
        frames = mel.ncols();
    }
    println!("{{\"seconds\": {best}, \"frames\": {frames}}}");
    Ok(())
}
