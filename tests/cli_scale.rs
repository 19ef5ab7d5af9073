//! `dnlts plan` and `dnlts bench`: the stage graph handed to make and Slurm, and the step
//! timings with their FLOP counts.

mod cli_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_common::{dnlts, text};

fn scratch(name: &str) -> PathBuf {
    cli_common::scratch_dir("scale", name)
}

fn plan(emit: &str, dir: &Path) -> PathBuf {
    let out = dnlts(
        &["plan", "--profile", "tiny", "--emit", emit, "--out", "planned", "--threads", "1"],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = dir.join(format!("plan.{emit}"));
    std::fs::write(&file, &out.stdout).unwrap();
    file
}

/// Stage weights (byte for byte) and every target's numbers (wall times left out).
fn results(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for folder in [dir.to_path_buf(), dir.join("stages")] {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let bytes = std::fs::read(&path).unwrap_or_default();
            if name.ends_with(".safetensors") {
                found.push((name, format!("{:?}", bytes)));
            } else if name.ends_with(".json") && !name.contains('/') && name != "run.json" {
                let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                found.push((name, record["result"].to_string()));
            }
        }
    }
    found.sort();
    found
}

/// Position of the first dry-run line running `command`.
fn position(lines: &[String], command: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(command))
        .unwrap_or_else(|| panic!("no `{command}` in the plan:\n{}", lines.join("\n")))
}

/// A top-level `make`, even when the tests themselves run under `make test`: an inherited
/// MAKELEVEL would add "Entering directory" lines and MAKEFLAGS the outer make's jobs.
fn make() -> Command {
    let mut command = Command::new("make");
    command.env_remove("MAKEFLAGS").env_remove("MFLAGS").env_remove("MAKELEVEL");
    command
}

