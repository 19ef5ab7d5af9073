//! Which of the paper's statements hold on our numbers: every checkable statement of
//! §3.3–3.5 (`dnlts::metrics::claims`), judged on this run's measures with the paper's own
//! numbers beside ours, the §3.4 notes recomputed on our Table 2, and, for each user's
//! classifier (`--classifier`), where it sits among the paper's five.

use super::{Context, Outcome};
use crate::stages::measures::{LatticePlace, Placement, SHARED_SIGNAL_RRC};
use dnlts::eval::{AccuracyTable, Seen};
use dnlts::metrics::claims::{self, Measured, NoisePoint, NoiseRow, Table1Row, TopK, Verdict};
use dnlts::metrics::degenerate::{self, Finding};

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
    let noise = pipeline.noise_sweep()?;
    let mut measured = measured_of(&pipeline.evaluation()?, &noise, &pipeline.classifier_names());
    measured.cross = Some((*pipeline.cross_table()?).clone());
    measured.nmi = pipeline.nmi()?.to_vec();
    measured.degenerate = pipeline.degenerate()?;
    Ok(measured)
}

/// Table 1 and Figure 4 of the claims from the evaluation passes (no Table 2, nMI or
/// degenerate inputs: the caller adds them).
fn measured_of(clean: &AccuracyTable, noise: &[AccuracyTable], classifiers: &[String]) -> Measured {
    let table1 = classifiers
        .iter()
        .map(|c| Table1Row {
            classifier: c.clone(),
            x: top_k(clean, Seen::Original, c),
            a_s: top_k(clean, Seen::Pretrained, c),
            own: top_k(clean, Seen::FinetunedFor(c), c),
        })
        .collect();
    Measured {
        table1,
        noise: noise.iter().map(|t| noise_point(t, classifiers)).collect(),
        classifiers: classifiers.to_vec(),
        ..Default::default()
    }
}

/// The claims, each judged on every bootstrap resample too: Tables 1–2, Figure 4 and Figure
/// 9's nMI means from the resample, the degenerate inputs as measured.
fn judged(context: &Context, measured: &Measured) -> anyhow::Result<(Vec<claims::Claim>, usize)> {
    let resamples = context.pipeline.resamples()?;
    let nmi = context.pipeline.nmi_resampled()?;
    let started = std::time::Instant::now();
    let classifiers = &measured.classifiers;
    let each: Vec<Vec<Option<bool>>> = (resamples.all.iter().zip(nmi.iter()))
        .map(|(r, nmi)| {
            let mut m = measured_of(&r.clean, &r.noise, classifiers);
            m.cross = r.cross.clone();
            m.nmi = nmi.clone();
            m.degenerate = measured.degenerate.clone();
            claims::holds_each(&m)
        })
        .collect();
    eprintln!(
        "bootstrap: the claims on {} resamples in {:.2} s",
        resamples.len(),
        started.elapsed().as_secs_f64()
    );
    Ok((claims::check_resampled(measured, &each), resamples.len()))
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let measured = measured(context)?;
    let (claims, resamples) = judged(context, &measured)?;
    let count = |verdict| claims.iter().filter(|c| c.verdict == verdict).count();
    let (holds, fails, unsettled) =
        (count(Verdict::Holds), count(Verdict::Fails), count(Verdict::Unsettled));
    let mut markdown = format!(
        "## Claims check\n\nEvery checkable statement of §3.3–3.5 on this run's numbers, the \
         same check on the paper's Tables 1–2 beside it (statements about Figures 4 and 9, \
         published only as plots, quote the paper). Comparisons are strict: a tie is not a \
         win. A claim that reads a degenerate input (below) is not applicable. Each check is \
         repeated on {resamples} bootstrap resamples of the test images (Tables 1–2 and \
         Figures 4 and 9 resampled, paired on the same images): a claim HOLDS when \
         it holds in at least 95 % of them, FAILS when it fails in at least 95 %, and is \
         UNSETTLED otherwise, the share beside it. {holds} hold, {fails} fail, {unsettled} \
         unsettled, {} not applicable.\n\n{}{}",
        claims.len() - holds - fails - unsettled,
        degenerate_markdown(&measured.degenerate),
        claims::to_markdown(&claims)
    );
    let analysis = context.pipeline.analysis()?;
    if !analysis.notes.is_empty() {
        markdown += "\n### §3.4 recomputed on our Table 2\n\n";
        if !measured.degenerate.is_empty() {
            markdown += "These notes read the same Table 2 as the claims, degenerate inputs \
                         included: where they agree with the paper, that agreement is no \
                         evidence.\n\n";
        }
        markdown += "| topic | the paper says | ours | agrees |\n|---|---|---|---|\n";
        for note in &analysis.notes {
            let agrees = if note.agrees { "yes" } else { "no" };
            markdown +=
                &format!("| {} | {} | {} | {agrees} |\n", note.topic, note.paper, note.computed);
        }
    }
    let placements = context.pipeline.placements()?;
    for placement in &placements {
        markdown += &where_it_sits(placement);
    }
    let files = vec![super::write_markdown(context, "claims.md", &markdown)?];
    let mut result = serde_json::json!({
        "claims": claims,
        "notes_on_our_table2": analysis.notes,
        "resamples": resamples,
        "counts": {"holds": holds, "fails": fails, "unsettled": unsettled,
                   "not applicable": claims.len() - holds - fails - unsettled},
    });
    // Only when found: runs without degenerate inputs keep their outputs (and fingerprints).
    if !measured.degenerate.is_empty() {
        result["degenerate"] = serde_json::to_value(&measured.degenerate)?;
    }
    // Only with users' classifiers: runs without them keep their outputs as they were.
    if !placements.is_empty() {
        result["where_yours_sit"] = serde_json::to_value(&placements)?;
    }
    let mut summary =
        format!("{holds}/{} claims hold, {fails} fail, {unsettled} unsettled", claims.len());
    if !measured.degenerate.is_empty() {
        summary += &format!("; {} degenerate input(s)", measured.degenerate.len());
    }
    Ok(Outcome { result, files, summary })
}

