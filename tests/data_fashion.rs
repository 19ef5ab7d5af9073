//! Fashion-MNIST IDX reading (plain and gzipped), validation errors, upsampling.

mod common;

use common::{temp_dir, write};
use dnlts::data::fashion::{self, load, read_idx, FashionSplit};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    dims.iter().for_each(|d| out.extend_from_slice(&d.to_be_bytes()));
    out.extend_from_slice(data);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// 24 training and 4 test images of 28×28; image i is filled with value 10·i, label i mod 10.
fn make_set(dir: &Path, gzipped: bool) {
    for (prefix, n) in [("train", 24u32), ("t10k", 4)] {
        let pixels: Vec<u8> = (0..n).flat_map(|i| vec![(10 * i) as u8; 784]).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let files = [
            (format!("{prefix}-images-idx3-ubyte"), idx(&[n, 28, 28], &pixels)),
            (format!("{prefix}-labels-idx1-ubyte"), idx(&[n], &labels)),
        ];
        for (name, bytes) in files {
            if gzipped {
                write(&dir.join(format!("{name}.gz")), &gz(&bytes));
            } else {
                write(&dir.join(name), &bytes);
            }
        }
    }
}

#[test]
fn plain_and_gzipped_files_load_the_same() {
    let (a, b) = (temp_dir("fashion-plain"), temp_dir("fashion-gz"));
    make_set(&a, false);
    make_set(&b, true);
    for split in [FashionSplit::Train, FashionSplit::Validation, FashionSplit::Test] {
        let (x, y) = (load(&a, split).unwrap(), load(&b, split).unwrap());
        assert_eq!(x.images, y.images);
        assert_eq!(x.labels, y.labels);
    }
    // 24 rows: the last 24/12 = 2 are validation.
    assert_eq!(load(&a, FashionSplit::Train).unwrap().len(), 22);
    let val = load(&a, FashionSplit::Validation).unwrap();
    assert_eq!(val.labels, [2, 3]);
    assert_eq!(load(&a, FashionSplit::Test).unwrap().len(), 4);
}

#[test]
fn images_are_32px_rgb_with_replicated_channels() {
    let dir = temp_dir("fashion-rgb");
    make_set(&dir, false);
    let set = load(&dir, FashionSplit::Train).unwrap();
    let image = set.image(3);
    assert_eq!(image.dimensions(), (32, 32));
    assert_eq!(set.labels[3], 3);
    // A constant image stays constant through the resize, in all three channels.
    assert!(image.pixels().all(|p| p.0 == [30, 30, 30]));
}

#[test]
fn malformed_files_give_clear_errors() {
    let dir = temp_dir("fashion-bad");
    let path = dir.join("x-idx3-ubyte");
    write(&path, &[1, 2, 3, 4, 5]);
    assert!(read_idx(&path, 3).unwrap_err().to_string().contains("magic"));
    write(&path, &idx(&[2, 28, 28], &[0; 100]));
    let err = read_idx(&path, 3).unwrap_err().to_string();
    assert!(err.contains("1568") && err.contains("100"), "{err}");
    write(&path, &idx(&[2], &[0; 2]));
    assert!(read_idx(&path, 3).unwrap_err().to_string().contains("1 dimensions"));
    write(&path, &[0, 0, 0x0D, 1, 0, 0, 0, 0]);
    assert!(read_idx(&path, 1).unwrap_err().to_string().contains("0x0d"));
    write(&path, &[0x1f, 0x8b, 0, 1, 2]);
    assert!(read_idx(&path, 3).unwrap_err().to_string().contains("gzip"));

    let set = temp_dir("fashion-labels");
    make_set(&set, false);
    write(&set.join("t10k-labels-idx1-ubyte"), &idx(&[4], &[0, 1, 12, 3]));
    let err = load(&set, FashionSplit::Test).unwrap_err().to_string();
    assert!(err.contains("\"12\""), "{err}");
    write(&set.join("t10k-labels-idx1-ubyte"), &idx(&[3], &[0, 1, 2]));
    assert!(load(&set, FashionSplit::Test)
        .unwrap_err()
        .to_string()
        .contains("3 labels for 4 images"));
    std::fs::remove_file(set.join("t10k-labels-idx1-ubyte")).unwrap();
    assert!(load(&set, FashionSplit::Test)
        .unwrap_err()
        .to_string()
        .contains("dataset-fashion-mnist"));
    assert!(fashion::locate(Some(&set.join("nope"))).is_err());
}

/// Needs `apt-get install dataset-fashion-mnist`; run with `cargo test -- --ignored`.
#[test]
#[ignore = "needs the Debian package dataset-fashion-mnist"]
fn debian_package_files_load() {
    let dir = fashion::locate(None).unwrap();
    let test = load(&dir, FashionSplit::Test).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!((test.rows, test.cols), (28, 28));
    assert_eq!(load(&dir, FashionSplit::Validation).unwrap().len(), 5_000);
}

#[test]
fn fashion_images_serve_capped_splits_and_a_non_repeating_stream() {
    use dnlts::data::source::{FashionImages, ImageSource, Split};
    let dir = temp_dir("fashion-source");
    make_set(&dir, true);
    let source = FashionImages::load(&dir, 10, 3, 7).unwrap();
    assert_eq!((source.image_size(), source.classes()), (32, 10));
    assert_eq!(source.len(Split::Train), 10, "capped at train_images");
    assert_eq!(source.len(Split::Validation), 2, "only 2 validation rows exist");
    assert_eq!(source.len(Split::Test), 3, "capped at eval_images");
    let (images, labels) = source.labelled(Split::Test, &[2, 0]);
    assert_eq!(images.size(), [2, 3, 32, 32]);
    assert_eq!(Vec::<i64>::try_from(labels).unwrap(), [2, 0]);
    assert!((images.double_value(&[0, 1, 5, 5]) - 20.0 / 255.0).abs() < 1e-6);
    // 22 training rows: stream indices 1 and 23 augment the same image differently.
    let stream = source.stream(0..24);
    assert!(stream.equal(&source.stream(0..24)), "the stream is a function of the index");
    assert!(!stream.get(1).equal(&stream.get(23)), "no stream image repeats");
    assert!(stream.get(1).equal(&source.stream(1..2).get(0)), "batching does not matter");
}
