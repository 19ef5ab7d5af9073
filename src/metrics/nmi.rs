//! Normalized mutual information (Strehl & Ghosh, 2002) between two 8-bit images, and the
//! intra/inter protocols of Section 3.5 (Figure 9).
//!
//! Labels: every sub-pixel value is one observation (channels pooled), mapped to one of `bins`
//! equal-width bins over 0..=255 (`bins = 256` keeps every value distinct).
//! nMI(X, Y) = I(X; Y) / sqrt(H(X) H(Y)) with natural logarithms. Degenerate cases, where a
//! denominator vanishes: both images constant ⇒ 1 (they carry the same, empty, information);
//! exactly one constant ⇒ 0 (a constant shares nothing with anything).

use super::{MetricsError, Result};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::OnceLock;

/// Figure 9 for one AE, named `A_S`, `A_L`, `A_A`, …: intra nMI (original vs reconstruction)
/// and inter nMI (reconstructions of two different images).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AeNmi {
    pub ae: String,
    pub intra: NmiSummary,
    pub inter: NmiSummary,
}

/// Largest number of bins: one per 8-bit value.
pub const MAX_BINS: usize = 256;

/// Below this many values a single thread is faster than splitting the histogram work.
const PARALLEL_CHUNK: usize = 1 << 16;

/// Height × width × channels of an interleaved 8-bit image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageShape {
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        Self { height, width, channels }
    }

    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, buffer: &[u8]) -> Result<()> {
        if buffer.len() == self.len() {
            return Ok(());
        }
        Err(MetricsError::ShapeMismatch {
            found: buffer.len(),
            expected: self.len(),
            height: self.height,
            width: self.width,
            channels: self.channels,
        })
    }
}

/// Mean and population standard deviation of the nMI over a set of samples or pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NmiSummary {
    pub mean: f64,
    pub std: f64,
    pub count: usize,
}

impl NmiSummary {
    /// The summary of nMI values of `what` (of which there must be `needed`).
    pub fn of(values: &[f64], what: &'static str, needed: &'static str) -> Result<Self> {
        if values.is_empty() {
            return Err(MetricsError::NotEnoughSamples { what, count: 0, needed });
        }
        Ok(Self::of_values(values))
    }

    fn of_values(values: &[f64]) -> Self {
        let count = values.len();
        let mean = values.iter().sum::<f64>() / count as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
        Self { mean, std: variance.sqrt(), count }
    }
}

/// Maps each 8-bit value to its equal-width bin: bin = value · bins / 256.
fn bin_table(bins: usize) -> Result<[u8; 256]> {
    if bins == 0 || bins > MAX_BINS {
        return Err(MetricsError::InvalidBins { bins, max: MAX_BINS });
    }
    let mut table = [0u8; 256];
    for (value, slot) in table.iter_mut().enumerate() {
        *slot = (value * bins / 256) as u8;
    }
    Ok(table)
}

/// Adds the counts of (bin(a[k]), bin(b[k])) to a row-major `bins × bins` histogram. u32
/// counters halve the memory traffic; callers keep each call under u32::MAX values.
fn add_joint_counts(a: &[u8], b: &[u8], table: &[u8; 256], bins: usize, counts: &mut [u32]) {
    for (&x, &y) in a.iter().zip(b) {
        counts[table[x as usize] as usize * bins + table[y as usize] as usize] += 1;
    }
}

/// One thread, reusing `buffer` so a protocol over many pairs allocates once per thread.
fn nmi_serial(a: &[u8], b: &[u8], table: &[u8; 256], bins: usize, buffer: &mut Vec<u32>) -> f64 {
    buffer.clear();
    buffer.resize(bins * bins, 0);
    add_joint_counts(a, b, table, bins, buffer);
    nmi_from_joint(buffer, bins)
}

/// Histogram of chunks in parallel, merged into u64 counts.
fn nmi_parallel(a: &[u8], b: &[u8], table: &[u8; 256], bins: usize) -> f64 {
    // One chunk per thread: each chunk costs a full bins² histogram, so fewer is cheaper.
    let per_thread = a.len().div_ceil(rayon::current_num_threads());
    let chunk = per_thread.clamp(PARALLEL_CHUNK, u32::MAX as usize);
    let joint = a
        .par_chunks(chunk)
        .zip(b.par_chunks(chunk))
        .fold(
            || vec![0u64; bins * bins],
            |mut total, (chunk_a, chunk_b)| {
                let mut counts = vec![0u32; bins * bins];
                add_joint_counts(chunk_a, chunk_b, table, bins, &mut counts);
                total.iter_mut().zip(&counts).for_each(|(t, &c)| *t += u64::from(c));
                total
            },
        )
        .reduce_with(|mut left, right| {
            left.iter_mut().zip(&right).for_each(|(l, r)| *l += r);
            left
        })
        .unwrap_or_else(|| vec![0; bins * bins]);
    nmi_from_joint(&joint, bins)
}

fn nmi_auto(a: &[u8], b: &[u8], table: &[u8; 256], bins: usize) -> f64 {
    if a.len() < 2 * PARALLEL_CHUNK {
        nmi_serial(a, b, table, bins, &mut Vec::new())
    } else {
        nmi_parallel(a, b, table, bins)
    }
}

