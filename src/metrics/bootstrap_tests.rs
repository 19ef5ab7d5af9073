//! Proof that the statistics of `bootstrap` are right, on simulated data of known truth.
//! Every test is seeded, so each gives the same numbers on every run; they take well under a
//! second each in release.

use super::*;

/// `len` images, each right with probability `p`, drawn from `seed`.
fn simulated(len: usize, p: f64, seed: u64) -> Hits {
    let mut rng = SplitMix64::new(seed);
    Hits::from_bools(&(0..len).map(|_| rng.unit() < p).collect::<Vec<_>>())
}

fn accuracy_interval(hits: &Hits, resamples: usize, seed: u64) -> Interval {
    let n = hits.len() as f64;
    let values = bootstrap(hits.len(), resamples, seed, |w| hits.weighted_count(w) as f64 / n);
    percentile_interval(&values).expect("finite accuracies")
}

#[test]
fn splitmix64_matches_the_published_sequence() {
    // The first outputs for seed 0 of Vigna's reference splitmix64.c.
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
    assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
}

#[test]
fn below_is_uniform_and_in_range() {
    let mut rng = SplitMix64::new(7);
    let mut counts = [0u32; 10];
    for _ in 0..100_000 {
        counts[rng.below(10) as usize] += 1;
    }
    // Each count is Bin(100000, 0.1): sd 95; 5 sd either side.
    assert!(counts.iter().all(|&c| (9_525..=10_475).contains(&c)), "{counts:?}");
}

#[test]
fn resample_weights_draw_every_image_as_often_as_there_are_images() {
    let mut weights = Vec::new();
    resample_weights(1000, 3, 5, &mut weights);
    assert_eq!(weights.iter().sum::<u32>(), 1000);
    // About e^-1 of the images are never drawn in a resample: 368 ± 15 (sd) here.
    let never = weights.iter().filter(|&&w| w == 0).count();
    assert!((300..=440).contains(&never), "{never} images never drawn");
}

#[test]
fn intervals_cover_the_true_accuracy_95_percent_of_the_time() {
    // 1,000 simulated evaluations of 400 images by a classifier of true accuracy 0.7, each
    // with its own 400-resample percentile interval.
    let (truth, datasets) = (0.7, 1000);
    let covered = (0..datasets)
        .filter(|&d| {
            let hits = simulated(400, truth, 1_000 + d);
            accuracy_interval(&hits, 400, 50_000 + d).contains(truth)
        })
        .count();
    let coverage = covered as f64 / datasets as f64;
    eprintln!("coverage {coverage}");
    assert!((0.93..=0.97).contains(&coverage), "coverage {coverage}");
}

#[test]
fn widths_shrink_like_one_over_the_square_root_of_the_images() {
    let width = |n: usize| accuracy_interval(&simulated(n, 0.7, 11), 1000, 12).width();
    let (w400, w1600, w6400) = (width(400), width(1600), width(6400));
    for (wide, narrow) in [(w400, w1600), (w1600, w6400)] {
        let ratio = wide / narrow;
        eprintln!("width ratio {ratio}");
        assert!((1.8..=2.2).contains(&ratio), "4× the images: width ratio {ratio}, expected 2");
    }
    // And the width is the binomial one: 2 × 1.96 × sqrt(p(1 − p)/n), within 10 %.
    let binomial = binomial_interval(0.7, 1600).width();
    assert!((w1600 / binomial - 1.0).abs() < 0.1, "{w1600} vs binomial {binomial}");
}

#[test]
fn paired_intervals_are_narrower_than_unpaired_for_correlated_views() {
    // View b agrees with view a except on about 4 % of the images.
    let a = simulated(2000, 0.6, 21);
    let mut rng = SplitMix64::new(22);
    let b =
        Hits::from_bools(&(0..2000).map(|i| a.get(i) != (rng.unit() < 0.04)).collect::<Vec<_>>());
    let n = 2000.0;
    let paired = bootstrap(2000, 1000, 23, |w| {
        (a.weighted_count(w) as f64 - b.weighted_count(w) as f64) / n
    });
    let only_a = bootstrap(2000, 1000, 24, |w| a.weighted_count(w) as f64 / n);
    let only_b = bootstrap(2000, 1000, 25, |w| b.weighted_count(w) as f64 / n);
    let unpaired: Vec<f64> = only_a.iter().zip(&only_b).map(|(a, b)| a - b).collect();
    let width = |v: &[f64]| percentile_interval(v).unwrap().width();
    let (paired, unpaired) = (width(&paired), width(&unpaired));
    eprintln!("paired {paired}, unpaired {unpaired}");
    // Theory: sd of a paired difference sqrt(0.04/n) against sqrt(2 × 0.24/n) unpaired: 3.5×.
    assert!(paired < 0.4 * unpaired, "paired {paired} vs unpaired {unpaired}");
}

