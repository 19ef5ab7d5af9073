//! Property tests: each fast implementation against a slow, obviously-correct reference, and
//! each formula of the paper against its definition. Every assertion names the values, index
//! or pixel involved, and failing inputs shrink to a few lines (see `strategies`).

mod strategies;

use dnlts_metrics::analysis::{analyze, Analysis};
use dnlts_metrics::fca::{self, Context};
use dnlts_metrics::lab::{self, ChannelHistogram};
use dnlts_metrics::nmi;
use dnlts_metrics::rrc::{sorted_rrc, CrossTable};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use strategies::*;

/// Straight from the definitions, with hash maps and the textbook sums.
mod reference {
    use super::*;

    fn entropy(counts: &HashMap<u32, f64>, total: f64) -> f64 {
        counts.values().map(|&c| -(c / total) * (c / total).ln()).sum()
    }

    pub fn nmi(a: &[u8], b: &[u8], bins: usize) -> f64 {
        let label = |v: u8| (v as usize * bins / 256) as u32;
        let total = a.len() as f64;
        let mut joint: HashMap<(u32, u32), f64> = HashMap::new();
        let mut px: HashMap<u32, f64> = HashMap::new();
        let mut py: HashMap<u32, f64> = HashMap::new();
        for (&x, &y) in a.iter().zip(b) {
            *joint.entry((label(x), label(y))).or_default() += 1.0;
            *px.entry(label(x)).or_default() += 1.0;
            *py.entry(label(y)).or_default() += 1.0;
        }
        let mutual: f64 = joint
            .iter()
            .map(|(&(x, y), &c)| {
                let p = c / total;
                p * (p / ((px[&x] / total) * (py[&y] / total))).ln()
            })
            .sum();
        let (hx, hy) = (entropy(&px, total), entropy(&py, total));
        match (px.len() == 1, py.len() == 1) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.0,
            _ => mutual / (hx * hy).sqrt(),
        }
    }

    /// Every concept as (extent, intent) index sets, from the closure of every object subset.
    pub fn concepts(incidence: &[Vec<bool>]) -> BTreeSet<(Vec<usize>, Vec<usize>)> {
        let (g, m) = (incidence.len(), incidence[0].len());
        let intent_of = |objects: &[usize]| -> Vec<usize> {
            (0..m).filter(|&a| objects.iter().all(|&o| incidence[o][a])).collect()
        };
        let extent_of = |attributes: &[usize]| -> Vec<usize> {
            (0..g).filter(|&o| attributes.iter().all(|&a| incidence[o][a])).collect()
        };
        (0u64..1 << g)
            .map(|mask| {
                let subset: Vec<usize> = (0..g).filter(|o| mask >> o & 1 == 1).collect();
                let intent = intent_of(&subset);
                (extent_of(&intent), intent)
            })
            .collect()
    }

    /// All intents: M plus every intersection of object intents, grown one object at a time.
    pub fn intents_by_intersection(incidence: &[Vec<bool>]) -> BTreeSet<Vec<usize>> {
        let m = incidence[0].len();
        let mut intents: BTreeSet<Vec<usize>> = BTreeSet::from([(0..m).collect()]);
        for row in incidence {
            let object_intent: Vec<usize> = (0..m).filter(|&a| row[a]).collect();
            let grown: Vec<Vec<usize>> = intents
                .iter()
                .map(|b| b.iter().copied().filter(|a| object_intent.contains(a)).collect())
                .collect();
            intents.extend(grown);
        }
        intents
    }

    /// c < d when extent(c) ⊊ extent(d); covers are pairs with nothing strictly between.
    pub fn covers(extents: &[BTreeSet<usize>]) -> Vec<(usize, usize)> {
        let below =
            |c: usize, d: usize| extents[c].is_subset(&extents[d]) && extents[c] != extents[d];
        let n = extents.len();
        let mut edges = Vec::new();
        for c in 0..n {
            for d in 0..n {
                if below(c, d) && !(0..n).any(|e| below(c, e) && below(e, d)) {
                    edges.push((c, d));
                }
            }
        }
        edges.sort_unstable();
        edges
    }

    /// RRC(j∘A_i) = acc(j∘A_i) / min(acc(i∘A_i), acc(j∘A_j)), Figure 6 of the paper.
    pub fn rrc(accuracy: &[Vec<f64>], i: usize, j: usize) -> f64 {
        accuracy[i][j] / accuracy[i][i].min(accuracy[j][j])
    }

    /// Equal-width bins over `range`, each holding [lower edge, upper edge): the bin index is
    /// the floor of the scaled value, and values at or past the ends go to the end bins.
    /// (The scaling is written as the library writes it, so values exactly on an edge, such
    /// as a* = 0 of grey pixels, land in the same bin.)
    pub fn floor_and_clamp_bin(value: f64, range: (f64, f64), bins: usize) -> usize {
        let scaled = (value - range.0) / (range.1 - range.0) * bins as f64;
        if scaled < 0.0 {
            0
        } else {
            (scaled.floor() as usize).min(bins - 1)
        }
    }
}

