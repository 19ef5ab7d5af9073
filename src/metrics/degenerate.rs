//! Degenerate results: inputs of the paper's statements that carry no signal, so that a
//! statement about them would hold or fail by accident. Two kinds are detected:
//!
//! - **a classifier at chance**: its top-1 on the clean test images is no better than guessing
//!   among the classes (at or below the upper end of the central 95 % interval of the exact
//!   binomial Bin(n, 1/classes) over the n test images). Every comparison of its accuracies
//!   compares noise, and the AE fine-tuned on it learned from no signal, so that AE is
//!   degenerate too. The AE fine-tuned for a classifier above chance is degenerate when that
//!   classifier reads its reconstructions at chance: RRC divides by that accuracy.
//! - **a (nearly) constant AE**: the standard deviation of its 8-bit reconstructions, across
//!   the evaluated images (the same sub-pixel, image to image) or within an image, is below
//!   [`FLAT_LEVELS`] (one 8-bit level). nMI labels sub-pixels by their 8-bit level, so an image
//!   that varies by less than one level has an entropy near 0 and nMI(x, A(x)) ≤
//!   √(H(A(x)) / H(x)) near 0 whatever the AE keeps (a constant image gives exactly 0 intra-
//!   and 1 inter-nMI); reconstructions that do not change with the input carry nothing of it.
//!
//! The claims read the findings (`claims::Measured::degenerate`): a claim reading a degenerate
//! input is NOT APPLICABLE, never a vacuous HOLDS.

use super::{MetricsError, Result};
use serde::Serialize;
use std::fmt;

/// Standard deviation, in 8-bit levels, below which reconstructions count as constant.
pub const FLAT_LEVELS: f64 = 1.0;

/// Two-sided level of the interval of accuracies a guessing classifier reaches.
pub const CHANCE_LEVEL: f64 = 0.95;

/// One input the claims read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Input {
    /// A classifier's predictions, by name (`L`, `A`, …).
    Classifier(String),
    /// An AE's reconstructions, by name (`A_S`, `A_L`, …).
    Autoencoder(String),
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Classifier(name) => write!(f, "classifier {name}"),
            Input::Autoencoder(name) => f.write_str(name),
        }
    }
}

/// A degenerate input and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub input: Input,
    pub reason: String,
}

/// The central [`CHANCE_LEVEL`] interval (low, high), as fractions, of the accuracy of a
/// classifier that guesses uniformly among `classes` on `images` images: quantiles of the
/// exact binomial Bin(images, 1/classes). No images: (0, 1); fewer than two classes: (1, 1).
pub fn chance_interval(images: u64, classes: u64) -> (f64, f64) {
    if images == 0 {
        return (0.0, 1.0);
    }
    if classes < 2 {
        return (1.0, 1.0);
    }
    let (n, p) = (images as f64, 1.0 / classes as f64);
    let tail = (1.0 - CHANCE_LEVEL) / 2.0;
    // log P(X = k) by the ratio P(k+1)/P(k) = (n−k)/(k+1) · p/(1−p): no factorial overflows.
    let odds = (p / (1.0 - p)).ln();
    let mut log_pmf = n * (1.0 - p).ln();
    let (mut cdf, mut low) = (0.0, None);
    for k in 0..=images {
        cdf += log_pmf.exp();
        if low.is_none() && cdf >= tail {
            low = Some(k);
        }
        if cdf >= 1.0 - tail {
            return (low.unwrap_or(k) as f64 / n, k as f64 / n);
        }
        log_pmf += ((n - k as f64) / (k as f64 + 1.0)).ln() + odds;
    }
    (low.unwrap_or(images) as f64 / n, 1.0)
}

/// Whether `accuracy` (a fraction of `images` images) is no better than guessing among
/// `classes`: at or below the top of [`chance_interval`].
pub fn at_chance(accuracy: f64, images: u64, classes: u64) -> bool {
    // Accuracies are k/n; the margin absorbs their float spelling.
    accuracy <= chance_interval(images, classes).1 + 1e-12
}

/// How much 8-bit images vary, in levels: across images (each sub-pixel position image to
/// image, pooled over positions) and within an image (pooled over images), as standard
/// deviations. `across_images` is NaN with fewer than two images, `within_image` without any.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PixelSpread {
    pub images: u64,
    pub across_images: f64,
    pub within_image: f64,
}

