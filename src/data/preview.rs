//! Labelled picture grids (`dnlts data preview`) of the synthetic set or any sample source. Tiles are rendered in
//! parallel but placed by index, and the PNG encoder is deterministic, so the file's bytes do
//! not depend on the thread count.
//!
//! A grid is refused before anything is drawn when it asks for no image, for more images than
//! the source has, or for more memory than [`MAX_GRID_BYTES`], so that a large `--n` cannot
//! exhaust the machine and the count printed is always the count drawn.

use super::source::{ImageSource, Sample, Split, SyntheticImages};
use super::synthetic::SyntheticConfig;
use super::{DataError, Result};
use image::{Rgb, RgbImage};
use rayon::prelude::*;
use std::path::Path;

const GAP: u32 = 2;
/// Height of the label strip under each tile: a 3×5 digit font at scale 1, plus margins.
const STRIP: u32 = 8;
const BACKGROUND: Rgb<u8> = Rgb([24, 24, 24]);
const INK: Rgb<u8> = Rgb([255, 255, 255]);

/// 3×5 bitmaps of the digits 0–9, one row per 3-bit number (MSB = left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 2, 2, 2],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// Most memory a preview grid may hold at its peak (1 GiB): about 90,000 tiles of the
/// synthetic profiles' 32×32 images, far more than a picture can usefully show, and little
/// enough for any machine that runs the suite.
pub const MAX_GRID_BYTES: u64 = 1 << 30;

/// Columns and rows of a grid of `n` tiles: the smallest square that holds them, less its
/// empty rows.
fn layout(n: u64) -> (u64, u64) {
    let mut cols = ((n as f64).sqrt() as u64).max(1);
    while cols.saturating_mul(cols) < n {
        cols += 1;
    }
    while cols > 1 && (cols - 1) * (cols - 1) >= n {
        cols -= 1;
    }
    (cols, n.div_ceil(cols).max(1))
}

/// Bytes a grid of `n` tiles of `tile_w`×`tile_h` holds at its peak: the decoded tiles, the
/// canvas, and the PNG being written (counted as large as the canvas, its worst case).
pub fn grid_bytes(n: u64, tile_w: u32, tile_h: u32) -> u64 {
    let (cols, rows) = layout(n);
    let width = cols as u128 * (tile_w as u128 + GAP as u128) + GAP as u128;
    let height = rows as u128 * (tile_h as u128 + (STRIP + GAP) as u128) + GAP as u128;
    let canvas = width * height * 3;
    let tiles = n as u128 * tile_w as u128 * tile_h as u128 * 3;
    u64::try_from(2 * canvas + tiles).unwrap_or(u64::MAX)
}

