//! Golden files of numbers with tolerances: reading, writing, comparing. A golden file lists
//! every number of one target, one per line, each with its tolerance and the reason for it,
//! so a reviewer reads in the diff both what moved and how far it may move.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

/// Differences this small are rounding in the JSON text, not a change.
const SLACK: f64 = 1e-12;

/// How far a number may move, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    pub amount: f64,
    /// `amount` is a fraction of the golden value rather than an absolute difference.
    pub relative: bool,
    pub reason: String,
}

impl Tolerance {
    pub fn exact(reason: &str) -> Self {
        Tolerance { amount: 0.0, relative: false, reason: reason.into() }
    }

    pub fn absolute(amount: f64, reason: &str) -> Self {
        Tolerance { amount, relative: false, reason: reason.into() }
    }

    pub fn relative(amount: f64, reason: &str) -> Self {
        Tolerance { amount, relative: true, reason: reason.into() }
    }

    /// Equal but for the last bits serde_json's float parsing may lose.
    fn same_as(&self, other: &Tolerance) -> bool {
        let close = (self.amount - other.amount).abs() <= 1e-12 * self.amount.abs().max(1e-300);
        close && self.relative == other.relative && self.reason == other.reason
    }

    /// The absolute difference allowed around `expected`.
    fn allowed(&self, expected: f64) -> f64 {
        let scale = if self.relative { expected.abs() } else { 1.0 };
        self.amount * scale + SLACK
    }

    fn describe(&self) -> String {
        if self.amount == 0.0 {
            return "exact".into();
        }
        match self.relative {
            true => format!("±{:e} relative", self.amount),
            false => format!("±{}", self.amount),
        }
    }
}

/// One number (or string, or flag) of a target.
#[derive(Debug, Clone)]
pub struct Entry {
    pub metric: String,
    pub value: Value,
    pub tolerance: Tolerance,
}

impl Entry {
    fn to_line(&self) -> String {
        let text = |s: &str| Value::String(s.into()).to_string();
        let kind = if self.tolerance.relative { "relative_tolerance" } else { "tolerance" };
        format!(
            "{{\"metric\": {}, \"value\": {}, \"{kind}\": {}, \"reason\": {}}}",
            text(&self.metric),
            self.value,
            self.tolerance.amount,
            text(&self.tolerance.reason)
        )
    }

    fn from_json(value: &Value) -> Option<Entry> {
        let (amount, relative) = match value.get("relative_tolerance") {
            Some(amount) => (amount.as_f64()?, true),
            None => (value.get("tolerance")?.as_f64()?, false),
        };
        let reason = value.get("reason")?.as_str()?.to_string();
        Some(Entry {
            metric: value.get("metric")?.as_str()?.to_string(),
            value: value.get("value")?.clone(),
            tolerance: Tolerance { amount, relative, reason },
        })
    }
}

/// The golden numbers of one target in one layer.
pub struct GoldenFile {
    pub layer: String,
    pub target: String,
    pub made_by: String,
    pub entries: Vec<Entry>,
}

impl GoldenFile {
    pub fn new(layer: &str, target: &str, made_by: &str, entries: Vec<Entry>) -> Self {
        GoldenFile { layer: layer.into(), target: target.into(), made_by: made_by.into(), entries }
    }

    /// The stored file, or None when there is none yet.
    pub fn load(path: &Path) -> Option<GoldenFile> {
        let text = std::fs::read_to_string(path).ok()?;
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}); run `make golden`", path.display()));
        let field = |name: &str| value[name].as_str().unwrap_or_default().to_string();
        let entries = value["numbers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                Entry::from_json(entry).unwrap_or_else(|| {
                    panic!("{}: malformed entry {entry}; run `make golden`", path.display())
                })
            })
            .collect();
        Some(GoldenFile {
            layer: field("layer"),
            target: field("target"),
            made_by: field("made_by"),
            entries,
        })
    }

    /// One entry per line, so a diff shows each number that moved.
    pub fn save(&self, path: &Path) {
        let text = |s: &str| Value::String(s.into()).to_string();
        let lines: Vec<String> =
            self.entries.iter().map(|e| format!("    {}", e.to_line())).collect();
        let body = format!(
            "{{\n  \"layer\": {},\n  \"target\": {},\n  \"made_by\": {},\n  \"numbers\": [\n{}\n  ]\n}}\n",
            text(&self.layer),
            text(&self.target),
            text(&self.made_by),
            lines.join(",\n")
        );
        std::fs::create_dir_all(path.parent().expect("golden files live in a folder")).unwrap();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
}

