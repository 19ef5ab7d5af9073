//! `dnlts summarize DIR…`: runs of one profile under different master seeds, side by side.
//! Image sampling is one source of spread, and each run's bootstrap intervals measure it;
//! training is another, which only runs of other seeds show. For every number of Tables 1
//! and 2: the mean ± sample standard deviation across the seeds and each run's own value with
//! its 95 % interval; for every claim: its verdict per seed and whether it holds in all; the
//! verdict counts; the seconds of each stage. Everything is read from the run folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Serialize;
use serde_json::Value;

/// One run folder, as `dnlts reproduce --out DIR` wrote it.
#[derive(Debug, Serialize)]
pub struct Run {
    pub folder: PathBuf,
    pub profile: String,
    pub seed: u64,
    /// Table 1: network → (top-1, top-5, their 95 % intervals), percent.
    pub table1: BTreeMap<String, Cell2>,
    /// Table 1's networks in the order of the run's table.
    pub networks: Vec<String>,
    /// Table 2's classifiers (columns j; rows are their AEs A_i).
    pub classifiers: Vec<String>,
    /// Table 2, percent, rows A_i, columns j.
    pub table2: Vec<Vec<Cell>>,
    /// Claim id → (verdict, share of resamples in which it holds).
    pub claims: Vec<(String, String, Option<f64>)>,
    /// Stage name → seconds (its record).
    pub stages: BTreeMap<String, f64>,
}

/// A number with its interval, as the run published them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cell {
    pub value: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cell2 {
    pub top1: Cell,
    pub top5: Cell,
}

/// The run folder's `name.json` target record.
fn target(folder: &Path, name: &str) -> anyhow::Result<Value> {
    let path = folder.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} cannot be read: summarize needs the targets table1, table2 and claims of each \
             run; run `dnlts reproduce --out {}` first (or name the folder it wrote)",
            path.display(),
            folder.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| {
        format!("{} is not valid JSON: run its target again to rewrite it", path.display())
    })
}

/// `value` as a number, or an error naming the file and the field.
fn number(value: &Value, file: &Path, field: &str) -> anyhow::Result<f64> {
    value.as_f64().with_context(|| {
        format!("{}: `{field}` is not a number ({value}); run its target again", file.display())
    })
}

fn interval_ends(value: &Value) -> (Option<f64>, Option<f64>) {
    (value["low"].as_f64(), value["high"].as_f64())
}

impl Run {
    pub fn read(folder: &Path) -> anyhow::Result<Run> {
        let (table1, table2, claims) =
            (target(folder, "table1")?, target(folder, "table2")?, target(folder, "claims")?);
        let file = |name: &str| folder.join(format!("{name}.json"));
        let seed = table1["master_seed"].as_u64().with_context(|| {
            format!("{}: no master_seed; run its target again", file("table1").display())
        })?;
        let profile = table1["profile"].as_str().unwrap_or_default().to_string();
        for (name, other) in [("table2", &table2), ("claims", &claims)] {
            if other["master_seed"].as_u64() != Some(seed) || other["profile"] != table1["profile"]
            {
                bail!(
                    "{} is of another run than {} (profile or master seed differ): the folder \
                     mixes runs; run `dnlts reproduce --out {}` again",
                    file(name).display(),
                    file("table1").display(),
                    folder.display()
                );
            }
        }
        let rows = table1["result"]["rows"].as_array().with_context(|| {
            format!("{}: no rows; run its target again", file("table1").display())
        })?;
        let mut networks = Vec::new();
        let mut cells = BTreeMap::new();
        for row in rows {
            let network = row["network"].as_str().unwrap_or_default().to_string();
            let cell = |top: &str| -> anyhow::Result<Cell> {
                let (low, high) = interval_ends(&row[format!("{top}_interval")]);
                Ok(Cell { value: number(&row[top], &file("table1"), top)?, low, high })
            };
            cells.insert(network.clone(), Cell2 { top1: cell("top1")?, top5: cell("top5")? });
            networks.push(network);
        }
        let result = &table2["result"];
        let classifiers: Vec<String> = (result["classifiers"].as_array().into_iter().flatten())
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
        let mut cross = Vec::new();
        for i in 0..classifiers.len() {
            let mut row = Vec::new();
            for j in 0..classifiers.len() {
                let value = number(&result["accuracy"][i][j], &file("table2"), "accuracy")?;
                let (low, high) = interval_ends(&result["accuracy_intervals"][i][j]);
                let percent = |v: Option<f64>| v.map(|v| 100.0 * v);
                row.push(Cell { value: 100.0 * value, low: percent(low), high: percent(high) });
            }
            cross.push(row);
        }
        let claims = (claims["result"]["claims"].as_array().into_iter().flatten())
            .map(|c| {
                let text = |field: &str| c[field].as_str().unwrap_or_default().to_string();
                (text("id"), text("verdict"), c["share_holding"].as_f64())
            })
            .collect();
        Ok(Run {
            folder: folder.to_path_buf(),
            profile,
            seed,
            table1: cells,
            networks,
            classifiers,
            table2: cross,
            claims,
            stages: stage_seconds(&folder.join("stages")),
        })
    }
}

