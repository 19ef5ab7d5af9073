//! Evaluation noise of Figure 4/5: additive uniform noise `U(-s, s)` on `[0, 1]` RGB values,
//! then clamped to `[0, 1]`. The noise of a sample depends on `(seed, index, s)` only, so every
//! classifier sees exactly the same noisy input at a given strength.

use super::{hash_unit, mix64};
use image::RgbImage;

/// Key of the noise field of one `(sample, strength)`.
fn noise_key(seed: u64, index: u64, strength: f32) -> u64 {
    mix64(seed ^ 0xF164 ^ mix64(index) ^ mix64(strength.to_bits() as u64).rotate_left(7))
}

/// Noisy `[0, 1]` values in HWC order (what the evaluator feeds to a network).
pub fn uniform_noise_f32(img: &RgbImage, strength: f32, seed: u64, index: u64) -> Vec<f32> {
    let key = noise_key(seed, index, strength);
    img.as_raw()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let clean = v as f32 / 255.0;
            if strength == 0.0 {
                return clean;
            }
            let n = strength * (hash_unit(key, i as u64) * 2.0 - 1.0);
            (clean + n).clamp(0.0, 1.0)
        })
        .collect()
}

/// Same noise, rounded back to bytes (for previews and byte-level pipelines).
pub fn uniform_noise(img: &RgbImage, strength: f32, seed: u64, index: u64) -> RgbImage {
    let bytes = uniform_noise_f32(img, strength, seed, index)
        .into_iter()
        .map(|v| (v * 255.0 + 0.5).floor() as u8)
        .collect();
    RgbImage::from_raw(img.width(), img.height(), bytes).expect("same dimensions as the input")
}

/// The strengths of Figure 4: `s = 0, 0.1, …, 1.0`.
pub fn figure4_strengths() -> Vec<f32> {
    (0..=10).map(|i| i as f32 / 10.0).collect()
}
