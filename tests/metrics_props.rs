//! Property tests: each fast implementation against a slow, obviously-correct reference.

mod strategies;

use dnlts::metrics::fca::{self, Context};
use dnlts::metrics::lab;
use dnlts::metrics::nmi;
use dnlts::metrics::rrc::CrossTable;
use proptest::prelude::*;
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
}

/// Failing cases are saved under `proptest-regressions/` at the crate root (commit them).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/metrics_props.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn as_sets(concepts: &[fca::Concept]) -> BTreeSet<(Vec<usize>, Vec<usize>)> {
    concepts.iter().map(|c| (c.extent.iter().collect(), c.intent.iter().collect())).collect()
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn nmi_matches_the_definition((a, b) in image_pair(300), bins in bins()) {
        let fast = nmi::nmi(&a, &b, bins).unwrap();
        let slow = reference::nmi(&a, &b, bins);
        prop_assert!((fast - slow).abs() < 1e-9, "fast {fast} slow {slow}");
    }

    #[test]
    fn nmi_is_symmetric_and_bounded((a, b) in image_pair(300), bins in bins()) {
        let ab = nmi::nmi(&a, &b, bins).unwrap();
        let ba = nmi::nmi(&b, &a, bins).unwrap();
        prop_assert!((ab - ba).abs() < 1e-12);
        prop_assert!((0.0..=1.0).contains(&ab));
    }

    #[test]
    fn nmi_of_an_image_with_itself_is_one(a in image(300), bins in bins()) {
        prop_assert!((nmi::nmi(&a, &a, bins).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nmi_ignores_bijective_relabelling((a, b) in image_pair(300), map in relabelling()) {
        let relabelled: Vec<u8> = b.iter().map(|&v| map[v as usize]).collect();
        let before = nmi::nmi(&a, &b, 256).unwrap();
        let after = nmi::nmi(&a, &relabelled, 256).unwrap();
        prop_assert!((before - after).abs() < 1e-9);
    }

    #[test]
    fn rrc_ignores_scaling_all_accuracies(rows in accuracy_matrix(6), factor in shrink_factor()) {
        let names: Vec<String> = (0..rows.len()).map(|k| format!("c{k}")).collect();
        let origin = Path::new("prop.json");
        let table = CrossTable::new(names.clone(), rows.clone(), origin).unwrap();
        let scaled_rows = rows.iter().map(|r| r.iter().map(|v| v * factor).collect()).collect();
        let scaled = CrossTable::new(names, scaled_rows, origin).unwrap();
        for (r1, r2) in table.rrc_matrix().iter().zip(scaled.rrc_matrix()) {
            for (x, y) in r1.iter().zip(r2) {
                prop_assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0));
            }
        }
    }

    #[test]
    fn concepts_match_brute_force_and_are_closed(incidence in context(9, 9)) {
        let context = Context::from_matrix(&incidence);
        let concepts = fca::concepts(&context);
        let expected = reference::concepts(&incidence);
        prop_assert_eq!(concepts.len(), expected.len()); // no concept generated twice
        prop_assert_eq!(as_sets(&concepts), expected);
        for c in &concepts {
            prop_assert_eq!(&context.intent_of(&c.extent), &c.intent);
            prop_assert_eq!(&context.extent_of(&c.intent), &c.extent);
        }
        prop_assert_eq!(concepts[0].extent.len(), incidence.len()); // top
        prop_assert_eq!(concepts.last().unwrap().intent.len(), incidence[0].len()); // bottom
    }

    #[test]
    fn covers_are_the_transitive_reduction(incidence in context(8, 8)) {
        let context = Context::from_matrix(&incidence);
        let concepts = fca::concepts(&context);
        let extents: Vec<BTreeSet<usize>> = concepts.iter().map(|c| c.extent.iter().collect()).collect();
        prop_assert_eq!(fca::covering_edges(&context, &concepts), reference::covers(&extents));
        let chain = extents.iter().all(|a| extents.iter().all(|b| a.is_subset(b) || b.is_subset(a)));
        prop_assert_eq!(fca::is_chain(&concepts), chain);
    }

    #[test]
    fn sweep_intervals_reproduce_their_context(values in value_table(5), t in threshold()) {
        let sweep = fca::threshold_sweep(&values);
        let holding: Vec<_> = sweep
            .iter()
            .filter(|i| i.above.is_none_or(|a| t > a) && i.up_to.is_none_or(|u| t <= u))
            .collect();
        prop_assert_eq!(holding.len(), 1);
        prop_assert_eq!(&holding[0].incidence, &fca::threshold(&values, t));
        let distinct: BTreeSet<Vec<Vec<bool>>> = sweep.iter().map(|i| i.incidence.clone()).collect();
        prop_assert_eq!(distinct.len(), sweep.len());
    }

    #[test]
    fn lab_round_trips(rgb in srgb_unit()) {
        let back = lab::lab_to_srgb_unit(lab::srgb_unit_to_lab(rgb));
        for k in 0..3 {
            prop_assert!((back[k] - rgb[k]).abs() < 1e-9, "{rgb:?} -> {back:?}");
        }
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
        prop_assert_eq!(intents.len(), concepts.len()); // each concept generated once
        prop_assert_eq!(intents, reference::intents_by_intersection(&incidence));
        let edges = fca::covering_edges(&context, &concepts);
        for (lower, upper) in edges {
            prop_assert!(concepts[lower].extent.is_subset(&concepts[upper].extent));
            prop_assert!(concepts[lower].extent != concepts[upper].extent);
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
                && (fast[k].b - slow.b).abs() < 1e-12
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
    assert!((fast - reference::nmi(&a, &b, 256)).abs() < 1e-9);
    let shape = nmi::ImageShape::new(256, 256, 3);
    let intra = nmi::intra_nmi(&[&a, &a], &[&b, &a], shape, 256).unwrap();
    assert!((intra.mean - (fast + 1.0) / 2.0).abs() < 1e-12);
}
