//! Figures of the analysis half: Figure 6 (RRC bars), Figure 7 (lattices, SVG and DOT),
//! Figure 3's L*a*b* histograms, labelled picture grids (Figures 3 and 5, with their bitmap
//! font), line charts (Figures 2 and 4) and Figure 9's nMI bars. Same input ⇒ same bytes.

pub mod curves;
pub mod fig6;
pub mod font;
pub mod grid;
pub mod lab_hist;
pub mod lattice;
pub mod nmi_chart;
pub mod plot;

use crate::metrics::analysis::Analysis;
use crate::metrics::{MetricsError, Result};
use std::path::{Path, PathBuf};

/// File stem of the lattice at threshold `t`, e.g. `fig7_lattice_t0.10`.
pub fn lattice_stem(t: f64) -> String {
    format!("fig7_lattice_t{t:.2}")
}

/// Writes `fig6_rrc.svg` and, per threshold, `fig7_lattice_t<t>.svg` and `.dot` into
/// `out_dir` (created if missing); returns the paths in that order. `source` says in each
/// title whose Table 2 the figures show ("the paper's Table 2", "profile ci"), so that ours
/// and the paper's are never mistaken for one another.
pub fn write_figures(analysis: &Analysis, out_dir: &Path, source: &str) -> Result<Vec<PathBuf>> {
    let mut written = vec![write_fig6(analysis, out_dir, source, &[])?];
    written.extend(write_fig7(analysis, out_dir, source)?);
    Ok(written)
}

/// Writes `fig6_rrc.svg` into `out_dir` (created if missing); `source` as in [`write_figures`];
/// `intervals` (one per bar of `analysis.rrc`, or none) are drawn as error bars.
pub fn write_fig6(
    analysis: &Analysis,
    out_dir: &Path,
    source: &str,
    intervals: &[Option<crate::metrics::bootstrap::Interval>],
) -> Result<PathBuf> {
    create_dir(out_dir)?;
    let fig6 = out_dir.join("fig6_rrc.svg");
    let svg = fig6::rrc_bar_chart_svg_with(analysis, &fig6, source, intervals)?;
    plot::write_atomically(&fig6, &svg)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|source| MetricsError::Io { path: dir.to_path_buf(), source })
}

/// Writes each lattice as `fig7_lattice_t<t>.svg` and `.dot` into `out_dir`; `source` as in
/// [`write_figures`].
pub fn write_fig7(analysis: &Analysis, out_dir: &Path, source: &str) -> Result<Vec<PathBuf>> {
    create_dir(out_dir)?;
    let mut written = Vec::new();
    for lattice in &analysis.lattices {
        let stem = lattice_stem(lattice.threshold);
        let svg_path = out_dir.join(format!("{stem}.svg"));
        let svg = lattice::lattice_svg(lattice, &analysis.classifiers, &svg_path, source)?;
        written.push(plot::write_atomically(&svg_path, &svg)?);
        let dot_path = out_dir.join(format!("{stem}.dot"));
        written.push(plot::write_atomically(&dot_path, &lattice::lattice_dot(lattice, &stem))?);
    }
    Ok(written)
}