/// Seconds of every stage record in `stages` (none where the folder is missing: fixed stages).
fn stage_seconds(stages: &Path) -> BTreeMap<String, f64> {
    let mut seconds = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(stages) else { return seconds };
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let record: Option<Value> =
            std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok());
        if let Some(s) = record.as_ref().and_then(|r| r["seconds"].as_f64()) {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            seconds.insert(stem.unwrap_or_default(), s);
        }
    }
    seconds
}

/// Mean and sample standard deviation (n − 1; None for a single run).
pub fn mean_sd(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.len() > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (mean, sd)
}

fn spread(values: &[f64]) -> String {
    match mean_sd(values) {
        (mean, Some(sd)) => format!("{mean:.1} ± {sd:.1}"),
        (mean, None) => format!("{mean:.1}"),
    }
}

fn with_interval(cell: &Cell) -> String {
    match (cell.low, cell.high) {
        (Some(low), Some(high)) => format!("{:.1} [{low:.1}, {high:.1}]", cell.value),
        _ => format!("{:.1}", cell.value),
    }
}

fn verdict_text(verdict: &str, share: Option<f64>) -> String {
    let word = match verdict {
        "holds" => "HOLDS",
        "fails" => "FAILS",
        "unsettled" => "UNSETTLED",
        "not applicable" => "N/A",
        other => other,
    };
    match share {
        Some(share) if verdict != "not applicable" => format!("{word} ({:.0} %)", 100.0 * share),
        _ => word.to_string(),
    }
}

/// Runs that can be set side by side: one profile, the same networks, distinct seeds.
pub fn check_comparable(runs: &[Run]) -> anyhow::Result<()> {
    let first = &runs[0];
    for run in &runs[1..] {
        if run.profile != first.profile {
            bail!(
                "{} is of profile `{}`, {} of `{}`: summarize runs of one profile",
                run.folder.display(),
                run.profile,
                first.folder.display(),
                first.profile
            );
        }
        if run.networks != first.networks || run.classifiers != first.classifiers {
            bail!(
                "{} and {} evaluated different classifiers: summarize runs of the same ones",
                run.folder.display(),
                first.folder.display()
            );
        }
    }
    for (k, run) in runs.iter().enumerate() {
        if let Some(twin) = runs[..k].iter().find(|r| r.seed == run.seed) {
            bail!(
                "{} and {} are both of master seed {}: the spread across seeds needs runs of \
                 different seeds (`dnlts reproduce --seed N --out DIR`)",
                twin.folder.display(),
                run.folder.display(),
                run.seed
            );
        }
    }
    Ok(())
}

