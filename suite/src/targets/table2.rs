//! Table 2: accuracy of every classifier j on the reconstructions of every fine-tuned AE A_i,
//! beside the paper's.

use super::table1::with_interval;
use super::{write_markdown, Context, Outcome};
use dnlts::metrics::bootstrap::Interval;
use dnlts::metrics::rrc::CrossTable;

/// The paper's Table 2, as published (fractions).
const PAPER: &str = include_str!("../../../fixtures/paper/table2.json");

/// A markdown table of `table` in percent, with `mark` after each cell and, where given,
/// the interval (fractions) of each cell.
fn percent_table(
    table: &CrossTable,
    mark: impl Fn(f64) -> &'static str,
    intervals: Option<&[Vec<Option<Interval>>]>,
) -> String {
    let names = table.names();
    let mut markdown =
        format!("|  | {} |\n|---|{}\n", names.join(" | "), "---:|".repeat(names.len()));
    for (i, row) in table.rows().iter().enumerate() {
        let interval = |j: usize| intervals.and_then(|m| m[i][j]).map(|v| v.scaled(100.0));
        let cells: Vec<String> = (row.iter().enumerate())
            .map(|(j, &a)| format!("{}{}", with_interval(100.0 * a, interval(j), false), mark(a)))
            .collect();
        markdown += &format!("| A_{} | {} |\n", names[i], cells.join(" | "));
    }
    markdown
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let table = context.pipeline.cross_table()?;
    let names = table.names();
    let images = context.pipeline.evaluation()?.images;
    let chance = super::chance_mark(images, context.pipeline.classes()?);
    let resamples = context.pipeline.resamples()?;
    let intervals: Vec<Vec<Option<Interval>>> = (0..names.len())
        .map(|i| {
            (0..names.len())
                .map(|j| {
                    resamples.interval(|r| r.cross.as_ref().map_or(f64::NAN, |c| c.accuracy(i, j)))
                })
                .collect()
        })
        .collect();
    let paper =
        CrossTable::from_json_str(PAPER, std::path::Path::new("fixtures/paper/table2.json"))?;
    let mut markdown = format!(
        "## Table 2 — top-1 (%) of classifier j (columns) on the reconstructions of the AE A_i \
         fine-tuned on classifier i (rows), profile `{}`, {images} test images; in brackets \
         the 95 % percentile interval over {} bootstrap resamples of the test images\n\n{}",
        context.profile.name,
        resamples.len(),
        percent_table(&table, |a| chance.mark(a), Some(&intervals))
    );
    markdown += &format!("\n{}", chance.note());
    markdown += &format!(
        "\n\nThe paper's Table 2 (ImageNet validation set, `fixtures/paper/table2.json`):\n\n{}",
        percent_table(&paper, |_| "", None)
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
    let mut result = cross;
    result["accuracy_intervals"] = serde_json::to_value(&intervals)?;
    result["resamples"] = resamples.len().into();
    result["resamples_without_cross_table"] = resamples.without_cross_table().into();
    Ok(Outcome { result, files, summary })
}
