//! The one plotting style of dnlts: fixed figure sizes, one font family, the paper's
//! classifier colours, SVG output built in memory and written atomically.
//!
//! Text is emitted as SVG `<text>` with a generic font family, so no font files are needed;
//! plotters only estimates label extents for layout.

use crate::metrics::{MetricsError, Result};
use plotters::chart::MeshStyle;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Generic family every SVG viewer can resolve. plotters writes sizes as size / 1.24 px.
pub const FONT_FAMILY: &str = "sans-serif";
pub const TITLE_FONT_SIZE: u32 = 22;
pub const LABEL_FONT_SIZE: u32 = 16;
pub const TICK_FONT_SIZE: u32 = 14;

/// Figure 6 bar chart.
pub const BAR_CHART_SIZE: (u32, u32) = (900, 540);
/// One Hasse diagram of Figure 7.
pub const LATTICE_SIZE: (u32, u32) = (420, 520);
/// One row (three channels) of Figure 3's histograms.
pub const HISTOGRAM_ROW_SIZE: (u32, u32) = (900, 240);

pub const AXIS_COLOUR: RGBColor = RGBColor(60, 60, 60);
/// Horizontal guide lines behind bars.
pub const GUIDE_COLOUR: RGBColor = RGBColor(220, 220, 220);
/// The chance line of accuracy charts (no classifier's colour).
pub const CHANCE_COLOUR: RGBColor = RGBColor(150, 150, 150);

/// The paper's colours (Figure 6 caption): L purple, A blue, V orange, I red, R green.
pub const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub const BLUE: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const RED: RGBColor = RGBColor(214, 39, 40);
pub const GREEN: RGBColor = RGBColor(44, 160, 44);

/// For classifiers the paper did not use, cycled by their position in the table.
pub const FALLBACK_PALETTE: [RGBColor; 5] = [
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Colour of a classifier: its paper colour when the name is one of the paper's (short letter
/// or architecture name, any case), otherwise the fallback colour of its table position.
pub fn classifier_colour(name: &str, position: usize) -> RGBColor {
    let lower = name.to_ascii_lowercase();
    let known = [
        ("l", "lenet", PURPLE),
        ("a", "alexnet", BLUE),
        ("v", "vgg", ORANGE),
        ("i", "inception", RED),
        ("r", "resnet", GREEN),
    ];
    known
        .iter()
        .find(|(letter, prefix, _)| lower == *letter || lower.starts_with(prefix))
        .map_or(FALLBACK_PALETTE[position % FALLBACK_PALETTE.len()], |k| k.2)
}

/// Figure 3 channel colours: L* grey, a* magenta (green–magenta axis), b* goldenrod
/// (blue–yellow axis).
pub fn lab_channel_colour(channel: &str) -> RGBColor {
    match channel {
        "a*" => RGBColor(200, 30, 140),
        "b*" => RGBColor(210, 160, 20),
        _ => AXIS_COLOUR,
    }
}

pub fn text_style(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

/// What every chart of dnlts draws on: f64 axes on an SVG canvas.
pub type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The mesh every chart shares: house fonts for axis titles and ticks, light guide lines
/// only. Callers add what is their own (titles, hidden axes, tick counts), then draw.
pub fn house_mesh<'a, 'b, 'c>(
    chart: &'c mut Chart<'a, 'b>,
) -> MeshStyle<'a, 'c, RangedCoordf64, RangedCoordf64, SVGBackend<'b>> {
    let mut mesh = chart.configure_mesh();
    mesh.axis_desc_style(text_style(LABEL_FONT_SIZE))
        .label_style(text_style(TICK_FONT_SIZE))
        .max_light_lines(0)
        .bold_line_style(GUIDE_COLOUR.stroke_width(1));
    mesh
}

/// Draws on an in-memory SVG canvas of `size` and returns the document.
pub fn render_svg<F>(path: &Path, size: (u32, u32), draw: F) -> Result<String>
where
    F: FnOnce(&DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), String>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let fail = |message: String| MetricsError::Plot { path: path.to_path_buf(), message };
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(svg)
}

/// Shorthand to turn a plotters drawing error into the message of [`render_svg`].
pub fn plot_err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Writes `contents` to a temporary file beside `path`, then renames it over `path`, so a
/// reader never sees half a figure.
pub fn write_atomically(path: &Path, contents: &str) -> Result<PathBuf> {
    crate::atomic::write_atomic(path, contents.as_bytes())
        .map_err(|source| crate::metric_files::io_error(path, source))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_names_get_paper_colours_and_others_cycle() {
        assert_eq!(classifier_colour("L", 3), PURPLE);
        assert_eq!(classifier_colour("ResNet50", 0), GREEN);
        assert_eq!(classifier_colour("vgg16_bn", 0), ORANGE);
        assert_eq!(classifier_colour("mine", 0), FALLBACK_PALETTE[0]);
        assert_eq!(classifier_colour("mine", 6), FALLBACK_PALETTE[1]);
    }

    #[test]
    fn plot_errors_name_the_figure() {
        let err = MetricsError::Plot {
            path: PathBuf::from("out/fig6_rrc.svg"),
            message: "backend failed".into(),
        };
        assert_eq!(err.to_string(), "could not draw `out/fig6_rrc.svg`: backend failed");
    }

    #[test]
    fn atomic_write_leaves_no_temporary_and_reports_bad_paths() {
        let dir = std::env::temp_dir().join(format!("dnlts-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("x.svg");
        write_atomically(&target, "<svg/>").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "<svg/>");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // Under a regular file no folder can be made.
        let impossible = target.join("dir.svg");
        let err = write_atomically(&impossible, "x").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read or write `{}`", impossible.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
