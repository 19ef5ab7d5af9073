//! ImageNet folder layouts, layout errors, eval transform, robust loading.

mod common;

use common::{jpeg_bytes, junk, png_bomb, temp_dir, textured, write};
use dnlts::data::batch::{spawn, LoaderConfig, Order};
use dnlts::data::imagenet::{open, ImageNet, ImageNetSplit};
use dnlts::data::resize::EvalTransform;
use dnlts::data::source::{ImageSource, Split};
use dnlts::data::{DataError, FailureBudget, SkipReason};
use std::path::Path;
use std::sync::Arc;

const SMALL: EvalTransform = EvalTransform { resize: 40, crop: 32 };

/// train/<wnid>/ with 3 classes × 3 images of different aspect ratios.
fn make_tree(root: &Path) {
    for (c, wnid) in ["n01440764", "n01443537", "n01484850"].iter().enumerate() {
        for i in 0..3u32 {
            let img = textured(50 + 10 * i, 40 + 7 * c as u32, i + 3 * c as u32);
            write(&root.join(format!("train/{wnid}/img_{i}.JPEG")), &jpeg_bytes(&img));
        }
    }
}

#[test]
fn folder_layout_is_indexed_in_sorted_order() {
    let root = temp_dir("imagenet-folder");
    make_tree(&root);
    let set = open(&root, ImageNetSplit::Train, SMALL).unwrap();
    assert_eq!(set.classes, ["n01440764", "n01443537", "n01484850"]);
    assert_eq!(set.items.len(), 9);
    let labels: Vec<u32> = set.items.iter().map(|(_, c)| *c).collect();
    assert_eq!(labels, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    let sample = ImageNet::from(set).load(Split::Train, 4).unwrap();
    assert_eq!(sample.image.dimensions(), (32, 32));
    assert_eq!(sample.label, 1);
}

#[test]
fn flat_val_folder_with_labels_file() {
    let root = temp_dir("imagenet-flat");
    make_tree(&root);
    write(&root.join("val/ILSVRC2012_val_00000002.JPEG"), &jpeg_bytes(&textured(60, 45, 1)));
    write(&root.join("val/ILSVRC2012_val_00000001.JPEG"), &jpeg_bytes(&textured(45, 60, 2)));
    write(
        &root.join("val_labels.txt"),
        b"ILSVRC2012_val_00000002.JPEG n01484850\nILSVRC2012_val_00000001.JPEG 1\n",
    );
    let set = open(&root, ImageNetSplit::Val, SMALL).unwrap();
    let names: Vec<(String, u32)> = set
        .items
        .iter()
        .map(|(p, c)| (p.file_name().unwrap().to_string_lossy().into(), *c))
        .collect();
    assert_eq!(
        names,
        [
            ("ILSVRC2012_val_00000001.JPEG".to_string(), 1),
            ("ILSVRC2012_val_00000002.JPEG".to_string(), 2)
        ]
    );
}

#[test]
fn layout_errors_are_reported_before_training() {
    let root = temp_dir("imagenet-errors");
    let err = open(&root, ImageNetSplit::Train, SMALL).unwrap_err();
    assert!(matches!(err, DataError::MissingFolder(ref p) if p.ends_with("train")), "{err}");

    make_tree(&root);
    std::fs::create_dir_all(root.join("train/n09999999")).unwrap();
    let err = open(&root, ImageNetSplit::Train, SMALL).unwrap_err();
    assert!(err.to_string().contains("n09999999"), "{err}");
    assert!(matches!(err, DataError::EmptyClass(_)));
    std::fs::remove_dir(root.join("train/n09999999")).unwrap();

    write(&root.join("val_labels.txt"), b"gone.JPEG n01440764\n");
    std::fs::create_dir_all(root.join("val")).unwrap();
    let err = open(&root, ImageNetSplit::Val, SMALL).unwrap_err().to_string();
    assert!(err.contains("gone.JPEG") && err.contains("line 1"), "{err}");

    write(&root.join("val/a.JPEG"), &jpeg_bytes(&textured(40, 40, 0)));
    write(&root.join("val_labels.txt"), b"a.JPEG n00000000\n");
    let err = open(&root, ImageNetSplit::Val, SMALL).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("n00000000") && text.contains("line/record 1"), "{text}");
}

