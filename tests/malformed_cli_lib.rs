//! The `dnlts weights` and `dnlts analyze` commands on malformed input (issue #15): exit
//! status, the words users read and the new flags --allow-non-finite and --max-concepts.

mod cli_common;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_common::text;

use dnlts::models::weights;
use dnlts::models::{Family, Scale};
use tch::nn::VarStore;
use tch::{Device, Kind};

fn dnlts(args: &[&str]) -> Output {
    cli_common::dnlts(args, Path::new("/"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-malformed-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A paper-scale LeNet-5 as `dnlts weights check --model lenet5` builds it.
fn lenet5() -> VarStore {
    let store = VarStore::new(Device::Cpu);
    let _ = Family::Lenet5.build(&store.root(), Scale::Paper, 1000);
    store
}

fn first_name(store: &VarStore) -> String {
    let mut names: Vec<String> = store.variables().into_keys().collect();
    names.sort();
    names.remove(0)
}

#[test]
fn weights_check_refuses_nan_unless_allowed() {
    let store = lenet5();
    let name = first_name(&store);
    tch::no_grad(|| {
        let _ = store.variables()[&name].view(-1).narrow(0, 0, 3).fill_(f64::NAN);
    });
    let path = scratch("lenet5-nan.safetensors");
    weights::save(&[&store], &path).unwrap();
    let file = path.to_str().unwrap();
    let out = dnlts(&["weights", "check", file, "--model", "lenet5"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{file} holds values that are not finite numbers")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{name}: 3 NaN and 0 infinite of")), "{stderr}");
    assert!(stderr.contains("pass --allow-non-finite"), "{stderr}");
    let out = dnlts(&["weights", "check", file, "--model", "lenet5", "--allow-non-finite"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("loaded despite NaN/Inf (--allow-non-finite): {name}: 3 NaN")),
        "{stdout}"
    );
    let out = dnlts(&["weights", "inspect", file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("NaN or Inf values in 1 tensor(s): {name} (3)")));
}

#[test]
fn weights_check_names_dtype_conversions() {
    let mut store = lenet5();
    store.set_kind(Kind::Double);
    let path = scratch("lenet5-f64.safetensors");
    weights::save(&[&store], &path).unwrap();
    let out = dnlts(&["weights", "check", path.to_str().unwrap(), "--model", "lenet5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let count = store.variables().len();
    assert!(
        stdout.contains(&format!(
            "converted {count} tensor(s) from the file's F64 to the model's F32: {}",
            first_name(&store)
        )),
        "{stdout}"
    );
}

#[test]
fn weights_inspect_refuses_offsets_beyond_the_file_in_words() {
    let header = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 8]); // half of the data
    let path = scratch("truncated.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let file = path.to_str().unwrap();
    for args in
        [vec!["weights", "inspect", file], vec!["weights", "check", file, "--model", "lenet5"]]
    {
        let out = dnlts(&args);
        assert!(!out.status.success(), "{args:?} must fail");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("{file} is not a usable weight file: tensor `w` has data_offsets [0, 16], beyond the 8 bytes of the data section")),
            "{stderr}"
        );
        assert!(
            stderr.contains("download it again, or export it with safetensors.torch.save_file"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("MetadataIncompleteBuffer") && !stderr.contains("Os {"),
            "{stderr}"
        );
    }
}

fn write_table(name: &str, rows: &[Vec<f64>]) -> PathBuf {
    let names: Vec<String> = (0..rows.len()).map(|k| format!("c{k}")).collect();
    let json = serde_json::json!({ "classifiers": names, "accuracy": rows });
    let path = scratch(name);
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

#[test]
fn analyze_refuses_impossible_thresholds_and_diagonals() {
    let table = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/paper/table2.json");
    // Help is wrapped to 100 columns: read it as one line of words.
    let help = text(&dnlts(&["analyze", "--help"]).stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("comma-separated; each a finite number above 0"), "{help}");
    assert!(help.contains("--max-concepts <N>"), "{help}");
    // The default shown is one the option takes.
    let shown = "[default: 0.1,0.2,0.8,0.9]";
    assert!(help.contains(shown), "{help}");
    let out = dnlts(&["analyze", table, "--thresholds", "0.1,0.2,0.8,0.9"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for bad in ["0.2,0", "0.2,-0.5", "NaN", "inf", "0.2,x"] {
        let out = dnlts(&["analyze", table, &format!("--thresholds={bad}")]);
        assert!(!out.status.success(), "{bad} accepted");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("thresholds must be finite numbers above 0")
                || stderr.contains("is not a number; give comma-separated thresholds"),
            "{bad}: {stderr}"
        );
    }
    let tiny = write_table("tiny-diagonal.json", &[vec![1e-12, 0.5], vec![0.5, 0.9]]);
    let out = dnlts(&["analyze", tiny.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("accuracy of c0∘A_c0 is 1e-12, below 0.00001 (1/100000)"), "{stderr}");
    assert!(out.stdout.is_empty(), "no RRC printed");
}

/// 40 classifiers with scattered cross accuracies: a table whose lattices explode.
fn table_40_by_40() -> Vec<Vec<f64>> {
    let cell = |i: usize, j: usize| {
        if i == j {
            0.9
        } else {
            0.05 + 0.9 * (((i * 37 + j * 11) % 40) as f64) / 40.0
        }
    };
    (0..40).map(|i| (0..40).map(|j| cell(i, j)).collect()).collect()
}

#[test]
fn analyze_of_a_40_by_40_table_stops_at_max_concepts() {
    let table = write_table("t40.json", &table_40_by_40());
    let started = std::time::Instant::now();
    let out = dnlts(&["analyze", table.to_str().unwrap(), "--max-concepts", "5000"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("analyze: 40 classifiers: up to 1605 lattices to compute"), "{stderr}");
    assert!(
        stderr.contains("has more than 5000 concepts, the limit of --max-concepts"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let out = dnlts(&["analyze", table.to_str().unwrap(), "--max-concepts", "0"]);
    assert!(!out.status.success());
}

/// SIGTERM outside a training loop (here a long concept analysis) ends the process at once:
/// there is no checkpoint to wait for.
#[test]
fn sigterm_stops_a_long_analysis_promptly() {
    let table = write_table("t40-sigterm.json", &table_40_by_40());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dnlts"))
        .args(["analyze", table.to_str().unwrap(), "--max-concepts", "100000000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(child.try_wait().unwrap().is_none(), "the analysis is still running after 2 s");
    let sent = std::time::Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > std::time::Duration::from_secs(5) {
            child.kill().unwrap();
            panic!("dnlts analyze did not stop within 5 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
}
