//! The malformed-input corpus of issue #15: damaged files and impossible option values for
//! every subcommand that reads input, generated here, each run through the `dnlts` binary.
//!
//! Every case must end in a non-zero exit whose message names the input (the path or the
//! value), or in a documented success — never a panic, a crash by signal, a hang (each case
//! has a time limit), a raw library error, runaway memory, or a change to a file that was
//! there before (a refused run writes nothing). The summary by subcommand is printed; run with
//! `--nocapture` to see it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dnlts::models::{Family, Scale};
use tch::nn::VarStore;

/// Far above any refusal (they take about a second); a case still running then is a hang.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// Largest resident memory a case may reach: libtorch and a tiny profile need about 0.5 GiB.
const MEMORY_LIMIT_KIB: i64 = 3 * 1024 * 1024;
/// What a message must never show a user: panics, C++ exceptions, Rust debug formatting of
/// library errors, operating-system error numbers.
const RAW: [&str; 13] = [
    "panicked",
    "Internal torch error",
    "enforce fail at",
    "EOCD",
    "CDFH",
    "RUST_BACKTRACE",
    "terminate called",
    "Exception raised from",
    "(os error",
    "Os {",
    "IoError",
    "MetadataIncompleteBuffer",
    "kind: ",
];

enum Expect {
    /// A non-zero exit whose message contains this text (the input's path or value).
    Refused(String),
    /// Exit 0: accepting this input is right, for the reason given.
    Accepted(&'static str),
}

struct Case {
    /// The subcommand, for the summary ("weights inspect").
    command: &'static str,
    /// What is malformed, for failure messages.
    label: String,
    args: Vec<String>,
    expect: Expect,
}

fn refused(command: &'static str, label: impl Into<String>, args: &[&str], names: &str) -> Case {
    Case {
        command,
        label: label.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        expect: Expect::Refused(names.to_string()),
    }
}

fn accepted(command: &'static str, label: &str, args: &[&str], why: &'static str) -> Case {
    Case {
        command,
        label: label.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        expect: Expect::Accepted(why),
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8 * 9, y as u8 * 5, 77]));
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

