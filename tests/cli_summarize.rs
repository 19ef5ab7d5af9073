//! `dnlts summarize`: runs of one profile under different seeds, read from their folders. One
//! real run of the fixed `ci` stages stands for the first seed; a copy with its seed and one
//! number changed stands for a second, so the expected mean ± sd follow from the files.

mod cli_common;

use std::path::{Path, PathBuf};

use cli_common::{dnlts, scratch_dir, text};
use serde_json::Value;

fn fixed_run(dir: &Path) -> PathBuf {
    let fixed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/stages/ci");
    let out = dir.join("seed-2018");
    let args = ["reproduce", "--profile", "ci", "--fixed-stages", fixed.to_str().unwrap()];
    let include = ["--include", "table1,table2,claims", "--threads", "1", "--resamples", "200"];
    let run = dnlts(&[&args[..], &include, &["--out", out.to_str().unwrap()]].concat(), dir);
    assert!(run.status.success(), "{}", text(&run.stderr));
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A copy of `run` as if of master seed `seed`, with L's top-1 `shift` points higher.
fn other_seed(run: &Path, seed: u64, shift: f64) -> PathBuf {
    let copy = run.with_file_name(format!("seed-{seed}"));
    std::fs::create_dir_all(&copy).unwrap();
    for name in ["table1", "table2", "claims"] {
        let mut record = read(&run.join(format!("{name}.json")));
        record["master_seed"] = seed.into();
        if name == "table1" {
            let rows = record["result"]["rows"].as_array_mut().unwrap();
            let l = rows.iter_mut().find(|r| r["network"] == "L").unwrap();
            l["top1"] = (l["top1"].as_f64().unwrap() + shift).into();
        }
        std::fs::write(copy.join(format!("{name}.json")), record.to_string()).unwrap();
    }
    copy
}

#[test]
fn summarize_sets_seeds_side_by_side_from_the_files() {
    let dir = scratch_dir("summarize", "two-seeds");
    let first = fixed_run(&dir);
    let second = other_seed(&first, 2019, 2.0);
    let l = read(&first.join("table1.json"))["result"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["network"] == "L")
        .unwrap()["top1"]
        .as_f64()
        .unwrap();
    let out = dnlts(&["summarize", first.to_str().unwrap(), second.to_str().unwrap()], &dir);
    let summary = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(summary.contains("master seeds 2018, 2019 (2 runs)"), "{summary}");
    // Two values 2 points apart: mean l + 1, sample sd √2.
    let expected = format!("| L | {:.1} ± 1.4 | {l:.1} [", l + 1.0);
    assert!(summary.contains(&expected), "no '{expected}' in:\n{summary}");
    let claims = read(&first.join("claims.json"))["result"]["claims"].clone();
    let count = |verdict: &str| {
        claims.as_array().unwrap().iter().filter(|c| c["verdict"] == verdict).count()
    };
    for (verdict, shown) in [("holds", "HOLDS"), ("fails", "FAILS"), ("not applicable", "N/A")] {
        let row = format!("| {shown} | {n} | {n} |", n = count(verdict));
        assert!(summary.contains(&row), "no '{row}' in:\n{summary}");
    }
    // As JSON, every run's numbers.
    let out =
        dnlts(&["summarize", "--json", first.to_str().unwrap(), second.to_str().unwrap()], &dir);
    let runs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(runs[1]["seed"], 2019);
    assert_eq!(runs[1]["table1"]["L"]["top1"]["value"].as_f64(), Some(l + 2.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summarize_refuses_what_it_cannot_compare_naming_the_folder() {
    let dir = scratch_dir("summarize", "refused");
    let first = fixed_run(&dir);
    let twin = other_seed(&first, 2018, 0.0);
    let out = dnlts(&["summarize", first.to_str().unwrap(), twin.to_str().unwrap()], &dir);
    let error = text(&out.stderr);
    assert!(!out.status.success());
    assert!(error.contains("both of master seed 2018") && error.contains("--seed N"), "{error}");
    let broken = other_seed(&first, 2020, 0.0);
    std::fs::remove_file(broken.join("claims.json")).unwrap();
    let out = dnlts(&["summarize", first.to_str().unwrap(), broken.to_str().unwrap()], &dir);
    let error = text(&out.stderr);
    assert!(!out.status.success());
    let missing = broken.join("claims.json");
    assert!(error.contains(&missing.display().to_string()), "{error}");
    assert!(error.contains("dnlts reproduce --out"), "{error}");
    std::fs::write(&missing, "{\"master_seed\": 2020, \"profile\": \"ci\", \"result\"").unwrap();
    let out = dnlts(&["summarize", first.to_str().unwrap(), broken.to_str().unwrap()], &dir);
    assert!(text(&out.stderr).contains("is not valid JSON"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
