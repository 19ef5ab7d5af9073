//! The proptest strategies of the metric tests (`tests/metrics_props.rs`, a test of the
//! metrics crate: nothing here may use `dnlts`); the data tests' are in `data.rs`.
// Each test binary uses a subset of these.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;

// Failing inputs should read in a few lines. Two rules keep them short: a vector's length is
// never chosen by an outer `prop_flat_map` (proptest cannot shrink such a length: a 300-value
// failure stays 300 values), and tables print one row per line ([`Rows`], [`Bytes`]).

/// A table whose Debug form prints one row per line (proptest prints failing inputs with it).
#[derive(Clone, PartialEq)]
pub struct Rows<T>(pub Vec<Vec<T>>);

impl<T> std::ops::Deref for Rows<T> {
    type Target = Vec<Vec<T>>;
    fn deref(&self) -> &Vec<Vec<T>> {
        &self.0
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Rows<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} rows [", self.0.len())?;
        for row in &self.0 {
            writeln!(f, "    {row:?},")?;
        }
        write!(f, "]")
    }
}

/// The first `rows` rows of `table`, each cut to `columns` values.
fn top_left<T>(table: Vec<Vec<T>>, rows: usize, columns: usize) -> Vec<Vec<T>> {
    table.into_iter().take(rows).map(|row| row.into_iter().take(columns).collect()).collect()
}

/// An 8-bit buffer whose Debug form is one line.
#[derive(Clone, PartialEq)]
pub struct Bytes(pub Vec<u8>);

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} values {:?}", self.0.len(), self.0)
    }
}

/// Two equally long 8-bit buffers. A random alphabet size per buffer (1..=256) makes constant
/// images, repeated values and coarse-bin collisions likely rather than vanishingly rare. The
/// values come as pairs in one vector of variable length, so a failure shrinks by dropping
/// pairs and moving values (and alphabets) towards the smallest.
pub fn image_pair(max_len: usize) -> impl Strategy<Value = (Bytes, Bytes)> {
    (1u16..=256, 1u16..=256, vec((any::<u16>(), any::<u16>()), 1..=max_len)).prop_map(
        |(alphabet_a, alphabet_b, pairs)| {
            let (a, b) = pairs
                .iter()
                .map(|&(x, y)| ((x % alphabet_a) as u8, (y % alphabet_b) as u8))
                .unzip();
            (Bytes(a), Bytes(b))
        },
    )
}

/// One 8-bit buffer.
pub fn image(max_len: usize) -> impl Strategy<Value = Bytes> {
    image_pair(max_len).prop_map(|(a, _)| a)
}

/// A bin count, including the extremes 1 and 256.
pub fn bins() -> impl Strategy<Value = usize> {
    prop_oneof![Just(256usize), Just(1usize), 1usize..=256]
}

/// Two buffers long enough that single histogram cells pass 4,096 counts (where nMI's c·ln c
/// leaves its lookup table), described by five numbers and generated from a seed: a failure
/// shrinks to those numbers instead of printing 20,000 values.
#[derive(Debug, Clone)]
pub struct LargeCountPair {
    pub seed: u64,
    pub len: usize,
    /// Distinct values of each buffer (2..=4), spread over 0..=255.
    pub alphabets: (u8, u8),
    /// Chance in 1/256 that b's value repeats a's (mod its alphabet), so the two buffers share
    /// some information without being functions of each other.
    pub agreement: u8,
}

impl LargeCountPair {
    pub fn buffers(&self) -> (Vec<u8>, Vec<u8>) {
        // splitmix64: any fixed generator will do, the seed only has to reproduce the case.
        let mut state = self.seed;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (alphabet_a, alphabet_b) = (u64::from(self.alphabets.0), u64::from(self.alphabets.1));
        let spread = |label: u64, alphabet: u64| (label * 255 / (alphabet - 1)) as u8;
        (0..self.len)
            .map(|_| {
                let x = next() % alphabet_a;
                let copies = next() % 256 < u64::from(self.agreement);
                let y = if copies { x % alphabet_b } else { next() % alphabet_b };
                (spread(x, alphabet_a), spread(y, alphabet_b))
            })
            .unzip()
    }
}

