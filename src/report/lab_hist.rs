//! Figure 3's histograms: one row per image, one panel per L*, a*, b* channel. Each channel
//! (column) has one y scale for every image, so a reconstruction's histogram compares with the
//! original's above it at a glance; channels keep their own, since a* and b* of most images
//! peak near 0 several times higher than any L* bin and would flatten L* on a shared one.

use super::plot::{self, plot_err, text_style};
use crate::metrics::lab::{ChannelHistogram, LabHistograms};
use crate::metrics::Result;
use plotters::prelude::*;
use std::path::Path;

/// SVG of the histograms of several images (`rows` = (image name, histograms)).
pub fn lab_histograms_svg(rows: &[(String, LabHistograms)], path: &Path) -> Result<String> {
    let (width, row_height) = plot::HISTOGRAM_ROW_SIZE;
    let size = (width, row_height * rows.len().max(1) as u32);
    fn channels(h: &LabHistograms) -> [&ChannelHistogram; 3] {
        [&h.l, &h.a, &h.b]
    }
    let mut y_max = [1e-6f64; 3];
    for (_, histograms) in rows {
        for (top, channel) in y_max.iter_mut().zip(channels(histograms)) {
            *top = top.max(fractions(channel).into_iter().fold(0.0, f64::max));
        }
    }
    plot::render_svg(path, size, |root| {
        for ((name, histograms), area) in rows.iter().zip(root.split_evenly((rows.len().max(1), 1)))
        {
            let panels = area.split_evenly((1, 3));
            for (k, (channel, panel)) in channels(histograms).into_iter().zip(&panels).enumerate() {
                draw_channel(panel, name, channel, y_max[k] * 1.1, k == 0)?;
            }
        }
        Ok(())
    })
}

/// Writes the figure to `path` atomically.
pub fn write_lab_histograms(
    rows: &[(String, LabHistograms)],
    path: &Path,
) -> Result<std::path::PathBuf> {
    let svg = lab_histograms_svg(rows, path)?;
    plot::write_atomically(path, &svg)
}

/// The x-axis title of a channel's panels.
pub fn channel_title(channel: &str) -> &'static str {
    match channel {
        "L*" => "L* (lightness, 0 black to 100 white)",
        "a*" => "a* (green − to magenta +)",
        _ => "b* (blue − to yellow +)",
    }
}

/// The y-axis title of the first column.
pub const Y_TITLE: &str = "fraction of pixels";

/// Fractions rather than counts, so images of different sizes share a scale.
fn fractions(histogram: &ChannelHistogram) -> Vec<f64> {
    let total = histogram.counts.iter().sum::<u64>().max(1) as f64;
    histogram.counts.iter().map(|&c| c as f64 / total).collect()
}

fn draw_channel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    name: &str,
    histogram: &ChannelHistogram,
    y_max: f64,
    y_title: bool,
) -> std::result::Result<(), String> {
    let fractions = fractions(histogram);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{name}: {}", histogram.channel), text_style(plot::LABEL_FONT_SIZE))
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(if y_title { 62 } else { 44 })
        .build_cartesian_2d(histogram.range.0..histogram.range.1, 0.0..y_max)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_labels(3)
        .label_style(text_style(plot::TICK_FONT_SIZE))
        .axis_desc_style(text_style(plot::TICK_FONT_SIZE))
        .x_desc(channel_title(histogram.channel))
        .y_desc(if y_title { Y_TITLE } else { "" })
        .draw()
        .map_err(plot_err)?;
    let colour = plot::lab_channel_colour(histogram.channel);
    let half_bin = (histogram.range.1 - histogram.range.0) / (2.0 * fractions.len() as f64);
    let bars = fractions.iter().enumerate().filter(|(_, &f)| f > 0.0).map(|(k, &f)| {
        let centre = histogram.bin_centre(k);
        Rectangle::new(
            [(centre - half_bin, 0.0), (centre + half_bin, f)],
            colour.mix(0.45).filled(),
        )
    });
    chart.draw_series(bars).map_err(plot_err)?;
    // The outline keeps narrow peaks (the checkerboard artefacts of A_A, A_R) visible.
    let outline = fractions.iter().enumerate().map(|(k, &f)| (histogram.bin_centre(k), f));
    chart.draw_series(LineSeries::new(outline, colour.stroke_width(1))).map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::lab::lab_histograms;

    /// The y ticks' texts of each panel, in the document's order.
    fn y_ticks(svg: &str) -> Vec<String> {
        svg.split("<text")
            .filter(|t| t.contains("text-anchor=\"end\""))
            .map(|t| {
                t.split('>').nth(1).unwrap_or("").split('<').next().unwrap_or("").trim().to_string()
            })
            .collect()
    }

    #[test]
    fn a_channel_has_one_y_scale_for_every_image() {
        let spread: Vec<u8> = (0..=255u8).flat_map(|v| [v, v / 2, 255 - v]).collect();
        let flat = vec![128u8; 3 * 256];
        let rows = vec![
            ("x".to_string(), lab_histograms(&spread, 32).unwrap()),
            ("A".to_string(), lab_histograms(&flat, 32).unwrap()),
        ];
        let svg = lab_histograms_svg(&rows, Path::new("f.svg")).unwrap();
        let ticks = y_ticks(&svg);
        assert_eq!(ticks.len() % 2, 0, "{ticks:?}");
        let (first, second) = ticks.split_at(ticks.len() / 2);
        assert_eq!(first, second, "the flat image's panels share the scale of the varied one's");
    }

    #[test]
    fn one_row_per_image_with_three_channel_panels() {
        let rgb: Vec<u8> = (0..=255u8).flat_map(|v| [v, v / 2, 255 - v]).collect();
        let rows = vec![
            ("x".to_string(), lab_histograms(&rgb, 32).unwrap()),
            ("A_V".to_string(), lab_histograms(&rgb[..300], 32).unwrap()),
        ];
        let path = Path::new("fig3.svg");
        let svg = lab_histograms_svg(&rows, path).unwrap();
        assert_eq!(svg, lab_histograms_svg(&rows, path).unwrap());
        for title in ["x: L*", "x: a*", "x: b*", "A_V: L*", "A_V: b*", Y_TITLE] {
            assert!(svg.contains(title), "{title}");
        }
        for channel in ["L*", "a*", "b*"] {
            assert_eq!(svg.matches(channel_title(channel)).count(), 2, "{channel} in each row");
        }
        let (width, row_height) = plot::HISTOGRAM_ROW_SIZE;
        assert!(svg.starts_with(&format!("<svg width=\"{width}\" height=\"{}\"", 2 * row_height)));
    }
}
