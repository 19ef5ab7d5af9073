//! Figures 6 and 7 on our own Table 2: RRC of every j∘A_i, and the concept lattices of the
//! thresholded RRC context at t ∈ {0.1, 0.2, 0.8, 0.9} with their stable intervals.

use super::{Context, Outcome};

pub fn run_fig6(context: &Context) -> anyhow::Result<Outcome> {
    let analysis = context.pipeline.analysis()?;
    let file = dnlts::report::write_fig6(&analysis, &context.out_dir.join("figures"))?;
    let lowest = analysis
        .rrc
        .first()
        .map_or(String::new(), |e| format!("{}∘A_{} {:.3}", e.classifier, e.autoencoder, e.rrc));
    let summary = format!("{} pairs; lowest RRC {lowest}", analysis.rrc.len());
    let result = serde_json::json!({ "rrc": analysis.rrc, "by_classifier": analysis.rrc_by_classifier, "gaps": analysis.gaps });
    Ok(Outcome { result, files: vec![file], summary })
}

pub fn run_fig7(context: &Context) -> anyhow::Result<Outcome> {
    let analysis = context.pipeline.analysis()?;
    let files = dnlts::report::write_fig7(&analysis, &context.out_dir.join("figures"))?;
    let chains: Vec<String> = analysis
        .lattices
        .iter()
        .map(|l| format!("t={}: {}", l.threshold, if l.is_chain { "chain" } else { "not a chain" }))
        .collect();
    let result = serde_json::json!({ "lattices": analysis.lattices, "stable_intervals": analysis.stable_intervals });
    Ok(Outcome { result, files, summary: chains.join(", ") })
}