/// [`LargeCountPair`]s of 16,385..=20,000 values: with four labels or fewer, some count of
/// each marginal histogram is at least 4,097.
pub fn large_count_pair() -> impl Strategy<Value = LargeCountPair> {
    (any::<u64>(), 16_385usize..=20_000, 2u8..=4, 2u8..=4, any::<u8>()).prop_map(
        |(seed, len, a, b, agreement)| LargeCountPair { seed, len, alphabets: (a, b), agreement },
    )
}

/// A bijection of 0..=255 as a lookup table.
pub fn relabelling() -> impl Strategy<Value = Vec<u8>> {
    Just((0..=255u8).collect::<Vec<u8>>()).prop_shuffle()
}

/// An accuracy: any fraction, or a multiple of 1/8 so that equal accuracies (equal diagonals,
/// tied RRC values) are common.
fn accuracy(low: f64) -> impl Strategy<Value = f64> {
    let steps = (low * 8.0).ceil() as u8;
    prop_oneof![low..=1.0f64, (steps..=8u8).prop_map(|k| f64::from(k) / 8.0)]
}

/// A square table of accuracies in [0, 1] with a diagonal of at least 0.01, of size 1..=max_n.
pub fn accuracy_matrix(max_n: usize) -> impl Strategy<Value = Rows<f64>> {
    (1..=max_n, vec(vec(accuracy(0.0), max_n), max_n), vec(accuracy(0.01), max_n)).prop_map(
        |(n, rows, diagonal)| {
            let mut rows = top_left(rows, n, n);
            rows.iter_mut().zip(diagonal).enumerate().for_each(|(i, (row, d))| row[i] = d);
            Rows(rows)
        },
    )
}

/// A factor that keeps scaled accuracies inside [0, 1].
pub fn shrink_factor() -> impl Strategy<Value = f64> {
    0.01..=1.0f64
}

/// Random context of up to `max_objects × max_attributes` with a random density.
pub fn context(max_objects: usize, max_attributes: usize) -> impl Strategy<Value = Rows<bool>> {
    let draws = vec(vec(0.0..1.0f64, max_attributes), max_objects);
    (1..=max_objects, 1..=max_attributes, 0.0..=1.0f64, draws).prop_map(|(g, m, density, draws)| {
        Rows(
            top_left(draws, g, m)
                .iter()
                .map(|r| r.iter().map(|&u| u < density).collect())
                .collect(),
        )
    })
}

/// Context of `objects × attributes` with incidence probability `density`; a failure may
/// shrink it to half that size.
pub fn sized_context(
    objects: usize,
    attributes: usize,
    density: f64,
) -> impl Strategy<Value = Rows<bool>> {
    let draws = vec(vec(prop::bool::weighted(density), attributes), objects);
    (objects.div_ceil(2)..=objects, attributes.div_ceil(2)..=attributes, draws)
        .prop_map(|(g, m, draws)| Rows(top_left(draws, g, m)))
}

/// Gamma-encoded sRGB components in [0, 1].
pub fn srgb_unit() -> impl Strategy<Value = [f64; 3]> {
    [0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64]
}

/// Interleaved 8-bit RGB of 1..=max_pixels pixels; black and white components are common, so
/// the histograms' end bins (and L* = 100 exactly) come up.
pub fn rgb_pixels(max_pixels: usize) -> impl Strategy<Value = Bytes> {
    let component = prop_oneof![3 => any::<u8>(), 1 => Just(0u8), 1 => Just(255u8)];
    vec([component.clone(), component.clone(), component], 1..=max_pixels)
        .prop_map(|pixels| Bytes(pixels.concat()))
}

/// Real-valued table for threshold sweeps, with repeated values likely.
pub fn value_table(max_n: usize) -> impl Strategy<Value = Rows<f64>> {
    (1..=max_n, 1..=max_n, vec(vec(0u8..8, max_n), max_n)).prop_map(|(rows, columns, steps)| {
        Rows(
            top_left(steps, rows, columns)
                .iter()
                .map(|row| row.iter().map(|&k| f64::from(k) / 4.0).collect())
                .collect(),
        )
    })
}

/// Thresholds spanning below, inside and above [`value_table`]'s values.
pub fn threshold() -> impl Strategy<Value = f64> {
    -0.5..2.5f64
}
