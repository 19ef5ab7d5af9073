//! Line charts: Figure 2 (pre-training curves) and Figure 4 (accuracy under noise).

use super::plot::{self, plot_err, text_style};
use crate::metrics::{MetricsError, Result};
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
    /// Error bars (x, low, high), drawn in the line's colour; empty: none.
    pub band: Vec<(f64, f64, f64)>,
}

/// Axis titles and the figure's caption.
pub struct Axes<'a> {
    pub caption: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

/// The SVG document of a line chart over `series` (`path` only names the figure in errors);
/// the y axis spans the data (padded by 5 %, never below 0), the x axis the data from 0 (every
/// x of dnlts counts from 0: images seen, epochs, noise strength).
pub fn line_chart_svg(path: &Path, axes: &Axes, series: &[Series]) -> Result<String> {
    line_chart_svg_with_range(path, axes, series, None)
}

/// [`line_chart_svg`] with the y axis fixed to `y_range` = (bottom, top) when given, whatever
/// the data, so charts of different runs compare by eye (Figure 4 uses (0, 1)). Lines leaving
/// the range are cut where they cross its edge. A range that is not finite or not increasing
/// is an error.
pub fn line_chart_svg_with_range(
    path: &Path,
    axes: &Axes,
    series: &[Series],
    y_range: Option<(f64, f64)>,
) -> Result<String> {
    if let Some((bottom, top)) = y_range {
        if !(bottom.is_finite() && top.is_finite() && bottom < top) {
            return Err(MetricsError::Plot {
                path: path.to_path_buf(),
                message: format!("y range ({bottom}, {top}) is not finite and increasing"),
            });
        }
    }
    let ranges = bounds(series, y_range);
    plot::render_svg(path, LINE_CHART_SIZE, |root| draw(root, axes, series, ranges))
}

