//! Figure 3's histograms: one row per image, one panel per L*, a*, b* channel.

use super::plot::{self, plot_err, text_style};
use crate::metrics::lab::{ChannelHistogram, LabHistograms};
use crate::metrics::Result;
use plotters::prelude::*;
use std::path::Path;

/// SVG of the histograms of several images (`rows` = (image name, histograms)).
pub fn lab_histograms_svg(rows: &[(String, LabHistograms)], path: &Path) -> Result<String> {
    let (width, row_height) = plot::HISTOGRAM_ROW_SIZE;
    let size = (width, row_height * rows.len().max(1) as u32);
    plot::render_svg(path, size, |root| {
        for ((name, histograms), area) in rows.iter().zip(root.split_evenly((rows.len().max(1), 1)))
        {
            let panels = area.split_evenly((1, 3));
            for (channel, panel) in
                [&histograms.l, &histograms.a, &histograms.b].into_iter().zip(&panels)
            {
                draw_channel(panel, name, channel)?;
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

fn draw_channel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    name: &str,
    histogram: &ChannelHistogram,
) -> std::result::Result<(), String> {
    let total = histogram.counts.iter().sum::<u64>().max(1) as f64;
    // Fractions rather than counts so images of different sizes share a scale.
    let fractions: Vec<f64> = histogram.counts.iter().map(|&c| c as f64 / total).collect();
    let y_max = fractions.iter().copied().fold(0.0, f64::max).max(1e-6) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{name}: {}", histogram.channel), text_style(plot::LABEL_FONT_SIZE))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(44)
        .build_cartesian_2d(histogram.range.0..histogram.range.1, 0.0..y_max)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_labels(3)
        .label_style(text_style(plot::TICK_FONT_SIZE))
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
        for title in ["x: L*", "x: a*", "x: b*", "A_V: L*", "A_V: b*"] {
            assert!(svg.contains(title), "{title}");
        }
        let (width, row_height) = plot::HISTOGRAM_ROW_SIZE;
        assert!(svg.starts_with(&format!("<svg width=\"{width}\" height=\"{}\"", 2 * row_height)));
    }
}
