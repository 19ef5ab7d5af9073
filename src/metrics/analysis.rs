//! The whole "analyse a cross table" pipeline of Section 3.4: RRC (Figure 6), formal concept
//! lattices at chosen thresholds (Figure 7), the sweep of every distinct context over t, and
//! notes comparing the computation with what the paper wrote.

use super::fca::{self, Context, ThresholdInterval};
use super::rrc::{grouped_by_classifier, sorted_rrc, ClassifierGroup, CrossTable, RrcEntry};
use super::{MetricsError, Result};
use serde::Serialize;
use std::fmt::Write as _;

/// Thresholds of Figure 7.
pub const DEFAULT_THRESHOLDS: [f64; 4] = [0.1, 0.2, 0.8, 0.9];

/// Everything the report needs about one cross table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Classifier names; the AE fine-tuned on classifier `x` is called `A_x`.
    pub classifiers: Vec<String>,
    /// `accuracy[i][j]` = acc(j∘A_i), as given.
    pub accuracy: Vec<Vec<f64>>,
    /// Every j∘A_i in ascending RRC (Figure 6 as one list).
    pub rrc: Vec<RrcEntry>,
    /// Figure 6 grouped by the evaluated classifier.
    pub rrc_by_classifier: Vec<ClassifierGroup>,
    /// One lattice per requested threshold, in the order requested.
    pub lattices: Vec<Lattice>,
    /// Every distinct context as t sweeps the real line, in increasing t.
    pub stable_intervals: Vec<StableInterval>,
    /// Gaps between consecutive distinct RRC values, widest first.
    pub gaps: Vec<Gap>,
    /// Where the computation agrees or differs with the paper's text (only for the paper's
    /// classifiers L, A, V, I, R).
    pub notes: Vec<Note>,
}

/// The concept lattice of K = (classifiers, AEs, {(j, A_i) : RRC(j∘A_i) ≥ t}).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lattice {
    pub threshold: f64,
    /// The sweep interval (above, up_to] holding this threshold.
    pub interval: Interval,
    /// Pairs in the relation, written `j∘A_i`, in table order.
    pub relation: Vec<String>,
    /// Concepts from the top (all classifiers) to the bottom.
    pub concepts: Vec<ConceptNames>,
    /// Covering pairs `[lower, upper]` as indices into `concepts`.
    pub edges: Vec<[usize; 2]>,
    pub is_chain: bool,
}

/// A half-open interval (above, up_to]; `None` is −∞ below and +∞ above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub above: Option<f64>,
    pub up_to: Option<f64>,
}

impl Interval {
    pub fn contains(&self, t: f64) -> bool {
        self.above.is_none_or(|a| t > a) && self.up_to.is_none_or(|u| t <= u)
    }
}

/// A formal concept by names, with its reduced labels (each classifier labels only its own
/// object concept, each AE only its attribute concept).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptNames {
    pub extent: Vec<String>,
    pub intent: Vec<String>,
    pub object_labels: Vec<String>,
    pub attribute_labels: Vec<String>,
}

/// One distinct context of the threshold sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StableInterval {
    pub interval: Interval,
    pub relation_size: usize,
    pub concept_count: usize,
    pub is_chain: bool,
    /// Pairs whose RRC equals `above`: they left the relation on entering this interval.
    pub dropped_on_entry: Vec<String>,
}

/// A gap (lower, upper) between consecutive distinct RRC values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Gap {
    pub lower: f64,
    pub upper: f64,
    pub width: f64,
}

/// One statement of the paper checked against the numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub topic: String,
    pub paper: String,
    pub computed: String,
    pub agrees: bool,
}

/// Default of `--max-concepts`: the most concepts one lattice may have. A lattice of n
/// classifiers can have up to 2^n concepts; the paper's 5 × 5 table never exceeds 32.
pub const DEFAULT_MAX_CONCEPTS: usize = 100_000;

/// Checks one lattice threshold: RRC values are ≥ 0, so t ≤ 0 relates every pair and says
/// nothing, and a NaN or infinite t selects nothing meaningful.
pub fn check_threshold(value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(MetricsError::InvalidThreshold { value })
    }
}

/// How far a long analysis got, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Contexts (one per requested threshold, one per interval of the sweep) finished.
    pub contexts_done: usize,
    pub contexts: usize,
    /// Concepts computed so far, over all finished contexts.
    pub concepts: usize,
    /// The most concepts of one finished context.
    pub largest: usize,
}

/// Runs the pipeline with the default limit and no progress reports.
pub fn analyze(table: &CrossTable, thresholds: &[f64]) -> Result<Analysis> {
    analyze_with(table, thresholds, DEFAULT_MAX_CONCEPTS, &mut |_| {})
}

