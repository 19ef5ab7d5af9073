//! Line charts: Figure 2 (pre-training curves) and Figure 4 (accuracy under noise).

use super::plot::{self, plot_err, text_style};
use crate::metrics::Result;
use plotters::prelude::*;
use std::path::Path;

/// Figure 2 and each panel of Figure 4.
pub const LINE_CHART_SIZE: (u32, u32) = (640, 420);

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub colour: RGBColor,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// Axis titles and the figure's caption.
pub struct Axes<'a> {
    pub caption: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

/// The SVG document of a line chart over `series` (`path` only names the figure in errors).
pub fn line_chart_svg(path: &Path, axes: &Axes, series: &[Series]) -> Result<String> {
    plot::render_svg(path, LINE_CHART_SIZE, |root| draw(root, axes, series))
}

fn bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let points = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    ((x0, x1.max(x0 + 1e-9)), ((y0 - pad).max(0.0), y1 + pad))
}

fn draw(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    axes: &Axes,
    series: &[Series],
) -> std::result::Result<(), String> {
    let ((x0, x1), (y0, y1)) = bounds(series);
    let mut chart = ChartBuilder::on(root)
        .caption(axes.caption, text_style(plot::TITLE_FONT_SIZE))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .axis_desc_style(text_style(plot::LABEL_FONT_SIZE))
        .label_style(text_style(plot::TICK_FONT_SIZE))
        .max_light_lines(0)
        .bold_line_style(plot::GUIDE_COLOUR.stroke_width(1))
        .draw()
        .map_err(plot_err)?;
    for line in series {
        let style = line.colour.stroke_width(2);
        let points = line.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite());
        let drawn = if line.dashed {
            chart.draw_series(DashedLineSeries::new(points, 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(points, style))
        };
        let colour = line.colour;
        drawn
            .map_err(plot_err)?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font(text_style(plot::TICK_FONT_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(plot::GUIDE_COLOUR)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}