fn lenet5_safetensors(path: &Path) {
    let store = VarStore::new(tch::Device::Cpu);
    let _ = Family::Lenet5.build(&store.root(), Scale::Paper, 1000);
    dnlts::models::weights::save(&[&store], path).unwrap();
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Damaged stand-ins for a file whose good bytes are `good`, named like it (`stem.ext`):
/// (what is wrong, path). `other` is a valid file of another kind.
fn damaged_files(
    dir: &Path,
    stem: &str,
    ext: &str,
    good: &[u8],
    other: &[u8],
) -> Vec<(String, PathBuf)> {
    std::fs::create_dir_all(dir).unwrap();
    let path = |kind: &str| dir.join(format!("{stem}-{kind}.{ext}"));
    let mut files = Vec::new();
    let mut add = |kind: &str, bytes: Option<&[u8]>| {
        let p = path(kind);
        if let Some(bytes) = bytes {
            write(&p, bytes);
        }
        files.push((kind.to_string(), p));
    };
    add("missing", None);
    add("empty", Some(&[]));
    let junk: Vec<u8> = (0..4096).map(|i| (i * 7 % 251) as u8).collect();
    add("junk", Some(&junk));
    add("zeros", Some(&[0u8; 4096]));
    add("cut-to-1-byte", Some(&good[..1]));
    add("cut-in-half", Some(&good[..good.len() / 2]));
    // The last byte that matters: a text file's trailing newline is not one.
    let end = good.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    add("last-byte-cut", Some(&good[..end]));
    add("another-format", Some(other));
    let folder = path("folder");
    std::fs::create_dir_all(&folder).unwrap();
    files.push(("folder".into(), folder));
    let fifo = path("fifo");
    mkfifo(&fifo);
    files.push(("fifo".into(), fifo));
    let looped = path("symlink-loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    files.push(("symlink-loop".into(), looped));
    let dangling = path("dangling-link");
    std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
    files.push(("dangling-link".into(), dangling));
    files
}

/// Good inputs every case may read (never changed by any case).
struct Inputs {
    png: String,
    table: String,
    weights: String,
    scripted: String,
}

fn s(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn file_cases(root: &Path, inputs: &Inputs) -> Vec<Case> {
    let mut cases = Vec::new();
    let good_png = std::fs::read(&inputs.png).unwrap();
    let good_table = std::fs::read(&inputs.table).unwrap();
    let good_weights = std::fs::read(&inputs.weights).unwrap();
    let good_scripted = std::fs::read(&inputs.scripted).unwrap();
    let dir = root.join("damaged");
    for (kind, file) in damaged_files(&dir, "image", "png", &good_png, &good_table) {
        let f = s(&file);
        cases.push(refused("nmi", format!("first image {kind}"), &["nmi", &f, &inputs.png], &f));
        cases.push(refused("nmi", format!("second image {kind}"), &["nmi", &inputs.png, &f], &f));
    }
    for (kind, file) in damaged_files(&dir, "table", "json", &good_table, &good_png) {
        let f = s(&file);
        cases.push(refused("analyze", format!("table {kind}"), &["analyze", &f], &f));
    }
    for (kind, file) in damaged_files(&dir, "weights", "safetensors", &good_weights, &good_png) {
        let f = s(&file);
        cases.push(refused("weights inspect", kind.clone(), &["weights", "inspect", &f], &f));
        let check = ["weights", "check", &f, "--model", "lenet5"];
        cases.push(refused("weights check", kind, &check, &f));
    }
    for (kind, file) in damaged_files(&dir, "scripted", "pt", &good_scripted, &good_weights) {
        let spec = format!("mine={},size=32", s(&file));
        cases.push(refused(
            "models",
            format!("classifier {kind}"),
            &["models", "--classifier", &spec],
            &s(&file),
        ));
    }
    cases.extend(table_content_cases(&dir));
    cases.extend(folder_cases(root));
    cases.extend(manifest_name_cases(root));
    cases.extend(user_model_cases(root));
    cases
}

/// A TorchScript model traced from `forward` on a 2×3×32×32 batch, saved to `path`.
fn traced(path: &Path, forward: impl Fn(&tch::Tensor) -> tch::Tensor) {
    let example = tch::Tensor::zeros([2, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu));
    let mut closure = |inputs: &[tch::Tensor]| vec![forward(&inputs[0])];
    let module = tch::CModule::create_by_tracing("Mine", "forward", &[example], &mut closure);
    module.unwrap().save(path).unwrap();
}

/// Users' models that run forward but cannot stand behind an AE in training (issue #31): no
/// gradient to the input, class indices, a tuple. Both commands refuse them, naming the file.
fn user_model_cases(root: &Path) -> Vec<Case> {
    use tch::{Kind, Tensor};
    let dir = root.join("user-models");
    std::fs::create_dir_all(&dir).unwrap();
    let weight = Tensor::ones([3, 10], (Kind::Float, tch::Device::Cpu)) / 3.0;
    let logits = |x: &Tensor| x.mean_dim([2i64, 3].as_slice(), false, Kind::Float).matmul(&weight);
    let mut files: Vec<(&str, PathBuf)> = Vec::new();
    let mut model = |kind: &'static str, forward: &dyn Fn(&Tensor) -> Tensor| {
        let file = dir.join(format!("{kind}.pt"));
        traced(&file, forward);
        files.push((kind, file));
    };
    model("detached", &|x| logits(x).detach());
    model("one-hot-argmax", &|x| logits(x).argmax(1, false).one_hot(10).to_kind(Kind::Float));
    model("class-indices", &|x| logits(x).argmax(1, true).expand([-1, 10], false));
    // libtorch's tracer cannot save two outputs: fixtures/models/make_tuple_model.py wrote it.
    let tuple = dir.join("tuple.pt");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models");
    std::fs::copy(fixtures.join("tuple_output.pt"), &tuple).unwrap();
    files.push(("tuple", tuple));
    let mut cases = Vec::new();
    for (kind, file) in files {
        let spec = format!("mine={},size=32", s(&file));
        let check = ["models", "--classifier", &spec];
        cases.push(refused("models", format!("classifier {kind}"), &check, &s(&file)));
        let run = ["reproduce", "--profile", "tiny", "--out", "out", "--classifier", &spec];
        cases.push(refused("reproduce", format!("--classifier {kind}"), &run, &s(&file)));
    }
    cases
}

/// Folder trees whose names the manifest's text holds only with care (issue #31).
fn manifest_name_cases(root: &Path) -> Vec<Case> {
    use std::os::unix::ffi::OsStrExt;
    let dir = root.join("manifest-names");
    let folder = |name: &str| {
        let folder = dir.join(name);
        write(&folder.join("data.bin"), b"payload");
        folder
    };
    let not_utf8 = folder("not-utf8");
    for byte in [0xfeu8, 0xff] {
        write(&not_utf8.join(std::ffi::OsStr::from_bytes(&[b'a', byte])), &[byte]);
    }
    let newline = folder("newline-name");
    write(&newline.join("two\nlines.bin"), b"two");
    write(&newline.join("back\\slash.bin"), b"three");
    dnlts::data::manifest::write(&newline).unwrap();
    let twice = folder("listed-twice");
    dnlts::data::manifest::write(&twice).unwrap();
    let good = std::fs::read_to_string(twice.join("MANIFEST.sha256")).unwrap();
    let wrong = format!("{}  data.bin\n", "0".repeat(64));
    // The wrong hash first: the last line used to win, and the folder verified.
    write(&twice.join("MANIFEST.sha256"), format!("{wrong}{good}").as_bytes());
    let lookalike = folder("manifest-lookalike");
    dnlts::data::manifest::write(&lookalike).unwrap();
    write(&lookalike.join(".MANIFEST.sha256.old"), b"planted after the manifest");
    let (not_utf8, twice, lookalike) = (s(&not_utf8), s(&twice), s(&lookalike));
    vec![
        refused("data verify", "non-UTF-8 names", &["data", "verify", &not_utf8], &not_utf8),
        refused(
            "data verify",
            "--write non-UTF-8 names",
            &["data", "verify", &not_utf8, "--write"],
            &not_utf8,
        ),
        refused("data verify", "a file listed twice", &["data", "verify", &twice], &twice),
        refused("data verify", ".MANIFEST.* planted", &["data", "verify", &lookalike], &lookalike),
        accepted(
            "data verify",
            "names with a newline and a backslash",
            &["data", "verify", &s(&newline)],
            "the writer escapes them as sha256sum does and the reader undoes it",
        ),
    ]
}

/// Tables that parse but cannot be analysed, in JSON and CSV.
fn table_content_cases(dir: &Path) -> Vec<Case> {
    let json = |accuracy: &str, names: &str| {
        format!(
            r#"{{"classifiers": {names}, "autoencoders": ["A_a", "A_b"], "accuracy": {accuracy}}}"#
        )
    };
    let ab = r#"["a", "b"]"#;
    let contents = [
        ("nan", json("[[0.5, NaN], [0.4, 0.6]]", ab)),
        ("string-cell", json(r#"[[0.5, "x"], [0.4, 0.6]]"#, ab)),
        ("percent", json("[[50, 40], [40, 60]]", ab)),
        ("negative", json("[[-0.5, 0.4], [0.4, 0.6]]", ab)),
        ("huge-exponent", json("[[1e400, 0.4], [0.4, 0.6]]", ab)),
        ("zero-diagonal", json("[[0, 0.4], [0.4, 0.6]]", ab)),
        ("tiny-diagonal", json("[[1e-300, 0.4], [0.4, 0.6]]", ab)),
        ("ragged", json("[[0.5], [0.4, 0.6]]", ab)),
        ("not-square", json("[[0.5, 0.4]]", ab)),
        ("duplicate-name", json("[[0.5, 0.4], [0.4, 0.6]]", r#"["a", "a"]"#)),
        ("empty", json("[]", "[]")),
        ("deep-nesting", "[".repeat(100_000)),
        ("not-utf8", String::from_utf8_lossy(&[0xff, 0xfe, 0x00]).into_owned()),
    ];
    let mut cases = Vec::new();
    for (kind, text) in contents {
        let file = dir.join(format!("content-{kind}.json"));
        write(&file, text.as_bytes());
        let f = s(&file);
        cases.push(refused("analyze", format!("table {kind}"), &["analyze", &f], &f));
    }
    let csvs = [
        ("csv-ragged", ",a,b\nA_a,0.5\nA_b,0.4,0.6\n"),
        ("csv-letters", ",a,b\nA_a,0.5,x\nA_b,0.4,0.6\n"),
        ("csv-wrong-row-label", ",a,b\nA_b,0.5,0.4\nA_a,0.4,0.6\n"),
        ("csv-header-only", ",a,b\n"),
    ];
    for (kind, text) in csvs {
        let file = dir.join(format!("{kind}.csv"));
        write(&file, text.as_bytes());
        let f = s(&file);
        cases.push(refused("analyze", format!("table {kind}"), &["analyze", &f], &f));
    }
    let quoted = dir.join("quoted-header.csv");
    write(&quoted, b",\"x,y\",b\n\"A_x,y\",0.5,0.4\nA_b,0.4,0.6\n");
    cases.push(accepted(
        "analyze",
        "a quoted CSV name with a comma",
        &["analyze", &s(&quoted)],
        "a quoted cell keeps its comma (RFC 4180): the classifiers are `x,y` and `b`",
    ));
    let unknown = dir.join("table.xlsx");
    write(&unknown, b",a\nA_a,0.5\n");
    cases.push(refused("analyze", "unknown extension", &["analyze", &s(&unknown)], &s(&unknown)));
    cases
}

/// Folders given where the program reads a dataset, a manifest or fixed stages.
fn folder_cases(root: &Path) -> Vec<Case> {
    let dir = root.join("folders");
    std::fs::create_dir_all(&dir).unwrap();
    let missing = s(&dir.join("missing"));
    let file = dir.join("a-file");
    write(&file, b"x");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let manifest = |name: &str, text: &[u8]| {
        let folder = dir.join(name);
        write(&folder.join("data.bin"), b"payload");
        write(&folder.join("MANIFEST.sha256"), text);
        s(&folder)
    };
    let zero = "0".repeat(64);
    let bad_manifests = [
        ("manifest-junk", manifest("manifest-junk", b"this is not a manifest\n")),
        (
            "manifest-wrong-sha",
            manifest("manifest-wrong-sha", format!("{zero}  data.bin\n").as_bytes()),
        ),
        (
            "manifest-lists-missing",
            manifest("manifest-lists-missing", format!("{zero}  gone.bin\n").as_bytes()),
        ),
        (
            "manifest-escapes",
            manifest("manifest-escapes", format!("{zero}  ../../etc/passwd\n").as_bytes()),
        ),
        ("manifest-binary", manifest("manifest-binary", &[0xff, 0x00, 0xfe])),
    ];
    let mut folders: Vec<(&str, String)> =
        vec![("missing", missing), ("a file", s(&file)), ("fifo", s(&fifo)), ("empty", s(&empty))];
    folders.extend(bad_manifests.iter().map(|(k, p)| (*k, p.clone())));
    let mut cases = Vec::new();
    for (kind, folder) in &folders {
        cases.push(refused("data verify", *kind, &["data", "verify", folder], folder));
        let fixed = ["reproduce", "--profile", "tiny", "--out", "out", "--fixed-stages", folder];
        cases.push(refused("reproduce", format!("--fixed-stages {kind}"), &fixed, folder));
        let fashion = ["reproduce", "--profile", "fashion", "--out", "out", "--data", folder];
        cases.push(refused("reproduce", format!("--data {kind}"), &fashion, folder));
    }
    let out_file = s(&file);
    for out in [out_file.as_str(), &format!("{out_file}/below-a-file"), &s(&fifo)] {
        let args = ["reproduce", "--profile", "tiny", "--out", out];
        cases.push(refused("reproduce", format!("--out {out}"), &args, out));
    }
    for out in [format!("{out_file}/below-a-file"), s(&fifo), s(&empty)] {
        let preview = ["data", "preview", "--profile", "tiny", "--n", "4", "--out", &out];
        cases.push(refused("data preview", format!("--out {out}"), &preview, &out));
    }
    cases
}

/// `command` with `base` options, where `option value` replaces the base's `option`.
fn with_option<'a>(
    command: &[&'a str],
    base: &[(&'a str, &'a str)],
    option: &'a str,
    value: &'a str,
) -> Vec<&'a str> {
    let mut args = command.to_vec();
    for (name, base_value) in base.iter().filter(|(name, _)| *name != option) {
        args.extend([*name, *base_value]);
    }
    args.extend([option, value]);
    args
}

/// What a refusal of `option value` must name: the value, or the option when the value is
/// empty or a pattern.
fn value_or_option<'a>(option: &'a str, value: &'a str) -> &'a str {
    if value.is_empty() || value == "*" || value.contains(",,") {
        option
    } else {
        value
    }
}

/// One refused case per bad value: `command` with the `base` options, where `option value`
/// replaces the base's `option`; filed under `name` in the summary.
fn refused_values(
    name: &'static str,
    command: &[&str],
    base: &[(&str, &str)],
    values: &[(&str, &[&str])],
) -> Vec<Case> {
    let mut cases = Vec::new();
    for (option, values) in values {
        for value in *values {
            let args = with_option(command, base, option, value);
            let label = format!("{option} {value:?}");
            cases.push(refused(name, label, &args, value_or_option(option, value)));
        }
    }
    cases
}

/// Option values out of range, of the wrong type or naming nothing, per subcommand.
fn option_cases(inputs: &Inputs) -> Vec<Case> {
    let mut cases = Vec::new();
    let tiny = [("--profile", "tiny"), ("--out", "out")];
    let bad_values: [(&str, &[&str]); 14] = [
        ("--threads", &["0", "-1", "abc", "100000000", ""]),
        ("--seed", &["-1", "abc", "18446744073709551616"]),
        ("--device", &["gpu", "cuda:x", "cuda:99", "cuda", "mps", ""]),
        ("--batch-size", &["0", "-1", "abc", "100000", "4294967296"]),
        ("--accumulate", &["0", "abc", "-3", "33"]),
        ("--prefetch", &["17", "-1", "abc", "1000000"]),
        ("--profile", &["nosuch", "", "paper", "TINY"]),
        ("--include", &["nosuch", "", "table1,,fig2", "fig99*"]),
        ("--exclude", &["nosuch", "*"]),
        ("--finetune-part", &["x", "", "decoders"]),
        ("--data", &["/nonexistent-dnlts-data"]),
        ("--fixed-stages", &[""]),
        ("--out", &[""]),
        ("--devices", &["", "gpu", "auto", "cpu,,cpu", "cuda:9", "cuda:x"]),
    ];
    cases.extend(refused_values("reproduce", &["reproduce"], &tiny, &bad_values));
    let both = ["reproduce", "--profile", "tiny", "--out", "out", "--device", "cpu"];
    let both = [&both[..], &["--devices", "cpu,cpu"]].concat();
    cases.push(refused("reproduce", "--device and --devices", &both, "--devices"));
    for stage in ["pretrain", "evaluate"] {
        for (option, value) in [("--threads", "0"), ("--profile", "nosuch"), ("--batch-size", "0")]
        {
            let args = with_option(&[stage], &tiny, option, value);
            cases.push(refused(
                "stage commands",
                format!("{stage} {option} {value}"),
                &args,
                value,
            ));
        }
    }
    for stage in ["train-classifier", "finetune"] {
        for value in ["X", "", "lenet6", "L,A"] {
            let args = with_option(&[stage], &tiny, "--family", value);
            let label = format!("{stage} --family {value:?}");
            cases.push(refused("stage commands", label, &args, value_or_option("--family", value)));
        }
    }
    let table = inputs.table.as_str();
    for value in ["0", "-1", "nan", "inf", "abc", "", "0.5,,0.8", "1e-400"] {
        let args = ["analyze", table, "--thresholds", value];
        let names = value_or_option("--thresholds", value);
        cases.push(refused("analyze", format!("--thresholds {value:?}"), &args, names));
    }
    for value in ["0", "-1", "abc", "18446744073709551616", "1"] {
        let args = ["analyze", table, "--max-concepts", value];
        let names = if value == "1" { "--max-concepts" } else { value };
        cases.push(refused("analyze", format!("--max-concepts {value}"), &args, names));
    }
    let out_is_file = ["analyze", table, "--out", &inputs.png];
    cases.push(refused("analyze", "--out an existing file", &out_is_file, &inputs.png));
    cases.push(accepted(
        "analyze",
        "--thresholds 5",
        &["analyze", table, "--thresholds", "5"],
        "a threshold above every RRC is valid: its lattice relates nothing, which is an answer",
    ));
    let png = inputs.png.as_str();
    for value in ["0", "257", "-1", "abc", ""] {
        let args = ["nmi", png, png, "--bins", value];
        cases.push(refused(
            "nmi",
            format!("--bins {value:?}"),
            &args,
            value_or_option("--bins", value),
        ));
    }
    let itself = ["nmi", png, png];
    cases.push(accepted(
        "nmi",
        "an image with itself",
        &itself,
        "nMI of an image with itself is 1",
    ));
    let preview = [("--profile", "tiny"), ("--n", "4"), ("--out", "out/p.png")];
    let preview_values: [(&str, &[&str]); 4] = [
        ("--n", &["0", "-1", "abc", "1000000000"]),
        ("--ablation", &["x", ""]),
        ("--profile", &["paper", "fashion", "nosuch"]),
        ("--seed", &["abc"]),
    ];
    cases.extend(refused_values("data preview", &["data", "preview"], &preview, &preview_values));
    cases.push(refused("data preview", "no --out", &["data", "preview"], "--out"));
    for value in ["0", "100000000", "abc"] {
        cases.push(refused(
            "env",
            format!("--threads {value}"),
            &["env", "--threads", value],
            value,
        ));
    }
    let weights = inputs.weights.as_str();
    for model in ["x", "", "segnet", "resnet50"] {
        let args = ["weights", "check", weights, "--model", model];
        let names = match model {
            "" => "--model",
            "x" => "'x'",
            _ => weights,
        };
        cases.push(refused("weights check", format!("--model {model:?}"), &args, names));
    }
    let pt = inputs.scripted.as_str();
    let specs = [
        "mine".to_string(),
        format!("={pt}"),
        "mine=".to_string(),
        format!("mine={pt},size=0"),
        format!("mine={pt},size=abc"),
        format!("mine={pt},size=100000"),
        format!("mine={pt},size=32,resize=16"),
        format!("mine={pt},mean=1:2"),
        format!("mine={pt},std=0:0:0"),
        format!("mine={pt},std=nan:1:1"),
        format!("mine={pt},colour=red"),
    ];
    for spec in &specs {
        let args = ["models", "--classifier", spec];
        let names = spec.rsplit(',').next().unwrap();
        cases.push(refused("models", format!("--classifier {spec}"), &args, names));
    }
    let larger = format!("mine={pt},size=64");
    cases.push(accepted(
        "models",
        "--classifier the fixture at 64 px",
        &["models", "--classifier", &larger],
        "the fixture pools globally before its last layer, so it also runs at 64 px",
    ));
    let fixture = format!("mine={pt},size=32");
    cases.push(accepted(
        "models",
        "--classifier the fixture",
        &["models", "--classifier", &fixture],
        "the fixture is a valid 10-class classifier at 32 px",
    ));
    cases.extend(scale_and_export_cases(inputs));
    cases.push(refused("dnlts", "unknown subcommand", &["reproduceit"], "reproduceit"));
    cases.push(refused("dnlts", "unknown option", &["reproduce", "--profil", "tiny"], "--profil"));
    cases
}

/// `bench`, `plan`, `data export` and user classifiers in `reproduce`.
fn scale_and_export_cases(inputs: &Inputs) -> Vec<Case> {
    let mut cases = Vec::new();
    let bench = [("--profile", "tiny"), ("--steps", "1")];
    let bench_values: [(&str, &[&str]); 8] = [
        ("--profile", &["nosuch", ""]),
        ("--threads", &["0", "100000000"]),
        ("--batch-size", &["0", "abc", "4294967295"]),
        ("--steps", &["0", "-1"]),
        ("--warmup", &["0", "abc"]),
        ("--peak-tflops", &["0", "-5", "nan", "inf", "abc"]),
        ("--gpu-rate", &["0", "-1", "nan", "abc"]),
        ("--device", &["gpu", "cuda:99"]),
    ];
    cases.extend(refused_values("bench", &["bench"], &bench, &bench_values));
    let plan = [("--profile", "tiny"), ("--out", "out")];
    let plan_values: [(&str, &[&str]); 10] = [
        ("--profile", &["nosuch", ""]),
        ("--emit", &["ninja", ""]),
        ("--threads", &["0", "100000000"]),
        ("--device", &["gpu"]),
        ("--gpus-per-job", &["-1", "abc"]),
        ("--out", &[""]),
        ("--accumulate", &["0", "100000"]),
        ("--pretrain-gpus", &["0", "65", "2"]),
        ("--pretrain-devices", &["gpu", ""]),
        ("--mem", &["64GB", "G"]),
    ];
    cases.extend(refused_values("plan", &["plan"], &plan, &plan_values));
    // A synthetic profile reads no ImageNet and no given weights: refused, not ignored.
    for option in ["--imagenet", "--weights"] {
        let args = with_option(&["plan"], &plan, option, "/tmp");
        cases.push(refused("plan", format!("{option} with profile tiny"), &args, option));
    }
    let export = [("--profile", "tiny"), ("--split", "test"), ("--out", "out/export")];
    let export_values: [(&str, &[&str]); 5] = [
        ("--profile", &["nosuch", "paper"]),
        ("--split", &["training", ""]),
        ("--out", &["out/table1.json", ""]),
        ("--seed", &["abc"]),
        ("--data", &["/nonexistent-dnlts-data"]),
    ];
    cases.extend(refused_values("data export", &["data", "export"], &export, &export_values));
    let export_into_results =
        ["data", "export", "--profile", "tiny", "--split", "test", "--out", "out"];
    cases.push(refused("data export", "--out a folder with files", &export_into_results, "out"));
    let pt = inputs.scripted.as_str();
    let weights = inputs.weights.as_str();
    let user_specs = [
        (format!("mine={pt}"), "224".to_string()),
        (format!("L={pt},size=32"), "'L'".to_string()),
        (format!("S={pt},size=32"), "'S'".to_string()),
        (format!("my model={pt},size=32"), "my model".to_string()),
        (format!("mine={weights},size=32"), weights.to_string()),
        (format!("mine={weights},family=resnet50,size=32"), weights.to_string()),
        (format!("mine={weights},family=nosuch,size=32"), "nosuch".to_string()),
        (format!("mine={},size=32", inputs.png), inputs.png.clone()),
    ];
    for (spec, names) in &user_specs {
        let args = ["reproduce", "--profile", "tiny", "--out", "out", "--classifier", spec];
        cases.push(refused("reproduce", format!("--classifier {spec}"), &args, names));
    }
    let twice = format!("mine={pt},size=32");
    let args = [
        "reproduce",
        "--profile",
        "tiny",
        "--out",
        "out",
        "--classifier",
        &twice,
        "--classifier",
        &twice,
    ];
    cases.push(refused("reproduce", "--classifier twice", &args, "mine"));
    cases
}

/// How one case ended.
struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    max_rss_kib: i64,
    timed_out: bool,
}

/// Runs `dnlts args` in `dir` with stdin closed, reaping it with wait4 to read its peak
/// memory, and killing it at the time limit.
// The child is reaped by wait4 below, which std's Child does not know about.
#[allow(clippy::zombie_processes)]
fn run(args: &[String], dir: &Path) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnlts"))
        .args(args)
        .current_dir(dir)
        .env_remove(dnlts::failpoint::VARIABLE)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dnlts binary starts");
    let mut stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let (mut status, mut usage): (libc::c_int, libc::rusage) = (0, unsafe { std::mem::zeroed() });
    let mut timed_out = false;
    loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break;
        }
        if started.elapsed() > TIME_LIMIT && !timed_out {
            timed_out = true;
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let exited = libc::WIFEXITED(status);
    Outcome {
        code: exited.then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stderr: reader.join().unwrap(),
        max_rss_kib: usage.ru_maxrss,
        timed_out,
    }
}

/// Every file under `dir` with its bytes (symbolic links and special files by their target).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_file() {
                files.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            } else {
                let target = std::fs::read_link(&path).map(|t| s(&t)).unwrap_or_default();
                files.insert(path, target.into_bytes());
            }
        }
    }
    files
}

