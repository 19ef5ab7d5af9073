//! The checkable statements of Sections 3.3–3.5 of Palacio et al. (CVPR 2018), evaluated by
//! code on measured numbers and, where the paper published numbers (Tables 1 and 2), on the
//! paper's own.
//!
//! Each claim gets HOLDS, FAILS or NOT APPLICABLE. NOT APPLICABLE means an input the claim
//! needs was not measured (a classifier family, a noise strength, the nMI rows), or is
//! degenerate (a classifier at chance, a constant AE: `super::degenerate`), so that the check
//! would compare noise: never a silent or vacuous pass. Every lookup records the classifiers
//! and AEs it reads, so the degenerate inputs a claim reads are known without a list per claim.
//! Where the paper says "best", "above", "below", "beats" or gives an order, the comparison
//! is strict: ties fail. Thresholds the paper defines with `≥` (the RRC relation
//! `RRC ≥ t`, "at least 80 %") stay `≥`.

use super::analysis::{analyze, Analysis, StableInterval, DEFAULT_THRESHOLDS};
use super::degenerate::{Finding, Input};
use super::nmi::AeNmi;
#[cfg(test)]
use super::nmi::NmiSummary;
use super::rrc::CrossTable;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// Top-1 and top-5 accuracy as fractions in [0, 1]. A value that is NaN or outside [0, 1]
/// counts as not measured, so claims needing it are NOT APPLICABLE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TopK {
    pub top1: f64,
    pub top5: f64,
}

impl TopK {
    /// Both accuracies unmeasured.
    pub const NOT_MEASURED: TopK = TopK { top1: f64::NAN, top5: f64::NAN };
}

/// Table 1 for one classifier C.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table1Row {
    pub classifier: String,
    /// C on the original images x.
    pub x: TopK,
    /// C∘A_S: on reconstructions of the pre-trained AE.
    pub a_s: TopK,
    /// C∘A_C: on reconstructions of the AE fine-tuned on C.
    pub own: TopK,
}

/// Top-1 (fraction; NaN = not measured) of one classifier on noisy images x + U(-s, s).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoiseRow {
    pub classifier: String,
    /// C on the noisy images.
    pub x: f64,
    /// C∘A_S on the noisy images.
    pub a_s: f64,
    /// C∘A_C on the noisy images.
    pub own: f64,
}

/// Figure 4 at one noise strength s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoisePoint {
    pub strength: f64,
    pub rows: Vec<NoiseRow>,
}

/// Everything the claims read. Classifiers are named by the paper's letters (L, A, V, I, R);
/// others may be present and count wherever a claim says "every classifier".
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The set C, in order. "Every classifier" claims need a Table 1 / noise row for each.
    pub classifiers: Vec<String>,
    /// Table 1, one entry per classifier.
    pub table1: Vec<Table1Row>,
    /// Table 2; its analysis (RRC gaps, stable intervals) is computed from it.
    pub cross: Option<CrossTable>,
    /// Figure 4, one entry per measured strength (s = 0 may be included).
    pub noise: Vec<NoisePoint>,
    /// Figure 9, one entry per AE.
    pub nmi: Vec<AeNmi>,
    /// Inputs that carry no signal (`super::degenerate::find`): claims reading them are NOT
    /// APPLICABLE.
    pub degenerate: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "holds")]
    Holds,
    #[serde(rename = "fails")]
    Fails,
    /// Neither holds nor fails in at least [`SETTLED_SHARE`] of the bootstrap resamples.
    #[serde(rename = "unsettled")]
    Unsettled,
    #[serde(rename = "not applicable")]
    NotApplicable,
}

/// The share of bootstrap resamples a claim must hold in to HOLD (and fail in to FAIL).
pub const SETTLED_SHARE: f64 = 0.95;

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "HOLDS",
            Verdict::Fails => "FAILS",
            Verdict::Unsettled => "UNSETTLED",
            Verdict::NotApplicable => "NOT APPLICABLE",
        })
    }
}

/// One statement of the paper, judged on our numbers and (where published) on the paper's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub id: &'static str,
    pub section: &'static str,
    /// The check, as computed.
    pub statement: &'static str,
    /// The same check on the paper's Tables 1/2, or, where it published no numbers, a quote.
    pub paper: String,
    /// The verdict on the paper's tables; NOT APPLICABLE where it published no numbers.
    pub paper_verdict: Verdict,
    /// Our numbers behind the verdict, or what was missing.
    pub ours: String,
    pub verdict: Verdict,
    /// The share of bootstrap resamples of our test images in which the check holds (among
    /// those where it applies); None where the claim was not resampled or never applies.
    pub share_holding: Option<f64>,
}

/// Evaluates every claim on `measured`, with the paper's column beside it.
pub fn check(measured: &Measured) -> Vec<Claim> {
    let paper_measured = paper_measured();
    let (ours, paper) = (Inputs::new(measured), Inputs::new(&paper_measured));
    CLAIMS.iter().map(|def| def.judge(&ours, &paper)).collect()
}

/// Per claim, in [`check`]'s order, whether it holds on `measured` (None: not applicable);
/// without the paper's column, for the bootstrap's resamples.
pub fn holds_each(measured: &Measured) -> Vec<Option<bool>> {
    let ours = Inputs::new(measured);
    CLAIMS.iter().map(|def| ours.evaluate(def.eval).ok().map(|(holds, _)| holds)).collect()
}

/// [`check`] with three-way verdicts from `resampled` (one [`holds_each`] per bootstrap
/// resample): HOLDS where the check holds in at least [`SETTLED_SHARE`] of the resamples in
/// which it applies, FAILS where it fails in that many, UNSETTLED otherwise, the share beside
/// it. A claim NOT APPLICABLE on the point estimates stays so; one that applies there but in
/// no resample keeps its point verdict, without a share.
pub fn check_resampled(measured: &Measured, resampled: &[Vec<Option<bool>>]) -> Vec<Claim> {
    let mut claims = check(measured);
    for (k, claim) in claims.iter_mut().enumerate() {
        let outcomes: Vec<Option<bool>> = resampled.iter().map(|r| r[k]).collect();
        claim.share_holding = super::bootstrap::share_true(&outcomes);
        if let (Some(share), false) = (claim.share_holding, claim.verdict == Verdict::NotApplicable)
        {
            claim.verdict = settled(share);
        }
    }
    claims
}

/// The verdict of a claim that holds in `share` of the resamples.
pub fn settled(share: f64) -> Verdict {
    if share >= SETTLED_SHARE {
        Verdict::Holds
    } else if 1.0 - share >= SETTLED_SHARE {
        Verdict::Fails
    } else {
        Verdict::Unsettled
    }
}

/// A markdown table of claims, one row each.
pub fn to_markdown(claims: &[Claim]) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::from(
        "| claim | section | check | paper | ours | verdict |\n|---|---|---|---|---|---|\n",
    );
    for c in claims {
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.id,
            c.section,
            cell(c.statement),
            cell(&c.paper),
            cell(&c.ours),
            verdict_text(c)
        );
    }
    out
}

/// The verdict with the share of resamples holding, e.g. `UNSETTLED (holds in 41.3 %)`.
pub fn verdict_text(claim: &Claim) -> String {
    match claim.share_holding {
        Some(share) if claim.verdict != Verdict::NotApplicable => {
            format!("{} (holds in {:.1} %)", claim.verdict, 100.0 * share)
        }
        _ => claim.verdict.to_string(),
    }
}

const PAPER_TABLE1: &str = include_str!("../../fixtures/paper/table1.json");
const PAPER_TABLE2: &str = include_str!("../../fixtures/paper/table2.json");

#[derive(Deserialize)]
struct PaperTable1 {
    rows: Vec<PaperTable1Row>,
}

#[derive(Deserialize)]
struct PaperTable1Row {
    classifier: String,
    input: String,
    top1: f64,
    top5: f64,
}

/// The paper's Table 1 (percent turned into fractions) and Table 2, with no noise or nMI
/// numbers (the paper published those only as plots).
pub fn paper_measured() -> Measured {
    // Compiled-in fixtures, parsed by a unit test: a failure here is a broken build.
    let cross = CrossTable::from_json_str(PAPER_TABLE2, Path::new("fixtures/paper/table2.json"))
        .expect("the embedded fixtures/paper/table2.json is a valid cross table");
    let file: PaperTable1 = serde_json::from_str(PAPER_TABLE1)
        .expect("the embedded fixtures/paper/table1.json is valid");
    let classifiers = cross.names().to_vec();
    let find = |c: &str, input: &str| {
        file.rows
            .iter()
            .find(|r| r.classifier == c && r.input == input)
            .map_or(TopK::NOT_MEASURED, |r| TopK { top1: r.top1 / 100.0, top5: r.top5 / 100.0 })
    };
    let table1 = classifiers
        .iter()
        .map(|c| Table1Row {
            classifier: c.clone(),
            x: find(c, "original"),
            a_s: find(c, "A_S"),
            own: find(c, &format!("A_{c}")),
        })
        .collect();
    Measured { classifiers, table1, cross: Some(cross), ..Default::default() }
}