/// Counts below this get c·ln c from a table: most cells of a joint histogram are small, and
/// a lookup is several times cheaper than `ln`.
const C_LN_C_TABLE_LEN: usize = 1 << 12;

fn c_ln_c(count: u64) -> f64 {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..C_LN_C_TABLE_LEN)
            .map(|c| if c == 0 { 0.0 } else { c as f64 * (c as f64).ln() })
            .collect()
    });
    match table.get(count as usize) {
        Some(&value) => value,
        None => count as f64 * (count as f64).ln(),
    }
}

/// Entropy (nats) of a histogram: H = ln N − (1/N) Σ c ln c, with N = Σ c.
fn entropy_of_counts<C: Copy + Into<u64>>(counts: &[C], total: f64) -> f64 {
    let weighted: f64 = counts.iter().map(|&c| c_ln_c(c.into())).sum();
    (total.ln() - weighted / total).max(0.0)
}

/// Row and column sums of a row-major `bins × bins` histogram in one cache-friendly pass.
fn marginals<C: Copy + Into<u64>>(joint: &[C], bins: usize) -> (Vec<u64>, Vec<u64>) {
    let mut rows = vec![0u64; bins];
    let mut columns = vec![0u64; bins];
    for (row, cells) in rows.iter_mut().zip(joint.chunks_exact(bins)) {
        for (column, &count) in columns.iter_mut().zip(cells) {
            let count: u64 = count.into();
            *row += count;
            *column += count;
        }
    }
    (rows, columns)
}

fn is_constant(marginal: &[u64]) -> bool {
    marginal.iter().filter(|&&c| c > 0).count() <= 1
}

/// nMI from a joint histogram; see the module docs for the degenerate cases.
fn nmi_from_joint<C: Copy + Into<u64>>(joint: &[C], bins: usize) -> f64 {
    let (rows, columns) = marginals(joint, bins);
    match (is_constant(&rows), is_constant(&columns)) {
        (true, true) => return 1.0,
        (true, false) | (false, true) => return 0.0,
        (false, false) => {}
    }
    let total = rows.iter().sum::<u64>() as f64;
    let h_x = entropy_of_counts(&rows, total);
    let h_y = entropy_of_counts(&columns, total);
    let h_xy = entropy_of_counts(joint, total);
    // Rounding can push I slightly outside [0, sqrt(HxHy)]; the true value is inside.
    ((h_x + h_y - h_xy) / (h_x * h_y).sqrt()).clamp(0.0, 1.0)
}

/// nMI of two equally long buffers of 8-bit values, with `bins` equal-width bins (1..=256).
/// Empty buffers count as constant images (nMI 1).
pub fn nmi(a: &[u8], b: &[u8], bins: usize) -> Result<f64> {
    if a.len() != b.len() {
        return Err(MetricsError::LengthMismatch { a: a.len(), b: b.len() });
    }
    let table = bin_table(bins)?;
    Ok(nmi_auto(a, b, &table, bins))
}

/// nMI of two images of the given shape (checks both buffers against the shape).
pub fn nmi_of_images(a: &[u8], b: &[u8], shape: ImageShape, bins: usize) -> Result<f64> {
    shape.check(a)?;
    shape.check(b)?;
    nmi(a, b, bins)
}

/// intra-nMI(x, A) = nMI(x, A(x)) over all samples: `originals[k]` against
/// `reconstructions[k]`. Samples run in parallel, each histogram on one thread.
pub fn intra_nmi(
    originals: &[&[u8]],
    reconstructions: &[&[u8]],
    shape: ImageShape,
    bins: usize,
) -> Result<NmiSummary> {
    let values = intra_values(originals, reconstructions, shape, bins)?;
    NmiSummary::of(&values, "original/reconstruction pairs", "at least 1")
}

/// The per-sample values behind [`intra_nmi`] (streamed evaluations summarise them at the end).
pub fn intra_values(
    originals: &[&[u8]],
    reconstructions: &[&[u8]],
    shape: ImageShape,
    bins: usize,
) -> Result<Vec<f64>> {
    if originals.len() != reconstructions.len() {
        return Err(MetricsError::LengthMismatch { a: originals.len(), b: reconstructions.len() });
    }
    let pairs: Vec<(&[u8], &[u8])> =
        originals.iter().copied().zip(reconstructions.iter().copied()).collect();
    pair_values(&pairs, shape, bins)
}

/// inter-nMI = nMI(A(x1), A(x2)) over consecutive pairs (0, 1), (2, 3), …; an odd last sample
/// has no partner and is left out, as in the paper's 25,000 pairs of 50,000 images.
pub fn inter_nmi(reconstructions: &[&[u8]], shape: ImageShape, bins: usize) -> Result<NmiSummary> {
    let values = inter_values(reconstructions, shape, bins)?;
    NmiSummary::of(&values, "reconstructions", "at least 2")
}