#[test]
fn mcnemar_equals_scipys_binomtest() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/stats/mcnemar_binomtest.json"))
            .expect("the fixture is JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    for case in cases {
        let (b, c) = (case["b"].as_u64().unwrap(), case["c"].as_u64().unwrap());
        let expected = case["p"].as_f64().unwrap();
        let got = mcnemar_exact(b, c);
        // Both sum the same binomial tail in doubles, in another order: 1e-9 relative is
        // far above their rounding and far below any printed digit.
        let tolerance = 1e-9 * expected.max(f64::MIN_POSITIVE);
        assert!((got - expected).abs() <= tolerance, "({b}, {c}): {got} vs scipy {expected}");
    }
}

#[test]
fn the_bootstrap_is_deterministic_under_its_seed() {
    let hits = simulated(500, 0.4, 31);
    let values = |seed| bootstrap(500, 200, seed, |w| hits.weighted_count(w));
    assert_eq!(values(32), values(32));
    assert_ne!(values(32), values(33));
    // Resample r depends on (seed, r) alone, not on how many are drawn.
    assert_eq!(values(32)[..100], bootstrap(500, 100, 32, |w| hits.weighted_count(w))[..]);
}

#[test]
fn hits_round_trip_through_hex_and_damage_is_named() {
    for len in [0, 1, 7, 8, 9, 64, 65, 1000] {
        let hits = simulated(len, 0.5, len as u64);
        assert_eq!(Hits::from_hex(&hits.to_hex(), len).unwrap(), hits, "{len} images");
    }
    let hits = simulated(13, 0.5, 1);
    let hex = hits.to_hex();
    let truncated = Hits::from_hex(&hex[..2], 13).unwrap_err();
    assert!(truncated.contains("2 hex digits for 13 images, expected 4"), "{truncated}");
    let not_hex = Hits::from_hex(&format!("zz{}", &hex[2..]), 13).unwrap_err();
    assert!(not_hex.contains("byte 0"), "{not_hex}");
    // Image 13 of 13 does not exist: bit 5 of byte 1.
    let padded =
        Hits::from_hex(&format!("{}{:02x}", &hex[..2], 0x20 | (hits.words[0] >> 8) as u8), 13);
    assert!(padded.unwrap_err().contains("bits past image 13"));
}

#[test]
fn discordant_pairs_and_subsets() {
    let a = Hits::from_bools(&[true, true, false, false, true]);
    let b = Hits::from_bools(&[true, false, true, false, false]);
    assert_eq!(a.discordant(&b), (2, 1));
    // The other way round the counts swap (and differ from the images both got right, 1).
    assert_eq!(b.discordant(&a), (1, 2));
    assert_eq!(a.count(), 3);
    assert!(!a.is_subset_of(&b));
    assert!(Hits::from_bools(&[true, false, false, false, false]).is_subset_of(&a));
    assert_eq!(a.weighted_count(&[5, 1, 9, 9, 2]), 8);
}

#[test]
fn percentile_intervals_interpolate_and_skip_undefined_values() {
    let values: Vec<f64> = (0..=100).map(f64::from).chain([f64::NAN]).collect();
    let interval = percentile_interval(&values).unwrap();
    assert_eq!((interval.low, interval.high), (2.5, 97.5));
    assert!(percentile_interval(&[f64::NAN]).is_none());
    assert_eq!(share_true(&[Some(true), None, Some(false), Some(true), Some(true)]), Some(0.75));
    assert_eq!(share_true(&[None]), None);
}

/// The interval of the mean of `values` as Figure 9 computes it (`weighted_mean` on each
/// resample); None without values.
fn mean_interval(values: &[f64], resamples: usize, seed: u64) -> Option<Interval> {
    let means = bootstrap(values.len(), resamples, seed, |w| weighted_mean(values, w));
    percentile_interval(&means)
}

/// `len` values of mean `mean`, uniform on [mean − 0.2, mean + 0.2] (nMI-like: in [0, 1]).
fn simulated_values(len: usize, mean: f64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| mean + 0.4 * (rng.unit() - 0.5)).collect()
}

#[test]
fn mean_intervals_cover_the_true_mean_95_percent_of_the_time() {
    let (truth, datasets) = (0.5, 1000);
    let covered = (0..datasets)
        .filter(|&d| {
            let values = simulated_values(400, truth, 7_000 + d);
            mean_interval(&values, 400, 90_000 + d).expect("values").contains(truth)
        })
        .count();
    let coverage = covered as f64 / datasets as f64;
    assert!((0.93..=0.97).contains(&coverage), "coverage {coverage} of the nMI mean's intervals");
}

