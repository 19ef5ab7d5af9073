//! Golden snapshots of the analysis of the paper's Table 2 and checks of Section 3.4's
//! statements against it. Snapshots hold values rounded to 4 decimals so they are stable
//! across platforms; accept changes only after reading the diff.

use dnlts::metrics::analysis::{analyze, Analysis, DEFAULT_THRESHOLDS};
use dnlts::metrics::rrc::CrossTable;
use dnlts::report::write_figures;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/paper").join(name)
}

fn paper_analysis() -> Analysis {
    let table = CrossTable::load(&fixture("table2.json")).expect("fixture loads");
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
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/analysis"));
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
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/analysis"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("table2_text", paper_analysis().to_text()));
}

fn lattice_at(a: &Analysis, t: f64) -> &dnlts::metrics::analysis::Lattice {
    a.lattices.iter().find(|l| l.threshold == t).unwrap()
}

#[test]
fn t_0_1_a_r_does_not_lift_v_or_l() {
    let a = paper_analysis();
    let relation = &lattice_at(&a, 0.1).relation;
    assert!(!relation.contains(&"V∘A_R".to_string()));
    assert!(!relation.contains(&"L∘A_R".to_string()));
    assert!(relation.contains(&"A∘A_R".to_string()));
}

#[test]
fn lattices_between_the_largest_gaps_are_chains_and_t_0_9_is_not() {
    let a = paper_analysis();
    assert!(lattice_at(&a, 0.2).is_chain);
    assert!(lattice_at(&a, 0.8).is_chain);
    assert!(!lattice_at(&a, 0.9).is_chain);
    let between: Vec<_> = a
        .stable_intervals
        .iter()
        .filter(|s| {
            s.interval.up_to.is_some_and(|u| u > 0.2) && s.interval.above.is_some_and(|l| l < 0.8)
        })
        .collect();
    // The paper says every lattice for 0.2 ≤ t ≤ 0.8 is a chain; three in between are not.
    let chains: Vec<bool> = between.iter().map(|s| s.is_chain).collect();
    assert_eq!(chains, vec![true, false, false, false, true]);
}

#[test]
fn stable_intervals_around_0_2_and_0_8_are_the_exact_gaps() {
    let a = paper_analysis();
    let around =
        |t: f64| a.stable_intervals.iter().find(|s| s.interval.contains(t)).unwrap().interval;
    let i02 = around(0.2);
    assert!((i02.above.unwrap() - 0.0925 / 0.5613).abs() < 1e-12); // R∘A_A
    assert!((i02.up_to.unwrap() - 0.1829 / 0.3484).abs() < 1e-12); // L∘A_I
    let i08 = around(0.8);
    assert!((i08.above.unwrap() - 0.4555 / 0.7163).abs() < 1e-12); // V∘A_I
    assert!((i08.up_to.unwrap() - 0.2929 / 0.3484).abs() < 1e-12); // L∘A_V
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
    let table = CrossTable::load(&fixture("table2.json")).unwrap();
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

#[test]
fn figures_are_deterministic_and_name_every_file() {
    let a = paper_analysis();
    let base = std::env::temp_dir().join(format!("dnlts-figures-{}", std::process::id()));
    let first = write_figures(&a, &base.join("one"), "test").unwrap();
    let second = write_figures(&a, &base.join("two"), "test").unwrap();
    let names: Vec<String> =
        first.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names[0], "fig6_rrc.svg");
    assert_eq!(names.len(), 1 + 2 * DEFAULT_THRESHOLDS.len());
    assert!(names.contains(&"fig7_lattice_t0.90.dot".to_string()));
    for (p, q) in first.iter().zip(&second) {
        assert_eq!(std::fs::read(p).unwrap(), std::fs::read(q).unwrap(), "{}", p.display());
    }
    let fig6 = std::fs::read_to_string(&first[0]).unwrap();
    assert!(fig6.starts_with("<svg"));
    assert!(fig6.contains("V∘A_A"));
    assert!(fig6.contains("fill=\"#9467BD\"")); // L purple
    assert!(fig6.contains("fill=\"#2CA02C\"")); // R green
    let dot = std::fs::read_to_string(base.join("one/fig7_lattice_t0.90.dot")).unwrap();
    assert_eq!(dot.matches(" -> ").count(), lattice_at(&a, 0.9).edges.len());
    std::fs::remove_dir_all(&base).unwrap();
}
