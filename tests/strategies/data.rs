//! The proptest strategies of the data tests (`data_augment`, `data_noise`, `data_resize`,
//! which include this file as their `strategies` module); the metric tests' are in `mod.rs`.
// Each test binary uses a subset of these.
#![allow(dead_code)]

use dnlts::data::augment::AugmentConfig;
use image::RgbImage;
use proptest::prelude::*;

/// Small RGB images of any content, 1..=12 pixels a side.
pub fn small_image() -> impl Strategy<Value = RgbImage> {
    (1u32..=12, 1u32..=12).prop_flat_map(|(w, h)| {
        proptest::collection::vec(any::<u8>(), (w * h * 3) as usize)
            .prop_map(move |bytes| RgbImage::from_raw(w, h, bytes).expect("sized buffer"))
    })
}

pub fn strength() -> impl Strategy<Value = f32> {
    prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..=1.0]
}

/// Any augmentation configuration with strengths in [0, 1].
pub fn augment_config() -> impl Strategy<Value = AugmentConfig> {
    proptest::collection::vec(strength(), 9).prop_map(|s| AugmentConfig {
        scale: s[0],
        rotation: s[1],
        shift: s[2],
        noise: s[3],
        blur: s[4],
        brightness: s[5],
        contrast: s[6],
        color: s[7],
        mirror: s[8],
    })
}

/// A configuration with exactly one op switched on (index `op` in field order).
pub fn single_op(op: usize, strength: f32) -> AugmentConfig {
    let mut c = AugmentConfig::default();
    let field = match op {
        0 => &mut c.scale,
        1 => &mut c.rotation,
        2 => &mut c.shift,
        3 => &mut c.noise,
        4 => &mut c.blur,
        5 => &mut c.brightness,
        6 => &mut c.contrast,
        7 => &mut c.color,
        _ => &mut c.mirror,
    };
    *field = strength;
    c
}

pub fn seed_and_index() -> impl Strategy<Value = (u64, u64)> {
    (any::<u64>(), any::<u64>())
}

/// Proptest configuration with `cases` cases whose failures are saved to `file` (relative to
/// the crate root, e.g. `proptest-regressions/data_augment.txt`) and replayed first next time.
/// Integration tests need an explicit path: proptest's default only works beside `src/`.
pub fn config(cases: u32, file: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            file,
        ))),
        ..ProptestConfig::default()
    }
}