/// Runs the pipeline. Thresholds must be finite and above 0 ([`check_threshold`]). Stops with
/// [`MetricsError::TooManyConcepts`] as soon as one lattice has more than `max_concepts`
/// concepts, so the work is at most (thresholds + n² + 1) × `max_concepts` concepts for n
/// classifiers; `progress` hears after each context.
pub fn analyze_with(
    table: &CrossTable,
    thresholds: &[f64],
    max_concepts: usize,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Analysis> {
    thresholds.iter().try_for_each(|&t| check_threshold(t))?;
    let values = rrc_by_object(table);
    let cuts = fca::threshold_cuts(&values);
    let mut counter = Counter {
        max_concepts,
        progress,
        state: Progress {
            contexts_done: 0,
            contexts: thresholds.len() + cuts.len() + 1,
            concepts: 0,
            largest: 0,
        },
    };
    let lattices = thresholds
        .iter()
        .map(|&t| lattice_at(table, &values, &cuts, t, &mut counter))
        .collect::<Result<_>>()?;
    let stable_intervals = stable_intervals(table, &values, &cuts, &mut counter)?;
    let mut analysis = Analysis {
        classifiers: table.names().to_vec(),
        accuracy: table.rows().to_vec(),
        rrc: sorted_rrc(table),
        rrc_by_classifier: grouped_by_classifier(table),
        lattices,
        stable_intervals,
        gaps: gaps(&values),
        notes: Vec::new(),
    };
    analysis.notes = paper_notes(table, &analysis);
    Ok(analysis)
}

/// Computes every context's concepts under the limit and reports progress.
struct Counter<'a> {
    max_concepts: usize,
    progress: &'a mut dyn FnMut(&Progress),
    state: Progress,
}

impl Counter<'_> {
    fn concepts(
        &mut self,
        context: &Context,
        interval: Interval,
        relation_size: usize,
    ) -> Result<Vec<fca::Concept>> {
        let concepts = fca::concepts_at_most(context, self.max_concepts).map_err(|_| {
            MetricsError::TooManyConcepts {
                limit: self.max_concepts,
                interval: interval.to_text(),
                objects: context.object_count(),
                attributes: context.attribute_count(),
                relation_size,
            }
        })?;
        self.state.contexts_done += 1;
        self.state.concepts += concepts.len();
        self.state.largest = self.state.largest.max(concepts.len());
        (self.progress)(&self.state);
        Ok(concepts)
    }
}

/// Context values with objects = classifiers: `values[j][i]` = RRC(j∘A_i).
fn rrc_by_object(table: &CrossTable) -> Vec<Vec<f64>> {
    (0..table.len()).map(|j| (0..table.len()).map(|i| table.rrc(i, j)).collect()).collect()
}

fn pair_name(table: &CrossTable, classifier: usize, autoencoder: usize) -> String {
    format!("{}∘A_{}", table.names()[classifier], table.names()[autoencoder])
}

fn interval_of(sweep_item: &ThresholdInterval) -> Interval {
    Interval { above: sweep_item.above, up_to: sweep_item.up_to }
}

fn lattice_at(
    table: &CrossTable,
    values: &[Vec<f64>],
    cuts: &[f64],
    t: f64,
    counter: &mut Counter,
) -> Result<Lattice> {
    let incidence = fca::threshold(values, t);
    // The sweep interval (cuts[k-1], cuts[k]] with cuts[k-1] < t ≤ cuts[k].
    let k = cuts.partition_point(|&c| c < t);
    let interval =
        Interval { above: k.checked_sub(1).map(|b| cuts[b]), up_to: cuts.get(k).copied() };
    debug_assert!(interval.contains(t));
    let context = Context::from_matrix(&incidence);
    let relation = relation_names(table, &incidence);
    let concepts = counter.concepts(&context, interval, relation.len())?;
    let edges = fca::covering_edges(&context, &concepts);
    Ok(Lattice {
        threshold: t,
        interval,
        relation,
        concepts: concept_names(table, &context, &concepts),
        edges: edges.into_iter().map(|(l, u)| [l, u]).collect(),
        is_chain: fca::is_chain(&concepts),
    })
}

fn relation_names(table: &CrossTable, incidence: &[Vec<bool>]) -> Vec<String> {
    let mut names = Vec::new();
    for (i, j) in (0..table.len()).flat_map(|i| (0..table.len()).map(move |j| (i, j))) {
        if incidence[j][i] {
            names.push(pair_name(table, j, i));
        }
    }
    names
}

