//! Antialiased bilinear resize against Pillow (fixtures/resize, made by make_fixture.py) and
//! torchvision's size and crop rules.

use dnlts::data::resize::{center_crop_offsets, resize_bilinear, short_side_size, EvalTransform};
use image::{Rgb, RgbImage};
use std::path::PathBuf;

fn fixture(name: &str) -> RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/resize").join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_rgb8()
}

fn max_level_difference(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

#[test]
fn matches_pillow_within_one_level() {
    let input = fixture("input.png");
    for (w, h) in [(13, 9), (20, 29), (41, 50), (97, 61), (7, 5), (30, 22)] {
        let reference = fixture(&format!("out_{w}x{h}.png"));
        let ours = resize_bilinear(&input, w, h);
        let diff = max_level_difference(&ours, &reference);
        assert!(diff <= 1, "{w}x{h}: max difference {diff} levels");
    }
}

#[test]
fn eval_transform_matches_pillow_and_torchvision_crop() {
    let input = fixture("input_eval.png");
    for crop in [33, 35] {
        let reference = fixture(&format!("eval_40_{crop}.png"));
        let ours = EvalTransform { resize: 40, crop }.apply(&input, "input_eval.png").unwrap();
        let diff = max_level_difference(&ours, &reference);
        assert!(diff <= 1, "crop {crop}: max difference {diff} levels");
    }
}

#[test]
fn torchvision_sizes_and_offsets() {
    // Short side to 256, long side truncated: 500x375 → 341x256 (256*500/375 = 341.33).
    assert_eq!(short_side_size(500, 375, 256), (341, 256));
    assert_eq!(short_side_size(375, 500, 256), (256, 341));
    assert_eq!(short_side_size(300, 300, 342), (342, 342));
    // Python round() is half-to-even: (257-224)/2 = 16.5 → 16, (259-224)/2 = 17.5 → 18.
    assert_eq!(center_crop_offsets(257, 259, 224), (16, 18));
    assert_eq!(center_crop_offsets(341, 256, 224), (58, 16));
    let photo = RgbImage::from_pixel(500, 375, Rgb([9, 9, 9]));
    let out = EvalTransform::INCEPTION.apply(&photo, "photo").unwrap();
    assert_eq!(out.dimensions(), (299, 299));
}

#[test]
fn hand_derivable_cases() {
    // Same size: untouched.
    let img = RgbImage::from_fn(5, 4, |x, y| Rgb([(x * 40) as u8, (y * 50) as u8, 7]));
    assert_eq!(resize_bilinear(&img, 5, 4), img);
    // Constant images stay constant (weights are normalised).
    let flat = RgbImage::from_pixel(17, 11, Rgb([200, 13, 99]));
    assert!(resize_bilinear(&flat, 5, 8).pixels().all(|p| p.0 == [200, 13, 99]));
    // Halving 4 → 2: filter support 2, centres at 1.0 and 3.0, taps at x-centre offsets
    // ±0.5 (weight 0.75) and ±1.5 (0.25); left output = (0.75*a + 0.75*b + 0.25*c) / 1.75.
    let row = RgbImage::from_fn(4, 1, |x, _| {
        let v = [0u8, 100, 200, 40][x as usize];
        Rgb([v, v, v])
    });
    let half = resize_bilinear(&row, 2, 1);
    let left = (0.75 * 0.0 + 0.75 * 100.0 + 0.25 * 200.0) / 1.75_f64;
    let right = (0.25 * 100.0 + 0.75 * 200.0 + 0.75 * 40.0) / 1.75_f64;
    assert_eq!(half.get_pixel(0, 0).0[0], left.round() as u8);
    assert_eq!(half.get_pixel(1, 0).0[0], right.round() as u8);
    // A crop larger than the image is a clear error.
    let err = EvalTransform { resize: 8, crop: 10 }.apply(&img, "tiny.png").unwrap_err();
    assert!(err.to_string().contains("tiny.png"), "{err}");
}

#[path = "strategies/data.rs"]
mod strategies;

use proptest::prelude::*;

/// Slow, obviously-correct reference: the same triangle filter written directly from its
/// definition in f64 (no fixed point), rounding to 8 bits between the passes as Pillow does.
fn reference_resize(src: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    fn axis(in_len: usize, out_len: usize, o: usize) -> Vec<(usize, f64)> {
        let scale = in_len as f64 / out_len as f64;
        let stretch = scale.max(1.0);
        let center = (o as f64 + 0.5) * scale;
        let taps: Vec<(usize, f64)> = (0..in_len)
            .map(|i| (i, (1.0 - ((i as f64 + 0.5 - center) / stretch).abs()).max(0.0)))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        let total: f64 = taps.iter().map(|(_, w)| w).sum();
        taps.into_iter().map(|(i, w)| (i, w / total)).collect()
    }
    let round = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    let (w, h) = src.dimensions();
    let mid = if out_w == w {
        src.clone()
    } else {
        RgbImage::from_fn(out_w, h, |x, y| {
            let taps = axis(w as usize, out_w as usize, x as usize);
            Rgb([0, 1, 2].map(|c| {
                round(taps.iter().map(|&(i, wt)| src.get_pixel(i as u32, y).0[c] as f64 * wt).sum())
            }))
        })
    };
    if out_h == h {
        return mid;
    }
    RgbImage::from_fn(out_w, out_h, |x, y| {
        let taps = axis(h as usize, out_h as usize, y as usize);
        Rgb([0, 1, 2].map(|c| {
            round(taps.iter().map(|&(i, wt)| mid.get_pixel(x, i as u32).0[c] as f64 * wt).sum())
        }))
    })
}

proptest! {
    #![proptest_config(strategies::config(96, "proptest-regressions/data_resize.txt"))]

    #[test]
    fn fixed_point_resize_agrees_with_the_reference(
        img in strategies::small_image(), w in 1u32..=20, h in 1u32..=20
    ) {
        let ours = resize_bilinear(&img, w, h);
        let reference = reference_resize(&img, w, h);
        prop_assert_eq!(ours.dimensions(), (w, h));
        // Fixed-point weights may round differently from f64 by one level in each pass, and
        // the horizontal pass's difference can carry into the vertical one: at most 2.
        prop_assert!(max_level_difference(&ours, &reference) <= 2);
    }
}
