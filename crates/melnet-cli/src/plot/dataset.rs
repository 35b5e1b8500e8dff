//! Dataset figures: histograms of per-item statistics, durations, the mean spectrum, labels.

use super::*;

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
/// (`(items, dim)`, [`Dataset::labels`](melnet_data::dataset::Dataset::labels)) a row below: the
/// items per class, or each label dimension's mean ± std over the items.
pub fn dataset_png(
    path: &Path,
    m: &melnet_data::dataset::Manifest,
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
    let per_item = |f: &dyn Fn(&melnet_data::dataset::Item) -> f64| -> Vec<f64> {
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
    kind: &melnet_data::dataset::LabelKind,
    labels: ndarray::ArrayView2<f32>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    use melnet_data::dataset::LabelKind;
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
