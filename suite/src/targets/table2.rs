//! Table 2: accuracy of every classifier j on the reconstructions of every fine-tuned AE A_i,
//! beside the paper's.

use super::{write_markdown, Context, Outcome};
use dnlts::metrics::rrc::CrossTable;

/// The paper's Table 2, as published (fractions).
const PAPER: &str = include_str!("../../../fixtures/paper/table2.json");

/// A markdown table of `table` in percent, with `mark` after each cell.
fn percent_table(table: &CrossTable, mark: impl Fn(f64) -> &'static str) -> String {
    let names = table.names();
    let mut markdown =
        format!("|  | {} |\n|---|{}\n", names.join(" | "), "---:|".repeat(names.len()));
    for (i, row) in table.rows().iter().enumerate() {
        let cells: Vec<String> =
            row.iter().map(|&a| format!("{:.2}{}", 100.0 * a, mark(a))).collect();
        markdown += &format!("| A_{} | {} |\n", names[i], cells.join(" | "));
    }
    markdown
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let table = context.pipeline.cross_table()?;
    let names = table.names();
    let images = context.pipeline.evaluation()?.images;
    let chance = super::chance_mark(images, context.pipeline.classes()?);
    let paper =
        CrossTable::from_json_str(PAPER, std::path::Path::new("fixtures/paper/table2.json"))?;
    let mut markdown = format!(
        "## Table 2 — top-1 (%) of classifier j (columns) on the reconstructions of the AE A_i \
         fine-tuned on classifier i (rows), profile `{}`, {images} test images\n\n{}",
        context.profile.name,
        percent_table(&table, |a| chance.mark(a))
    );
    markdown += &format!("\n{}", chance.note());
    markdown += &format!(
        "\n\nThe paper's Table 2 (ImageNet validation set, `fixtures/paper/table2.json`):\n\n{}",
        percent_table(&paper, |_| "")
    );
    let cross = serde_json::json!({
        "source": format!("dnlts profile {}, seed {}", context.profile.name, context.pipeline.master_seed),
        "classifiers": names,
        "autoencoders": names.iter().map(|n| format!("A_{n}")).collect::<Vec<_>>(),
        "accuracy": table.rows(),
    });
    let cross_path = context.out_dir.join("table2_cross.json");
    crate::output::write_json(&cross_path, &cross)?;
    markdown +=
        "\nAs data (fractions): `table2_cross.json` (try `dnlts analyze table2_cross.json`).\n";
    let files = vec![write_markdown(context, "table2.md", &markdown)?, cross_path];
    let diagonal_best = (0..names.len())
        .filter(|&j| (0..names.len()).all(|i| table.accuracy(i, j) <= table.accuracy(j, j)))
        .count();
    let summary = format!("{diagonal_best}/{} classifiers do best on their own AE", names.len());
    Ok(Outcome { result: cross, files, summary })
}
