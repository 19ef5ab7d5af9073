//! The goldens of what the pipeline computes, in the two layers that need the `dnlts` binary
//! (the pure layer — metrics, the analysis of the paper's Table 2, the synthetic data, seeds —
//! is in `analysis_golden.rs`, `data_synthetic.rs` and `seed.rs`):
//!
//! - **evaluation**: every target run on the fixed, checked-in stages of the `ci` profile
//!   (`golden/stages/ci`, trusted through its sha256 manifest): nothing trains, so numbers
//!   move only when a metric, an evaluation or a rendering changes;
//! - **training**: the `ci` profile trained from scratch with its fixed seeds: the first
//!   losses of every stage (tight) and the final numbers (loose).
//!
//! Each golden file holds every number with its tolerance and the reason for it; the measured
//! spreads behind the tolerances are in `golden/README.md`. `make golden` re-blesses
//! (`DNLTS_BLESS=1`) and prints what moved; CI only checks.

#[path = "golden_check/mod.rs"]
mod golden_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use golden_check::{compare, flatten, Entry, GoldenFile, Mismatch, Tolerance};
use serde_json::Value;

/// Images of the `ci` profile's evaluation (its `eval_images`).
const CI_IMAGES: f64 = 400.0;

/// nMI of the reconstructions of fixed AEs: the worst difference between evaluations of the
/// fixed stages with 1 or 2 threads, ATen kernels avx2 or unvectorised, oneDNN limited to AVX2
/// or SSE4.1 was 1.64e-6 (golden/README.md); ten times that, rounded up.
const NMI_TOLERANCE: f64 = 2e-5;
/// Figure 3's L*a*b* histograms count pixels of one 8-bit reconstruction: a sub-pixel that
/// rounds the other way moves one pixel to a neighbouring bin (measured: no change at all).
const LAB_TOLERANCE_PIXELS: f64 = 1.0;

/// Training layer: the largest relative difference of each stage's first losses (step 0,
/// steps 1–7) between the ci run with 2 threads and the same run with 1 thread, ATen kernels
/// unvectorised, oneDNN limited to AVX2 or SSE4.1 (`scripts/golden-spread.py training`,
/// golden/README.md). Fine-tuning starts from trained networks, so it inherits their spread.
const FIRST_LOSS_SPREAD: [(&str, f64, f64); 11] = [
    ("classifier-alexnet", 0.0, 1.04e-7),
    ("classifier-inception_v3", 9.01e-7, 4.31e-2),
    ("classifier-lenet5", 0.0, 0.0),
    ("classifier-resnet50", 1.02e-7, 1.10e-4),
    ("classifier-vgg16_bn", 1.04e-7, 3.10e-7),
    ("finetune-alexnet", 1.84e-6, 6.46e-6),
    ("finetune-inception_v3", 2.43e-1, 2.30e-2),
    ("finetune-lenet5", 1.75e-4, 2.68e-4),
    ("finetune-resnet50", 6.59e-3, 1.20e-2),
    ("finetune-vgg16_bn", 2.74e-5, 2.25e-5),
    ("pretrain", 7.04e-7, 6.41e-5),
];
/// First losses are compared to ten times their measured spread (at least 1e-5 relative);
/// where that exceeds 10 % the loss has already diverged and is not compared at all.
const FIRST_LOSS_MARGIN: f64 = 10.0;
const FIRST_LOSS_FLOOR: f64 = 1e-5;
const FIRST_LOSS_CHAOTIC: f64 = 0.1;

/// Training layer, final numbers of the ci run: twice the largest difference measured across
/// the same variants (table 1: 10.5 points, Table 2: 0.05, nMI: 0.067, pre-training MSE:
/// 7.2e-4).
const FINAL_ACCURACY_POINTS: f64 = 21.0;
const FINAL_CROSS_ACCURACY: f64 = 0.10;
const FINAL_NMI: f64 = 0.135;
const FINAL_MSE: f64 = 1.5e-3;

fn root() -> PathBuf {
    match std::env::var_os("DNLTS_ROOT") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("has a parent").into(),
    }
}

/// The binary under test: this build's, or DNLTS_BIN (a CUDA build on a GPU machine).
fn dnlts_binary() -> PathBuf {
    std::env::var_os("DNLTS_BIN").map_or(PathBuf::from(env!("CARGO_BIN_EXE_dnlts")), PathBuf::from)
}

