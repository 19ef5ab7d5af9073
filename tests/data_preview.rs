//! Preview grids are byte-identical whatever the thread count.

use dnlts::data::preview::{grid, grid_png};
use dnlts::data::synthetic::SyntheticConfig;

#[test]
fn png_bytes_are_identical_across_thread_pools() {
    let cfg = SyntheticConfig::default();
    let make = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| grid_png(&cfg, 20).unwrap())
    };
    let one = make(1);
    assert_eq!(one, make(3));
    assert_eq!(&one[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn grid_has_one_labelled_cell_per_sample() {
    let cfg = SyntheticConfig::default();
    // 20 samples → 5 columns × 4 rows of (32 + 2) × (32 + 8 + 2) cells plus a 2-px margin.
    let img = grid(&cfg, 20).unwrap();
    assert_eq!(img.dimensions(), (5 * 34 + 2, 4 * 42 + 2));
    // The label strip of the first cell holds white digit pixels.
    let strip_has_ink = (2..34).any(|x| (36..42).any(|y| img.get_pixel(x, y).0 == [255, 255, 255]));
    assert!(strip_has_ink);
}

#[test]
fn unlabeled_sources_get_no_label_ink() {
    use dnlts::data::preview::grid_of;
    use dnlts::data::source::{Split, SyntheticImages};
    let source =
        SyntheticImages { config: SyntheticConfig::default(), train_images: 0, eval_images: 0 };
    let img = grid_of(&source, Split::Stream, 4).unwrap();
    assert_eq!(img.dimensions(), (2 * 34 + 2, 2 * 42 + 2));
    let strip_has_ink = (2..34).any(|x| (36..42).any(|y| img.get_pixel(x, y).0 == [255, 255, 255]));
    assert!(!strip_has_ink);
}

#[test]
fn saving_where_no_folder_can_be_made_names_the_path() {
    let cfg = SyntheticConfig::default();
    let ok = std::env::temp_dir().join(format!("dnlts-grid-{}.png", std::process::id()));
    // Missing folders are created; under a regular file none can be.
    std::fs::write(&ok, b"a file").unwrap();
    let path = ok.join("x/grid.png");
    let err = dnlts::data::preview::save_grid(&cfg, 2, &path).unwrap_err().to_string();
    assert!(err.contains(&ok.display().to_string()), "{err}");
    dnlts::data::preview::save_grid(&cfg, 2, &ok).unwrap();
    assert_eq!(std::fs::read(&ok).unwrap(), grid_png(&cfg, 2).unwrap());
    std::fs::remove_file(ok).unwrap();
}
