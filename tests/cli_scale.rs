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

/// The sha256 of every stage's weights and every target's record but for what differs between
/// runs of the same numbers (provenance: device, threads, host; the wall time).
fn results(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for folder in [dir.to_path_buf(), dir.join("stages")] {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let bytes = std::fs::read(&path).unwrap_or_default();
            if name.ends_with(".safetensors") {
                found.push((name, dnlts::digest::sha256_hex(&bytes)));
            } else if name.ends_with(".json") && !name.contains('/') && name != "run.json" {
                let mut record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let fields = record.as_object_mut().unwrap();
                if fields.contains_key("target") {
                    fields.remove("provenance");
                    fields.remove("wall_seconds");
                }
                found.push((name, record.to_string()));
            }
        }
    }
    found.sort();
    found
}

/// Every file under `dir` whose name says it is unfinished: an atomic write's temporary or a
/// training stage's checkpoint folder.
fn unfinished(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".dnlts-") || name.ends_with(".checkpoints") {
            found.push(path.clone());
        }
        if path.is_dir() {
            found.extend(unfinished(&path));
        }
    }
    found
}

/// The stages of the tiny profile, as `dnlts plan` names them.
fn tiny_stages() -> Vec<String> {
    let families = ["lenet5", "alexnet", "vgg16_bn", "inception_v3", "resnet50"];
    let classifiers = families.iter().map(|f| format!("classifier-{f}"));
    let finetunes = families.iter().map(|f| format!("finetune-{f}"));
    std::iter::once("pretrain".to_string()).chain(classifiers).chain(finetunes).collect()
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
        let classifier = position(&lines, &format!("train-classifier --family {family} "));
        let finetune = position(&lines, &format!("finetune --family {family} "));
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

/// `reproduce --devices cpu,cpu` runs each stage as a child process, two at a time, and ends
/// with the stages and numbers of a one-device run.
#[test]
fn reproduce_on_two_devices_equals_one_device() {
    let dir = scratch("devices");
    let tiny = ["reproduce", "--profile", "tiny", "--threads", "1", "--out"];
    let two = dnlts(&[&tiny[..], &["two", "--devices", "cpu,cpu"]].concat(), &dir);
    let progress = text(&two.stdout);
    assert!(two.status.success(), "{progress}\n{}", text(&two.stderr));
    let one = dnlts(&[&tiny[..], &["one"]].concat(), &dir);
    assert!(one.status.success(), "{}", text(&one.stderr));
    let (two_results, one_results) = (results(&dir.join("two")), results(&dir.join("one")));
    let weights = two_results.iter().filter(|(name, _)| name.ends_with(".safetensors"));
    assert_eq!(weights.count(), 11, "{two_results:?}");
    assert!(two_results.iter().any(|(name, _)| name == "table1.json"), "{two_results:?}");
    assert_eq!(two_results, one_results, "two devices' stages and targets equal one device's");
    for stage in tiny_stages() {
        let started = format!("{stage} started on cpu");
        let finished = format!("{stage} finished on cpu");
        assert!(progress.contains(&started) && progress.contains(&finished), "{progress}");
        assert!(dir.join("two/logs").join(format!("{stage}.log")).is_file(), "{stage}");
    }
    let lines: Vec<&str> = progress.lines().collect();
    let first_end = lines.iter().position(|line| line.contains(" finished on ")).unwrap();
    let started = lines[..first_end].iter().filter(|line| line.contains(" started on ")).count();
    assert_eq!(started, 2, "two stages at a time, one per device:\n{progress}");
    assert_eq!(unfinished(&dir.join("two")), Vec::<PathBuf>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stage that dies stops the run: no stage starts after it, the running ones finish and are
/// kept, no target is written, and the error names the stage, its exit and its log.
#[test]
fn a_failed_stage_stops_reproduce_devices_and_names_its_log() {
    let dir = scratch("devices-failed");
    let args = ["reproduce", "--profile", "tiny", "--threads", "1", "--out", "out"];
    let run = Command::new(env!("CARGO_BIN_EXE_dnlts"))
        .args(args)
        .args(["--devices", "cpu,cpu"])
        .current_dir(&dir)
        .env_remove("LD_LIBRARY_PATH")
        // The pre-training child kills itself (SIGKILL) after its second step.
        .env(dnlts::failpoint::VARIABLE, "step:pretrain@1")
        .output()
        .unwrap();
    let (progress, error) = (text(&run.stdout), text(&run.stderr));
    assert!(!run.status.success(), "{progress}");
    for part in ["stage pretrain", "signal: 9", "out/logs/pretrain.log", "run the same command"] {
        assert!(error.contains(part), "no {part:?} in: {error}");
    }
    // The log starts with the stage's command, to rerun it by hand.
    let log = std::fs::read_to_string(dir.join("out/logs/pretrain.log")).unwrap();
    let command = log.lines().next().unwrap();
    assert!(command.starts_with("$ ") && command.contains(" pretrain --profile tiny "), "{log}");
    // The classifier started beside it finished and is cached; nothing needing pre-training
    // started, and no target ran.
    assert!(progress.contains("classifier-lenet5 finished on cpu"), "{progress}");
    assert!(dir.join("out/stages/classifier-lenet5.safetensors").is_file());
    assert!(!progress.contains("finetune-"), "{progress}");
    assert!(
        !dir.join("out/table1.json").exists() && !dir.join("out/stages/pretrain.json").exists()
    );
    let leftovers = unfinished(&dir.join("out"));
    let killed = dir.join("out/stages/pretrain.checkpoints");
    assert!(leftovers.iter().all(|path| path == &killed), "{leftovers:?}");
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
    // The job's command is quoted word by word for sh (tests/cli_plan_text.rs runs it).
    let job = |n| std::fs::read_to_string(dir.join(format!("job{n}"))).unwrap().replace('\'', "");
    let jobs: Vec<String> = (1..=12).map(job).collect();
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
        let classifier = job_of(&format!("train-classifier --family {family} "));
        let finetune = job_of(&format!("finetune --family {family} "));
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
    let given = ["--peak-tflops", "0.5", "--gpu-rate", "1000"];
    let out = dnlts(&[&args[..], &given[..]].concat(), Path::new("/"));
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
    // On N such devices: one runs the stages in sequence; more never take longer, nor less than
    // the pre-training split N ways followed by the evaluation, which needs it.
    let on_devices = report["projected_on_devices"].as_array().unwrap();
    let counts: Vec<u64> = on_devices.iter().map(|p| p["devices"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 2, 4, 8]);
    let seconds: Vec<f64> =
        on_devices.iter().map(|p| p["projected_seconds"].as_f64().unwrap()).collect();
    assert!((seconds[0] - total).abs() <= 1e-6 * total, "{seconds:?} vs {total}");
    let stage_seconds = |i: usize| stages[i]["projected_seconds"].as_f64().unwrap();
    let (pretrain, evaluate) = (stage_seconds(0), stage_seconds(stages.len() - 1));
    for (i, devices) in counts.iter().enumerate() {
        assert!(seconds[i] <= seconds[i.saturating_sub(1)] * (1.0 + 1e-9), "{seconds:?}");
        let bound = pretrain / *devices as f64 + evaluate;
        assert!(seconds[i] >= bound * (1.0 - 1e-9), "{seconds:?}: {devices} below {bound}");
        let speedup = on_devices[i]["speedup"].as_f64().unwrap();
        assert!((speedup - seconds[0] / seconds[i]).abs() <= 1e-9 * speedup);
    }
    assert!(!report["fast"].as_bool().unwrap());
    // The paper pre-trains on 92.1 M images: the profile's sizes reach the projection.
    assert_eq!(stages[0]["profile_images"], 92_100_000);
    // Data loading: one core's rate per transform of the paper, and the cores that feed the
    // GPU rate given.
    let loading = &report["data_loading"];
    let transforms = loading["transforms"].as_array().unwrap();
    let sizes: Vec<u64> = transforms.iter().map(|t| t["output_size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [256, 224, 299], "{loading}");
    assert!(transforms[0]["transform"].as_str().unwrap().contains("augment"), "{loading}");
    let mut most: f64 = 0.0;
    for transform in transforms {
        let per_core = transform["images_per_core_second"].as_f64().unwrap();
        assert!(per_core > 0.0 && transform["images_per_wall_second"].as_f64().unwrap() > 0.0);
        let cores = transform["cores_per_gpu"].as_f64().unwrap();
        assert!((cores - 1000.0 / per_core).abs() <= 1e-9 * cores, "{transform}");
        most = most.max(cores);
    }
    assert_eq!(loading["cores_per_gpu"].as_f64().unwrap(), most);
    // Without a known peak MFU is not made up.
    let tiny =
        ["bench", "--profile", "tiny", "--steps", "1", "--threads", "1", "--batch-size", "4"];
    let plain = dnlts(&tiny, Path::new("/"));
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let table = text(&plain.stdout);
    assert!(table.contains("MFU: n/a") && table.contains("train-classifier L"), "{table}");
    assert!(table.contains("projected on N such devices") && table.contains("speed-up"));
    // … nor a GPU rate: the loading rows are there, the cores per GPU not.
    for row in
        ["data loading on one core", "eval: decode, resize 342, crop 299", "cores per GPU: n/a"]
    {
        assert!(table.contains(row), "no {row:?} in:\n{table}");
    }
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

/// `--pretrain-devices cpu,cpu` splits each pre-training batch over two copies of the AE: the
/// steps of `--accumulate 2` on one device (to the bit on a CPU). Under `reproduce --devices`
/// that stage runs alone, holding both devices.
#[test]
fn pretraining_split_over_two_devices_runs_alone_and_steps_as_two_micro_batches() {
    let dir = scratch("pretrain-devices");
    let tiny = ["--profile", "tiny", "--threads", "1", "--out"];
    let split = ["--devices", "cpu,cpu", "--pretrain-devices", "cpu,cpu"];
    let run = dnlts(&[&["reproduce"][..], &tiny, &["split"], &split].concat(), &dir);
    let progress = text(&run.stdout);
    assert!(run.status.success(), "{progress}\n{}", text(&run.stderr));
    let lines: Vec<&str> = progress.lines().collect();
    let pretrain_end = lines.iter().position(|line| line.contains("pretrain finished on"));
    let before: Vec<&&str> =
        lines[..pretrain_end.unwrap()].iter().filter(|l| l.contains(" started on ")).collect();
    assert_eq!(before.len(), 1, "pre-training alone:\n{progress}");
    assert!(before[0].contains("pretrain started on cpu,cpu"), "{progress}");
    let accumulated =
        dnlts(&[&["pretrain"][..], &tiny, &["acc", "--accumulate", "2"]].concat(), &dir);
    assert!(accumulated.status.success(), "{}", text(&accumulated.stderr));
    let record = |out: &str| -> serde_json::Value {
        let file = dir.join(out).join("stages/pretrain.json");
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    };
    let (split, accumulated) = (record("split"), record("acc"));
    assert_eq!(split["first_losses"], accumulated["first_losses"]);
    assert_ne!(split["key"], accumulated["key"], "copies, like micro-batches, are in the key");
    let mixed = ["gpu", "--pretrain-devices", "cpu,cuda:3"];
    let refused = dnlts(&[&["pretrain"][..], &tiny, &mixed].concat(), &dir);
    let error = text(&refused.stderr);
    assert!(!refused.status.success() && error.contains("cpu,cuda:3: cuda:3 is not"), "{error}");
    assert!(!dir.join("gpu/stages").exists(), "refused before anything ran");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `plan --fig2-imagenet-epochs N` plans what `reproduce --fig2-imagenet-epochs N` does: a
/// `pretrain-imagenet` stage, and a report that waits for it and is given the same epochs.
/// Checked on the plan's text, not run: paper-smoke's paper-size networks take a quarter of an
/// hour on this machine (tests/paper_smoke.rs runs the reproduce side).
#[test]
fn the_plan_carries_figure_2s_imagenet_regime_and_sizes_each_jobs_memory() {
    let dir = scratch("fig2");
    let plan = |extra: &[&str]| {
        let base = ["plan", "--profile", "paper-smoke", "--threads", "1", "--out", "o"];
        let out = dnlts(&[&base[..], extra].concat(), &dir);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let makefile = plan(&["--fig2-imagenet-epochs", "2"]);
    let rule = |name: &str| {
        let at = makefile.find(&format!("\n{name}:")).unwrap_or_else(|| panic!("{makefile}"));
        makefile[at + 1..].lines().take(2).collect::<Vec<_>>().join("\n")
    };
    assert!(rule("pretrain-imagenet").ends_with("$(DNLTS) pretrain-imagenet --epochs 2 $(ARGS)"));
    let report = rule("report");
    assert!(report.contains("pretrain-imagenet") && report.contains("finetune-resnet50"));
    assert!(report.ends_with("reproduce --fig2-imagenet-epochs 2 $(ARGS)"), "{report}");
    assert!(!plan(&[]).contains("pretrain-imagenet"), "none unless asked for");

    // Slurm on a GPU: every job asks for host memory, sized, or as given.
    let script = plan(&["--emit", "slurm", "--device", "cuda", "--fig2-imagenet-epochs", "2"]);
    let resources: Vec<&str> = script.lines().filter(|l| l.starts_with("RESOURCES=")).collect();
    assert_eq!(resources.len(), 9, "{script}");
    for line in &resources {
        let mem = line
            .split(' ')
            .find_map(|w| w.strip_prefix("--mem="))
            .unwrap_or_else(|| panic!("no --mem in {line}"));
        let gib: u64 = mem.trim_end_matches(")").strip_suffix('G').unwrap().parse().unwrap();
        // Twice the 2.5 GiB measured and the CUDA runtime's 3: at least 8 GiB.
        assert!((8..=16).contains(&gib), "{line}");
        assert!(line.contains("--time="), "every paper-smoke stage has an estimate: {line}");
    }
    assert!(script.contains("--cpus-per-task, --time and --mem:"), "the header says how");
    let submit = script.lines().find(|l| l.starts_with("job_report=")).unwrap();
    assert!(submit.contains(":$job_pretrain_imagenet\""), "{submit}");
    assert!(submit.ends_with("reproduce --fig2-imagenet-epochs 2)"), "{submit}");
    let given = plan(&["--emit", "slurm", "--mem", "64G", "--time", "1:00:00"]);
    let resources: Vec<&str> = given.lines().filter(|l| l.starts_with("RESOURCES=")).collect();
    assert_eq!(resources.len(), 8, "{given}");
    assert!(resources.iter().all(|l| l.contains("--mem=64G")), "{given}");

    // Refused where it means nothing, naming the option and the fix.
    let tiny = ["plan", "--profile", "tiny", "--fig2-imagenet-epochs", "2"];
    let refused = dnlts(&tiny, &dir);
    let message = text(&refused.stderr);
    assert!(!refused.status.success() && message.contains("--fig2-imagenet-epochs 2"));
    assert!(message.contains("paper-smoke"), "{message}");
    let bad = dnlts(&["plan", "--emit", "slurm", "--mem", "64GB"], &dir);
    assert!(!bad.status.success() && text(&bad.stderr).contains("'64GB'"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `bench` times the layout asked for: `small` runs channels-last, `--nchw` overrides that, so
/// `make bench-pytorch`'s NCHW half compares like with like.
#[test]
fn bench_runs_the_layout_asked_for() {
    let small = ["bench", "--profile", "small", "--steps", "1", "--threads", "1", "--json"];
    let quick = ["--batch-size", "2"];
    for (layout, channels_last) in [(None, true), (Some("--nchw"), false)] {
        let args: Vec<&str> = [&small[..], &quick[..], layout.as_slice()].concat();
        let out = dnlts(&args, Path::new("/"));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["channels_last"], channels_last, "{args:?}");
    }
    let both = [&small[..], &["--nchw", "--channels-last"][..]].concat();
    let refused = dnlts(&both, Path::new("/"));
    assert!(!refused.status.success(), "--nchw with --channels-last must be refused");
}