#[test]
fn broken_files_are_skipped_counted_and_listed() {
    let root = temp_dir("imagenet-broken");
    make_tree(&root);
    let dir = root.join("train/n01443537");
    let good = std::fs::read(dir.join("img_0.JPEG")).unwrap();
    write(&dir.join("truncated.JPEG"), &good[..good.len() / 2]);
    write(&dir.join("zero.JPEG"), b"");
    write(&dir.join("text.JPEG"), &junk(3000));
    write(&dir.join("bomb.png"), &png_bomb(100_000, 100_000));
    let set = ImageNet::from(open(&root, ImageNetSplit::Train, SMALL).unwrap());
    assert_eq!(set.len(Split::Train), 13);
    let reasons: Vec<(String, SkipReason)> = (0..set.len(Split::Train))
        .filter_map(|i| set.load(Split::Train, i).err().map(|r| (set.name(Split::Train, i), r)))
        .map(|(n, r)| (Path::new(&n).file_name().unwrap().to_string_lossy().into(), r))
        .collect();
    assert_eq!(
        reasons,
        [
            ("bomb.png".to_string(), SkipReason::TooLarge),
            ("text.JPEG".to_string(), SkipReason::Undecodable),
            ("truncated.JPEG".to_string(), SkipReason::Undecodable),
            ("zero.JPEG".to_string(), SkipReason::Undecodable),
        ]
    );

    // 4 of 13 failed: within a 50 % budget the loader delivers the 9 good images…
    let set = Arc::new(set);
    let cfg = LoaderConfig {
        batch_size: 4,
        budget: FailureBudget { max_fraction: 0.5 },
        ..LoaderConfig::default()
    };
    let mut it =
        spawn(set.clone(), Split::Train, Order::Range { start: 0, end: 13 }, cfg.clone()).unwrap();
    let delivered: usize = it.by_ref().map(|b| b.unwrap().len()).sum();
    assert_eq!(delivered, 9);
    assert_eq!(it.skipped().len(), 4);
    // …and with the default 1 % it stops with an error naming examples.
    let cfg = LoaderConfig { budget: FailureBudget::default(), ..cfg };
    let last =
        spawn(set, Split::Train, Order::Range { start: 0, end: 13 }, cfg).unwrap().last().unwrap();
    let err = last.unwrap_err().to_string();
    assert!(err.contains("bomb.png") && err.contains("4 of 13"), "{err}");
}

/// A flat val_labels.txt names files of val/ itself: a path that leaves it (`..`, absolute, a
/// training image) or a file listed twice is refused, naming the line and the file.
#[test]
fn flat_labels_stay_inside_the_val_folder() {
    let root = temp_dir("imagenet-flat-outside");
    make_tree(&root);
    write(&root.join("val/a.JPEG"), &jpeg_bytes(&textured(40, 40, 0)));
    let outside = root.join("train/n01440764/img_0.JPEG");
    let cases = [
        "../train/n01440764/img_0.JPEG".to_string(),
        outside.display().to_string(),
        "./a.JPEG".into(),
        "sub/a.JPEG".into(),
    ];
    for listed in cases {
        write(&root.join("val_labels.txt"), format!("a.JPEG 0\n{listed} 1\n").as_bytes());
        let err = open(&root, ImageNetSplit::Val, SMALL).unwrap_err().to_string();
        assert!(err.contains("val_labels.txt") && err.contains("line 2"), "{err}");
        assert!(err.contains(&format!("{listed:?}")) && err.contains("not a file name"), "{err}");
    }
    write(&root.join("val_labels.txt"), b"a.JPEG 0\na.JPEG 1\n");
    let err = open(&root, ImageNetSplit::Val, SMALL).unwrap_err().to_string();
    assert!(err.contains("line 2 lists a.JPEG again (first on line 1)"), "{err}");
}

/// synsets.txt: a wnid listed twice is refused (it would shift every label after it); blank
/// lines, `#` lines and descriptions after the wnid are allowed.
#[test]
fn synsets_refuse_a_repeated_wnid_and_ignore_comments() {
    let root = temp_dir("imagenet-synsets");
    make_tree(&root);
    let listed = "# ILSVRC subset\n\nn01484850 great white shark\nn01440764 tench\n\
                  n01443537 goldfish\n";
    write(&root.join("synsets.txt"), listed.as_bytes());
    let set = open(&root, ImageNetSplit::Train, SMALL).unwrap();
    assert_eq!(set.classes, ["n01440764", "n01443537", "n01484850"]);
    write(&root.join("synsets.txt"), b"n01440764\n# two\nn01443537\nn01484850\nn01440764 again\n");
    let err = open(&root, ImageNetSplit::Train, SMALL).unwrap_err().to_string();
    assert!(err.contains("synsets.txt") && err.contains("line 5 lists n01440764 again"), "{err}");
    assert!(err.contains("first on line 1") && err.contains("lines starting with #"), "{err}");
}