/// Failing cases are saved under `proptest-regressions/` at the dnlts root (commit them).
/// Shrinking gets up to 10,000 steps or 10 s: proptest's default, 4 × cases, stops long before
/// a failing table or buffer is small.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 10_000,
        max_shrink_time: 10_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../proptest-regressions/metrics_props.txt"
        )))),
        ..ProptestConfig::default()
    }
}

fn as_sets(concepts: &[fca::Concept]) -> BTreeSet<(Vec<usize>, Vec<usize>)> {
    concepts.iter().map(|c| (c.extent.iter().collect(), c.intent.iter().collect())).collect()
}

/// A cross table of classifiers `c0`, `c1`, … with these accuracies.
fn table_of(rows: &[Vec<f64>]) -> CrossTable {
    let names: Vec<String> = (0..rows.len()).map(|k| format!("c{k}")).collect();
    CrossTable::new(names, rows.to_vec(), Path::new("prop.json")).unwrap()
}

/// `j∘A_i` for classifier j on AE i of [`table_of`].
fn pair(i: usize, j: usize) -> String {
    format!("c{j}∘A_c{i}")
}

/// Every RRC value of the table, in table order.
fn rrc_values(table: &CrossTable) -> Vec<f64> {
    table.rrc_matrix().into_iter().flatten().collect()
}