/// `Ok((holds, evidence))`, or `Err(what is missing)` for NOT APPLICABLE.
type Check = Result<(bool, String), String>;

struct Def {
    id: &'static str,
    section: &'static str,
    statement: &'static str,
    /// What the paper says, shown where it published no numbers to check.
    quote: &'static str,
    eval: fn(&Inputs) -> Check,
}

impl Def {
    fn judge(&self, ours: &Inputs, paper: &Inputs) -> Claim {
        let (verdict, ours) = settle(ours.evaluate(self.eval));
        let (paper_verdict, on_paper) = settle(paper.evaluate(self.eval));
        let paper = match paper_verdict {
            Verdict::NotApplicable => format!("stated: {}", self.quote),
            _ => format!("{paper_verdict} on the paper's tables: {on_paper}"),
        };
        Claim {
            id: self.id,
            section: self.section,
            statement: self.statement,
            paper,
            paper_verdict,
            ours,
            verdict,
            share_holding: None,
        }
    }
}

fn settle(check: Check) -> (Verdict, String) {
    match check {
        Ok((true, evidence)) => (Verdict::Holds, evidence),
        Ok((false, evidence)) => (Verdict::Fails, evidence),
        Err(missing) => (Verdict::NotApplicable, missing),
    }
}

/// Where a Table 1 or Figure 4 number was measured: on x, on A_S's or on the own AE's
/// reconstructions.
#[derive(Clone, Copy)]
enum Column {
    X,
    AS,
    Own,
}

impl Column {
    /// The AE whose reconstructions classifier `c` saw, if any.
    fn autoencoder(self, c: &str) -> Option<Input> {
        match self {
            Column::X => None,
            Column::AS => Some(Input::Autoencoder("A_S".into())),
            Column::Own => Some(Input::Autoencoder(format!("A_{c}"))),
        }
    }
}

/// The measured numbers with lookups that say what is missing and record what they read.
struct Inputs<'a> {
    measured: &'a Measured,
    analysis: Result<Analysis, String>,
    /// The inputs the claim being evaluated has read so far.
    read: RefCell<BTreeSet<Input>>,
}

impl<'a> Inputs<'a> {
    fn new(measured: &'a Measured) -> Self {
        let analysis = match &measured.cross {
            None => Err(NO_TABLE2.to_string()),
            Some(table) => analyze(table, &DEFAULT_THRESHOLDS).map_err(|e| e.to_string()),
        };
        Self { measured, analysis, read: RefCell::new(BTreeSet::new()) }
    }

    /// Runs `eval`; NOT APPLICABLE instead of its verdict when it read a degenerate input
    /// (the root cause, named first even where the check found another reason not to apply).
    fn evaluate(&self, eval: fn(&Inputs) -> Check) -> Check {
        self.read.borrow_mut().clear();
        let check = eval(self);
        let read = self.read.borrow();
        // Names only: the reasons are listed once, with the findings.
        let degenerate: Vec<String> = (self.measured.degenerate.iter())
            .filter(|finding| read.contains(&finding.input))
            .map(|finding| finding.input.to_string())
            .collect();
        if degenerate.is_empty() {
            return check;
        }
        let degenerate = format!("reads degenerate input: {}", degenerate.join(", "));
        match check {
            Ok(_) => Err(degenerate),
            Err(also) => Err(format!("{degenerate}; also: {also}")),
        }
    }

    fn reads(&self, inputs: impl IntoIterator<Item = Input>) {
        self.read.borrow_mut().extend(inputs);
    }

    /// Classifier `c` and the AEs of `columns`.
    fn reads_columns(&self, c: &str, columns: &[Column]) {
        self.reads(std::iter::once(Input::Classifier(c.to_string())));
        self.reads(columns.iter().filter_map(|column| column.autoencoder(c)));
    }

    /// Classifier `c` and the AE fine-tuned on it.
    fn reads_pair(&self, c: &str) {
        self.reads([Input::Classifier(c.to_string()), Input::Autoencoder(format!("A_{c}"))]);
    }

    /// The whole cross table: every classifier in it and every AE of it.
    fn table(&self) -> Result<&'a CrossTable, String> {
        let table = self.cross()?;
        table.names().iter().for_each(|name| self.reads_pair(name));
        Ok(table)
    }

    /// The cross table, recording nothing: for lookups that record what they read.
    fn cross(&self) -> Result<&'a CrossTable, String> {
        self.measured.cross.as_ref().ok_or_else(|| NO_TABLE2.to_string())
    }

    /// The analysis of the whole cross table.
    fn analysis(&self) -> Result<&Analysis, String> {
        self.table()?;
        self.analysis.as_ref().map_err(Clone::clone)
    }

    fn index(&self, name: &str) -> Result<usize, String> {
        let names = self.cross()?.names();
        names.iter().position(|n| n == name).ok_or_else(|| {
            format!("classifier {name} is not in the cross table ({})", names.join(" "))
        })
    }

    /// acc(classifier∘A_ae).
    fn acc(&self, classifier: &str, ae: &str) -> Result<f64, String> {
        let value = self.cross()?.accuracy(self.index(ae)?, self.index(classifier)?);
        self.reads([
            Input::Classifier(classifier.to_string()),
            Input::Autoencoder(format!("A_{ae}")),
        ]);
        Ok(value)
    }

    /// RRC(classifier∘A_ae): acc(classifier∘A_ae) over the weaker of the two diagonals.
    fn rrc(&self, classifier: &str, ae: &str) -> Result<f64, String> {
        let value = self.cross()?.rrc(self.index(ae)?, self.index(classifier)?);
        self.reads_pair(classifier);
        self.reads_pair(ae);
        Ok(value)
    }

    /// RRC(j∘A_ae) for every classifier j ≠ ae of the cross table; at least one.
    fn rrc_of_others(&self, ae: &str) -> Result<Vec<(String, f64)>, String> {
        let i = self.index(ae)?;
        let table = self.cross()?;
        let others: Vec<(String, f64)> = (0..table.len())
            .filter(|&j| j != i)
            .map(|j| {
                self.reads_pair(&table.names()[j]);
                (table.names()[j].clone(), table.rrc(i, j))
            })
            .collect();
        self.reads_pair(ae);
        if others.is_empty() {
            return Err(format!("the cross table has no classifier besides {ae}"));
        }
        Ok(others)
    }

    fn classifiers(&self) -> Result<&'a [String], String> {
        match self.measured.classifiers.as_slice() {
            [] => Err("no classifiers were measured".to_string()),
            list => Ok(list),
        }
    }

    fn table1_row(&self, classifier: &str) -> Result<&'a Table1Row, String> {
        let rows = &self.measured.table1;
        rows.iter()
            .find(|r| r.classifier == classifier)
            .ok_or_else(|| format!("no Table 1 row for classifier {classifier}"))
    }

    /// Figure 4's row of classifier `c` at `point`, of which the caller reads `columns`.
    fn noise_row<'p>(
        &self,
        point: &'p NoisePoint,
        c: &str,
        columns: &[Column],
    ) -> Result<&'p NoiseRow, String> {
        let row =
            point.rows.iter().find(|r| r.classifier == c).ok_or_else(|| {
                format!("no noise row for classifier {c} at s = {}", point.strength)
            })?;
        self.reads_columns(c, columns);
        Ok(row)
    }

    /// Measured strengths s > 0, ascending; at least one.
    fn noisy_points(&self) -> Result<Vec<&'a NoisePoint>, String> {
        let mut points: Vec<&NoisePoint> =
            self.measured.noise.iter().filter(|p| p.strength > 0.0).collect();
        if points.is_empty() {
            return Err("no noise strength s > 0 was measured".to_string());
        }
        points.sort_by(|a, b| a.strength.total_cmp(&b.strength));
        Ok(points)
    }

    fn noise_at(&self, strength: f64) -> Result<&'a NoisePoint, String> {
        // Strengths come from configuration as decimals; 1e-9 absorbs their float spelling.
        let found = self.measured.noise.iter().find(|p| (p.strength - strength).abs() < 1e-9);
        found.ok_or_else(|| format!("noise strength s = {strength} was not measured"))
    }

    fn nmi(&self, ae: &str) -> Result<&'a AeNmi, String> {
        let found = self.measured.nmi.iter().find(|r| r.ae == ae);
        let found = found.ok_or_else(|| format!("no nMI measured for {ae}"))?;
        self.reads([Input::Autoencoder(ae.to_string())]);
        Ok(found)
    }
}

const NO_TABLE2: &str = "no cross table (Table 2) was measured";

/// A measured accuracy: finite and in [0, 1], else `label` was not measured.
fn fraction(value: f64, label: impl FnOnce() -> String) -> Result<f64, String> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{} was not measured (value {value})", label()))
    }
}

fn pct(fraction: f64) -> String {
    format!("{:.2}", fraction * 100.0)
}