fn concept_names(
    table: &CrossTable,
    context: &Context,
    concepts: &[fca::Concept],
) -> Vec<ConceptNames> {
    let object = |g: usize| table.names()[g].clone();
    let attribute = |m: usize| format!("A_{}", table.names()[m]);
    let mut named: Vec<ConceptNames> = concepts
        .iter()
        .map(|c| ConceptNames {
            extent: c.extent.iter().map(object).collect(),
            intent: c.intent.iter().map(attribute).collect(),
            object_labels: Vec::new(),
            attribute_labels: Vec::new(),
        })
        .collect();
    for g in 0..context.object_count() {
        named[fca::object_concept(context, concepts, g)].object_labels.push(object(g));
    }
    for m in 0..context.attribute_count() {
        named[fca::attribute_concept(context, concepts, m)].attribute_labels.push(attribute(m));
    }
    named
}

fn stable_intervals(
    table: &CrossTable,
    values: &[Vec<f64>],
    cuts: &[f64],
    counter: &mut Counter,
) -> Result<Vec<StableInterval>> {
    // One context at a time: the n² + 1 incidences of an n × n table are never all held.
    (0..=cuts.len())
        .map(|k| {
            let item = fca::sweep_interval(values, cuts, k);
            let context = Context::from_matrix(&item.incidence);
            let relation_size = item.incidence.iter().flatten().filter(|&&b| b).count();
            let concepts = counter.concepts(&context, interval_of(&item), relation_size)?;
            Ok(StableInterval {
                interval: interval_of(&item),
                relation_size,
                concept_count: concepts.len(),
                is_chain: fca::is_chain(&concepts),
                dropped_on_entry: item
                    .above
                    .map_or_else(Vec::new, |v| pairs_with_value(table, values, v)),
            })
        })
        .collect()
}

fn pairs_with_value(table: &CrossTable, values: &[Vec<f64>], value: f64) -> Vec<String> {
    let mut names = Vec::new();
    for (i, j) in (0..table.len()).flat_map(|i| (0..table.len()).map(move |j| (i, j))) {
        if values[j][i] == value {
            names.push(pair_name(table, j, i));
        }
    }
    names
}

fn distinct_sorted(values: &[Vec<f64>]) -> Vec<f64> {
    let mut all: Vec<f64> = values.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

fn gaps(values: &[Vec<f64>]) -> Vec<Gap> {
    let mut gaps: Vec<Gap> = distinct_sorted(values)
        .windows(2)
        .map(|w| Gap { lower: w[0], upper: w[1], width: w[1] - w[0] })
        .collect();
    gaps.sort_by(|a, b| b.width.total_cmp(&a.width).then(a.lower.total_cmp(&b.lower)));
    gaps
}

fn fmt_bound(value: Option<f64>, infinite: &str) -> String {
    value.map_or_else(|| infinite.to_string(), |v| format!("{v:.4}"))
}

impl Interval {
    fn to_text(self) -> String {
        format!("({}, {}]", fmt_bound(self.above, "-inf"), fmt_bound(self.up_to, "+inf"))
    }
}

impl Analysis {
    /// Human-readable report of the analysis (values to 4 decimals).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_rrc(&mut out);
        self.lattices.iter().for_each(|l| write_lattice(&mut out, l));
        self.write_intervals(&mut out);
        self.write_notes(&mut out);
        out
    }

    fn write_rrc(&self, out: &mut String) {
        let _ = writeln!(out, "RRC(j∘A_i) = acc(j∘A_i) / min(acc(i∘A_i), acc(j∘A_j)), ascending:");
        for e in &self.rrc {
            let pair = format!("{}∘A_{}", e.classifier, e.autoencoder);
            let _ = writeln!(out, "  {pair:<16} acc {:.4}  RRC {:.4}", e.accuracy, e.rrc);
        }
        let widest: Vec<String> =
            self.gaps.iter().take(3).map(|g| format!("({:.4}, {:.4}]", g.lower, g.upper)).collect();
        let _ = writeln!(out, "Widest gaps between RRC values: {}\n", widest.join(", "));
    }

    fn write_intervals(&self, out: &mut String) {
        let _ = writeln!(out, "Every distinct context as t sweeps the line:");
        for s in &self.stable_intervals {
            let _ = writeln!(
                out,
                "  t in {:<18} |I| = {:>3}  concepts {:>4}  {}{}",
                s.interval.to_text(),
                s.relation_size,
                s.concept_count,
                if s.is_chain { "chain" } else { "not a chain" },
                if s.dropped_on_entry.is_empty() {
                    String::new()
                } else {
                    format!("  (drops {})", s.dropped_on_entry.join(", "))
                }
            );
        }
        out.push('\n');
    }

    fn write_notes(&self, out: &mut String) {
        if self.notes.is_empty() {
            return;
        }
        let _ = writeln!(out, "Paper versus computation:");
        for n in &self.notes {
            let verdict = if n.agrees { "agrees" } else { "DIFFERS" };
            let _ = writeln!(
                out,
                "  [{verdict}] {}\n    paper:    {}\n    computed: {}",
                n.topic, n.paper, n.computed
            );
        }
    }
}

