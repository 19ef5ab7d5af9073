//! Golden snapshots of the analysis of the paper's Table 2 and checks of Section 3.4's
//! statements against it. Snapshots hold values rounded to 4 decimals so they are stable
//! across platforms; accept changes only after reading the diff. A test of the metrics crate
//! (`src/metrics/Cargo.toml`): it uses nothing of `dnlts`, so a changed metric rebuilds only that
//! crate before these run (the figures drawn from this analysis are tested in `src/report/`).

use dnlts_metrics::analysis::{analyze, Analysis, DEFAULT_THRESHOLDS};
use dnlts_metrics::rrc::CrossTable;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The dnlts tree, two folders above this crate's manifest (src/metrics/Cargo.toml).
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/paper").join(name)
}

fn load(path: &Path) -> CrossTable {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    CrossTable::from_file_bytes(bytes, path).unwrap_or_else(|e| panic!("{e}"))
}

fn paper_analysis() -> Analysis {
    let table = load(&fixture("table2.json"));
    analyze(&table, &DEFAULT_THRESHOLDS).expect("default thresholds are finite")
}

/// Rounds every float to 4 decimals (integers stay integers).
fn rounded(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let r = (n.as_f64().unwrap() * 1e4).round() / 1e4;
            serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(rounded).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, rounded(v))).collect())
        }
        other => other,
    }
}

fn snapshot(name: &str, value: Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("golden/analysis"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!(name, rounded(value)));
}

fn field(analysis: &Analysis, name: &str) -> Value {
    serde_json::to_value(analysis).unwrap()[name].clone()
}

#[test]
fn golden_rrc() {
    let a = paper_analysis();
    snapshot("table2_rrc", field(&a, "rrc"));
}

#[test]
fn golden_lattices() {
    let a = paper_analysis();
    snapshot("table2_lattices", field(&a, "lattices"));
}

#[test]
fn golden_stable_intervals() {
    let a = paper_analysis();
    snapshot("table2_stable_intervals", field(&a, "stable_intervals"));
}

#[test]
fn golden_notes() {
    let a = paper_analysis();
    snapshot("table2_notes", field(&a, "notes"));
}

#[test]
fn golden_text() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("golden/analysis"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("table2_text", paper_analysis().to_text()));
}

fn lattice_at(a: &Analysis, t: f64) -> &dnlts_metrics::analysis::Lattice {
    a.lattices.iter().find(|l| l.threshold == t).unwrap_or_else(|| panic!("no lattice at t = {t}"))
}

#[test]
fn t_0_1_a_r_does_not_lift_v_or_l() {
    let a = paper_analysis();
    let relation = &lattice_at(&a, 0.1).relation;
    for (pair, related) in [("V∘A_R", false), ("L∘A_R", false), ("A∘A_R", true)] {
        assert_eq!(
            relation.contains(&pair.to_string()),
            related,
            "{pair} at t = 0.1: {relation:?}"
        );
    }
}

#[test]
fn lattices_between_the_largest_gaps_are_chains_and_t_0_9_is_not() {
    let a = paper_analysis();
    for (t, chain) in [(0.2, true), (0.8, true), (0.9, false)] {
        let lattice = lattice_at(&a, t);
        assert_eq!(lattice.is_chain, chain, "lattice at t = {t}: {:?}", lattice.concepts);
    }
    let between: Vec<_> = a
        .stable_intervals
        .iter()
        .filter(|s| {
            s.interval.up_to.is_some_and(|u| u > 0.2) && s.interval.above.is_some_and(|l| l < 0.8)
        })
        .collect();
    // The paper says every lattice for 0.2 ≤ t ≤ 0.8 is a chain; three in between are not.
    let chains: Vec<bool> = between.iter().map(|s| s.is_chain).collect();
    assert_eq!(chains, vec![true, false, false, false, true], "{between:?}");
}

#[test]
fn stable_intervals_around_0_2_and_0_8_are_the_exact_gaps() {
    let a = paper_analysis();
    let around = |t: f64| {
        a.stable_intervals
            .iter()
            .find(|s| s.interval.contains(t))
            .expect("the sweep covers the line")
            .interval
    };
    let close = |end: Option<f64>, expected: f64, what: &str| {
        let end = end.unwrap_or_else(|| panic!("{what}: unbounded, expected {expected}"));
        assert!((end - expected).abs() < 1e-12, "{what}: {end}, expected {expected}");
    };
    let i02 = around(0.2);
    close(i02.above, 0.0925 / 0.5613, "lower end around 0.2, RRC(R∘A_A)");
    close(i02.up_to, 0.1829 / 0.3484, "upper end around 0.2, RRC(L∘A_I)");
    let i08 = around(0.8);
    close(i08.above, 0.4555 / 0.7163, "lower end around 0.8, RRC(V∘A_I)");
    close(i08.up_to, 0.2929 / 0.3484, "upper end around 0.8, RRC(L∘A_V)");
}

#[test]
fn notes_record_where_the_paper_differs() {
    let a = paper_analysis();
    let differs: Vec<&str> =
        a.notes.iter().filter(|n| !n.agrees).map(|n| n.topic.as_str()).collect();
    assert_eq!(
        differs,
        vec![
            "Section 3.4: thresholds giving the same lattice as t = 0.8",
            "Section 3.4: t = 0.2 and 0.8 lie in the largest gaps",
            "Section 3.4: lattices for 0.2 ≤ t ≤ 0.8 are chains",
        ]
    );
}

#[test]
fn table1_diffs_and_table2_diagonal_match_the_paper_up_to_known_typos() {
    let t1: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("table1.json")).unwrap()).unwrap();
    let rows = t1["rows"].as_array().unwrap();
    let top1 = |network: &str| {
        rows.iter().find(|r| r["network"] == network).unwrap()["top1"].as_f64().unwrap()
    };
    for row in rows.iter().filter(|r| !r["top1_diff"].is_null()) {
        let base = top1(row["classifier"].as_str().unwrap());
        let diff = row["top1"].as_f64().unwrap() - base;
        assert!((diff - row["top1_diff"].as_f64().unwrap()).abs() < 0.005, "{row}");
    }
    // Table 2's diagonal is i∘A_i of Table 1, except for two last-digit differences in the paper.
    let table = load(&fixture("table2.json"));
    let mismatched: Vec<&str> = table
        .names()
        .iter()
        .enumerate()
        .filter(|(i, name)| {
            (table.accuracy(*i, *i) * 100.0 - top1(&format!("{name}∘A_{name}"))).abs() > 0.005
        })
        .map(|(_, name)| name.as_str())
        .collect();
    assert_eq!(mismatched, vec!["L", "V"]); // 34.84 vs 34.85, 71.63 vs 71.65
}
