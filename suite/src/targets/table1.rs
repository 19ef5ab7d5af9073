//! Table 1: top-1/top-5 of each classifier C alone, on A_S's reconstructions and on those of
//! its own fine-tuned AE A_C, beside the paper's numbers.

use serde::Serialize;

use super::{write_markdown, Context, Outcome};
use crate::stages::uncertainty::Resamples;
use dnlts::eval::{AccuracyTable, Seen};
use dnlts::metrics::bootstrap::{mcnemar_exact, Interval};

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
    /// 95 % paired-bootstrap intervals of top-1, top-5 (percent) and of the differences to
    /// C alone (points, paired on the same images).
    pub top1_interval: Option<Interval>,
    pub top5_interval: Option<Interval>,
    pub diff1_interval: Option<Interval>,
    pub diff5_interval: Option<Interval>,
    /// McNemar's exact p-value of the difference to C alone at top-1 and top-5 (the
    /// images one of the two gets right and the other wrong).
    pub mcnemar1_p: Option<f64>,
    pub mcnemar5_p: Option<f64>,
}

/// Table 1's rows from the evaluation pass and its bootstrap resamples: for each classifier
/// C, C alone, C∘A_S, C∘A_C.
pub fn rows(table: &AccuracyTable, resamples: &Resamples, classifiers: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    for c in classifiers {
        let alone = (table.top1_on(Seen::Original, c), table.top5_on(Seen::Original, c));
        for (seen, network) in [
            (Seen::Original, c.clone()),
            (Seen::Pretrained, format!("{c}∘A_S")),
            (Seen::FinetunedFor(c), format!("{c}∘A_{c}")),
        ] {
            let (top1, top5) = (100.0 * table.top1_on(seen, c), 100.0 * table.top5_on(seen, c));
            let compared = seen != Seen::Original;
            let diff = |value: f64, alone: f64| compared.then_some(value - 100.0 * alone);
            let percent = |top: fn(&AccuracyTable, Seen, &str) -> f64| {
                resamples.interval(|r| 100.0 * top(&r.clean, seen, c))
            };
            let points = |top: fn(&AccuracyTable, Seen, &str) -> f64| {
                let difference = |r: &AccuracyTable| top(r, seen, c) - top(r, Seen::Original, c);
                resamples.interval(|r| 100.0 * difference(&r.clean)).filter(|_| compared)
            };
            let mcnemar = |top1: bool| {
                let (view, alone) = (table.hits_on(seen, c)?, table.hits_on(Seen::Original, c)?);
                let pick = |h: &'_ dnlts::eval::ViewHits| {
                    if top1 {
                        h.top1.clone()
                    } else {
                        h.top5.clone()
                    }
                };
                let (b, d) = pick(view).discordant(&pick(alone));
                compared.then(|| mcnemar_exact(b, d))
            };
            rows.push(Row {
                network,
                top1,
                top5,
                diff1: diff(top1, alone.0),
                diff5: diff(top5, alone.1),
                top1_interval: percent(AccuracyTable::top1_on),
                top5_interval: percent(AccuracyTable::top5_on),
                diff1_interval: points(AccuracyTable::top1_on),
                diff5_interval: points(AccuracyTable::top5_on),
                mcnemar1_p: mcnemar(true),
                mcnemar5_p: mcnemar(false),
            });
        }
    }
    rows
}

/// `value` with its interval, e.g. `65.00 [62.90, 67.10]`.
pub fn with_interval(value: f64, interval: Option<Interval>, signed: bool) -> String {
    let number = |v: f64| if signed { format!("{v:+.2}") } else { format!("{v:.2}") };
    match interval {
        Some(i) => format!("{} [{}, {}]", number(value), number(i.low), number(i.high)),
        None => number(value),
    }
}

/// A p-value as printed: three significant digits, or `< 1e-300`.
fn p_value(p: Option<f64>) -> String {
    match p {
        None => String::new(),
        Some(p) if p < 1e-300 => "< 1e-300".into(),
        Some(p) => format!("{p:.3}"),
    }
}

/// The paper's row for `network` (e.g. `V∘A_S`), if it published one.
fn paper_row<'a>(paper: &'a serde_json::Value, network: &str) -> Option<&'a serde_json::Value> {
    paper["rows"].as_array()?.iter().find(|row| row["network"] == network)
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let table = context.pipeline.evaluation()?;
    let resamples = context.pipeline.resamples()?;
    let rows = rows(&table, &resamples, &context.pipeline.classifier_names());
    let paper: serde_json::Value = serde_json::from_str(PAPER)?;
    let signed = |d: Option<f64>| d.map_or(String::new(), |d| format!("{d:+.2}"));
    let classes = context.pipeline.classes()?;
    let chance = super::chance_mark(table.images, classes);
    let mut markdown = format!(
        "## Table 1 — top-1/top-5 (%) on {} test images of profile `{}`, beside the paper's \
         (ImageNet validation set, torchvision models)\n\n\
         Δ: the difference in points to the classifier C alone (C∘A_S: on A_S's \
         reconstructions, C∘A_C: on those of the AE fine-tuned on C). In brackets: the 95 % \
         percentile interval over {} bootstrap resamples of the test images, paired (the \
         differences are resampled on the same images); p: McNemar's exact test of the \
         difference (the images one of the two gets right and the other wrong).\n\n\
         | network | top-1 | Δ top-1 vs C | p | top-5 | Δ top-5 vs C | p | paper top-1 \
         | paper Δ top-1 | paper top-5 | paper Δ top-5 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        table.images,
        context.profile.name,
        resamples.len()
    );
    for row in &rows {
        let published = paper_row(&paper, &row.network);
        let number = |key: &str| published.and_then(|p| p[key].as_f64());
        let paper_cell = |key: &str| number(key).map_or("–".into(), |v| format!("{v:.2}"));
        let paper_diff = |key: &str| signed(number(key));
        markdown += &format!(
            "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.network,
            with_interval(row.top1, row.top1_interval, false),
            chance.mark(row.top1 / 100.0),
            row.diff1.map_or(String::new(), |d| with_interval(d, row.diff1_interval, true)),
            p_value(row.mcnemar1_p),
            with_interval(row.top5, row.top5_interval, false),
            row.diff5.map_or(String::new(), |d| with_interval(d, row.diff5_interval, true)),
            p_value(row.mcnemar5_p),
            paper_cell("top1"),
            paper_diff("top1_diff"),
            paper_cell("top5"),
            paper_diff("top5_diff"),
        );
    }
    markdown += "\nThe paper's numbers are in `fixtures/paper/table1.json`, as printed. ";
    markdown += &chance.note();
    markdown += "\n";
    let markdown_file = write_markdown(context, "table1.md", &markdown)?;
    let below = rows.chunks(3).filter(|r| r[1].top1 < r[0].top1).count();
    let recovered = rows.chunks(3).filter(|r| r[2].top1 > r[1].top1).count();
    let n = rows.len() / 3;
    let summary =
        format!("C∘A_S below C for {below}/{n} classifiers; C∘A_C > C∘A_S for {recovered}/{n}");
    let outcomes = context.out_dir.join("table1_outcomes.json");
    crate::outcomes::write(&outcomes, &[&table])?;
    let files = vec![markdown_file, outcomes];
    let result = serde_json::json!({
        "images": table.images,
        "resamples": resamples.len(),
        "rows": rows,
        "paper": paper,
    });
    Ok(Outcome { result, files, summary })
}
