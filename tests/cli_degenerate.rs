//! A run whose AE collapsed is flagged, end to end: the fixed `ci` stages with A_I's last
//! layer forced to output white whatever it is given (as A_I collapsed in a `tiny` run), then
//! `dnlts reproduce --fixed-stages`: the claims name A_I degenerate, every claim reading it is
//! NOT APPLICABLE, Figure 9 and the report say so.

#[path = "cli_common/mod.rs"]
mod cli_common;

use std::path::{Path, PathBuf};

use cli_common::{dnlts, scratch_dir, text};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("has a parent").into()
}

/// Overwrites the f32 tensor `name` of the safetensors file `bytes` with `value` everywhere.
fn fill(bytes: &mut [u8], name: &str, value: f32) {
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let tensor = &header[name];
    assert_eq!(tensor["dtype"], "F32", "{name}: {tensor}");
    let offsets = tensor["data_offsets"].as_array().unwrap();
    let (start, end) =
        (offsets[0].as_u64().unwrap() as usize, offsets[1].as_u64().unwrap() as usize);
    let data = &mut bytes[8 + header_len + start..8 + header_len + end];
    for chunk in data.chunks_exact_mut(4) {
        chunk.copy_from_slice(&value.to_le_bytes());
    }
}

/// The fixed ci stages with A_I's output layer set to weight 0, bias 100: every pixel of every
/// reconstruction is far above 1 before clamping, so every reconstruction is white.
fn stages_with_white_a_i(dir: &Path) {
    let fixed = root().join("golden/stages/ci");
    for entry in std::fs::read_dir(&fixed).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let weights = dir.join("finetune-inception_v3.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    fill(&mut bytes, "decoder.conv_final.weight", 0.0);
    fill(&mut bytes, "decoder.conv_final.bias", 100.0);
    std::fs::write(&weights, &bytes).unwrap();
    let record_path = dir.join("finetune-inception_v3.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    record["weights_sha256"] = Value::String(dnlts::digest::sha256_hex(&bytes));
    std::fs::write(&record_path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    let written = dnlts(&["data", "verify", "--write", dir.to_str().unwrap()], dir);
    assert!(written.status.success(), "{}", text(&written.stderr));
}

#[test]
fn a_collapsed_ae_is_flagged_and_its_claims_are_not_applicable() {
    let work = scratch_dir("degenerate", "white-a-i");
    let (stages, out) = (work.join("stages"), work.join("out"));
    std::fs::create_dir_all(&stages).unwrap();
    stages_with_white_a_i(&stages);
    let run = dnlts(
        &[
            "reproduce",
            "--profile",
            "ci",
            "--threads",
            "2",
            "--fixed-stages",
            stages.to_str().unwrap(),
            "--include",
            "claims,fig9",
            "--out",
            out.to_str().unwrap(),
        ],
        &work,
    );
    assert!(run.status.success(), "{}\n{}", text(&run.stdout), text(&run.stderr));
    let claims: Value =
        serde_json::from_slice(&std::fs::read(out.join("claims.json")).unwrap()).unwrap();
    let result = &claims["result"];
    let found = result["degenerate"].as_array().expect("degenerate inputs are listed");
    let a_i = found.iter().find(|f| f["input"]["name"] == "A_I").expect("A_I is found");
    assert_eq!(a_i["input"]["kind"], "autoencoder");
    assert!(a_i["reason"].as_str().unwrap().contains("flat colour"), "{a_i}");
    // Every claim that reads A_I (the §3.4–3.5 ones about A_I and Figure 9's order) is not
    // applicable, and names A_I.
    for id in ["rrc-inception-differs", "nmi-intra-order", "nmi-order-matches-fig7b"] {
        let claim = result["claims"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(claim["verdict"], "not applicable", "{claim}");
        let ours = claim["ours"].as_str().unwrap();
        assert!(ours.starts_with("reads degenerate input: ") && ours.contains("A_I"), "{claim}");
    }
    let fig9 = std::fs::read_to_string(out.join("fig9.md")).unwrap();
    let flat =
        "| A_I † | 0.0000 ± 0.0000 | [0.0000, 0.0000] | 1.0000 ± 0.0000 | [1.0000, 1.0000] |";
    assert!(fig9.contains(flat), "{fig9}");
    assert!(fig9.contains("Constant reconstructions: A_I"), "{fig9}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let count = format!("**Degenerate results: {}**", found.len());
    assert!(report.contains(&count) && report.contains("A_I"), "{report}");
    std::fs::remove_dir_all(&work).unwrap();
}