/// The first bin where `histogram` and the reference binning of `values` disagree, described.
fn histogram_mismatch(histogram: &ChannelHistogram, values: &[f64]) -> Option<String> {
    let bins = histogram.counts.len();
    let mut expected = vec![0u64; bins];
    for &v in values {
        expected[reference::floor_and_clamp_bin(v, histogram.range, bins)] += 1;
    }
    let k = (0..bins).find(|&k| histogram.counts[k] != expected[k])?;
    let in_bin: Vec<f64> = values
        .iter()
        .copied()
        .filter(|&v| reference::floor_and_clamp_bin(v, histogram.range, bins) == k)
        .collect();
    Some(format!(
        "{} histogram, {bins} bins over {:?}: bin {k} holds {} values, floor-and-clamp binning \
         puts {} there ({in_bin:?})",
        histogram.channel, histogram.range, histogram.counts[k], expected[k]
    ))
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn nmi_matches_the_definition((a, b) in image_pair(128), bins in bins()) {
        let fast = nmi::nmi(&a, &b, bins).unwrap();
        let slow = reference::nmi(&a, &b, bins);
        prop_assert!((fast - slow).abs() < 1e-9, "nMI with {bins} bins: fast {fast}, definition {slow}");
    }

    #[test]
    fn nmi_is_symmetric_and_bounded((a, b) in image_pair(128), bins in bins()) {
        let ab = nmi::nmi(&a, &b, bins).unwrap();
        let ba = nmi::nmi(&b, &a, bins).unwrap();
        prop_assert!((ab - ba).abs() < 1e-12, "nMI(a, b) = {ab} but nMI(b, a) = {ba} ({bins} bins)");
        prop_assert!((0.0..=1.0).contains(&ab), "nMI(a, b) = {ab} is outside [0, 1] ({bins} bins)");
    }

    #[test]
    fn nmi_of_an_image_with_itself_is_one(a in image(128), bins in bins()) {
        let own = nmi::nmi(&a, &a, bins).unwrap();
        prop_assert!((own - 1.0).abs() < 1e-12, "nMI(a, a) = {own}, not 1 ({bins} bins)");
    }

    #[test]
    fn nmi_ignores_bijective_relabelling((a, b) in image_pair(128), map in relabelling()) {
        let relabelled: Vec<u8> = b.iter().map(|&v| map[v as usize]).collect();
        let before = nmi::nmi(&a, &b, 256).unwrap();
        let after = nmi::nmi(&a, &relabelled, 256).unwrap();
        prop_assert!((before - after).abs() < 1e-9, "nMI {before} became {after} after relabelling b as {relabelled:?}");
    }

    #[test]
    fn rrc_ignores_scaling_all_accuracies(rows in accuracy_matrix(6), factor in shrink_factor()) {
        let table = table_of(&rows);
        let scaled_rows: Vec<Vec<f64>> = rows.iter().map(|r| r.iter().map(|v| v * factor).collect()).collect();
        let scaled = table_of(&scaled_rows);
        for (i, (r1, r2)) in table.rrc_matrix().iter().zip(scaled.rrc_matrix()).enumerate() {
            for (j, (x, y)) in r1.iter().zip(r2).enumerate() {
                prop_assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "RRC({}) = {x}, scaled by {factor}: {y}", pair(i, j));
            }
        }
    }

    #[test]
    fn rrc_is_accuracy_over_the_weaker_diagonal(rows in accuracy_matrix(6)) {
        let table = table_of(&rows);
        let matrix = table.rrc_matrix();
        for i in 0..rows.len() {
            for j in 0..rows.len() {
                let expected = reference::rrc(&rows, i, j);
                let got = table.rrc(i, j);
                prop_assert!(
                    (got - expected).abs() <= 1e-12 * expected.max(1.0),
                    "RRC({}) = {got}, but acc {} / min(acc(c{i}∘A_c{i}) {}, acc(c{j}∘A_c{j}) {}) = {expected}",
                    pair(i, j), rows[i][j], rows[i][i], rows[j][j]
                );
                prop_assert_eq!(matrix[i][j], got, "rrc_matrix()[{}][{}] differs from rrc({}, {})", i, j, i, j);
            }
        }
        // Figure 6's list: every pair once, ascending, each with its own accuracy and RRC.
        let sorted = sorted_rrc(&table);
        prop_assert_eq!(sorted.len(), rows.len() * rows.len());
        for (k, entry) in sorted.iter().enumerate() {
            let (i, j) = (entry.autoencoder[1..].parse::<usize>().unwrap(), entry.classifier[1..].parse::<usize>().unwrap());
            prop_assert_eq!(entry.accuracy, rows[i][j], "entry {} ({})", k, pair(i, j));
            prop_assert_eq!(entry.rrc, table.rrc(i, j), "entry {} ({})", k, pair(i, j));
            if k > 0 {
                prop_assert!(sorted[k - 1].rrc <= entry.rrc, "entry {k} ({}, RRC {}) follows a larger RRC {}", pair(i, j), entry.rrc, sorted[k - 1].rrc);
            }
        }
    }

    #[test]
    fn a_pair_is_related_exactly_when_its_rrc_reaches_t(
        rows in accuracy_matrix(5),
        cut in any::<Index>(),
        t in 0.001..2.0f64,
    ) {
        let table = table_of(&rows);
        // One threshold equal to an RRC value (the pair sits right on it), one anywhere.
        let on_a_cut = rrc_values(&table)[cut.index(rows.len() * rows.len())];
        let thresholds: Vec<f64> = [on_a_cut, t].into_iter().filter(|&t| t > 0.0).collect();
        let analysis = analyze(&table, &thresholds).unwrap();
        for lattice in &analysis.lattices {
            let t = lattice.threshold;
            let expected: Vec<String> = (0..rows.len())
                .flat_map(|i| (0..rows.len()).map(move |j| (i, j)))
                .filter(|&(i, j)| table.rrc(i, j) >= t)
                .map(|(i, j)| pair(i, j))
                .collect();
            prop_assert_eq!(&lattice.relation, &expected, "relation at t = {} (RRC ≥ t, in table order)", t);
            prop_assert!(lattice.interval.contains(t), "lattice at t = {t} gives the interval {:?}", lattice.interval);
            let stable = holding(&analysis, t);
            prop_assert_eq!(stable.len(), 1, "t = {} lies in several stable intervals: {:?}", t, stable);
            prop_assert_eq!(lattice.interval, stable[0].interval, "t = {}: the lattice's interval is not the sweep's", t);
            prop_assert_eq!(expected.len(), stable[0].relation_size, "t = {}: |I| of the stable interval {:?}", t, stable[0].interval);
        }
    }

    #[test]
    fn stable_intervals_hold_their_upper_end_and_not_their_lower(rows in accuracy_matrix(5)) {
        let table = table_of(&rows);
        let analysis = analyze(&table, &[]).unwrap();
        for (k, s) in analysis.stable_intervals.iter().enumerate() {
            if let Some(up_to) = s.interval.up_to {
                prop_assert!(s.interval.contains(up_to), "stable interval {k} {:?} does not contain its upper end", s.interval);
            }
            if let Some(above) = s.interval.above {
                prop_assert!(!s.interval.contains(above), "stable interval {k} {:?} contains its lower end", s.interval);
            }
        }
        // Every RRC value is a cut: exactly one interval holds it, the one it closes.
        for (index, value) in rrc_values(&table).into_iter().enumerate() {
            let stable = holding(&analysis, value);
            prop_assert_eq!(stable.len(), 1, "RRC({}) = {} lies in {} stable intervals", pair(index / rows.len(), index % rows.len()), value, stable.len());
            prop_assert_eq!(stable[0].interval.up_to, Some(value), "RRC({}) = {} is not the upper end of {:?}", pair(index / rows.len(), index % rows.len()), value, stable[0].interval);
        }
    }

    #[test]
    fn concepts_match_brute_force_and_are_closed(incidence in context(9, 9)) {
        let context = Context::from_matrix(&incidence);
        let concepts = fca::concepts(&context);
        let expected = reference::concepts(&incidence);
        prop_assert_eq!(concepts.len(), expected.len(), "a concept was generated twice or missed");
        prop_assert_eq!(as_sets(&concepts), expected);
        for (k, c) in concepts.iter().enumerate() {
            prop_assert_eq!(&context.intent_of(&c.extent), &c.intent, "concept {} is not closed", k);
            prop_assert_eq!(&context.extent_of(&c.intent), &c.extent, "concept {} is not closed", k);
        }
        prop_assert_eq!(concepts[0].extent.len(), incidence.len(), "concept 0 is not the top");
        prop_assert_eq!(concepts.last().unwrap().intent.len(), incidence[0].len(), "the last concept is not the bottom");
    }

    #[test]
    fn covers_are_the_transitive_reduction(incidence in context(8, 8)) {
        let context = Context::from_matrix(&incidence);
        let concepts = fca::concepts(&context);
        let extents: Vec<BTreeSet<usize>> = concepts.iter().map(|c| c.extent.iter().collect()).collect();
        prop_assert_eq!(fca::covering_edges(&context, &concepts), reference::covers(&extents), "extents {:?}", extents);
        let chain = extents.iter().all(|a| extents.iter().all(|b| a.is_subset(b) || b.is_subset(a)));
        prop_assert_eq!(fca::is_chain(&concepts), chain, "extents {:?}", extents);
    }

    #[test]
    fn sweep_intervals_reproduce_their_context(values in value_table(5), t in threshold()) {
        let sweep = fca::threshold_sweep(&values);
        let holding: Vec<_> = sweep
            .iter()
            .filter(|i| i.above.is_none_or(|a| t > a) && i.up_to.is_none_or(|u| t <= u))
            .collect();
        prop_assert_eq!(holding.len(), 1, "t = {} lies in {} sweep intervals", t, holding.len());
        prop_assert_eq!(&holding[0].incidence, &fca::threshold(&values, t), "t = {}", t);
        let distinct: BTreeSet<Vec<Vec<bool>>> = sweep.iter().map(|i| i.incidence.clone()).collect();
        prop_assert_eq!(distinct.len(), sweep.len(), "two sweep intervals share a context");
    }

    #[test]
    fn lab_round_trips(rgb in srgb_unit()) {
        let back = lab::lab_to_srgb_unit(lab::srgb_unit_to_lab(rgb));
        for k in 0..3 {
            prop_assert!((back[k] - rgb[k]).abs() < 1e-9, "{rgb:?} -> {back:?}");
        }
    }

    #[test]
    fn lab_histograms_floor_and_clamp(rgb in rgb_pixels(48), bins in prop_oneof![2usize..=64, 65usize..=4096, Just(4096usize)]) {
        let histograms = lab::lab_histograms(&rgb, bins).unwrap();
        let pixels: Vec<lab::Lab> = rgb.chunks_exact(3).map(|p| lab::srgb8_to_lab([p[0], p[1], p[2]])).collect();
        let channel = |value: fn(&lab::Lab) -> f64| pixels.iter().map(value).collect::<Vec<f64>>();
        let channels = [
            (&histograms.l, channel(|c| c.l)),
            (&histograms.a, channel(|c| c.a)),
            (&histograms.b, channel(|c| c.b)),
        ];
        for (histogram, values) in channels {
            let mismatch = histogram_mismatch(histogram, &values);
            prop_assert!(mismatch.is_none(), "{}", mismatch.unwrap_or_default());
        }
    }
}

