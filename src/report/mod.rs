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
use crate::metrics::Result;
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
    std::fs::create_dir_all(dir).map_err(|source| crate::metric_files::io_error(dir, source))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::analysis::{analyze, DEFAULT_THRESHOLDS};

    /// The analysis of the paper's Table 2 (its goldens are in tests/analysis_golden.rs).
    fn paper_analysis() -> Analysis {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/paper/table2.json");
        let table = crate::metric_files::load_cross_table(&path).unwrap();
        analyze(&table, &DEFAULT_THRESHOLDS).unwrap()
    }

    #[test]
    fn figures_are_deterministic_and_name_every_file() {
        let a = paper_analysis();
        let base = std::env::temp_dir().join(format!("dnlts-figures-{}", std::process::id()));
        let first = write_figures(&a, &base.join("one"), "test").unwrap();
        let second = write_figures(&a, &base.join("two"), "test").unwrap();
        let names: Vec<String> =
            first.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names[0], "fig6_rrc.svg");
        assert_eq!(names.len(), 1 + 2 * DEFAULT_THRESHOLDS.len(), "{names:?}");
        assert!(names.contains(&"fig7_lattice_t0.90.dot".to_string()), "{names:?}");
        for (p, q) in first.iter().zip(&second) {
            assert_eq!(std::fs::read(p).unwrap(), std::fs::read(q).unwrap(), "{}", p.display());
        }
        let fig6 = std::fs::read_to_string(&first[0]).unwrap();
        let head: String = fig6.chars().take(200).collect();
        assert!(fig6.starts_with("<svg"), "fig6_rrc.svg starts {head:?}");
        for (text, what) in [
            ("V∘A_A", "a bar label"),
            ("fill=\"#9467BD\"", "L purple"),
            ("fill=\"#2CA02C\"", "R green"),
        ] {
            assert!(fig6.contains(text), "fig6_rrc.svg has no {text} ({what}); it starts {head:?}");
        }
        let dot = std::fs::read_to_string(base.join("one/fig7_lattice_t0.90.dot")).unwrap();
        assert_eq!(
            dot.matches(" -> ").count(),
            a.lattices.iter().find(|l| l.threshold == 0.9).unwrap().edges.len(),
            "{dot}"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
