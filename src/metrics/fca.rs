//! Formal concept analysis (Ganter & Wille) for Figure 7: concepts of a context by
//! Close-by-One (Kuznetsov 1993) on bitsets, the covering relation by Lindig's upper-neighbour
//! algorithm (2000), chain detection, and the sweep of thresholds over a real-valued table.

use serde::Serialize;
use std::collections::HashMap;

/// Fixed-capacity set of small integers, one bit each.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub fn empty(capacity: usize) -> Self {
        Self { words: vec![0; capacity.div_ceil(64)] }
    }

    pub fn full(capacity: usize) -> Self {
        let mut words = vec![u64::MAX; capacity.div_ceil(64)];
        // Bits past `capacity` stay clear so equality and counting see only members.
        if !capacity.is_multiple_of(64) {
            *words.last_mut().expect("capacity > 0 here") = (1 << (capacity % 64)) - 1;
        }
        Self { words }
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    pub fn intersect_with(&mut self, other: &BitSet) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= b);
    }

    pub fn intersection(&self, other: &BitSet) -> BitSet {
        let mut out = self.clone();
        out.intersect_with(other);
        out
    }

    pub fn is_subset(&self, other: &BitSet) -> bool {
        self.words.iter().zip(&other.words).all(|(a, b)| a & !b == 0)
    }

    /// Whether both sets hold the same members below `limit`.
    pub fn agrees_below(&self, other: &BitSet, limit: usize) -> bool {
        let full_words = limit / 64;
        if self.words[..full_words] != other.words[..full_words] {
            return false;
        }
        let rest = limit % 64;
        rest == 0 || (self.words[full_words] ^ other.words[full_words]) & ((1 << rest) - 1) == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            (0..64).filter(move |b| word >> b & 1 == 1).map(move |b| w * 64 + b)
        })
    }
}

/// A formal context: objects × attributes and the incidence relation, stored both ways so
/// each derivation is a run of bitset intersections.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    object_count: usize,
    attribute_count: usize,
    /// `attributes_of[g]` = g'
    attributes_of: Vec<BitSet>,
    /// `objects_of[m]` = m'
    objects_of: Vec<BitSet>,
}

impl Context {
    /// `incidence[g][m]` says whether object g has attribute m (rows must be equally long).
    pub fn from_matrix(incidence: &[Vec<bool>]) -> Self {
        let object_count = incidence.len();
        let attribute_count = incidence.first().map_or(0, Vec::len);
        let mut attributes_of = vec![BitSet::empty(attribute_count); object_count];
        let mut objects_of = vec![BitSet::empty(object_count); attribute_count];
        for (g, row) in incidence.iter().enumerate() {
            assert_eq!(row.len(), attribute_count, "context rows must be equally long");
            for (m, _) in row.iter().enumerate().filter(|(_, &has)| has) {
                attributes_of[g].insert(m);
                objects_of[m].insert(g);
            }
        }
        Self { object_count, attribute_count, attributes_of, objects_of }
    }

    pub fn object_count(&self) -> usize {
        self.object_count
    }

    pub fn attribute_count(&self) -> usize {
        self.attribute_count
    }

    pub fn has(&self, object: usize, attribute: usize) -> bool {
        self.attributes_of[object].contains(attribute)
    }

    /// A' : the attributes shared by every object of `objects`.
    pub fn intent_of(&self, objects: &BitSet) -> BitSet {
        let mut intent = BitSet::full(self.attribute_count);
        objects.iter().for_each(|g| intent.intersect_with(&self.attributes_of[g]));
        intent
    }

    /// B' : the objects having every attribute of `attributes`.
    pub fn extent_of(&self, attributes: &BitSet) -> BitSet {
        let mut extent = BitSet::full(self.object_count);
        attributes.iter().for_each(|m| extent.intersect_with(&self.objects_of[m]));
        extent
    }
}

/// A formal concept (A, B) with A' = B and B' = A.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Concept {
    pub extent: BitSet,
    pub intent: BitSet,
}

/// All concepts, sorted by descending extent size then by extent bits, so index 0 is the top
/// (all objects) and the last is the bottom. Close-by-One: each concept is generated exactly
/// once, from its canonical parent, via the canonicity test on attributes below `j`.
///
/// A context with n objects and m attributes can have up to 2^min(n, m) concepts: for
/// contexts that come from users, use [`concepts_at_most`].
pub fn concepts(context: &Context) -> Vec<Concept> {
    concepts_at_most(context, usize::MAX).expect("no context has usize::MAX concepts")
}

/// A lattice had more concepts than allowed; the enumeration stopped at `limit + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyConcepts {
    pub limit: usize,
}

/// [`concepts`], stopping as soon as more than `limit` concepts were found, so its time and
/// memory are O(limit × m × (n + m) / 64) word operations whatever the context.
pub fn concepts_at_most(
    context: &Context,
    limit: usize,
) -> std::result::Result<Vec<Concept>, TooManyConcepts> {
    let top_extent = BitSet::full(context.object_count);
    let top = Concept { intent: context.intent_of(&top_extent), extent: top_extent };
    let mut found = Vec::new();
    close_by_one(context, top, 0, &mut found, limit).map_err(|()| TooManyConcepts { limit })?;
    found.sort_by(|a, b| b.extent.len().cmp(&a.extent.len()).then(a.cmp(b)));
    Ok(found)
}

