//! Picture grids (Figures 3 and 5): rows of equally sized images, enlarged without smoothing
//! so every pixel of a 32×32 reconstruction stays visible, on a white background; optionally
//! with a label above each column and at the left of each row, in the bitmap font of
//! [`super::font`] (black, ×[`LABEL_SCALE`]). Same input ⇒ same pixels.

use super::font;
use image::{Rgb, RgbImage};

/// Font pixels are drawn as squares of this many image pixels (a 5×7 glyph becomes 10×14).
pub const LABEL_SCALE: u32 = 2;
/// White pixels between a label and the images it names.
pub const LABEL_PAD: u32 = 8;
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([0, 0, 0]);

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

/// Like [`image_grid`], with a band of labels above the columns (`column_labels[c]` centred
/// over column `c`) and one at the left of the rows (`row_labels[r]` left-aligned, centred
/// vertically on row `r`). An empty slice means no band; a label may hold several lines split
/// at `\n`; the column band is at least one text line tall. A column is as wide as the widest of its image and its label, images are centred
/// in their cells, and every cell is as large as the largest image (scaled). Labels beyond the
/// last row or column get an empty row or column. `scale` 0 counts as 1.
pub fn labelled_grid(
    rows: &[Vec<RgbImage>],
    row_labels: &[&str],
    column_labels: &[&str],
    scale: u32,
    gap: u32,
) -> RgbImage {
    let scale = scale.max(1);
    let (image_w, image_h) = rows
        .iter()
        .flatten()
        .map(RgbImage::dimensions)
        .fold(None, |acc: Option<(u32, u32)>, (w, h)| {
            Some(acc.map_or((w, h), |(aw, ah)| (aw.max(w), ah.max(h))))
        })
        .unwrap_or((1, 1));
    let (image_w, image_h) = (image_w * scale, image_h * scale);
    let columns = rows.iter().map(Vec::len).chain([column_labels.len(), 1]).max().unwrap_or(1);
    let row_count = rows.len().max(row_labels.len()).max(1);
    let label_size = |labels: &[&str], i: usize| {
        labels.get(i).map_or((0, 0), |text| font::text_size(text, LABEL_SCALE))
    };
    let column_widths: Vec<u32> =
        (0..columns).map(|c| image_w.max(label_size(column_labels, c).0)).collect();
    let row_height = (0..row_count).map(|r| label_size(row_labels, r).1).fold(image_h, u32::max);
    // A band holds its largest label; the column band is at least one line tall, so grids
    // whose labels are empty strings still line up with labelled ones.
    let one_line = font::text_size("X", LABEL_SCALE).1;
    let band = |labels: &[&str], pick: fn((u32, u32)) -> u32, least: u32| {
        if labels.is_empty() {
            0
        } else {
            (0..labels.len()).map(|i| pick(label_size(labels, i))).fold(least, u32::max) + LABEL_PAD
        }
    };
    let top_band = band(column_labels, |(_, h)| h, one_line);
    let left_band = band(row_labels, |(w, _)| w, 0);
    let column_x: Vec<u32> = column_widths
        .iter()
        .scan(gap + left_band, |x, width| {
            let start = *x;
            *x += width + gap;
            Some(start)
        })
        .collect();
    let width = gap + left_band + column_widths.iter().map(|w| w + gap).sum::<u32>();
    let row_y = |r: usize| gap + top_band + r as u32 * (row_height + gap);
    let mut canvas = RgbImage::from_pixel(width, row_y(row_count), WHITE);
    for (c, text) in column_labels.iter().enumerate() {
        let (w, h) = font::text_size(text, LABEL_SCALE);
        let x = column_x[c] + (column_widths[c] - w) / 2;
        font::draw_text(&mut canvas, text, x, gap + top_band - LABEL_PAD - h, LABEL_SCALE, INK);
    }
    for (r, text) in row_labels.iter().enumerate() {
        let h = font::text_size(text, LABEL_SCALE).1;
        font::draw_text(&mut canvas, text, gap, row_y(r) + (row_height - h) / 2, LABEL_SCALE, INK);
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, image) in row.iter().enumerate() {
            let x = column_x[c] + (column_widths[c] - image.width() * scale) / 2;
            let y = row_y(r) + (row_height - image.height() * scale) / 2;
            paste_enlarged(&mut canvas, image, x, y, scale);
        }
    }
    canvas
}

/// `image` with `caption` (bitmap font, ×[`LABEL_SCALE`], black, left-aligned) in a white band
/// above it; the band is as wide as the wider of the two.
pub fn with_caption(image: &RgbImage, caption: &str) -> RgbImage {
    let (text_w, text_h) = font::text_size(caption, LABEL_SCALE);
    let band = text_h + 2 * LABEL_PAD;
    let width = image.width().max(text_w + 2 * LABEL_PAD);
    let mut canvas = RgbImage::from_pixel(width, band + image.height(), WHITE);
    font::draw_text(&mut canvas, caption, LABEL_PAD, LABEL_PAD, LABEL_SCALE, INK);
    paste_enlarged(&mut canvas, image, 0, band, 1);
    canvas
}

