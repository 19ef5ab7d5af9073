//! `dnlts analyze` (Figures 6 and 7 for any cross-accuracy table) and `dnlts nmi`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use dnlts::metrics::analysis::{analyze_with, check_threshold, Progress};

use crate::cli::AnalyzeOptions;

pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a number; give comma-separated thresholds such as 0.1,0.2,0.8,0.9")
    })?;
    check_threshold(value).map_err(|error| error.to_string())?;
    Ok(value)
}

/// No progress lines before this, and at most one per this interval after it.
const QUIET_FOR: Duration = Duration::from_secs(2);

pub fn run(
    table: &Path,
    options: &AnalyzeOptions,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let path = table;
    let table = dnlts::metric_files::load_cross_table(table)?;
    if let Some(dir) = out {
        dnlts::files::check_output(dir, dnlts::files::Output::Folder).context("--out")?;
    }
    let max_concepts = usize::try_from(options.max_concepts).unwrap_or(usize::MAX);
    let n = table.len();
    // Lattices of n classifiers can have 2^n concepts: say up front what bounds the work.
    if n >= 63 || (1u64 << n) > options.max_concepts {
        eprintln!(
            "analyze: {n} classifiers: up to {} lattices to compute (one per threshold and per distinct \
             RRC value), each with up to 2^{n} concepts; stopping at the first with more than {} \
             (--max-concepts)",
            options.thresholds.len() + n * n + 1,
            options.max_concepts
        );
    }
    let started = Instant::now();
    let mut last = started;
    let mut report = |p: &Progress| {
        let now = Instant::now();
        if now.duration_since(started) < QUIET_FOR || now.duration_since(last) < QUIET_FOR {
            return;
        }
        last = now;
        let elapsed = now.duration_since(started).as_secs_f64();
        let left = elapsed / p.contexts_done as f64 * (p.contexts - p.contexts_done) as f64;
        eprintln!(
            "analyze {}: {}/{} lattices, {} concepts so far (largest {}), {elapsed:.0} s, about {left:.0} s left",
            path.display(),
            p.contexts_done,
            p.contexts,
            p.concepts,
            p.largest
        );
    };
    let analysis = analyze_with(&table, &options.thresholds, max_concepts, &mut report)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&analysis)?);
    } else {
        print!("{}", analysis.to_text());
    }
    if let Some(dir) = out {
        let source = path
            .file_name()
            .map_or(path.display().to_string(), |name| name.to_string_lossy().to_string());
        let files: Vec<PathBuf> = dnlts::report::write_figures(&analysis, dir, &source)?;
        // Figures are announced on stderr so that --json output stays one document.
        for file in files {
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(())
}

pub fn nmi(a: &Path, b: &Path, bins: usize) -> anyhow::Result<()> {
    let value = dnlts::metric_files::nmi_of_png_files(a, b, bins)?;
    println!("{value:.6}");
    Ok(())
}
