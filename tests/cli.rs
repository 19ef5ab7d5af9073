//! The `dnlts` binary as a user meets it: help, env, list, reproduce and their errors.

mod cli_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_common::{dnlts, text};

fn scratch(name: &str) -> PathBuf {
    cli_common::scratch_dir("cli", name)
}

#[test]
fn help_explains_every_subcommand() {
    let out = dnlts(&["--help"], Path::new("/"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["env", "list", "reproduce"] {
        let line = help.lines().find(|l| l.trim_start().starts_with(sub));
        let line = line.unwrap_or_else(|| panic!("--help lacks '{sub}':\n{help}"));
        assert!(line.split_whitespace().count() > 3, "'{sub}' has no explanation: {line}");
    }
}

/// The subcommands a help page lists: the first word of each line under a heading that names
/// commands, up to the blank line that ends the section (`help` itself left out).
fn listed_commands(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_section = false;
    for line in help.lines() {
        if line.trim().is_empty() {
            in_section = false;
        } else if !line.starts_with(' ') {
            in_section = line.to_ascii_lowercase().contains("commands");
        } else if in_section && line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.split_whitespace().next().unwrap_or_default();
            if name != "help" {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// `dnlts list` and `dnlts list --profiles` fit 100 columns too (the fashion profile's line
/// once ran to 116).
#[test]
fn the_lists_fit_100_columns() {
    for args in [&["list"][..], &["list", "--profiles"][..]] {
        let out = dnlts(args, Path::new("/"));
        assert!(out.status.success(), "dnlts {}: {}", args.join(" "), text(&out.stderr));
        let listed = text(&out.stdout);
        assert!(listed.lines().count() >= 6, "dnlts {}:\n{listed}", args.join(" "));
        for line in listed.lines() {
            let width = line.chars().count();
            assert!(width <= 100, "dnlts {}: {width} columns:\n{line}", args.join(" "));
        }
    }
}

/// `dnlts --help` and every subcommand's help, short and long, fit 100 columns, and every
/// positional argument is explained.
#[test]
fn every_help_page_fits_100_columns() {
    let mut pages: Vec<Vec<String>> = vec![vec![]];
    let mut checked = 0;
    while let Some(path) = pages.pop() {
        for flag in ["--help", "-h"] {
            let args: Vec<&str> = path.iter().map(String::as_str).chain([flag]).collect();
            let out = dnlts(&args, Path::new("/"));
            let help = text(&out.stdout);
            assert!(out.status.success(), "dnlts {}: {}", args.join(" "), text(&out.stderr));
            for line in help.lines() {
                let width = line.chars().count();
                assert!(width <= 100, "dnlts {}: {width} columns:\n{line}", args.join(" "));
            }
            if flag == "--help" {
                for sub in listed_commands(&help) {
                    pages.push(path.iter().cloned().chain([sub]).collect());
                }
                // A positional argument's entry says what it is, below or beside its name.
                let arguments = help.split_once("Arguments:").map(|(_, rest)| rest);
                let entries = arguments.and_then(|rest| rest.split("\n\n").next());
                for entry in entries.unwrap_or_default().lines().filter(|l| l.starts_with("  <")) {
                    let explained =
                        entry.split_once(">  ").is_some_and(|(_, t)| !t.trim().is_empty());
                    let below = help.contains(&format!("{entry}\n          "));
                    assert!(explained || below, "dnlts {}: {entry} unexplained", args.join(" "));
                }
            }
            checked += 1;
        }
    }
    // The main page, its 16 commands (5 under "Stage commands") and the 5 of data and weights.
    assert!(checked >= 2 * 22, "only {checked} pages were found");
}

#[test]
fn env_runs_from_any_directory_and_reports_versions() {
    let out = dnlts(&["env", "--threads", "1"], Path::new("/"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for expected in ["dnlts", "tch", "libtorch   2.11.0", "threads    1", "master seed 2018"] {
        assert!(report.contains(expected), "env lacks '{expected}':\n{report}");
    }
}

/// OpenMP's wait policy (`dnlts::wait_policy`): passive when the command's threads do not fit
/// on idle cores (more threads than this machine has cores: whatever else runs), the user's
/// policy when one is set, and an inherited decision kept. The process restarts itself with
/// the policy set (libgomp reads it when it loads, before `main`); `env` names it.
#[test]
fn openmp_waits_passively_when_its_threads_do_not_fit_and_the_users_policy_wins() {
    let oversubscribed = (std::thread::available_parallelism().unwrap().get() + 1).to_string();
    // (environment given, OMP_WAIT_POLICY libgomp finds, how `env` names the policy)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 3] = [
        (&[], "PASSIVE", "passive: "),
        (&[("OMP_WAIT_POLICY", "ACTIVE")], "ACTIVE", "OMP_WAIT_POLICY=ACTIVE, set by you"),
        (&[("DNLTS_WAIT_POLICY", "spin (inherited)")], "unset", "spin (inherited)"),
    ];
    for (given, variable, words) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dnlts"));
        command
            .args(["env", "--json", "--threads", &oversubscribed])
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("OMP_WAIT_POLICY")
            .env_remove("DNLTS_WAIT_POLICY")
            .envs(given.iter().copied());
        let out = command.output().expect("the dnlts binary starts");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(value["omp_wait_policy"], variable, "given {given:?}: {value}");
        let said = value["wait_policy"].as_str().unwrap_or_default();
        assert!(said.starts_with(words), "given {given:?}: wait_policy '{said}'");
    }
}

/// The CPU kernels are pinned to AVX2 whatever the user's ATEN_CPU_CAPABILITY says (with a note
/// naming it), unless `--native-kernels`; `env` and provenance say which are in force.
#[test]
fn the_kernel_pin_wins_unless_native_kernels_is_asked_for() {
    #[cfg(target_arch = "x86_64")]
    let can_pin = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let can_pin = false;
    let pinned = if can_pin { "avx2" } else { "unpinnable" };
    let native = if can_pin { "native" } else { "unpinnable" };
    let cases = [
        (None, false, pinned, None),
        (Some("default"), false, pinned, Some("ATEN_CPU_CAPABILITY=default is overridden")),
        (Some("avx2"), false, pinned, None),
        (None, true, native, None),
        (Some("default"), true, native, None),
    ];
    for (given, flag, expected, note) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dnlts"));
        command.args(["env", "--json"]).env_remove("LD_LIBRARY_PATH");
        command.args(flag.then_some("--native-kernels"));
        for (variable, _) in dnlts::kernels::PIN {
            command.env_remove(variable);
        }
        if let Some(value) = given {
            command.env("ATEN_CPU_CAPABILITY", value);
        }
        let out = command.output().expect("the dnlts binary starts");
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(value["kernels"], expected, "ATEN_CPU_CAPABILITY={given:?}, native {flag}");
        match note {
            Some(note) => assert!(stderr.contains(note), "no note '{note}' in: {stderr}"),
            None if can_pin => assert!(!stderr.contains("note:"), "unexpected: {stderr}"),
            None => {}
        }
    }
}

#[test]
fn env_json_is_one_document() {
    let out = dnlts(&["env", "--json", "--threads", "2"], Path::new("/"));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["threads"], 2);
    assert_eq!(value["cudnn_benchmark"], false);
}

#[test]
fn list_shows_every_paper_artefact_once() {
    let out = dnlts(&["list"], Path::new("/"));
    let listing = text(&out.stdout);
    for name in
        ["table1", "table2", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig9", "claims"]
    {
        let count = listing.lines().filter(|l| l.split_whitespace().next() == Some(name)).count();
        assert_eq!(count, 1, "target {name} listed {count} times:\n{listing}");
    }
}

#[test]
fn reproduce_writes_the_profile_and_a_run_summary() {
    let dir = scratch("reproduce");
    let out = dnlts(&["reproduce", "--profile", "tiny", "--out", "res", "--threads", "1"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("res/profile.json")).unwrap()).unwrap();
    assert_eq!(profile["name"], "tiny");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("res/run.json")).unwrap()).unwrap();
    let listed = run["ran"].as_array().unwrap().len();
    let registered = text(&dnlts(&["list"], &dir).stdout).lines().count();
    assert_eq!(listed, registered, "every target is accounted for: {run}");
    assert!(text(&out.stdout).contains("done:"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_options_reach_the_stages_and_are_recorded() {
    let dir = scratch("options");
    let args = ["reproduce", "--profile", "tiny", "--include", "table1", "--out", "o"];
    let options = ["--threads", "1", "--accumulate", "2", "--channels-last", "--no-fold-bn"];
    let out = dnlts(&[&args[..], &options, &["--finetune-part", "both"]].concat(), &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o/options.json")).unwrap()).unwrap();
    assert_eq!(recorded["compute"]["accumulation"], 2);
    assert_eq!(recorded["compute"]["channels_last"], true);
    assert_eq!(recorded["compute"]["fold_batch_norm"], false);
    assert_eq!(recorded["finetune_part"], "both");
    let stage: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o/stages/finetune-lenet5.json")).unwrap())
            .unwrap();
    assert!(stage["log"].as_array().is_some_and(|log| !log.is_empty()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--fast` is recorded in every output, and its stages are not a deterministic run's: a run
/// without it in the same folder trains them again. On the CPU it computes the same bytes.
#[test]
fn a_fast_run_is_recorded_as_such_and_kept_apart_from_deterministic_stages() {
    let dir = scratch("fast");
    let args = ["reproduce", "--profile", "tiny", "--include", "table1", "--out", "o"];
    let json = |file: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("o").join(file)).unwrap()).unwrap()
    };
    let weights = || std::fs::read(dir.join("o/stages/finetune-lenet5.safetensors")).unwrap();
    let fast = dnlts(&[&args[..], &["--threads", "1", "--fast"]].concat(), &dir);
    assert!(fast.status.success(), "{}", text(&fast.stderr));
    assert_eq!(json("options.json")["fast"], true);
    assert_eq!(json("table1.json")["provenance"]["fast"], true);
    let report = std::fs::read_to_string(dir.join("o/report.md")).unwrap();
    assert!(report.contains("--fast (cuDNN autotuning"), "{report}");
    let (fast_key, fast_weights) = (json("stages/finetune-lenet5.json")["key"].clone(), weights());

    let plain = dnlts(&[&args[..], &["--threads", "1"]].concat(), &dir);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    assert_eq!(json("table1.json")["provenance"]["fast"], false);
    assert!(!std::fs::read_to_string(dir.join("o/report.md")).unwrap().contains("--fast"));
    assert_ne!(json("stages/finetune-lenet5.json")["key"], fast_key, "trained again");
    assert!(fast_weights == weights(), "on the CPU --fast changes nothing in the computation");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_gets_an_error_that_names_it() {
    let fashion = ["reproduce", "--profile", "fashion", "--include", "table1", "--data", "/no"];
    let cases: [(&[&str], &str); 7] = [
        (&["reproduce", "--profile", "huge"], "unknown profile 'huge'"),
        (&["reproduce", "--include", "tabel1"], "--include 'tabel1' matches no target"),
        (&["reproduce", "--device", "gpu"], "unknown device 'gpu'"),
        (
            &["reproduce", "--profile", "tiny", "--accumulate", "33"],
            "--accumulate 33 splits a batch of 32",
        ),
        (&["finetune", "--family", "L", "--finetune-part", "wheels"], "unknown part 'wheels'"),
        (&fashion, "/no/train-images-idx3-ubyte: missing"),
        (
            &["reproduce", "--profile", "tiny", "--batch-size", "100000", "--include", "table1"],
            "batch size 100000 is larger than the 512 images of AE pre-training",
        ),
    ];
    for (args, expected) in cases {
        let out = dnlts(args, &scratch("errors"));
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: expected '{expected}' in:\n{stderr}");
    }
}

#[test]
fn an_output_path_that_is_a_file_stops_before_any_training() {
    let dir = scratch("out-file");
    std::fs::write(dir.join("taken"), b"not a folder").unwrap();
    let started = std::time::Instant::now();
    let out = dnlts(&["finetune", "--family", "L", "--profile", "tiny", "--out", "taken"], &dir);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--out: taken exists and is not a folder"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("pretrain"), "nothing trained first");
    assert!(started.elapsed().as_secs() < 20, "it stops before any work");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_cached_stage_of_any_kind_is_retrained_not_trusted() {
    let dir = scratch("damaged-stage");
    let args =
        ["reproduce", "--profile", "tiny", "--include", "table1", "--out", "r", "--threads", "1"];
    assert!(dnlts(&args, &dir).status.success());
    let before = numbers(&dir.join("r"));
    let stages = ["pretrain", "classifier-lenet5", "finetune-lenet5"];
    for stage in stages {
        let weights = dir.join(format!("r/stages/{stage}.safetensors"));
        let mut bytes = std::fs::read(&weights).unwrap();
        let end = bytes.len() - 1;
        bytes[end] ^= 0x55; // one value of the last tensor changes
        std::fs::write(&weights, bytes).unwrap();
    }
    let out = dnlts(&args, &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for stage in stages {
        let warning = format!("{stage}.safetensors does not match the sha256");
        assert!(stderr.contains(&warning), "{stage}: {stderr}");
        assert!(stderr.contains(&format!("retraining stage '{stage}'")), "{stderr}");
    }
    assert_eq!(numbers(&dir.join("r")), before, "retrained to the same numbers");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Fixed stages whose weights were swapped, with the manifest rewritten as its error advises,
/// would give a Table 2 with two rows exchanged: each file is checked against its record.
#[test]
fn swapped_fixed_stage_weights_are_refused_naming_the_file() {
    let dir = scratch("swapped-fixed");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/stages/ci");
    let fixed = dir.join("fixed");
    std::fs::create_dir_all(&fixed).unwrap();
    for entry in std::fs::read_dir(&golden).unwrap().flatten() {
        std::fs::copy(entry.path(), fixed.join(entry.file_name())).unwrap();
    }
    let table2 = |fixed: &str, out: &str| {
        let args = ["reproduce", "--profile", "ci", "--fixed-stages", fixed, "--include", "table2"];
        dnlts(&[&args[..], &["--out", out, "--threads", "1"]].concat(), &dir)
    };
    let untouched = table2(fixed.to_str().unwrap(), "good");
    assert!(untouched.status.success(), "{}", text(&untouched.stderr));
    let (a, b) = (
        fixed.join("finetune-inception_v3.safetensors"),
        fixed.join("finetune-lenet5.safetensors"),
    );
    let swap = fixed.join("swap");
    std::fs::rename(&a, &swap).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&swap, &b).unwrap();
    let fixed = fixed.to_str().unwrap();
    let write = dnlts(&["data", "verify", fixed, "--write"], &dir);
    assert!(write.status.success(), "{}", text(&write.stderr));
    let out = table2(fixed, "r");
    let error = text(&out.stderr);
    assert!(!out.status.success(), "{error}");
    assert!(
        error.contains("finetune-") && error.contains(".safetensors is not the weights its record"),
        "{error}"
    );
    assert!(!dir.join("r/table2.json").exists(), "no table from swapped stages");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn temporaries_left_by_a_killed_run_are_removed_by_the_next() {
    let dir = scratch("stale");
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.join(format!("r/stages/.pretrain.safetensors.dnlts-{dead}.tmp"));
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"half a file").unwrap();
    let out =
        dnlts(&["reproduce", "--profile", "tiny", "--include", "published", "--out", "r"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stale.exists());
    assert!(text(&out.stderr).contains("left by a run that was killed"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn models_lists_paper_and_scaled_networks_with_torchvision_counts() {
    let out = dnlts(&["models", "--json"], Path::new("/"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let count = |name: &str| {
        rows.iter().find(|r| r["name"] == name && r["scale"] == "paper").unwrap()["parameters"]
            .as_i64()
    };
    assert_eq!(count("alexnet"), Some(61_100_840));
    assert_eq!(count("vgg16_bn"), Some(138_365_992));
    assert_eq!(count("resnet50"), Some(25_557_032));
    assert_eq!(count("inception_v3"), Some(27_161_264));
    assert_eq!(count("segnet"), Some(29_480_259));
    assert_eq!(rows.len(), 18, "six models at paper scale and two scaled widths");
    // Work is counted for every row; a training step costs between 2× and 3× its forward pass
    // (3× less the input gradient of the first layer); the published figures are checked in
    // tests/models.rs.
    for row in &rows {
        let (forward, training) =
            (row["forward_gflops"].as_f64().unwrap(), row["training_gflops"].as_f64().unwrap());
        assert!(forward > 0.0, "{row}");
        assert!(training > 2.0 * forward && training <= 3.0 * forward, "{row}");
    }
}

#[test]
fn weights_inspect_lists_tensors_and_rejects_a_missing_file() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/tiny_scripted.pt");
    let missing = dnlts(&["weights", "inspect", "/nonexistent.safetensors"], Path::new("/"));
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("cannot read /nonexistent.safetensors: it does not exist")
    );
    let not_safetensors = dnlts(&["weights", "inspect", fixture], Path::new("/"));
    assert!(!not_safetensors.status.success());
    assert!(text(&not_safetensors.stderr).contains("is not a usable weight file"));
}

#[test]
fn a_users_torchscript_classifier_can_be_checked() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/tiny_scripted.pt");
    let spec = format!("mine={fixture},size=16");
    let out = dnlts(&["models", "--classifier", &spec], Path::new("/"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("gives 10 classes"));
}

/// Every file under `dir` with its bytes, except those that record wall time or paths.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Stage weights and the numbers of every target: what must not depend on how a run went.
fn numbers(dir: &Path) -> Vec<(String, String)> {
    let mut numbers: Vec<(String, String)> = outputs(dir)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".safetensors") && name.starts_with("stages/"))
        .map(|(name, bytes)| {
            (
                name,
                format!("{:x}", bytes.len())
                    + &String::from_utf8_lossy(&bytes[..64.min(bytes.len())]),
            )
        })
        .collect();
    for (name, bytes) in outputs(dir) {
        if name.ends_with(".json")
            && !name.contains('/')
            && name != "run.json"
            && name != "profile.json"
        {
            let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            numbers.push((name, record["result"].to_string()));
        }
    }
    numbers
}

fn weights(dir: &Path) -> Vec<(String, Vec<u8>)> {
    outputs(dir)
        .into_iter()
        .filter(|(name, _)| name.starts_with("stages/") && name.ends_with(".safetensors"))
        .collect()
}

#[test]
fn the_whole_pipeline_is_deterministic() {
    let dir = scratch("e2e");
    for run in ["a", "b"] {
        let out = dnlts(&["reproduce", "--profile", "tiny", "--out", run, "--threads", "1"], &dir);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("done: 11 target(s) ran"), "{}", text(&out.stdout));
    }
    let (a, b) = (numbers(&dir.join("a")), numbers(&dir.join("b")));
    assert!(
        a.len() > 15,
        "stages and targets were written: {:?}",
        a.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    assert_eq!(a, b, "same seed, same machine: same numbers");
    assert_eq!(weights(&dir.join("a")), weights(&dir.join("b")), "same weights, byte for byte");
    let report = std::fs::read_to_string(dir.join("a/report.md")).unwrap();
    assert!(report.contains("## Table 1") && report.contains("figures/fig6_rrc.svg"), "{report}");
    assert!(report.contains("figures/fig3_reconstructions.png"), "picture grids are embedded");
    let position = |needle: &str| report.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
    assert!(position("## Table 1") < position("## Table 2"), "the paper's order");
    assert!(position("## Table 2") < position("## Claims check"), "claims close the report");
    // A different master seed gives different numbers.
    let out = dnlts(
        &[
            "reproduce",
            "--profile",
            "tiny",
            "--out",
            "c",
            "--threads",
            "1",
            "--seed",
            "7",
            "--include",
            "table1",
        ],
        &dir,
    );
    assert!(out.status.success());
    let table1 = |run: &str| {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(run).join("table1.json")).unwrap())
                .unwrap();
        record["result"]["rows"].to_string()
    };
    assert_ne!(table1("a"), table1("c"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn killed_runs_resume_to_the_same_weights() {
    let dir = scratch("kill");
    let args = |out: &'static str| {
        [
            "reproduce",
            "--profile",
            "tiny",
            "--include",
            "table1",
            "--out",
            out,
            "--threads",
            "1",
            "--resume",
        ]
    };
    let reference = dnlts(&args("reference"), &dir);
    assert!(reference.status.success(), "{}", text(&reference.stderr));
    // kill -9 at pseudo-random moments (fixed here so the test is repeatable), then resume
    // until a run completes.
    let mut delays = [700u64, 1900, 1100, 2600, 400].into_iter().cycle();
    let mut kills = 0;
    loop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dnlts"))
            .args(args("killed"))
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delays.next().unwrap()));
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success());
                break;
            }
            None if kills < 6 => {
                child.kill().unwrap(); // SIGKILL: no chance to checkpoint
                child.wait().unwrap();
                kills += 1;
            }
            None => {
                assert!(child.wait().unwrap().success());
                break;
            }
        }
    }
    assert!(kills >= 2, "the run was interrupted at least twice ({kills})");
    assert_eq!(
        weights(&dir.join("reference")),
        weights(&dir.join("killed")),
        "after {kills} kills"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_paper_profile_without_inputs_runs_published_and_stops_at_the_preflight_for_the_rest() {
    let dir = scratch("paper");
    let ok =
        dnlts(&["reproduce", "--profile", "paper", "--include", "published", "--out", "p"], &dir);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let needs_data =
        dnlts(&["reproduce", "--profile", "paper", "--include", "table1", "--out", "p"], &dir);
    // A target that reads data runs the preflight first: every missing input, then a stop.
    assert!(!needs_data.status.success());
    let (stdout, stderr) = (text(&needs_data.stdout), text(&needs_data.stderr));
    assert!(stderr.contains("preflight of profile 'paper'"), "{stderr}");
    for option in ["--imagenet DIR", "--yfcc DIR", "--weights DIR"] {
        assert!(stdout.contains(option), "{option} in the checklist:\n{stdout}");
    }
    assert!(!dir.join("p/stages").exists(), "nothing trained");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's picture of the synthetic world is what `dnlts data preview` draws today;
/// `make golden` redraws it after an intended change to the generator.
#[test]
fn the_readme_pictures_of_the_synthetic_world_are_current() {
    let dir = scratch("docs-grid");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    for ablation in ["full", "no-texture"] {
        let name = format!("synthetic-{ablation}.png");
        let args = ["data", "preview", "--profile", "small", "--n", "40", "--ablation", ablation];
        let out = dnlts(&[&args[..], &["--out", &name]].concat(), &dir);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let drawn = std::fs::read(dir.join(&name)).unwrap();
        if std::env::var("INSTA_UPDATE").as_deref() == Ok("always") {
            std::fs::write(docs.join(&name), &drawn).unwrap();
        }
        let committed = std::fs::read(docs.join(&name)).unwrap_or_default();
        assert!(committed == drawn, "docs/{name} is stale: run `make golden` and review it");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two runs with different seeds into one `--out` once replaced each other's stages (one
/// failed with "pre-training record missing"): while a run holds the folder, a run of other
/// settings is refused, naming the holder's pid and the fix; a run of the same settings shares
/// the folder; once the holder ends, the folder is free again and no lock file is left.
#[test]
fn a_run_with_other_settings_is_refused_while_another_holds_the_output_folder() {
    let dir = scratch("out-lock");
    let base = ["reproduce", "--profile", "tiny", "--out", "r", "--threads", "1"];
    let mut first = Command::new(env!("CARGO_BIN_EXE_dnlts"))
        .args(base)
        .args(["--seed", "1", "--include", "table1"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.join("r/.dnlts.lock");
    let started = std::time::Instant::now();
    while !lock.exists() {
        assert!(first.try_wait().unwrap().is_none(), "the first run ended before it was seen");
        assert!(started.elapsed().as_secs() < 60, "the first run never locked r/");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let published = |seed: &str| {
        dnlts(&[&base[..], &["--seed", seed, "--include", "published"]].concat(), &dir)
    };
    let other = published("2");
    let stderr = text(&other.stderr);
    assert!(!other.status.success(), "seed 2 ran beside seed 1: {stderr}");
    let holder = format!("dnlts process {}", first.id());
    for expected in [holder.as_str(), "seed 1", "wait", "another --out"] {
        assert!(stderr.contains(expected), "{expected:?} in: {stderr}");
    }
    let same = published("1");
    assert!(same.status.success(), "the same settings share r/: {}", text(&same.stderr));
    assert!(first.try_wait().unwrap().is_none(), "the first run was still running throughout");
    assert!(first.wait().unwrap().success());
    assert!(!lock.exists(), "the last run removed the lock file");
    let after = published("2");
    assert!(after.status.success(), "r/ is free again: {}", text(&after.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Tensor names are the file's own text: `weights inspect` prints them escaped, so that a
/// newline cannot forge a line and a right-to-left override cannot reorder one.
#[test]
fn weights_inspect_escapes_control_and_bidi_characters_in_names() {
    let dir = scratch("inspect-names");
    let file = dir.join("hostile.safetensors");
    let tensor = tch::Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu));
    let names = ["fc.weight\n10 tensors, 0 values, sha256 0", "\u{202e}thgiew.cf", "a\u{1b}[2Jb"];
    let pairs: Vec<(&str, &tch::Tensor)> = names.iter().map(|n| (*n, &tensor)).collect();
    dnlts::models::weights::write_tensors(&pairs, &file).unwrap();
    let out = dnlts(&["weights", "inspect", file.to_str().unwrap()], &dir);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(stdout.lines().count(), 4, "three tensors and the summary:\n{stdout}");
    assert!(!stdout.contains(['\u{202e}', '\u{1b}']), "{stdout:?}");
    for shown in [r"fc.weight\n10 tensors", r"\u{202e}thgiew.cf", r"a\u{1b}[2Jb"] {
        assert!(stdout.contains(shown), "{shown} in:\n{stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
