//! Your own classifier in the analysis (issue #16): `reproduce --classifier` adds it beside
//! L, A, V, I, R everywhere, its stage is keyed by the file's sha256, bad models are refused
//! before anything trains, and `data export` writes exactly the pixels the pipeline reads.

mod cli_common;

use std::path::{Path, PathBuf};

use cli_common::{dnlts, text};

use serde_json::Value;
use tch::{Device, Kind, Tensor};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/tiny_scripted.pt");
/// Its forward returns a tuple (fixtures/models/make_tuple_model.py).
const TUPLE_FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/tuple_output.pt");

fn scratch(name: &str) -> PathBuf {
    cli_common::scratch_dir("yours", name)
}

fn json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn result(out: &Path, target: &str) -> Value {
    json(&out.join(format!("{target}.json")))["result"].clone()
}

/// `reproduce --profile tiny` with `extra` arguments into `dir/r`; fails the test on an error.
fn reproduce_tiny(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["reproduce", "--profile", "tiny", "--out", "r", "--threads", "1"];
    args.extend_from_slice(extra);
    let out = dnlts(&args, dir);
    assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
    text(&out.stderr)
}

/// A TorchScript model made by tracing `forward` on a 2×3×`size`×`size` batch (what a user's
/// `torch.jit.trace` export is), saved to `path`.
fn traced(path: &Path, size: i64, forward: impl Fn(&Tensor) -> Tensor) {
    let example = Tensor::zeros([2, 3, size, size], (Kind::Float, Device::Cpu));
    let mut closure = |inputs: &[Tensor]| vec![forward(&inputs[0])];
    let module =
        tch::CModule::create_by_tracing("Mine", "forward", &[example], &mut closure).unwrap();
    module.save(path).unwrap();
}

/// A linear classifier on the channel means: 3 → `classes`, with weights from `seed`.
fn channel_means(path: &Path, classes: i64, seed: i64) {
    tch::manual_seed(seed);
    let weight = Tensor::randn([3, classes], (Kind::Float, Device::Cpu));
    traced(path, 32, |x| x.mean_dim([2i64, 3].as_slice(), false, Kind::Float).matmul(&weight));
}

