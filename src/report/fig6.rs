//! Figure 6: every j∘A_i sorted by RRC, one bar each, coloured by the classifier j.

use super::plot::{self, plot_err, text_style};
use crate::metrics::analysis::Analysis;
use crate::metrics::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// The SVG document of Figure 6 (`path` only names the figure in errors).
pub fn rrc_bar_chart_svg(analysis: &Analysis, path: &Path) -> Result<String> {
    plot::render_svg(path, plot::BAR_CHART_SIZE, |root| draw(root, analysis))
}

fn colour_of(analysis: &Analysis, classifier: &str) -> RGBColor {
    let position = analysis.classifiers.iter().position(|c| c == classifier).unwrap_or(0);
    plot::classifier_colour(classifier, position)
}

fn draw(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    analysis: &Analysis,
) -> std::result::Result<(), String> {
    let bars = &analysis.rrc;
    let y_max = bars.iter().map(|e| e.rrc).fold(1.0, f64::max) * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption("Figure 6: RRC of every j∘A_i, sorted", text_style(plot::TITLE_FONT_SIZE))
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..bars.len() as f64, 0.0..y_max)
        .map_err(plot_err)?;
    plot::house_mesh(&mut chart)
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc("RRC")
        .draw()
        .map_err(plot_err)?;
    // RRC = 1: the weaker classifier keeps all of its own accuracy.
    chart
        .draw_series(LineSeries::new(
            [(0.0, 1.0), (bars.len() as f64, 1.0)],
            plot::AXIS_COLOUR.stroke_width(1),
        ))
        .map_err(plot_err)?;
    for (k, entry) in bars.iter().enumerate() {
        let colour = colour_of(analysis, &entry.classifier);
        let x = k as f64;
        chart
            .draw_series([Rectangle::new(
                [(x + 0.12, 0.0), (x + 0.88, entry.rrc)],
                colour.filled(),
            )])
            .map_err(plot_err)?;
        let label = format!("{}∘A_{}", entry.classifier, entry.autoencoder);
        let style = text_style(plot::TICK_FONT_SIZE)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
        root.draw(&Text::new(label, (px, py + 6), style)).map_err(plot_err)?;
    }
    draw_legend(root, analysis)
}

fn draw_legend(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    analysis: &Analysis,
) -> std::result::Result<(), String> {
    let (x0, mut y) = (90, 50);
    for name in &analysis.classifiers {
        let colour = colour_of(analysis, name);
        root.draw(&Rectangle::new([(x0, y), (x0 + 14, y + 14)], colour.filled()))
            .map_err(plot_err)?;
        let style = text_style(plot::TICK_FONT_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(format!("classifier {name}"), (x0 + 20, y + 7), style))
            .map_err(plot_err)?;
        y += 20;
    }
    Ok(())
}