#[test]
fn mean_intervals_have_the_normal_width_and_none_without_values() {
    // sd of U(−0.2, 0.2) is 0.4/√12; the 95 % interval of a mean of n is 2 × 1.96 sd/√n wide.
    let n = 1600;
    let values = simulated_values(n, 0.5, 3);
    let width = mean_interval(&values, 1000, 4).expect("values").width();
    let normal = 2.0 * Z_95 * 0.4 / 12f64.sqrt() / (n as f64).sqrt();
    assert!((width / normal - 1.0).abs() < 0.1, "width {width}, normal theory {normal}");
    assert_eq!(mean_interval(&values, 1000, 4), mean_interval(&values, 1000, 4));
    assert_eq!(mean_interval(&[], 1000, 4), None);
    // A constant value (a collapsed AE) has a zero-width interval at that value.
    let flat = mean_interval(&[0.25; 10], 100, 5).expect("values");
    assert_eq!((flat.low, flat.high), (0.25, 0.25), "{flat:?}");
}

#[test]
fn hits_count_their_images_and_nothing_past_the_last() {
    let hits = Hits::from_bools(&[true, false, true, true]);
    assert_eq!((hits.len(), hits.count(), hits.accuracy()), (4, 3, 0.75), "{hits:?}");
    assert!(!hits.is_empty() && Hits::new(0).is_empty());
    assert!(Hits::new(0).accuracy().is_nan(), "no images: no accuracy");
    // At a word's boundary too: image 64 of 64 images does not exist, so it is not right.
    let full = Hits::from_bools(&[true; 64]);
    assert!(full.get(63) && !full.get(64) && !full.get(1000), "{full:?}");
}

#[test]
fn below_rejects_exactly_the_draws_lemire_rejects() {
    // Lemire's method accepts the draw x when the low 64 bits of x·n are at least 2^64 mod n;
    // the reference computes that threshold in 128 bits, independently of `below`'s.
    for n in [3u64, 10, 1000, (1 << 63) + 1] {
        let (mut rng, mut reference) = (SplitMix64::new(n), SplitMix64::new(n));
        let threshold = ((1u128 << 64) % u128::from(n)) as u64;
        for draw in 0..1000 {
            let expected = loop {
                let product = u128::from(reference.next_u64()) * u128::from(n);
                if product as u64 >= threshold {
                    break (product >> 64) as u64;
                }
            };
            assert_eq!(rng.below(n), expected, "draw {draw} of below({n})");
        }
    }
}

#[test]
fn normal_draws_have_mean_0_and_sd_1() {
    let mut rng = SplitMix64::new(9);
    let draws: Vec<f64> = (0..100_000).map(|_| rng.normal()).collect();
    assert!(draws.iter().all(|d| d.is_finite()), "a draw is not finite");
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    let sd = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt();
    // The mean of 100,000 standard normals has sd 0.0032; the sd's own sd is 0.0022.
    assert!(mean.abs() < 0.016 && (sd - 1.0).abs() < 0.011, "mean {mean}, sd {sd}");
    let beyond = draws.iter().filter(|d| d.abs() > Z_95).count() as f64 / draws.len() as f64;
    assert!((beyond - 0.05).abs() < 0.004, "{beyond} of the draws beyond ±1.96, expected 0.05");
}

#[test]
fn neighbouring_resamples_of_any_seed_draw_unrelated_images() {
    for seed in [0, 1, 2018, u64::MAX] {
        let seeds: std::collections::BTreeSet<u64> =
            (0..1000).map(|r| resample_seed(seed, r)).collect();
        assert_eq!(seeds.len(), 1000, "seed {seed}: resamples share a seed");
    }
}

#[test]
fn mcnemar_with_two_more_discordant_pairs_one_way() {
    // n = k + 2 discordant pairs: p = 2 P(X ≤ k) for X ~ Bin(n, 1/2), not the tie's 1.
    assert_eq!(mcnemar_exact(0, 2), 0.5);
    assert_eq!(mcnemar_exact(3, 1), 0.625);
}

#[test]
fn quantiles_of_one_value_and_at_the_ends() {
    assert_eq!(quantile(&[5.0], 0.975), 5.0);
    assert_eq!((quantile(&[1.0, 2.0, 4.0], 0.0), quantile(&[1.0, 2.0, 4.0], 1.0)), (1.0, 4.0));
    assert_eq!(quantile(&[1.0, 2.0, 4.0], 0.75), 3.0);
    let percent = Interval { low: 0.25, high: 0.5 }.scaled(100.0);
    assert_eq!((percent.low, percent.high), (25.0, 50.0), "{percent:?}");
}
