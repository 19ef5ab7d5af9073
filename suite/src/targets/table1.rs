//! Table 1: top-1/top-5 of each classifier C alone, on A_S's reconstructions and on those of
//! its own fine-tuned AE A_C, beside the paper's numbers.

use serde::Serialize;

use super::{write_markdown, Context, Outcome};
use dnlts::eval::{AccuracyTable, Seen};

/// The paper's Table 1, as published (percent).
const PAPER: &str = include_str!("../../../fixtures/paper/table1.json");

#[derive(Serialize)]
pub struct Row {
    pub network: String,
    pub top1: f64,
    pub top5: f64,
    /// Difference to the classifier alone, in points (None for C itself).
    pub diff1: Option<f64>,
    pub diff5: Option<f64>,
}

/// Table 1's rows from the evaluation pass: for each classifier C, C alone, C∘A_S, C∘A_C.
pub fn rows(table: &AccuracyTable, classifiers: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    for c in classifiers {
        let alone = (table.top1_on(Seen::Original, c), table.top5_on(Seen::Original, c));
        for (seen, network) in [
            (Seen::Original, c.clone()),
            (Seen::Pretrained, format!("{c}∘A_S")),
            (Seen::FinetunedFor(c), format!("{c}∘A_{c}")),
        ] {
            let (top1, top5) = (100.0 * table.top1_on(seen, c), 100.0 * table.top5_on(seen, c));
            let diff =
                |value: f64, alone: f64| (seen != Seen::Original).then_some(value - 100.0 * alone);
            rows.push(Row {
                network,
                top1,
                top5,
                diff1: diff(top1, alone.0),
                diff5: diff(top5, alone.1),
            });
        }
    }
    rows
}

/// The paper's row for `network` (e.g. `V∘A_S`), if it published one.
fn paper_row<'a>(paper: &'a serde_json::Value, network: &str) -> Option<&'a serde_json::Value> {
    paper["rows"].as_array()?.iter().find(|row| row["network"] == network)
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let table = context.pipeline.evaluation()?;
    let rows = rows(&table, &context.pipeline.classifier_names());
    let paper: serde_json::Value = serde_json::from_str(PAPER)?;
    let signed = |d: Option<f64>| d.map_or(String::new(), |d| format!("{d:+.2}"));
    let classes = context.pipeline.classes()?;
    let chance = super::chance_mark(table.images, classes);
    let mut markdown = format!(
        "## Table 1 — top-1/top-5 (%) on {} test images of profile `{}`, beside the paper's \
         (ImageNet validation set, torchvision models)\n\n\
         Δ: the difference in points to the classifier C alone (C∘A_S: on A_S's \
         reconstructions, C∘A_C: on those of the AE fine-tuned on C).\n\n\
         | network | top-1 | Δ top-1 vs C | top-5 | Δ top-5 vs C | paper top-1 | paper Δ top-1 \
         | paper top-5 | paper Δ top-5 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        table.images, context.profile.name
    );
    for row in &rows {
        let published = paper_row(&paper, &row.network);
        let number = |key: &str| published.and_then(|p| p[key].as_f64());
        let paper_cell = |key: &str| number(key).map_or("–".into(), |v| format!("{v:.2}"));
        let paper_diff = |key: &str| signed(number(key));
        markdown += &format!(
            "| {} | {:.2}{} | {} | {:.2} | {} | {} | {} | {} | {} |\n",
            row.network,
            row.top1,
            chance.mark(row.top1 / 100.0),
            signed(row.diff1),
            row.top5,
            signed(row.diff5),
            paper_cell("top1"),
            paper_diff("top1_diff"),
            paper_cell("top5"),
            paper_diff("top5_diff"),
        );
    }
    markdown += "\nThe paper's numbers are in `fixtures/paper/table1.json`, as printed. ";
    markdown += &chance.note();
    markdown += "\n";
    let files = vec![write_markdown(context, "table1.md", &markdown)?];
    let below = rows.chunks(3).filter(|r| r[1].top1 < r[0].top1).count();
    let recovered = rows.chunks(3).filter(|r| r[2].top1 > r[1].top1).count();
    let n = rows.len() / 3;
    let summary =
        format!("C∘A_S below C for {below}/{n} classifiers; C∘A_C > C∘A_S for {recovered}/{n}");
    let result = serde_json::json!({ "images": table.images, "rows": rows, "paper": paper });
    Ok(Outcome { result, files, summary })
}
