//! Figures people look at: spectrograms with axes in seconds and Hz and a dB colour bar, and
//! mel filterbanks.

use std::path::Path;

use anyhow::{anyhow, Result};
use melspec::convert::{hz_to_mel, mel_to_hz};
use melspec::MelParams;
use ndarray::ArrayView2;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Register the bundled font once; plotters' ab_glyph backend has no system fonts.
fn ensure_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("cannot load the bundled plot font"))
    }
}

/// How the rows of a spectrogram map to frequency.
#[derive(Debug, Clone, Copy)]
pub enum FreqAxis {
    /// STFT bins `k·sr/n_fft`, rows `0..=n_fft/2`.
    Linear {
        /// Sample rate, Hz.
        sr: f64,
    },
    /// Mel bands of this filterbank, row `m` centred at the `m+1`-th mel edge.
    Mel(MelParams),
}

/// A spectrogram figure: `db` is `(rows, frames)` in dB.
pub struct SpectrogramPlot<'a> {
    /// Values in dB, `(rows, frames)`.
    pub db: ArrayView2<'a, f32>,
    /// Row → frequency mapping.
    pub axis: FreqAxis,
    /// Seconds per frame (hop / sr).
    pub frame_seconds: f64,
    /// Figure title.
    pub title: String,
}

/// Image size of spectrogram figures, pixels.
const SIZE: (u32, u32) = (1100, 520);

/// Draw `plot` to `path` (PNG).
pub fn spectrogram_png(path: &Path, plot: &SpectrogramPlot) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    draw_spectrogram_with_bar(&root, plot)?;
    root.present()?;
    Ok(())
}

/// A spectrogram and its dB colour bar side by side in `area`.
fn draw_spectrogram_with_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    plot: &SpectrogramPlot,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let width = area.dim_in_pixel().0;
    let (main, bar) = area.split_horizontally(width.saturating_sub(110));
    draw_spectrogram(&main, plot)?;
    let (lo, hi) = db_range(plot.db);
    draw_colour_bar(&bar, lo, hi)
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

/// Smallest and largest finite dB value (a 1 dB range when constant).
fn db_range(db: ArrayView2<f32>) -> (f64, f64) {
    let (lo, hi) = db
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() && hi > lo {
        (f64::from(lo), f64::from(hi))
    } else if lo.is_finite() {
        (f64::from(lo) - 1.0, f64::from(lo))
    } else {
        (0.0, 1.0)
    }
}

/// Draw a spectrogram with its axes into `area`.
pub fn draw_spectrogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    plot: &SpectrogramPlot,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (rows, frames) = plot.db.dim();
    let duration = (frames as f64 * plot.frame_seconds).max(f64::EPSILON);
    // The y coordinate is Hz for linear spectrograms and mel for mel spectrograms, so that the
    // image is undistorted and tick labels can be printed in Hz.
    let (y_lo, y_hi, to_hz): (f64, f64, Box<dyn Fn(f64) -> f64>) = match plot.axis {
        FreqAxis::Linear { sr } => (0.0, sr / 2.0, Box::new(|y| y)),
        FreqAxis::Mel(p) => {
            let htk = p.htk;
            (
                hz_to_mel(p.fmin, htk),
                hz_to_mel(p.fmax, htk),
                Box::new(move |y| mel_to_hz(y, htk)),
            )
        }
    };
    let (lo, hi) = db_range(plot.db);
    let mut chart = ChartBuilder::on(area)
        .caption(&plot.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..duration, y_lo..y_hi)?;
    let y_label = |y: &f64| {
        let hz = to_hz(*y);
        if hz >= 1000.0 {
            format!("{:.1}k", hz / 1000.0)
        } else {
            format!("{hz:.0}")
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (s)")
        .y_desc("frequency (Hz)")
        .y_label_formatter(&y_label)
        .label_style((FONT, 13))
        .draw()?;
    let pixels = chart.plotting_area().strip_coord_spec();
    let (w, h) = pixels.dim_in_pixel();
    let row_of = |y: f64| -> usize {
        let r = match plot.axis {
            FreqAxis::Linear { sr } => (y / (sr / 2.0) * (rows - 1) as f64).round(),
            // Row m is centred at edge m+1 of n_mels+2 edges evenly spaced in mel.
            FreqAxis::Mel(_) => ((y - y_lo) / (y_hi - y_lo) * (rows + 1) as f64 - 0.5).floor(),
        };
        r.clamp(0.0, (rows - 1) as f64) as usize
    };
    let rows_for_py: Vec<usize> = (0..h)
        .map(|py| row_of(y_hi - (py as f64 + 0.5) / h as f64 * (y_hi - y_lo)))
        .collect();
    for px in 0..w {
        let t = ((px as f64 + 0.5) / w as f64 * frames as f64) as usize;
        let t = t.min(frames - 1);
        for (py, &r) in rows_for_py.iter().enumerate() {
            // Non-finite values (never from analysis) are drawn as the floor, not a panic.
            let v = f64::from(plot.db[[r, t]]);
            let v = if v.is_finite() { v } else { lo };
            let c: RGBColor = ViridisRGB.get_color_normalized(v, lo, hi);
            pixels.draw_pixel((px as i32, py as i32), &c)?;
        }
    }
    Ok(())
}

/// A vertical colour bar from `lo` to `hi` dB.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    lo: f64,
    hi: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(42)
        .margin_bottom(57)
        .margin_right(50)
        .y_label_area_size(0)
        .right_y_label_area_size(45)
        .build_cartesian_2d(0.0..1.0, lo..hi)?
        .set_secondary_coord(0.0..1.0, lo..hi);
    chart
        .configure_secondary_axes()
        .y_desc("dB")
        .label_style((FONT, 12))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let steps = 200;
    for i in 0..steps {
        let a = lo + (hi - lo) * i as f64 / steps as f64;
        let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
        let c: RGBColor = ViridisRGB.get_color_normalized(a, lo, hi);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, a), (1.0, b)],
            c.filled(),
        )))?;
    }
    Ok(())
}

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

