//! Which of the paper's statements hold on our numbers: every checkable statement of
//! §3.3–3.5 (`dnlts::metrics::claims`), judged on this run's measures with the paper's own
//! numbers beside ours, and the §3.4 notes recomputed on our Table 2.

use super::{Context, Outcome};
use dnlts::eval::{AccuracyTable, Seen};
use dnlts::metrics::claims::{self, Measured, NoisePoint, NoiseRow, Table1Row, TopK, Verdict};

fn top_k(table: &AccuracyTable, seen: Seen, classifier: &str) -> TopK {
    TopK { top1: table.top1_on(seen, classifier), top5: table.top5_on(seen, classifier) }
}

fn noise_point(table: &AccuracyTable, classifiers: &[String]) -> NoisePoint {
    let rows = classifiers
        .iter()
        .map(|c| NoiseRow {
            classifier: c.clone(),
            x: table.top1_on(Seen::Original, c),
            a_s: table.top1_on(Seen::Pretrained, c),
            own: table.top1_on(Seen::FinetunedFor(c), c),
        })
        .collect();
    NoisePoint { strength: table.noise, rows }
}

/// Everything the claims read, from the run's shared measures.
fn measured(context: &Context) -> anyhow::Result<Measured> {
    let pipeline = context.pipeline;
    let classifiers = pipeline.classifier_names();
    let clean = pipeline.evaluation(0.0, true)?;
    let table1 = classifiers
        .iter()
        .map(|c| Table1Row {
            classifier: c.clone(),
            x: top_k(&clean, Seen::Original, c),
            a_s: top_k(&clean, Seen::Pretrained, c),
            own: top_k(&clean, Seen::FinetunedFor(c), c),
        })
        .collect();
    let noise = pipeline.noise_sweep()?.iter().map(|t| noise_point(t, &classifiers)).collect();
    Ok(Measured {
        table1,
        cross: Some((*pipeline.cross_table()?).clone()),
        noise,
        nmi: pipeline.nmi()?.to_vec(),
        classifiers,
    })
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let claims = claims::check(&measured(context)?);
    let count = |verdict| claims.iter().filter(|c| c.verdict == verdict).count();
    let (holds, fails) = (count(Verdict::Holds), count(Verdict::Fails));
    let mut markdown = format!(
        "## Claims check\n\nEvery checkable statement of §3.3–3.5 on this run's numbers, the \
         same check on the paper's Tables 1–2 beside it (statements about Figures 4 and 9, \
         published only as plots, quote the paper). Comparisons are strict: a tie is not a \
         win. {holds} hold, {fails} fail, {} not applicable.\n\n{}",
        claims.len() - holds - fails,
        claims::to_markdown(&claims)
    );
    let analysis = context.pipeline.analysis()?;
    if !analysis.notes.is_empty() {
        markdown += "\n### §3.4 recomputed on our Table 2\n\n| topic | the paper says | ours | agrees |\n|---|---|---|---|\n";
        for note in &analysis.notes {
            let agrees = if note.agrees { "yes" } else { "no" };
            markdown +=
                &format!("| {} | {} | {} | {agrees} |\n", note.topic, note.paper, note.computed);
        }
    }
    let files = vec![super::write_markdown(context, "claims.md", &markdown)?];
    let result = serde_json::json!({ "claims": claims, "notes_on_our_table2": analysis.notes });
    let summary = format!("{holds}/{} claims hold, {fails} fail", claims.len());
    Ok(Outcome { result, files, summary })
}
