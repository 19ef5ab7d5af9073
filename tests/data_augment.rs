//! Augmentation: identity at zero strength, range/shape, determinism, reference checks.

#[path = "strategies/data.rs"]
mod strategies;

use dnlts::data::augment::{augment, AugmentConfig};
use dnlts::data::synthetic::{self, SyntheticConfig};
use proptest::prelude::*;
use rayon::prelude::*;
use strategies::{augment_config, seed_and_index, single_op, small_image};

proptest! {
    #![proptest_config(strategies::config(64, "proptest-regressions/data_augment.txt"))]

    #[test]
    fn zero_strength_is_identity(img in small_image(), (seed, index) in seed_and_index()) {
        prop_assert_eq!(augment(&img, &AugmentConfig::default(), seed, index), img);
    }

    #[test]
    fn each_op_at_zero_is_identity(img in small_image(), op in 0usize..9, (seed, index) in seed_and_index()) {
        prop_assert_eq!(augment(&img, &single_op(op, 0.0), seed, index), img);
    }

    #[test]
    fn shape_is_kept_and_output_is_deterministic(
        img in small_image(), cfg in augment_config(), (seed, index) in seed_and_index()
    ) {
        let a = augment(&img, &cfg, seed, index);
        prop_assert_eq!(a.dimensions(), img.dimensions());
        prop_assert_eq!(augment(&img, &cfg, seed, index), a);
    }

    #[test]
    fn additive_noise_stays_within_its_strength(
        img in small_image(), s in 0.0f32..=1.0, (seed, index) in seed_and_index()
    ) {
        let out = augment(&img, &single_op(3, s), seed, index);
        let bound = 0.1 * 255.0 * s + 0.5;
        for (a, b) in img.as_raw().iter().zip(out.as_raw()) {
            prop_assert!((*a as f32 - *b as f32).abs() <= bound + 1e-3);
        }
    }
}

#[test]
fn full_mirror_equals_a_horizontal_flip() {
    let cfg = SyntheticConfig::default();
    for i in 0..8 {
        let img = synthetic::labelled(&cfg, i).0;
        let flipped = augment(&img, &single_op(8, 1.0), 1, i);
        assert_eq!(flipped, image::imageops::flip_horizontal(&img));
    }
}

#[test]
fn every_op_changes_a_busy_image_at_full_strength() {
    let img = synthetic::labelled(&SyntheticConfig::default(), 0).0;
    for op in 0..9 {
        let changed = (0..4).any(|i| augment(&img, &single_op(op, 1.0), 9, i) != img);
        assert!(changed, "op {op} never changed the image");
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let cfg = SyntheticConfig::default();
    let images: Vec<_> = (0..24).map(|i| synthetic::labelled(&cfg, i).0).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            images
                .par_iter()
                .enumerate()
                .map(|(i, img)| augment(img, &AugmentConfig::standard(), 5, i as u64))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn ops_use_independent_streams() {
    // Turning colour on must not change the rotation drawn for the geometry op: the combined
    // result must equal geometry followed by the same colour op (up to rounding).
    let img = synthetic::labelled(&SyntheticConfig::default(), 3).0;
    let geometry_only = AugmentConfig { rotation: 1.0, ..AugmentConfig::default() };
    let with_color = AugmentConfig { color: 0.5, ..geometry_only };
    let color_only = AugmentConfig { color: 0.5, ..AugmentConfig::default() };
    let combined = augment(&img, &with_color, 4, 3);
    let staged = augment(&augment(&img, &geometry_only, 4, 3), &color_only, 4, 3);
    let max_diff = combined
        .as_raw()
        .iter()
        .zip(staged.as_raw())
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max()
        .unwrap();
    assert!(max_diff <= 2, "max difference {max_diff}");
}
