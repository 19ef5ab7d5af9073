//! Figure 6: every j∘A_i sorted by RRC, one bar each, coloured by the classifier j.

use super::plot::{self, plot_err, text_style};
use crate::metrics::analysis::Analysis;
use crate::metrics::bootstrap::Interval;
use crate::metrics::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// The definition printed under the title (no apostrophes: SVG text escapes them).
pub const DEFINITION: &str =
    "RRC(j∘A_i) = acc(j∘A_i) / min(acc(i∘A_i), acc(j∘A_j)); at 1, j on the reconstructions of \
     A_i does as well as the weaker of i, j on its own AE";

/// The x-axis title.
pub const X_TITLE: &str = "pairs j∘A_i (classifier j on the AE fine-tuned on i), sorted by RRC";

/// The SVG document of Figure 6 (`path` only names the figure in errors); `source` (whose
/// Table 2: "profile ci", "the paper's Table 2") goes into the title.
pub fn rrc_bar_chart_svg(analysis: &Analysis, path: &Path, source: &str) -> Result<String> {
    rrc_bar_chart_svg_with(analysis, path, source, &[])
}

/// [`rrc_bar_chart_svg`] with an error bar on each bar that has an interval (`intervals[k]`
/// for `analysis.rrc[k]`).
pub fn rrc_bar_chart_svg_with(
    analysis: &Analysis,
    path: &Path,
    source: &str,
    intervals: &[Option<Interval>],
) -> Result<String> {
    plot::render_svg(path, plot::BAR_CHART_SIZE, |root| draw(root, analysis, source, intervals))
}

fn colour_of(analysis: &Analysis, classifier: &str) -> RGBColor {
    let position = analysis.classifiers.iter().position(|c| c == classifier).unwrap_or(0);
    plot::classifier_colour(classifier, position)
}

fn draw(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    analysis: &Analysis,
    source: &str,
    intervals: &[Option<Interval>],
) -> std::result::Result<(), String> {
    let bars = &analysis.rrc;
    let highest = intervals.iter().flatten().map(|i| i.high).filter(|h| h.is_finite());
    let y_max = bars.iter().map(|e| e.rrc).chain(highest).fold(1.0, f64::max) * 1.08;
    let title = format!("Figure 6 ({source}): RRC of every j∘A_i, sorted");
    let root_titled = root.titled(&title, text_style(plot::TITLE_FONT_SIZE)).map_err(plot_err)?;
    let (definition, body) = root_titled.split_vertically(24);
    let style = text_style(plot::TICK_FONT_SIZE).pos(Pos::new(HPos::Center, VPos::Center));
    let centre = (plot::BAR_CHART_SIZE.0 / 2) as i32;
    definition.draw(&Text::new(DEFINITION, (centre, 10), style.clone())).map_err(plot_err)?;
    let (_, bottom) = root.dim_in_pixel();
    root.draw(&Text::new(
        X_TITLE,
        (centre, bottom as i32 - 12),
        text_style(plot::LABEL_FONT_SIZE).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(90)
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
        if let Some(Some(interval)) = intervals.get(k) {
            let (low, high) = (interval.low.max(0.0), interval.high);
            let bar = [(x + 0.5, low), (x + 0.5, high)];
            let caps = [[(x + 0.35, low), (x + 0.65, low)], [(x + 0.35, high), (x + 0.65, high)]];
            let style = BLACK.stroke_width(1);
            chart.draw_series([PathElement::new(bar, style)]).map_err(plot_err)?;
            chart.draw_series(caps.map(|c| PathElement::new(c, style))).map_err(plot_err)?;
        }
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
    let (x0, mut y) = (90, 76);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::analysis::{analyze, DEFAULT_THRESHOLDS};
    use crate::metrics::rrc::CrossTable;

    #[test]
    fn the_title_names_its_source_and_rrc_is_defined_on_the_figure() {
        let table = include_str!("../../fixtures/paper/table2.json");
        let table = CrossTable::from_json_str(table, Path::new("table2.json")).unwrap();
        let analysis = analyze(&table, &DEFAULT_THRESHOLDS).unwrap();
        let ours = rrc_bar_chart_svg(&analysis, Path::new("f.svg"), "profile ci").unwrap();
        assert!(ours.contains("Figure 6 (profile ci): RRC of every j∘A_i, sorted"));
        assert!(ours.contains(DEFINITION) && ours.contains(X_TITLE));
        let paper = rrc_bar_chart_svg(&analysis, Path::new("f.svg"), "the paper's Table 2");
        assert_ne!(ours, paper.unwrap());
    }
}
