//! The paper's augmentation set (Section 3.2): scale, rotation, shift, noise, blur, brightness,
//! contrast, colour, mirror. Each op has a strength; strength 0 skips the op, so it is exactly
//! the identity. Each op draws its parameters from its own stream of `(seed, index, op)`, so
//! turning one op on or off never changes what another op does.
//!
//! Order: geometry (mirror, scale, rotation, shift in one inverse map, bilinear, edge clamp),
//! blur, colour, brightness, contrast, noise; values are kept in f32 between ops and rounded
//! once at the end.

use super::SampleRng;
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// Strength of each op, all in `[0, 1]`; see each field for what 1 means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Zoom factor in `1 ± 0.3 * scale`.
    pub scale: f32,
    /// Rotation up to about `±45° * rotation` (rational parametrisation, no libm).
    pub rotation: f32,
    /// Translation up to `±25 % * shift` of the size, per axis.
    pub shift: f32,
    /// Additive uniform noise `±0.1 * noise` on `[0, 1]` values, per pixel and channel.
    pub noise: f32,
    /// Blend with a 3×3 binomial blur by a weight in `[0, blur]`.
    pub blur: f32,
    /// Additive offset `±0.2 * brightness`.
    pub brightness: f32,
    /// Contrast factor `1 ± 0.4 * contrast` around the image mean.
    pub contrast: f32,
    /// Per-channel gain `1 ± 0.2 * color`.
    pub color: f32,
    /// Probability of a horizontal flip (0.5 is the usual choice).
    pub mirror: f32,
}

impl AugmentConfig {
    /// The moderate setting used for AE pre-training.
    pub fn standard() -> Self {
        Self {
            scale: 0.5,
            rotation: 0.3,
            shift: 0.4,
            noise: 0.3,
            blur: 0.5,
            brightness: 0.5,
            contrast: 0.5,
            color: 0.5,
            mirror: 0.5,
        }
    }

    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Clone, Copy)]
#[repr(u64)]
enum Op {
    Geometry = 0xA0,
    Blur,
    Color,
    Brightness,
    Contrast,
    Noise,
}

fn op_rng(seed: u64, index: u64, op: Op) -> SampleRng {
    SampleRng::new(seed, index, op as u64)
}

/// Augments one image, deterministically in `(seed, index)`.
pub fn augment(img: &RgbImage, config: &AugmentConfig, seed: u64, index: u64) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut px: Vec<f32> = img.as_raw().iter().map(|&v| v as f32).collect();
    if config.scale > 0.0 || config.rotation > 0.0 || config.shift > 0.0 || config.mirror > 0.0 {
        let mut rng = op_rng(seed, index, Op::Geometry);
        px = geometry(&px, w, h, config, &mut rng);
    }
    if config.blur > 0.0 {
        let weight = config.blur * op_rng(seed, index, Op::Blur).unit();
        px = blend(&px, &binomial_blur(&px, w, h), weight);
    }
    if config.color > 0.0 {
        let mut rng = op_rng(seed, index, Op::Color);
        let gains = [0, 1, 2].map(|_| 1.0 + 0.2 * config.color * rng.signed());
        px.chunks_exact_mut(3).for_each(|p| (0..3).for_each(|c| p[c] *= gains[c]));
    }
    if config.brightness > 0.0 {
        let offset = 255.0 * 0.2 * config.brightness * op_rng(seed, index, Op::Brightness).signed();
        px.iter_mut().for_each(|v| *v += offset);
    }
    if config.contrast > 0.0 {
        let factor = 1.0 + 0.4 * config.contrast * op_rng(seed, index, Op::Contrast).signed();
        let mean = ordered_mean(&px);
        px.iter_mut().for_each(|v| *v = mean + (*v - mean) * factor);
    }
    if config.noise > 0.0 {
        let key = op_rng(seed, index, Op::Noise).next_u64();
        let amp = 255.0 * 0.1 * config.noise;
        for (i, v) in px.iter_mut().enumerate() {
            *v += amp * (super::hash_unit(key, i as u64) * 2.0 - 1.0);
        }
    }
    let bytes = px.iter().map(|&v| (v.clamp(0.0, 255.0) + 0.5).floor() as u8).collect();
    RgbImage::from_raw(w, h, bytes).expect("buffer length matches dimensions")
}

/// Mean in a fixed summation order (f64), independent of thread count.
fn ordered_mean(px: &[f32]) -> f32 {
    let sum: f64 = px.iter().map(|&v| v as f64).sum();
    (sum / px.len().max(1) as f64) as f32
}

/// Inverse-maps each output pixel through mirror → scale/rotation → shift, samples bilinearly.
fn geometry(px: &[f32], w: u32, h: u32, config: &AugmentConfig, rng: &mut SampleRng) -> Vec<f32> {
    let zoom = 1.0 + 0.3 * config.scale * rng.signed();
    // tan(22.5°) = 0.4142: |θ| ≤ 45° at strength 1.
    let t = 0.414_213_56 * config.rotation * rng.signed();
    let (cos, sin) = ((1.0 - t * t) / (1.0 + t * t), 2.0 * t / (1.0 + t * t));
    let sx = 0.25 * config.shift * w as f32 * rng.signed();
    let sy = 0.25 * config.shift * h as f32 * rng.signed();
    let mirror = rng.chance(config.mirror);
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
    let mut out = vec![0.0; px.len()];
    for oy in 0..h {
        for ox in 0..w {
            // Output pixel centre relative to the image centre, minus the shift.
            let dx = ox as f32 + 0.5 - cx - sx;
            let dy = oy as f32 + 0.5 - cy - sy;
            // Inverse rotation and zoom.
            let mut ix = (cos * dx + sin * dy) / zoom;
            let iy = (cos * dy - sin * dx) / zoom;
            if mirror {
                ix = -ix;
            }
            let sample = bilinear(px, w, h, ix + cx - 0.5, iy + cy - 0.5);
            let o = ((oy * w + ox) * 3) as usize;
            out[o..o + 3].copy_from_slice(&sample);
        }
    }
    out
}

/// Bilinear sample at pixel coordinates (pixel centres on integers), clamping at the border.
fn bilinear(px: &[f32], w: u32, h: u32, x: f32, y: f32) -> [f32; 3] {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |xx: u32, yy: u32, c: usize| px[((yy * w + xx) * 3) as usize + c];
    [0, 1, 2].map(|c| {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
        let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// Separable [1 2 1]/4 blur with edge clamping.
fn binomial_blur(px: &[f32], w: u32, h: u32) -> Vec<f32> {
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut dst = vec![0.0; src.len()];
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let (ax, ay, bx, by) = if horizontal {
                    ((x - 1).max(0), y, (x + 1).min(w as i64 - 1), y)
                } else {
                    (x, (y - 1).max(0), x, (y + 1).min(h as i64 - 1))
                };
                let idx = |xx: i64, yy: i64| ((yy * w as i64 + xx) * 3) as usize;
                for c in 0..3 {
                    dst[idx(x, y) + c] = 0.25 * src[idx(ax, ay) + c]
                        + 0.5 * src[idx(x, y) + c]
                        + 0.25 * src[idx(bx, by) + c];
                }
            }
        }
        dst
    };
    pass(&pass(px, true), false)
}

fn blend(a: &[f32], b: &[f32], weight: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(&x, &y)| x + (y - x) * weight).collect()
}