/// The stable intervals of `analysis` that hold `t`.
fn holding(analysis: &Analysis, t: f64) -> Vec<&dnlts_metrics::analysis::StableInterval> {
    analysis.stable_intervals.iter().filter(|s| s.interval.contains(t)).collect()
}

proptest! {
    // Buffers of 16k-20k values: fewer cases.
    #![proptest_config(config(24))]

    /// The c·ln c of counts of 4,096 and more is computed, not looked up: only long buffers
    /// (the paper's 256 × 256 × 3 images, not the ci profile's 3,072 values) reach it.
    #[test]
    fn nmi_matches_the_definition_past_the_lookup_table(pair in large_count_pair(), bins in prop_oneof![Just(256usize), 2usize..=256]) {
        let (a, b) = pair.buffers();
        let fast = nmi::nmi(&a, &b, bins).unwrap();
        let slow = reference::nmi(&a, &b, bins);
        prop_assert!((fast - slow).abs() < 1e-9, "nMI of {} values with {bins} bins: fast {fast}, definition {slow}", a.len());
    }
}

proptest! {
    // Larger contexts: fewer cases, checked against the intersection-closure reference.
    #![proptest_config(config(8))]

    #[test]
    fn large_sparse_contexts_have_every_intent(incidence in sized_context(64, 64, 0.06)) {
        let context = Context::from_matrix(&incidence);
        let concepts = fca::concepts(&context);
        let intents: BTreeSet<Vec<usize>> = concepts.iter().map(|c| c.intent.iter().collect()).collect();
        prop_assert_eq!(intents.len(), concepts.len(), "a concept was generated twice");
        prop_assert_eq!(intents, reference::intents_by_intersection(&incidence));
        let edges = fca::covering_edges(&context, &concepts);
        for (lower, upper) in edges {
            let (below, above) = (&concepts[lower].extent, &concepts[upper].extent);
            prop_assert!(below.is_subset(above) && below != above,
                "edge {lower} -> {upper}: extent {:?} is not strictly inside {:?}", below.iter().collect::<Vec<_>>(), above.iter().collect::<Vec<_>>());
        }
    }
}

