//! Runs the selected targets of a profile and writes one JSON per target.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::fingerprint::Fingerprint;
use crate::output::write_json;
use crate::profile::Profile;
use crate::provenance::Provenance;
use crate::stages::{Pipeline, Place, RunOptions};
use crate::targets::{self, Context, Target};

/// What `dnlts reproduce` was asked to do.
pub struct RunRequest {
    /// This run's share of the output folder's lock, held while the request lives.
    pub _out_lock: crate::out_lock::OutLock,
    pub profile: Profile,
    pub options: RunOptions,
    /// Continue interrupted training stages from their checkpoints.
    pub resume: bool,
    pub master_seed: u64,
    pub threads: usize,
    pub device: tch::Device,
    pub out_dir: PathBuf,
    pub targets: Vec<&'static Target>,
    /// Users' classifiers to add beside the five (`--classifier`).
    pub classifiers: Vec<dnlts::models::classifier::ScriptedSpec>,
}

/// The JSON written for each target that ran.
#[derive(Serialize)]
struct TargetRecord<'a> {
    target: &'a str,
    artefact: &'a str,
    profile: &'a str,
    master_seed: u64,
    seed: u64,
    provenance: &'a Provenance,
    wall_seconds: f64,
    files: Vec<String>,
    result: serde_json::Value,
}

/// How the run went, written as `run.json` and summarised on the terminal.
#[derive(Serialize, Default)]
pub struct RunSummary {
    pub ran: Vec<String>,
    /// The digest of every number the targets published (`fingerprint`).
    pub fingerprint: Option<Fingerprint>,
}

/// Runs `stage` on the pipeline of `request`, with the determinism settings of a stage
/// command (the stage commands, `ship-classifiers`).
pub fn run_request(
    request: RunRequest,
    stage: impl FnOnce(&Pipeline) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let seed = dnlts::seed::derive(request.master_seed, "stage-command", "");
    dnlts::seed::Determinism::new(seed, request.threads).fast(request.options.fast).apply();
    stage(&pipeline(&request)?)?;
    println!("done; stages cached in {}", request.out_dir.join("stages").display());
    Ok(())
}

/// The stages behind `request`'s targets.
pub fn pipeline(request: &RunRequest) -> anyhow::Result<Pipeline> {
    // Process-wide: every frozen unit of the run, in stages and measures alike, computes as
    // the run's options say.
    dnlts::models::blocks::set_batch_norm_folding(request.options.compute.fold_batch_norm);
    Pipeline::new(
        request.profile.clone(),
        request.options.clone(),
        request.master_seed,
        request.device,
        Place { out_dir: &request.out_dir, resume: request.resume },
        &request.classifiers,
    )
}

pub fn run(request: &RunRequest) -> anyhow::Result<RunSummary> {
    let out = &request.out_dir;
    // Everything that can be checked before work is checked before anything is written.
    let pipeline = pipeline(request)?;
    if request.targets.iter().any(|target| target.reads_data) {
        pipeline.source()?;
    }
    write_json(&out.join("profile.json"), &request.profile)?;
    write_json(&out.join("options.json"), &request.options)?;
    write_users(out, &pipeline)?;
    let mut summary = RunSummary::default();
    let mut results = std::collections::BTreeMap::new();
    let count = request.targets.len();
    for (position, target) in request.targets.iter().enumerate() {
        let label = format!("[{}/{count}] {:<7} {}", position + 1, target.name, target.artefact);
        let (record_summary, result, seconds) = run_one(request, &pipeline, target, target.run)?;
        println!("{label}: {record_summary} ({seconds:.1} s)");
        summary.ran.push(target.name.to_string());
        results.insert(target.name.to_string(), result);
    }
    summary.fingerprint = Some(Fingerprint::of(&results));
    write_json(&out.join("run.json"), &summary)?;
    write_report(request, &summary)?;
    Ok(summary)
}

/// `classifiers.json`: the users' classifiers of the run (file, sha256, input), if any.
fn write_users(out: &Path, pipeline: &Pipeline) -> anyhow::Result<()> {
    if pipeline.users().is_empty() {
        return Ok(());
    }
    let users: Vec<serde_json::Value> = pipeline
        .users()
        .iter()
        .map(|u| {
            serde_json::json!({
                "name": u.spec.name,
                "file": u.spec.file,
                "sha256": u.sha256,
                "family": u.spec.family.map(|f| f.name()),
                "input": u.spec.input,
            })
        })
        .collect();
    write_json(&out.join("classifiers.json"), &users)
}