/// The `w`×`h` crop of `image` whose top-left corner is (`x`, `y`), enlarged `scale`× by
/// nearest neighbour (`scale` 0 counts as 1). The crop is clamped to the image: `w` and `h`
/// are first cut to the image's size (0 counts as 1), then the corner is moved left and up
/// just enough for the crop to fit, so the result is always
/// `min(w, width)·scale × min(h, height)·scale` and shows only real pixels. An empty image
/// gives an empty result.
pub fn zoom(image: &RgbImage, x: u32, y: u32, w: u32, h: u32, scale: u32) -> RgbImage {
    let scale = scale.max(1);
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return RgbImage::new(0, 0);
    }
    let (w, h) = (w.clamp(1, width), h.clamp(1, height));
    let (x, y) = (x.min(width - w), y.min(height - h));
    RgbImage::from_fn(w * scale, h * scale, |px, py| {
        *image.get_pixel(x + px / scale, y + py / scale)
    })
}

fn paste_enlarged(canvas: &mut RgbImage, image: &RgbImage, x0: u32, y0: u32, scale: u32) {
    for (x, y, pixel) in image.enumerate_pixels() {
        for dy in 0..scale {
            for dx in 0..scale {
                canvas.put_pixel(x0 + x * scale + dx, y0 + y * scale + dy, *pixel);
            }
        }
    }
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

    fn squares(colours: &[[u8; 3]]) -> Vec<RgbImage> {
        colours.iter().map(|c| RgbImage::from_pixel(4, 4, Rgb(*c))).collect()
    }

    fn differing_pixels(a: &RgbImage, b: &RgbImage) -> Vec<(u32, u32)> {
        assert_eq!(a.dimensions(), b.dimensions());
        a.enumerate_pixels()
            .filter(|(x, y, p)| b.get_pixel(*x, *y) != *p)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    #[test]
    fn without_labels_it_is_the_plain_grid() {
        let rows = vec![squares(&[[255, 0, 0], [0, 0, 255]]), squares(&[[0, 255, 0]])];
        assert_eq!(labelled_grid(&rows, &[], &[], 3, 2), image_grid(&rows, 3, 2));
    }

    #[test]
    fn label_bands_add_to_the_grid_size() {
        let rows = vec![squares(&[[255, 0, 0], [0, 0, 255]]), squares(&[[0, 255, 0]; 2])];
        let (scale, gap) = (10, 4);
        let plain = labelled_grid(&rows, &[], &[], scale, gap).dimensions();
        assert_eq!(plain, (2 * 40 + 3 * gap, 2 * 40 + 3 * gap));
        let text_h = font::text_size("x", LABEL_SCALE).1;
        let with_columns = labelled_grid(&rows, &[], &["x", "A_S"], scale, gap);
        assert_eq!(with_columns.dimensions(), (plain.0, plain.1 + text_h + LABEL_PAD));
        let row_w = font::text_size("input", LABEL_SCALE).0;
        let with_rows = labelled_grid(&rows, &["input", "A_V"], &[], scale, gap);
        assert_eq!(with_rows.dimensions(), (plain.0 + row_w + LABEL_PAD, plain.1));
        let both = labelled_grid(&rows, &["input", "A_V"], &["x", "A_S"], scale, gap);
        assert_eq!(both.dimensions(), (with_rows.width(), with_columns.height()));
        // The first image sits below the column band and right of the row band.
        let corner = (gap + row_w + LABEL_PAD, gap + text_h + LABEL_PAD);
        assert_eq!(both.get_pixel(corner.0, corner.1), &Rgb([255, 0, 0]));
        assert_eq!(both.get_pixel(corner.0 - 1, corner.1), &WHITE);
        assert_eq!(both.get_pixel(corner.0, corner.1 - 1), &WHITE);
    }

    #[test]
    fn a_label_wider_than_its_column_widens_it_and_the_image_is_centred() {
        let rows = vec![squares(&[[255, 0, 0]])];
        let label = "a long column label";
        let label_w = font::text_size(label, LABEL_SCALE).0;
        assert!(label_w > 4 * 2);
        let grid = labelled_grid(&rows, &[], &[label], 2, 1);
        assert_eq!(grid.width(), label_w + 2);
        let top = grid.height() - 1 - 8;
        let left = 1 + (label_w - 8) / 2;
        assert_eq!(grid.get_pixel(left, top), &Rgb([255, 0, 0]));
        assert_eq!(grid.get_pixel(left - 1, top), &WHITE);
    }

    #[test]
    fn a_column_label_inks_only_its_own_band_cell() {
        let rows = vec![squares(&[[255, 0, 0], [0, 0, 255]])];
        let (scale, gap) = (25, 4);
        let blank = labelled_grid(&rows, &[], &["", ""], scale, gap);
        let labelled = labelled_grid(&rows, &[], &["", "s = 0.1"], scale, gap);
        let changed = differing_pixels(&blank, &labelled);
        assert!(!changed.is_empty());
        let band_h = gap + font::text_size("s", LABEL_SCALE).1 + LABEL_PAD;
        let column_1 = (gap + 100 + gap)..(gap + 100 + gap + 100);
        for (x, y) in changed {
            assert!(y < band_h - LABEL_PAD && column_1.contains(&x), "({x}, {y}) outside");
            assert_eq!(labelled.get_pixel(x, y), &INK);
        }
    }

    #[test]
    fn a_row_label_inks_only_its_own_band_cell() {
        let rows = vec![squares(&[[255, 0, 0]]), squares(&[[0, 0, 255]])];
        let (scale, gap) = (8, 4);
        let blank = labelled_grid(&rows, &["A_S", ""], &[], scale, gap);
        let labelled = labelled_grid(&rows, &["A_S", "A_V"], &[], scale, gap);
        let changed = differing_pixels(&blank, &labelled);
        assert!(!changed.is_empty());
        let band_w = gap + font::text_size("A_S", LABEL_SCALE).0;
        let row_1 = (gap + 32 + gap)..(gap + 32 + gap + 32);
        for (x, y) in changed {
            assert!(x < band_w && row_1.contains(&y), "({x}, {y}) outside");
        }
    }

    #[test]
    fn same_input_gives_the_same_bytes() {
        let rows = vec![squares(&[[10, 20, 30], [200, 100, 0]]), squares(&[[0, 90, 9]])];
        let draw = || {
            let grid = labelled_grid(&rows, &["x", "A_V"], &["s = 0", "s = 0.5"], 6, 4);
            let mut png = Vec::new();
            grid.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            png
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn zoom_enlarges_the_crop_and_clamps_it_inside_the_image() {
        let image = RgbImage::from_fn(8, 6, |x, y| Rgb([x as u8, y as u8, 0]));
        let z = zoom(&image, 2, 1, 3, 2, 4);
        assert_eq!(z.dimensions(), (12, 8));
        assert_eq!(z.get_pixel(0, 0), &Rgb([2, 1, 0]));
        assert_eq!(z.get_pixel(3, 3), &Rgb([2, 1, 0]), "one source pixel is 4×4");
        assert_eq!(z.get_pixel(4, 4), &Rgb([3, 2, 0]));
        assert_eq!(z.get_pixel(11, 7), &Rgb([4, 2, 0]));
        // Past the right and bottom edges the window moves back inside.
        let edge = zoom(&image, 7, 5, 3, 2, 2);
        assert_eq!(edge.dimensions(), (6, 4));
        assert_eq!(edge.get_pixel(0, 0), &Rgb([5, 4, 0]));
        assert_eq!(edge.get_pixel(5, 3), &Rgb([7, 5, 0]));
        // Larger than the image: the whole image.
        let whole = zoom(&image, 3, 3, 100, 100, 1);
        assert_eq!(whole, image);
        assert_eq!(zoom(&image, 0, 0, 0, 0, 0).dimensions(), (1, 1));
        assert_eq!(zoom(&RgbImage::new(0, 0), 0, 0, 4, 4, 2).dimensions(), (0, 0));
    }

    #[test]
    fn a_caption_band_goes_above_the_image() {
        let image = RgbImage::from_pixel(300, 10, Rgb([255, 0, 0]));
        let captioned = with_caption(&image, "Figure 5");
        let (_, text_h) = font::text_size("Figure 5", LABEL_SCALE);
        assert_eq!(captioned.dimensions(), (300, 10 + text_h + 2 * LABEL_PAD));
        assert_eq!(captioned.get_pixel(0, text_h + 2 * LABEL_PAD), &Rgb([255, 0, 0]));
        assert!(captioned.enumerate_pixels().any(|(_, _, p)| *p == INK));
    }

    /// Writes a sample of Figure 5's layout to the temporary folder for a person to look at.
    #[test]
    fn sample_figure_for_eyes() {
        let image = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 128]));
        let crop = zoom(&image, 8, 8, 16, 16, 2);
        let rows = vec![
            vec![image.clone(), image.clone(), crop.clone()],
            vec![image.clone(), image.clone(), crop],
        ];
        let grid = labelled_grid(
            &rows,
            &["x", "A_S(x)", "L∘A_L"],
            &["s = 0", "s = 0.1", "zoom 2x", "gy_p, q"],
            6,
            4,
        );
        let grid = with_caption(&grid, "Figure 5: noise U(-s, s); 0123456789 ±");
        let path = std::env::temp_dir().join("dnlts_labelled_grid_sample.png");
        grid.save(&path).unwrap();
    }
}
