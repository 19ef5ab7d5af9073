//! `dnlts doctor --profile paper`: the preflight lists every missing piece in one run (with its
//! path), exits non-zero, and warns (not fails) on image counts below ILSVRC2012/YFCC100m's.
//! The data trees are small generated JPEG trees in ImageNet's and YFCC's layouts; the weight
//! files have torchvision's names and shapes (taken from our paper-scale models) over sparse
//! data, since the doctor reads only their headers.

mod cli_common;

use std::io::Write;
use std::path::{Path, PathBuf};

use cli_common::{dnlts, scratch_dir, text};
use dnlts::models::{Family, Scale};
use serde_json::Value;

fn jpeg(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(48, 40, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(5) ^ seed, (y as u8).wrapping_mul(7), seed])
    });
    img.save(path).unwrap();
}

/// ImageNet layout: `train/<wnid>/*.JPEG` (and `val/` likewise when `with_val`).
fn imagenet_tree(root: &Path, with_val: bool) {
    let splits: &[&str] = if with_val { &["train", "val"] } else { &["train"] };
    for split in splits {
        for (c, wnid) in ["n01440764", "n01443537"].iter().enumerate() {
            for i in 0..2u8 {
                jpeg(
                    &root.join(split).join(wnid).join(format!("{wnid}_{i}.JPEG")),
                    c as u8 * 9 + i,
                );
            }
        }
    }
}

/// ImageNet (with val) and YFCC100m trees and an empty weights folder under `dir`, as the paper
/// profile's doctor expects them.
fn paper_folders(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (imagenet, yfcc, weights) = (dir.join("imagenet"), dir.join("yfcc"), dir.join("weights"));
    imagenet_tree(&imagenet, true);
    yfcc_tree(&yfcc);
    std::fs::create_dir_all(&weights).unwrap();
    (imagenet, yfcc, weights)
}

fn yfcc_tree(root: &Path) {
    for i in 0..3u8 {
        jpeg(&root.join(format!("shard{}", i % 2)).join(format!("{i}.jpg")), i * 40);
    }
}

/// A safetensors file whose header lists `tensors` (f32) and whose data section is a hole of the
/// right length: valid for `read_layout`, which reads no tensor data.
fn sparse_safetensors(path: &Path, tensors: &[(String, Vec<i64>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    let mut sorted = tensors.to_vec();
    sorted.sort();
    for (name, shape) in &sorted {
        let bytes = 4 * shape.iter().product::<i64>() as u64;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut json = serde_json::to_string(&Value::Object(header)).unwrap();
    while !json.len().is_multiple_of(8) {
        json.push(' ');
    }
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&(json.len() as u64).to_le_bytes()).unwrap();
    file.write_all(json.as_bytes()).unwrap();
    file.set_len(8 + json.len() as u64 + offset).unwrap();
}

/// The paper-scale model's tensor names and shapes, as torchvision's export names them.
fn model_tensors(family: Family) -> Vec<(String, Vec<i64>)> {
    let store = tch::nn::VarStore::new(tch::Device::Cpu);
    let _ = family.build(&store.root(), Scale::Paper, 1000);
    store.variables().into_iter().map(|(name, t)| (name, t.size())).collect()
}

/// `dnlts doctor --profile paper` on the given ImageNet, YFCC and weights folders, run in `dir`.
fn doctor(
    dir: &Path,
    [imagenet, yfcc, weights]: [&Path; 3],
    device: &str,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let paths = [imagenet, yfcc, weights, out].map(|path| path.to_str().unwrap());
    let mut args = vec!["doctor", "--profile", "paper", "--imagenet", paths[0], "--yfcc"];
    args.extend([paths[1], "--weights", paths[2], "--device", device, "--out", paths[3]]);
    args.extend(extra);
    dnlts(&args, dir)
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("doctor --json prints JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr))
    })
}

fn items_with(report: &Value, status: &str) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == status)
        .map(|i| format!("{}/{}", i["section"].as_str().unwrap(), i["name"].as_str().unwrap()))
        .collect()
}

