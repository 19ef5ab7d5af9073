//! `paper-smoke`: the paper's code path end to end — torchvision's networks with their real
//! layer names, pretrained weights loaded strictly from safetensors, each classifier's own crop,
//! the streaming evaluation and every target — on a small ImageNet-layout tree (class folders
//! for train, the flat val folder with its labels file) and a YFCC-layout tree (with files the
//! authors' filter rejects), all generated here. The "pretrained" weights are our own random
//! initialisation exported under torchvision's names, as scripts/export_weights.py writes them.

mod cli_common;

use std::path::Path;

use cli_common::{dnlts, scratch_dir, text};
use dnlts::models::classifier::Classifier;
use dnlts::models::{Family, Scale};
use serde_json::Value;

const WNIDS: [&str; 4] = ["n01440764", "n01443537", "n01484850", "n01491361"];

/// A busy image (hash noise over a class colour): its JPEG passes the YFCC filter's size and
/// single-colour checks, and the classes differ in colour.
fn photo(path: &Path, width: u32, height: u32, class: u8, salt: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ salt.wrapping_mul(97))
            .wrapping_mul(2_246_822_519);
        let base = [60 * class, 200 - 40 * class, 90 + 30 * class];
        image::Rgb(base.map(|b| b.wrapping_add((v >> 26) as u8)))
    });
    img.save(path).unwrap();
}

/// ImageNet's layout: train/<wnid>/*.JPEG, 4 per class, and a flat val/ of `val_images` with
/// val_labels.txt; YFCC's: loose JPEGs in sub-folders plus a placeholder-sized file and a tiny
/// one, which the filter rejects.
pub fn smoke_tree(root: &Path, val_images: u32) {
    for (c, wnid) in WNIDS.iter().enumerate() {
        for i in 0..4u32 {
            let path = root.join(format!("imagenet/train/{wnid}/{wnid}_{i}.JPEG"));
            photo(&path, 90 + 7 * i, 80 + 5 * c as u32, c as u8, i * 31 + c as u32);
        }
    }
    let mut labels = String::new();
    for i in 0..val_images {
        let name = format!("ILSVRC2012_val_{:08}.JPEG", i + 1);
        let class = (i * 7 % 4) as u8;
        photo(&root.join("imagenet/val").join(&name), 100, 84, class, 1000 + i);
        labels += &format!("{name} {}\n", WNIDS[class as usize]);
    }
    std::fs::write(root.join("imagenet/val_labels.txt"), labels).unwrap();
    for i in 0..20u32 {
        photo(&root.join(format!("yfcc/{}/{i}.jpg", i % 3)), 120, 96, (i % 4) as u8, 5000 + i);
    }
    std::fs::write(root.join("yfcc/placeholder.jpg"), vec![7u8; 9_218]).unwrap();
    std::fs::write(root.join("yfcc/tiny.jpg"), [0xFF, 0xD8, 0xFF]).unwrap();
}

/// A, V, I, R at paper-smoke's scale from our own random initialisation, saved under
/// torchvision's names (what `export_weights.py torchvision --random` writes).
pub fn export_weights(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let scale = Scale::PaperAt { crop: 64, inception_crop: 96 };
    for family in [Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50] {
        tch::manual_seed(7);
        let classifier = Classifier::builtin(family, scale, WNIDS.len() as i64, tch::Device::Cpu);
        let path = dir.join(format!("{}.safetensors", family.name()));
        dnlts::models::weights::save(&[classifier.store().unwrap()], &path).unwrap();
    }
}

fn sha256(path: &Path) -> String {
    dnlts::models::weights::sha256_of(&mut std::fs::File::open(path).unwrap()).unwrap()
}

fn json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn paper_smoke_runs_every_target_through_the_papers_path() {
    let dir = scratch_dir("paper-smoke", "run");
    smoke_tree(&dir, 4);
    export_weights(&dir.join("weights"));
    let args = [
        "reproduce",
        "--profile",
        "paper-smoke",
        "--imagenet",
        "imagenet",
        "--yfcc",
        "yfcc",
        "--weights",
        "weights",
        "--device",
        "cpu",
        "--threads",
        "2",
        "--out",
        "out",
    ];
    let out = dnlts(&args, &dir);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // The preflight ran first and passed its pipeline line.
    assert!(stdout.contains("✓ ImageNet/YFCC100m in training"), "{stdout}");
    // Every target of the registry ran: "[k/N] name …" for k = 1..N.
    let ran = json(&dir.join("out/run.json"))["ran"].as_array().unwrap().len();
    assert!(ran >= 10, "{stdout}");
    for k in 1..=ran {
        assert!(stdout.contains(&format!("[{k}/{ran}]")), "target {k} of {ran}:\n{stdout}");
    }
    // A, V, I, R are the given weights, loaded (strictly) and recorded by sha256; L trained.
    for family in [Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50] {
        let record = json(&dir.join(format!("out/stages/classifier-{}.json", family.name())));
        let file = dir.join(format!("weights/{}.safetensors", family.name()));
        assert_eq!(record["weights_sha256"], sha256(&file), "{}", family.name());
    }
    let lenet = json(&dir.join("out/stages/classifier-lenet5.json"));
    assert!(lenet.get("given").is_none(), "LeNet-5 is trained on ImageNet: {lenet}");
    // The evaluation streamed over every validation image.
    let table1 = json(&dir.join("out/table1.json"));
    assert!(table1.to_string().contains("\"images\":4"), "{table1}");
    // About 1.6 GB of weights and stages.
    std::fs::remove_dir_all(&dir).unwrap();
}