/// Err(()) once `found` holds more than `limit` concepts.
fn close_by_one(
    context: &Context,
    concept: Concept,
    start: usize,
    found: &mut Vec<Concept>,
    limit: usize,
) -> std::result::Result<(), ()> {
    for attribute in start..context.attribute_count {
        if concept.intent.contains(attribute) {
            continue;
        }
        let extent = concept.extent.intersection(&context.objects_of[attribute]);
        let intent = context.intent_of(&extent);
        // Canonical iff closing added no attribute smaller than the one we added.
        if intent.agrees_below(&concept.intent, attribute) {
            close_by_one(context, Concept { extent, intent }, attribute + 1, found, limit)?;
        }
    }
    found.push(concept);
    if found.len() > limit {
        return Err(());
    }
    Ok(())
}

/// Covering pairs `(lower, upper)` as indices into `concepts` (which must be all concepts of
/// `context`), sorted. Lindig: the upper neighbours of (A, B) are the closures of A ∪ {g} for
/// the objects g whose closure adds no other still-minimal object.
pub fn covering_edges(context: &Context, concepts: &[Concept]) -> Vec<(usize, usize)> {
    let index: HashMap<&BitSet, usize> =
        concepts.iter().enumerate().map(|(i, c)| (&c.extent, i)).collect();
    let mut edges = Vec::new();
    for (lower, concept) in concepts.iter().enumerate() {
        for upper_extent in upper_neighbour_extents(context, concept) {
            edges.push((lower, index[&upper_extent]));
        }
    }
    edges.sort_unstable();
    edges
}

fn upper_neighbour_extents(context: &Context, concept: &Concept) -> Vec<BitSet> {
    let outside: Vec<usize> =
        (0..context.object_count).filter(|&g| !concept.extent.contains(g)).collect();
    let mut minimal = BitSet::empty(context.object_count);
    outside.iter().for_each(|&g| minimal.insert(g));
    let mut neighbours = Vec::new();
    for &g in &outside {
        // (A ∪ {g})' = B ∩ g', so one intersection replaces a full derivation.
        let grown_intent = concept.intent.intersection(&context.attributes_of[g]);
        let closed = context.extent_of(&grown_intent);
        let mut other_minimal = closed.intersection(&minimal);
        other_minimal.remove(g);
        if other_minimal.is_empty() {
            neighbours.push(closed);
        } else {
            minimal.remove(g);
        }
    }
    neighbours
}

/// Whether the concepts are totally ordered by extent inclusion.
pub fn is_chain(concepts: &[Concept]) -> bool {
    let mut by_size: Vec<&Concept> = concepts.iter().collect();
    by_size.sort_by_key(|c| c.extent.len());
    by_size.windows(2).all(|w| w[0].extent.is_subset(&w[1].extent))
}

/// Reduced labelling: object g labels the smallest concept whose extent holds it, (g'', g');
/// attribute m labels the largest concept whose intent holds it, (m', m'').
pub fn object_concept(context: &Context, concepts: &[Concept], object: usize) -> usize {
    let mut single = BitSet::empty(context.object_count);
    single.insert(object);
    let intent = context.intent_of(&single);
    position_of_intent(concepts, &intent)
}

pub fn attribute_concept(context: &Context, concepts: &[Concept], attribute: usize) -> usize {
    let mut single = BitSet::empty(context.attribute_count);
    single.insert(attribute);
    let extent = context.extent_of(&single);
    concepts
        .iter()
        .position(|c| c.extent == extent)
        .expect("the closure of an attribute is a concept")
}

fn position_of_intent(concepts: &[Concept], intent: &BitSet) -> usize {
    concepts
        .iter()
        .position(|c| &c.intent == intent)
        .expect("the closure of an object is a concept")
}

/// One distinct context of a threshold sweep: `I = {(g, m) : value[g][m] ≥ t}` is the same
/// for every t with `above < t ≤ up_to` (`None` = unbounded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdInterval {
    /// Exclusive lower end; `None` means −∞.
    pub above: Option<f64>,
    /// Inclusive upper end; `None` means +∞ (the empty relation).
    pub up_to: Option<f64>,
    pub incidence: Vec<Vec<bool>>,
}

/// Every distinct context as t runs over the real line, in increasing t. Between consecutive
/// distinct values v_k < v_{k+1} the relation is constant on (v_k, v_{k+1}]. NaN never holds.
/// Holds (distinct values + 1) incidences at once: for large tables, walk
/// [`threshold_cuts`] with [`sweep_interval`] instead.
pub fn threshold_sweep(values: &[Vec<f64>]) -> Vec<ThresholdInterval> {
    let cuts = threshold_cuts(values);
    (0..=cuts.len()).map(|k| sweep_interval(values, &cuts, k)).collect()
}

