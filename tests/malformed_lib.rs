//! Malformed input to the library's weight-file and cross-table analysis code (issue #15):
//! every case ends in an error naming the file or value, what is wrong and the fix, never in a
//! panic, a raw library error name or a number that should not be trusted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dnlts::metric_files::load_cross_table;
use dnlts::metrics::analysis::{analyze, analyze_with, DEFAULT_THRESHOLDS};
use dnlts::metrics::rrc::CrossTable;
use dnlts::models::weights::{self, LoadOptions, LoadPolicy, WeightsError};
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-malformed-lib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A safetensors file from a header text and a data section, written to a scratch path.
fn safetensors(name: &str, header: &str, data: &[u8]) -> PathBuf {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A model with one 2 × 2 F32 variable `w`.
fn model() -> VarStore {
    let store = VarStore::new(Device::Cpu);
    let _ = store.root().var("w", &[2, 2], nn::Init::Const(0.5));
    store
}

fn load(path: &Path, allow_non_finite: bool) -> Result<weights::LoadReport, WeightsError> {
    let mut store = model();
    let options = LoadOptions { policy: LoadPolicy::Strict, allow_non_finite };
    weights::load_with(&mut [&mut store], path, options)
}

/// Both `inspect` and `load` refuse `path`, naming it and saying `expected`, in words.
fn refused(path: &Path, expected: &str) {
    for error in [weights::inspect(path).unwrap_err(), load(path, false).unwrap_err()] {
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "names the file: {text}");
        assert!(text.contains(expected), "says `{expected}`: {text}");
        for raw in
            ["MetadataIncompleteBuffer", "InvalidOffset", "IoError", "Os {", "HeaderTooLarge"]
        {
            assert!(!text.contains(raw), "no raw library error: {text}");
        }
    }
}

const F32_2X2: &str = r#""dtype":"F32","shape":[2,2]"#;

