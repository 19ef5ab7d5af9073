//! Damaged inputs and things that are not files (issue #15): truncated JPEG/PNG files are
//! counted skips named in each reader's report, FIFOs in a walked folder are skipped without
//! being opened (the walk ends), a symbolic-link loop is an error, and a preview grid is
//! bounded by memory.

mod common;

use common::{jpeg_bytes, png_bytes, temp_dir, textured, write};
use dnlts::data::batch::{spawn, LoaderConfig, Order};
use dnlts::data::imagenet::{self, ImageNetSplit};
use dnlts::data::resize::EvalTransform;
use dnlts::data::source::{ImageSource, Split};
use dnlts::data::{decode_rgb, manifest, preview, yfcc, DataError, FailureBudget, SkipReason};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const SMALL: EvalTransform = EvalTransform { resize: 40, crop: 32 };

/// Runs `work` on a thread and fails the test if it has not finished within 20 s (a read of a
/// FIFO that nobody writes would never return).
fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not finish within 20 s: it blocked"))
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

fn file_name(name: &str) -> String {
    Path::new(name).file_name().unwrap().to_string_lossy().into()
}

fn zip_shard(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn every_cut_of_a_jpeg_or_png_is_undecodable() {
    let img = textured(64, 48, 3);
    for (format, bytes) in [("jpeg", jpeg_bytes(&img)), ("png", png_bytes(&img))] {
        assert_eq!(decode_rgb(&bytes).unwrap().dimensions(), (64, 48), "{format}");
        // Cutting the last bytes of a PNG leaves its pixels whole but its IEND chunk cut: the
        // decoder accepted those files before.
        let accepted: Vec<usize> =
            (0..bytes.len()).filter(|&n| decode_rgb(&bytes[..n]).is_ok()).collect();
        assert!(
            accepted.is_empty(),
            "{format} of {} bytes cut to {accepted:?} decodes",
            bytes.len()
        );
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode_rgb(&bytes[..cut]).unwrap_err(), SkipReason::Undecodable);
        }
        // Bytes after the end marker (IEND, EOI) do not make a file damaged.
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b"trailing bytes");
        assert!(decode_rgb(&trailing).is_ok(), "{format} with trailing bytes");
    }
}

#[test]
fn imagenet_skips_truncated_files_counts_and_names_them() {
    let root = temp_dir("damaged-imagenet");
    for (c, wnid) in ["n01440764", "n01443537"].iter().enumerate() {
        for i in 0..3u32 {
            let img = textured(48, 40, i + 3 * c as u32);
            write(&root.join(format!("train/{wnid}/img_{i}.JPEG")), &jpeg_bytes(&img));
        }
    }
    let png = png_bytes(&textured(48, 40, 7));
    let jpeg = jpeg_bytes(&textured(48, 40, 8));
    let dir = root.join("train/n01443537");
    write(&dir.join("good.png"), &png);
    write(&dir.join("cut_iend.png"), &png[..png.len() - 2]);
    write(&dir.join("cut_eoi.JPEG"), &jpeg[..jpeg.len() - 2]);
    let folder = imagenet::open(&root, ImageNetSplit::Train, SMALL).unwrap();
    let set = imagenet::ImageNet::from(folder.clone());
    assert_eq!(set.len(Split::Train), 9);
    let failed: Vec<(String, SkipReason)> = (0..set.len(Split::Train))
        .filter_map(|i| {
            set.load(Split::Train, i).err().map(|r| (file_name(&set.name(Split::Train, i)), r))
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("cut_eoi.JPEG".to_string(), SkipReason::Undecodable),
            ("cut_iend.png".to_string(), SkipReason::Undecodable)
        ]
    );
    let good = folder.items.iter().position(|(p, _)| p.ends_with("good.png")).unwrap();
    assert_eq!(set.load(Split::Train, good as u64).unwrap().image.dimensions(), (32, 32));

    let set = Arc::new(set);
    let cfg = LoaderConfig {
        batch_size: 4,
        budget: FailureBudget { max_fraction: 0.5 },
        ..LoaderConfig::default()
    };
    let mut it =
        spawn(set.clone(), Split::Train, Order::Range { start: 0, end: 9 }, cfg.clone()).unwrap();
    assert_eq!(it.by_ref().map(|b| b.unwrap().len()).sum::<usize>(), 7);
    let skipped: Vec<String> = it.skipped().iter().map(|s| file_name(&s.name)).collect();
    assert_eq!(skipped, ["cut_eoi.JPEG", "cut_iend.png"]);
    let cfg = LoaderConfig { budget: FailureBudget::default(), ..cfg };
    let err =
        spawn(set, Split::Train, Order::Range { start: 0, end: 9 }, cfg).unwrap().last().unwrap();
    let err = err.unwrap_err().to_string();
    assert!(err.contains("2 of 9") && err.contains("cut_iend.png"), "{err}");
}

