//! Table 1: top-1/top-5 of each classifier C alone, on A_S's reconstructions and on those of
//! its own fine-tuned AE A_C, beside the paper's numbers.

use serde::Serialize;

use super::{write_markdown, Context, Outcome};
use dnlts::models::Family;

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

/// Table 1's rows from the evaluation pass (views x, A_S, A_L…A_R).
pub fn rows(table: &dnlts::eval::AccuracyTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for (c, family) in Family::ALL.iter().enumerate() {
        let letter = family.letter();
        let base = (100.0 * table.top1[0][c], 100.0 * table.top5[0][c]);
        for (view, name) in [
            (0, letter.to_string()),
            (1, format!("{letter}∘A_S")),
            (c + 2, format!("{letter}∘A_{letter}")),
        ] {
            let (top1, top5) = (100.0 * table.top1[view][c], 100.0 * table.top5[view][c]);
            let diff = |value: f64, reference: f64| (view != 0).then_some(value - reference);
            rows.push(Row {
                network: name,
                top1,
                top5,
                diff1: diff(top1, base.0),
                diff5: diff(top5, base.1),
            });
        }
    }
    rows
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let table = context.pipeline.evaluation(0.0, false)?;
    let rows = rows(&table);
    let paper: serde_json::Value = serde_json::from_str(PAPER)?;
    let signed = |d: Option<f64>| d.map_or(String::new(), |d| format!("{d:+.2}"));
    let mut markdown = format!(
        "## Table 1 — top-1/top-5 (%) on {} test images of profile `{}`\n\n\
         | network | top-1 | diff | top-5 | diff |\n|---|---:|---:|---:|---:|\n",
        table.images, context.profile.name
    );
    for row in &rows {
        markdown += &format!(
            "| {} | {:.2} | {} | {:.2} | {} |\n",
            row.network,
            row.top1,
            signed(row.diff1),
            row.top5,
            signed(row.diff5)
        );
    }
    markdown += "\nThe paper's Table 1 (ImageNet, torchvision models) is in `fixtures/paper/table1.json`.\n";
    let files = vec![write_markdown(context, "table1.md", &markdown)?];
    let below = rows.chunks(3).filter(|r| r[1].top1 < r[0].top1).count();
    let recovered = rows.chunks(3).filter(|r| r[2].top1 >= r[1].top1).count();
    let summary =
        format!("C∘A_S below C for {below}/5 classifiers; C∘A_C ≥ C∘A_S for {recovered}/5");
    let result = serde_json::json!({ "images": table.images, "rows": rows, "paper": paper });
    Ok(Outcome { result, files, summary })
}
