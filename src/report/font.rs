//! A small bitmap font for labels on PNG figures (Figures 3 and 5), so no font files are needed
//! and the same text always gives the same pixels.
//!
//! Each glyph is 5 pixels wide and 7 tall. A line is [`LINE_HEIGHT`] rows: 7 rows from the cap
//! line down to the baseline, then 2 rows for descenders (g, p, q, y, the comma and the
//! underscore are drawn 2 rows lower). Glyphs advance by [`ADVANCE`] columns, one blank column
//! between letters. Covered: printable ASCII (space to `~`) plus `∘` (a small ring, smaller than
//! `o`) and `±`; any other character is drawn as `?`.

use image::{Rgb, RgbImage};

/// Width of a glyph in font pixels.
pub const GLYPH_WIDTH: u32 = 5;
/// Height of a glyph's drawing in font pixels.
pub const GLYPH_HEIGHT: u32 = 7;
/// Columns from the start of one character to the start of the next.
pub const ADVANCE: u32 = GLYPH_WIDTH + 1;
/// Rows of one text line: cap height, descender room, one blank row between lines.
pub const LINE_HEIGHT: u32 = GLYPH_HEIGHT + DESCENT + 1;
/// How far descending glyphs are lowered, in font pixels.
const DESCENT: u32 = 2;

/// One character: seven rows of five bits (bit 4 is the leftmost column) and how many rows
/// below the cap line its drawing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Glyph {
    pub rows: [u8; 7],
    pub top: u32,
}

/// Reads a glyph drawn as seven space-separated rows of `#` (ink) and `.` (paper).
/// Malformed art fails at compile time, since the table below is a constant.
const fn art(picture: &str) -> [u8; 7] {
    let bytes = picture.as_bytes();
    assert!(bytes.len() == 7 * 5 + 6, "glyph art is seven rows of five");
    let mut rows = [0u8; 7];
    let mut row = 0;
    while row < 7 {
        let mut column = 0;
        while column < 5 {
            let byte = bytes[row * 6 + column];
            assert!(byte == b'#' || byte == b'.', "glyph art uses only # and .");
            if byte == b'#' {
                rows[row] |= 1 << (4 - column);
            }
            column += 1;
        }
        assert!(row == 6 || bytes[row * 6 + 5] == b' ', "glyph rows are separated by a space");
        row += 1;
    }
    rows
}

const fn up(c: char, picture: &str) -> (char, Glyph) {
    (c, Glyph { rows: art(picture), top: 0 })
}

/// A glyph whose drawing starts [`DESCENT`] rows lower, so its last rows hang below the
/// baseline.
const fn down(c: char, picture: &str) -> (char, Glyph) {
    (c, Glyph { rows: art(picture), top: DESCENT })
}