/// Reference values computed independently (Python, same IEC 61966-2-1 constants).
#[test]
fn lab_reference_colours() {
    let cases: [([u8; 3], [f64; 3]); 8] = [
        ([255, 255, 255], [100.0, 0.0, 0.0]),
        ([0, 0, 0], [0.0, 0.0, 0.0]),
        ([255, 0, 0], [53.232882, 80.105327, 67.222782]),
        ([0, 255, 0], [87.737033, -86.188434, 83.186144]),
        ([0, 0, 255], [32.302587, 79.193638, -107.853734]),
        ([128, 128, 128], [53.585013, 0.0, 0.0]),
        ([0, 255, 255], [91.116521, -48.083970, -14.127781]),
        ([255, 255, 0], [97.138247, -21.560812, 94.487720]),
    ];
    for (rgb, expected) in cases {
        let got = lab::srgb8_to_lab(rgb);
        for (g, e) in [got.l, got.a, got.b].iter().zip(expected) {
            assert!((g - e).abs() < 1e-4, "{rgb:?}: {got:?} vs {expected:?}");
        }
    }
}

/// Within 0.05 of the widely quoted D65 values (white 0.95047, 1, 1.08883), which differ from
/// ours only by the white point's last digits.
#[test]
fn lab_primaries_match_common_tables() {
    let red = lab::srgb8_to_lab([255, 0, 0]);
    let blue = lab::srgb8_to_lab([0, 0, 255]);
    for (g, e) in [red.l, red.a, red.b, blue.l, blue.a, blue.b]
        .iter()
        .zip([53.241, 80.092, 67.203, 32.297, 79.188, -107.86])
    {
        assert!((g - e).abs() < 0.05, "{g} vs {e}");
    }
}