/// Checks a grid of `n` tiles of `tile_w`×`tile_h` from a source of `available` samples:
/// at least one image, no more than the source has, and at most [`MAX_GRID_BYTES`]. `name`
/// is what the caller calls `n` in its errors (`"n"`, `"--n"`).
pub fn check_grid(
    name: &'static str,
    n: usize,
    available: u64,
    tile_w: u32,
    tile_h: u32,
) -> Result<()> {
    let over = |message: String| DataError::OverLimit { name, value: n.to_string(), message };
    if n == 0 {
        return Err(over(format!("a grid needs at least 1 image; set {name} to 1 or more")));
    }
    if n as u64 > available {
        return Err(over(format!(
            "there are only {available} images to show; set {name} to at most {available}"
        )));
    }
    let bytes = grid_bytes(n as u64, tile_w, tile_h);
    if bytes <= MAX_GRID_BYTES {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    // The largest count that fits: the estimate grows with n.
    let (mut lo, mut hi) = (0u64, n as u64);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if grid_bytes(mid, tile_w, tile_h) <= MAX_GRID_BYTES {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let fix = if lo == 0 {
        "not even one image of this size fits; preview smaller images".to_string()
    } else {
        format!("set {name} to at most {lo}")
    };
    Err(over(format!(
        "a grid of {n} images of {tile_w}x{tile_h} needs about {:.2} GiB, over the preview \
         limit of {:.0} GiB; {fix}",
        gib(bytes),
        gib(MAX_GRID_BYTES)
    )))
}

/// Grid of the first `n` validation samples, each with its class number underneath.
pub fn grid(config: &SyntheticConfig, n: usize) -> Result<RgbImage> {
    let eval_images = Split::Validation.len();
    let source = SyntheticImages { config: config.clone(), train_images: 0, eval_images };
    grid_of(&source, Split::Validation, n)
}

/// Grid of the first `n` samples of `split` of any source (Fashion-MNIST, ImageNet, …). Labels below 0
/// are not drawn; a sample that fails to load leaves its cell empty. `n` is checked with
/// [`check_grid`] against the first sample's size before any other is loaded, and again
/// against the largest tile before the canvas is made.
pub fn grid_of(source: &dyn ImageSource, split: Split, n: usize) -> Result<RgbImage> {
    let len = source.len(split);
    check_grid("n", n, len, 1, 1)?;
    let (first_w, first_h) = source.load(split, 0).map_or((1, 1), |s| s.image.dimensions());
    check_grid("n", n, len, first_w, first_h)?;
    let tiles: Vec<Option<Sample>> =
        (0..n).into_par_iter().map(|i| source.load(split, i as u64).ok()).collect();
    let (tile_w, tile_h) = tiles
        .iter()
        .flatten()
        .map(|s| s.image.dimensions())
        .fold((1, 1), |(w, h), (a, b)| (w.max(a), h.max(b)));
    check_grid("n", n, len, tile_w, tile_h)?;
    let (cols, rows) = layout(n as u64);
    let (cols, rows) = (cols as u32, rows as u32);
    let (cell_w, cell_h) = (tile_w + GAP, tile_h + STRIP + GAP);
    let mut canvas = RgbImage::from_pixel(cols * cell_w + GAP, rows * cell_h + GAP, BACKGROUND);
    for (i, tile) in tiles.iter().enumerate() {
        let Some(sample) = tile else { continue };
        let (x0, y0) = (GAP + (i as u32 % cols) * cell_w, GAP + (i as u32 / cols) * cell_h);
        image::imageops::replace(&mut canvas, &sample.image, x0 as i64, y0 as i64);
        if sample.label >= 0 {
            draw_number(&mut canvas, sample.label as u64, x0 + 1, y0 + tile_h + 2);
        }
    }
    Ok(canvas)
}

/// PNG bytes of [`grid`].
pub fn grid_png(config: &SyntheticConfig, n: usize) -> Result<Vec<u8>> {
    encode_png(&grid(config, n)?)
}

/// PNG bytes of any image (the encoder is deterministic: same pixels, same bytes).
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| DataError::Image { what: "preview grid".into(), message: e.to_string() })?;
    Ok(bytes)
}

/// Writes [`grid_png`] to `path`.
pub fn save_grid(config: &SyntheticConfig, n: usize, path: &Path) -> Result<()> {
    save_png(&grid(config, n)?, path)
}

/// Writes any image (e.g. a [`grid_of`] grid) as PNG to `path`.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let bytes = encode_png(img)?;
    crate::atomic::write_atomic(path, &bytes).map_err(super::io_err(path))
}

fn draw_number(canvas: &mut RgbImage, value: u64, x: u32, y: u32) {
    for (k, ch) in value.to_string().bytes().enumerate() {
        let glyph = DIGITS[(ch - b'0') as usize];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..3u32 {
                let (px, py) = (x + k as u32 * 4 + col, y + row as u32);
                if bits >> (2 - col) & 1 == 1 && px < canvas.width() && py < canvas.height() {
                    canvas.put_pixel(px, py, INK);
                }
            }
        }
    }
}