fn write_lattice(out: &mut String, lattice: &Lattice) {
    let _ = writeln!(
        out,
        "Lattice at t = {} (same context for t in {}): {} concepts, {}",
        lattice.threshold,
        lattice.interval.to_text(),
        lattice.concepts.len(),
        if lattice.is_chain { "a chain" } else { "not a chain" }
    );
    let _ = writeln!(out, "  relation: {}", lattice.relation.join(", "));
    for (k, c) in lattice.concepts.iter().enumerate() {
        let _ = writeln!(out, "  #{k}: {{{}}} × {{{}}}", c.extent.join(", "), c.intent.join(", "));
    }
    let edges: Vec<String> = lattice.edges.iter().map(|[l, u]| format!("#{l}<#{u}")).collect();
    let _ = writeln!(out, "  covers: {}\n", edges.join(" "));
}

/// Indices of the paper's classifiers in the table, or `None` when the table is another one.
fn paper_indices(table: &CrossTable) -> Option<[usize; 5]> {
    if table.len() != 5 {
        return None;
    }
    let index = |name: &str| table.names().iter().position(|n| n == name);
    Some([index("L")?, index("A")?, index("V")?, index("I")?, index("R")?])
}

/// Smallest and largest two-decimal thresholds inside (above, up_to]: the way the paper
/// writes a range such as "[0.17 - 0.52]".
fn two_decimal_range(interval: Interval) -> (f64, f64) {
    let above = interval.above.unwrap_or(f64::NEG_INFINITY);
    let up_to = interval.up_to.unwrap_or(f64::INFINITY);
    let lowest = ((above * 100.0 + 1e-9).floor() + 1.0) / 100.0;
    let highest = (up_to * 100.0 + 1e-9).floor() / 100.0;
    (lowest, highest)
}

fn note(topic: &str, paper: &str, computed: String, agrees: bool) -> Note {
    Note { topic: topic.to_string(), paper: paper.to_string(), computed, agrees }
}

/// Checks the statements of Section 3.4 that follow from Table 2 alone.
fn paper_notes(table: &CrossTable, analysis: &Analysis) -> Vec<Note> {
    let Some([l, a, v, i, r]) = paper_indices(table) else {
        return Vec::new();
    };
    let mut notes = vec![weak_signal_note(table, [l, v, r]), vgg_lifts_note(table, [v, i, r])];
    notes.extend(inception_notes(table, i));
    notes.extend(interval_notes(analysis));
    notes.push(gap_note(analysis));
    notes.push(chain_between_note(table, analysis, i));
    notes.push(vgg_retains_note(table, [v, r]));
    notes.push(nmi_order_note(table, [v, i, l, r, a]));
    notes
}

/// RRC(classifier∘A_autoencoder).
fn rrc_of(table: &CrossTable, classifier: usize, autoencoder: usize) -> f64 {
    table.rrc(autoencoder, classifier)
}

/// RRC(j∘A_autoencoder) for every other classifier j, with j.
fn others_on(table: &CrossTable, autoencoder: usize) -> Vec<(f64, usize)> {
    (0..table.len())
        .filter(|&j| j != autoencoder)
        .map(|j| (rrc_of(table, j, autoencoder), j))
        .collect()
}

fn weak_signal_note(table: &CrossTable, [l, v, r]: [usize; 3]) -> Note {
    let (v_r, l_r) = (rrc_of(table, v, r), rrc_of(table, l, r));
    note(
        "Figure 7a, t = 0.1: A_R's signal and V, L",
        "the signal from ResNet 50's AE is not enough to make VGG or LeNet go above 10%",
        format!("RRC(V∘A_R) = {v_r:.4}, RRC(L∘A_R) = {l_r:.4}"),
        v_r < 0.1 && l_r < 0.1,
    )
}

fn vgg_lifts_note(table: &CrossTable, [v, i, r]: [usize; 3]) -> Note {
    let (r_v, i_v) = (rrc_of(table, r, v), rrc_of(table, i, v));
    note(
        "Figure 6: VGG's signal lifts R and I above VGG",
        "the input signal used by VGG is enough to make both ResNet 50 and Inception v3 perform better than VGG itself",
        format!("RRC(R∘A_V) = {r_v:.4}, RRC(I∘A_V) = {i_v:.4}"),
        r_v > 1.0 && i_v > 1.0,
    )
}

