//! How sure is each number: per-image outcomes as bitsets, the paired bootstrap over
//! evaluation images, percentile intervals, McNemar's exact test and binomial intervals.
//!
//! Every accuracy of a run is measured on the same evaluation images, so one resample of the
//! images (drawn with replacement) moves every accuracy, every difference of two accuracies
//! and every ratio of them (RRC) together: the bootstrap is *paired*, and a difference between
//! two views that agree on most images is known far better than either accuracy alone.
//!
//! The resamples are drawn by [`SplitMix64`], a documented 64-bit generator, from a seed the
//! caller derives from its master seed; resample `r` depends only on (seed, r), so they can be
//! computed in parallel in any order and give the same bytes.

use rayon::prelude::*;

/// Resamples of the bootstrap unless asked otherwise.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// Each tail left out of an interval: (1 − [`LEVEL`]) / 2, written out so that it is exact.
pub const TAIL: f64 = 0.025;

/// The 0.975 quantile of the standard normal distribution (two-sided 95 %).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Which of `len` images a view got right, one bit per image (bit `i % 64` of word `i / 64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hits {
    len: usize,
    words: Vec<u64>,
}

impl Hits {
    /// All wrong.
    pub fn new(len: usize) -> Self {
        Hits { len, words: vec![0; len.div_ceil(64)] }
    }

    pub fn from_bools(right: &[bool]) -> Self {
        let mut hits = Hits::new(right.len());
        right.iter().enumerate().filter(|(_, &r)| r).for_each(|(i, _)| hits.set(i));
        hits
    }

    /// Marks image `i` right.
    pub fn set(&mut self, i: usize) {
        assert!(i < self.len, "image {i} of {}", self.len);
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of images right.
    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Right images over all images; NaN when there are none.
    pub fn accuracy(&self) -> f64 {
        if self.len == 0 {
            return f64::NAN;
        }
        self.count() as f64 / self.len as f64
    }

    /// Σ weights[i] over the images right: the count in a resample that drew image i
    /// `weights[i]` times.
    pub fn weighted_count(&self, weights: &[u32]) -> u64 {
        debug_assert_eq!(weights.len(), self.len);
        let mut sum = 0u64;
        for (k, &word) in self.words.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                sum += u64::from(weights[k * 64 + word.trailing_zeros() as usize]);
                word &= word - 1;
            }
        }
        sum
    }

    /// (right here and wrong in `other`, wrong here and right in `other`): McNemar's
    /// discordant pairs.
    pub fn discordant(&self, other: &Hits) -> (u64, u64) {
        assert_eq!(self.len, other.len, "discordant pairs need the same images");
        let ones = |f: fn(u64, u64) -> u64| {
            (self.words.iter().zip(&other.words))
                .map(move |(&a, &b)| u64::from(f(a, b).count_ones()))
        };
        (ones(|a, b| a & !b).sum(), ones(|a, b| !a & b).sum())
    }

    /// Every image right here is right in `other` (top-1 right implies top-5 right).
    pub fn is_subset_of(&self, other: &Hits) -> bool {
        self.len == other.len && self.words.iter().zip(&other.words).all(|(a, b)| a & !b == 0)
    }

    /// Lower-case hex of the bytes, image `i` in bit `i % 8` of byte `i / 8`; the unused bits
    /// of the last byte are 0. `len.div_ceil(8) * 2` characters.
    pub fn to_hex(&self) -> String {
        let bytes = self.len.div_ceil(8);
        (0..bytes).map(|b| format!("{:02x}", (self.words[b / 8] >> (8 * (b % 8))) as u8)).collect()
    }

    /// Parses [`Hits::to_hex`] of `len` images; the error says what is wrong with the text.
    pub fn from_hex(text: &str, len: usize) -> Result<Self, String> {
        let bytes = len.div_ceil(8);
        if text.len() != 2 * bytes {
            return Err(format!(
                "{} hex digits for {len} images, expected {} (truncated or of another run)",
                text.len(),
                2 * bytes
            ));
        }
        let mut hits = Hits::new(len);
        for b in 0..bytes {
            let digits = &text.as_bytes()[2 * b..2 * b + 2];
            let byte = std::str::from_utf8(digits)
                .ok()
                .filter(|d| d.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("byte {b} is not two hex digits"))?;
            hits.words[b / 8] |= u64::from(byte) << (8 * (b % 8));
        }
        if (len..8 * bytes).any(|i| hits.words[i / 64] >> (i % 64) & 1 == 1) {
            return Err(format!("bits past image {len} are set (a longer run's bitset?)"));
        }
        Ok(hits)
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014, as in Java's `SplittableRandom`): state += golden
/// gamma, output = the state mixed by two xor-shift-multiplies. Small, fast, and good enough
/// to draw images with replacement; not for cryptography.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0), by Lemire's multiply-and-reject, so without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal, by Box–Muller (the cosine half).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1]: ln stays finite
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The seed of resample `r` of a bootstrap seeded with `seed`: one SplitMix64 step of the two
/// mixed, so neighbouring resamples and neighbouring seeds draw unrelated images.
pub fn resample_seed(seed: u64, r: usize) -> u64 {
    SplitMix64::new(seed ^ (r as u64).wrapping_mul(0xd1b5_4a32_d192_ed03)).next_u64()
}

/// How often resample `r` draws each of `images` images (they sum to `images`).
pub fn resample_weights(images: usize, seed: u64, r: usize, weights: &mut Vec<u32>) {
    weights.clear();
    weights.resize(images, 0);
    let mut rng = SplitMix64::new(resample_seed(seed, r));
    for _ in 0..images {
        weights[rng.below(images as u64) as usize] += 1;
    }
}

/// `statistic` of each of `resamples` resamples of `images` images, in resample order,
/// computed in parallel; the same (images, resamples, seed) give the same values.
pub fn bootstrap<T: Send>(
    images: usize,
    resamples: usize,
    seed: u64,
    statistic: impl Fn(&[u32]) -> T + Sync,
) -> Vec<T> {
    (0..resamples)
        .into_par_iter()
        .map_init(Vec::new, |weights, r| {
            resample_weights(images, seed, r, weights);
            statistic(weights)
        })
        .collect()
}

/// The mean of `values` over a resample that draws value i `weights[i]` times (the weights
/// of [`resample_weights`] sum to the number of values): Figure 9's nMI means. Values of
/// different AEs on the same images, resampled with the same seed, move together (paired).
pub fn weighted_mean(values: &[f64], weights: &[u32]) -> f64 {
    let total: f64 = values.iter().zip(weights).map(|(v, &w)| v * f64::from(w)).sum();
    total / values.len() as f64
}

/// A two-sided interval at [`LEVEL`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    pub fn width(&self) -> f64 {
        self.high - self.low
    }

    /// Both ends times `factor` (fractions to percent).
    pub fn scaled(&self, factor: f64) -> Interval {
        Interval { low: self.low * factor, high: self.high * factor }
    }
}