/// Runs `test` for every classifier of C and lists the ones it fails for.
fn for_every_classifier(inputs: &Inputs, mut test: impl FnMut(&str) -> Check) -> Check {
    let classifiers = inputs.classifiers()?;
    let mut parts = Vec::new();
    let mut failing = Vec::new();
    for c in classifiers {
        let (ok, text) = test(c)?;
        parts.push(text);
        if !ok {
            failing.push(c.as_str());
        }
    }
    let summary = if failing.is_empty() {
        format!("holds for all {}", classifiers.len())
    } else {
        format!("fails for {}", failing.join(" "))
    };
    Ok((failing.is_empty(), format!("{}; {summary}", parts.join(", "))))
}

#[derive(Clone, Copy)]
enum Top {
    One,
    Five,
}

impl Top {
    fn of(self, value: TopK, label: impl FnOnce() -> String) -> Result<f64, String> {
        match self {
            Top::One => fraction(value.top1, || format!("top-1 of {}", label())),
            Top::Five => fraction(value.top5, || format!("top-5 of {}", label())),
        }
    }
}

/// (C, C∘A_S, C∘A_C) of one Table 1 row at top-k, of which the caller reads `columns`.
fn table1_triple(
    inputs: &Inputs,
    c: &str,
    top: Top,
    columns: &[Column],
) -> Result<(f64, f64, f64), String> {
    let row = inputs.table1_row(c)?;
    inputs.reads_columns(c, columns);
    Ok((
        top.of(row.x, || c.to_string())?,
        top.of(row.a_s, || format!("{c}∘A_S"))?,
        top.of(row.own, || format!("{c}∘A_{c}"))?,
    ))
}

fn as_below_c(inputs: &Inputs, top: Top) -> Check {
    for_every_classifier(inputs, |c| {
        let (x, a_s, _) = table1_triple(inputs, c, top, &[Column::X, Column::AS])?;
        Ok((a_s < x, format!("{c}∘A_S {} vs {c} {}", pct(a_s), pct(x))))
    })
}

/// Each drop in (0, 5] points: small but real, as the paper's 1.22–3.76 (5 = 3.76 rounded up).
fn as_drop_size(inputs: &Inputs) -> Check {
    let mut drops = Vec::new();
    let (ok, text) = for_every_classifier(inputs, |c| {
        let (x, a_s, _) = table1_triple(inputs, c, Top::One, &[Column::X, Column::AS])?;
        let drop = (x - a_s) * 100.0;
        drops.push(drop);
        Ok((drop > 0.0 && drop <= MAX_AS_DROP_POINTS, format!("{c} {drop:.2}")))
    })?;
    let low = drops.iter().copied().fold(f64::INFINITY, f64::min);
    let high = drops.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok((ok, format!("drops in points: {text}; range {low:.2} to {high:.2}")))
}

/// The largest C − C∘A_S drop (top-1 points) still called small; see `as_drop_size`.
const MAX_AS_DROP_POINTS: f64 = 5.0;

fn own_recovers(inputs: &Inputs, top: Top) -> Check {
    for_every_classifier(inputs, |c| {
        let (_, a_s, own) = table1_triple(inputs, c, top, &[Column::AS, Column::Own])?;
        Ok((own > a_s, format!("{c}∘A_{c} {} vs {c}∘A_S {}", pct(own), pct(a_s))))
    })
}

fn own_above_c_majority(inputs: &Inputs) -> Check {
    let classifiers = inputs.classifiers()?;
    let mut above = Vec::new();
    for c in classifiers {
        let (x, _, own) = table1_triple(inputs, c, Top::One, &[Column::X, Column::Own])?;
        if own > x {
            above.push(c.as_str());
        }
    }
    let majority = 2 * above.len() > classifiers.len();
    let evidence =
        format!("C∘A_C above C for {}/{}: {}", above.len(), classifiers.len(), above.join(" "));
    Ok((majority, evidence))
}

fn noise_x_decays(inputs: &Inputs) -> Check {
    let mut points: Vec<&NoisePoint> = inputs.measured.noise.iter().collect();
    if points.len() < 2 {
        return Err("fewer than two noise strengths were measured".to_string());
    }
    points.sort_by(|a, b| a.strength.total_cmp(&b.strength));
    for_every_classifier(inputs, |c| {
        let mut curve = Vec::new();
        for p in &points {
            let row = inputs.noise_row(p, c, &[Column::X])?;
            curve.push(fraction(row.x, || format!("{c} at s = {}", p.strength))?);
        }
        let falling = curve.windows(2).all(|w| w[1] < w[0]);
        let text: Vec<String> = curve.iter().map(|&v| pct(v)).collect();
        Ok((falling, format!("{c} {}", text.join(" → "))))
    })
}

/// Checks `test(row)` for every classifier at every given strength, naming the failures.
fn at_every_strength(
    inputs: &Inputs,
    points: &[&NoisePoint],
    (columns, test): (&[Column], NoiseTest),
) -> Check {
    let classifiers = inputs.classifiers()?;
    let mut failures = Vec::new();
    for p in points {
        for c in classifiers {
            let (ok, text) = test(c, inputs.noise_row(p, c, columns)?, p.strength)?;
            if !ok {
                failures.push(format!("s = {}: {text}", p.strength));
            }
        }
    }
    let strengths: Vec<String> = points.iter().map(|p| p.strength.to_string()).collect();
    let scope = format!("{} classifiers at s = {}", classifiers.len(), strengths.join(", "));
    if failures.is_empty() {
        Ok((true, format!("holds for {scope}")))
    } else {
        Ok((false, format!("fails ({scope}) at {}", failures.join("; "))))
    }
}

/// A test of one Figure 4 row, with the columns it reads.
type NoiseTest = fn(&str, &NoiseRow, f64) -> Result<(bool, String), String>;

const AS_BELOW_C: (&[Column], NoiseTest) = (&[Column::X, Column::AS], as_below_c_noisy);
const OWN_ABOVE_C: (&[Column], NoiseTest) = (&[Column::X, Column::Own], own_above_c_noisy);

fn noisy(value: f64, what: &str, s: f64) -> Result<f64, String> {
    fraction(value, || format!("{what} at s = {s}"))
}

fn as_below_c_noisy(c: &str, row: &NoiseRow, s: f64) -> Result<(bool, String), String> {
    let (x, a_s) = (noisy(row.x, c, s)?, noisy(row.a_s, &format!("{c}∘A_S"), s)?);
    Ok((a_s < x, format!("{c}∘A_S {} vs {c} {}", pct(a_s), pct(x))))
}

fn own_above_c_noisy(c: &str, row: &NoiseRow, s: f64) -> Result<(bool, String), String> {
    let (x, own) = (noisy(row.x, c, s)?, noisy(row.own, &format!("{c}∘A_{c}"), s)?);
    Ok((own > x, format!("{c}∘A_{c} {} vs {c} {}", pct(own), pct(x))))
}

fn noise_as_below_c(inputs: &Inputs) -> Check {
    at_every_strength(inputs, &inputs.noisy_points()?, AS_BELOW_C)
}

fn noise_own_above_c(inputs: &Inputs) -> Check {
    at_every_strength(inputs, &inputs.noisy_points()?, OWN_ABOVE_C)
}

fn noise_own_above_c_at_0_3(inputs: &Inputs) -> Check {
    at_every_strength(inputs, &[inputs.noise_at(0.3)?], OWN_ABOVE_C)
}

fn noise_alexnet_at_0_3(inputs: &Inputs) -> Check {
    let point = inputs.noise_at(0.3)?;
    let columns = [Column::X, Column::Own];
    let (l, a) = (inputs.noise_row(point, "L", &columns)?, inputs.noise_row(point, "A", &columns)?);
    let (l_x, a_x) = (noisy(l.x, "L", 0.3)?, noisy(a.x, "A", 0.3)?);
    let (l_own, a_own) = (noisy(l.own, "L∘A_L", 0.3)?, noisy(a.own, "A∘A_A", 0.3)?);
    let evidence =
        format!("A {} vs L {}; A∘A_A {} vs L∘A_L {}", pct(a_x), pct(l_x), pct(a_own), pct(l_own));
    Ok((a_x < l_x && a_own > l_own, evidence))
}

fn own_ae_best(inputs: &Inputs) -> Check {
    let table = inputs.table()?;
    if table.len() < 2 {
        return Err("the cross table has a single classifier".to_string());
    }
    let names = table.names();
    let mut failures = Vec::new();
    for j in 0..table.len() {
        for i in (0..table.len()).filter(|&i| i != j) {
            let (own, other) = (table.accuracy(j, j), table.accuracy(i, j));
            if other >= own {
                let (a, b) = (&names[j], &names[i]);
                failures.push(format!("{a}∘A_{b} {other:.4} ≥ {a}∘A_{a} {own:.4}"));
            }
        }
    }
    if failures.is_empty() {
        Ok((true, format!("own AE strictly best for all {} classifiers", names.len())))
    } else {
        Ok((false, failures.join(", ")))
    }
}

fn vgg_lifts_r_and_i(inputs: &Inputs) -> Check {
    let own = inputs.acc("V", "V")?;
    let (r, i) = (inputs.acc("R", "V")?, inputs.acc("I", "V")?);
    let evidence = format!("R∘A_V {r:.4}, I∘A_V {i:.4} vs V∘A_V {own:.4}");
    Ok((r > own && i > own, evidence))
}