#[test]
fn yfcc_rejects_truncated_pngs_in_folders_and_shards() {
    let root = temp_dir("damaged-yfcc");
    let png = png_bytes(&textured(64, 64, 5));
    assert!(png.len() > yfcc::MIN_FILE_BYTES);
    write(&root.join("a/good.png"), &png);
    write(&root.join("a/cut.png"), &png[..png.len() - 3]);
    zip_shard(
        &root.join("shard.zip"),
        &[("good.png", png.clone()), ("cut.png", png[..png.len() - 1].to_vec())],
    );
    let mut stream = yfcc::open(&root, FailureBudget { max_fraction: 0.5 }).unwrap();
    let accepted: Vec<String> = stream.by_ref().map(|r| r.unwrap().name).collect();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    let stats = stream.stats();
    assert_eq!((stats.seen, stats.accepted), (4, 2));
    assert_eq!(stats.rejected.get("Undecodable"), Some(&2));
    let names: Vec<&str> = stats.skipped.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names[0].ends_with("a/cut.png") && names[1].ends_with("shard.zip:cut.png"),
        "{names:?}"
    );
}

#[test]
fn a_fifo_in_an_imagenet_folder_is_a_counted_skip_never_opened() {
    let root = temp_dir("fifo-imagenet");
    for i in 0..3u32 {
        write(&root.join(format!("train/n01/img_{i}.JPEG")), &jpeg_bytes(&textured(48, 40, i)));
    }
    mkfifo(&root.join("train/n01/pipe.JPEG"));
    mkfifo(&root.join("train/n01/other.fifo"));
    let dir = root.to_path_buf();
    let (names, reasons, skipped, err) = within("imagenet with a FIFO", move || {
        let folder = imagenet::open(&dir, ImageNetSplit::Train, SMALL).unwrap();
        let set = Arc::new(imagenet::ImageNet::from(folder));
        let n = set.len(Split::Train);
        let names: Vec<String> = (0..n).map(|i| file_name(&set.name(Split::Train, i))).collect();
        let reasons: Vec<_> = (0..n).map(|i| set.load(Split::Train, i).err()).collect();
        let cfg =
            LoaderConfig { budget: FailureBudget { max_fraction: 0.5 }, ..Default::default() };
        let mut it =
            spawn(set.clone(), Split::Train, Order::Range { start: 0, end: 4 }, cfg.clone())
                .unwrap();
        assert_eq!(it.by_ref().map(|b| b.unwrap().len()).sum::<usize>(), 3);
        let skipped = it.skipped();
        let cfg = LoaderConfig { budget: FailureBudget::default(), ..cfg };
        let last = spawn(set, Split::Train, Order::Range { start: 0, end: 4 }, cfg)
            .unwrap()
            .last()
            .unwrap();
        (names, reasons, skipped, last.unwrap_err().to_string())
    });
    assert_eq!(names, ["img_0.JPEG", "img_1.JPEG", "img_2.JPEG", "pipe.JPEG"]);
    assert_eq!(reasons, [None, None, None, Some(SkipReason::NotRegularFile)]);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].name.ends_with("pipe.JPEG"));
    assert!(err.contains("pipe.JPEG (NotRegularFile)") && err.contains("1 of 4"), "{err}");
}