/// The x and y ranges of a chart: x spans the finite data; y is `y_range` when given, else the
/// data padded by 5 % (never below 0). No finite data: (0, 1) for each axis not given.
fn bounds(series: &[Series], y_range: Option<(f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let ((x0, x1), y) = data_bounds(series);
    ((x0.min(0.0), x1), y_range.unwrap_or(y))
}

/// A tick label of an axis spanning `span`: as many decimals as a tenth of the span needs
/// (ticks at 0, 5000, 10000 rather than 0.0, 5000.0; at 0.1, 0.2 rather than 0.10000001).
fn tick_text(value: f64, span: f64) -> String {
    let decimals = if span > 0.0 { (-(span / 10.0).log10()).ceil().clamp(0.0, 6.0) } else { 0.0 };
    format!("{value:.*}", decimals as usize)
}

fn data_bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
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

/// Splits a polyline of finite points into the runs that lie within `bottom..=top` in y; a
/// segment crossing an edge is cut where it crosses, so nothing is drawn outside the chart.
fn clip_to_band(points: &[(f64, f64)], bottom: f64, top: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| (bottom..=top).contains(&y);
    if let [only] = points {
        return if inside(only.1) { vec![vec![*only]] } else { Vec::new() };
    }
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // The part of a→b inside the band is t ∈ [enter, exit] with p(t) = a + t (b − a).
        let (enter, exit) = if a.1 == b.1 {
            if inside(a.1) {
                (0.0, 1.0)
            } else {
                continue;
            }
        } else {
            let at = |edge: f64| (edge - a.1) / (b.1 - a.1);
            let (t0, t1) = (at(bottom), at(top));
            (t0.min(t1).max(0.0), t0.max(t1).min(1.0))
        };
        if enter > exit {
            continue;
        }
        let at = |t: f64| {
            if t <= 0.0 {
                a
            } else if t >= 1.0 {
                b
            } else {
                (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
            }
        };
        let (start, end) = (at(enter), at(exit));
        match runs.last_mut() {
            Some(run) if run.last() == Some(&start) => run.push(end),
            _ => runs.push(vec![start, end]),
        }
    }
    runs
}

type Ranges = ((f64, f64), (f64, f64));

fn draw(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    axes: &Axes,
    series: &[Series],
    ((x0, x1), (y0, y1)): Ranges,
) -> std::result::Result<(), String> {
    let mut chart = ChartBuilder::on(root)
        .caption(axes.caption, text_style(plot::TITLE_FONT_SIZE))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    plot::house_mesh(&mut chart)
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_label_formatter(&|v| tick_text(*v, x1 - x0))
        .draw()
        .map_err(plot_err)?;
    for line in series {
        let style = line.colour.stroke_width(2);
        let finite: Vec<(f64, f64)> =
            line.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        for run in clip_to_band(&finite, y0, y1) {
            if line.dashed {
                chart.draw_series(DashedLineSeries::new(run, 6, 4, style)).map_err(plot_err)?;
            } else {
                chart.draw_series(LineSeries::new(run, style)).map_err(plot_err)?;
            }
        }
        let bars = (line.band.iter())
            .filter(|(x, low, high)| x.is_finite() && low.is_finite() && high.is_finite())
            .map(|&(x, low, high)| {
                let (low, high) = (low.clamp(y0, y1), high.clamp(y0, y1));
                PathElement::new([(x, low), (x, high)], line.colour.mix(0.6).stroke_width(1))
            });
        chart.draw_series(bars).map_err(plot_err)?;
        // An empty series that only carries the legend entry.
        let colour = line.colour;
        let dashed = line.dashed;
        chart
            .draw_series(LineSeries::new(Vec::<(f64, f64)>::new(), style))
            .map_err(plot_err)?
            .label(line.name.clone())
            .legend(move |(x, y)| {
                // Two strokes, 4 px apart for a dashed line, touching for a solid one.
                let (style, gap) = (colour.stroke_width(2), if dashed { 4 } else { 0 });
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (7, 0)], style)
                    + PathElement::new([(7 + gap, 0), (18, 0)], style)
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn low_series() -> Vec<Series> {
        vec![
            Series {
                name: "L".into(),
                colour: plot::PURPLE,
                dashed: true,
                points: vec![(0.0, 0.42), (0.1, 0.3), (0.2, 0.12)],
                band: Vec::new(),
            },
            Series {
                name: "L∘A_L".into(),
                colour: plot::PURPLE,
                dashed: false,
                points: vec![(0.0, 0.45), (0.1, 0.4), (0.2, f64::NAN), (0.3, 0.2)],
                band: Vec::new(),
            },
        ]
    }

    fn axes() -> Axes<'static> {
        Axes { caption: "Figure 4: test", x: "noise strength s", y: "top-1" }
    }

    #[test]
    fn a_fixed_y_range_replaces_the_data_bounds() {
        let series = low_series();
        let ((x0, x1), (y0, y1)) = bounds(&series, None);
        assert_eq!((x0, x1), (0.0, 0.3));
        let later =
            [Series { points: vec![(256.0, 0.2), (2560.0, 0.1)], ..low_series().remove(0) }];
        assert_eq!(bounds(&later, None).0, (0.0, 2560.0), "x counts from 0");
        assert!(y0 > 0.1 && y1 < 0.5, "data bounds ({y0}, {y1})");
        assert_eq!(bounds(&series, Some((0.0, 1.0))), ((0.0, 0.3), (0.0, 1.0)));
        assert_eq!(bounds(&[], Some((0.2, 0.8))), ((0.0, 1.0), (0.2, 0.8)));
    }

    #[test]
    fn the_svg_shows_the_top_of_a_fixed_range_the_data_never_reach() {
        let path = Path::new("fig4.svg");
        let fixed = line_chart_svg_with_range(path, &axes(), &low_series(), Some((0.0, 1.0)));
        let fixed = fixed.unwrap();
        assert!(fixed.contains(">\n1.0\n<"), "no tick at 1.0");
        let free = line_chart_svg(path, &axes(), &low_series()).unwrap();
        assert!(!free.contains(">\n1.0\n<"), "the data alone stay below 0.5");
        let same = line_chart_svg_with_range(path, &axes(), &low_series(), Some((0.0, 1.0)));
        assert_eq!(same.unwrap(), fixed, "same input, same bytes");
        // A sample for a person to look at.
        std::fs::write(std::env::temp_dir().join("dnlts_fig4_fixed_range_sample.svg"), fixed)
            .unwrap();
    }

    #[test]
    fn ticks_have_the_decimals_their_spacing_needs() {
        assert_eq!(tick_text(300.0, 2560.0), "300");
        assert_eq!(tick_text(0.30000000000000004, 1.0), "0.3");
        assert_eq!(tick_text(0.05, 0.3), "0.05");
        assert_eq!(tick_text(3.0, 0.0), "3");
    }

    #[test]
    fn a_bad_range_is_an_error_naming_the_figure() {
        for range in [(1.0, 0.0), (0.5, 0.5), (0.0, f64::INFINITY), (f64::NAN, 1.0)] {
            let err = line_chart_svg_with_range(Path::new("f.svg"), &axes(), &[], Some(range));
            let message = err.unwrap_err().to_string();
            assert!(message.contains("f.svg") && message.contains("y range"), "{message}");
        }
    }

    #[test]
    fn lines_are_cut_where_they_leave_the_range() {
        // Inside, up through the top, back down, below the bottom, back in.
        let points = [(0.0, 0.5), (1.0, 1.5), (2.0, 0.5), (3.0, -0.5), (4.0, 0.5)];
        let runs = clip_to_band(&points, 0.0, 1.0);
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 0.5), (0.5, 1.0)],
                vec![(1.5, 1.0), (2.0, 0.5), (2.5, 0.0)],
                vec![(3.5, 0.0), (4.0, 0.5)],
            ]
        );
        // Entirely inside: one run, the same points.
        let inside = [(0.0, 0.2), (1.0, 0.3), (2.0, 0.3)];
        assert_eq!(clip_to_band(&inside, 0.0, 1.0), vec![inside.to_vec()]);
        // Jumping clean across the band keeps only the part inside.
        assert_eq!(
            clip_to_band(&[(0.0, -1.0), (2.0, 3.0)], 0.0, 1.0),
            vec![vec![(0.5, 0.0), (1.0, 1.0)]]
        );
        assert!(clip_to_band(&[(0.0, 2.0), (1.0, 3.0)], 0.0, 1.0).is_empty());
        assert_eq!(clip_to_band(&[(0.0, 0.5)], 0.0, 1.0), vec![vec![(0.0, 0.5)]]);
    }

    #[test]
    fn every_series_is_in_the_legend_even_when_out_of_range() {
        let mut series = low_series();
        series[0].points = vec![(0.0, 5.0), (1.0, 6.0)];
        let svg = line_chart_svg_with_range(Path::new("f.svg"), &axes(), &series, Some((0.0, 1.0)));
        let svg = svg.unwrap();
        assert!(svg.contains(">\nL\n<") && svg.contains(">\nL∘A_L\n<"), "legend names");
    }
}