/// Histogram of `values` with `bins` bins into `area`.
fn draw_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    values: &[f64],
    title: &str,
    x_desc: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo.min(0.0) - 0.5, lo.max(0.0) + 0.5)
    };
    let bins = (values.len() as f64).sqrt().ceil().clamp(5.0, 40.0) as usize;
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = *counts.iter().max().unwrap_or(&1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(lo..hi, 0.0..top * 1.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(x_desc)
        .y_desc("items")
        .label_style((FONT, 13))
        .draw()?;
    let colour = RGBColor(59, 82, 139);
    chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
        let x0 = lo + i as f64 * width;
        Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], colour.filled())
    }))?;
    Ok(())
}

/// The dataset figure: histograms of per-item min, max, mean and std, item durations, and the
/// training split's mean spectrum per mel band (± one standard deviation); with `labels`
/// (`(items, dim)`, [`Dataset::labels`](melspec::dataset::Dataset::labels)) a row below: the
/// items per class, or each label dimension's mean ± std over the items.
pub fn dataset_png(
    path: &Path,
    m: &melspec::dataset::Manifest,
    labels: Option<ndarray::ArrayView2<f32>>,
    name: &str,
) -> Result<()> {
    ensure_font()?;
    let height = if labels.is_some() { 1400 } else { 1000 };
    let root = BitMapBackend::new(path, (1500, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(40);
    let (body, below) = body.split_vertically(960);
    if let (Some(info), Some(labels)) = (&m.labels, labels) {
        draw_labels(&below, &info.kind, labels)?;
    }
    let unit = if m.settings.db { "dB" } else { "value" };
    top.titled(
        &format!(
            "{name}: {} items, {:.2} h, {} frames, {} mels",
            m.items.len(),
            m.stats.seconds / 3600.0,
            m.total_frames,
            m.n_mels
        ),
        (FONT, 22),
    )?;
    let panels = body.split_evenly((2, 3));
    let per_item = |f: &dyn Fn(&melspec::dataset::Item) -> f64| -> Vec<f64> {
        m.items.iter().map(f).collect()
    };
    draw_histogram(
        &panels[0],
        &per_item(&|i| f64::from(i.stats.min)),
        "per-item minimum",
        unit,
    )?;
    draw_histogram(
        &panels[1],
        &per_item(&|i| f64::from(i.stats.max)),
        "per-item maximum",
        unit,
    )?;
    draw_histogram(
        &panels[2],
        &per_item(&|i| i.seconds),
        "item duration",
        "seconds",
    )?;
    draw_histogram(
        &panels[3],
        &per_item(&|i| i.stats.mean),
        "per-item mean",
        unit,
    )?;
    draw_histogram(
        &panels[4],
        &per_item(&|i| i.stats.std),
        "per-item standard deviation",
        unit,
    )?;

    let s = &m.stats;
    let lo = s
        .mel_mean
        .iter()
        .zip(&s.mel_std)
        .fold(f64::INFINITY, |a, (m, d)| a.min(m - d));
    let hi = s
        .mel_mean
        .iter()
        .zip(&s.mel_std)
        .fold(f64::NEG_INFINITY, |a, (m, d)| a.max(m + d));
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(&panels[5])
        .caption("mean spectrum (train, ± 1 std)", (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..m.n_mels.max(1) as f64, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("mel band")
        .y_desc(unit)
        .label_style((FONT, 13))
        .draw()?;
    let band = RGBColor(180, 200, 230);
    let upper: Vec<(f64, f64)> = s
        .mel_mean
        .iter()
        .zip(&s.mel_std)
        .enumerate()
        .map(|(k, (m, d))| (k as f64, m + d))
        .collect();
    let lower = s
        .mel_mean
        .iter()
        .zip(&s.mel_std)
        .enumerate()
        .rev()
        .map(|(k, (m, d))| (k as f64, m - d));
    chart.draw_series(std::iter::once(Polygon::new(
        upper.into_iter().chain(lower).collect::<Vec<_>>(),
        band.filled(),
    )))?;
    chart.draw_series(LineSeries::new(
        s.mel_mean.iter().enumerate().map(|(k, &v)| (k as f64, v)),
        RGBColor(40, 70, 140).stroke_width(2),
    ))?;
    root.present()?;
    Ok(())
}

/// A dataset's labels: items per class (categories), or mean ± std per dimension (vectors).
fn draw_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    kind: &melspec::dataset::LabelKind,
    labels: ndarray::ArrayView2<f32>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    use melspec::dataset::LabelKind;
    let colour = RGBColor(59, 82, 139);
    match kind {
        LabelKind::Category { classes } => {
            let mut counts = vec![0usize; classes.len()];
            for &c in labels.column(0) {
                counts[c as usize] += 1;
            }
            let top = *counts.iter().max().unwrap_or(&1) as f64;
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("items per class ({} classes)", classes.len()),
                    (FONT, 18),
                )
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..classes.len() as f64, 0.0..top * 1.1)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(classes.len().min(30))
                .x_label_formatter(&|x| {
                    classes.get(x.floor() as usize).cloned().unwrap_or_default()
                })
                .y_desc("items")
                .label_style((FONT, 13))
                .draw()?;
            chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
                Rectangle::new(
                    [(i as f64 + 0.1, 0.0), (i as f64 + 0.9, c as f64)],
                    colour.filled(),
                )
            }))?;
        }
        LabelKind::Vector { names } => {
            let n = labels.nrows().max(1) as f64;
            let stats: Vec<(f64, f64)> = labels
                .columns()
                .into_iter()
                .map(|c| {
                    let mean = c.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                    let var = c
                        .iter()
                        .map(|&v| (f64::from(v) - mean).powi(2))
                        .sum::<f64>()
                        / n;
                    (mean, var.sqrt())
                })
                .collect();
            let lo = stats.iter().fold(f64::INFINITY, |a, (m, d)| a.min(m - d));
            let hi = stats
                .iter()
                .fold(f64::NEG_INFINITY, |a, (m, d)| a.max(m + d));
            let (lo, hi) = if lo.is_finite() && hi > lo {
                (lo, hi)
            } else {
                (lo - 0.5, lo + 0.5)
            };
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!(
                        "labels: mean ± std over the items of each of {} values",
                        names.len()
                    ),
                    (FONT, 18),
                )
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(55)
                .build_cartesian_2d(-0.5..names.len() as f64 - 0.5, lo..hi)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc("label dimension (column of the label table)")
                .y_desc("value")
                .label_style((FONT, 13))
                .draw()?;
            chart.draw_series(stats.iter().enumerate().map(|(k, (m, d))| {
                let x = k as f64;
                Rectangle::new(
                    [(x - 0.3, m - d), (x + 0.3, m + d)],
                    RGBColor(180, 200, 230).filled(),
                )
            }))?;
            chart.draw_series(
                stats
                    .iter()
                    .enumerate()
                    .map(|(k, (m, _))| Circle::new((k as f64, *m), 2, colour.filled())),
            )?;
        }
    }
    Ok(())
}

