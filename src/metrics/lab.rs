//! CIE L*a*b* of 8-bit sRGB pixels and the per-channel histograms of Figure 3.
//!
//! Pipeline: sRGB with the IEC 61966-2-1 transfer curve → linear RGB → XYZ with the
//! IEC 61966-2-1 matrix (D65, 2° observer) → L*a*b* relative to the white of that same
//! matrix (X_n, Y_n, Z_n = 0.9505, 1.0, 1.089, its row sums), so sRGB white maps to
//! exactly L* = 100, a* = b* = 0.

use super::{MetricsError, Result};
use rayon::prelude::*;
use serde::Serialize;

/// IEC 61966-2-1 linear sRGB → XYZ (rows X, Y, Z).
const RGB_TO_XYZ: [[f64; 3]; 3] =
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]];

/// The white point implied by the matrix: XYZ of linear (1, 1, 1).
const WHITE: [f64; 3] = [0.9505, 1.0, 1.089];

/// CIE constants in exact rational form: ε = (6/29)³, κ = (29/3)³.
const EPSILON: f64 = 216.0 / 24389.0;
const KAPPA: f64 = 24389.0 / 27.0;

/// Range of a* and b* in the histograms: every sRGB colour lies inside it
/// (a* ∈ [−86.2, 98.3], b* ∈ [−107.9, 94.5]); values outside would be clamped to the end bins.
pub const AB_RANGE: (f64, f64) = (-128.0, 128.0);
/// Range of L* in the histograms.
pub const L_RANGE: (f64, f64) = (0.0, 100.0);

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lab {
    pub l: f64,
    pub a: f64,
    pub b: f64,
}

/// IEC 61966-2-1 decoding of one sRGB component in [0, 1].
pub fn srgb_to_linear(c: f64) -> f64 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Inverse of [`srgb_to_linear`].
pub fn linear_to_srgb(c: f64) -> f64 {
    if c <= 0.0031308 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

fn lab_f(t: f64) -> f64 {
    if t > EPSILON {
        t.cbrt()
    } else {
        (KAPPA * t + 16.0) / 116.0
    }
}

fn lab_f_inverse(f: f64) -> f64 {
    let cube = f * f * f;
    if cube > EPSILON {
        cube
    } else {
        (116.0 * f - 16.0) / KAPPA
    }
}

fn mat_mul(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    m.map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2])
}

/// L*a*b* of linear RGB components (not clamped, so out-of-gamut values round-trip).
pub fn linear_rgb_to_lab(rgb: [f64; 3]) -> Lab {
    let xyz = mat_mul(&RGB_TO_XYZ, rgb);
    let [fx, fy, fz] = [0, 1, 2].map(|k| lab_f(xyz[k] / WHITE[k]));
    Lab { l: 116.0 * fy - 16.0, a: 500.0 * (fx - fy), b: 200.0 * (fy - fz) }
}

/// L*a*b* of gamma-encoded sRGB components in [0, 1].
pub fn srgb_unit_to_lab(rgb: [f64; 3]) -> Lab {
    linear_rgb_to_lab(rgb.map(srgb_to_linear))
}

/// L*a*b* of an 8-bit sRGB pixel.
pub fn srgb8_to_lab(rgb: [u8; 3]) -> Lab {
    srgb_unit_to_lab(rgb.map(|c| f64::from(c) / 255.0))
}

/// Linear RGB of a colour (inverse of [`linear_rgb_to_lab`]).
pub fn lab_to_linear_rgb(lab: Lab) -> [f64; 3] {
    let fy = (lab.l + 16.0) / 116.0;
    let f = [fy + lab.a / 500.0, fy, fy - lab.b / 200.0];
    let xyz = [0, 1, 2].map(|k| lab_f_inverse(f[k]) * WHITE[k]);
    mat_mul(&inverse3(&RGB_TO_XYZ), xyz)
}

/// sRGB components in [0, 1] of a colour (inverse of [`srgb_unit_to_lab`]).
pub fn lab_to_srgb_unit(lab: Lab) -> [f64; 3] {
    lab_to_linear_rgb(lab).map(linear_to_srgb)
}

fn inverse3(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let cofactor = |r: usize, c: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
        m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]
    };
    let det: f64 = (0..3).map(|c| m[0][c] * cofactor(0, c)).sum();
    // inverse = adjugate / det; the adjugate is the transposed cofactor matrix.
    std::array::from_fn(|r| std::array::from_fn(|c| cofactor(c, r) / det))
}