/// The distinct values of `values` in increasing order, NaN left out: the ends of the sweep's
/// intervals.
pub fn threshold_cuts(values: &[Vec<f64>]) -> Vec<f64> {
    let mut cuts: Vec<f64> = values.iter().flatten().copied().filter(|v| !v.is_nan()).collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    cuts
}

/// Interval `k` (0 ..= cuts.len()) of the sweep: (cuts[k-1], cuts[k]], unbounded below for
/// k = 0 and above (the empty relation) for k = cuts.len().
pub fn sweep_interval(values: &[Vec<f64>], cuts: &[f64], k: usize) -> ThresholdInterval {
    let above = k.checked_sub(1).map(|below| cuts[below]);
    match cuts.get(k) {
        Some(&cut) => {
            ThresholdInterval { above, up_to: Some(cut), incidence: threshold(values, cut) }
        }
        None => ThresholdInterval {
            above,
            up_to: None,
            incidence: values.iter().map(|row| vec![false; row.len()]).collect(),
        },
    }
}

/// The incidence `value ≥ t`.
pub fn threshold(values: &[Vec<f64>], t: f64) -> Vec<Vec<bool>> {
    values.iter().map(|row| row.iter().map(|&v| v >= t).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(rows: &[&str]) -> Context {
        let m: Vec<Vec<bool>> =
            rows.iter().map(|r| r.chars().map(|c| c == 'x').collect()).collect();
        Context::from_matrix(&m)
    }

    #[test]
    fn diagonal_context_is_a_boolean_lattice() {
        // Objects i has every attribute except i: the concept lattice is 2^3.
        let c = ctx(&[".xx", "x.x", "xx."]);
        let all = concepts(&c);
        assert_eq!(all.len(), 8);
        let edges = covering_edges(&c, &all);
        assert_eq!(edges.len(), 12); // a cube has 12 edges
        assert!(!is_chain(&all), "the cube is not a chain: {all:?}");
        assert_eq!(all[0].extent.len(), 3);
        assert_eq!(all[7].extent.len(), 0);
    }

    #[test]
    fn staircase_context_is_a_chain() {
        let c = ctx(&["xxx", "xx.", "x.."]);
        let all = concepts(&c);
        // ({0,1,2},{0}) > ({0,1},{0,1}) > ({0},{0,1,2}); no concept has an empty extent.
        assert_eq!(all.len(), 3);
        assert!(is_chain(&all), "the staircase is a chain: {all:?}");
        assert_eq!(covering_edges(&c, &all), vec![(1, 0), (2, 1)]);
        assert_eq!(object_concept(&c, &all, 0), 2);
        assert_eq!(object_concept(&c, &all, 2), 0);
        assert_eq!(attribute_concept(&c, &all, 0), 0);
        assert_eq!(attribute_concept(&c, &all, 2), 2);
    }

    #[test]
    fn sweep_intervals_are_half_open_and_cover_the_line() {
        let v = vec![vec![0.2, 0.5], vec![0.5, 0.9]];
        let s = threshold_sweep(&v);
        let ends: Vec<_> = s.iter().map(|i| (i.above, i.up_to)).collect();
        assert_eq!(
            ends,
            vec![
                (None, Some(0.2)),
                (Some(0.2), Some(0.5)),
                (Some(0.5), Some(0.9)),
                (Some(0.9), None)
            ]
        );
        assert_eq!(s[1].incidence, threshold(&v, 0.5));
        assert_eq!(s[1].incidence, vec![vec![false, true], vec![true, true]]);
    }

    #[test]
    fn enumeration_stops_past_the_limit() {
        // The boolean lattice 2^3 has 8 concepts.
        let c = ctx(&[".xx", "x.x", "xx."]);
        assert_eq!(concepts_at_most(&c, 8).unwrap(), concepts(&c));
        assert_eq!(concepts_at_most(&c, 7), Err(TooManyConcepts { limit: 7 }));
        // 2^20 concepts would take seconds and memory; the limit stops it at once.
        let big: Vec<Vec<bool>> = (0..20).map(|i| (0..20).map(|j| i != j).collect()).collect();
        let started = std::time::Instant::now();
        let stopped = concepts_at_most(&Context::from_matrix(&big), 1000).map(|c| c.len());
        assert_eq!(stopped, Err(TooManyConcepts { limit: 1000 }));
        let elapsed = started.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(1), "stopping took {elapsed:?}");
    }

    #[test]
    fn bitset_agreement_spans_words() {
        let mut a = BitSet::empty(130);
        let mut b = BitSet::empty(130);
        a.insert(129);
        for (limit, agree) in [(129, true), (130, false)] {
            assert_eq!(a.agrees_below(&b, limit), agree, "below {limit}: {a:?} vs {b:?}");
        }
        b.insert(64);
        for (limit, agree) in [(65, false), (64, true)] {
            assert_eq!(a.agrees_below(&b, limit), agree, "below {limit}: {a:?} vs {b:?}");
        }
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![64]);
    }
}