impl PixelSpread {
    /// Why these images count as constant, if they do.
    pub fn flat(&self) -> Option<String> {
        let below = |v: f64| v.is_finite() && v < FLAT_LEVELS;
        let levels = |v: f64| format!("{v:.3}");
        if below(self.within_image) {
            Some(format!(
                "each reconstruction is (nearly) one flat colour: pixel standard deviation \
                 within an image {} of 255 levels (threshold {FLAT_LEVELS}), over {} images",
                levels(self.within_image),
                self.images
            ))
        } else if below(self.across_images) {
            Some(format!(
                "its reconstructions do not change with the input: pixel standard deviation \
                 across {} images {} of 255 levels (threshold {FLAT_LEVELS})",
                self.images,
                levels(self.across_images)
            ))
        } else {
            None
        }
    }
}

/// Sums of 8-bit images, exact in integers, from which [`PixelSpread`] follows.
#[derive(Debug, Clone, Default)]
pub struct SpreadAccumulator {
    sum: Vec<u64>,
    sum_sq: Vec<u64>,
    within_variance: f64,
    images: u64,
}

/// Variance of values with sum `s`, sum of squares `q` and count `n`, exact up to the division.
fn variance(s: u64, q: u64, n: u64) -> f64 {
    let spread = u128::from(n) * u128::from(q) - u128::from(s) * u128::from(s);
    spread as f64 / (n as f64 * n as f64)
}

impl SpreadAccumulator {
    /// Adds one image (interleaved 8-bit values); every image must have the first one's length.
    pub fn add(&mut self, image: &[u8]) -> Result<()> {
        if self.images == 0 {
            self.sum = vec![0; image.len()];
            self.sum_sq = vec![0; image.len()];
        } else if image.len() != self.sum.len() {
            return Err(MetricsError::LengthMismatch { a: self.sum.len(), b: image.len() });
        }
        let (mut s, mut q) = (0u64, 0u64);
        for ((&v, sum), sum_sq) in image.iter().zip(&mut self.sum).zip(&mut self.sum_sq) {
            let (v, v2) = (u64::from(v), u64::from(v) * u64::from(v));
            *sum += v;
            *sum_sq += v2;
            s += v;
            q += v2;
        }
        if !image.is_empty() {
            self.within_variance += variance(s, q, image.len() as u64);
        }
        self.images += 1;
        Ok(())
    }

    pub fn spread(&self) -> PixelSpread {
        let n = self.images;
        let across = if n < 2 || self.sum.is_empty() {
            f64::NAN
        } else {
            let total: f64 =
                self.sum.iter().zip(&self.sum_sq).map(|(&s, &q)| variance(s, q, n)).sum();
            (total / self.sum.len() as f64).sqrt()
        };
        let within = if n == 0 || self.sum.is_empty() {
            f64::NAN
        } else {
            (self.within_variance / n as f64).sqrt()
        };
        PixelSpread { images: n, across_images: across, within_image: within }
    }
}

/// What the detection reads.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Test images behind the accuracies.
    pub images: u64,
    pub classes: u64,
    /// (classifier, top-1 on the clean images, top-1 on its own fine-tuned AE's reconstructions).
    pub accuracies: Vec<(String, f64, f64)>,
    /// (AE name, spread of its reconstructions).
    pub spreads: Vec<(String, PixelSpread)>,
}

fn pct(fraction: f64) -> String {
    format!("{:.2} %", 100.0 * fraction)
}

