//! Picture grids (Figures 3 and 5): rows of equally sized images, enlarged without smoothing
//! so every pixel of a 32×32 reconstruction stays visible, on a white background.

use image::{Rgb, RgbImage};

/// Lays `rows` out top to bottom, each image enlarged `scale`× (nearest neighbour) with `gap`
/// white pixels between images. Rows may differ in length; empty input gives a 1×1 image.
pub fn image_grid(rows: &[Vec<RgbImage>], scale: u32, gap: u32) -> RgbImage {
    let (width, height) = rows.iter().flatten().next().map_or((1, 1), |image| image.dimensions());
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0).max(1) as u32;
    let cell = (width * scale + gap, height * scale + gap);
    let mut canvas = RgbImage::from_pixel(
        columns * cell.0 + gap,
        rows.len().max(1) as u32 * cell.1 + gap,
        Rgb([255, 255, 255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, image) in row.iter().enumerate() {
            let (x0, y0) = (gap + c as u32 * cell.0, gap + r as u32 * cell.1);
            for (x, y, pixel) in image.enumerate_pixels() {
                for dy in 0..scale {
                    for dx in 0..scale {
                        canvas.put_pixel(x0 + x * scale + dx, y0 + y * scale + dy, *pixel);
                    }
                }
            }
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_enlarged_images_on_a_white_grid() {
        let red = RgbImage::from_pixel(2, 2, Rgb([255, 0, 0]));
        let blue = RgbImage::from_pixel(2, 2, Rgb([0, 0, 255]));
        let grid = image_grid(&[vec![red.clone(), blue], vec![red]], 3, 1);
        assert_eq!(grid.dimensions(), (2 * 7 + 1, 2 * 7 + 1));
        assert_eq!(grid.get_pixel(0, 0), &Rgb([255, 255, 255]), "gap");
        assert_eq!(grid.get_pixel(1, 1), &Rgb([255, 0, 0]));
        assert_eq!(grid.get_pixel(6, 6), &Rgb([255, 0, 0]), "3× enlargement");
        assert_eq!(grid.get_pixel(8, 1), &Rgb([0, 0, 255]));
        assert_eq!(grid.get_pixel(8, 8), &Rgb([255, 255, 255]), "short second row");
    }
}