/// What is wrong with how `case` ended, if anything, as (category, description).
fn judge(case: &Case, outcome: &Outcome, changed: bool) -> Option<(&'static str, String)> {
    let what = format!("{} [{}] `dnlts {}`", case.command, case.label, case.args.join(" "));
    let stderr = outcome.stderr.trim_end();
    if outcome.timed_out {
        return Some(("hang", format!("{what}: still running after {TIME_LIMIT:?}")));
    }
    if outcome.signal.is_some() || outcome.code == Some(101) || stderr.contains("panicked") {
        let how = format!("{:?}/{:?}", outcome.code, outcome.signal);
        return Some(("panic or crash", format!("{what}: ended {how}: {stderr}")));
    }
    if outcome.max_rss_kib > MEMORY_LIMIT_KIB {
        let mib = outcome.max_rss_kib / 1024;
        return Some(("memory", format!("{what}: reached {mib} MiB")));
    }
    if let Some(raw) = RAW.iter().find(|raw| stderr.contains(*raw)) {
        return Some(("raw message", format!("{what}: shows `{raw}`: {stderr}")));
    }
    match &case.expect {
        Expect::Refused(_) if outcome.code == Some(0) => {
            Some(("silently accepted", format!("{what}: exit 0")))
        }
        // An empty value is named by its option or shown as ''.
        Expect::Refused(names)
            if !(stderr.contains(names.as_str())
                || names.starts_with("--") && stderr.contains("''")) =>
        {
            Some((
                "unnamed input",
                format!("{what}: the message does not name `{names}`: {stderr}"),
            ))
        }
        Expect::Refused(_) if changed => {
            Some(("changed a file", format!("{what}: refused, but files changed")))
        }
        Expect::Accepted(why) if outcome.code != Some(0) => {
            Some(("wrongly refused", format!("{what}: should succeed ({why}): {stderr}")))
        }
        _ => None,
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    refused: usize,
    accepted: usize,
    max_rss_kib: i64,
}

#[test]
fn every_malformed_input_is_refused_by_name_or_documented() {
    let root = std::env::temp_dir().join(format!("dnlts-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let inputs_dir = root.join("inputs");
    std::fs::create_dir_all(&inputs_dir).unwrap();
    let inputs = Inputs {
        png: s(&inputs_dir.join("good.png")),
        table: s(&inputs_dir.join("table2.json")),
        weights: s(&inputs_dir.join("lenet5.safetensors")),
        scripted: s(&inputs_dir.join("tiny_scripted.pt")),
    };
    write(Path::new(&inputs.png), &png(16, 16));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    std::fs::copy(fixtures.join("paper/table2.json"), &inputs.table).unwrap();
    std::fs::copy(fixtures.join("models/tiny_scripted.pt"), &inputs.scripted).unwrap();
    lenet5_safetensors(Path::new(&inputs.weights));

    let mut cases = file_cases(&root, &inputs);
    cases.extend(option_cases(&inputs));
    let before = snapshot(&root);
    let next = AtomicUsize::new(0);
    // Refusals mostly wait on libtorch loading: four at a time keep two cores busy.
    let results: Vec<(usize, Outcome, bool)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(case) = cases.get(index) else { break };
                        let dir = root.join(format!("case-{index:03}"));
                        write(&dir.join("out/table1.json"), b"{\"kept\": true}\n");
                        let before = snapshot(&dir);
                        let outcome = run(&case.args, &dir);
                        done.push((index, outcome, snapshot(&dir) != before));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });

    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut problems: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (index, outcome, changed) in &results {
        let case = &cases[*index];
        let tally = tallies.entry(case.command).or_default();
        tally.cases += 1;
        tally.max_rss_kib = tally.max_rss_kib.max(outcome.max_rss_kib);
        match judge(case, outcome, *changed) {
            Some((category, text)) => problems.entry(category).or_default().push(text),
            None if matches!(case.expect, Expect::Refused(_)) => tally.refused += 1,
            None => tally.accepted += 1,
        }
    }
    println!("malformed-input corpus: {} cases", cases.len());
    println!(
        "{:<18} {:>6} {:>8} {:>9} {:>13}",
        "subcommand", "cases", "refused", "accepted", "peak RSS MiB"
    );
    for (command, t) in &tallies {
        let mib = t.max_rss_kib / 1024;
        println!("{command:<18} {:>6} {:>8} {:>9} {mib:>13}", t.cases, t.refused, t.accepted);
    }
    for (category, list) in &problems {
        println!("{category}: {}", list.len());
    }
    let inputs_after = snapshot(&inputs_dir);
    let inputs_before: BTreeMap<_, _> =
        before.into_iter().filter(|(path, _)| path.starts_with(&inputs_dir)).collect();
    assert_eq!(inputs_before, inputs_after, "a case changed the shared inputs");
    let report: Vec<String> = problems
        .iter()
        .flat_map(|(category, list)| list.iter().map(move |text| format!("[{category}] {text}")))
        .collect();
    assert!(
        report.is_empty(),
        "{} of {} cases failed:\n{}",
        report.len(),
        cases.len(),
        report.join("\n")
    );
    std::fs::remove_dir_all(&root).unwrap();
}