fn inception_notes(table: &CrossTable, i: usize) -> [Note; 2] {
    let on_i = others_on(table, i);
    let (best, best_j) =
        on_i.iter().copied().fold((f64::MIN, i), |m, x| if x.0 > m.0 { x } else { m });
    let worst = on_i.iter().map(|x| x.0).fold(f64::MAX, f64::min);
    [
        note(
            "Figure 6: A_I's signal and the other classifiers",
            "none of the models in C \\ {I} performed well (below 0.65 of their original accuracy) using A_I",
            format!("largest RRC(j∘A_I), j ≠ I: {best:.4} ({}∘A_I)", table.names()[best_j]),
            best < 0.65,
        ),
        note(
            "Section 3.4: Inception shares about half of the signal",
            "Inception shares up to 50% of the signal that the other classifiers are picking up on",
            format!("RRC(j∘A_I), j ≠ I, ranges over [{worst:.4}, {best:.4}]"),
            worst >= 0.5,
        ),
    ]
}

fn vgg_retains_note(table: &CrossTable, [v, r]: [usize; 2]) -> Note {
    let r_v = rrc_of(table, r, v);
    let min_on_v = others_on(table, v).iter().map(|x| x.0).fold(f64::MAX, f64::min);
    note(
        "Figure 7d, t = 0.9 and Section 3.4: A_V's signal",
        "VGG's signal makes ResNet 50 reach at least 90% of VGG; A_V lets all other classifiers retain at least 80% of their performance",
        format!("RRC(R∘A_V) = {r_v:.4}; smallest RRC(j∘A_V), j ≠ V: {min_on_v:.4}"),
        r_v >= 0.9 && min_on_v >= 0.8,
    )
}

fn interval_notes(analysis: &Analysis) -> Vec<Note> {
    [(0.2, "[0.17 - 0.52]", (0.17, 0.52)), (0.8, "[0.66 - 0.84]", (0.66, 0.84))]
        .into_iter()
        .map(|(t, written, expected)| {
            let interval = analysis
                .stable_intervals
                .iter()
                .find(|s| s.interval.contains(t))
                .expect("the sweep covers the line")
                .interval;
            let (low, high) = two_decimal_range(interval);
            let agrees = (low - expected.0).abs() < 1e-9 && (high - expected.1).abs() < 1e-9;
            note(
                &format!("Section 3.4: thresholds giving the same lattice as t = {t}"),
                &format!("any t in {written} yields the same FC"),
                format!(
                    "exactly t in {}; two-decimal thresholds {low:.2} to {high:.2}",
                    interval.to_text()
                ),
                agrees,
            )
        })
        .collect()
}

