//! Figures people look at, drawn with plotters: the shared primitives here (spectrograms with
//! axes in seconds and Hz and a dB colour bar, legends), one module per figure family.

use std::path::Path;

use anyhow::{anyhow, Result};
use melspec::convert::{hz_to_mel, mel_to_hz};
use melspec::MelParams;
use ndarray::ArrayView2;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

mod dataset;
mod filterbank;
mod spectrogram;
mod training;

pub use dataset::dataset_png;
pub use filterbank::{draw_filterbank, filterbank_png};
pub use spectrogram::{alignment_png, comparison_png, levels_png, spectrogram_png, Comparison};
pub use training::loss_png;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

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
