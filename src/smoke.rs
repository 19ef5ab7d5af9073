//! The inputs `paper-smoke` runs on, generated: a small ImageNet-layout tree (class folders
//! for train, the flat val folder with its labels file), a YFCC-layout tree (with files the
//! authors' filter rejects), and A, V, I, R under torchvision's key names from our own random
//! initialisation (what `scripts/export_weights.py torchvision --random` writes). Used by
//! `tests/paper_smoke.rs` and `examples/smoke_tree.rs` (which makes larger trees, e.g. to
//! measure the evaluation's memory against the number of validation images: README, "The
//! paper's path").

use std::io;
use std::path::Path;

use crate::models::classifier::Classifier;
use crate::models::{Family, Scale};

/// The tree's classes (ILSVRC2012's first four wnids).
pub const WNIDS: [&str; 4] = ["n01440764", "n01443537", "n01484850", "n01491361"];

/// The crops paper-smoke's networks read (its profile's `PaperAt`).
pub const SCALE: Scale = Scale::PaperAt { crop: 64, inception_crop: 96 };

/// A busy image (hash noise over a class colour): its JPEG passes the YFCC filter's size and
/// single-colour checks, and the classes differ in colour.
fn photo(path: &Path, width: u32, height: u32, class: u8, salt: u32) -> io::Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ salt.wrapping_mul(97))
            .wrapping_mul(2_246_822_519);
        let base = [60 * class, 200 - 40 * class, 90 + 30 * class];
        image::Rgb(base.map(|b| b.wrapping_add((v >> 26) as u8)))
    });
    img.save(path).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
}

/// ImageNet's layout under `root/imagenet`: train/<wnid>/*.JPEG, 4 per class, and a flat val/
/// of `val_images` with val_labels.txt; YFCC's under `root/yfcc`: 20 loose JPEGs in
/// sub-folders plus a placeholder-sized file and a tiny one, which the filter rejects.
pub fn write_tree(root: &Path, val_images: u32) -> io::Result<()> {
    for (c, wnid) in WNIDS.iter().enumerate() {
        for i in 0..4u32 {
            let path = root.join(format!("imagenet/train/{wnid}/{wnid}_{i}.JPEG"));
            photo(&path, 90 + 7 * i, 80 + 5 * c as u32, c as u8, i * 31 + c as u32)?;
        }
    }
    let mut labels = String::new();
    for i in 0..val_images {
        let name = format!("ILSVRC2012_val_{:08}.JPEG", i + 1);
        let class = (i * 7 % 4) as u8;
        photo(&root.join("imagenet/val").join(&name), 100, 84, class, 1000 + i)?;
        labels += &format!("{name} {}\n", WNIDS[class as usize]);
    }
    std::fs::write(root.join("imagenet/val_labels.txt"), labels)?;
    for i in 0..20u32 {
        photo(&root.join(format!("yfcc/{}/{i}.jpg", i % 3)), 120, 96, (i % 4) as u8, 5000 + i)?;
    }
    std::fs::write(root.join("yfcc/placeholder.jpg"), vec![7u8; 9_218])?;
    std::fs::write(root.join("yfcc/tiny.jpg"), [0xFF, 0xD8, 0xFF])
}

/// The families paper-smoke (like paper) loads instead of training.
pub const PRETRAINED: [Family; 4] =
    [Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50];

/// A, V, I, R at paper-smoke's scale from our own random initialisation (seed 7), saved as
/// `dir/<torchvision name>.safetensors` under torchvision's names (about 0.95 GB in all).
pub fn write_weights(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for family in PRETRAINED {
        tch::manual_seed(7);
        let classifier = Classifier::builtin(family, SCALE, WNIDS.len() as i64, tch::Device::Cpu);
        let path = dir.join(format!("{}.safetensors", family.name()));
        let store = classifier.store().expect("a built-in classifier has its own store");
        crate::models::weights::save(&[store], &path)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