/// Every degenerate input of `observed`: classifiers at chance, then AEs (constant ones, those
/// fine-tuned on a classifier at chance, and those their own classifier, above chance alone,
/// reads at chance).
pub fn find(observed: &Observed) -> Vec<Finding> {
    let (images, classes) = (observed.images, observed.classes);
    let (low, high) = chance_interval(images, classes);
    let chance = format!(
        "chance 1/{classes} = {}, 95 % of guessing classifiers score {} to {} on {images} images",
        pct(1.0 / classes.max(1) as f64),
        pct(low),
        pct(high)
    );
    let mut findings = Vec::new();
    let mut own_at_chance = Vec::new();
    for (classifier, alone, own) in &observed.accuracies {
        if at_chance(*alone, images, classes) {
            findings.push(Finding {
                input: Input::Classifier(classifier.clone()),
                reason: format!(
                    "top-1 {} on the test images, at or below chance ({chance})",
                    pct(*alone)
                ),
            });
            own_at_chance.push(Finding {
                input: Input::Autoencoder(format!("A_{classifier}")),
                reason: format!(
                    "fine-tuned on classifier {classifier}, which is at chance: it learned from \
                     no signal"
                ),
            });
        } else if at_chance(*own, images, classes) {
            own_at_chance.push(Finding {
                input: Input::Autoencoder(format!("A_{classifier}")),
                reason: format!(
                    "{classifier} (top-1 {} alone) reads its reconstructions at chance: top-1 {} \
                     ({chance})",
                    pct(*alone),
                    pct(*own)
                ),
            });
        }
    }
    for (ae, spread) in &observed.spreads {
        if let Some(reason) = spread.flat() {
            findings.push(Finding { input: Input::Autoencoder(ae.clone()), reason });
        }
    }
    // An AE both constant and read at chance is listed once, for being constant.
    own_at_chance.retain(|f| !findings.iter().any(|g| g.input == f.input));
    findings.extend(own_at_chance);
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chance_interval_is_the_binomials_central_95_percent() {
        // Bin(400, 0.1): mean 40, sd 6; the exact 2.5 % and 97.5 % quantiles are 29 and 52
        // (P(X ≤ 28) = 0.0235, P(X ≤ 29) = 0.0357; P(X ≤ 51) = 0.9689, P(X ≤ 52) = 0.9783).
        assert_eq!(chance_interval(400, 10), (29.0 / 400.0, 52.0 / 400.0));
        // Bin(64, 0.1): quantiles 2 and 11 (P(X ≤ 10) = 0.9484, P(X ≤ 11) = 0.9764).
        assert_eq!(chance_interval(64, 10), (2.0 / 64.0, 11.0 / 64.0));
        // Large n: close to the normal approximation 0.001 ± 1.96 · √(0.001 · 0.999 / 50000).
        let (low, high) = chance_interval(50_000, 1000);
        let half = 1.96 * (0.001f64 * 0.999 / 50_000.0).sqrt();
        assert!((high - (0.001 + half)).abs() < 1e-4 && (low - (0.001 - half)).abs() < 1e-4);
        assert_eq!(chance_interval(0, 10), (0.0, 1.0));
        assert_eq!(chance_interval(10, 1), (1.0, 1.0));
    }

    #[test]
    fn at_chance_includes_the_top_of_the_interval_and_below() {
        assert!(at_chance(0.12, 400, 10), "the ci profile's L: 48 of 400");
        assert!(at_chance(52.0 / 400.0, 400, 10));
        assert!(!at_chance(53.0 / 400.0, 400, 10));
        assert!(at_chance(0.0575, 400, 10), "below chance counts too");
        assert!(!at_chance(0.3125, 400, 10), "the ci profile's R");
    }

    fn spread_of(images: &[Vec<u8>]) -> PixelSpread {
        let mut acc = SpreadAccumulator::default();
        images.iter().for_each(|i| acc.add(i).unwrap());
        acc.spread()
    }

    #[test]
    fn spreads_are_the_pooled_standard_deviations() {
        // Two images of two values: position 0 is 0 then 10 (sd 5), position 1 is 10 always.
        let s = spread_of(&[vec![0, 10], vec![10, 10]]);
        assert!((s.across_images - (12.5f64).sqrt()).abs() < 1e-12, "{s:?}");
        assert!((s.within_image - (12.5f64).sqrt()).abs() < 1e-12, "{s:?}");
        assert_eq!(s.images, 2);
        let one = spread_of(&[vec![0, 10]]);
        assert!(one.across_images.is_nan() && one.within_image == 5.0);
        let mut acc = SpreadAccumulator::default();
        acc.add(&[1, 2]).unwrap();
        assert!(acc.add(&[1, 2, 3]).is_err(), "a different length is refused");
    }

    /// Eight 8-bit images.
    type Images = Vec<Vec<u8>>;

    /// A varied test set and the reconstructions of three AEs of it: a faithful one, one that
    /// outputs a constant white image, one that outputs the same textured image for every input.
    fn images() -> (Images, Images, Images) {
        let originals: Vec<Vec<u8>> = (0..8u32)
            .map(|k| (0..48u32).map(|p| ((p * 37 + k * 91) % 256) as u8).collect())
            .collect();
        let white = vec![vec![255u8; 48]; 8];
        let same = vec![originals[0].clone(); 8];
        (originals, white, same)
    }

    #[test]
    fn constant_reconstructions_are_flat_and_faithful_ones_are_not() {
        let (originals, white, same) = images();
        assert_eq!(spread_of(&originals).flat(), None);
        let white = spread_of(&white);
        assert_eq!((white.across_images, white.within_image), (0.0, 0.0));
        assert!(white.flat().unwrap().contains("one flat colour"));
        let same = spread_of(&same).flat().expect("input-independent output is constant");
        assert!(same.contains("do not change with the input"), "{same}");
        // One level of dithering is not yet signal: sd 0.5 levels.
        let dither: Vec<Vec<u8>> = (0..8).map(|k| vec![100 + (k % 2) as u8; 48]).collect();
        assert!(spread_of(&dither).flat().is_some());
    }

    #[test]
    fn find_names_chance_classifiers_and_constant_or_unread_aes() {
        let (originals, white, _) = images();
        let observed = Observed {
            images: 400,
            classes: 10,
            accuracies: vec![
                ("L".into(), 0.12, 0.11),   // at chance alone
                ("R".into(), 0.31, 0.0875), // above chance alone, at chance on A_R
                ("V".into(), 0.70, 0.10),   // A_V is also constant: listed once
                ("I".into(), 0.70, 0.65),
            ],
            spreads: vec![
                ("A_S".into(), spread_of(&originals)),
                ("A_V".into(), spread_of(&white)),
                ("A_I".into(), spread_of(&originals)),
            ],
        };
        let found = find(&observed);
        let inputs: Vec<String> = found.iter().map(|f| f.input.to_string()).collect();
        assert_eq!(inputs, ["classifier L", "A_V", "A_L", "A_R"]);
        assert!(
            found[0].reason.contains("top-1 12.00 %")
                && found[0].reason.contains("7.25 % to 13.00 %")
        );
        assert!(found[1].reason.contains("flat colour"), "{}", found[1].reason);
        assert!(found[2].reason.contains("fine-tuned on classifier L, which is at chance"));
        assert!(found[3].reason.contains("R (top-1 31.00 % alone)"), "{}", found[3].reason);
        assert!(find(&Observed { images: 400, classes: 10, ..Default::default() }).is_empty());
    }

    mod claims_on_degenerate_inputs {
        use super::*;
        use crate::claims::{check, paper_measured, Measured, Verdict};
        use crate::nmi::{inter_values, intra_values, AeNmi, ImageShape, NmiSummary};

        const SHAPE: ImageShape = ImageShape { height: 4, width: 4, channels: 3 };

        /// Eight varied 4×4 RGB test images.
        fn originals() -> Vec<Vec<u8>> {
            (0..8u32)
                .map(|k| (0..48u32).map(|p| ((p * 53 + k * 29 + p * p * k) % 256) as u8).collect())
                .collect()
        }

        /// Figure 9's row and the spread of an AE's reconstructions, measured as the suite does.
        fn measure(ae: &str, reconstructions: &[Vec<u8>]) -> (AeNmi, (String, PixelSpread)) {
            let originals = originals();
            let x: Vec<&[u8]> = originals.iter().map(Vec::as_slice).collect();
            let r: Vec<&[u8]> = reconstructions.iter().map(Vec::as_slice).collect();
            let summary = |values: Vec<f64>| NmiSummary::of(&values, "values", "1").unwrap();
            let intra = summary(intra_values(&x, &r, SHAPE, 256).unwrap());
            let inter = summary(inter_values(&r, SHAPE, 256).unwrap());
            let mut acc = SpreadAccumulator::default();
            r.iter().for_each(|image| acc.add(image).unwrap());
            (AeNmi { ae: ae.into(), intra, inter }, (ae.into(), acc.spread()))
        }

        /// The paper's Tables 1–2 (ImageNet, 50,000 images, 1000 classes), every AE
        /// reconstructing faithfully (with a little noise of its own) but `constant`, which
        /// outputs a white image whatever it is given.
        fn measured_with_constant(constant: &str) -> Measured {
            let mut m = paper_measured();
            let (mut nmi, mut spreads) = (Vec::new(), Vec::new());
            for (k, ae) in ["A_S", "A_L", "A_A", "A_V", "A_I", "A_R"].into_iter().enumerate() {
                let reconstructions: Vec<Vec<u8>> = if ae == constant {
                    vec![vec![255; SHAPE.len()]; 8]
                } else {
                    let noisy = |v: &u8| v.saturating_add(k as u8);
                    originals().iter().map(|image| image.iter().map(noisy).collect()).collect()
                };
                let (row, spread) = measure(ae, &reconstructions);
                nmi.push(row);
                spreads.push(spread);
            }
            let accuracies =
                m.table1.iter().map(|r| (r.classifier.clone(), r.x.top1, r.own.top1)).collect();
            let observed = Observed { images: 50_000, classes: 1000, accuracies, spreads };
            m.degenerate = find(&observed);
            m.nmi = nmi;
            m
        }

        fn verdict(m: &Measured, id: &str) -> (Verdict, String) {
            let claim = check(m).into_iter().find(|c| c.id == id).expect("known claim");
            (claim.verdict, claim.ours)
        }

        #[test]
        fn a_constant_reconstruction_is_found_with_figure_9s_signature() {
            let m = measured_with_constant("A_I");
            let a_i = m.nmi.iter().find(|r| r.ae == "A_I").unwrap();
            assert_eq!((a_i.intra.mean, a_i.inter.mean), (0.0, 1.0), "the tiny run's A_I");
            assert_eq!(m.degenerate.len(), 1, "{:?}", m.degenerate);
            assert_eq!(m.degenerate[0].input, Input::Autoencoder("A_I".into()));
        }

        #[test]
        fn claims_reading_a_constant_ae_are_not_applicable_and_the_rest_are_judged() {
            let m = measured_with_constant("A_I");
            for id in ["rrc-inception-differs", "nmi-intra-order", "nmi-order-matches-fig7b"] {
                let (v, ours) = verdict(&m, id);
                assert_eq!(v, Verdict::NotApplicable, "{id}: {ours}");
                assert_eq!(ours, "reads degenerate input: A_I", "{id}");
            }
            // They read classifiers and A_S, A_V, A_R, never A_I's reconstructions.
            for id in ["table1-as-below-c", "rrc-vgg-lifts-r-and-i", "fca-t0.9-vgg-ae-enough-for-r"]
            {
                assert_ne!(verdict(&m, id).0, Verdict::NotApplicable, "{id}");
            }
            // Nothing that reads A_I holds: the vacuous HOLDS of the tiny run is gone.
            let faithful = measured_with_constant("none");
            assert!(faithful.degenerate.is_empty(), "{:?}", faithful.degenerate);
            let before = check(&faithful);
            let after = check(&m);
            let changed: Vec<&str> = (before.iter().zip(&after))
                .filter(|(b, a)| b.verdict != a.verdict)
                .map(|(b, _)| b.id)
                .collect();
            assert!(changed.contains(&"nmi-order-matches-fig7b"), "{changed:?}");
            assert!(after
                .iter()
                .filter(|c| changed.contains(&c.id))
                .all(|c| c.verdict == Verdict::NotApplicable));
        }

        #[test]
        fn claims_reading_a_classifier_at_chance_are_not_applicable() {
            let mut m = paper_measured();
            let observed = Observed {
                images: 50_000,
                classes: 1000,
                accuracies: vec![("L".into(), 0.0011, 0.3485)],
                spreads: Vec::new(),
            };
            m.degenerate = find(&observed);
            let (v, ours) = verdict(&m, "table1-as-below-c");
            assert_eq!(v, Verdict::NotApplicable, "{ours}");
            assert_eq!(ours, "reads degenerate input: classifier L");
            assert_eq!(
                verdict(&m, "rrc-vgg-lifts-r-and-i").0,
                Verdict::Holds,
                "reads R, I, V only"
            );
        }

        #[test]
        fn an_order_of_equal_user_counts_is_not_applicable() {
            // Every RRC is 1: every AE is used by all three classifiers at t = 0.2.
            let names = ["L", "A", "V"].map(String::from).to_vec();
            let cross = crate::rrc::CrossTable::new(
                names.clone(),
                vec![vec![0.5; 3]; 3],
                std::path::Path::new("equal.json"),
            )
            .unwrap();
            let nmi = [("A_L", 0.5), ("A_A", 0.4), ("A_V", 0.3)]
                .map(|(ae, mean)| {
                    let summary = NmiSummary { mean, std: 0.01, count: 10 };
                    AeNmi { ae: ae.into(), intra: summary, inter: summary }
                })
                .to_vec();
            let m = Measured { classifiers: names, cross: Some(cross), nmi, ..Default::default() };
            let (v, ours) = verdict(&m, "nmi-order-matches-fig7b");
            assert_eq!(v, Verdict::NotApplicable, "{ours}");
            assert!(ours.contains("the same 3 classifiers"), "{ours}");
        }
    }
}
