//! Figures 6 and 7 on our own Table 2: RRC of every j∘A_i, and the concept lattices of the
//! thresholded RRC context at t ∈ {0.1, 0.2, 0.8, 0.9} with their stable intervals.

use super::{Context, Outcome};
use crate::stages::uncertainty::Resample;
use dnlts::metrics::bootstrap::Interval;

pub fn run_fig6(context: &Context) -> anyhow::Result<Outcome> {
    let analysis = context.pipeline.analysis()?;
    let source = format!("profile {}", context.profile.name);
    let lowest = analysis
        .rrc
        .first()
        .map_or(String::new(), |e| format!("{}∘A_{} {:.3}", e.classifier, e.autoencoder, e.rrc));
    let summary = format!("{} pairs; lowest RRC {lowest}", analysis.rrc.len());
    let resamples = context.pipeline.resamples()?;
    let names = &analysis.classifiers;
    let index = |name: &str| names.iter().position(|n| n == name);
    let bars: Vec<Option<Interval>> = (analysis.rrc.iter())
        .map(|e| {
            let (i, j) = (index(&e.autoencoder), index(&e.classifier));
            resamples.interval(|r: &Resample| match (&r.cross, i, j) {
                (Some(c), Some(i), Some(j)) => c.rrc(i, j),
                _ => f64::NAN,
            })
        })
        .collect();
    let rrc_intervals: Vec<_> = (analysis.rrc.iter().zip(&bars))
        .map(|(e, interval)| {
            serde_json::json!({
                "pair": format!("{}∘A_{}", e.classifier, e.autoencoder),
                "interval": interval,
            })
        })
        .collect();
    let file =
        dnlts::report::write_fig6(&analysis, &context.out_dir.join("figures"), &source, &bars)?;
    let result = serde_json::json!({
        "rrc": analysis.rrc,
        "by_classifier": analysis.rrc_by_classifier,
        "gaps": analysis.gaps,
        "rrc_intervals": rrc_intervals,
        "resamples": resamples.len(),
    });
    let caption = format!(
        "*Figure 6.* Every pair j∘A_i of this run's Table 2 (classifier j on the reconstructions \
         of the AE fine-tuned on classifier i), sorted by its relative rate of change \
         RRC(j∘A_i) = acc(j∘A_i) / min(acc(i∘A_i), acc(j∘A_j)), the accuracy over the weaker of \
         the two classifiers on its own AE (Table 2's diagonal). Bars are coloured by j (L \
         purple, A blue, V orange, I red, R green, as in the paper); at the line RRC = 1, j on \
         A_i's reconstructions does as well as the weaker of the two; black bars: its 95 % \
         percentile interval over {} bootstrap resamples of the test images. {} pairs. The paper's \
         Figure 6, recomputed from its Table 2, is under `published`.\n",
        resamples.len(),
        analysis.rrc.len()
    );
    let files = vec![file, super::write_markdown(context, "fig6.md", &caption)?];
    Ok(Outcome { result, files, summary })
}

pub fn run_fig7(context: &Context) -> anyhow::Result<Outcome> {
    let analysis = context.pipeline.analysis()?;
    let source = format!("profile {}", context.profile.name);
    let mut files =
        dnlts::report::write_fig7(&analysis, &context.out_dir.join("figures"), &source)?;
    let chains: Vec<String> = analysis
        .lattices
        .iter()
        .map(|l| format!("t={}: {}", l.threshold, if l.is_chain { "chain" } else { "not a chain" }))
        .collect();
    let resamples = context.pipeline.resamples()?;
    let lattice_at = |r: &Resample, t: f64| {
        r.analysis.as_ref().and_then(|a| a.lattices.iter().find(|l| l.threshold == t).cloned())
    };
    let stability: Vec<_> = (analysis.lattices.iter())
        .map(|l| {
            let same = resamples.share(|r| lattice_at(r, l.threshold).map(|m| m.concepts == l.concepts));
            let chain = resamples.share(|r| lattice_at(r, l.threshold).map(|m| m.is_chain));
            serde_json::json!({"threshold": l.threshold, "same_lattice_share": same, "chain_share": chain})
        })
        .collect();
    let result = serde_json::json!({
        "lattices": analysis.lattices,
        "stable_intervals": analysis.stable_intervals,
        "stability": stability,
        "resamples": resamples.len(),
    });
    let share_text = |v: &serde_json::Value| {
        v.as_f64().map_or("–".to_string(), |s| format!("{:.1} %", 100.0 * s))
    };
    let stability_lines: String = (stability.iter())
        .map(|s| {
            format!(
                "- t = {}: the same lattice in {} of the resamples, a chain in {}\n",
                s["threshold"],
                share_text(&s["same_lattice_share"]),
                share_text(&s["chain_share"])
            )
        })
        .collect();
    let thresholds: Vec<String> =
        analysis.lattices.iter().map(|l| l.threshold.to_string()).collect();
    let caption = format!(
        "*Figure 7.* Formal-concept lattices of this run's RRC context at t ∈ {{{}}}: classifier \
         j (an object) has AE A_i (an attribute) when RRC(j∘A_i) ≥ t. Each circle is a concept; \
         classifiers are written in their colours above the node of the smallest concept \
         holding them, AEs in black below the node of the largest. A classifier reads (at RRC \
         ≥ t) every AE written at its node or at any node reached from it going up; a chain \
         (every concept above or below every other) means the classifiers' signals nest. The \
         `.dot` files beside the SVGs are the same lattices for Graphviz. The paper's lattices, \
         recomputed from its Table 2, are under `published`.\n\n\
         Stability over {} bootstrap resamples of the test images (Table 2 and its lattices \
         recomputed on each):\n\n{stability_lines}",
        thresholds.join(", "),
        resamples.len()
    );
    files.push(super::write_markdown(context, "fig7.md", &caption)?);
    Ok(Outcome { result, files, summary: chains.join(", ") })
}