#[test]
fn every_missing_piece_is_reported_in_one_run() {
    let dir = scratch_dir("doctor", "broken");
    let imagenet = dir.join("imagenet");
    imagenet_tree(&imagenet, false); // no val/
    let yfcc = dir.join("no-yfcc-here");
    let weights = dir.join("weights");
    std::fs::create_dir_all(&weights).unwrap();
    // AlexNet: one tensor gone, one renamed to a name the model lacks, one with a wrong shape.
    let mut alexnet = model_tensors(Family::Alexnet);
    alexnet.sort();
    let gone = alexnet.remove(0).0;
    alexnet.push(("features.99.weight".into(), vec![3]));
    let reshaped = alexnet[1].0.clone();
    alexnet[1].1 = vec![7, 7];
    sparse_safetensors(&weights.join("alexnet.safetensors"), &alexnet);
    std::fs::write(weights.join("vgg16_bn.safetensors"), b"not a safetensors file").unwrap();
    // inception_v3 and resnet50 are absent.
    let out_file = dir.join("taken");
    std::fs::write(&out_file, b"a file where the output folder should be").unwrap();

    let out = doctor(&dir, [&imagenet, &yfcc, &weights], "cuda:7", &out_file, &[]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "a broken setup fails:\n{stdout}");
    assert!(text(&out.stderr).contains("missing piece"), "{}", text(&out.stderr));
    for path in [
        imagenet.join("val"),
        yfcc.clone(),
        weights.join("alexnet.safetensors"),
        weights.join("vgg16_bn.safetensors"),
        weights.join("inception_v3.safetensors"),
        weights.join("resnet50.safetensors"),
        out_file.clone(),
    ] {
        assert!(
            stdout.contains(&path.display().to_string()),
            "{} named:\n{stdout}",
            path.display()
        );
    }
    for name in [gone.as_str(), "features.99.weight", reshaped.as_str(), "cuda:7"] {
        assert!(stdout.contains(name), "{name} named:\n{stdout}");
    }
    assert!(stdout.contains("4 images found, ILSVRC2012 has 1,281,167"), "{stdout}");
    println!("{stdout}");

    let out = doctor(&dir, [&imagenet, &yfcc, &weights], "cuda:7", &out_file, &["--json"]);
    assert!(!out.status.success());
    let report = json_of(&out);
    let mut missing = items_with(&report, "missing");
    missing.sort();
    assert_eq!(
        missing,
        [
            "ImageNet/val",
            "YFCC100m/folder",
            "device/cuda:7",
            "disk/output folder",
            "weights/A (alexnet)",
            "weights/I (inception_v3)",
            "weights/R (resnet50)",
            "weights/V (vgg16_bn)",
        ]
    );
    assert_eq!(report["missing"], missing.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nothing_given_lists_every_input_and_how_to_get_it() {
    let dir = scratch_dir("doctor", "empty");
    let out = dnlts(&["doctor", "--profile", "paper", "--device", "cpu", "--json"], &dir);
    assert!(!out.status.success());
    let report = json_of(&out);
    let mut missing = items_with(&report, "missing");
    missing.sort();
    assert_eq!(missing, ["ImageNet/folder", "YFCC100m/folder", "weights/folder"]);
    let fixes: Vec<&str> =
        report["items"].as_array().unwrap().iter().filter_map(|i| i["fix"].as_str()).collect();
    for option in ["--imagenet DIR", "--yfcc DIR", "--weights DIR", "export_weights.py"] {
        assert!(fixes.iter().any(|f| f.contains(option)), "a fix says {option}: {fixes:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_complete_looking_setup_only_warns_about_counts() {
    let dir = scratch_dir("doctor", "complete");
    let (imagenet, yfcc, weights) = paper_folders(&dir);
    for family in [Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50] {
        let mut tensors = model_tensors(family);
        // What torchvision's export carries beyond our model, which the loader ignores.
        tensors.push(("bn_like.num_batches_tracked".into(), vec![]));
        sparse_safetensors(&weights.join(format!("{}.safetensors", family.name())), &tensors);
    }
    let results = dir.join("results");
    let out = doctor(&dir, [&imagenet, &yfcc, &weights], "cpu", &results, &["--json"]);
    let report = json_of(&out);
    assert!(items_with(&report, "missing").is_empty(), "{report}");
    assert!(out.status.success(), "warnings alone pass the preflight");
    assert!(items_with(&report, "ok").contains(&"pipeline/ImageNet/YFCC100m in training".into()));
    let mut warnings = items_with(&report, "warning");
    warnings.sort();
    assert_eq!(
        warnings,
        ["ImageNet/classes", "ImageNet/train", "ImageNet/val", "YFCC100m/images", "device/cpu"]
    );
    let ok = items_with(&report, "ok");
    for name in ["weights/A (alexnet)", "weights/V (vgg16_bn)", "weights/I (inception_v3)"] {
        assert!(ok.iter().any(|i| i == name), "{name} is ✓: {ok:?}");
    }
    assert!(ok.iter().any(|i| i == "disk/free space"), "{ok:?}");

    let out = doctor(&dir, [&imagenet, &yfcc, &weights], "cpu", &results, &[]);
    let stdout = text(&out.stdout);
    for expected in [
        "! train: 4 images found, ILSVRC2012 has 1,281,167",
        "! val: 4 images found, ILSVRC2012 has 50,000",
        "! images: 3 images found",
        "a smaller set is a warning, not an error",
        "✓ R (resnet50):",
        "0 missing (✗), 5 warning(s) (!)",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    println!("{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `make -n` (a top-level make, even under `make test`) in the repository root.
fn make_dry(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = std::process::Command::new("make")
        .arg("-n")
        .args(args)
        .current_dir(root)
        .env_remove("MAKELEVEL")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .expect("make is installed");
    assert!(out.status.success(), "make -n {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn make_reproduce_paper_runs_the_doctor_first_with_the_folders() {
    let plan = make_dry(&[
        "reproduce",
        "PROFILE=paper",
        "IMAGENET=/d/imagenet",
        "YFCC=/d/yfcc",
        "WEIGHTS=/d/w",
    ]);
    let doctor = plan
        .find("doctor --profile paper --imagenet /d/imagenet --yfcc /d/yfcc --weights /d/w")
        .unwrap_or_else(|| panic!("the doctor runs with the folders:\n{plan}"));
    let reproduce = plan.find("reproduce --profile paper").expect("then reproduce");
    assert!(doctor < reproduce, "doctor before reproduce:\n{plan}");
    let small = make_dry(&["reproduce", "PROFILE=small"]);
    assert!(!small.contains("doctor"), "other profiles run no preflight:\n{small}");
    assert!(small.contains("reproduce --profile small"), "{small}");
}

/// paper-smoke's preflight compares with its own numbers, not ILSVRC2012's or the paper's; and a
/// tree whose training images mostly do not decode stops the run when the data is opened,
/// before anything trains, counting each damaged file once.
#[test]
fn paper_smoke_states_its_own_numbers_and_a_damaged_tree_stops_before_training() {
    let dir = scratch_dir("doctor", "smoke-damaged");
    let (imagenet, yfcc, weights) = paper_folders(&dir);
    for family in [Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50] {
        // paper-smoke's torchvision networks predict its 4 classes.
        let store = tch::nn::VarStore::new(tch::Device::Cpu);
        let _ = family.build(&store.root(), Scale::Paper, 4);
        let tensors: Vec<_> = store.variables().into_iter().map(|(n, t)| (n, t.size())).collect();
        sparse_safetensors(&weights.join(format!("{}.safetensors", family.name())), &tensors);
    }
    let paths = [&imagenet, &yfcc, &weights].map(|path| path.to_str().unwrap().to_string());
    let inputs = ["--imagenet", &paths[0], "--yfcc", &paths[1], "--weights", &paths[2]];
    let smoke = ["--profile", "paper-smoke", "--device", "cpu", "--out", "out"];
    let out = dnlts(&[&["doctor"][..], &smoke, &inputs].concat(), &dir);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for wrong in ["ILSVRC2012 has", "the paper pre-trains", "not the paper's"] {
        assert!(!stdout.contains(wrong), "{wrong:?} in:\n{stdout}");
    }
    for expected in [
        "4 images found, profile 'paper-smoke' reads all of them",
        "2 classes found, profile 'paper-smoke' has 4",
        "profile 'paper-smoke' pre-trains on 8",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }

    // 15 of the 19 training images cut in half: undecodable.
    let class = imagenet.join("train/n01440764");
    let good = std::fs::read(class.join("n01440764_0.JPEG")).unwrap();
    for i in 0..15 {
        std::fs::write(class.join(format!("cut_{i:02}.JPEG")), &good[..good.len() / 2]).unwrap();
    }
    let train = ["train-classifier", "--family", "L", "--threads", "1"];
    let out = dnlts(&[&train[..], &smoke, &inputs].concat(), &dir);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("15 of 19 files failed to load"), "{stderr}");
    assert!(stderr.contains(&format!("--imagenet {}", paths[0])), "{stderr}");
    assert!(stderr.contains("cut_00.JPEG") && stderr.contains("cut_04.JPEG"), "{stderr}");
    assert!(!stderr.contains("raise the failure budget"), "no such option: {stderr}");
    assert!(!dir.join("out/stages").exists(), "nothing trained");
    std::fs::remove_dir_all(&dir).unwrap();
}