#[test]
fn weight_files_with_impossible_layouts_are_refused_with_the_tensor_named() {
    let data = [0u8; 16];
    let cases = [
        // Offsets beyond the file: inspect read only the header and accepted this.
        ("beyond.safetensors", format!(r#"{{"w":{{{F32_2X2},"data_offsets":[0,32]}}}}"#), &data[..],
         "tensor `w` has data_offsets [0, 32], beyond the 16 bytes of the data section"),
        ("overlap.safetensors",
         format!(r#"{{"w":{{{F32_2X2},"data_offsets":[0,16]}},"v":{{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}}}"#),
         &data[..], "tensors `w` (bytes 0..16) and `v` (bytes 8..16) overlap"),
        ("gap.safetensors", r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#.to_string(),
         &data[..], "bytes 0..8 of its data section belong to no tensor (before `w`)"),
        ("trailing.safetensors", r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.to_string(),
         &data[..], "the last 8 bytes of its data section (bytes 8..16) belong to no tensor"),
        ("overflow.safetensors",
         r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,16]}}"#.to_string(),
         &data[..], "whose size in bytes overflows 64 bits"),
        ("negative.safetensors", r#"{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}"#.to_string(),
         &data[..], "has shape [-1,4]: every dimension must be a whole number from 0"),
        ("fractional.safetensors", r#"{"w":{"dtype":"F32","shape":[2.5,2],"data_offsets":[0,16]}}"#.to_string(),
         &data[..], "has shape [2.5,2]: every dimension must be a whole number"),
        ("count.safetensors", r#"{"w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,16]}}"#.to_string(),
         &data[..], "has shape [3,2] of F32 (4 bytes each), which needs 24 bytes, but its data_offsets [0, 16] hold 16"),
        ("dtype.safetensors", r#"{"w":{"dtype":"F31","shape":[2,2],"data_offsets":[0,16]}}"#.to_string(),
         &data[..], "tensor `w` has dtype `F31`, which is not a safetensors dtype (known: BOOL,"),
        ("duplicate.safetensors",
         format!(r#"{{"w":{{{F32_2X2},"data_offsets":[0,16]}},"w":{{{F32_2X2},"data_offsets":[0,16]}}}}"#),
         &data[..], "its header names `w` twice"),
        ("offsets.safetensors", format!(r#"{{"w":{{{F32_2X2},"data_offsets":[16,0]}}}}"#),
         &data[..], "data_offsets [16, 0], which end before they begin"),
        ("no-offsets.safetensors", format!(r#"{{"w":{{{F32_2X2}}}}}"#),
         &data[..], "tensor `w` has data_offsets missing; expected [begin, end]"),
        ("metadata.safetensors", r#"{"__metadata__":{"epochs":3}}"#.to_string(), &[][..],
         "safetensors allows only text values there"),
        ("json.safetensors", r#"{"w":"#.to_string(), &data[..], "its header is not valid JSON"),
        ("array.safetensors", r#"[1, 2]"#.to_string(), &[][..], "its header does not start with `{`"),
    ];
    for (name, header, data, expected) in cases {
        refused(&safetensors(name, &header, data), expected);
    }
}

#[test]
fn files_that_are_not_safetensors_say_what_they_might_be() {
    let short = scratch("short.safetensors");
    std::fs::write(&short, b"abc").unwrap();
    refused(&short, "it has 3 bytes, fewer than the 8-byte header length");
    // A PyTorch checkpoint is a zip file: its first 8 bytes read as an absurd header length.
    let zip = scratch("model.pt");
    std::fs::write(&zip, b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip").unwrap();
    refused(&zip, "a PyTorch .pt or .pth checkpoint? convert it with safetensors.torch.save_file");
    let folder = scratch("folder.safetensors");
    std::fs::create_dir_all(&folder).unwrap();
    refused(&folder, "is a folder, not a file");
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn non_finite_weights_are_refused_unless_allowed_and_counted_by_inspect() {
    let data = f32_bytes(&[1.0, f32::NAN, f32::INFINITY, f32::NAN]);
    let path = safetensors(
        "nan.safetensors",
        &format!(r#"{{"w":{{{F32_2X2},"data_offsets":[0,16]}}}}"#),
        &data,
    );
    let mut store = model();
    let before = store.variables()["w"].copy();
    let error =
        weights::load(&mut [&mut store], &path, LoadPolicy::Strict).unwrap_err().to_string();
    assert!(error.contains("holds values that are not finite numbers"), "{error}");
    assert!(error.contains("w: 2 NaN and 1 infinite of 4 values"), "{error}");
    assert!(error.contains("pass --allow-non-finite"), "{error}");
    assert!(store.variables()["w"].equal(&before), "a refused file changes nothing");
    let report = load(&path, true).unwrap();
    assert_eq!(report.loaded, 1);
    assert_eq!(report.non_finite.len(), 1);
    assert_eq!((report.non_finite[0].nan, report.non_finite[0].infinite), (2, 1));
    let summary = weights::inspect(&path).unwrap();
    assert_eq!(summary.tensors[0].non_finite, 3);
}

#[test]
fn dtype_conversions_are_reported_and_overflow_is_refused() {
    let values = [0.25f64, -1.5, 2.0, 3.0];
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let header = r#"{"w":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]}}"#;
    let path = safetensors("f64.safetensors", header, &data);
    let mut store = model();
    let report = weights::load(&mut [&mut store], &path, LoadPolicy::Strict).unwrap();
    assert_eq!(report.converted.len(), 1);
    let c = &report.converted[0];
    assert_eq!((c.name.as_str(), c.from.as_str(), c.to.as_str()), ("w", "F64", "F32"));
    let loaded = &store.variables()["w"];
    assert_eq!(loaded.kind(), Kind::Float);
    assert!(loaded.equal(&Tensor::from_slice(&[0.25f32, -1.5, 2.0, 3.0]).view([2, 2])));
    // 1e300 is a finite F64 but infinite as F32: refused as non-finite, with the cause.
    let data: Vec<u8> = [1e300f64, 0.0, 0.0, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = safetensors("f64-big.safetensors", header, &data);
    let error = load(&path, false).unwrap_err().to_string();
    assert!(
        error.contains("w: 0 NaN and 1 infinite of 4 values (finite as F64, but beyond the range of the model's F32)"),
        "{error}"
    );
    // Same dtype: nothing reported.
    let path = scratch("own.safetensors");
    weights::save(&[&model()], &path).unwrap();
    let report = load(&path, false).unwrap();
    assert!(report.converted.is_empty() && report.non_finite.is_empty());
    assert_eq!(weights::read_layout(&path).unwrap().tensors[0].shape, vec![2, 2]);
}

#[test]
fn unsupported_dtypes_are_named_on_load() {
    let header = r#"{"w":{"dtype":"U32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let path = safetensors("u32.safetensors", header, &[0u8; 16]);
    assert_eq!(weights::inspect(&path).unwrap().tensors[0].dtype, "U32");
    let error = load(&path, false).unwrap_err().to_string();
    assert!(
        error
            .contains("tensor `w` is stored as U32, which libtorch cannot hold; convert it to F32"),
        "{error}"
    );
}

fn table(json: &str) -> Result<CrossTable, String> {
    CrossTable::from_json_str(json, Path::new("t.json")).map_err(|e| e.to_string())
}

#[test]
fn impossible_thresholds_and_tables_are_refused() {
    let paper =
        load_cross_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/paper/table2.json"))
            .unwrap();
    for bad in [0.0, -0.2, f64::NAN, f64::INFINITY] {
        let error = analyze(&paper, &[0.2, bad]).unwrap_err().to_string();
        assert!(
            error.contains("outside the valid range: thresholds must be finite numbers above 0"),
            "{error}"
        );
    }
    // A diagonal of 1e-298 made RRC run to 1e298.
    let error = table(r#"{"classifiers": ["a", "b"], "accuracy": [[1e-298, 0.5], [0.5, 0.9]]}"#)
        .unwrap_err();
    assert!(error.contains("accuracy of a∘A_a is 1"), "{error}");
    assert!(error.contains("e-298, below 0.00001 (1/100000)"), "{error}");
    assert!(error.contains("inflated up to 1e298× and means nothing; check that cell"), "{error}");
    let error =
        table(r#"{"classifiers": ["a", "b"], "accuracy": [[0.9, 0.5], [0.5, 0.0]]}"#).unwrap_err();
    assert!(error.contains("accuracy of b∘A_b is 0"), "{error}");
    let error =
        table(r#"{"classifiers": ["a", "b"], "accuracy": [[0.9, 71.6], [0.5, 0.9]]}"#).unwrap_err();
    assert!(error.contains("is 71.6, outside [0, 1]"), "{error}");
}

/// A 40 × 40 table like the one that ran for minutes with memory growing.
fn table_40() -> CrossTable {
    let n = 40;
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let rows = (0..n)
        .map(|i| {
            (0..n).map(|j| if i == j { 0.6 + 0.35 * next() } else { 0.05 + 0.9 * next() }).collect()
        })
        .collect();
    CrossTable::new((0..n).map(|k| format!("c{k}")).collect(), rows, Path::new("t40.json")).unwrap()
}

#[test]
fn exponential_lattices_stop_at_the_limit_with_a_clear_message() {
    let started = Instant::now();
    let mut heard = 0;
    let error = analyze_with(&table_40(), &DEFAULT_THRESHOLDS, 20_000, &mut |_| heard += 1)
        .unwrap_err()
        .to_string();
    assert!(error.contains("(40 classifiers × 40 AEs,"), "{error}");
    assert!(error.contains("has more than 20000 concepts, the limit of --max-concepts"), "{error}");
    assert!(error.contains("raise the limit with --max-concepts N"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(60), "bounded: {:?}", started.elapsed());
    // The paper's table is far below the default limit and gives progress for every lattice.
    let paper =
        load_cross_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/paper/table2.json"))
            .unwrap();
    let mut contexts = Vec::new();
    let analysis =
        analyze_with(&paper, &DEFAULT_THRESHOLDS, 100_000, &mut |p| contexts.push(*p)).unwrap();
    assert_eq!(analysis, analyze(&paper, &DEFAULT_THRESHOLDS).unwrap());
    let last = contexts.last().unwrap();
    assert_eq!(last.contexts_done, last.contexts);
    assert_eq!(last.contexts, DEFAULT_THRESHOLDS.len() + analysis.stable_intervals.len());
}