/// L*a*b* of every pixel of an interleaved 8-bit RGB buffer.
pub fn image_to_lab(rgb: &[u8]) -> Result<Vec<Lab>> {
    if !rgb.len().is_multiple_of(3) {
        return Err(MetricsError::NotRgb { len: rgb.len() });
    }
    // 256 decodes instead of one powf per component.
    let linear: [f64; 256] = std::array::from_fn(|v| srgb_to_linear(v as f64 / 255.0));
    Ok(rgb
        .par_chunks_exact(3)
        .map(|p| {
            linear_rgb_to_lab([linear[p[0] as usize], linear[p[1] as usize], linear[p[2] as usize]])
        })
        .collect())
}

/// Counts of one channel over `bins` equal-width bins spanning `range`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelHistogram {
    pub channel: &'static str,
    pub range: (f64, f64),
    pub counts: Vec<u64>,
}

impl ChannelHistogram {
    fn new(channel: &'static str, range: (f64, f64), bins: usize) -> Self {
        Self { channel, range, counts: vec![0; bins] }
    }

    fn add(&mut self, value: f64) {
        let (lo, hi) = self.range;
        let bins = self.counts.len();
        let position = ((value - lo) / (hi - lo) * bins as f64).floor();
        // The upper end belongs to the last bin; out-of-range values are clamped.
        let bin = (position.max(0.0) as usize).min(bins - 1);
        self.counts[bin] += 1;
    }

    /// Centre of bin `k`.
    pub fn bin_centre(&self, k: usize) -> f64 {
        let (lo, hi) = self.range;
        lo + (k as f64 + 0.5) * (hi - lo) / self.counts.len() as f64
    }
}

/// The three histograms under one image of Figure 3.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabHistograms {
    pub l: ChannelHistogram,
    pub a: ChannelHistogram,
    pub b: ChannelHistogram,
}

/// L* over [`L_RANGE`], a* and b* over [`AB_RANGE`], `bins` bins each (1..=4096).
pub fn lab_histograms(rgb: &[u8], bins: usize) -> Result<LabHistograms> {
    if bins == 0 || bins > 4096 {
        return Err(MetricsError::InvalidBins { bins, max: 4096 });
    }
    let mut hist = LabHistograms {
        l: ChannelHistogram::new("L*", L_RANGE, bins),
        a: ChannelHistogram::new("a*", AB_RANGE, bins),
        b: ChannelHistogram::new("b*", AB_RANGE, bins),
    };
    for lab in image_to_lab(rgb)? {
        hist.l.add(lab.l);
        hist.a.add(lab.a);
        hist.b.add(lab.b);
    }
    Ok(hist)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_close;

    #[test]
    fn white_and_black_are_exact() {
        let white = srgb8_to_lab([255, 255, 255]);
        for (got, expected, what) in
            [(white.l, 100.0, "L*"), (white.a, 0.0, "a*"), (white.b, 0.0, "b*")]
        {
            assert_close(got, expected, 1e-9, &format!("{what} of white"));
        }
        let black = srgb8_to_lab([0, 0, 0]);
        for (got, what) in [(black.l, "L*"), (black.a, "a*"), (black.b, "b*")] {
            assert_close(got, 0.0, 1e-12, &format!("{what} of black"));
        }
    }

    #[test]
    fn histogram_counts_every_pixel_once() {
        let rgb = [0, 0, 0, 255, 255, 255, 255, 0, 0];
        let h = lab_histograms(&rgb, 10).unwrap();
        assert_eq!(h.l.counts.iter().sum::<u64>(), 3);
        assert_eq!(h.l.counts[0], 1); // black
        assert_eq!(h.l.counts[9], 1); // white, L* = 100 at the top end
        assert_eq!(h.a.counts[5], 2); // a* = 0 for black and white
    }

    #[test]
    fn bins_are_floored_and_the_ends_clamped() {
        // 10 bins of width 10 over [0, 100]: [0, 10), [10, 20), …, [90, 100].
        let cases = [
            (0.0, 0),
            (9.99, 0),
            (10.0, 1),
            (19.9, 1), // rounding would give 2
            (55.0, 5),
            (99.99, 9),
            (100.0, 9), // the upper end belongs to the last bin
            (-3.0, 0),
            (250.0, 9),
        ];
        for (value, bin) in cases {
            let mut histogram = ChannelHistogram::new("L*", L_RANGE, 10);
            histogram.add(value);
            let mut expected = vec![0; 10];
            expected[bin] = 1;
            assert_eq!(histogram.counts, expected, "L* = {value} belongs to bin {bin}");
        }
    }

    #[test]
    fn odd_buffers_and_bins_are_refused() {
        assert_eq!(
            image_to_lab(&[1, 2]).unwrap_err().to_string(),
            "RGB buffer has 2 values, not a multiple of 3; pass interleaved 8-bit RGB"
        );
        assert_eq!(
            lab_histograms(&[0, 0, 0], 0).unwrap_err().to_string(),
            "bin count 0 is not allowed; use 1 to 4096 bins"
        );
    }
}
