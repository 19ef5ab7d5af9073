//! Figure 9: normalized mutual information per autoencoder, two bars each: intra-class
//! (nMI(x, A(x)), each sample against its own reconstruction) and inter-class
//! (nMI(A(x1), A(x2)), reconstructions of two different samples), mean with ±1 sd whiskers on
//! a fixed 0..1 axis so charts of different runs compare by eye.

use super::plot::{self, plot_err, text_style};
use crate::metrics::nmi::NmiSummary;
use crate::metrics::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// Size of Figure 9.
pub const NMI_CHART_SIZE: (u32, u32) = (760, 480);
pub const CAPTION: &str = "Figure 9: nMI per AE (mean ± sd)";
/// Intra-class bars: dark grey (the classifier colours would suggest a classifier).
pub const INTRA_COLOUR: RGBColor = RGBColor(70, 70, 70);
/// Inter-class bars: light grey.
pub const INTER_COLOUR: RGBColor = RGBColor(185, 185, 185);
pub const INTRA_LEGEND: &str = "intra-class: nMI(x, A(x))";
pub const INTER_LEGEND: &str = "inter-class: nMI(A(x1), A(x2))";
pub const WHISKER_LEGEND: &str = "whiskers: ± 1 sd";

/// Height of the legend row between the caption and the chart.
const LEGEND_HEIGHT: u32 = 30;
/// Bar extents within an AE's unit slot: intra on the left half, inter on the right.
const INTRA_BAR: (f64, f64) = (0.14, 0.49);
const INTER_BAR: (f64, f64) = (0.51, 0.86);

/// The SVG document of Figure 9 over `rows` = (AE name, intra-class, inter-class), one group
/// of two bars per row in the given order (`path` only names the figure in errors). A summary
/// with no finite mean (no samples) gets no bar and the note "n/a"; whiskers are cut at 0 and
/// 1, the bounds of nMI.
pub fn nmi_chart_svg(rows: &[(String, NmiSummary, NmiSummary)], path: &Path) -> Result<String> {
    plot::render_svg(path, NMI_CHART_SIZE, |root| draw(root, rows))
}

/// Writes Figure 9 to `path` atomically (missing folders are created).
pub fn write_nmi_chart(rows: &[(String, NmiSummary, NmiSummary)], path: &Path) -> Result<PathBuf> {
    plot::write_atomically(path, &nmi_chart_svg(rows, path)?)
}

/// The whisker's (bottom, top): mean ∓ sd cut to 0..1; `None` without a finite mean.
fn whisker(summary: &NmiSummary) -> Option<(f64, f64)> {
    if !summary.mean.is_finite() {
        return None;
    }
    let sd = if summary.std.is_finite() { summary.std.abs() } else { 0.0 };
    let clamp = |v: f64| v.clamp(0.0, 1.0);
    Some((clamp(summary.mean - sd), clamp(summary.mean + sd)))
}