#[test]
fn image_lab_matches_per_pixel_conversion() {
    let rgb: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2]).collect();
    let fast = lab::image_to_lab(&rgb).unwrap();
    for (k, px) in rgb.chunks_exact(3).enumerate() {
        let slow = lab::srgb8_to_lab([px[0], px[1], px[2]]);
        assert!(
            (fast[k].l - slow.l).abs() < 1e-12
                && (fast[k].a - slow.a).abs() < 1e-12
                && (fast[k].b - slow.b).abs() < 1e-12,
            "pixel {k} {px:?}: image_to_lab gives {:?}, srgb8_to_lab {slow:?}",
            fast[k]
        );
    }
}

#[test]
fn large_images_use_the_parallel_path_and_agree() {
    // 3 × 2^16 values crosses the parallel threshold.
    let a: Vec<u8> =
        (0..3 * 65_536u32).map(|k| (k.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let b: Vec<u8> =
        a.iter().enumerate().map(|(k, &v)| if k % 3 == 0 { v } else { v / 2 }).collect();
    let fast = nmi::nmi(&a, &b, 256).unwrap();
    let slow = reference::nmi(&a, &b, 256);
    assert!((fast - slow).abs() < 1e-9, "nMI of 196,608 values: fast {fast}, definition {slow}");
    let shape = nmi::ImageShape::new(256, 256, 3);
    let intra = nmi::intra_nmi(&[&a, &a], &[&b, &a], shape, 256).unwrap();
    let expected = (fast + 1.0) / 2.0;
    assert!(
        (intra.mean - expected).abs() < 1e-12,
        "intra nMI over (a, b) and (a, a): mean {}, expected (nMI(a, b) + 1) / 2 = {expected}",
        intra.mean
    );
}
