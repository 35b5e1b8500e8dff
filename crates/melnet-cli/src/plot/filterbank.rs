//! Mel filterbank figures.

use super::*;

/// Draw the filters of a filterbank `(n_mels, bins)` against frequency in Hz.
pub fn draw_filterbank<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    weights: ArrayView2<f32>,
    sr: f64,
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (n_mels, n_bins) = weights.dim();
    let peak = weights.iter().fold(0.0f32, |a, &b| a.max(b));
    let peak = f64::from(if peak > 0.0 { peak } else { 1.0 });
    let bin_hz = sr / (2.0 * (n_bins - 1).max(1) as f64);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..sr / 2.0, 0.0..peak * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("frequency (Hz)")
        .y_desc("weight")
        .label_style((FONT, 13))
        .draw()?;
    for m in 0..n_mels {
        let c: RGBColor =
            ViridisRGB.get_color_normalized(m as f64, 0.0, n_mels.max(2) as f64 - 1.0);
        let row = weights.row(m);
        chart.draw_series(LineSeries::new(
            row.iter()
                .enumerate()
                .map(|(k, &w)| (k as f64 * bin_hz, f64::from(w))),
            &c,
        ))?;
    }
    Ok(())
}

/// Draw a filterbank figure to `path` (PNG).
pub fn filterbank_png(path: &Path, weights: ArrayView2<f32>, sr: f64, title: &str) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    draw_filterbank(&root, weights, sr, title)?;
    root.present()?;
    Ok(())
}
