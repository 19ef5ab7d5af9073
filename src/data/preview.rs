//! Labelled picture grids (`dnlts data preview`) of the synthetic set or any sample source. Tiles are rendered in
//! parallel but placed by index, and the PNG encoder is deterministic, so the file's bytes do
//! not depend on the thread count.

use super::batch::{Sample, SampleSource, SyntheticSource};
use super::synthetic::{Split, SyntheticConfig};
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

/// Grid of the first `n` validation samples, each with its class number underneath.
pub fn grid(config: &SyntheticConfig, n: usize) -> RgbImage {
    let source =
        SyntheticSource { config: config.clone(), split: Split::Validation, labelled: true };
    grid_of(&source, n)
}

/// Grid of the first `n` samples of any source (Fashion-MNIST, ImageNet, …). Labels below 0
/// are not drawn; a sample that fails to load leaves its cell empty.
pub fn grid_of(source: &dyn SampleSource, n: usize) -> RgbImage {
    let n = n.min(source.len() as usize);
    let tiles: Vec<Option<Sample>> =
        (0..n).into_par_iter().map(|i| source.load(i as u64).ok()).collect();
    let (tile_w, tile_h) = tiles
        .iter()
        .flatten()
        .map(|s| s.image.dimensions())
        .fold((1, 1), |(w, h), (a, b)| (w.max(a), h.max(b)));
    let cols = (1..=n.max(1)).find(|c| c * c >= n).unwrap_or(1) as u32;
    let rows = (n as u32).div_ceil(cols).max(1);
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
    canvas
}

/// PNG bytes of [`grid`].
pub fn grid_png(config: &SyntheticConfig, n: usize) -> Result<Vec<u8>> {
    encode_png(&grid(config, n))
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
    save_png(&grid(config, n), path)
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
