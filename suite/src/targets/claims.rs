//! Which of the paper's statements hold on our numbers. Each claim is checked by code against
//! the targets' results; nothing here is typed in.

use serde::Serialize;

use super::{Context, Outcome};
use dnlts::eval::{AccuracyTable, Seen};
use dnlts::models::Family;

#[derive(Serialize)]
pub struct Claim {
    pub statement: &'static str,
    pub paper: &'static str,
    pub holds: bool,
    pub evidence: String,
}

fn per_classifier(test: impl Fn(usize) -> bool) -> (bool, String) {
    let passing: Vec<&str> =
        Family::ALL.iter().enumerate().filter(|(c, _)| test(*c)).map(|(_, f)| f.letter()).collect();
    (
        passing.len() == Family::ALL.len(),
        format!("holds for {}/5: {}", passing.len(), passing.join(" ")),
    )
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let clean = context.pipeline.evaluation(0.0, true)?;
    let noisy = context.pipeline.evaluation(0.3, false)?;
    let names = context.pipeline.classifier_names();
    let top1 = |table: &AccuracyTable, seen: Seen, c: usize| table.top1_on(seen, &names[c]);
    let own = |c: usize| Seen::FinetunedFor(&names[c]);
    let mut claims = Vec::new();
    let mut push = |statement, paper, (holds, evidence): (bool, String)| {
        claims.push(Claim { statement, paper, holds, evidence })
    };
    push(
        "C∘A_S is below C for every classifier",
        "Table 1",
        per_classifier(|c| top1(&clean, Seen::Pretrained, c) < top1(&clean, Seen::Original, c)),
    );
    push(
        "fine-tuning recovers it: C∘A_C ≥ C∘A_S for every classifier",
        "Table 1",
        per_classifier(|c| top1(&clean, own(c), c) >= top1(&clean, Seen::Pretrained, c)),
    );
    push(
        "each classifier does best on its own AE",
        "Table 2, §3.4",
        per_classifier(|j| {
            (0..Family::ALL.len()).all(|i| top1(&clean, own(i), j) <= top1(&clean, own(j), j))
        }),
    );
    push(
        "under noise s = 0.3, i∘A_i beats i for every classifier",
        "Figure 4",
        per_classifier(|c| top1(&noisy, own(c), c) > top1(&noisy, Seen::Original, c)),
    );
    let analysis = context.pipeline.analysis()?;
    let chains: Vec<String> = (analysis.lattices.iter())
        .filter(|l| l.threshold == 0.2 || l.threshold == 0.8)
        .map(|l| format!("t={}: {}", l.threshold, if l.is_chain { "chain" } else { "not a chain" }))
        .collect();
    push(
        "the lattices at t = 0.2 and 0.8 are chains (a total order)",
        "Figure 7, §3.4",
        (chains.iter().all(|l| !l.contains("not")), chains.join(", ")),
    );
    let nmi = context.pipeline.nmi()?;
    let best = nmi
        .iter()
        .max_by(|a, b| a.intra.mean.total_cmp(&b.intra.mean))
        .map(|r| r.ae.clone())
        .unwrap_or_default();
    push(
        "A_S preserves the most input signal (highest intra-nMI)",
        "Figure 9, §3.5",
        (best == "A_S", format!("highest intra-nMI: {best}")),
    );
    let held = claims.iter().filter(|c| c.holds).count();
    let mut markdown = String::from(
        "## Claims check\n\n| claim | paper | holds | evidence |\n|---|---|---|---|\n",
    );
    for claim in &claims {
        markdown += &format!(
            "| {} | {} | {} | {} |\n",
            claim.statement,
            claim.paper,
            if claim.holds { "yes" } else { "no" },
            claim.evidence
        );
    }
    let files = vec![super::write_markdown(context, "claims.md", &markdown)?];
    Ok(Outcome {
        result: serde_json::to_value(&claims)?,
        files,
        summary: format!("{held}/{} claims hold", claims.len()),
    })
}
