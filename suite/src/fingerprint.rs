//! A run's fingerprint: a short digest of every number (and name, and verdict) its targets
//! publish, so that two runs are compared by one line and a mismatch names the targets.
//!
//! Each target's `result` is flattened to `path = value` lines in sorted order, floats written
//! with 6 significant digits (finer than any table or figure prints them, coarse enough that
//! no JSON rounding shows), then hashed with sha256. The run's fingerprint hashes the targets'
//! in name order. Same fingerprint: the same published numbers, bit for bit at that precision.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Hex digits shown of each digest: 64 bits, no accidental collision between two runs.
const SHOWN: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fingerprint {
    /// Every target of the run together.
    pub run: String,
    /// Each target's own, by name.
    pub targets: BTreeMap<String, String>,
}

impl Fingerprint {
    /// The fingerprint of the targets' results, by target name.
    pub fn of(results: &BTreeMap<String, Value>) -> Self {
        let targets: BTreeMap<String, String> = results
            .iter()
            .map(|(name, result)| (name.clone(), digest(&canonical(result))))
            .collect();
        let all: String =
            targets.iter().map(|(name, digest)| format!("{name} {digest}\n")).collect();
        Fingerprint { run: digest(&all), targets }
    }
}

fn digest(text: &str) -> String {
    dnlts::digest::sha256_hex(text.as_bytes())[..SHOWN].to_string()
}

/// `path = value` lines of `value`, sorted by path (object keys are sorted by serde_json).
fn canonical(value: &Value) -> String {
    let mut lines = Vec::new();
    walk("", value, &mut lines);
    lines.sort();
    lines.join("\n")
}

fn walk(path: &str, value: &Value, lines: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                walk(&format!("{path}/{key}"), item, lines);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(&format!("{path}/{index}"), item, lines);
            }
        }
        Value::Number(number) => lines.push(format!("{path} = {}", number_text(number))),
        other => lines.push(format!("{path} = {other}")),
    }
}

/// Integers as they are; floats with 6 significant digits (-0 as 0).
fn number_text(number: &serde_json::Number) -> String {
    if number.is_f64() {
        let x = number.as_f64().unwrap_or(f64::NAN);
        if x == 0.0 {
            return "0".into();
        }
        format!("{x:.5e}")
    } else {
        number.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(pairs: &[(&str, Value)]) -> Fingerprint {
        Fingerprint::of(&pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn equal_results_give_equal_fingerprints_and_a_change_names_its_target() {
        let base =
            of(&[("table1", json!({"top1": 32.25, "rows": [1, 2]})), ("fig9", json!([0.5]))]);
        assert_eq!(
            base,
            of(&[("fig9", json!([0.5])), ("table1", json!({"rows": [1, 2], "top1": 32.25}))])
        );
        let moved =
            of(&[("table1", json!({"top1": 32.5, "rows": [1, 2]})), ("fig9", json!([0.5]))]);
        assert_ne!(base.run, moved.run);
        assert_ne!(base.targets["table1"], moved.targets["table1"]);
        assert_eq!(base.targets["fig9"], moved.targets["fig9"]);
    }

    #[test]
    fn floats_count_to_six_significant_digits() {
        let a = of(&[("t", json!({"x": 0.123456_4}))]);
        assert_eq!(a, of(&[("t", json!({"x": 0.123456_3}))]), "below the 6th digit");
        assert_ne!(a, of(&[("t", json!({"x": 0.123457}))]), "the 6th digit counts");
        assert_eq!(of(&[("t", json!({"x": -0.0}))]), of(&[("t", json!({"x": 0.0}))]));
        assert_ne!(of(&[("t", json!({"x": 1}))]), of(&[("t", json!({"x": "1"}))]));
    }
}