fn run_one(
    request: &RunRequest,
    pipeline: &Pipeline,
    target: &Target,
    run_target: targets::RunFn,
) -> anyhow::Result<(String, serde_json::Value, f64)> {
    let seed = dnlts::seed::derive(request.master_seed, target.name, "target");
    dnlts::seed::Determinism::new(seed, request.threads).fast(request.options.fast).apply();
    let context = Context { profile: &request.profile, out_dir: &request.out_dir, pipeline };
    let started = Instant::now();
    let outcome = run_target(&context).with_context(|| format!("target {} failed", target.name))?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let provenance = Provenance::collect(request.device, request.threads, request.options.fast);
    let record = TargetRecord {
        target: target.name,
        artefact: target.artefact,
        profile: &request.profile.name,
        master_seed: request.master_seed,
        seed,
        provenance: &provenance,
        wall_seconds,
        files: outcome.files.iter().map(|path| relative(path, &request.out_dir)).collect(),
        result: outcome.result,
    };
    write_json(&request.out_dir.join(format!("{}.json", target.name)), &record)?;
    Ok((outcome.summary, record.result, wall_seconds))
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// `report.md`: every markdown fragment and figure of the targets that ran, in target order,
/// with the provenance of the run — ready to paste into a paper or a lab notebook.
fn write_report(request: &RunRequest, summary: &RunSummary) -> anyhow::Result<()> {
    let out = &request.out_dir;
    let provenance = Provenance::collect(request.device, request.threads, request.options.fast);
    let mut report = format!(
        "# dnlts report — profile `{}`\n\n{}\n\nseed {}, dnlts {} (commit {}), tch {}, libtorch {}, device {}, {} thread(s), CPU kernels {}{}\n",
        request.profile.name,
        request.profile.summary,
        request.master_seed,
        provenance.dnlts_version,
        provenance.git_commit,
        provenance.tch_version,
        provenance.libtorch_version,
        provenance.device,
        provenance.threads,
        provenance.kernels.name(),
        if provenance.fast { ", --fast (cuDNN autotuning: not bit-reproducible on a GPU)" } else { "" }
    );
    let (compute, part) = (&request.options.compute, request.options.finetune_part);
    report += &format!(
        "\nbatch size {}, {} micro-batch(es) per step, bf16 autocast {}, channels-last {}, \
         batch norm of frozen networks folded {}, fine-tuned part: {part}\n",
        request.profile.batch_size,
        compute.accumulation,
        if compute.amp { "on" } else { "off" },
        if compute.channels_last { "on" } else { "off" },
        if compute.fold_batch_norm { "on" } else { "off" },
    );
    if let Some(fingerprint) = &summary.fingerprint {
        report += &format!(
            "\nfingerprint `{}` (every published number; the same fingerprint means the same \
             numbers; per target in run.json)\n",
            fingerprint.run
        );
    }
    let records = summary
        .ran
        .iter()
        .map(|name| {
            let path = out.join(format!("{name}.json"));
            let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            Ok((name.as_str(), record))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    report += &degenerate_section(&records);
    // The paper's order (the registry's report positions), not the alphabetical one.
    let mut ran: Vec<&'static Target> =
        targets::all().iter().filter(|t| summary.ran.iter().any(|name| name == t.name)).collect();
    ran.sort_by_key(|target| target.report_position);
    for name in ran.iter().map(|target| target.name) {
        let record = &records.iter().find(|(n, _)| *n == name).expect("a record per target").1;
        report += &format!("\n---\n\n### `{name}`\n\n");
        for file in record["files"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
            if file.ends_with(".md") {
                report += &std::fs::read_to_string(out.join(file))?;
                report += "\n";
            } else if file.ends_with(".svg") || file.ends_with(".png") {
                report += &format!("![{file}]({file})\n\n");
            }
        }
    }
    report += &time_section(&records, &out.join("stages"));
    crate::output::write_text(&out.join("report.md"), &report)?;
    Ok(())
}

/// The count of degenerate inputs the claims check found, near the top of the report.
fn degenerate_section(records: &[(&str, serde_json::Value)]) -> String {
    let Some((_, claims)) = records.iter().find(|(name, _)| *name == "claims") else {
        return "\n**Degenerate results: not checked** (the `claims` target checks for \
                classifiers at chance and constant AEs).\n"
            .to_string();
    };
    let found = claims["result"]["degenerate"].as_array().cloned().unwrap_or_default();
    if found.is_empty() {
        return "\n**Degenerate results: none** (no classifier at chance, no constant AE; the \
                rule is in the claims check).\n"
            .to_string();
    }
    let names: Vec<String> = found
        .iter()
        .map(|f| match (f["input"]["kind"].as_str(), f["input"]["name"].as_str()) {
            (Some("classifier"), Some(name)) => format!("classifier {name}"),
            (_, Some(name)) => name.to_string(),
            _ => f["input"].to_string(),
        })
        .collect();
    format!(
        "\n**Degenerate results: {}** ({}): their numbers carry no signal, so the claims that \
         read them are NOT APPLICABLE; the reasons are in the claims check.\n",
        found.len(),
        names.join(", ")
    )
}

/// Where the time went: each target in the order it ran, and each stage's training time.
fn time_section(records: &[(&str, serde_json::Value)], stages: &Path) -> String {
    let mut text = String::from(
        "\n---\n\n### Time\n\nTargets in the order they ran. A stage (trained model) or \
         measure (evaluation pass, nMI pass) that several targets share is made once, by the \
         first target that asks for it, and counted in that target's time; the later ones find \
         it made.\n\n| target | seconds |\n|---|---:|\n",
    );
    for (name, record) in records {
        let seconds = record["wall_seconds"].as_f64().unwrap_or(f64::NAN);
        text += &format!("| {name} | {seconds:.1} |\n");
    }
    let mut stage_times: Vec<(String, f64)> = std::fs::read_dir(stages)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            (path.extension()? == "json").then_some(())?;
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            let name = path.file_stem()?.to_string_lossy().to_string();
            Some((name, record["seconds"].as_f64()?))
        })
        .collect();
    stage_times.sort_by(|a, b| a.0.cmp(&b.0));
    if !stage_times.is_empty() {
        text += "\nTraining time of each stage in `stages/` (from its record: a stage trained \
                 by an earlier run into this folder, or given as weights (0 s), keeps its \
                 record):\n\n| stage | seconds |\n|---|---:|\n";
        for (stage, seconds) in &stage_times {
            text += &format!("| {stage} | {seconds:.1} |\n");
        }
    }
    text
}