/// The x-axis title; when every AE was measured on the same numbers of samples and pairs they
/// are named, so the reader knows what the error bars summarise.
fn x_title(rows: &[(String, NmiSummary, NmiSummary)]) -> String {
    let uniform = |pick: fn(&(String, NmiSummary, NmiSummary)) -> usize| {
        let first = rows.first().map(pick)?;
        rows.iter().all(|row| pick(row) == first).then_some(first)
    };
    match (uniform(|r| r.1.count), uniform(|r| r.2.count)) {
        (Some(images), Some(pairs)) => {
            format!("autoencoder (each: intra over {images} images, inter over {pairs} pairs)")
        }
        _ => "autoencoder".to_string(),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(root: &Area, rows: &[(String, NmiSummary, NmiSummary)]) -> std::result::Result<(), String> {
    let titled = root.titled(CAPTION, text_style(plot::TITLE_FONT_SIZE)).map_err(plot_err)?;
    let (legend_area, body) = titled.split_vertically(LEGEND_HEIGHT);
    let slots = rows.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..slots, 0.0..1.0)
        .map_err(plot_err)?;
    plot::house_mesh(&mut chart)
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc("normalized mutual information")
        .y_labels(11)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (slots, 0.0)], plot::AXIS_COLOUR.stroke_width(1)))
        .map_err(plot_err)?;
    for (k, (name, intra, inter)) in rows.iter().enumerate() {
        let x = k as f64;
        for (summary, (left, right), colour) in
            [(intra, INTRA_BAR, INTRA_COLOUR), (inter, INTER_BAR, INTER_COLOUR)]
        {
            let (left, right) = (x + left, x + right);
            let centre = (left + right) / 2.0;
            let Some((low, high)) = whisker(summary) else {
                let (px, py) = chart.backend_coord(&(centre, 0.0));
                let style = text_style(plot::TICK_FONT_SIZE - 2)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                root.draw(&Text::new("n/a", (px, py - 4), style)).map_err(plot_err)?;
                continue;
            };
            let top = summary.mean.clamp(0.0, 1.0);
            chart
                .draw_series([
                    Rectangle::new([(left, 0.0), (right, top)], colour.filled()),
                    Rectangle::new([(left, 0.0), (right, top)], plot::AXIS_COLOUR.stroke_width(1)),
                ])
                .map_err(plot_err)?;
            let cap = (right - left) / 4.0;
            let style = BLACK.stroke_width(2);
            chart
                .draw_series([
                    PathElement::new([(centre, low), (centre, high)], style),
                    PathElement::new([(centre - cap, low), (centre + cap, low)], style),
                    PathElement::new([(centre - cap, high), (centre + cap, high)], style),
                ])
                .map_err(plot_err)?;
        }
        let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
        let style = text_style(plot::LABEL_FONT_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(name.as_str(), (px, py + 8), style)).map_err(plot_err)?;
    }
    let (px, py) = chart.backend_coord(&(slots / 2.0, 0.0));
    let style = text_style(plot::LABEL_FONT_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(x_title(rows), (px, py + 34), style)).map_err(plot_err)?;
    let plot_left = chart.backend_coord(&(0.0, 0.0)).0;
    draw_legend(&legend_area, plot_left)
}