/// The markdown summary of `runs` (already checked comparable).
pub fn markdown(runs: &[Run]) -> String {
    let seeds: Vec<String> = runs.iter().map(|r| r.seed.to_string()).collect();
    let head = |first: &str, extra: &[&str]| {
        let columns: Vec<&str> = std::iter::once(first)
            .chain(extra.iter().copied())
            .chain(seeds.iter().map(String::as_str))
            .collect();
        format!("| {} |\n|{}\n", columns.join(" | "), "---|".repeat(columns.len()))
    };
    let mut out = format!(
        "# Profile `{}` over master seeds {} ({} runs)\n\nAcross seeds: mean ± sample \
         standard deviation (training and sampling together). Per seed: the run's value with \
         its 95 % bootstrap interval over its test images (sampling alone).\n",
        runs[0].profile,
        seeds.join(", "),
        runs.len()
    );
    for (title, pick) in
        [("top-1", (|c: &Cell2| c.top1) as fn(&Cell2) -> Cell), ("top-5", |c: &Cell2| c.top5)]
    {
        out += &format!("\n## Table 1, {title} %\n\n{}", head("network", &["across seeds"]));
        for network in &runs[0].networks {
            let cells: Vec<Cell> = runs.iter().map(|r| pick(&r.table1[network])).collect();
            let values: Vec<f64> = cells.iter().map(|c| c.value).collect();
            let each: Vec<String> = cells.iter().map(with_interval).collect();
            out += &format!("| {network} | {} | {} |\n", spread(&values), each.join(" | "));
        }
    }
    let names = &runs[0].classifiers;
    out += "\n## Table 2, top-1 % of classifier j (columns) on A_i (rows), across seeds\n\n";
    out += &format!("| | {} |\n|{}\n", names.join(" | "), "---|".repeat(names.len() + 1));
    for (i, ae) in names.iter().enumerate() {
        let cells: Vec<String> = (0..names.len())
            .map(|j| spread(&runs.iter().map(|r| r.table2[i][j].value).collect::<Vec<_>>()))
            .collect();
        out += &format!("| A_{ae} | {} |\n", cells.join(" | "));
    }
    out += &format!(
        "\n## Claims, the verdict per seed (share of resamples holding)\n\n{}",
        head("claim", &["in every seed"])
    );
    for (id, _, _) in &runs[0].claims {
        let found: Vec<Option<(&String, Option<f64>)>> = (runs.iter())
            .map(|r| r.claims.iter().find(|c| &c.0 == id).map(|c| (&c.1, c.2)))
            .collect();
        let every = if found.iter().all(|f| f.is_some_and(|(v, _)| v == "holds")) {
            "holds"
        } else if found.iter().all(|f| f.is_some_and(|(v, _)| v == "fails")) {
            "fails"
        } else {
            "—"
        };
        let cells: Vec<String> =
            found.iter().map(|f| f.map_or("—".into(), |(v, s)| verdict_text(v, s))).collect();
        out += &format!("| {id} | {every} | {} |\n", cells.join(" | "));
    }
    out += &format!("\n## Verdict counts\n\n{}", head("verdict", &[]));
    for verdict in ["holds", "fails", "unsettled", "not applicable"] {
        let counts: Vec<String> = (runs.iter())
            .map(|r| r.claims.iter().filter(|c| c.1 == verdict).count().to_string())
            .collect();
        out += &format!("| {} | {} |\n", verdict_text(verdict, None), counts.join(" | "));
    }
    let stages: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|r| r.stages.keys()).collect();
    if !stages.is_empty() {
        out += &format!("\n## Seconds per stage (its record)\n\n{}", head("stage", &[]));
        for stage in stages {
            let cells: Vec<String> = (runs.iter())
                .map(|r| r.stages.get(stage).map_or("—".into(), |s| format!("{s:.0}")))
                .collect();
            out += &format!("| {stage} | {} |\n", cells.join(" | "));
        }
    }
    out
}

/// `dnlts summarize`: reads every folder, checks they compare, prints (or writes) the summary.
pub fn summarize(folders: &[PathBuf], out: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let runs = folders.iter().map(|f| Run::read(f)).collect::<anyhow::Result<Vec<_>>>()?;
    check_comparable(&runs)?;
    let text = if json {
        let mut text = serde_json::to_string_pretty(&runs)?;
        text.push('\n');
        text
    } else {
        markdown(&runs)
    };
    match out {
        Some(path) => {
            crate::output::write_text(path, &text)?;
            eprintln!("summary of {} run(s) written to {}", runs.len(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        assert_eq!(mean_sd(&[1.0, 2.0, 3.0]), (2.0, Some(1.0)));
        assert_eq!(mean_sd(&[4.0]), (4.0, None));
        assert_eq!(spread(&[10.0, 12.0]), "11.0 ± 1.4");
        assert_eq!(spread(&[10.0]), "10.0");
    }

    #[test]
    fn verdicts_carry_their_share() {
        assert_eq!(verdict_text("holds", Some(0.971)), "HOLDS (97 %)");
        assert_eq!(verdict_text("unsettled", Some(0.5)), "UNSETTLED (50 %)");
        assert_eq!(verdict_text("not applicable", Some(0.5)), "N/A");
        let cell = Cell { value: 65.04, low: Some(62.9), high: Some(67.1) };
        assert_eq!(with_interval(&cell), "65.0 [62.9, 67.1]");
    }
}
