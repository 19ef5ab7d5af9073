//! Figures 6 and 7 recomputed from the paper's own Table 2 (fixtures/paper/table2.json): a
//! check of the analysis code against the paper's statements, independent of any training.

use anyhow::Context as _;

use super::{Context, Outcome};
use dnlts::metrics::analysis::{analyze, DEFAULT_THRESHOLDS};
use dnlts::metrics::rrc::CrossTable;

/// The published table, embedded so the target runs from any directory.
const TABLE2: &str = include_str!("../../../fixtures/paper/table2.json");

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let origin = std::path::Path::new("fixtures/paper/table2.json");
    let table = CrossTable::from_json_str(TABLE2, origin)?;
    let analysis = analyze(&table, &DEFAULT_THRESHOLDS)?;
    let dir = context.out_dir.join("published");
    let mut files = dnlts::report::write_figures(&analysis, &dir, "the paper's Table 2")
        .with_context(|| format!("writing figures to {}", dir.display()))?;
    let caption = "*Figures 6 and 7 from the paper's Table 2* (`fixtures/paper/table2.json`, \
                   ImageNet), not from this run: the same code as Figures 6 and 7 above, on the \
                   paper's published accuracies, so that ours compare with the paper's by eye \
                   and the analysis is checked against the paper's text. Their titles say \
                   \"the paper's Table 2\"; this run's say its profile.\n";
    files.push(super::write_markdown(context, "published.md", caption)?);
    let chains = analysis.lattices.iter().filter(|l| l.is_chain).count();
    let differ = analysis.notes.iter().filter(|note| !note.agrees).count();
    let summary = format!(
        "paper's Table 2: {} lattices ({} chains); {differ} of {} statements differ from the \
         paper's text",
        analysis.lattices.len(),
        chains,
        analysis.notes.len()
    );
    Ok(Outcome { result: serde_json::to_value(&analysis)?, files, summary })
}
