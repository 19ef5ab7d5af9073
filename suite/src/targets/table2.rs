//! Table 2: accuracy of every classifier j on the reconstructions of every fine-tuned AE A_i.

use super::{write_markdown, Context, Outcome};

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let table = context.pipeline.cross_table()?;
    let names = table.names();
    let mut markdown = format!(
        "## Table 2 — top-1 of classifier j (columns) on reconstructions of A_i (rows), profile `{}`\n\n|  | {} |\n|---|{}\n",
        context.profile.name,
        names.join(" | "),
        "---:|".repeat(names.len())
    );
    for (i, row) in table.rows().iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|a| format!("{a:.4}")).collect();
        markdown += &format!("| A_{} | {} |\n", names[i], cells.join(" | "));
    }
    let cross = serde_json::json!({
        "source": format!("dnlts profile {}, seed {}", context.profile.name, context.pipeline.master_seed),
        "classifiers": names,
        "autoencoders": names.iter().map(|n| format!("A_{n}")).collect::<Vec<_>>(),
        "accuracy": table.rows(),
    });
    let cross_path = context.out_dir.join("table2_cross.json");
    crate::output::write_json(&cross_path, &cross)?;
    markdown += "\nAs data: `table2_cross.json` (try `dnlts analyze table2_cross.json`).\n";
    let files = vec![write_markdown(context, "table2.md", &markdown)?, cross_path];
    let diagonal_best = (0..names.len())
        .filter(|&j| (0..names.len()).all(|i| table.accuracy(i, j) <= table.accuracy(j, j)))
        .count();
    let summary = format!("{diagonal_best}/{} classifiers do best on their own AE", names.len());
    Ok(Outcome { result: cross, files, summary })
}
