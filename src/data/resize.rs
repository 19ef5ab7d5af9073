//! Pillow-exact antialiased bilinear resize and torchvision's evaluation transform.
//!
//! torchvision's `Resize(256)` on a PIL image calls `Image.resize((w, h), BILINEAR)`, which is
//! Pillow's `ImagingResample` (libImaging/Resample.c). Its algorithm, reproduced here:
//!
//! 1. For each axis, `scale = in / out` and `filterscale = max(scale, 1)`: when shrinking, the
//!    triangle filter `max(0, 1 - |x|)` is stretched by `filterscale` (antialiasing), so its
//!    support is `filterscale` input pixels on each side.
//! 2. Output pixel `o` is centred at `c = (o + 0.5) * scale`; the taps are input pixels
//!    `xmin = trunc(c - support + 0.5)` (clamped to 0) up to `trunc(c + support + 0.5)`
//!    (clamped to `in`), with weight `filter((x - c + 0.5) / filterscale)`, then divided by
//!    their sum (so edge pixels renormalise instead of fading to black). All in f64.
//! 3. Weights become fixed point with 22 fractional bits, rounding half away from zero.
//! 4. Horizontal pass first, then vertical; each pass accumulates `u8 * weight` in i32 starting
//!    from `1 << 21` (rounding) and clips `acc >> 22` to `0..=255`, so the intermediate image is
//!    8-bit as in Pillow. A pass is skipped when that axis keeps its size.
//!
//! `CenterCrop(224)` takes `top = round((h - 224) / 2)`, `left = round((w - 224) / 2)` with
//! Python's round-half-to-even.

use super::{DataError, Result};
use image::RgbImage;
use serde::{Deserialize, Serialize};

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per-output-pixel taps of one axis.
struct Taps {
    /// `(first input index, number of taps)` per output pixel.
    bounds: Vec<(usize, usize)>,
    /// Fixed-point weights, `ksize` slots per output pixel.
    weights: Vec<i32>,
    ksize: usize,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut float_weights = vec![0f64; ksize];
    for o in 0..out_size {
        let center = (o as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero; negative values are clamped to 0 anyway.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let mut total = 0.0;
        for (x, w) in float_weights.iter_mut().enumerate().take(xmax) {
            *w = triangle(((x + xmin) as f64 - center + 0.5) / filterscale);
            total += *w;
        }
        for x in 0..xmax {
            let w = if total != 0.0 { float_weights[x] / total } else { float_weights[x] };
            weights[o * ksize + x] = to_fixed(w);
        }
        bounds.push((xmin, xmax));
    }
    Taps { bounds, weights, ksize }
}

fn to_fixed(w: f64) -> i32 {
    let scaled = w * (1u32 << PRECISION_BITS) as f64;
    if w < 0.0 {
        (scaled - 0.5) as i32
    } else {
        (scaled + 0.5) as i32
    }
}

fn clip8(acc: i32) -> u8 {
    if acc >= (1 << PRECISION_BITS << 8) {
        255
    } else if acc <= 0 {
        0
    } else {
        (acc >> PRECISION_BITS) as u8
    }
}

/// Horizontal pass: each output pixel reads `count` neighbouring pixels of its own row.
fn horizontal_pass(src: &RgbImage, out_w: usize) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let t = taps(w, out_w);
    let raw = src.as_raw();
    let mut out = vec![0u8; out_w * h * 3];
    for y in 0..h {
        let row = &raw[y * w * 3..(y + 1) * w * 3];
        let out_row = &mut out[y * out_w * 3..(y + 1) * out_w * 3];
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let (start, count) = t.bounds[x];
            let weights = &t.weights[x * t.ksize..x * t.ksize + count];
            let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
            for (src_px, &wk) in row[start * 3..(start + count) * 3].chunks_exact(3).zip(weights) {
                for c in 0..3 {
                    acc[c] += src_px[c] as i32 * wk;
                }
            }
            for c in 0..3 {
                px[c] = clip8(acc[c]);
            }
        }
    }
    RgbImage::from_raw(out_w as u32, h as u32, out).expect("buffer sized for the output")
}

/// Vertical pass: each output row is a weighted sum of whole input rows (cache friendly).
fn vertical_pass(src: &RgbImage, out_h: usize) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let t = taps(h, out_h);
    let raw = src.as_raw();
    let stride = w * 3;
    let mut out = vec![0u8; stride * out_h];
    let mut acc = vec![0i32; stride];
    for (y, out_row) in out.chunks_exact_mut(stride).enumerate() {
        let (start, count) = t.bounds[y];
        let weights = &t.weights[y * t.ksize..y * t.ksize + count];
        acc.fill(1 << (PRECISION_BITS - 1));
        for (j, &wk) in weights.iter().enumerate() {
            let row = &raw[(start + j) * stride..(start + j + 1) * stride];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v as i32 * wk;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    RgbImage::from_raw(w as u32, out_h as u32, out).expect("buffer sized for the output")
}

/// `PIL.Image.resize((width, height), Image.BILINEAR)` on an RGB image.
pub fn resize_bilinear(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let mut img = src.clone();
    if width != img.width() {
        img = horizontal_pass(&img, width as usize);
    }
    if height != img.height() {
        img = vertical_pass(&img, height as usize);
    }
    img
}

/// torchvision's `Resize(short)` output size: short side → `short`, long side
/// `int(short * long / short_side)` (Python float division, truncated).
pub fn short_side_size(width: u32, height: u32, short: u32) -> (u32, u32) {
    let (s, l) = if width <= height { (width, height) } else { (height, width) };
    let long = (short as f64 * l as f64 / s as f64) as u32;
    if width <= height {
        (short, long)
    } else {
        (long, short)
    }
}

/// Python's `round(d / 2)` for a non-negative integer `d` (round half to even).
fn half_round_even(d: u32) -> u32 {
    let q = d / 2;
    if d % 2 == 1 && q % 2 == 1 {
        q + 1
    } else {
        q
    }
}

/// torchvision's `CenterCrop(crop)` offsets `(left, top)`.
pub fn center_crop_offsets(width: u32, height: u32, crop: u32) -> (u32, u32) {
    (half_round_even(width.saturating_sub(crop)), half_round_even(height.saturating_sub(crop)))
}

pub fn center_crop(img: &RgbImage, crop: u32, what: &str) -> Result<RgbImage> {
    let (w, h) = img.dimensions();
    if w < crop || h < crop {
        return Err(DataError::TooSmallForCrop {
            what: what.to_string(),
            width: w,
            height: h,
            crop,
        });
    }
    let (left, top) = center_crop_offsets(w, h, crop);
    Ok(image::imageops::crop_imm(img, left, top, crop, crop).to_image())
}

/// torchvision's evaluation transform (before `ToTensor`/`Normalize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalTransform {
    pub resize: u32,
    pub crop: u32,
}

impl EvalTransform {
    /// AlexNet, VGG16-BN, ResNet-50: `Resize(256)`, `CenterCrop(224)`.
    pub const STANDARD: Self = Self { resize: 256, crop: 224 };
    /// Inception v3: `Resize(342)`, `CenterCrop(299)`.
    pub const INCEPTION: Self = Self { resize: 342, crop: 299 };

    pub fn apply(&self, img: &RgbImage, what: &str) -> Result<RgbImage> {
        let (w, h) = short_side_size(img.width(), img.height(), self.resize);
        center_crop(&resize_bilinear(img, w, h), self.crop, what)
    }
}