fn gap_note(analysis: &Analysis) -> Note {
    let describe = |gaps: &[&Gap]| -> String {
        gaps.iter()
            .map(|g| format!("({:.4}, {:.4}]", g.lower, g.upper))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let widest: Vec<&Gap> = analysis.gaps.iter().take(2).collect();
    let widest_to_one: Vec<&Gap> =
        analysis.gaps.iter().filter(|g| g.upper <= 1.0).take(2).collect();
    let holds = |gaps: &[&Gap]| {
        [0.2, 0.8].iter().all(|&t| gaps.iter().any(|g| g.lower < t && t <= g.upper))
    };
    note(
        "Section 3.4: t = 0.2 and 0.8 lie in the largest gaps",
        "FCs for t in {0.2, 0.8} lay in between the largest gaps",
        format!(
            "two widest gaps of all RRC values: {} (t = 0.2 and 0.8 inside: {}); two widest among RRC ≤ 1: {} (inside: {})",
            describe(&widest),
            holds(&widest),
            describe(&widest_to_one),
            holds(&widest_to_one)
        ),
        holds(&widest),
    )
}

fn chain_between_note(table: &CrossTable, analysis: &Analysis, inception: usize) -> Note {
    let between: Vec<&StableInterval> = analysis
        .stable_intervals
        .iter()
        .filter(|s| {
            s.interval.up_to.is_none_or(|u| u >= 0.2) && s.interval.above.is_none_or(|a| a < 0.8)
        })
        .collect();
    let all_chains = between.iter().all(|s| s.is_chain);
    let not_chains: Vec<String> =
        between.iter().filter(|s| !s.is_chain).map(|s| s.interval.to_text()).collect();
    let changes: Vec<&String> = between.iter().skip(1).flat_map(|s| &s.dropped_on_entry).collect();
    let suffix = format!("∘A_{}", table.names()[inception]);
    let only_inception = changes.iter().all(|c| c.ends_with(&suffix));
    let lattice_chain = |t: f64| {
        analysis
            .stable_intervals
            .iter()
            .find(|s| s.interval.contains(t))
            .is_some_and(|s| s.is_chain)
    };
    note(
        "Section 3.4: lattices for 0.2 ≤ t ≤ 0.8 are chains",
        "any FC for thresholds between 0.2 and 0.8 yields a totally ordered set; the only changing element is the AE fine-tuned on Inception",
        format!(
            "{} distinct contexts meet [0.2, 0.8], all chains: {all_chains}{}; pairs leaving inside: {}; chain at t = 0.1: {}, at t = 0.9: {}",
            between.len(),
            if not_chains.is_empty() { String::new() } else { format!(" (not chains for t in {})", not_chains.join(", ")) },
            changes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            lattice_chain(0.1),
            lattice_chain(0.9)
        ),
        all_chains && only_inception,
    )
}

/// Figure 9's order of AEs against the attribute order of the t = 0.2 chain (more classifiers
/// using an AE's signal = higher in the chain).
fn nmi_order_note(table: &CrossTable, nmi_order: [usize; 5]) -> Note {
    let values = rrc_by_object(table);
    let users = |m: usize| values.iter().filter(|row| row[m] >= 0.2).count();
    let counts: Vec<String> =
        nmi_order.iter().map(|&m| format!("A_{}: {}", table.names()[m], users(m))).collect();
    let consistent = nmi_order.windows(2).all(|w| users(w[0]) >= users(w[1]));
    note(
        "Section 3.5: Figure 9's order and the chain of Figure 7b",
        "A_V > A_I > A_L > A_R > A_A (nMI) aligns closely to the attributes in the lattice of Figure 7b",
        format!("classifiers using each AE's signal at t = 0.2 (RRC ≥ t): {}; non-increasing: {consistent}", counts.join(", ")),
        consistent,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn small_table() -> CrossTable {
        let names = vec!["x".to_string(), "y".to_string()];
        CrossTable::new(names, vec![vec![0.8, 0.4], vec![0.2, 0.5]], Path::new("small.json"))
            .unwrap()
    }

    #[test]
    fn thresholds_outside_the_valid_range_are_refused() {
        let err = analyze(&small_table(), &[0.1, f64::NAN]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "threshold NaN is outside the valid range: thresholds must be finite numbers above 0 \
             (RRC values are never negative, so t ≤ 0 relates every pair); give comma-separated \
             thresholds such as 0.1,0.2,0.8,0.9"
        );
        for bad in [0.0, -0.0, -0.5, f64::INFINITY, f64::NEG_INFINITY] {
            let err = analyze(&small_table(), &[bad]).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("threshold {bad} is outside the valid range")),
                "{err}"
            );
        }
        let fine = analyze(&small_table(), &[1e-9, 5.0]);
        assert!(fine.is_ok(), "tiny and large t are fine, got {:?}", fine.err());
    }

    /// An n × n table whose RRC context at t = 0.5 is "everything but the diagonal"-like: many
    /// concepts (the staircase of accuracies makes lattices grow with n).
    fn wide_table(n: usize) -> CrossTable {
        let names = (0..n).map(|k| format!("c{k}")).collect();
        let rows = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        if i == j {
                            1.0
                        } else {
                            0.3 + 0.4 * (((i * 7 + j * 13) % n) as f64) / n as f64
                        }
                    })
                    .collect()
            })
            .collect();
        CrossTable::new(names, rows, Path::new("wide.json")).unwrap()
    }

    #[test]
    fn lattices_past_the_limit_stop_with_the_limit_named() {
        let table = wide_table(24);
        let mut heard = Vec::new();
        let err = analyze_with(&table, &[0.5], 50, &mut |p| heard.push(*p)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("formal concept analysis stopped: the lattice for t in ("),
            "{text}"
        );
        assert!(text.contains("(24 classifiers × 24 AEs,"), "{text}");
        assert!(text.contains("has more than 50 concepts, the limit of --max-concepts"), "{text}");
        assert!(text.contains("raise the limit with --max-concepts N"), "{text}");
        // Progress was heard for every context finished before the one that stopped it.
        for p in &heard {
            assert!(p.largest <= 50 && p.contexts == 1 + 24 * 24 + 1, "{p:?}");
        }
        // Under a large enough limit the same table is analysed, with progress after each context.
        let mut count = 0;
        let analysis = analyze_with(&wide_table(6), &[0.5], 10_000, &mut |_| count += 1).unwrap();
        assert_eq!(count, 1 + analysis.stable_intervals.len());
    }

    #[test]
    fn progress_counts_every_context_and_its_concepts() {
        let (mut heard, thresholds) = (Vec::new(), [0.2, 0.8]);
        let analysis =
            analyze_with(&small_table(), &thresholds, 10_000, &mut |p| heard.push(*p)).unwrap();
        // One context per threshold and one per interval of the sweep (4 for this table).
        let contexts = thresholds.len() + analysis.stable_intervals.len();
        assert_eq!(heard.len(), contexts, "one report per context: {heard:?}");
        for (k, p) in heard.iter().enumerate() {
            assert_eq!((p.contexts_done, p.contexts), (k + 1, contexts), "report {k}: {p:?}");
        }
        // Every context has at least its top concept, and the lattices' concepts are counted.
        let (last, sizes) =
            (heard[contexts - 1], analysis.lattices.iter().map(|l| l.concepts.len()));
        let (total, largest) = (sizes.clone().sum::<usize>(), sizes.max().unwrap());
        assert!(last.concepts >= total + analysis.stable_intervals.len(), "{last:?}, {total}");
        assert!((largest..=last.concepts).contains(&last.largest), "{last:?}, largest {largest}");
    }

    /// The paper's five classifiers, every diagonal 0.5 (so RRC = 2 × accuracy), every other
    /// cell 0.3, except `cells` ((AE row, classifier column), accuracy).
    fn paper_shaped(cells: &[((usize, usize), f64)]) -> CrossTable {
        let names = ["L", "A", "V", "I", "R"].map(String::from).to_vec();
        let mut rows = vec![vec![0.3; 5]; 5];
        (0..5).for_each(|k| rows[k][k] = 0.5);
        for &((i, j), accuracy) in cells {
            rows[i][j] = accuracy;
        }
        CrossTable::new(names, rows, Path::new("paper-shaped.json")).unwrap()
    }

    #[test]
    fn the_notes_compare_strictly_and_need_both_classifiers() {
        let (l, v, i, r) = (0, 2, 3, 4);
        // Figure 7a: RRC(V∘A_R) < 0.1 and RRC(L∘A_R) < 0.1; 0.05 makes an RRC of exactly 0.1.
        let weak = |v_r: f64, l_r: f64| {
            weak_signal_note(&paper_shaped(&[((r, v), v_r), ((r, l), l_r)]), [l, v, r]).agrees
        };
        assert!(weak(0.04, 0.04), "RRC 0.08 and 0.08 are both below 0.1");
        assert!(!weak(0.05, 0.04), "RRC(V∘A_R) = 0.1 is not below 0.1");
        assert!(!weak(0.04, 0.05), "RRC(L∘A_R) = 0.1 is not below 0.1");
        assert!(!weak(0.04, 0.4), "L reads A_R well (RRC 0.8): the note needs both below");
        assert!(!weak(0.4, 0.04), "V reads A_R well (RRC 0.8): the note needs both below");
        // Figure 6: RRC(R∘A_V) > 1 and RRC(I∘A_V) > 1; 0.5 makes an RRC of exactly 1.
        let lifts = |r_v: f64, i_v: f64| {
            vgg_lifts_note(&paper_shaped(&[((v, r), r_v), ((v, i), i_v)]), [v, i, r]).agrees
        };
        assert!(lifts(0.6, 0.6), "RRC 1.2 and 1.2 are both above 1");
        assert!(!lifts(0.5, 0.6), "RRC(R∘A_V) = 1 is not above 1");
        assert!(!lifts(0.6, 0.5), "RRC(I∘A_V) = 1 is not above 1");
        assert!(!lifts(0.6, 0.4), "I is not lifted (RRC 0.8): the note needs both");
        assert!(!lifts(0.4, 0.6), "R is not lifted (RRC 0.8): the note needs both");
    }

    #[test]
    fn inception_vgg_and_gap_notes_at_their_boundaries() {
        let (l, a, v, i, r) = (0, 1, 2, 3, 4);
        // A_I: the largest RRC(j∘A_I) must be below 0.65 (0.325 makes exactly 0.65).
        let best = |cells: &[((usize, usize), f64)]| inception_notes(&paper_shaped(cells), i);
        assert!(best(&[]).iter().all(|n| n.agrees), "every RRC(j∘A_I) is 0.6: {:?}", best(&[]));
        let [below, _] = best(&[((i, r), 0.325)]);
        assert!(!below.agrees, "RRC(R∘A_I) = 0.65 is not below 0.65: {below:?}");
        // Two classifiers tie for the largest RRC: the first in table order is named.
        let [tie, _] = best(&[((i, l), 0.32), ((i, a), 0.32)]);
        assert!(tie.computed.ends_with("(L∘A_I)"), "{tie:?}");
        // A_V: RRC(R∘A_V) ≥ 0.9 and every RRC(j∘A_V) ≥ 0.8, both needed.
        let retains =
            |cells: &[((usize, usize), f64)]| vgg_retains_note(&paper_shaped(cells), [v, r]).agrees;
        assert!(retains(&[((v, r), 0.45), ((v, l), 0.4), ((v, a), 0.4), ((v, i), 0.4)]));
        assert!(!retains(&[((v, r), 0.45), ((v, l), 0.3), ((v, a), 0.4), ((v, i), 0.4)]));
        assert!(!retains(&[((v, r), 0.4), ((v, l), 0.4), ((v, a), 0.4), ((v, i), 0.4)]));
        // A gap is open below: t = 0.2 at a gap's lower end is not inside it.
        let mut analysis = analyze(&paper_shaped(&[]), &[0.2, 0.8]).unwrap();
        let gap = |lower: f64, upper: f64| Gap { lower, upper, width: upper - lower };
        analysis.gaps = vec![gap(0.1, 0.3), gap(0.7, 0.85)];
        assert!(gap_note(&analysis).agrees, "0.2 in (0.1, 0.3], 0.8 in (0.7, 0.85]");
        analysis.gaps = vec![gap(0.2, 0.3), gap(0.7, 0.85)];
        assert!(!gap_note(&analysis).agrees, "0.2 is not in (0.2, 0.3]");
        analysis.gaps = vec![gap(0.1, 0.3), gap(0.8, 0.85)];
        assert!(!gap_note(&analysis).agrees, "0.8 is not in (0.8, 0.85]");
    }

    #[test]
    fn the_contexts_between_0_2_and_0_8_include_their_ends() {
        // RRC values 0.2 (L∘A_A), 0.6 (every other pair), 0.8 (R∘A_V) and 1 (the diagonal):
        // (-inf, 0.2], (0.2, 0.6] and (0.6, 0.8] meet [0.2, 0.8]; (0.8, 1] does not.
        let table = paper_shaped(&[((1, 0), 0.1), ((2, 4), 0.4)]);
        let analysis = analyze(&table, &[0.2, 0.8]).unwrap();
        let note = chain_between_note(&table, &analysis, 3);
        assert!(note.computed.starts_with("3 distinct contexts meet [0.2, 0.8]"), "{note:?}");
    }

    #[test]
    fn the_limit_does_not_change_results() {
        let default = analyze(&small_table(), &DEFAULT_THRESHOLDS).unwrap();
        let bounded = analyze_with(&small_table(), &DEFAULT_THRESHOLDS, 4, &mut |_| {}).unwrap();
        assert_eq!(default, bounded);
    }

    #[test]
    fn other_tables_get_no_paper_notes_but_full_sweeps() {
        let analysis = analyze(&small_table(), &[0.5]).unwrap();
        assert!(analysis.notes.is_empty(), "no paper classifiers, yet notes {:?}", analysis.notes);
        // RRC values 0.4, 0.8 (y∘A_x = 0.4/0.5), 1, 1 → 4 intervals incl. (1, +inf).
        let ends: Vec<(Option<f64>, Option<f64>)> = analysis
            .stable_intervals
            .iter()
            .map(|s| (s.interval.above, s.interval.up_to))
            .collect();
        assert_eq!(ends.len(), 4, "{ends:?}");
        assert_eq!(ends[3], (Some(1.0), None), "{ends:?}");
        let lattice = &analysis.lattices[0];
        assert_eq!(lattice.relation, vec!["x∘A_x", "y∘A_x", "y∘A_y"]);
        assert!(lattice.is_chain, "{lattice:?}");
        assert!(lattice.interval.contains(0.5), "{:?}", lattice.interval);
    }

    #[test]
    fn intervals_are_open_below_and_closed_above() {
        let interval = Interval { above: Some(0.2), up_to: Some(0.5) };
        for (t, inside) in
            [(0.2, false), (0.2000001, true), (0.35, true), (0.5, true), (0.5000001, false)]
        {
            assert_eq!(interval.contains(t), inside, "{t} in {}", interval.to_text());
        }
        let unbounded_below = Interval { above: None, up_to: Some(0.5) };
        assert!(unbounded_below.contains(-1e300), "{}", unbounded_below.to_text());
        assert!(!unbounded_below.contains(0.6), "{}", unbounded_below.to_text());
        let unbounded_above = Interval { above: Some(0.5), up_to: None };
        assert!(unbounded_above.contains(1e300), "{}", unbounded_above.to_text());
        assert!(!unbounded_above.contains(0.5), "{}", unbounded_above.to_text());
    }

    #[test]
    fn two_decimal_range_rounds_inwards() {
        let interval = Interval { above: Some(0.1648), up_to: Some(0.525) };
        assert_eq!(two_decimal_range(interval), (0.17, 0.52));
        let exact = Interval { above: Some(0.2), up_to: Some(0.3) };
        assert_eq!(two_decimal_range(exact), (0.21, 0.3));
    }
}
