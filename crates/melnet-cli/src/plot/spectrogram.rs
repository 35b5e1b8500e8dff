//! Spectrogram figures: one spectrogram, a comparison with waveforms, a generation's tiers,
//! an attention alignment.

use super::*;

/// Draw `plot` to `path` (PNG).
pub fn spectrogram_png(path: &Path, plot: &SpectrogramPlot) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    draw_spectrogram_with_bar(&root, plot)?;
    root.present()?;
    Ok(())
}

/// A waveform (min/max envelope per pixel column) against time in seconds.
fn draw_waveform<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    y: &[f32],
    sr: f64,
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let duration = (y.len() as f64 / sr).max(f64::EPSILON);
    let peak = f64::from(y.iter().fold(0.0f32, |a, b| a.max(b.abs()))).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(12)
        .margin_right(122)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..duration, -peak * 1.05..peak * 1.05)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (s)")
        .y_desc("amplitude")
        .label_style((FONT, 13))
        .draw()?;
    let columns = area.dim_in_pixel().0.max(1) as usize;
    let per = y.len().div_ceil(columns).max(1);
    let colour = RGBColor(40, 70, 140);
    for (i, chunk) in y.chunks(per).enumerate() {
        let (lo, hi) = chunk
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let t = (i * per) as f64 / sr;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(t, f64::from(lo)), (t, f64::from(hi))],
            colour,
        )))?;
    }
    Ok(())
}

/// The panels of a round-trip comparison figure.
pub struct Comparison<'a> {
    /// Figure title.
    pub title: String,
    /// Input signal at `sr`.
    pub input: &'a [f32],
    /// Reconstructed signal at `sr`.
    pub output: &'a [f32],
    /// Sample rate, Hz.
    pub sr: f64,
    /// Input STFT magnitude in dB and reconstructed STFT magnitude in dB, `(bins, frames)`.
    pub stft_db: [ArrayView2<'a, f32>; 2],
    /// Seconds per frame.
    pub frame_seconds: f64,
    /// Mel filterbank `(n_mels, bins)`.
    pub filterbank: ArrayView2<'a, f32>,
    /// Input mel spectrogram in dB `(n_mels, frames)` and its filterbank parameters.
    pub mel_db: ArrayView2<'a, f32>,
    /// Filterbank parameters of `mel_db`.
    pub mel: MelParams,
}

/// Draw the six-panel round-trip figure: waveforms, STFTs (dB), filterbank, mel spectrogram.
pub fn comparison_png(path: &Path, c: &Comparison) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (1800, 1500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(40);
    top.titled(&c.title, (FONT, 22))?;
    let panels = body.split_evenly((3, 2));
    draw_waveform(&panels[0], c.input, c.sr, "input waveform")?;
    draw_waveform(&panels[1], c.output, c.sr, "reconstructed waveform")?;
    for (panel, (db, what)) in panels[2..4].iter().zip(
        c.stft_db
            .iter()
            .zip(["input STFT (dB)", "reconstructed STFT (dB)"]),
    ) {
        draw_spectrogram_with_bar(
            panel,
            &SpectrogramPlot {
                db: *db,
                axis: FreqAxis::Linear { sr: c.sr },
                frame_seconds: c.frame_seconds,
                title: what.to_string(),
            },
        )?;
    }
    let (fb_area, _) = panels[4].split_horizontally(panels[4].dim_in_pixel().0 - 110);
    draw_filterbank(&fb_area, c.filterbank, c.sr, "mel filterbank")?;
    draw_spectrogram_with_bar(
        &panels[5],
        &SpectrogramPlot {
            db: c.mel_db,
            axis: FreqAxis::Mel(c.mel),
            frame_seconds: c.frame_seconds,
            title: format!("input mel spectrogram ({} bands, dB)", c.mel.n_mels),
        },
    )?;
    root.present()?;
    Ok(())
}

/// Generated spectrograms against their training data: the mean level per mel band (dB) of
/// each, with the floor shares in the legend.
pub fn levels_png(
    path: &Path,
    data: &melnet_data::dataset::Levels,
    samples: &melnet_data::dataset::Levels,
    title: &str,
) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (1000, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (d, s) = (data.band_means(), samples.band_means());
    let (lo, hi) = d
        .iter()
        .chain(&s)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo - 2.0, hi + 2.0)
    } else {
        (-80.0, 0.0)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..d.len().max(2) as f64 - 1.0, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("mel band")
        .y_desc("mean level (dB)")
        .label_style((FONT, 13))
        .draw()?;
    for (levels, means, colour, name) in [
        (data, &d, RGBColor(40, 70, 140), "training data"),
        (samples, &s, RGBColor(200, 60, 40), "generated"),
    ] {
        chart
            .draw_series(LineSeries::new(
                means.iter().enumerate().map(|(k, &v)| (k as f64, v)),
                colour.stroke_width(2),
            ))?
            .label(format!(
                "{name}: mean {:.1} dB, {:.1} % at the floor",
                levels.mean(),
                100.0 * levels.floor_share()
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    draw_legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// Height of the attention chart's plotting area, px (its half of the figure less caption and
/// axis).
const ATTENTION_ROWS_PX: usize = 340;
/// Smallest row height, px, that fits a character label.
const ATTENTION_LABEL_ROW: usize = 14;

/// A generated spectrogram and its text attention: the spectrogram `plot` on top, and below,
/// on the same frames, the attention window `alignment` `(chars, frames)` (weights 0–1) with
/// the characters of `text` on the y axis (first at the top; each word at its first character
/// when the characters do not fit).
pub fn alignment_png(
    path: &Path,
    plot: &SpectrogramPlot,
    alignment: ArrayView2<f32>,
    text: &str,
) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (1100, 820)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(440);
    draw_spectrogram(&top, plot)?;
    let (chars, frames) = alignment.dim();
    let label: Vec<char> = text.chars().collect();
    let mut chart = ChartBuilder::on(&bottom)
        .caption("attention window (characters × frames)", (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..frames.max(1) as f64, 0.0..chars.max(1) as f64)?;
    // A label per character while they fit (rows of at least ATTENTION_LABEL_ROW px), else
    // each word at its first character (per-character labels of a long text overlap).
    let per_char = chars * ATTENTION_LABEL_ROW <= ATTENTION_ROWS_PX;
    let char_label = |y: &f64| {
        let row = chars.saturating_sub(1 + y.floor() as usize);
        match label.get(row) {
            Some(' ') if per_char => "␣".to_string(),
            Some(c) if per_char => c.to_string(),
            Some(' ') | None => String::new(),
            Some(_) if row > 0 && label[row - 1] != ' ' => String::new(),
            Some(_) => label[row..].iter().take_while(|c| **c != ' ').collect(),
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("frame")
        .y_desc("character")
        .y_labels(chars.max(1) * 2 + 1)
        .y_label_formatter(&|y: &f64| {
            if (y.fract() - 0.5).abs() < 1e-6 {
                char_label(y)
            } else {
                String::new()
            }
        })
        .label_style((FONT, 13))
        .draw()?;
    chart.draw_series((0..chars).flat_map(|u| {
        (0..frames).map(move |t| {
            let v = f64::from(alignment[[u, t]]).clamp(0.0, 1.0);
            let y = (chars - 1 - u) as f64;
            Rectangle::new(
                [(t as f64, y), (t as f64 + 1.0, y + 1.0)],
                ViridisRGB.get_color_normalized(v, 0.0, 1.0).filled(),
            )
        })
    }))?;
    root.present()?;
    Ok(())
}
