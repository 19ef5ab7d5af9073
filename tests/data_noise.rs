//! Figure 4 evaluation noise.

#[path = "strategies/data.rs"]
mod strategies;

use dnlts::data::noise::{figure4_strengths, uniform_noise, uniform_noise_f32};
use image::{Rgb, RgbImage};
use proptest::prelude::*;
use strategies::{seed_and_index, small_image};

proptest! {
    #![proptest_config(strategies::config(64, "proptest-regressions/data_noise.txt"))]

    #[test]
    fn zero_strength_is_identity(img in small_image(), (seed, index) in seed_and_index()) {
        prop_assert_eq!(uniform_noise(&img, 0.0, seed, index), img.clone());
        let f = uniform_noise_f32(&img, 0.0, seed, index);
        for (v, b) in f.iter().zip(img.as_raw()) {
            prop_assert_eq!(*v, *b as f32 / 255.0);
        }
    }

    #[test]
    fn values_stay_in_unit_range_and_within_strength(
        img in small_image(), s in 0.0f32..=1.0, (seed, index) in seed_and_index()
    ) {
        let f = uniform_noise_f32(&img, s, seed, index);
        prop_assert_eq!(f.len(), img.as_raw().len());
        for (v, b) in f.iter().zip(img.as_raw()) {
            prop_assert!((0.0..=1.0).contains(v));
            prop_assert!((v - *b as f32 / 255.0).abs() <= s + 1e-6);
        }
        prop_assert_eq!(uniform_noise_f32(&img, s, seed, index), f);
    }
}

#[test]
fn noise_is_uniform_with_the_right_spread() {
    let grey = RgbImage::from_pixel(64, 64, Rgb([128, 128, 128]));
    let s = 0.2;
    let f = uniform_noise_f32(&grey, s, 1, 2);
    let deltas: Vec<f32> = f.iter().map(|v| v - 128.0 / 255.0).collect();
    let mean_abs = deltas.iter().map(|d| d.abs()).sum::<f32>() / deltas.len() as f32;
    let mean = deltas.iter().sum::<f32>() / deltas.len() as f32;
    // E|U(-s, s)| = s / 2; 12288 draws put the estimate well within 5 %.
    assert!((mean_abs - s / 2.0).abs() < 0.005, "mean |noise| = {mean_abs}");
    assert!(mean.abs() < 0.005, "mean noise = {mean}");
}

#[test]
fn noise_depends_on_sample_and_strength() {
    let grey = RgbImage::from_pixel(8, 8, Rgb([128, 128, 128]));
    let a = uniform_noise_f32(&grey, 0.3, 1, 2);
    assert_ne!(a, uniform_noise_f32(&grey, 0.3, 1, 3), "other sample");
    assert_ne!(a, uniform_noise_f32(&grey, 0.3, 2, 2), "other seed");
    let b = uniform_noise_f32(&grey, 0.31, 1, 2);
    let scaled: Vec<f32> = a.iter().map(|v| (v - 128.0 / 255.0) / 0.3).collect();
    let other: Vec<f32> = b.iter().map(|v| (v - 128.0 / 255.0) / 0.31).collect();
    assert_ne!(scaled, other, "each strength draws its own field");
}

#[test]
fn clamping_at_full_strength_saturates_extremes() {
    let black = RgbImage::from_pixel(16, 16, Rgb([0, 0, 0]));
    let f = uniform_noise_f32(&black, 1.0, 3, 4);
    let zeros = f.iter().filter(|&&v| v == 0.0).count();
    // About half the draws are negative and clamp to 0.
    assert!((300..470).contains(&zeros), "{zeros} of 768 clamped");
    assert_eq!(figure4_strengths().len(), 11);
    assert_eq!(figure4_strengths()[10], 1.0);
}