/// The `q` quantile of ascending `sorted` values, interpolated linearly between order
/// statistics (Hyndman and Fan's type 7, numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (below, fraction) = (position.floor() as usize, position.fract());
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

/// The central [`LEVEL`] percentile interval of the finite `values` (the others, resamples in
/// which the statistic is undefined, are left out); None when no value is finite.
pub fn percentile_interval(values: &[f64]) -> Option<Interval> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some(Interval { low: quantile(&sorted, TAIL), high: quantile(&sorted, 1.0 - TAIL) })
}

/// McNemar's exact test: the two-sided p-value of `b` discordant pairs one way and `c` the
/// other under H0 "either way is equally likely", i.e. the binomial test of b successes in
/// b + c trials at p = 1/2 (scipy's `binomtest(b, b + c, 0.5)`). The distribution is
/// symmetric, so p = min(1, 2 P(X ≤ min(b, c))); summed in log space, as 2^-(b+c)
/// underflows past 1074 pairs.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let (n, k) = (b + c, b.min(c));
    if 2 * k == n {
        return 1.0;
    }
    let mut log_pmf = -(n as f64) * std::f64::consts::LN_2;
    let mut terms = Vec::with_capacity(k as usize + 1);
    for i in 0..=k {
        terms.push(log_pmf);
        log_pmf += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let largest = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = largest.exp() * terms.iter().map(|t| (t - largest).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// The normal-approximation ([`Z_95`]) interval of an accuracy `p` measured on `n`
/// independent images, clamped to [0, 1]: for published numbers without per-image data.
pub fn binomial_interval(p: f64, n: u64) -> Interval {
    let half = Z_95 * (p * (1.0 - p) / n as f64).sqrt();
    Interval { low: (p - half).max(0.0), high: (p + half).min(1.0) }
}

/// Share of `outcomes` that are true, counting only the decided ones (Some); None when none is.
pub fn share_true(outcomes: &[Option<bool>]) -> Option<f64> {
    let decided: Vec<bool> = outcomes.iter().flatten().copied().collect();
    if decided.is_empty() {
        return None;
    }
    Some(decided.iter().filter(|&&d| d).count() as f64 / decided.len() as f64)
}

#[cfg(test)]
#[path = "bootstrap_tests.rs"]
mod tests;
