//! kill -9 at named points of every training stage kind (issue #15), then a resumed run: the
//! stages it ends with are byte-identical to an uninterrupted run's, and nothing half-written
//! (temporary files, checkpoint folders) is left. The kills are fail points
//! (`dnlts::failpoint`): the process raises SIGKILL on itself at an exact place, so each case
//! hits the same moment on every machine, unlike a timed kill.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `finetune --family L` on the tiny profile runs all three stage kinds: pre-training
/// (16 steps, checkpoints at 8 and 16), the LeNet-5 classifier (8 steps, one checkpoint) and
/// its fine-tuning (8 steps, a checkpoint every 2).
const STAGES: [(&str, &str); 3] =
    [("pretrain", "pretrain"), ("classifier-lenet5", "train-L"), ("finetune-lenet5", "finetune-L")];

fn run(out: &Path, failpoint: Option<&str>) -> Output {
    run_with(out, failpoint, &[])
}

fn run_with(out: &Path, failpoint: Option<&str>, options: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dnlts"));
    command.args(["finetune", "--family", "L", "--profile", "tiny", "--threads", "1"]);
    command.args(options);
    command.args(["--resume", "--out"]).arg(out).env_remove(dnlts::failpoint::VARIABLE);
    if let Some(point) = failpoint {
        command.env(dnlts::failpoint::VARIABLE, point);
    }
    command.output().expect("the dnlts binary starts")
}

/// Every place a stage can die, for stage `stage` whose training task is `task`: during a
/// step before and after a checkpoint, inside a checkpoint, inside each atomic write, and
/// between the stage's weights, its record and the clean-up.
fn failpoints(stage: &str, task: &str) -> Vec<String> {
    let after_checkpoint = match task {
        "pretrain" => 9,
        "train-L" => 7,
        _ => 3,
    };
    vec![
        format!("step:{task}@1"),
        format!("step:{task}@{after_checkpoint}"),
        format!("before-rename:{stage}.checkpoints/KEY"),
        format!("checkpoint-tensors:{stage}.checkpoints/"),
        format!("before-rename:{stage}.checkpoints/step-"),
        format!("before-rename:stages/{stage}.safetensors"),
        format!("stage-weights:{stage}"),
        format!("before-rename:stages/{stage}.json"),
        format!("stage-record:{stage}"),
    ]
}

fn stage_files(out: &Path) -> Vec<(String, Vec<u8>)> {
    STAGES
        .iter()
        .map(|(stage, _)| {
            let name = format!("{stage}.safetensors");
            let bytes = std::fs::read(out.join("stages").join(&name)).unwrap_or_default();
            (name, bytes)
        })
        .collect()
}

/// Whatever a finished run must not leave behind: temporaries and checkpoint folders.
fn leftovers(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![out.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") || name.ends_with(".checkpoints") {
                found.push(path.clone());
            }
            if path.is_dir() {
                folders.push(path);
            }
        }
    }
    found
}

fn first_losses(out: &Path, stage: &str) -> serde_json::Value {
    let path = out.join("stages").join(format!("{stage}.json"));
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    record["first_losses"].clone()
}

/// One case: the armed run must die by SIGKILL (so the point was reached), the next run must
/// finish and match the reference. Returns a description of what went wrong, if anything.
fn check(root: &Path, point: &str, reference: &[(String, Vec<u8>)]) -> Option<String> {
    let out = root.join(point.replace([':', '/', '@', '.'], "_"));
    let killed = run(&out, Some(point));
    if killed.status.signal() != Some(libc::SIGKILL) {
        return Some(format!("{point}: not killed there ({:?})", killed.status));
    }
    let resumed = run(&out, None);
    if !resumed.status.success() {
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        return Some(format!("{point}: the resumed run failed: {stderr}"));
    }
    if stage_files(&out) != reference {
        return Some(format!("{point}: the resumed stages differ from the uninterrupted run's"));
    }
    let losses_differ = STAGES.iter().any(|(stage, _)| {
        first_losses(&out, stage) != first_losses(&root.join("reference"), stage)
    });
    if losses_differ {
        return Some(format!("{point}: the recorded first losses differ"));
    }
    let left = leftovers(&out);
    (!left.is_empty()).then(|| format!("{point}: left behind {left:?}"))
}

#[test]
fn a_run_killed_anywhere_in_any_stage_resumes_to_the_same_bytes() {
    let root = std::env::temp_dir().join(format!("dnlts-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let reference = run(&root.join("reference"), None);
    assert!(reference.status.success(), "{}", String::from_utf8_lossy(&reference.stderr));
    let reference = stage_files(&root.join("reference"));
    assert!(reference.iter().all(|(_, bytes)| !bytes.is_empty()));

    let points: Vec<String> =
        STAGES.iter().flat_map(|(stage, task)| failpoints(stage, task)).collect();
    // Two cases at a time: each run uses one thread.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = points
            .chunks(points.len().div_ceil(2))
            .map(|chunk| {
                let (root, reference) = (&root, &reference);
                scope.spawn(move || {
                    chunk.iter().filter_map(|p| check(root, p, reference)).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        points.len(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Checkpoints of a run with other settings (here another batch size) are not resumed: that
/// would continue a different training run. The stage starts afresh and says so.
#[test]
fn checkpoints_made_with_other_settings_are_not_resumed() {
    let root = std::env::temp_dir().join(format!("dnlts-crash-settings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (killed, fresh) = (root.join("killed"), root.join("fresh"));
    let first = run(&killed, Some("step:pretrain@9"));
    assert_eq!(first.status.signal(), Some(libc::SIGKILL));
    assert!(killed.join("stages/pretrain.checkpoints/step-0000000008.json").is_file());
    let resumed = run_with(&killed, None, &["--batch-size", "16"]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(stderr.contains("were made with other settings or another dnlts version"), "{stderr}");
    assert!(run_with(&fresh, None, &["--batch-size", "16"]).status.success());
    assert_eq!(stage_files(&killed), stage_files(&fresh));
    std::fs::remove_dir_all(&root).unwrap();
}

/// SIGTERM while the evaluation runs (no training loop, so no checkpoint to wait for) ends
/// the process at once with 130, saying where the finished stages are and how to continue
/// (it said only "stopped"); doing what it says finishes the run without training again.
#[test]
fn sigterm_during_the_evaluation_says_how_to_continue() {
    let out = std::env::temp_dir().join(format!("dnlts-sigterm-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let args = ["reproduce", "--profile", "tiny", "--include", "table1", "--threads", "1"];
    let mut command = Command::new(env!("CARGO_BIN_EXE_dnlts"));
    command.args(args).arg("--out").arg(&out);
    command.env(dnlts::failpoint::VARIABLE, "evaluate");
    let stopped = command.env(dnlts::failpoint::SIGNAL_VARIABLE, "TERM").output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    let advice = format!(
        "stopped; the stages finished so far are kept in {}: run the same command with \
         --resume to continue",
        out.join("stages").display()
    );
    assert!(stderr.contains(&advice), "{stderr}");
    let records = || {
        let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(out.join("stages"))
            .unwrap()
            .flatten()
            .map(|entry| (entry.path(), std::fs::read(entry.path()).unwrap_or_default()))
            .collect();
        files.sort();
        files
    };
    let before = records();
    let mut again = Command::new(env!("CARGO_BIN_EXE_dnlts"));
    again.args(args).args(["--resume", "--out"]).arg(&out);
    let resumed = again.env_remove(dnlts::failpoint::VARIABLE).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(records(), before, "every stage was cached, none trained again");
    assert!(out.join("table1.json").is_file());
    std::fs::remove_dir_all(&out).unwrap();
}