fn blessing() -> bool {
    let bless = std::env::var_os("DNLTS_BLESS").is_some_and(|v| v == "1");
    assert!(
        !bless || golden_device() == "cpu",
        "goldens are made on the CPU, not on {}",
        golden_device()
    );
    bless
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-golden-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The device DNLTS_GOLDEN_DEVICE names (default: the CPU, where the goldens were made).
fn golden_device() -> String {
    std::env::var("DNLTS_GOLDEN_DEVICE").unwrap_or_else(|_| "cpu".into())
}

/// On another device than the goldens' CPU only predictions are compared (up to ties):
/// reconstructions differ in their last bits there (cuDNN kernels, TF32), so nMI, histograms
/// and the discrete structures thresholded from RRC are not comparable.
fn compared_on_this_device(target: &str, metric: &str) -> bool {
    golden_device() == "cpu"
        || matches!(target, "table1" | "table2" | "fig4")
        || (target == "fig6" && metric.ends_with("/accuracy"))
}

/// Runs `dnlts reproduce --profile ci` with `extra` arguments into `out`, on the golden device.
fn reproduce_ci(out: &Path, extra: &[&str]) {
    let device = golden_device();
    let status = Command::new(dnlts_binary())
        .args(["reproduce", "--profile", "ci", "--device", &device, "--out"])
        .arg(out)
        .args(extra)
        .env_remove("LD_LIBRARY_PATH")
        .status()
        .expect("the dnlts binary starts");
    assert!(status.success(), "dnlts reproduce --profile ci {extra:?} failed");
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `result` of every target JSON in `out` (run.json lists them).
fn target_results(out: &Path) -> BTreeMap<String, Value> {
    let run = read_json(&out.join("run.json"));
    run["ran"]
        .as_array()
        .expect("run.json lists the targets")
        .iter()
        .map(|name| {
            let name = name.as_str().expect("a target name");
            (name.to_string(), read_json(&out.join(format!("{name}.json")))["result"].clone())
        })
        .collect()
}

/// The tolerance of one number of the evaluation layer, and why. Accuracies may move by one
/// image (a prediction at a tie); what is computed from accuracies moves with them; the rest
/// is discrete or read from a file and must not move at all.
fn evaluation_tolerance(target: &str, metric: &str, value: &Value) -> Option<Tolerance> {
    let rendered = ["/ours", "/paper", "/computed"];
    if target == "claims" && rendered.iter().any(|suffix| metric.ends_with(suffix)) {
        // Sentences quoting numbers compared elsewhere (Tables 1–2, Figures 4 and 9) under
        // their own tolerances; the verdicts themselves are compared exactly.
        return None;
    }
    Some(number_tolerance(target, metric, value))
}

fn number_tolerance(target: &str, metric: &str, value: &Value) -> Tolerance {
    let one_image = "1 image of 400: a prediction may flip at a tie; measured spread 0 images";
    let last = metric.rsplit('/').next().unwrap_or(metric);
    let number = value.as_f64().is_some();
    match (target, last) {
        _ if !number => Tolerance::exact("not a number: exact"),
        _ if metric.starts_with("paper/") => Tolerance::exact("the paper's numbers (fixture): exact"),
        ("table1", "top1" | "top5") => Tolerance::absolute(100.0 / CI_IMAGES, one_image),
        ("table1", "diff1" | "diff5") => {
            Tolerance::absolute(200.0 / CI_IMAGES, "2 images of 400: both terms may flip at a tie")
        }
        ("table1", "low" | "high") if metric.contains("/diff") => Tolerance::absolute(
            200.0 / CI_IMAGES,
            "a bootstrap quantile of differences: 2 images of 400 as the difference itself",
        ),
        ("table1", "low" | "high") => Tolerance::absolute(
            100.0 / CI_IMAGES,
            "a bootstrap quantile of accuracies: 1 image of 400 as the accuracy itself",
        ),
        ("table2" | "fig4", _) if !metric.ends_with("/s") => {
            Tolerance::absolute(1.0 / CI_IMAGES, one_image)
        }
        ("fig6", "accuracy") => Tolerance::absolute(1.0 / CI_IMAGES, one_image),
        ("fig6", _) | ("fig7", "above" | "up_to" | "lower" | "upper" | "width") => {
            Tolerance::relative(
                4.0 / (CI_IMAGES * 0.1),
                "RRC of accuracies ≥ 0.1 that may each move by 1 image: ≤ 4 images / (400 × 0.1) relative",
            )
        }
        ("fig9", "mean" | "std") => Tolerance::absolute(
            NMI_TOLERANCE,
            "nMI of 8-bit reconstructions: measured spread 1.6e-6 ×10, rounded up",
        ),
        // A quantile of resampled means of those nMI values moves as they do.
        ("fig9", "low" | "high") => Tolerance::absolute(
            NMI_TOLERANCE,
            "a bootstrap quantile of nMI means: as the nMI values, 1.6e-6 ×10, rounded up",
        ),
        ("fig3", _) if metric.contains("/counts/") => Tolerance::absolute(
            LAB_TOLERANCE_PIXELS,
            "pixels in an L*a*b* bin: 1 pixel may round into the next bin; measured spread 0",
        ),
        _ => Tolerance::exact("discrete, counted or read from a fixed file: exact"),
    }
}

/// How the training layer compares a from-scratch `ci` run with its goldens.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Comparison {
    /// The run computed as the goldens' did: CPU kernels pinned to AVX2, the profile's 2
    /// threads, the CPU. Then it is the same computation, and every number must be equal
    /// (measured: an AVX-512 machine pinned reproduces the AVX2 machine's goldens bit for bit,
    /// golden/README.md).
    Exact,
    /// The kernels could not be pinned (a CPU without AVX2, `--native-kernels`) or another
    /// device: the spreads measured across threads and CPU kernels, as a fallback.
    Loose,
}

const EXACT_REASON: &str =
    "pinned AVX2 kernels and the profile's 2 threads: the same computation on every x86-64 CPU with AVX2, exact";

/// The comparison a run in `out` allows, from its provenance.
fn comparison(out: &Path) -> Comparison {
    let run = read_json(&out.join("run.json"));
    let first = run["ran"][0].as_str().expect("run.json lists a target");
    let provenance = read_json(&out.join(format!("{first}.json")))["provenance"].clone();
    let pinned = provenance["kernels"] == "avx2"
        && provenance["threads"] == 2
        && provenance["device"] == "cpu"
        && golden_device() == "cpu";
    if pinned {
        Comparison::Exact
    } else {
        Comparison::Loose
    }
}

/// What the training layer compares of a from-scratch `ci` run: its final numbers.
fn is_final_number(target: &str, metric: &str) -> bool {
    let last = metric.rsplit('/').next().unwrap_or(metric);
    match (target, last) {
        ("table1", "top1" | "top5") => metric.starts_with("rows/"),
        ("table2", _) => metric.starts_with("accuracy/"),
        ("fig9", "mean") => true,
        _ => false,
    }
}

/// The fallback tolerance of a final number: twice the spread measured across threads and
/// CPU kernels.
fn loose_final_tolerance(target: &str) -> Tolerance {
    let amount = match target {
        "table1" => FINAL_ACCURACY_POINTS,
        "table2" => FINAL_CROSS_ACCURACY,
        "fig9" => FINAL_NMI,
        _ => FINAL_MSE,
    };
    Tolerance::absolute(
        amount,
        "trained from scratch: measured spread across threads and CPU kernels ×2",
    )
}

/// The fallback tolerance of any training-layer metric (None: not compared loosely).
fn loose_tolerance(metric: &str) -> Option<Tolerance> {
    let (target, rest) = metric.split_once('/')?;
    if let Some(step) = rest.strip_prefix("step").and_then(|step| step.parse().ok()) {
        return first_loss_tolerance(target, step);
    }
    Some(loose_final_tolerance(target))
}

fn golden_path(layer: &str, target: &str) -> PathBuf {
    root().join("golden").join(layer).join(format!("{target}.json"))
}

/// Checks (or, when blessing, rewrites) the golden file of `target`; returns the mismatches.
fn check_or_bless(golden: &GoldenFile, moved: &mut Vec<String>) -> Vec<Mismatch> {
    let path = golden_path(&golden.layer, &golden.target);
    let mut old = GoldenFile::load(&path);
    if let Some(old) = old.as_mut() {
        old.entries.retain(|e| compared_on_this_device(&golden.target, &e.metric));
    }
    if blessing() {
        if let Some(old) = &old {
            moved.extend(compare(old, &golden.entries).iter().map(Mismatch::as_change));
            moved.extend(golden_check::tolerance_changes(old, &golden.entries));
        } else {
            moved.push(format!("{}: new golden file", golden.target));
        }
        golden.save(&path);
        return Vec::new();
    }
    match old {
        Some(old) => compare(&old, &golden.entries),
        None => vec![Mismatch::missing_file(&path)],
    }
}

fn report(layer: &str, mismatches: Vec<Mismatch>, moved: Vec<String>) {
    if blessing() {
        eprintln!("golden/{layer}: {} change(s)", moved.len());
        for line in &moved {
            eprintln!("  {line}");
        }
        return;
    }
    let lines: Vec<String> = mismatches.iter().map(Mismatch::to_string).collect();
    assert!(
        lines.is_empty(),
        "{} number(s) of golden/{layer} moved:\n{}\nIf the change is intended, run `make golden` \
         and commit the diff it prints.",
        lines.len(),
        lines.join("\n")
    );
}

/// The evaluation layer of the fixed `ci` stages, as a list of golden files (one per target).
fn evaluation_goldens(out: &Path) -> Vec<GoldenFile> {
    let made_by = "dnlts reproduce --profile ci --fixed-stages golden/stages/ci --threads 2";
    target_results(out)
        .into_iter()
        .map(|(target, result)| {
            let entries = flatten(&result)
                .into_iter()
                .filter(|(metric, _)| compared_on_this_device(&target, metric))
                .filter_map(|(metric, value)| {
                    let tolerance = evaluation_tolerance(&target, &metric, &value)?;
                    Some(Entry { metric, value, tolerance })
                })
                .collect();
            GoldenFile::new("evaluation", &target, made_by, entries)
        })
        .collect()
}

/// Golden files of targets that no longer run would otherwise pass unnoticed: an error, or
/// removed (and listed) when blessing.
fn retire_orphans(goldens: &[GoldenFile], moved: &mut Vec<String>) {
    let dir = root().join("golden/evaluation");
    let mut orphans: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy();
            !goldens.iter().any(|golden| golden.target == stem)
        })
        .collect();
    orphans.sort();
    if blessing() {
        for path in orphans {
            std::fs::remove_file(&path).unwrap();
            moved.push(format!("{}: removed, no target makes it any more", path.display()));
        }
        return;
    }
    assert!(
        orphans.is_empty(),
        "golden files without a target that makes them: {orphans:?}; a target was renamed or \
         removed: run `make golden` (it removes them) and commit the diff"
    );
}