/// The per-pair values behind [`inter_nmi`].
pub fn inter_values(reconstructions: &[&[u8]], shape: ImageShape, bins: usize) -> Result<Vec<f64>> {
    let pairs: Vec<(&[u8], &[u8])> =
        reconstructions.chunks_exact(2).map(|pair| (pair[0], pair[1])).collect();
    pair_values(&pairs, shape, bins)
}

fn pair_values(pairs: &[(&[u8], &[u8])], shape: ImageShape, bins: usize) -> Result<Vec<f64>> {
    let table = bin_table(bins)?;
    for (a, b) in pairs {
        shape.check(a)?;
        shape.check(b)?;
    }
    // Pairs in parallel, each histogram on one thread; giant images fall back to chunking so
    // u32 counters cannot overflow.
    let values: Vec<f64> = if shape.len() >= u32::MAX as usize {
        pairs.iter().map(|(a, b)| nmi_parallel(a, b, &table, bins)).collect()
    } else {
        pairs
            .par_iter()
            .map_init(Vec::new, |buffer, (a, b)| nmi_serial(a, b, &table, bins, buffer))
            .collect()
    };
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_close;

    #[test]
    fn both_constant_is_one_and_one_constant_is_zero() {
        assert_eq!(nmi(&[7; 10], &[9; 10], 256).unwrap(), 1.0);
        assert_eq!(nmi(&[7; 4], &[1, 2, 3, 4], 256).unwrap(), 0.0);
        assert_eq!(nmi(&[1, 2, 3, 4], &[7; 4], 256).unwrap(), 0.0);
    }

    #[test]
    fn independent_halves_give_zero() {
        // X and Y independent and uniform on {0, 255}: I = 0.
        let a = [0, 0, 255, 255];
        let b = [0, 255, 0, 255];
        assert_close(nmi(&a, &b, 256).unwrap(), 0.0, 1e-12, "nMI of independent halves");
    }

    #[test]
    fn coarse_bins_merge_values() {
        // With 2 bins, 0..=127 and 128..=255 are one label each.
        let a = [0, 10, 200, 250];
        let b = [5, 5, 130, 255];
        assert_close(nmi(&a, &b, 2).unwrap(), 1.0, 1e-12, "nMI of {a:?} and {b:?} with 2 bins");
        // 256 bins: Y is a function of X, so nMI = sqrt(H(Y) / H(X)).
        let (h_x, h_y) = (4f64.ln(), -(0.5f64.ln() * 0.5 + 2.0 * 0.25 * 0.25f64.ln()));
        let expected = (h_y / h_x).sqrt();
        assert_close(nmi(&a, &b, 256).unwrap(), expected, 1e-12, "nMI with 256 bins, sqrt(Hy/Hx)");
    }

    #[test]
    fn c_ln_c_is_the_formula_on_both_sides_of_the_lookup_table() {
        let last_looked_up = C_LN_C_TABLE_LEN as u64 - 1;
        for count in [1, 2, 3, last_looked_up, last_looked_up + 1, 20_000, 1 << 40] {
            let c = count as f64;
            let expected = c * c.ln();
            let what = format!("c·ln c for c = {count}");
            assert_close(c_ln_c(count), expected, 1e-12 * expected, &what);
        }
        assert_eq!(c_ln_c(0), 0.0, "0·ln 0 is 0 by continuity");
    }

    #[test]
    fn length_mismatch_names_both_lengths() {
        let err = nmi(&[1, 2, 3], &[1, 2], 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            "images have 3 and 2 values; nMI needs two equally shaped images"
        );
    }

    #[test]
    fn bad_bins_say_the_allowed_range() {
        for bins in [0, 257] {
            let err = nmi(&[1], &[1], bins).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("bin count {bins} is not allowed; use 1 to 256 bins")
            );
        }
    }

    #[test]
    fn shape_mismatch_names_the_shape() {
        let err = nmi_of_images(&[0; 5], &[0; 5], ImageShape::new(1, 2, 3), 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image buffer has 5 values but shape 1x2x3 needs 6; pass the matching shape"
        );
    }

    #[test]
    fn protocols_need_samples() {
        let one: &[u8] = &[1, 2, 3];
        let err = inter_nmi(&[one], ImageShape::new(1, 1, 3), 256).unwrap_err();
        assert_eq!(err.to_string(), "0 reconstructions: the protocol needs at least 2");
        let err = intra_nmi(&[], &[], ImageShape::new(1, 1, 3), 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            "0 original/reconstruction pairs: the protocol needs at least 1"
        );
    }

    #[test]
    fn inter_uses_consecutive_pairs_and_drops_an_odd_last() {
        let shape = ImageShape::new(1, 2, 2);
        let x: &[u8] = &[0, 1, 2, 3];
        let constant: &[u8] = &[5, 5, 5, 5];
        // Pairs (x, x) → 1 and (x, constant) → 0; the fifth sample is ignored.
        let summary = inter_nmi(&[x, x, x, constant, x], shape, 256).unwrap();
        assert_eq!(summary.count, 2);
        assert_close(summary.mean, 0.5, 1e-12, "mean of nMI 1 and 0");
        assert_close(summary.std, 0.5, 1e-12, "std of nMI 1 and 0");
    }
}
