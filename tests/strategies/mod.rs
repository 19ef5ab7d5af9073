//! Every proptest strategy of the test suite, in one place (metrics and data tests).
// Each test binary uses a subset of these.
#![allow(dead_code)]

use dnlts::data::augment::AugmentConfig;
use image::RgbImage;
use proptest::collection::vec;
use proptest::prelude::*;

/// Two equally long 8-bit buffers. A random alphabet size (1..=256) makes constant images,
/// repeated values and coarse-bin collisions likely rather than vanishingly rare.
pub fn image_pair(max_len: usize) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (1..=max_len, 1u16..=256, 1u16..=256).prop_flat_map(|(len, alphabet_a, alphabet_b)| {
        (
            vec(0..alphabet_a, len).prop_map(|v| v.into_iter().map(|x| x as u8).collect()),
            vec(0..alphabet_b, len).prop_map(|v| v.into_iter().map(|x| x as u8).collect()),
        )
    })
}

/// One 8-bit buffer.
pub fn image(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    image_pair(max_len).prop_map(|(a, _)| a)
}

/// A bin count, including the extremes 1 and 256.
pub fn bins() -> impl Strategy<Value = usize> {
    prop_oneof![Just(256usize), Just(1usize), 1usize..=256]
}

/// A bijection of 0..=255 as a lookup table.
pub fn relabelling() -> impl Strategy<Value = Vec<u8>> {
    Just((0..=255u8).collect::<Vec<u8>>()).prop_shuffle()
}

/// A square table of accuracies in [0, 1] with a positive diagonal, and its size.
pub fn accuracy_matrix(max_n: usize) -> impl Strategy<Value = Vec<Vec<f64>>> {
    (1..=max_n).prop_flat_map(|n| {
        vec(vec(0.0..=1.0f64, n), n).prop_flat_map(move |rows| {
            vec(0.01..=1.0f64, n).prop_map(move |diag| {
                let mut rows = rows.clone();
                diag.iter().enumerate().for_each(|(i, &d)| rows[i][i] = d);
                rows
            })
        })
    })
}

/// A factor that keeps scaled accuracies inside [0, 1].
pub fn shrink_factor() -> impl Strategy<Value = f64> {
    0.01..=1.0f64
}

/// Random context of up to `max_objects × max_attributes` with a random density.
pub fn context(max_objects: usize, max_attributes: usize) -> impl Strategy<Value = Vec<Vec<bool>>> {
    (1..=max_objects, 1..=max_attributes, 0.0..=1.0f64)
        .prop_flat_map(|(g, m, density)| vec(vec(prop::bool::weighted(density), m), g))
}

/// Context of exactly `objects × attributes` with incidence probability `density`.
pub fn sized_context(
    objects: usize,
    attributes: usize,
    density: f64,
) -> impl Strategy<Value = Vec<Vec<bool>>> {
    vec(vec(prop::bool::weighted(density), attributes), objects)
}

/// Gamma-encoded sRGB components in [0, 1].
pub fn srgb_unit() -> impl Strategy<Value = [f64; 3]> {
    [0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64]
}

/// Real-valued table for threshold sweeps, with repeated values likely.
pub fn value_table(max_n: usize) -> impl Strategy<Value = Vec<Vec<f64>>> {
    (1..=max_n, 1..=max_n).prop_flat_map(|(rows, cols)| {
        vec(vec((0u8..8).prop_map(|k| f64::from(k) / 4.0), cols), rows)
    })
}

/// Thresholds spanning below, inside and above [`value_table`]'s values.
pub fn threshold() -> impl Strategy<Value = f64> {
    -0.5..2.5f64
}

// ---- data ----

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
