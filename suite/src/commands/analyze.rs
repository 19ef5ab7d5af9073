//! `dnlts analyze` (Figures 6 and 7 for any cross-accuracy table) and `dnlts nmi`.

use std::path::{Path, PathBuf};

use dnlts::metrics::analysis::analyze;
use dnlts::metrics::rrc::CrossTable;

pub fn run(table: &Path, thresholds: &[f64], out: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let table = CrossTable::load(table)?;
    let analysis = analyze(&table, thresholds)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&analysis)?);
    } else {
        print!("{}", analysis.to_text());
    }
    if let Some(dir) = out {
        let files: Vec<PathBuf> = dnlts::report::write_figures(&analysis, dir)?;
        // Figures are announced on stderr so that --json output stays one document.
        for file in files {
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(())
}

pub fn nmi(a: &Path, b: &Path, bins: usize) -> anyhow::Result<()> {
    let value = dnlts::metrics::nmi::nmi_of_png_files(a, b, bins)?;
    println!("{value:.6}");
    Ok(())
}