/// The legend of a chart's labelled series, framed on a translucent white box.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
) -> Result<()> {
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Training curves: train NLL per step (thin) and validation NLL (thick), nats/element.
/// `rows` are (step, train, valid); NaN validation values are skipped.
pub fn loss_png(path: &Path, rows: &[(f64, f64, f64)], title: &str) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (1000, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let finite = rows
        .iter()
        .flat_map(|r| [r.1, r.2])
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let last = rows.last().map_or(1.0, |r| r.0.max(1.0));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..last, lo..hi + 0.05 * (hi - lo))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("NLL (nats/element)")
        .label_style((FONT, 13))
        .draw()?;
    let train = RGBColor(150, 170, 210);
    chart
        .draw_series(LineSeries::new(
            rows.iter().filter(|r| r.1.is_finite()).map(|r| (r.0, r.1)),
            &train,
        ))?
        .label("train")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], train));
    let valid = RGBColor(200, 60, 40);
    chart
        .draw_series(LineSeries::new(
            rows.iter().filter(|r| r.2.is_finite()).map(|r| (r.0, r.2)),
            valid.stroke_width(3),
        ))?
        .label("valid")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], valid.stroke_width(3)));
    draw_legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// Generated spectrograms against their training data: the mean level per mel band (dB) of
/// each, with the floor shares in the legend.
pub fn levels_png(
    path: &Path,
    data: &melspec::dataset::Levels,
    samples: &melspec::dataset::Levels,
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

/// A generated spectrogram and its text attention: the spectrogram `plot` on top, and below,
/// on the same frames, the attention window `alignment` `(chars, frames)` (weights 0–1) with
/// the characters of `text` on the y axis (first at the top).
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
    let char_label = |y: &f64| {
        let row = chars.saturating_sub(1 + y.floor() as usize);
        match label.get(row) {
            Some(' ') => "␣".to_string(),
            Some(c) => c.to_string(),
            None => String::new(),
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
