//! The shipped classifier set of the `small` profile (fixtures/classifiers/small): each file
//! loads strictly and scores on the test split exactly what its manifest records, and a set
//! that is damaged, incomplete or made for another profile is refused, naming the file.

mod cli_common;

use std::path::{Path, PathBuf};

use cli_common::{dnlts, scratch_dir, text};
use serde_json::Value;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/classifiers/small")
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// A copy of the shipped set in `dir/set`.
fn copy_set(dir: &Path) -> PathBuf {
    let copy = dir.join("set");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(shipped()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    copy
}

#[test]
fn every_shipped_classifier_scores_what_its_manifest_records() {
    let dir = scratch_dir("shipped", "check");
    let out = dir.join("out");
    let run = dnlts(&["ship-classifiers", "--check", "--out", out.to_str().unwrap()], &dir);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
    let recorded = manifest(&shipped());
    let classifiers = recorded["classifiers"].as_object().unwrap();
    assert_eq!(classifiers.len(), 5, "the set holds all five families: {recorded}");
    for (name, entry) in classifiers {
        let line = format!(
            "{name}: test top-1 {:.1} % ({} of {}), manifest {} of {}: same",
            100.0 * entry["test_top1"].as_f64().unwrap(),
            entry["test_correct"],
            entry["test_images"],
            entry["test_correct"],
            entry["test_images"]
        );
        assert!(stdout.contains(&line), "no line {line:?} in:\n{stdout}");
        // The aim for a shipped set: each well above chance (10 %).
        let top1 = entry["test_top1"].as_f64().unwrap();
        assert!(top1 >= 0.55, "{name} scores {top1} on the test split, below 55 %");
    }
    // The run's record of each classifier names the file it loaded and its digest.
    for (name, entry) in classifiers {
        let record = out.join(format!("stages/classifier-{name}.json"));
        let record: Value =
            serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        assert_eq!(record["weights_sha256"], entry["sha256"], "{name}: {record}");
        assert!(record["given"].as_str().unwrap().ends_with(&format!("{name}.safetensors")));
    }
}

#[test]
fn a_damaged_shipped_file_is_refused_naming_it() {
    let dir = scratch_dir("shipped", "damaged");
    let set = copy_set(&dir);
    let file = set.join("lenet5.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let args = ["train-classifier", "--family", "L", "--weights", set.to_str().unwrap()];
    let run = dnlts(&[&args[..], &["--out", dir.join("out").to_str().unwrap()]].concat(), &dir);
    let stderr = text(&run.stderr);
    assert!(!run.status.success(), "a damaged file was used:\n{stderr}");
    assert!(
        stderr.contains("lenet5.safetensors is not the file its manifest lists")
            && stderr.contains("git checkout"),
        "{stderr}"
    );
    // A run is refused at once, before minutes of pre-training.
    let args = ["reproduce", "--include", "table1", "--weights", set.to_str().unwrap()];
    let run = dnlts(&[&args[..], &["--out", dir.join("run").to_str().unwrap()]].concat(), &dir);
    let stderr = text(&run.stderr);
    assert!(!run.status.success(), "a damaged file was used:\n{stderr}");
    assert!(stderr.contains("lenet5.safetensors is not the file"), "{stderr}");
    assert!(!stderr.contains("pretrain:"), "it pre-trained first:\n{stderr}");
}

#[test]
fn a_set_for_another_profile_or_without_the_family_is_refused() {
    let dir = scratch_dir("shipped", "foreign");
    let set = copy_set(&dir);
    let mut recorded = manifest(&set);
    recorded["classifiers"].as_object_mut().unwrap().remove("resnet50");
    std::fs::write(set.join("manifest.json"), recorded.to_string()).unwrap();
    let out = dir.join("out");
    let train = |family: &str| {
        let args = ["train-classifier", "--family", family, "--weights", set.to_str().unwrap()];
        let run = dnlts(&[&args[..], &["--out", out.to_str().unwrap()]].concat(), &dir);
        assert!(!run.status.success(), "{family} trained or loaded anyway");
        text(&run.stderr)
    };
    let stderr = train("R");
    assert!(stderr.contains("has no resnet50") && stderr.contains("ship-classifiers"), "{stderr}");
    recorded["profile"] = "fashion".into();
    std::fs::write(set.join("manifest.json"), recorded.to_string()).unwrap();
    let stderr = train("L");
    assert!(stderr.contains("is for profile 'fashion', not 'small'"), "{stderr}");
}

#[test]
fn train_classifiers_trains_in_the_run_and_keys_apart() {
    let dir = scratch_dir("shipped", "scratch");
    let out = dir.join("out");
    let args = ["train-classifier", "--family", "L", "--train-classifiers"];
    let run = dnlts(&[&args[..], &["--out", out.to_str().unwrap()]].concat(), &dir);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let record = std::fs::read_to_string(out.join("stages/classifier-lenet5.json")).unwrap();
    let record: Value = serde_json::from_str(&record).unwrap();
    assert!(record.get("given").is_none(), "trained in the run: {record}");
    assert!(record["seconds"].as_f64().unwrap() > 0.0, "{record}");
    // The paper profiles are given torchvision's classifiers: the flag is refused there.
    let args = ["train-classifier", "--family", "A", "--profile", "paper", "--train-classifiers"];
    let run = dnlts(&args, &dir);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("--train-classifiers: profile 'paper'"));
}
