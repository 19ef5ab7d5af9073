//! YFCC100m-style stream: filter reasons, zip shards, single pass, failure budget.

mod common;

use common::{jpeg_bytes, junk, png_bomb, png_bytes, temp_dir, textured, write};
use dnlts::data::yfcc::{self, filter, open, MIN_FILE_BYTES, PLACEHOLDER_BYTES};
use dnlts::data::{FailureBudget, SkipReason};
use image::{Rgb, RgbImage};
use std::io::{Read, Write};
use std::path::Path;

fn zip_shard(path: &Path, members: &[(&str, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn filter_rejects_each_kind_of_non_photo() {
    let photo = jpeg_bytes(&textured(64, 64, 1));
    assert!(photo.len() > MIN_FILE_BYTES, "fixture photo too small: {}", photo.len());
    assert!(filter(&photo).is_ok());
    assert_eq!(filter(&[]).unwrap_err(), SkipReason::SmallFile);
    assert_eq!(filter(&photo[..2000]).unwrap_err(), SkipReason::SmallFile);
    assert_eq!(filter(&junk(PLACEHOLDER_BYTES)).unwrap_err(), SkipReason::Placeholder);
    assert_eq!(filter(&junk(PLACEHOLDER_BYTES + 1)).unwrap_err(), SkipReason::Undecodable);
    assert_eq!(filter(&photo[..photo.len() - 900]).unwrap_err(), SkipReason::Undecodable);
    // A uniform PNG large enough to pass the size filter.
    let grey = png_bytes(&RgbImage::from_fn(300, 300, |x, y| {
        let v = 120 + ((x + y) % 3) as u8; // std ≈ 0.8 levels: "single colour"
        Rgb([v, v, v])
    }));
    assert!(grey.len() > MIN_FILE_BYTES, "{}", grey.len());
    assert_eq!(filter(&grey).unwrap_err(), SkipReason::NearUniform);
    let mut bomb = png_bomb(60_000, 60_000);
    bomb.resize(3000, 0);
    assert_eq!(filter(&bomb).unwrap_err(), SkipReason::TooLarge);
}

#[test]
fn uniform_threshold_sits_between_flat_and_textured() {
    let flat = RgbImage::from_pixel(16, 16, Rgb([10, 200, 30]));
    assert_eq!(yfcc::max_channel_std(&flat), 0.0);
    // Two-level checkerboard 0/10 has std 5 > 4: kept as a (dull) photo.
    let checker = RgbImage::from_fn(16, 16, |x, y| Rgb([((x + y) % 2 * 10) as u8, 0, 0]));
    assert!((yfcc::max_channel_std(&checker) - 5.0).abs() < 1e-9);
    assert!(yfcc::max_channel_std(&checker) >= yfcc::UNIFORM_STD_THRESHOLD);
}

#[test]
fn stream_reads_folders_and_zip_shards_once_with_counts() {
    let root = temp_dir("yfcc-stream");
    let photo = |salt| jpeg_bytes(&textured(64, 64, salt));
    write(&root.join("a/001.jpg"), &photo(1));
    write(&root.join("a/002.jpg"), &junk(PLACEHOLDER_BYTES));
    write(&root.join("b/003.jpg"), &[]);
    write(&root.join("b/notes.txt"), b"ignored: not an image name");
    let truncated = photo(4);
    zip_shard(
        &root.join("shard-0000.zip"),
        &[
            ("x/010.jpg", photo(10)),
            ("x/011.jpg", truncated[..truncated.len() - 800].to_vec()),
            ("x/012.jpg", photo(12)),
            ("readme.txt", b"not an image".to_vec()),
        ],
    );
    let mut stream = open(&root, FailureBudget { max_fraction: 0.5 }).unwrap();
    assert_eq!(stream.len(), 6);
    let names: Vec<String> = stream.by_ref().map(|r| r.unwrap().name).collect();
    let short: Vec<&str> = names.iter().map(|n| &n[n.len() - 7..]).collect();
    assert_eq!(short, ["001.jpg", "010.jpg", "012.jpg"]);
    let stats = stream.stats();
    assert_eq!((stats.seen, stats.accepted), (6, 3));
    let counts: Vec<(&str, u64)> = stats.rejected.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(counts, [("Placeholder", 1), ("SmallFile", 1), ("Undecodable", 1)]);
    assert_eq!(stats.skipped.len(), 3);
    assert!(stats.skipped.iter().any(|s| s.name.ends_with("shard-0000.zip:x/011.jpg")));
    assert!(stream.next().is_none(), "each image is streamed once");
}

#[test]
fn chunks_preserve_order_and_budget_stops_the_stream() {
    let root = temp_dir("yfcc-budget");
    for i in 0..6 {
        write(&root.join(format!("{i:03}.jpg")), &jpeg_bytes(&textured(64, 64, i)));
    }
    write(&root.join("999.jpg"), &junk(5000));
    let mut stream = open(&root, FailureBudget::default()).unwrap();
    let first = stream.next_chunk(4).unwrap();
    assert_eq!(first.len(), 4);
    assert!(first[0].name.ends_with("000.jpg") && first[3].name.ends_with("003.jpg"));
    assert_eq!(first.iter().map(|i| i.position).collect::<Vec<_>>(), [0, 1, 2, 3]);
    // The last chunk reaches the end: 1 undecodable of 7 is over 1 %.
    let err = stream.next_chunk(10).unwrap_err().to_string();
    assert!(err.contains("999.jpg") && err.contains("1 of 7"), "{err}");
    assert!(open(&root.join("missing"), FailureBudget::default()).is_err());
}

#[test]
fn a_corrupt_shard_is_a_clear_error() {
    let root = temp_dir("yfcc-badzip");
    write(&root.join("shard.zip"), &junk(4000));
    let err = match open(&root, FailureBudget::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a corrupt shard must be reported"),
    };
    assert!(err.contains("shard.zip"), "{err}");
}

#[test]
fn the_yfcc_source_reads_folders_and_shards_by_position_independent_of_threads() {
    use dnlts::data::batch::{spawn, LoaderConfig, Order};
    use dnlts::data::source::{ImageSource, Split};
    use std::sync::Arc;
    let root = temp_dir("yfcc-source");
    for i in 0..5u32 {
        write(&root.join(format!("{i:03}.jpg")), &jpeg_bytes(&textured(60 + 9 * i, 50, i)));
    }
    write(&root.join("003b.jpg"), &junk(PLACEHOLDER_BYTES));
    let members = [5u32, 6].map(|i| (format!("{i:03}.jpg"), jpeg_bytes(&textured(70, 50, i))));
    let mut members: Vec<(&str, Vec<u8>)> =
        members.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    members.insert(1, ("005b.jpg", Vec::new()));
    zip_shard(&root.join("shard.zip"), &members);
    // Sorted: 000 001 002 003 003b 004 shard.zip:{005 005b 006}.
    let source = Arc::new(yfcc::Yfcc::open(&root, 16, 7).unwrap());
    assert_eq!(source.len(Split::Stream), 9);
    assert_eq!(source.len(Split::Train), 0);
    assert!(source.name(Split::Stream, 7).ends_with("shard.zip:005b.jpg"));
    let run = |threads| {
        let cfg = LoaderConfig { batch_size: 3, threads, ..LoaderConfig::default() };
        let mut it =
            spawn(source.clone(), Split::Stream, Order::Range { start: 0, end: 9 }, cfg).unwrap();
        let batches: Vec<_> = it.by_ref().map(|b| b.unwrap()).collect();
        (batches, it.skipped())
    };
    let (batches, skipped) = run(1);
    assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [3, 2, 2]);
    let positions: Vec<u64> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(positions, [0, 1, 2, 3, 5, 6, 8]);
    assert!(batches.iter().all(|b| b.pixels.len() == b.len() * 16 * 16 * 3));
    let reasons: Vec<SkipReason> = skipped.iter().map(|s| s.reason).collect();
    assert_eq!(reasons, [SkipReason::Placeholder, SkipReason::SmallFile]);
    assert_eq!(run(2).0, batches);
    // The pipeline's batches keep their size: a filtered entry is replaced by the next one.
    let stream = source.stream(3..6);
    assert_eq!(stream.size(), [3, 3, 16, 16]);
    assert!(stream.get(1).equal(&source.stream(5..6).get(0)));
    let logged = source.skip_log().unwrap().snapshot();
    assert!(logged.len() == 1 && logged[0].name.ends_with("003b.jpg"), "{logged:?}");
    // Past the end the tree is read again with new augmentations.
    assert!(!source.stream(9..10).equal(&source.stream(0..1)));
}

#[test]
fn oversized_files_are_too_large_before_decoding() {
    use dnlts::data::{read_stream_capped, MAX_FILE_BYTES};
    let huge = std::io::repeat(0xAB).take(MAX_FILE_BYTES + 1);
    assert_eq!(read_stream_capped(huge).unwrap_err(), SkipReason::TooLarge);
    let fits = read_stream_capped(std::io::repeat(1).take(4096)).unwrap();
    assert_eq!(fits.len(), 4096);
}

#[test]
fn a_jpeg_announcing_a_huge_frame_is_too_large() {
    let mut bytes = jpeg_bytes(&textured(64, 64, 3));
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG has SOF0");
    // SOF0: marker(2) length(2) precision(1) height(2) width(2).
    bytes[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    assert_eq!(filter(&bytes).unwrap_err(), SkipReason::TooLarge);
}