/// One row starting at the plot's left edge (`left`, in root pixels): a dark swatch, a light
/// swatch and a whisker sample, each with its text.
fn draw_legend(area: &Area, left: i32) -> std::result::Result<(), String> {
    let mut x = left - area.get_base_pixel().0;
    let y = (LEGEND_HEIGHT / 2) as i32;
    let text = text_style(plot::TICK_FONT_SIZE);
    let label = |area: &Area, x: i32, words: &str| -> std::result::Result<i32, String> {
        let style = text.clone().pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(words, (x, y), style)).map_err(plot_err)?;
        let (width, _) = area.estimate_text_size(words, &text).map_err(plot_err)?;
        Ok(x + width as i32 + 24)
    };
    for (colour, words) in [(INTRA_COLOUR, INTRA_LEGEND), (INTER_COLOUR, INTER_LEGEND)] {
        let swatch = [(x, y - 7), (x + 14, y + 7)];
        area.draw(&Rectangle::new(swatch, colour.filled())).map_err(plot_err)?;
        area.draw(&Rectangle::new(swatch, plot::AXIS_COLOUR.stroke_width(1))).map_err(plot_err)?;
        x = label(area, x + 20, words)?;
    }
    let style = BLACK.stroke_width(2);
    area.draw(&PathElement::new([(x + 7, y - 7), (x + 7, y + 7)], style)).map_err(plot_err)?;
    area.draw(&PathElement::new([(x + 3, y - 7), (x + 11, y - 7)], style)).map_err(plot_err)?;
    area.draw(&PathElement::new([(x + 3, y + 7), (x + 11, y + 7)], style)).map_err(plot_err)?;
    label(area, x + 20, WHISKER_LEGEND)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(mean: f64, std: f64, count: usize) -> NmiSummary {
        NmiSummary { mean, std, count }
    }

    fn paper_like_rows() -> Vec<(String, NmiSummary, NmiSummary)> {
        [("A_S", 0.62, 0.10), ("A_L", 0.35, 0.06), ("A_A", 0.21, 0.14), ("A_V", 0.48, 0.05)]
            .into_iter()
            .map(|(name, intra, inter)| {
                (name.to_string(), summary(intra, 0.08, 500), summary(inter, 0.03, 250))
            })
            .collect()
    }

    #[test]
    fn names_every_ae_the_legend_and_the_caption() {
        let svg = nmi_chart_svg(&paper_like_rows(), Path::new("fig9_nmi.svg")).unwrap();
        for name in ["A_S", "A_L", "A_A", "A_V"] {
            assert!(svg.contains(&format!(">\n{name}\n<")), "no label {name}");
        }
        for text in ["intra-class: nMI(x, A(x))", "inter-class: nMI(A(x1), A(x2))", "± 1 sd"] {
            assert!(svg.contains(text), "legend lacks {text}");
        }
        assert!(svg.contains("Figure 9: nMI per AE (mean ± sd)"));
        assert!(svg.contains("intra over 500 images, inter over 250 pairs"));
        assert!(svg.contains(">\n1.0\n<") && svg.contains(">\n0.0\n<"), "fixed 0..1 axis");
    }

    #[test]
    fn same_input_same_bytes_and_two_bars_per_ae() {
        let rows = paper_like_rows();
        let first = nmi_chart_svg(&rows, Path::new("a.svg")).unwrap();
        assert_eq!(first, nmi_chart_svg(&rows, Path::new("a.svg")).unwrap());
        let fill = |c: RGBColor| format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        assert_eq!(first.matches(&fill(INTRA_COLOUR)).count(), rows.len() + 1, "bars + swatch");
        assert_eq!(first.matches(&fill(INTER_COLOUR)).count(), rows.len() + 1, "bars + swatch");
    }

    #[test]
    fn whiskers_are_cut_to_the_bounds_of_nmi() {
        assert_eq!(whisker(&summary(0.5, 0.25, 3)), Some((0.25, 0.75)));
        assert_eq!(whisker(&summary(0.95, 0.2, 3)), Some((0.75, 1.0)));
        assert_eq!(whisker(&summary(0.05, 0.2, 3)), Some((0.0, 0.25)));
        assert_eq!(whisker(&summary(f64::NAN, f64::NAN, 0)), None);
    }

    #[test]
    fn an_ae_without_samples_is_marked_not_dropped() {
        let mut rows = paper_like_rows();
        rows[1].1 = summary(f64::NAN, f64::NAN, 0);
        let svg = nmi_chart_svg(&rows, Path::new("a.svg")).unwrap();
        assert!(svg.contains(">\nn/a\n<") && svg.contains(">\nA_L\n<"));
        assert!(!svg.contains("intra over"), "counts differ, so none is named");
        assert!(nmi_chart_svg(&[], Path::new("empty.svg")).unwrap().contains("Figure 9"));
    }

    #[test]
    fn writes_the_file_atomically() {
        let dir = std::env::temp_dir().join(format!("dnlts-nmi-{}", std::process::id()));
        let path = dir.join("figures/fig9_nmi.svg");
        let written = write_nmi_chart(&paper_like_rows(), &path).unwrap();
        assert_eq!(written, path);
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert_eq!(on_disk, nmi_chart_svg(&paper_like_rows(), &path).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        // A sample for a person to look at.
        let sample = std::env::temp_dir().join("dnlts_fig9_nmi_sample.svg");
        write_nmi_chart(&paper_like_rows(), &sample).unwrap();
    }
}