fn names(values: &Value) -> Vec<String> {
    values.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

const SIX: [&str; 6] = ["L", "A", "V", "I", "R", "mine"];

/// Every target that has classifiers or fine-tuned AEs shows six of each.
fn assert_six_everywhere(out: &Path) {
    let table1 = result(out, "table1");
    let rows: Vec<&str> =
        table1["rows"].as_array().unwrap().iter().map(|r| r["network"].as_str().unwrap()).collect();
    assert_eq!(rows.len(), 18, "C, C∘A_S, C∘A_C for six classifiers: {rows:?}");
    assert!(rows.contains(&"mine∘A_mine"), "{rows:?}");
    let table2 = result(out, "table2");
    assert_eq!(names(&table2["classifiers"]), SIX);
    assert_eq!(names(&table2["autoencoders"]).last().unwrap(), "A_mine");
    let accuracy = table2["accuracy"].as_array().unwrap();
    assert!(accuracy.len() == 6 && accuracy.iter().all(|row| row.as_array().unwrap().len() == 6));
    for panel in ["left", "right"] {
        let curves = result(out, "fig4")[panel].as_array().unwrap().len();
        assert_eq!(curves, 12, "fig4 {panel}: C and C∘A for six classifiers");
    }
    assert_eq!(result(out, "fig6")["rrc"].as_array().unwrap().len(), 36, "6×6 RRC pairs");
    let fig7 = result(out, "fig7");
    for lattice in fig7["lattices"].as_array().unwrap() {
        let concepts = lattice["concepts"].as_array().unwrap();
        let objects: usize =
            concepts.iter().map(|c| c["object_labels"].as_array().unwrap().len()).sum();
        let attributes: usize =
            concepts.iter().map(|c| c["attribute_labels"].as_array().unwrap().len()).sum();
        assert_eq!((objects, attributes), (6, 6), "t = {}", lattice["threshold"]);
    }
    let intervals = fig7["stable_intervals"].as_array().unwrap();
    let last = &intervals[intervals.len() - 1];
    assert_eq!(last["relation_size"], 0, "above every RRC nothing is related");
    assert_eq!(intervals[0]["relation_size"], 36, "below every RRC all 6×6 pairs are");
    let fig9: Vec<String> = result(out, "fig9")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ae"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fig9, ["A_S", "A_L", "A_A", "A_V", "A_I", "A_R", "A_mine"]);
    assert_eq!(names(&result(out, "fig3")["columns"]).len(), 8, "x, A_S and six fine-tuned AEs");
    let placed = &result(out, "claims")["where_yours_sit"][0];
    assert_eq!(placed["name"], "mine");
    assert_eq!(placed["rrc"].as_array().unwrap().len(), 5, "RRC both ways with the five");
    assert_eq!(placed["lattice"]["threshold"], 0.8);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Where mine sits") && report.contains("| A_mine |"));
    for stage in ["finetune-lenet5", "finetune-resnet50", "finetune-user-mine"] {
        assert!(out.join(format!("stages/{stage}.safetensors")).is_file(), "{stage}");
    }
}

/// The stage records of `out` by file name.
fn records(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.join("stages"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn a_users_classifier_is_a_sixth_everywhere_and_only_its_stage_follows_its_file() {
    let dir = scratch("sixth");
    let mine = dir.join("mine.pt");
    std::fs::copy(FIXTURE, &mine).unwrap();
    reproduce_tiny(&dir, &["--classifier", "mine=mine.pt,size=32"]);
    let out = dir.join("r");
    assert_six_everywhere(&out);
    let users = json(&out.join("classifiers.json"));
    assert_eq!(users[0]["sha256"].as_str().unwrap().len(), 64);

    // Another model under the same name: only its own fine-tuning stage is made again.
    let before = records(&out);
    channel_means(&mine, 10, 7);
    let stderr =
        reproduce_tiny(&dir, &["--include", "table2", "--classifier", "mine=mine.pt,size=32"]);
    let after = records(&out);
    let changed: Vec<&str> =
        before.iter().zip(&after).filter(|(b, a)| b != a).map(|(b, _)| b.0.as_str()).collect();
    assert_eq!(changed, ["finetune-user-mine.json"], "{stderr}");

    // Weights of a built-in family, loaded strictly into the profile's model of that family:
    // the run's own ResNet-50 under another name reads every AE exactly as R does.
    let r2 = dir.join("r2.safetensors");
    std::fs::copy(out.join("stages/classifier-resnet50.safetensors"), &r2).unwrap();
    let spec = format!("r2={},family=resnet50,size=32", r2.display());
    reproduce_tiny(&dir, &["--include", "table2", "--classifier", &spec]);
    let table2 = result(&out, "table2");
    assert_eq!(names(&table2["classifiers"]), ["L", "A", "V", "I", "R", "r2"]);
    for row in table2["accuracy"].as_array().unwrap() {
        assert_eq!(row[4], row[5], "R and r2 are the same network");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `reproduce --profile tiny --classifier SPEC` and returns its error, checking that it
/// stopped before anything trained.
fn refused(dir: &Path, spec: &str) -> String {
    let started = std::time::Instant::now();
    let out = dnlts(&["reproduce", "--profile", "tiny", "--out", "r", "--classifier", spec], dir);
    assert!(!out.status.success(), "{spec} was accepted");
    assert!(!dir.join("r/stages").exists(), "{spec}: something trained first");
    assert!(started.elapsed().as_secs() < 30, "{spec}: it stops before any work");
    text(&out.stderr)
}

#[test]
fn a_bad_classifier_is_refused_before_anything_trains_with_the_file_and_the_fix() {
    let dir = scratch("bad");
    let file = |name: &str| dir.join(name).display().to_string();
    channel_means(&dir.join("seven.pt"), 7, 1);
    traced(&dir.join("nan.pt"), 32, |x| x.flatten(1, -1).narrow(1, 0, 10) * f64::NAN);
    tch::manual_seed(2);
    let weight = Tensor::randn([3 * 16 * 16, 10], (Kind::Float, Device::Cpu));
    traced(&dir.join("sixteen.pt"), 16, |x| x.flatten(1, -1).matmul(&weight));
    traced(&dir.join("reshaped.pt"), 16, |x| x.view([-1, 3 * 16 * 16]).matmul(&weight));
    std::fs::write(dir.join("broken.pt"), b"not a TorchScript archive").unwrap();
    let wrong_family = dir.join("lenet.safetensors");
    let cases = [
        (
            format!("seven={},size=32", file("seven.pt")),
            vec!["shape [2, 7]", "10 classes", "last layer with 10 outputs"],
        ),
        (
            format!("nan={},size=32", file("nan.pt")),
            vec!["NaN or Inf", "retrain it or export it again"],
        ),
        (
            format!("small={},size=32", file("sixteen.pt")),
            vec![
                "fails on a batch of two 3×32×32",
                "shapes cannot be multiplied",
                "[N, 3, 32, 32]",
                "data export",
            ],
        ),
        (
            format!("flat={},size=32", file("reshaped.pt")),
            vec!["not one row per image", "[N, 3, 32, 32]"],
        ),
        (format!("small={},size=16", file("sixteen.pt")), vec!["size=16", "32×32", "pass size=32"]),
        (
            format!("broken={},size=32", file("broken.pt")),
            vec!["cannot load", "not a TorchScript file or damaged: ", "torch.jit.script"],
        ),
        (format!("gone={},size=32", file("missing.pt")), vec!["does not exist"]),
        (
            format!("lenet={},family=resnet50,size=32", wrong_family.display()),
            vec!["does not fit the model"],
        ),
    ];
    // A LeNet-5 weight file that is not a ResNet-50's.
    let store = tch::nn::VarStore::new(Device::Cpu);
    let _ = dnlts::models::Family::Lenet5.build(
        &store.root(),
        dnlts::models::Scale::Scaled { width_divisor: 16, image_size: 32 },
        10,
    );
    dnlts::models::weights::save(&[&store], &wrong_family).unwrap();
    for (spec, expected) in &cases {
        let stderr = refused(&dir, spec);
        let path = spec.split_once('=').unwrap().1.split(',').next().unwrap();
        assert!(stderr.contains(path), "{spec}: the error names the file:\n{stderr}");
        for fragment in expected {
            assert!(stderr.contains(fragment), "{spec}: lacks '{fragment}':\n{stderr}");
        }
    }
    let twice = format!("mine={FIXTURE},size=32");
    let out = dnlts(
        &[
            "reproduce",
            "--profile",
            "tiny",
            "--out",
            "r",
            "--classifier",
            &twice,
            "--classifier",
            &twice,
        ],
        &dir,
    );
    assert!(text(&out.stderr).contains("the name is given twice"), "{}", text(&out.stderr));
    for bad_name in ["S", "my model", "L"] {
        let out = dnlts(&["reproduce", "--classifier", &format!("{bad_name}={FIXTURE}")], &dir);
        assert!(
            !out.status.success() && text(&out.stderr).contains("cannot name a user classifier")
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Models that run forward but cannot stand behind an AE in training: an output without a
/// gradient to the input (a detach, an argmax made one-hot), integer class indices, and a
/// tuple. `models --classifier` and `reproduce` both refuse each with the reason, before
/// anything trains and without a panic.
#[test]
fn a_classifier_without_a_gradient_or_with_a_tuple_output_is_refused_by_both_commands() {
    let dir = scratch("no-gradient");
    tch::manual_seed(3);
    let weight = Tensor::randn([3, 10], (Kind::Float, Device::Cpu));
    let logits = |x: &Tensor| x.mean_dim([2i64, 3].as_slice(), false, Kind::Float).matmul(&weight);
    traced(&dir.join("detached.pt"), 32, |x| logits(x).detach());
    traced(&dir.join("one-hot.pt"), 32, |x| {
        logits(x).argmax(1, false).one_hot(10).to_kind(Kind::Float)
    });
    traced(&dir.join("indices.pt"), 32, |x| logits(x).argmax(1, true).expand([-1, 10], false));
    // libtorch's tracer cannot save two outputs: the fixture is written in TorchScript's format.
    std::fs::copy(TUPLE_FIXTURE, dir.join("tuple.pt")).unwrap();
    let cases = [
        ("detached.pt", "carries no gradient back to the input"),
        ("one-hot.pt", "carries no gradient back to the input"),
        ("indices.pt", "not floating-point logits"),
        ("tuple.pt", "returns a tuple of 2 values, not one tensor"),
    ];
    for (file, reason) in cases {
        let path = dir.join(file).display().to_string();
        let spec = format!("mine={path},size=32");
        let checked = dnlts(&["models", "--classifier", &spec], &dir);
        let stderr = text(&checked.stderr);
        assert!(!checked.status.success(), "models --classifier {file} was accepted");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(stderr.contains(&path) && stderr.contains(reason), "{file}: {stderr}");
        let stderr = refused(&dir, &spec);
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(stderr.contains(&path) && stderr.contains(reason), "{file}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exported_images_read_back_by_the_image_folder_reader_are_the_embedded_source() {
    use dnlts::data::imagenet::{self, ImageNetSplit};
    use dnlts::data::resize::EvalTransform;
    use dnlts::data::source::{images_to_tensor, ImageSource, Split, SyntheticImages};
    let dir = scratch("export");
    // ImageFolder's layout under `val/`, which is where the reader looks for a split.
    let out = dnlts(
        &["data", "export", "--profile", "tiny", "--split", "test", "--out", "root/val"],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wrote 64 images of 10 classes"), "{}", text(&out.stdout));
    let verify = dnlts(&["data", "verify", "root/val"], &dir);
    assert!(verify.status.success(), "the manifest lists the tree: {}", text(&verify.stderr));

    // The tiny profile's embedded source: seed derived from the master seed as `reproduce` does.
    let config = dnlts::data::synthetic::SyntheticConfig {
        seed: dnlts::seed::derive(dnlts::seed::DEFAULT_MASTER_SEED, "data", "synthetic"),
        size: 32,
        classes: 10,
        ..Default::default()
    };
    let source = SyntheticImages { config, train_images: 256, eval_images: 64 };
    let identity = EvalTransform { resize: 32, crop: 32 };
    let folder = imagenet::open(&dir.join("root"), ImageNetSplit::Val, identity).unwrap();
    assert_eq!(folder.items.len(), 64);
    for (path, class) in &folder.items {
        let index: u64 = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let image = imagenet::load_eval(path, &identity).unwrap();
        let (expected, label) = source.labelled(Split::Test, &[index]);
        let read_back = images_to_tensor(&[image]);
        assert!(read_back.equal(&expected), "{}: pixels differ", path.display());
        assert_eq!(label.int64_value(&[0]), *class as i64, "{}", path.display());
    }
    assert_eq!(source.len(Split::Test), 64);
    let again = dnlts(
        &["data", "export", "--profile", "tiny", "--split", "test", "--out", "root/val"],
        &dir,
    );
    assert!(text(&again.stderr).contains("not empty"), "{}", text(&again.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The round trip exports `val` for choosing epochs (docs/own-classifier.md): it must share no
/// image with `test`, on which Tables 1–2 are computed, or that choice would see the test set.
#[test]
fn the_exported_validation_split_shares_no_image_with_the_test_split() {
    let dir = scratch("export-val");
    let mut images = Vec::new();
    for split in ["val", "test"] {
        let args = ["data", "export", "--profile", "tiny", "--split", split, "--out", split];
        let out = dnlts(&args, &dir);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let manifest = std::fs::read_to_string(dir.join(split).join("MANIFEST.sha256")).unwrap();
        let hashes: std::collections::BTreeSet<String> = manifest
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| line.split_whitespace().next().unwrap().to_string())
            .collect();
        assert_eq!(hashes.len(), 64, "{split}: 64 distinct images");
        images.push(hashes);
    }
    let shared = images[0].intersection(&images[1]).count();
    assert_eq!(shared, 0, "{shared} images of the val export are also in the test export");
    std::fs::remove_dir_all(&dir).unwrap();
}
