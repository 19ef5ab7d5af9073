//! Figures 6 and 7 recomputed from the paper's own Table 2 (fixtures/paper/table2.json): a
//! check of the analysis code against the paper's statements, independent of any training.

use anyhow::Context as _;

use super::{Context, Outcome};
use dnlts::metrics::analysis::{analyze, Analysis, DEFAULT_THRESHOLDS};
use dnlts::metrics::bootstrap::{percentile_interval, resample_seed, share_true, SplitMix64};
use dnlts::metrics::claims::{self, Measured, Verdict};
use dnlts::metrics::rrc::CrossTable;

/// The images behind each of the paper's accuracies: the ImageNet validation set.
const PAPER_IMAGES: f64 = 50_000.0;

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
    let seed = dnlts::seed::derive(context.pipeline.master_seed, "bootstrap", "published");
    let (sampling, markdown) = sampling(&analysis, context.pipeline.resample_count(), seed)?;
    files.push(super::write_markdown(context, "published.md", &format!("{caption}{markdown}"))?);
    let chains = analysis.lattices.iter().filter(|l| l.is_chain).count();
    let differ = analysis.notes.iter().filter(|note| !note.agrees).count();
    let summary = format!(
        "paper's Table 2: {} lattices ({} chains); {differ} of {} statements differ from the \
         paper's text",
        analysis.lattices.len(),
        chains,
        analysis.notes.len()
    );
    let mut result = serde_json::to_value(&analysis)?;
    result["sampling"] = sampling;
    Ok(Outcome { result, files, summary })
}

/// The paper's numbers on `count` simulated re-measurements: every published accuracy p of
/// Tables 1 and 2 drawn again as p + sqrt(p(1 − p)/50,000)·N(0, 1), independently (the
/// independent-binomial approximation: the paper gives no per-image data, so the pairing of
/// its numbers on the same images is unknown, and ignoring it makes differences look less
/// certain than they are). Returns the JSON and the markdown of what survives sampling.
fn sampling(
    analysis: &Analysis,
    count: usize,
    seed: u64,
) -> anyhow::Result<(serde_json::Value, String)> {
    let paper = claims::paper_measured();
    let cross = paper.cross.as_ref().context("the paper's Table 2 is embedded")?;
    let resamples: Vec<(Measured, Option<Analysis>)> = (0..count)
        .map(|r| {
            let mut rng = SplitMix64::new(resample_seed(seed, r));
            let mut draw = |p: f64| {
                let spread = (p * (1.0 - p) / PAPER_IMAGES).sqrt();
                if p.is_finite() {
                    (p + spread * rng.normal()).clamp(0.0, 1.0)
                } else {
                    p
                }
            };
            let mut m = paper.clone();
            for row in &mut m.table1 {
                for top in [&mut row.x, &mut row.a_s, &mut row.own] {
                    (top.top1, top.top5) = (draw(top.top1), draw(top.top5));
                }
            }
            let rows =
                cross.rows().iter().map(|row| row.iter().map(|&p| draw(p)).collect()).collect();
            m.cross =
                CrossTable::new(cross.names().to_vec(), rows, std::path::Path::new("paper")).ok();
            let a = m.cross.as_ref().and_then(|c| analyze(c, &DEFAULT_THRESHOLDS).ok());
            (m, a)
        })
        .collect();
    let names = cross.names();
    let rrc_intervals: Vec<serde_json::Value> = (analysis.rrc.iter())
        .map(|e| {
            let i = names.iter().position(|n| *n == e.autoencoder);
            let j = names.iter().position(|n| *n == e.classifier);
            let values: Vec<f64> = (resamples.iter())
                .map(|(m, _)| match (&m.cross, i, j) {
                    (Some(c), Some(i), Some(j)) => c.rrc(i, j),
                    _ => f64::NAN,
                })
                .collect();
            serde_json::json!({
                "pair": format!("{}∘A_{}", e.classifier, e.autoencoder),
                "rrc": e.rrc,
                "interval": percentile_interval(&values),
            })
        })
        .collect();
    let mut markdown = format!(
        "\n### Which of the paper's conclusions survive sampling\n\nThe paper gives accuracies \
         without per-image data. Each of its Table 1–2 accuracies p is drawn again {count} \
         times as p + sqrt(p(1 − p)/50,000)·N(0, 1), independently (an independent-binomial \
         approximation on the 50,000 validation images; the true errors are paired, so \
         differences are more certain than this says), and Table 2's analysis and the claims \
         are recomputed on each draw.\n\n| threshold t | same lattice | chain |\n|---|---:|---:|\n"
    );
    let lattice_at = |a: &Option<Analysis>, t: f64| {
        a.as_ref().and_then(|a| a.lattices.iter().find(|l| l.threshold == t).cloned())
    };
    let percent = |s: Option<f64>| s.map_or("–".to_string(), |s| format!("{:.1} %", 100.0 * s));
    let mut stability = Vec::new();
    for lattice in &analysis.lattices {
        let t = lattice.threshold;
        let same: Vec<Option<bool>> = (resamples.iter())
            .map(|(_, a)| lattice_at(a, t).map(|l| l.concepts == lattice.concepts))
            .collect();
        let chain: Vec<Option<bool>> =
            resamples.iter().map(|(_, a)| lattice_at(a, t).map(|l| l.is_chain)).collect();
        let (same, chain) = (share_true(&same), share_true(&chain));
        markdown += &format!("| {t} | {} | {} |\n", percent(same), percent(chain));
        stability.push(
            serde_json::json!({"threshold": t, "same_lattice_share": same, "chain_share": chain}),
        );
    }
    let each: Vec<Vec<Option<bool>>> =
        resamples.iter().map(|(m, _)| claims::holds_each(m)).collect();
    let judged = claims::check_resampled(&paper, &each);
    markdown += "\n| claim | on the published numbers | share of draws holding | verdict |\n|---|---|---:|---|\n";
    let mut verdicts = Vec::new();
    for (claim, point) in judged.iter().zip(claims::check(&paper)) {
        if point.verdict == Verdict::NotApplicable {
            continue;
        }
        markdown += &format!(
            "| {} | {} | {} | {} |\n",
            claim.id,
            point.verdict,
            percent(claim.share_holding),
            claim.verdict
        );
        verdicts.push(serde_json::json!({
            "id": claim.id,
            "on_published": point.verdict,
            "share_holding": claim.share_holding,
            "verdict": claim.verdict,
        }));
    }
    let json = serde_json::json!({
        "images": PAPER_IMAGES,
        "method": "independent-binomial normal approximation: p + sqrt(p(1-p)/50000) N(0,1) per published accuracy",
        "resamples": count,
        "rrc_intervals": rrc_intervals,
        "lattice_stability": stability,
        "claims": verdicts,
    });
    Ok((json, markdown))
}
