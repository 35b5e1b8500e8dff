//! Training figures: the loss curves of a tier.

use super::*;

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