fn list(values: &[(String, f64)], ae: &str) -> String {
    let text: Vec<String> = values.iter().map(|(j, v)| format!("{j}∘A_{ae} {v:.4}")).collect();
    text.join(", ")
}

fn inception_differs(inputs: &Inputs) -> Check {
    let others = inputs.rrc_of_others("I")?;
    let ok = others.iter().all(|(_, v)| *v < 0.65);
    Ok((ok, format!("RRC {}", list(&others, "I"))))
}

fn inception_shares_half(inputs: &Inputs) -> Check {
    let others = inputs.rrc_of_others("I")?;
    let ok = others.iter().all(|(_, v)| *v >= 0.5);
    Ok((ok, format!("RRC {}", list(&others, "I"))))
}

fn resnet_ae_weak(inputs: &Inputs) -> Check {
    let (v, l) = (inputs.rrc("V", "R")?, inputs.rrc("L", "R")?);
    Ok((v < 0.1 && l < 0.1, format!("RRC(V∘A_R) {v:.4}, RRC(L∘A_R) {l:.4}")))
}

fn vgg_ae_enough_for_r(inputs: &Inputs) -> Check {
    let r = inputs.rrc("R", "V")?;
    Ok((r >= 0.9, format!("RRC(R∘A_V) {r:.4}")))
}

fn vgg_ae_keeps_80(inputs: &Inputs) -> Check {
    let others = inputs.rrc_of_others("V")?;
    let ok = others.iter().all(|(_, v)| *v >= 0.8);
    Ok((ok, format!("RRC {}", list(&others, "V"))))
}

fn interval_text(s: &StableInterval) -> String {
    let end = |v: Option<f64>, inf: &str| v.map_or_else(|| inf.to_string(), |v| format!("{v:.4}"));
    format!("({}, {}]", end(s.interval.above, "-inf"), end(s.interval.up_to, "+inf"))
}

/// The stable interval (one formal context) holding threshold t.
fn interval_at(analysis: &Analysis, t: f64) -> Result<&StableInterval, String> {
    let found = analysis.stable_intervals.iter().find(|s| s.interval.contains(t));
    found.ok_or_else(|| format!("no stable interval holds t = {t}"))
}

fn chains_at_0_2_and_0_8(inputs: &Inputs) -> Check {
    let analysis = inputs.analysis()?;
    let (low, high) = (interval_at(analysis, 0.2)?, interval_at(analysis, 0.8)?);
    let word = |s: &StableInterval| if s.is_chain { "chain" } else { "not a chain" };
    let evidence = format!("t = 0.2: {}; t = 0.8: {}", word(low), word(high));
    Ok((low.is_chain && high.is_chain, evidence))
}

fn same_lattice_ranges(inputs: &Inputs) -> Check {
    let analysis = inputs.analysis()?;
    let mut ok = true;
    let mut parts = Vec::new();
    for (from, to) in [(0.17, 0.52), (0.66, 0.84)] {
        let interval = interval_at(analysis, from)?;
        ok &= interval.interval.contains(to);
        parts.push(format!("t = {from} is in {}", interval_text(interval)));
    }
    Ok((ok, parts.join("; ")))
}

/// The two widest gaps between consecutive distinct RRC values, lower one first.
fn widest_gaps(analysis: &Analysis) -> Result<[(f64, f64); 2], String> {
    let [a, b] = match analysis.gaps.as_slice() {
        [a, b, ..] => [(a.lower, a.upper), (b.lower, b.upper)],
        _ => return Err("fewer than two gaps between distinct RRC values".to_string()),
    };
    Ok(if a.0 <= b.0 { [a, b] } else { [b, a] })
}

fn gap_text((lower, upper): (f64, f64)) -> String {
    format!("({lower:.4}, {upper:.4}]")
}

fn thresholds_in_widest_gaps(inputs: &Inputs) -> Check {
    let [low, high] = widest_gaps(inputs.analysis()?)?;
    let inside = |t: f64, (lower, upper): (f64, f64)| lower < t && t <= upper;
    let ok = (inside(0.2, low) && inside(0.8, high)) || (inside(0.2, high) && inside(0.8, low));
    Ok((ok, format!("two widest gaps {} and {}", gap_text(low), gap_text(high))))
}

/// Holds when every interval in `between` is a chain; names those that are not.
fn all_chains(between: &[&StableInterval], scope: String) -> Check {
    if between.is_empty() {
        return Err(format!("no stable interval in {scope}"));
    }
    let broken: Vec<String> =
        between.iter().filter(|s| !s.is_chain).map(|s| interval_text(s)).collect();
    let count = format!("{} contexts in {scope}", between.len());
    if broken.is_empty() {
        Ok((true, format!("{count}, all chains")))
    } else {
        Ok((false, format!("{count}; not chains for t in {}", broken.join(", "))))
    }
}

fn chains_from_0_2_to_0_8(inputs: &Inputs) -> Check {
    let analysis = inputs.analysis()?;
    // (above, up_to] meets [0.2, 0.8] when up_to ≥ 0.2 and above < 0.8.
    let between: Vec<&StableInterval> = analysis
        .stable_intervals
        .iter()
        .filter(|s| s.interval.up_to.is_none_or(|u| u >= 0.2))
        .filter(|s| s.interval.above.is_none_or(|a| a < 0.8))
        .collect();
    all_chains(&between, "t in [0.2, 0.8]".to_string())
}

fn chains_between_widest_gaps(inputs: &Inputs) -> Check {
    let analysis = inputs.analysis()?;
    let [low, high] = widest_gaps(analysis)?;
    // A gap is itself a stable interval, so both gaps are among those checked.
    let between: Vec<&StableInterval> = analysis
        .stable_intervals
        .iter()
        .filter(|s| s.interval.above.is_some_and(|a| a >= low.0))
        .filter(|s| s.interval.up_to.is_some_and(|u| u <= high.1))
        .collect();
    let scope = format!("the widest gaps {} to {}", gap_text(low), gap_text(high));
    all_chains(&between, scope)
}

fn only_a_i_changes(inputs: &Inputs) -> Check {
    let analysis = inputs.analysis()?;
    inputs.index("I")?;
    // j∘A_i is in the relation iff RRC ≥ t, so it changes inside [0.2, 0.8] iff 0.2 ≤ RRC < 0.8.
    let changing: Vec<_> = analysis.rrc.iter().filter(|e| (0.2..0.8).contains(&e.rrc)).collect();
    let only_i = changing.iter().all(|e| e.autoencoder == "I" && e.classifier != "I");
    let names: Vec<String> = changing
        .iter()
        .map(|e| format!("{}∘A_{} {:.4}", e.classifier, e.autoencoder, e.rrc))
        .collect();
    let evidence = format!("pairs with 0.2 ≤ RRC < 0.8: {}", none_if_empty(&names));
    Ok((only_i && !changing.is_empty(), evidence))
}