/// The glyph table, drawn for this project.
#[rustfmt::skip]
const GLYPHS: [(char, Glyph); 97] = [
    up(' ', "..... ..... ..... ..... ..... ..... ....."),
    up('!', "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.."),
    up('"', ".#.#. .#.#. .#.#. ..... ..... ..... ....."),
    up('#', ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."),
    up('$', "..#.. .#### #.#.. .###. ..#.# ####. ..#.."),
    up('%', "##... ##..# ...#. ..#.. .#... #..## ...##"),
    up('&', ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#"),
    up('\'', "..#.. ..#.. .#... ..... ..... ..... ....."),
    up('(', "...#. ..#.. .#... .#... .#... ..#.. ...#."),
    up(')', ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."),
    up('*', "..... ..#.. #.#.# .###. #.#.# ..#.. ....."),
    up('+', "..... ..#.. ..#.. ##### ..#.. ..#.. ....."),
    down(',', "..... ..... ..... .##.. .##.. ..#.. .#..."),
    up('-', "..... ..... ..... .###. ..... ..... ....."),
    up('.', "..... ..... ..... ..... ..... .##.. .##.."),
    up('/', "..... ....# ...#. ..#.. .#... #.... ....."),
    up('0', ".###. #...# #..## #.#.# ##..# #...# .###."),
    up('1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."),
    up('2', ".###. #...# ....# ...#. ..#.. .#... #####"),
    up('3', "##### ...#. ..#.. ...#. ....# #...# .###."),
    up('4', "...#. ..##. .#.#. #..#. ##### ...#. ...#."),
    up('5', "##### #.... ####. ....# ....# #...# .###."),
    up('6', "..##. .#... #.... ####. #...# #...# .###."),
    up('7', "##### ....# ...#. ..#.. .#... .#... .#..."),
    up('8', ".###. #...# #...# .###. #...# #...# .###."),
    up('9', ".###. #...# #...# .#### ....# ...#. .##.."),
    up(':', "..... .##.. .##.. ..... .##.. .##.. ....."),
    up(';', "..... .##.. .##.. ..... .##.. ..#.. .#..."),
    up('<', "...#. ..#.. .#... #.... .#... ..#.. ...#."),
    up('=', "..... ..... ##### ..... ##### ..... ....."),
    up('>', ".#... ..#.. ...#. ....# ...#. ..#.. .#..."),
    up('?', ".###. #...# ....# ...#. ..#.. ..... ..#.."),
    up('@', ".###. #...# ....# .##.# #.#.# #.#.# .###."),
    up('A', ".###. #...# #...# ##### #...# #...# #...#"),
    up('B', "####. #...# #...# ####. #...# #...# ####."),
    up('C', ".###. #...# #.... #.... #.... #...# .###."),
    up('D', "###.. #..#. #...# #...# #...# #..#. ###.."),
    up('E', "##### #.... #.... ####. #.... #.... #####"),
    up('F', "##### #.... #.... ####. #.... #.... #...."),
    up('G', ".###. #...# #.... #.### #...# #...# .####"),
    up('H', "#...# #...# #...# ##### #...# #...# #...#"),
    up('I', ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),
    up('J', "..### ...#. ...#. ...#. ...#. #..#. .##.."),
    up('K', "#...# #..#. #.#.. ##... #.#.. #..#. #...#"),
    up('L', "#.... #.... #.... #.... #.... #.... #####"),
    up('M', "#...# ##.## #.#.# #.#.# #...# #...# #...#"),
    up('N', "#...# #...# ##..# #.#.# #..## #...# #...#"),
    up('O', ".###. #...# #...# #...# #...# #...# .###."),
    up('P', "####. #...# #...# ####. #.... #.... #...."),
    up('Q', ".###. #...# #...# #...# #.#.# #..#. .##.#"),
    up('R', "####. #...# #...# ####. #.#.. #..#. #...#"),
    up('S', ".#### #.... #.... .###. ....# ....# ####."),
    up('T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),
    up('U', "#...# #...# #...# #...# #...# #...# .###."),
    up('V', "#...# #...# #...# .#.#. .#.#. .#.#. ..#.."),
    up('W', "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."),
    up('X', "#...# #...# .#.#. ..#.. .#.#. #...# #...#"),
    up('Y', "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."),
    up('Z', "##### ....# ...#. ..#.. .#... #.... #####"),
    up('[', ".###. .#... .#... .#... .#... .#... .###."),
    up('\\', "..... #.... .#... ..#.. ...#. ....# ....."),
    up(']', ".###. ...#. ...#. ...#. ...#. ...#. .###."),
    up('^', "..#.. .#.#. #...# ..... ..... ..... ....."),
    down('_', "..... ..... ..... ..... ..... ##### ....."),
    up('`', ".#... ..#.. ...#. ..... ..... ..... ....."),
    up('a', "..... ..... .###. ....# .#### #...# .####"),
    up('b', "#.... #.... ####. #...# #...# #...# ####."),
    up('c', "..... ..... .###. #.... #.... #...# .###."),
    up('d', "....# ....# .#### #...# #...# #...# .####"),
    up('e', "..... ..... .###. #...# ##### #.... .###."),
    up('f', "..##. .#..# .#... ###.. .#... .#... .#..."),
    down('g', ".#### #...# #...# #...# .#### ....# .###."),
    up('h', "#.... #.... #.##. ##..# #...# #...# #...#"),
    up('i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."),
    up('j', "...#. ..... ..##. ...#. ...#. #..#. .##.."),
    up('k', "#.... #.... #..#. #.#.. ##... #.#.. #..#."),
    up('l', ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),
    up('m', "..... ..... ##.#. #.#.# #.#.# #...# #...#"),
    up('n', "..... ..... #.##. ##..# #...# #...# #...#"),
    up('o', "..... ..... .###. #...# #...# #...# .###."),
    down('p', "####. #...# #...# #...# ####. #.... #...."),
    down('q', ".#### #...# #...# #...# .#### ....# ....#"),
    up('r', "..... ..... #.##. ##..# #.... #.... #...."),
    up('s', "..... ..... .#### #.... .###. ....# ####."),
    up('t', ".#... .#... ###.. .#... .#... .#..# ..##."),
    up('u', "..... ..... #...# #...# #...# #..## .##.#"),
    up('v', "..... ..... #...# #...# #...# .#.#. ..#.."),
    up('w', "..... ..... #...# #...# #.#.# #.#.# .#.#."),
    up('x', "..... ..... #...# .#.#. ..#.. .#.#. #...#"),
    down('y', "#...# #...# #...# #...# .#### ....# .###."),
    up('z', "..... ..... ##### ...#. ..#.. .#... #####"),
    up('{', "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#."),
    up('|', "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),
    up('}', ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#..."),
    up('~', "..... ..... .#... #.#.# ...#. ..... ....."),
    up('∘', "..... ..... ..... .###. .#.#. .###. ....."),
    up('±', "..#.. ..#.. ##### ..#.. ..#.. ..... #####"),
];

/// Every character with a glyph of its own, in table order.
pub fn covered() -> impl Iterator<Item = char> {
    GLYPHS.iter().map(|(c, _)| *c)
}

/// The glyph of `c`; characters without one get the glyph of `?`.
pub fn glyph(c: char) -> Glyph {
    let find = |wanted: char| GLYPHS.iter().find(|(c, _)| *c == wanted).map(|(_, g)| *g);
    find(c).or_else(|| find('?')).expect("the table has `?`")
}

/// Width and height in image pixels of `text` drawn at `scale` (lines split at `\n`; each
/// line is [`LINE_HEIGHT`] rows, the last one without its blank row). Empty text is 0×0.
pub fn text_size(text: &str, scale: u32) -> (u32, u32) {
    if text.is_empty() {
        return (0, 0);
    }
    let lines = text.split('\n');
    let longest = lines.clone().map(|line| line.chars().count() as u32).max().unwrap_or(0);
    let count = lines.count() as u32;
    let width = (longest * ADVANCE).saturating_sub(1);
    let height = count * LINE_HEIGHT - 1;
    (width * scale, height * scale)
}

/// Draws `text` with its top-left corner at (`x`, `y`), every font pixel a `scale`×`scale`
/// square of `colour`. Pixels falling outside `canvas` are skipped.
pub fn draw_text(canvas: &mut RgbImage, text: &str, x: u32, y: u32, scale: u32, colour: Rgb<u8>) {
    for (line_index, line) in text.split('\n').enumerate() {
        let line_y = y + line_index as u32 * LINE_HEIGHT * scale;
        for (index, c) in line.chars().enumerate() {
            let glyph = glyph(c);
            let glyph_x = x + index as u32 * ADVANCE * scale;
            for (row, bits) in glyph.rows.iter().enumerate() {
                for column in 0..GLYPH_WIDTH {
                    if bits & (1 << (GLYPH_WIDTH - 1 - column)) == 0 {
                        continue;
                    }
                    let px = glyph_x + column * scale;
                    let py = line_y + (glyph.top + row as u32) * scale;
                    fill(canvas, px, py, scale, colour);
                }
            }
        }
    }
}

fn fill(canvas: &mut RgbImage, x: u32, y: u32, scale: u32, colour: Rgb<u8>) {
    for dy in 0..scale {
        for dx in 0..scale {
            let (px, py) = (x + dx, y + dy);
            if px < canvas.width() && py < canvas.height() {
                canvas.put_pixel(px, py, colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_glyph_has_ink_except_space_and_distinct_characters_look_different() {
        let mut seen: HashMap<Glyph, char> = HashMap::new();
        for (c, glyph) in GLYPHS {
            let ink: u32 = glyph.rows.iter().map(|r| r.count_ones()).sum();
            assert_eq!(ink == 0, c == ' ', "glyph {c:?} has {ink} ink pixels");
            assert!(glyph.rows.iter().all(|r| *r < 32), "glyph {c:?} is wider than 5");
            if let Some(other) = seen.insert(glyph, c) {
                panic!("{c:?} and {other:?} share a glyph");
            }
        }
        assert_eq!(seen.len(), GLYPHS.len(), "no character is listed twice");
    }

    #[test]
    fn covers_printable_ascii_and_the_ring() {
        for c in (' '..='~').chain(['∘', '±']) {
            assert!(covered().any(|d| d == c), "no glyph for {c:?}");
        }
        assert_ne!(glyph('∘'), glyph('o'));
        assert_eq!(glyph('é'), glyph('?'), "unknown characters are drawn as ?");
    }

    #[test]
    fn text_size_counts_advances_and_lines() {
        assert_eq!(text_size("", 2), (0, 0));
        assert_eq!(text_size("A", 1), (5, 9));
        assert_eq!(text_size("A_S", 2), ((3 * 6 - 1) * 2, 9 * 2));
        assert_eq!(text_size("ab\nc", 1), (11, 2 * 10 - 1));
    }

    #[test]
    fn drawn_text_stays_inside_its_measured_box() {
        let text = "gy_p, q\nA_S s=0.1 ∘±";
        let scale = 2;
        let (w, h) = text_size(text, scale);
        let mut canvas = RgbImage::from_pixel(w + 20, h + 20, Rgb([255, 255, 255]));
        draw_text(&mut canvas, text, 10, 10, scale, Rgb([0, 0, 0]));
        let inked: Vec<(u32, u32)> = canvas
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 != [255, 255, 255])
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(!inked.is_empty());
        for (x, y) in inked {
            assert!((10..10 + w).contains(&x) && (10..10 + h).contains(&y), "({x}, {y})");
        }
        // Descenders reach the last two rows of the first line.
        let descender_row = 10 + (GLYPH_HEIGHT + DESCENT - 1) * scale;
        assert!((10..10 + w).any(|x| canvas.get_pixel(x, descender_row).0 == [0, 0, 0]));
    }

    #[test]
    fn text_off_the_canvas_is_clipped_not_a_panic() {
        let mut canvas = RgbImage::from_pixel(4, 4, Rgb([255, 255, 255]));
        draw_text(&mut canvas, "WW", 2, 2, 3, Rgb([0, 0, 0]));
        assert_eq!(canvas.get_pixel(2, 2), &Rgb([0, 0, 0]), "W starts at its top-left");
    }
}