/// Every target on the fixed stages, checked against golden/evaluation; then the same
/// numbers, deliberately computed wrong, must fail the check with readable lines.
#[test]
fn evaluation_layer_matches_golden() {
    let out = scratch("evaluation");
    let stages = root().join("golden/stages/ci");
    reproduce_ci(&out, &["--fixed-stages", stages.to_str().unwrap()]);
    assert!(!out.join("stages").exists(), "fixed stages never train or cache anything");
    let goldens = evaluation_goldens(&out);
    let (mut mismatches, mut moved) = (Vec::new(), Vec::new());
    for golden in &goldens {
        mismatches.extend(check_or_bless(golden, &mut moved));
    }
    retire_orphans(&goldens, &mut moved);
    report("evaluation", mismatches, moved);
    if !blessing() && golden_device() == "cpu" {
        a_wrong_metric_fails_with_one_line_per_number(goldens);
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// The first losses of every stage of a from-scratch run in `out`.
fn first_losses(out: &Path) -> GoldenFile {
    let mut entries = Vec::new();
    let mut records: Vec<PathBuf> = std::fs::read_dir(out.join("stages"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    records.sort();
    for path in records {
        let stage = path.file_stem().unwrap().to_string_lossy().into_owned();
        let losses = read_json(&path)["first_losses"].clone();
        let losses = losses.as_array().cloned().unwrap_or_default();
        assert!(!losses.is_empty(), "{} records no first losses", path.display());
        for (step, loss) in losses.into_iter().enumerate() {
            let metric = format!("{stage}/step{step}");
            entries.push(Entry { metric, value: loss, tolerance: Tolerance::exact(EXACT_REASON) });
        }
    }
    let made_by = "dnlts reproduce --profile ci (stages/*.json first_losses)";
    GoldenFile::new("training", "first_losses", made_by, entries)
}

/// The fallback tolerance of first loss `step` of `stage`; None where it has already
/// diverged across CPUs.
fn first_loss_tolerance(stage: &str, step: usize) -> Option<Tolerance> {
    let (_, first, later) =
        FIRST_LOSS_SPREAD.iter().find(|(name, ..)| *name == stage).unwrap_or_else(|| {
            panic!("no measured spread for stage {stage}: add it to FIRST_LOSS_SPREAD")
        });
    let measured = if step == 0 { *first } else { *later };
    let amount = (FIRST_LOSS_MARGIN * measured).max(FIRST_LOSS_FLOOR);
    let reason =
        format!("first losses from fixed seeds: measured relative spread {measured:.2e} ×10");
    (amount <= FIRST_LOSS_CHAOTIC).then(|| Tolerance::relative(amount, &reason))
}

/// The held-out MSE of pre-training's last check, from a stage record's log.
const LAST_HELDOUT: &str = "fig2/last check/heldout_loss";

/// The final numbers of a from-scratch `ci` run in `out`.
fn final_numbers(out: &Path) -> GoldenFile {
    let mut entries = Vec::new();
    for (target, result) in target_results(out) {
        for (metric, value) in flatten(&result) {
            if is_final_number(&target, &metric) {
                let metric = format!("{target}/{metric}");
                entries.push(Entry { metric, value, tolerance: Tolerance::exact(EXACT_REASON) });
            }
        }
    }
    entries.extend(last_heldout(&out.join("stages/pretrain.json")));
    let made_by = "dnlts reproduce --profile ci";
    GoldenFile::new("training", "ci_final", made_by, entries)
}

fn last_heldout(record: &Path) -> Option<Entry> {
    let log = read_json(record)["log"].clone();
    let last = log.as_array()?.last()?.clone();
    let tolerance = Tolerance::exact(EXACT_REASON);
    Some(Entry { metric: LAST_HELDOUT.into(), value: last["heldout_loss"].clone(), tolerance })
}

/// The fingerprint of the run in `out` (run.json): the whole run's and each target's.
fn fingerprint(out: &Path) -> GoldenFile {
    let fingerprint = read_json(&out.join("run.json"))["fingerprint"].clone();
    let exact = || Tolerance::exact(EXACT_REASON);
    let mut entries =
        vec![Entry { metric: "run".into(), value: fingerprint["run"].clone(), tolerance: exact() }];
    for (target, digest) in fingerprint["targets"].as_object().expect("run.json has a fingerprint")
    {
        entries.push(Entry {
            metric: format!("targets/{target}"),
            value: digest.clone(),
            tolerance: exact(),
        });
    }
    GoldenFile::new("training", "fingerprint", "dnlts reproduce --profile ci (run.json)", entries)
}

/// The stored golden file of the training layer's `target`, as `comparison` compares it: with
/// its exact tolerances, or with the fallback ones (and without what they leave out).
fn stored_training(target: &str, comparison: Comparison) -> GoldenFile {
    let path = golden_path("training", target);
    let mut golden = GoldenFile::load(&path).unwrap_or_else(|| panic!("no {}", path.display()));
    if comparison == Comparison::Loose && target == "fingerprint" {
        eprintln!("training layer: the fingerprint is compared only under pinned kernels");
        golden.entries.clear();
    } else if comparison == Comparison::Loose {
        golden.entries = golden
            .entries
            .into_iter()
            .filter_map(|e| Some(Entry { tolerance: loose_tolerance(&e.metric)?, ..e }))
            .collect();
    }
    golden
}

#[test]
fn training_layer_matches_golden() {
    let out = scratch("training");
    // Every target, as the default command runs them: the fingerprint is the whole run's.
    reproduce_ci(&out, &[]);
    let comparison = comparison(&out);
    eprintln!("training layer: {comparison:?} comparison");
    assert!(
        !blessing() || comparison == Comparison::Exact,
        "the training goldens are made with pinned kernels and 2 threads on the CPU"
    );
    let (mut mismatches, mut moved) = (Vec::new(), Vec::new());
    for golden in [first_losses(&out), final_numbers(&out), fingerprint(&out)] {
        if blessing() {
            check_or_bless(&golden, &mut moved);
        } else {
            let stored = stored_training(&golden.target, comparison);
            mismatches.extend(compare(&stored, &golden.entries));
        }
    }
    if blessing() && std::env::var_os("DNLTS_BLESS_STAGES").is_some_and(|v| v == "1") {
        replace_fixed_stages(&out.join("stages"));
        moved.push("golden/stages/ci: replaced by this run's stages".into());
    }
    report("training", mismatches, moved);
    std::fs::remove_dir_all(&out).unwrap();
}

/// Changes a contributor could make without noticing, each in one stage, run for real as that
/// stage's command (`dnlts::perturb`): the exact comparison must catch every one. The loose
/// fallback is shown for contrast.
#[test]
fn the_exact_training_layer_catches_small_changes() {
    let cases: [(&str, &[&str]); 3] = [
        ("one-step-fewer:pretrain", &["pretrain"]),
        ("lr-times-1.01:train-L", &["train-classifier", "--family", "L"]),
        ("other-seed:train-A", &["train-classifier", "--family", "A"]),
    ];
    let pinned = dnlts_pins_kernels_here();
    for (perturbation, command) in cases {
        let out = scratch(&format!("perturbed-{}", perturbation.replace(':', "-")));
        let status = Command::new(dnlts_binary())
            .args(command)
            .args(["--profile", "ci", "--device", &golden_device(), "--out"])
            .arg(&out)
            .env("DNLTS_PERTURB", perturbation)
            .env_remove("LD_LIBRARY_PATH")
            .status()
            .expect("the dnlts binary starts");
        assert!(status.success(), "{command:?} with DNLTS_PERTURB={perturbation} failed");
        let mut actual = first_losses(&out).entries;
        if command == ["pretrain"] {
            actual.extend(last_heldout(&out.join("stages/pretrain.json")));
        }
        let moved = |comparison| {
            let stored = stored_for(&actual, comparison);
            assert!(!stored.entries.is_empty(), "{perturbation}: no golden numbers of its stage");
            compare(&stored, &actual)
        };
        let (exact, loose) = (moved(Comparison::Exact), moved(Comparison::Loose));
        eprintln!(
            "{perturbation}: {} number(s) moved beyond the exact layer (e.g. {}); {} beyond the loose fallback",
            exact.len(),
            exact.first().map_or("none".into(), Mismatch::to_string),
            loose.len()
        );
        if pinned {
            assert!(
                !exact.is_empty(),
                "DNLTS_PERTURB={perturbation}: the exact layer did not notice"
            );
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// The stored training goldens of the numbers `actual` holds (a single stage's).
fn stored_for(actual: &[Entry], comparison: Comparison) -> GoldenFile {
    let mut stored = stored_training("first_losses", comparison);
    stored.entries.extend(stored_training("ci_final", comparison).entries);
    stored.entries.retain(|e| actual.iter().any(|a| a.metric == e.metric));
    stored
}

/// Whether this machine runs the pinned kernels by default (`dnlts env --json`).
fn dnlts_pins_kernels_here() -> bool {
    let output = Command::new(dnlts_binary())
        .args(["env", "--json"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("the dnlts binary starts");
    let env: Value = serde_json::from_slice(&output.stdout).expect("dnlts env --json prints JSON");
    env["kernels"] == "avx2" && golden_device() == "cpu"
}

/// `make golden STAGES=1`: the fixed stages of the evaluation layer become this run's.
fn replace_fixed_stages(stages: &Path) {
    let fixed = root().join("golden/stages/ci");
    let _ = std::fs::remove_dir_all(&fixed);
    std::fs::create_dir_all(&fixed).unwrap();
    for entry in std::fs::read_dir(stages).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, fixed.join(path.file_name().unwrap())).unwrap();
        }
    }
    let status = Command::new(dnlts_binary())
        .args(["data", "verify", "--write"])
        .arg(&fixed)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A wrong metric must not pass: each perturbation is a plausible mistake applied to the real
/// evaluation of the fixed stages, and the check must name what moved.
fn a_wrong_metric_fails_with_one_line_per_number(goldens: Vec<GoldenFile>) {
    let goldens: BTreeMap<String, GoldenFile> =
        goldens.into_iter().map(|g| (g.target.clone(), g)).collect();
    let stored = |target: &str| GoldenFile::load(&golden_path("evaluation", target)).unwrap();
    for (target, wrong, named) in golden_check::perturbations(&goldens) {
        let mismatches = compare(&stored(&target), &wrong);
        assert!(!mismatches.is_empty(), "{target} {named}: the golden check did not notice");
        let text: Vec<String> = mismatches.iter().map(Mismatch::to_string).collect();
        for line in &text {
            for part in [target.as_str(), "expected", "got", "tolerance", "make golden"] {
                assert!(line.contains(part), "{named}: '{line}' does not name '{part}'");
            }
        }
        assert!(
            text.iter().all(|line| line.contains(&named)),
            "{target}: a line does not name {named}:\n{}",
            text.join("\n")
        );
        eprintln!("{target}, wrong {named}: {} line(s), e.g. {}", text.len(), text[0]);
    }
}