fn none_if_empty(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[derive(Clone, Copy)]
enum NmiKind {
    Intra,
    Inter,
}

/// The mean nMI of one row, required to be a finite number.
fn mean_of(row: &AeNmi, kind: NmiKind) -> Result<f64, String> {
    let (summary, what) = match kind {
        NmiKind::Intra => (row.intra, "intra"),
        NmiKind::Inter => (row.inter, "inter"),
    };
    if summary.mean.is_finite() {
        Ok(summary.mean)
    } else {
        Err(format!("{what}-nMI of {} is {}", row.ae, summary.mean))
    }
}

/// Mean nMI of every measured AE not in `except`.
fn nmi_means(
    inputs: &Inputs,
    kind: NmiKind,
    except: &[&str],
) -> Result<Vec<(String, f64)>, String> {
    let rows = inputs.measured.nmi.iter().filter(|r| !except.contains(&r.ae.as_str()));
    let rows: Vec<&AeNmi> = rows.collect();
    inputs.reads(rows.iter().map(|r| Input::Autoencoder(r.ae.clone())));
    rows.into_iter().map(|r| Ok((r.ae.clone(), mean_of(r, kind)?))).collect()
}

/// The mean nMI of `ae`.
fn nmi_of(inputs: &Inputs, kind: NmiKind, ae: &str) -> Result<f64, String> {
    mean_of(inputs.nmi(ae)?, kind)
}

/// The largest of `values`, or why there is none.
fn highest(values: &[(String, f64)], what: &str) -> Result<(String, f64), String> {
    let best = values.iter().max_by(|a, b| a.1.total_cmp(&b.1)).cloned();
    best.ok_or_else(|| format!("no nMI measured for {what}"))
}

/// Intra-nMI means in the paper's order, checked strictly decreasing.
fn nmi_intra_order(inputs: &Inputs) -> Check {
    let mut means = Vec::new();
    for ae in ["A_V", "A_I", "A_L", "A_R", "A_A"] {
        means.push((ae, nmi_of(inputs, NmiKind::Intra, ae)?));
    }
    let breaks: Vec<String> = means
        .windows(2)
        .filter(|w| w[0].1 <= w[1].1)
        .map(|w| format!("{} ≤ {}", w[0].0, w[1].0))
        .collect();
    let values: Vec<String> = means.iter().map(|(ae, m)| format!("{ae} {m:.4}")).collect();
    let evidence = format!("{}; order breaks: {}", values.join(", "), none_if_empty(&breaks));
    Ok((breaks.is_empty(), evidence))
}

fn nmi_as_highest_intra(inputs: &Inputs) -> Check {
    let a_s = nmi_of(inputs, NmiKind::Intra, "A_S")?;
    let others = nmi_means(inputs, NmiKind::Intra, &["A_S"])?;
    let (best, mean) = highest(&others, "a fine-tuned AE")?;
    Ok((a_s > mean, format!("intra-nMI A_S {a_s:.4}; highest other {best} {mean:.4}")))
}

fn nmi_a_and_r_highest_inter(inputs: &Inputs) -> Check {
    let a = nmi_of(inputs, NmiKind::Inter, "A_A")?;
    let r = nmi_of(inputs, NmiKind::Inter, "A_R")?;
    let rest = nmi_means(inputs, NmiKind::Inter, &["A_S", "A_A", "A_R"])?;
    let (best, mean) = highest(&rest, "a fine-tuned AE besides A_A and A_R")?;
    let evidence =
        format!("inter-nMI A_A {a:.4}, A_R {r:.4}; highest other fine-tuned {best} {mean:.4}");
    Ok((a.min(r) > mean, evidence))
}

/// Figure 7b's chain orders AEs by how many classifiers use their signal at t = 0.2; an AE
/// with strictly higher intra-nMI must not have fewer users. Equal counts are allowed: AEs on
/// the same concept of the chain are not ordered by it. When every AE has the same count the
/// chain orders none of them and the claim has nothing to match: NOT APPLICABLE, not a pass.
fn nmi_order_matches_fig7b(inputs: &Inputs) -> Check {
    let table = inputs.table()?;
    let mut rows: Vec<(String, f64, usize)> = Vec::new();
    for (i, name) in table.names().iter().enumerate() {
        let Ok(row) = inputs.nmi(&format!("A_{name}")) else {
            continue; // an AE without nMI has no place in the order
        };
        let users = (0..table.len()).filter(|&j| table.rrc(i, j) >= 0.2).count();
        rows.push((row.ae.clone(), mean_of(row, NmiKind::Intra)?, users));
    }
    if rows.len() < 2 {
        return Err("fewer than two fine-tuned AEs have both nMI and a cross-table row".into());
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let ok = rows.iter().all(|a| rows.iter().all(|b| a.1 <= b.1 || a.2 >= b.2));
    let text: Vec<String> =
        rows.iter().map(|(ae, m, u)| format!("{ae} {m:.4} ({u} users)")).collect();
    if rows.iter().all(|row| row.2 == rows[0].2) {
        return Err(format!(
            "every AE is used (RRC ≥ 0.2) by the same {} classifiers, so the t = 0.2 lattice \
             orders none of them: by intra-nMI {}",
            rows[0].2,
            text.join(", ")
        ));
    }
    Ok((ok, format!("by intra-nMI: {}", text.join(", "))))
}

const T1: &str = "§3.3, Table 1";
const FIG4: &str = "§3.3.2, Figure 4";
const T2: &str = "§3.4, Table 2";
const FIG6: &str = "§3.4, Figure 6";
const FIG7: &str = "§3.4, Figure 7";
const FIG9: &str = "§3.5, Figure 9";

const CLAIMS: &[Def] = &[
    Def {
        id: "table1-as-below-c",
        section: T1,
        statement: "C∘A_S is below C (top-1) for every classifier",
        quote: "the baseline lays between 1.2 and 3.7 points below the accuracy of the classifiers alone",
        eval: |i| as_below_c(i, Top::One),
    },
    Def {
        id: "table1-as-below-c-top5",
        section: T1,
        statement: "C∘A_S is below C (top-5) for every classifier",
        quote: "Table 1: every top-5 diff of C∘A_S is negative",
        eval: |i| as_below_c(i, Top::Five),
    },
    Def {
        id: "table1-as-drop-size",
        section: T1,
        statement: "every top-1 drop C − C∘A_S is positive and at most 5 points",
        quote: "the baseline lays between 1.2 and 3.7 points below; not a dramatic drop",
        eval: as_drop_size,
    },
    Def {
        id: "table1-own-recovers",
        section: T1,
        statement: "C∘A_C is above C∘A_S (top-1) for every classifier",
        quote: "fine-tuning A_S on any classifier already makes up for the initial loss of information",
        eval: |i| own_recovers(i, Top::One),
    },
    Def {
        id: "table1-own-recovers-top5",
        section: T1,
        statement: "C∘A_C is above C∘A_S (top-5) for every classifier",
        quote: "fine-tuning A_S on any classifier already makes up for the initial loss of information",
        eval: |i| own_recovers(i, Top::Five),
    },
    Def {
        id: "table1-own-above-c-majority",
        section: T1,
        statement: "C∘A_C is above C (top-1) for a strict majority of classifiers",
        quote: "for most cases, even surpasses the performance of the classifiers alone",
        eval: own_above_c_majority,
    },
    Def {
        id: "noise-x-decays",
        section: FIG4,
        statement: "top-1 on noisy x falls strictly with every increase of s, for every classifier",
        quote: "accuracy decays steadily as noise increases (dashed lines)",
        eval: noise_x_decays,
    },
    Def {
        id: "noise-as-below-c",
        section: FIG4,
        statement: "C∘A_S is below C on noisy x at every measured s > 0, for every classifier",
        quote: "using reconstructions from A_S (Figure 4, left) worsens performance even more",
        eval: noise_as_below_c,
    },
    Def {
        id: "noise-own-above-c",
        section: FIG4,
        statement: "C∘A_C is above C on noisy x at every measured s > 0, for every classifier",
        quote: "i∘A_i present higher accuracies for all levels of noise (Figure 4, right)",
        eval: noise_own_above_c,
    },
    Def {
        id: "noise-own-above-c-s0.3",
        section: FIG4,
        statement: "at s = 0.3, C∘A_C is above C on noisy x for every classifier",
        quote: "i∘A_i present higher accuracies for all levels of noise (Figure 4, right)",
        eval: noise_own_above_c_at_0_3,
    },
    Def {
        id: "noise-alexnet-s0.3",
        section: FIG4,
        statement: "at s = 0.3, A is below L on noisy x, yet A∘A_A is above L∘A_L",
        quote: "AlexNet falls below the accuracy of LeNet-5 at s = 0.3, yet it manages to remain above LeNet-5 when using inputs from A_A",
        eval: noise_alexnet_at_0_3,
    },
    Def {
        id: "table2-own-ae-best",
        section: T2,
        statement: "acc(j∘A_j) > acc(j∘A_i) for every classifier j and every i ≠ j",
        quote: "accuracy drops consistently for each classifier when they use other AEs",
        eval: own_ae_best,
    },
    Def {
        id: "rrc-vgg-lifts-r-and-i",
        section: FIG6,
        statement: "acc(R∘A_V) > acc(V∘A_V) and acc(I∘A_V) > acc(V∘A_V)",
        quote: "the input signal used by VGG is enough to make both ResNet 50 and Inception v3 perform better than VGG itself",
        eval: vgg_lifts_r_and_i,
    },
    Def {
        id: "rrc-inception-differs",
        section: FIG6,
        statement: "RRC(j∘A_I) < 0.65 for every j ≠ I",
        quote: "none of the models in C \\ {I} performed well (below 0.65 of their original accuracy) using A_I",
        eval: inception_differs,
    },
    Def {
        id: "rrc-inception-shares-half",
        section: FIG7,
        statement: "RRC(j∘A_I) ≥ 0.5 for every j ≠ I",
        quote: "Inception shares up to 50% of the signal that the other classifiers are picking up on",
        eval: inception_shares_half,
    },
    Def {
        id: "fca-t0.1-resnet-ae-weak",
        section: FIG7,
        statement: "RRC(V∘A_R) < 0.1 and RRC(L∘A_R) < 0.1 (Figure 7a)",
        quote: "the signal from ResNet 50's AE is already not enough to make VGG or LeNet reach an accuracy that can go above 10%",
        eval: resnet_ae_weak,
    },
    Def {
        id: "fca-t0.9-vgg-ae-enough-for-r",
        section: FIG7,
        statement: "RRC(R∘A_V) ≥ 0.9 (Figure 7d)",
        quote: "the signal of VGG is enough for making ResNet 50's performance at least 90% of what VGG is capable of",
        eval: vgg_ae_enough_for_r,
    },
    Def {
        id: "rrc-vgg-ae-keeps-80",
        section: FIG7,
        statement: "RRC(j∘A_V) ≥ 0.8 for every j ≠ V",
        quote: "the AE fine-tuned on VGG preserves a signal that enables all other classifiers retain at least 80% of their performance",
        eval: vgg_ae_keeps_80,
    },
    Def {
        id: "fca-chains-at-0.2-and-0.8",
        section: FIG7,
        statement: "the lattices at t = 0.2 and t = 0.8 are chains",
        quote: "lattices for t in {0.2, 0.8} describe totally ordered sets",
        eval: chains_at_0_2_and_0_8,
    },
    Def {
        id: "fca-same-lattice-ranges",
        section: FIG7,
        statement: "every t in [0.17, 0.52] gives one context, and every t in [0.66, 0.84] one",
        quote: "any value of t between those intervals ([0.17 - 0.52] and [0.66 - 0.84]) yield the same FC",
        eval: same_lattice_ranges,
    },
    Def {
        id: "fca-0.2-0.8-in-widest-gaps",
        section: FIG7,
        statement: "t = 0.2 lies in one of the two widest gaps between RRC values, t = 0.8 in the other",
        quote: "FCs for t in {0.2, 0.8} characterize the largest changes (they lay in between the largest gaps)",
        eval: thresholds_in_widest_gaps,
    },
    Def {
        id: "fca-chains-from-0.2-to-0.8",
        section: FIG7,
        statement: "the lattice is a chain for every t in [0.2, 0.8]",
        quote: "any FC for thresholds between 0.2 and 0.8 yield lattices describing a totally ordered set",
        eval: chains_from_0_2_to_0_8,
    },
    Def {
        id: "fca-only-a-i-changes",
        section: FIG7,
        statement: "the pairs entering or leaving the relation for t in [0.2, 0.8] (0.2 ≤ RRC < 0.8) are all j∘A_I, j ≠ I, and there is one",
        quote: "the only changing element is the AE fine-tuned on Inception",
        eval: only_a_i_changes,
    },
    Def {
        id: "fca-chains-between-widest-gaps",
        section: FIG7,
        statement: "every context for t from the lower to the upper of the two widest RRC gaps (both included) is a chain",
        quote: "thresholds between the largest gaps yield lattices describing a totally ordered set",
        eval: chains_between_widest_gaps,
    },
    Def {
        id: "nmi-intra-order",
        section: FIG9,
        statement: "mean intra-nMI: A_V > A_I > A_L > A_R > A_A",
        quote: "all fine-tuned AEs can be sorted as follows: A_V > A_I > A_L > A_R > A_A",
        eval: nmi_intra_order,
    },
    Def {
        id: "nmi-as-highest-intra",
        section: FIG9,
        statement: "A_S has a higher mean intra-nMI than every other AE",
        quote: "A_S is able to preserve the highest amount of the input signal",
        eval: nmi_as_highest_intra,
    },
    Def {
        id: "nmi-a-a-and-a-r-highest-inter",
        section: FIG9,
        statement: "A_A and A_R have higher mean inter-nMI than every other fine-tuned AE",
        quote: "both A_A and A_R show comparatively high amounts of inter-class nMI",
        eval: nmi_a_and_r_highest_inter,
    },
    Def {
        id: "nmi-order-matches-fig7b",
        section: FIG9,
        statement: "an AE with higher intra-nMI is used (RRC ≥ 0.2) by at least as many classifiers",
        quote: "the resulting totally ordered set aligns closely to the attributes in the lattice of Figure 7b",
        eval: nmi_order_matches_fig7b,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    type Perturb = fn(&mut Measured);

    fn verdicts(measured: &Measured) -> Vec<(&'static str, Verdict)> {
        check(measured).into_iter().map(|c| (c.id, c.verdict)).collect()
    }

    #[track_caller]
    fn assert_verdict(measured: &Measured, id: &str, expected: Verdict) {
        let claims = check(measured);
        let claim = claims.iter().find(|c| c.id == id).expect("known claim id");
        assert_eq!(claim.verdict, expected, "{id}: {}", claim.ours);
    }

    fn summary(mean: f64) -> NmiSummary {
        NmiSummary { mean, std: 0.01, count: 10 }
    }

    /// Made-up noise curves shaped like Figure 4 (the paper gives no numbers): x falls with s,
    /// A_S is 1 point below x, the own AE 2 points above (A's 12, so that at s = 0.3 A is
    /// below L on x but A∘A_A above L∘A_L).
    fn noise() -> Vec<NoisePoint> {
        let curves = [
            (0.0, [0.32, 0.55, 0.71, 0.77, 0.74]),
            (0.1, [0.28, 0.45, 0.60, 0.66, 0.64]),
            (0.3, [0.20, 0.15, 0.30, 0.35, 0.32]),
            (0.5, [0.10, 0.05, 0.12, 0.15, 0.14]),
        ];
        let letters = ["L", "A", "V", "I", "R"];
        let row = |c: &str, x: f64| NoiseRow {
            classifier: c.to_string(),
            x,
            a_s: x - 0.01,
            own: x + if c == "A" { 0.12 } else { 0.02 },
        };
        let point = |(strength, xs): (f64, [f64; 5])| NoisePoint {
            strength,
            rows: letters.iter().zip(xs).map(|(c, x)| row(c, x)).collect(),
        };
        curves.into_iter().map(point).collect()
    }

    /// Made-up nMI shaped like Figure 9.
    fn nmi() -> Vec<AeNmi> {
        let rows = [
            ("A_S", 0.60, 0.07),
            ("A_V", 0.50, 0.10),
            ("A_I", 0.45, 0.08),
            ("A_L", 0.40, 0.05),
            ("A_R", 0.35, 0.25),
            ("A_A", 0.30, 0.30),
        ];
        let row = |(ae, intra, inter): (&str, f64, f64)| AeNmi {
            ae: ae.to_string(),
            intra: summary(intra),
            inter: summary(inter),
        };
        rows.into_iter().map(row).collect()
    }

    /// The paper's Tables 1 and 2 with the made-up noise and nMI numbers.
    fn paper_like() -> Measured {
        Measured { noise: noise(), nmi: nmi(), ..paper_measured() }
    }

    fn table1_row<'m>(m: &'m mut Measured, c: &str) -> &'m mut Table1Row {
        m.table1.iter_mut().find(|r| r.classifier == c).expect("row")
    }

    fn noise_row<'m>(m: &'m mut Measured, s: f64, c: &str) -> &'m mut NoiseRow {
        let point = m.noise.iter_mut().find(|p| p.strength == s).expect("strength");
        point.rows.iter_mut().find(|r| r.classifier == c).expect("row")
    }

    fn nmi_row<'m>(m: &'m mut Measured, ae: &str) -> &'m mut AeNmi {
        m.nmi.iter_mut().find(|r| r.ae == ae).expect("ae")
    }

    fn table(names: &[&str], rows: Vec<Vec<f64>>) -> CrossTable {
        let names = names.iter().map(|s| s.to_string()).collect();
        CrossTable::new(names, rows, Path::new("test.json")).expect("valid table")
    }

    /// Sets acc(classifier∘A_ae) in the cross table.
    fn set_acc(m: &mut Measured, classifier: &str, ae: &str, value: f64) {
        let old = m.cross.take().expect("cross table");
        let index = |n: &str| old.names().iter().position(|x| x == n).expect("name");
        let mut rows = old.rows().to_vec();
        rows[index(ae)][index(classifier)] = value;
        let names: Vec<&str> = old.names().iter().map(|s| s.as_str()).collect();
        m.cross = Some(table(&names, rows));
    }

    /// Sets acc(classifier∘A_ae) so that RRC(classifier∘A_ae) = rrc.
    fn set_rrc(m: &mut Measured, classifier: &str, ae: &str, rrc: f64) {
        let t = m.cross.as_ref().expect("cross table");
        let index = |n: &str| t.names().iter().position(|x| x == n).expect("name");
        let (i, j) = (index(ae), index(classifier));
        let weaker = t.accuracy(i, i).min(t.accuracy(j, j));
        set_acc(m, classifier, ae, rrc * weaker);
    }

    const FAILING_ON_PAPER: [&str; 3] = [
        "fca-0.2-0.8-in-widest-gaps",
        "fca-chains-from-0.2-to-0.8",
        "fca-chains-between-widest-gaps",
    ];

    #[test]
    fn embedded_fixtures_parse_into_the_papers_tables() {
        let m = paper_measured();
        assert_eq!(m.classifiers, ["L", "A", "V", "I", "R"]);
        let i = m.table1.iter().find(|r| r.classifier == "I").unwrap();
        assert_eq!((i.x.top1, i.a_s.top1, i.own.top5), (0.7712, 0.7442, 0.9303));
        assert_eq!(m.cross.as_ref().unwrap().accuracy(2, 4), 0.73); // R∘A_V
    }

    #[test]
    fn holds_each_is_the_point_verdict_of_every_claim() {
        let measured = paper_like();
        let each = holds_each(&measured);
        let expected: Vec<Option<bool>> = (verdicts(&measured).into_iter())
            .map(|(_, v)| match v {
                Verdict::Holds => Some(true),
                Verdict::Fails => Some(false),
                _ => None,
            })
            .collect();
        assert_eq!(each, expected, "one entry per claim, in CLAIMS' order");
        assert!(each.contains(&Some(true)) && each.contains(&Some(false)), "{each:?}");
    }

    #[test]
    fn resampled_verdicts_and_their_text() {
        let measured = paper_like();
        let point = holds_each(&measured);
        let flipped: Vec<Option<bool>> = point.iter().map(|h| h.map(|h| !h)).collect();
        // Holding in half the resamples: UNSETTLED, the share beside it.
        let claims = check_resampled(&measured, &[point.clone(), flipped.clone()]);
        let first = claims.iter().find(|c| c.verdict != Verdict::NotApplicable).unwrap();
        assert_eq!(first.verdict, Verdict::Unsettled, "{first:?}");
        assert_eq!(verdict_text(first), "UNSETTLED (holds in 50.0 %)");
        // Holding in every resample: the point verdict stands.
        let settled = check_resampled(&measured, &[point.clone(), point]);
        assert_eq!(
            settled.iter().map(|c| c.verdict).collect::<Vec<_>>(),
            (verdicts(&measured).into_iter()).map(|(_, v)| v).collect::<Vec<_>>()
        );
        // A claim not applicable stays so, and its text carries no share.
        let mut degenerate = paper_like();
        degenerate.degenerate =
            vec![Finding { input: Input::Autoencoder("A_S".into()), reason: "flat".into() }];
        let claims = check_resampled(&degenerate, &[flipped.clone(), flipped]);
        let as_below = claims.iter().find(|c| c.id == "table1-as-below-c").unwrap();
        assert_eq!(as_below.verdict, Verdict::NotApplicable, "{as_below:?}");
        assert_eq!(verdict_text(as_below), "NOT APPLICABLE", "{as_below:?}");
    }

    #[test]
    fn the_evidence_quotes_the_numbers_in_percent() {
        let claims = check(&paper_like());
        let claim = claims.iter().find(|c| c.id == "table1-as-below-c").unwrap();
        assert!(claim.ours.contains("L∘A_S 31.08 vs L 32.30"), "{}", claim.ours);
    }

    #[test]
    fn ties_are_not_drops_majorities_or_too_few_strengths() {
        // No drop at all is not a drop.
        let mut m = paper_like();
        let row = table1_row(&mut m, "L");
        row.a_s = row.x;
        assert_verdict(&m, "table1-as-drop-size", Verdict::Fails);
        // Two of four classifiers above C is half, not a majority.
        let mut m = paper_like();
        m.classifiers.retain(|c| c != "R");
        let row = table1_row(&mut m, "V");
        row.own = row.x;
        assert_verdict(&m, "table1-own-above-c-majority", Verdict::Fails);
        // Three of five is one.
        let mut m = paper_like();
        let row = table1_row(&mut m, "R");
        row.own = row.x;
        assert_verdict(&m, "table1-own-above-c-majority", Verdict::Holds);
        // Two strengths are enough to see a decay.
        let mut m = paper_like();
        m.noise.truncate(2);
        assert_verdict(&m, "noise-x-decays", Verdict::Holds);
    }

    #[test]
    fn table1_claims_read_the_aes_of_their_columns() {
        // C∘A_S below C reads A_S; C∘A_C above C∘A_S reads A_S and each own AE.
        for (ae, id) in [("A_S", "table1-as-below-c"), ("A_L", "table1-own-recovers")] {
            let mut m = paper_like();
            m.degenerate =
                vec![Finding { input: Input::Autoencoder(ae.into()), reason: "flat".into() }];
            let claims = check(&m);
            let claim = claims.iter().find(|c| c.id == id).unwrap();
            assert_eq!(claim.verdict, Verdict::NotApplicable, "{ae}: {claim:?}");
            assert!(claim.ours.contains(ae), "{ae}: {}", claim.ours);
        }
    }

    #[test]
    fn claim_ids_are_unique() {
        let ids: HashSet<&str> = CLAIMS.iter().map(|d| d.id).collect();
        assert_eq!(ids.len(), CLAIMS.len());
    }

    #[test]
    fn the_papers_tables_give_the_papers_verdicts() {
        let claims = check(&paper_measured());
        for c in &claims {
            assert_eq!(c.verdict, c.paper_verdict, "{}", c.id);
            let expected = if c.id.starts_with("noise-") || c.id.starts_with("nmi-") {
                Verdict::NotApplicable // no published numbers
            } else if FAILING_ON_PAPER.contains(&c.id) {
                Verdict::Fails // as the `published` analysis found
            } else {
                Verdict::Holds
            };
            assert_eq!(c.verdict, expected, "{}: {}", c.id, c.ours);
        }
        let drop = claims.iter().find(|c| c.id == "table1-as-drop-size").unwrap();
        assert!(drop.paper.ends_with("range 1.22 to 3.76"), "{}", drop.paper);
        let order = claims.iter().find(|c| c.id == "nmi-intra-order").unwrap();
        assert_eq!(
            order.paper,
            "stated: all fine-tuned AEs can be sorted as follows: A_V > A_I > A_L > A_R > A_A"
        );
        let gaps = claims.iter().find(|c| c.id == "fca-chains-between-widest-gaps").unwrap();
        assert!(gaps.paper.starts_with("FAILS on the paper's tables"), "{}", gaps.paper);
        assert!(gaps.paper.contains("(0.5250, 0.5387]"), "{}", gaps.paper);
    }

    #[test]
    fn the_paper_like_input_satisfies_every_claim_the_paper_satisfies() {
        for (id, v) in verdicts(&paper_like()) {
            let expected =
                if FAILING_ON_PAPER.contains(&id) { Verdict::Fails } else { Verdict::Holds };
            assert_eq!(v, expected, "{id}");
        }
    }

    /// One perturbation of `paper_like()` per claim that holds there, each making it fail.
    fn perturbations() -> Vec<(&'static str, Perturb)> {
        vec![
            ("table1-as-below-c", |m| {
                let r = table1_row(m, "L");
                r.a_s.top1 = r.x.top1
            }),
            ("table1-as-below-c-top5", |m| {
                let r = table1_row(m, "R");
                r.a_s.top5 = r.x.top5
            }),
            ("table1-as-drop-size", |m| {
                let r = table1_row(m, "V");
                r.a_s.top1 = r.x.top1 - 0.06
            }),
            ("table1-own-recovers", |m| {
                let r = table1_row(m, "I");
                r.own.top1 = r.a_s.top1
            }),
            ("table1-own-recovers-top5", |m| {
                let r = table1_row(m, "A");
                r.own.top5 = r.a_s.top5
            }),
            ("table1-own-above-c-majority", |m| {
                // Ties with C do not count: 2 of 5 above is no majority.
                for c in ["A", "V"] {
                    let r = table1_row(m, c);
                    r.own.top1 = r.x.top1;
                }
            }),
            ("noise-x-decays", |m| noise_row(m, 0.5, "L").x = 0.20),
            ("noise-as-below-c", |m| {
                let r = noise_row(m, 0.1, "R");
                r.a_s = r.x
            }),
            ("noise-own-above-c", |m| {
                let r = noise_row(m, 0.5, "V");
                r.own = r.x
            }),
            ("noise-own-above-c-s0.3", |m| {
                let r = noise_row(m, 0.3, "I");
                r.own = r.x
            }),
            ("noise-alexnet-s0.3", |m| noise_row(m, 0.3, "A").x = 0.20),
            ("table2-own-ae-best", |m| set_acc(m, "I", "V", 0.7671)),
            ("rrc-vgg-lifts-r-and-i", |m| set_acc(m, "R", "V", 0.7163)),
            ("rrc-inception-differs", |m| set_rrc(m, "V", "I", 0.7)),
            ("rrc-inception-shares-half", |m| set_rrc(m, "L", "I", 0.45)),
            ("fca-t0.1-resnet-ae-weak", |m| set_rrc(m, "V", "R", 0.12)),
            ("fca-t0.9-vgg-ae-enough-for-r", |m| set_rrc(m, "R", "V", 0.85)),
            ("rrc-vgg-ae-keeps-80", |m| set_rrc(m, "L", "V", 0.75)),
            // V then also uses A_R at t = 0.2: V's and L's intents are no longer nested.
            ("fca-chains-at-0.2-and-0.8", |m| set_rrc(m, "V", "R", 0.7)),
            ("fca-same-lattice-ranges", |m| set_rrc(m, "R", "A", 0.3)),
            ("fca-only-a-i-changes", |m| set_rrc(m, "R", "A", 0.3)),
            ("nmi-intra-order", |m| nmi_row(m, "A_I").intra = summary(0.50)),
            ("nmi-as-highest-intra", |m| nmi_row(m, "A_V").intra = summary(0.60)),
            ("nmi-a-a-and-a-r-highest-inter", |m| nmi_row(m, "A_V").inter = summary(0.25)),
            // A_A (2 classifiers at t = 0.2) above A_L (4) in intra-nMI.
            ("nmi-order-matches-fig7b", |m| nmi_row(m, "A_A").intra = summary(0.42)),
        ]
    }

    #[test]
    fn every_claim_can_fail() {
        let table = perturbations();
        let covered: HashSet<&str> = table.iter().map(|(id, _)| *id).collect();
        let expected: HashSet<&str> =
            CLAIMS.iter().map(|d| d.id).filter(|id| !FAILING_ON_PAPER.contains(id)).collect();
        assert_eq!(covered, expected);
        for (id, perturb) in table {
            let mut m = paper_like();
            perturb(&mut m);
            let claim = check(&m).into_iter().find(|c| c.id == id).unwrap();
            assert_eq!(claim.verdict, Verdict::Fails, "{id}: {}", claim.ours);
        }
    }

    /// Two classifiers L, A with RRC(A∘A_L) = 1.2 and RRC(L∘A_A) = 0.2: the contexts for
    /// t in (−∞, 0.2], (0.2, 1] and (1, 1.2] are all chains.
    fn chain_table() -> Measured {
        let cross = table(&["L", "A"], vec![vec![0.5, 0.6], vec![0.1, 0.9]]);
        Measured {
            classifiers: vec!["L".into(), "A".into()],
            cross: Some(cross),
            ..Default::default()
        }
    }

    #[test]
    fn the_claims_failing_on_the_paper_can_hold() {
        let chains = chain_table();
        assert_verdict(&chains, "fca-chains-from-0.2-to-0.8", Verdict::Holds);
        assert_verdict(&chains, "fca-chains-between-widest-gaps", Verdict::Holds);
        // RRC values 0.1, 0.5, 1: widest gaps (0.5, 1] ∋ 0.8 and (0.1, 0.5] ∋ 0.2.
        let cross = table(&["L", "A"], vec![vec![0.5, 0.25], vec![0.05, 0.9]]);
        let gaps = Measured { cross: Some(cross), ..Default::default() };
        assert_verdict(&gaps, "fca-0.2-0.8-in-widest-gaps", Verdict::Holds);
    }

    #[test]
    fn ties_are_not_wins() {
        let mut m = paper_like();
        set_acc(&mut m, "A", "V", 0.5613); // acc(A∘A_V) == acc(A∘A_A)
        assert_verdict(&m, "table2-own-ae-best", Verdict::Fails);
        let mut m = paper_like();
        nmi_row(&mut m, "A_L").intra = summary(0.35); // A_L == A_R
        assert_verdict(&m, "nmi-intra-order", Verdict::Fails);
        let mut m = paper_like();
        nmi_row(&mut m, "A_V").inter = summary(0.25); // ties A_R for second place
        assert_verdict(&m, "nmi-a-a-and-a-r-highest-inter", Verdict::Fails);
    }

    #[test]
    fn nothing_measured_is_not_applicable_everywhere() {
        for (id, v) in verdicts(&Measured::default()) {
            assert_eq!(v, Verdict::NotApplicable, "{id}");
        }
    }

    /// The paper-like input without V anywhere.
    fn without_vgg() -> Measured {
        let mut m = paper_like();
        m.classifiers.retain(|c| c != "V");
        m.table1.retain(|r| r.classifier != "V");
        m.noise.iter_mut().for_each(|p| p.rows.retain(|r| r.classifier != "V"));
        m.nmi.retain(|r| r.ae != "A_V");
        let full = m.cross.take().unwrap();
        let keep = [0, 1, 3, 4];
        let rows = keep.iter().map(|&i| keep.iter().map(|&j| full.accuracy(i, j)).collect());
        m.cross = Some(table(&["L", "A", "I", "R"], rows.collect()));
        m
    }

    #[test]
    fn a_missing_family_is_not_applicable_not_a_pass() {
        let m = without_vgg();
        let needs_v = [
            "rrc-vgg-lifts-r-and-i",
            "fca-t0.1-resnet-ae-weak",
            "fca-t0.9-vgg-ae-enough-for-r",
            "rrc-vgg-ae-keeps-80",
            "nmi-intra-order",
        ];
        for (id, v) in verdicts(&m) {
            if needs_v.contains(&id) {
                assert_eq!(v, Verdict::NotApplicable, "{id}");
            } else {
                assert_ne!(v, Verdict::NotApplicable, "{id}");
            }
        }
        // C names V but Table 1 has no row for it: "every classifier" cannot be checked.
        let mut m = paper_like();
        m.table1.retain(|r| r.classifier != "V");
        assert_verdict(&m, "table1-as-below-c", Verdict::NotApplicable);
        assert_verdict(&m, "table1-own-above-c-majority", Verdict::NotApplicable);
    }

    #[test]
    fn a_missing_strength_is_not_applicable_not_a_pass() {
        let mut m = paper_like();
        m.noise.retain(|p| p.strength != 0.3);
        assert_verdict(&m, "noise-own-above-c-s0.3", Verdict::NotApplicable);
        assert_verdict(&m, "noise-alexnet-s0.3", Verdict::NotApplicable);
        assert_verdict(&m, "noise-own-above-c", Verdict::Holds);
        m.noise.retain(|p| p.strength == 0.0);
        assert_verdict(&m, "noise-own-above-c", Verdict::NotApplicable);
        assert_verdict(&m, "noise-as-below-c", Verdict::NotApplicable);
        assert_verdict(&m, "noise-x-decays", Verdict::NotApplicable);
    }

    #[test]
    fn unmeasured_or_percent_values_are_not_applicable() {
        let mut m = paper_like();
        table1_row(&mut m, "L").a_s.top1 = f64::NAN;
        assert_verdict(&m, "table1-as-below-c", Verdict::NotApplicable);
        assert_verdict(&m, "table1-as-below-c-top5", Verdict::Holds);
        let mut m = paper_like();
        noise_row(&mut m, 0.3, "L").own = 22.0; // percent, not a fraction
        assert_verdict(&m, "noise-alexnet-s0.3", Verdict::NotApplicable);
        let mut m = paper_like();
        nmi_row(&mut m, "A_I").intra = summary(f64::NAN);
        assert_verdict(&m, "nmi-as-highest-intra", Verdict::NotApplicable);
    }

    #[test]
    fn verdicts_serialize_as_words_and_render_as_markdown() {
        let words: Vec<String> = [Verdict::Holds, Verdict::Fails, Verdict::NotApplicable]
            .iter()
            .map(|v| serde_json::to_string(v).unwrap())
            .collect();
        assert_eq!(words, ["\"holds\"", "\"fails\"", "\"not applicable\""]);
        let claims = check(&paper_like());
        let markdown = to_markdown(&claims);
        assert_eq!(markdown.lines().count(), claims.len() + 2);
        assert!(markdown.contains("| nmi-intra-order | §3.5, Figure 9 |"), "{markdown}");
    }

    #[test]
    fn resampled_verdicts_are_three_way_with_the_share_beside() {
        let m = paper_like();
        let point = check(&m);
        let claims = point.len();
        let holds_index = point.iter().position(|c| c.verdict == Verdict::Holds).unwrap();
        let na_index = point.iter().position(|c| c.verdict == Verdict::NotApplicable);
        // 100 resamples: claim k holds in k % 101 of them (k capped at 100).
        let share_of = |k: usize| (k * 7) % 101;
        let resampled: Vec<Vec<Option<bool>>> =
            (0..100).map(|r| (0..claims).map(|k| Some(r < share_of(k))).collect()).collect();
        let judged = check_resampled(&m, &resampled);
        for (k, (before, after)) in point.iter().zip(&judged).enumerate() {
            let share = share_of(k).min(100) as f64 / 100.0;
            if before.verdict == Verdict::NotApplicable {
                assert_eq!(after.verdict, Verdict::NotApplicable, "{}", after.id);
                continue;
            }
            assert_eq!(after.share_holding, Some(share), "{}", after.id);
            let expected = match share {
                s if s >= 0.95 => Verdict::Holds,
                s if s <= 0.05 => Verdict::Fails,
                _ => Verdict::Unsettled,
            };
            assert_eq!(after.verdict, expected, "{} at share {share}", after.id);
        }
        // Undecided in every resample: the point verdict stays, without a share.
        let undecided = vec![vec![None; claims]; 10];
        let kept = check_resampled(&m, &undecided);
        assert_eq!(kept[holds_index].verdict, Verdict::Holds);
        assert_eq!(kept[holds_index].share_holding, None);
        if let Some(k) = na_index {
            let all_hold = vec![vec![Some(true); claims]; 10];
            assert_eq!(check_resampled(&m, &all_hold)[k].verdict, Verdict::NotApplicable);
        }
        assert_eq!(settled(0.95), Verdict::Holds);
        assert_eq!(settled(0.05), Verdict::Fails);
        assert_eq!(settled(0.94), Verdict::Unsettled);
        assert_eq!(serde_json::to_string(&Verdict::Unsettled).unwrap(), "\"unsettled\"");
        let text = verdict_text(&judged[holds_index]);
        assert!(text.contains("(holds in "), "{text}");
    }

    #[test]
    fn holds_each_agrees_with_check() {
        let m = paper_like();
        let each = holds_each(&m);
        for (claim, holds) in check(&m).iter().zip(each) {
            let expected = match claim.verdict {
                Verdict::Holds => Some(true),
                Verdict::Fails => Some(false),
                _ => None,
            };
            assert_eq!(holds, expected, "{}", claim.id);
        }
    }
}