/// The counted list of degenerate inputs, with the rule that found them.
pub fn degenerate_markdown(findings: &[Finding]) -> String {
    let mut text = format!(
        "### Degenerate results: {}\n\nA classifier is at chance when its top-1 on the test \
         images is at or below the top of the central {:.0} % interval of the binomial \
         Bin(images, 1/classes) (a guessing classifier); an AE when its reconstructions vary by \
         less than {} of 255 levels (standard deviation within an image, or across images), or \
         when its own classifier, above chance alone, reads them at chance.\n\n",
        if findings.is_empty() { "none".to_string() } else { findings.len().to_string() },
        100.0 * degenerate::CHANCE_LEVEL,
        degenerate::FLAT_LEVELS
    );
    for finding in findings {
        text += &format!("- **{}**: {}\n", finding.input, finding.reason);
    }
    if !findings.is_empty() {
        text += "\n";
    }
    text
}

/// The report's "where NAME sits": its accuracy, whose signal it shares, its lattice place.
fn where_it_sits(p: &Placement) -> String {
    let mut text = format!(
        "\n## Where {name} sits\n\n`{}` (sha256 `{}`): top-1 {:.4} on the test images, \
         {:.4} on its own AE's reconstructions ({name}∘A_{name}, Table 2's diagonal).\n\n",
        p.file,
        p.sha256,
        p.alone,
        p.diagonal,
        name = p.name
    );
    let shared = match p.shares_signal_with.as_slice() {
        [] => "none of the paper's five".to_string(),
        names => names.join(", "),
    };
    text += &format!(
        "Shares its input signal (RRC ≥ {SHARED_SIGNAL_RRC} both ways) with: **{shared}**.\n\n\
         | other | RRC(other∘A_{name}) | RRC({name}∘A_other) | shares |\n|---|---:|---:|---|\n",
        name = p.name
    );
    for r in &p.rrc {
        let shares = if r.shares_signal() { "yes" } else { "no" };
        text += &format!(
            "| {} | {:.3} | {:.3} | {shares} |\n",
            r.other, r.other_on_yours, r.yours_on_other
        );
    }
    if let Some(place) = &p.lattice {
        text += &lattice_place(&p.name, place);
    }
    text
}

fn lattice_place(name: &str, place: &LatticePlace) -> String {
    let list = |names: &[String]| match names {
        [] => "none".to_string(),
        names => names.join(", "),
    };
    let concept = |k: Option<usize>| k.map_or("–".to_string(), |k| format!("#{k}"));
    format!(
        "\nIn the t = {} lattice ({} concepts, Figure 7): {name} labels concept {}, reading \
         {} at RRC ≥ t; classifiers at the same concept: {}. A_{name} labels concept {}: read \
         at RRC ≥ t by {}.\n",
        place.threshold,
        place.concepts,
        concept(place.object_concept),
        list(&place.reads),
        list(&place.same_concept_as),
        concept(place.attribute_concept),
        list(&place.served_by_its_ae)
    )
}