#[test]
fn the_make_plan_runs_stages_in_order_and_reproduces_dnlts_reproduce() {
    let dir = scratch("make");
    let makefile = plan("make", &dir);
    let dry = make().arg("-n").arg("-f").arg(&makefile).current_dir(&dir).output();
    let dry = dry.expect("make is installed");
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let lines: Vec<String> = text(&dry.stdout).lines().map(String::from).collect();
    let pretrain = position(&lines, " pretrain ");
    let report = position(&lines, " reproduce ");
    for family in ["lenet5", "alexnet", "vgg16_bn", "inception_v3", "resnet50"] {
        let classifier = position(&lines, &format!("train-classifier --classifier {family} "));
        let finetune = position(&lines, &format!("finetune --classifier {family} "));
        assert!(pretrain < finetune && classifier < finetune && finetune < report, "{family}");
    }
    assert_eq!(lines.len(), 12, "one command per stage:\n{}", lines.join("\n"));
    // Two jobs at a time, as a user with two cores would run it.
    let run = make().args(["-j2", "-f"]).arg(&makefile).current_dir(&dir).output();
    let run = run.unwrap();
    assert!(run.status.success(), "{}\n{}", text(&run.stdout), text(&run.stderr));
    let direct =
        dnlts(&["reproduce", "--profile", "tiny", "--out", "direct", "--threads", "1"], &dir);
    assert!(direct.status.success(), "{}", text(&direct.stderr));
    let (planned, direct) = (results(&dir.join("planned")), results(&dir.join("direct")));
    assert!(planned.iter().filter(|(name, _)| name.ends_with(".safetensors")).count() >= 11);
    assert_eq!(planned, direct, "the plan's stages and targets equal reproduce's");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_slurm_plan_chains_each_job_after_the_jobs_it_needs() {
    let dir = scratch("slurm");
    let script = plan("slurm", &dir);
    let syntax = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "{}", text(&syntax.stderr));
    // No Slurm here: a stand-in sbatch records each submission and answers with the next id,
    // in sbatch --parsable's ID;CLUSTER form.
    let fake = dir.join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(
        fake.join("sbatch"),
        "#!/bin/sh\nn=$(( $(cat \"$JOBS/count\" 2>/dev/null || echo 0) + 1 ))\n\
         echo $n > \"$JOBS/count\"\nprintf '%s\\n' \"$@\" > \"$JOBS/job$n\"\necho \"$n;cluster\"\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(fake.join("sbatch")).status().unwrap();
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    let submit = Command::new("bash").arg(&script).env("PATH", path).env("JOBS", &dir).output();
    let submit = submit.unwrap();
    assert!(submit.status.success(), "{}", text(&submit.stderr));
    let jobs: Vec<String> =
        (1..=12).map(|n| std::fs::read_to_string(dir.join(format!("job{n}"))).unwrap()).collect();
    let job_of = |command: &str| {
        1 + jobs.iter().position(|job| job.contains(command)).unwrap_or_else(|| panic!("{command}"))
    };
    let dependencies = |job: &str| -> Vec<usize> {
        job.lines()
            .find_map(|line| line.strip_prefix("--dependency=afterok:"))
            .map_or(vec![], |ids| ids.split(':').map(|id| id.parse().unwrap()).collect())
    };
    let pretrain = job_of(" pretrain --profile tiny");
    assert!(dependencies(&jobs[pretrain - 1]).is_empty());
    for family in ["lenet5", "alexnet", "vgg16_bn", "inception_v3", "resnet50"] {
        let classifier = job_of(&format!("train-classifier --classifier {family} "));
        let finetune = job_of(&format!("finetune --classifier {family} "));
        assert_eq!(dependencies(&jobs[finetune - 1]), vec![pretrain, classifier], "{family}");
    }
    let report = job_of(" reproduce --profile tiny");
    assert_eq!(dependencies(&jobs[report - 1]).len(), 5, "the report waits for every fine-tuning");
    assert!(jobs.iter().all(|job| job.contains("--cpus-per-task=1")), "resources of every job");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_times_every_stage_and_projects_the_profile() {
    let args = ["bench", "--profile", "paper", "--steps", "1", "--threads", "1", "--json"];
    let out = dnlts(&[&args[..], &["--peak-tflops", "0.5"]].concat(), Path::new("/"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["reduced"].as_str().unwrap().contains("64×64"), "CPU runs say how reduced");
    let stages = report["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["stage"].as_str().unwrap()).collect();
    let expected = ["pretrain", "train-classifier L", "finetune L", "finetune A", "finetune V"];
    assert_eq!(names[..5], expected);
    let rest = ["finetune I", "finetune R", "evaluate"];
    assert_eq!(names[5..], rest, "paper: only LeNet-5 trains, A, V, I, R come pretrained");
    let mut total = 0.0;
    for stage in stages {
        let number = |key: &str| stage[key].as_f64().unwrap();
        let (rate, gflop) = (number("images_per_second"), number("gflop_per_image"));
        assert!(rate > 0.0 && gflop > 0.0, "{stage}");
        let achieved = gflop * rate / 1e3;
        assert!((number("achieved_tflops") - achieved).abs() <= 1e-3 * achieved, "{stage}");
        assert!((number("mfu") - achieved / 0.5).abs() <= 1e-3 * achieved / 0.5, "{stage}");
        assert!(number("peak_memory_bytes") > 0.0, "{stage}");
        let projected = number("profile_images") / rate;
        assert!((number("projected_seconds") - projected).abs() <= 1e-6 * projected, "{stage}");
        total += projected;
    }
    let reported = report["projected_seconds"].as_f64().unwrap();
    assert!((reported - total).abs() <= 1e-6 * total);
    // The paper pre-trains on 92.1 M images: the profile's sizes reach the projection.
    assert_eq!(stages[0]["profile_images"], 92_100_000);
    // Without a known peak MFU is not made up.
    let tiny =
        ["bench", "--profile", "tiny", "--steps", "1", "--threads", "1", "--batch-size", "4"];
    let plain = dnlts(&tiny, Path::new("/"));
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let table = text(&plain.stdout);
    assert!(table.contains("MFU: n/a") && table.contains("train-classifier L"), "{table}");
    // A batch no machine holds (1.2 TB of images) stops with advice, not a crash.
    let huge = ["bench", "--profile", "tiny", "--threads", "1", "--batch-size", "100000000"];
    let refused = dnlts(&huge, Path::new("/"));
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(
        message.contains("out of memory") && message.contains("--batch-size 50000000"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}