/// A number that is not where its golden file says.
#[derive(Debug)]
pub struct Mismatch {
    pub target: String,
    pub metric: String,
    pub expected: Option<Value>,
    pub got: Option<Value>,
    pub tolerance: String,
}

impl Mismatch {
    pub fn missing_file(path: &Path) -> Self {
        Mismatch {
            target: path.file_stem().map_or(String::new(), |s| s.to_string_lossy().into()),
            metric: format!("(no golden file {})", path.display()),
            expected: None,
            got: None,
            tolerance: "-".into(),
        }
    }

    /// "target metric old → new", for the summary `make golden` prints.
    pub fn as_change(&self) -> String {
        let show = |v: &Option<Value>| v.as_ref().map_or("(none)".into(), Value::to_string);
        format!("{} {}: {} → {}", self.target, self.metric, show(&self.expected), show(&self.got))
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or("(absent)".into(), Value::to_string);
        write!(
            f,
            "{}: {}: expected {}, got {}, tolerance {} — re-bless with `make golden` if intended",
            self.target,
            self.metric,
            show(&self.expected),
            show(&self.got),
            self.tolerance
        )
    }
}

fn within(expected: &Value, got: &Value, tolerance: &Tolerance) -> bool {
    match (expected.as_f64(), got.as_f64()) {
        (Some(e), Some(g)) => (e - g).abs() <= tolerance.allowed(e),
        _ => expected == got,
    }
}

/// Every number of `golden` that `actual` lacks or moved beyond its tolerance, and every
/// number of `actual` the golden file does not know.
pub fn compare(golden: &GoldenFile, actual: &[Entry]) -> Vec<Mismatch> {
    let actual_by_metric: BTreeMap<&str, &Entry> =
        actual.iter().map(|e| (e.metric.as_str(), e)).collect();
    let known: BTreeMap<&str, &Entry> =
        golden.entries.iter().map(|e| (e.metric.as_str(), e)).collect();
    let mismatch =
        |metric: &str, expected: Option<&Value>, got: Option<&Value>, tol: String| Mismatch {
            target: golden.target.clone(),
            metric: metric.into(),
            expected: expected.cloned(),
            got: got.cloned(),
            tolerance: tol,
        };
    let mut mismatches = Vec::new();
    for entry in &golden.entries {
        let got = actual_by_metric.get(entry.metric.as_str()).map(|e| &e.value);
        if !got.is_some_and(|got| within(&entry.value, got, &entry.tolerance)) {
            let tol = entry.tolerance.describe();
            mismatches.push(mismatch(&entry.metric, Some(&entry.value), got, tol));
        }
    }
    for entry in actual.iter().filter(|e| !known.contains_key(e.metric.as_str())) {
        mismatches.push(mismatch(&entry.metric, None, Some(&entry.value), "new number".into()));
    }
    mismatches
}

/// One line saying how many tolerances of `golden`'s target changed, with the first as an
/// example ("target: 12 tolerance(s) changed, e.g. metric ±0.1 → ±0.2"), if any did.
pub fn tolerance_changes(golden: &GoldenFile, actual: &[Entry]) -> Option<String> {
    let old: BTreeMap<&str, &Tolerance> =
        golden.entries.iter().map(|e| (e.metric.as_str(), &e.tolerance)).collect();
    let changed: Vec<String> = actual
        .iter()
        .filter_map(|entry| {
            let before = old.get(entry.metric.as_str())?;
            (!before.same_as(&entry.tolerance)).then(|| {
                format!("{} {} → {}", entry.metric, before.describe(), entry.tolerance.describe())
            })
        })
        .collect();
    let first = changed.first()?;
    Some(format!("{}: {} tolerance(s) changed, e.g. {first}", golden.target, changed.len()))
}

/// The name an element of an array goes by in a metric's path, and the part of it to descend
/// into: named rows (network, AE, classifier pair, threshold…) rather than positions.
fn element_key(item: &Value) -> Option<(String, &Value)> {
    let text = |name: &str| item.get(name).and_then(Value::as_str);
    if let (Some(ae), Some(classifier)) = (text("autoencoder"), text("classifier")) {
        return Some((format!("{classifier}∘A_{ae}"), item));
    }
    for name in ["network", "ae", "name", "classifier", "id", "topic"] {
        if let Some(key) = text(name) {
            return Some((key.to_string(), item));
        }
    }
    if let Some(t) = item.get("threshold").and_then(Value::as_f64) {
        return Some((format!("t={t}"), item));
    }
    if let Some(n) = item.get("images").and_then(Value::as_u64) {
        return Some((format!("images={n}"), item));
    }
    match item.as_array().map(Vec::as_slice) {
        Some([Value::String(key), rest]) => Some((key.clone(), rest)),
        Some([Value::Number(x), rest]) => Some((format!("x={x}"), rest)),
        _ => None,
    }
}