#[test]
fn fifos_in_place_of_imagenet_and_fashion_metadata_are_errors() {
    let root = temp_dir("fifo-imagenet-meta");
    write(&root.join("val/a.JPEG"), &jpeg_bytes(&textured(48, 40, 1)));
    write(&root.join("train/n01/a.JPEG"), &jpeg_bytes(&textured(48, 40, 2)));
    mkfifo(&root.join("val_labels.txt"));
    let dir = root.to_path_buf();
    let err = within("val_labels.txt FIFO", move || {
        imagenet::open(&dir, ImageNetSplit::Val, SMALL).unwrap_err()
    });
    assert!(matches!(err, DataError::NotRegularFile { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("val_labels.txt") && text.contains("FIFO"), "{text}");

    mkfifo(&root.join("synsets.txt"));
    let dir = root.to_path_buf();
    let err = within("synsets.txt FIFO", move || {
        imagenet::open(&dir, ImageNetSplit::Train, SMALL).unwrap_err().to_string()
    });
    assert!(err.contains("synsets.txt") && err.contains("not a regular file"), "{err}");

    mkfifo(&root.join("fashion/train-images-idx3-ubyte"));
    write(&root.join("fashion/train-labels-idx1-ubyte"), &[0, 0, 8, 1, 0, 0, 0, 1, 3]);
    let dir = root.join("fashion");
    let err = within("Fashion-MNIST FIFO", move || {
        dnlts::data::fashion::load(&dir, dnlts::data::fashion::FashionSplit::Train)
            .unwrap_err()
            .to_string()
    });
    assert!(err.contains("train-images-idx3-ubyte") && err.contains("FIFO"), "{err}");
}

#[test]
fn fifos_in_a_yfcc_tree_are_counted_rejections_never_opened() {
    let root = temp_dir("fifo-yfcc");
    for i in 0..3 {
        write(&root.join(format!("a/{i:03}.jpg")), &jpeg_bytes(&textured(64, 64, i)));
    }
    mkfifo(&root.join("a/pipe.jpg"));
    mkfifo(&root.join("shard-pipe.zip"));
    mkfifo(&root.join("notes"));
    let dir = root.to_path_buf();
    let (accepted, stats) = within("YFCC stream with FIFOs", move || {
        let mut stream = yfcc::open(&dir, FailureBudget { max_fraction: 0.5 }).unwrap();
        assert_eq!(stream.len(), 5);
        let accepted = stream.by_ref().inspect(|r| assert!(r.is_ok(), "{r:?}")).count();
        (accepted, stream.stats().clone())
    });
    assert_eq!(accepted, 3);
    assert_eq!(stats.rejected.get("NotRegularFile"), Some(&2));
    let names: Vec<String> = stats.skipped.iter().map(|s| file_name(&s.name)).collect();
    assert_eq!(names, ["pipe.jpg", "shard-pipe.zip"]);
    let dir = root.to_path_buf();
    let err = within("YFCC stream with FIFOs, default budget", move || {
        let stream = yfcc::open(&dir, FailureBudget::default()).unwrap();
        stream.filter_map(|r| r.err()).next().unwrap().to_string()
    });
    assert!(err.contains("pipe.jpg (NotRegularFile)"), "{err}");
}

#[test]
fn manifest_skips_fifos_with_a_note_and_still_checks_the_rest() {
    let root = temp_dir("fifo-manifest");
    write(&root.join("a.jpg"), b"aaa");
    write(&root.join("sub/b.jpg"), b"bbb");
    mkfifo(&root.join("sub/pipe"));
    let dir = root.to_path_buf();
    let (written, report) = within("manifest with a FIFO", move || {
        (manifest::write_report(&dir).unwrap(), manifest::verify(&dir).unwrap())
    });
    assert_eq!(written.files, 2);
    let skipped: Vec<String> = written.skipped.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        skipped,
        ["sub/pipe is a FIFO (named pipe), not a regular file: not opened, not hashed"]
    );
    assert!(report.is_ok() && report.checked == 2, "{report:?}");
    assert_eq!(report.skipped, written.skipped);
    let text = std::fs::read_to_string(root.join(manifest::MANIFEST_NAME)).unwrap();
    assert!(!text.contains("pipe"), "{text}");

    // A listed file that became a FIFO is missing; a FIFO manifest is an error naming it.
    std::fs::remove_file(root.join("a.jpg")).unwrap();
    mkfifo(&root.join("a.jpg"));
    let dir = root.to_path_buf();
    let report = within("verify", move || manifest::verify(&dir).unwrap());
    assert_eq!(report.missing, ["a.jpg"]);
    assert!(!report.is_ok());
    std::fs::remove_file(root.join(manifest::MANIFEST_NAME)).unwrap();
    mkfifo(&root.join(manifest::MANIFEST_NAME));
    let dir = root.to_path_buf();
    let err = within("verify", move || manifest::verify(&dir).unwrap_err().to_string());
    assert!(err.contains("MANIFEST.sha256 is a FIFO"), "{err}");
}

#[test]
fn a_symlink_loop_is_an_error_naming_the_link() {
    let root = temp_dir("symlink-loop");
    write(&root.join("a/001.jpg"), &jpeg_bytes(&textured(64, 64, 1)));
    // Two links back up: without loop detection the walk doubles at every level.
    std::os::unix::fs::symlink("..", root.join("a/up")).unwrap();
    std::os::unix::fs::symlink("..", root.join("a/again")).unwrap();
    let dir = root.to_path_buf();
    let (yfcc_err, manifest_err) = within("walk with a symlink loop", move || {
        let y = match yfcc::open(&dir, FailureBudget::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a symlink loop must be reported"),
        };
        (y, manifest::write(&dir).unwrap_err().to_string())
    });
    for err in [yfcc_err, manifest_err] {
        assert!(err.contains("a/again") && err.contains("contains it"), "{err}");
    }
    // A link to a folder beside it (no loop) is followed, and the folder walked once.
    let root = temp_dir("symlink-ok");
    write(&root.join("real/001.jpg"), &jpeg_bytes(&textured(64, 64, 1)));
    std::os::unix::fs::symlink("real", root.join("link")).unwrap();
    assert_eq!(yfcc::open(&root, FailureBudget::default()).unwrap().len(), 1);
}

/// 41 levels, each with two links to the next and one image: 2^40 paths, 41 real folders.
/// Each real folder is walked once, so the walk ends at once with 41 images.
#[test]
fn a_symlink_tree_without_a_loop_is_walked_once_per_real_folder() {
    let root = temp_dir("symlink-tree");
    let image = jpeg_bytes(&textured(64, 64, 1));
    for level in 0..41 {
        write(&root.join(format!("level{level:02}/{level:02}.jpg")), &image);
        if level < 40 {
            for link in ["a", "b"] {
                let next = format!("../level{:02}", level + 1);
                std::os::unix::fs::symlink(next, root.join(format!("level{level:02}/{link}")))
                    .unwrap();
            }
        }
    }
    let dir = root.join("level00");
    let (images, listed) = within("a symlink tree", move || {
        let images = yfcc::open(&dir, FailureBudget::default()).unwrap().len();
        manifest::write(&dir).unwrap();
        (images, std::fs::read_to_string(dir.join("MANIFEST.sha256")).unwrap())
    });
    assert_eq!(images, 41);
    assert_eq!(listed.lines().count(), 41, "{listed}");
    assert!(listed.contains("  a/01.jpg") && !listed.contains("b/01.jpg"), "{listed}");
}

#[test]
fn a_preview_grid_is_bounded_by_memory_and_the_source() {
    use dnlts::data::synthetic::SyntheticConfig;
    let cfg = SyntheticConfig::default();
    let err = preview::grid(&cfg, 0).unwrap_err().to_string();
    assert_eq!(err, "invalid value n = 0: a grid needs at least 1 image; set n to 1 or more");
    let err = preview::check_grid("--n", 2_000_000, 1 << 20, 32, 32).unwrap_err().to_string();
    assert!(err.contains("only 1048576 images") && err.contains("--n to at most 1048576"), "{err}");

    // Over 1 GiB: refused before anything is loaded, with the largest count that fits.
    let err = preview::check_grid("--n", 1 << 20, 1 << 20, 32, 32).unwrap_err().to_string();
    assert!(err.contains("limit of 1 GiB"), "{err}");
    let fits: u64 = err.rsplit("at most ").next().unwrap().parse().unwrap();
    assert!(preview::grid_bytes(fits, 32, 32) <= preview::MAX_GRID_BYTES);
    assert!(preview::grid_bytes(fits + 1, 32, 32) > preview::MAX_GRID_BYTES);
    assert!((50_000..200_000).contains(&fits), "{fits}");
    let err = preview::check_grid("n", 1, 10, 40_000, 40_000).unwrap_err().to_string();
    assert!(err.contains("not even one image"), "{err}");
    assert_eq!(preview::grid_bytes(u64::MAX, u32::MAX, u32::MAX), u64::MAX);

    // The estimate matches what is drawn: 20 tiles → 5×4 cells.
    let img = preview::grid(&cfg, 20).unwrap();
    let canvas = img.as_raw().len() as u64;
    assert_eq!(preview::grid_bytes(20, 32, 32), 2 * canvas + 20 * 32 * 32 * 3);
}

/// A damaged file counts once against the failure budget however often it is read (each epoch,
/// and as the replacement tried for its neighbours), and the budget's message names distinct
/// files and no option that does not exist.
#[test]
fn the_failure_budget_counts_files_not_reads() {
    let root = temp_dir("budget-files");
    let good = jpeg_bytes(&textured(48, 40, 1));
    for i in 0..19 {
        let bytes = if i < 3 { good.clone() } else { good[..good.len() / 2].to_vec() };
        write(&root.join(format!("train/n01440764/{i:02}.JPEG")), &bytes);
    }
    let set = imagenet::ImageNet::from(imagenet::open(&root, ImageNetSplit::Train, SMALL).unwrap());
    let all: Vec<u64> = (0..19).collect();
    for _epoch in 0..5 {
        let _ = set.labelled(Split::Train, &all);
    }
    let skipped = set.skip_log().unwrap().snapshot();
    assert_eq!(skipped.len(), 16, "each damaged file once");
    let error = FailureBudget::default().check(19, &skipped).unwrap_err().to_string();
    assert!(error.starts_with("16 of 19 files failed to load (84.21% > allowed 1.00%)"), "{error}");
    let examples: std::collections::BTreeSet<&str> =
        error.split("examples: ").nth(1).unwrap().split(", ").collect();
    assert_eq!(examples.len(), 5, "five distinct examples: {error}");
    assert!(!error.contains("failure budget"), "no option sets it: {error}");

    // Before a run reads them: a split this small is decoded whole and held to the budget.
    let (tried, failed) = dnlts::data::source::failures_in_sample(&set, Split::Train, 1_000);
    assert_eq!((tried, failed.len()), (19, 16));
    let error = FailureBudget::default().check_sample(tried, 19, &failed).unwrap_err();
    assert!(error.to_string().starts_with("16 of 19 files failed"), "{error}");
}

/// A split of 100,000 images where a share `per_mille`/1000 of them (spread by a hash) fails.
struct Damaged {
    per_mille: f32,
}

impl ImageSource for Damaged {
    fn image_size(&self) -> i64 {
        1
    }
    fn classes(&self) -> i64 {
        1
    }
    fn len(&self, _: Split) -> u64 {
        100_000
    }
    fn load(&self, _: Split, index: u64) -> Result<dnlts::data::source::Sample, SkipReason> {
        if dnlts::data::hash_unit(7, index) * 1000.0 < self.per_mille {
            return Err(SkipReason::Undecodable);
        }
        Ok(dnlts::data::source::Sample { image: image::RgbImage::new(1, 1), label: 0 })
    }
}

/// On a sample of a large split, only a share far above the budget stops the run before
/// training (the exact count is checked as the files are read): 10 % does, 0.5 % and 2 % do not.
#[test]
fn a_sample_of_a_large_split_stops_only_far_past_the_budget() {
    let budget = FailureBudget::default();
    for (per_mille, stops) in [(100.0, true), (5.0, false), (20.0, false)] {
        let source = Damaged { per_mille };
        let (tried, failed) = dnlts::data::source::failures_in_sample(&source, Split::Train, 1_000);
        assert_eq!(tried, 1_000);
        let checked = budget.check_sample(tried, 100_000, &failed);
        assert_eq!(checked.is_err(), stops, "{per_mille}‰: {} failed, {checked:?}", failed.len());
        if let Err(error) = checked {
            let error = error.to_string();
            assert!(error.contains("of 1000 files sampled evenly from 100000"), "{error}");
        }
    }
}

/// A damaged zip shard is described in words, not in the zip library's terms ("Invalid
/// EOCD64", "No CDFH found"), naming the shard and the fix.
#[test]
fn a_damaged_zip_shard_is_described_in_words() {
    let root = temp_dir("damaged-zip-words");
    let png = png_bytes(&textured(64, 64, 5));
    zip_shard(&root.join("whole.zip"), &[("a.png", png.clone()), ("b.png", png)]);
    let whole = std::fs::read(root.join("whole.zip")).unwrap();
    let cases = [("cut.zip", whole[..whole.len() / 2].to_vec()), ("junk.zip", vec![7u8; 4096])];
    for (name, bytes) in cases {
        let dir = root.join(name.trim_end_matches(".zip"));
        write(&dir.join(name), &bytes);
        let error = yfcc::open(&dir, FailureBudget::default()).err().expect(name).to_string();
        assert!(error.contains(&dir.join(name).display().to_string()), "{error}");
        assert!(error.contains("not a complete zip archive") && error.contains("re-download"));
        for raw in ["EOCD", "CDFH", "invalid Zip archive"] {
            assert!(!error.contains(raw), "{name}: {error}");
        }
    }
}