fn walk(path: String, value: &Value, out: &mut Vec<(String, Value)>) {
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}/{key}") };
    match value {
        Value::Object(map) => map.iter().for_each(|(key, v)| walk(join(key), v, out)),
        Value::Array(items) => {
            let keys: Option<Vec<(String, &Value)>> = items.iter().map(element_key).collect();
            let unique = keys.as_ref().is_some_and(|keys| {
                let mut names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
                names.sort_unstable();
                names.windows(2).all(|w| w[0] != w[1])
            });
            match keys.filter(|_| unique) {
                Some(keys) => keys.into_iter().for_each(|(key, v)| walk(join(&key), v, out)),
                None => {
                    items.iter().enumerate().for_each(|(i, v)| walk(join(&i.to_string()), v, out))
                }
            }
        }
        leaf => out.push((path, leaf.clone())),
    }
}

/// Every leaf of a target's result with a readable path, e.g. `rows/L∘A_S/top1`.
pub fn flatten(result: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    walk(String::new(), result, &mut out);
    out
}

fn value_of(entries: &[Entry], metric: &str) -> Option<f64> {
    entries.iter().find(|e| e.metric == metric)?.value.as_f64()
}

/// Plausible mistakes applied to real results: (target, its wrong entries, a part of the
/// metric name the check must report).
pub fn perturbations(goldens: &BTreeMap<String, GoldenFile>) -> Vec<(String, Vec<Entry>, String)> {
    let mut cases = Vec::new();
    let (table1, table2) = (&goldens["table1"].entries, &goldens["table2"].entries);
    // RRC divided by the classifiers' accuracies alone instead of their own AE's.
    let alone = |letter: &str| value_of(table1, &format!("rows/{letter}/top1")).unwrap() / 100.0;
    let letters: Vec<String> = (0..)
        .map_while(|i| table2.iter().find(|e| e.metric == format!("classifiers/{i}")))
        .map(|e| e.value.as_str().unwrap().to_string())
        .collect();
    let mut fig6 = goldens["fig6"].entries.clone();
    for entry in
        fig6.iter_mut().filter(|e| e.metric.starts_with("rrc/") && e.metric.ends_with("/rrc"))
    {
        let pair = entry.metric.split('/').nth(1).unwrap();
        let (j, i) = pair.split_once("∘A_").unwrap();
        let (row, col) = (index(&letters, i), index(&letters, j));
        let accuracy = value_of(table2, &format!("accuracy/{row}/{col}")).unwrap();
        entry.value = serde_json::json!(accuracy / alone(i).min(alone(j)));
    }
    cases.push(("fig6".into(), fig6, "/rrc".into()));
    // Every noise level one step off: the curve at each s reads the value of the next s. A
    // series is a metric name with its s taken out ("left/L/x=*", "intervals/L/x=*/low"),
    // its points in the order of s.
    let mut fig4 = goldens["fig4"].entries.clone();
    let mut series: BTreeMap<String, Vec<(f64, usize)>> = BTreeMap::new();
    for (k, entry) in fig4.iter().enumerate() {
        let Some((stem, rest)) = entry.metric.rsplit_once("/x=") else { continue };
        let (x, tail) = rest.split_once('/').map_or((rest, ""), |(x, tail)| (x, tail));
        let Ok(x) = x.parse::<f64>() else { continue };
        series.entry(format!("{stem}/x=*/{tail}")).or_default().push((x, k));
    }
    for points in series.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in points.windows(2) {
            fig4[pair[0].1].value = goldens["fig4"].entries[pair[1].1].value.clone();
        }
    }
    cases.push(("fig4".into(), fig4, "/x=0.".into()));
    // Top-5 that is really top-1.
    let mut top5 = table1.clone();
    for entry in
        top5.iter_mut().filter(|e| e.metric.starts_with("rows/") && e.metric.ends_with("/top5"))
    {
        let top1 = entry.metric.replace("/top5", "/top1");
        entry.value = serde_json::json!(value_of(table1, &top1).unwrap());
    }
    cases.push(("table1".into(), top5, "/top5".into()));
    cases
}

fn index(letters: &[String], letter: &str) -> usize {
    letters.iter().position(|l| l == letter).unwrap_or_else(|| panic!("no classifier {letter}"))
}
