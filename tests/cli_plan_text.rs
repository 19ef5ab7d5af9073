//! `dnlts plan` with hostile text in every field that reaches the emitted Makefile or Slurm
//! script (every path, --partition, --time and the binary's own path): after `make -n`, after
//! `make` and after the Slurm script runs against a stand-in `sbatch`, no command hidden in a
//! value has run and every value arrives byte for byte, or the plan is refused naming the
//! option and the character.

mod cli_common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cli_common::text;

/// Text that a Makefile or a shell would read as code, a comment, a quote, a pattern or a
/// separator. Each would create `MARK` in the folder the plan runs from, if run.
const HOSTILE: &[&str] = &[
    "$(shell touch MARK)",
    "$(touch MARK)",
    "`touch MARK`",
    ";touch MARK;",
    "&& touch MARK ||",
    "|touch MARK",
    "a'b'\\''",
    "a\"b",
    "a\\b",
    "a#b",
    "a\\#b \\\\#c",
    "a b  c\td",
    "é 日本 \u{202e}",
    "a%jb%%c%",
    "${HOME}$$",
    "-x !y *?[z] ~",
    "a\\",
];

/// The path options of a paper-smoke plan (all reach every job's command line).
const PATHS: &[&str] =
    &["--out", "--data", "--imagenet", "--yfcc", "--weights", "--segnet", "--fixed-stages"];

/// A stand-in for a program: writes its arguments, each ended by NUL, to $RECORD.
const RECORDER: &str = "#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$RECORD\"\n";

/// A stand-in sbatch: writes its arguments to $JOBS/jobN and answers with the next job id.
const SBATCH: &str = "#!/bin/sh\nn=$(( $(cat \"$JOBS/count\" 2>/dev/null || echo 0) + 1 ))\n\
    echo $n > \"$JOBS/count\"\nprintf '%s\\0' \"$@\" > \"$JOBS/job$n\"\necho \"$n;cluster\"\n";

fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    Command::new("chmod").arg("+x").arg(path).status().unwrap();
}

/// `dnlts` copied into `folder`, so that the plan names a binary path holding hostile text.
fn binary_in(folder: &Path) -> PathBuf {
    std::fs::create_dir_all(folder).unwrap();
    let copy = folder.join("dnlts");
    std::fs::copy(env!("CARGO_BIN_EXE_dnlts"), &copy).unwrap();
    copy
}

fn run_plan(binary: &Path, args: &[OsString], dir: &Path) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("the dnlts copy starts")
}

/// The NUL-ended words a stand-in wrote.
fn recorded(file: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut words: Vec<Vec<u8>> = bytes.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    assert_eq!(words.pop(), Some(vec![]), "every word ends with NUL");
    words
}

/// The word after `option` in `words`.
fn after<'a>(words: &'a [Vec<u8>], option: &str) -> &'a [u8] {
    let at = words.iter().position(|w| w == option.as_bytes());
    let at = at.unwrap_or_else(|| panic!("no {option} in {words:?}"));
    &words[at + 1]
}

/// The paper-smoke plan's options with `value` in every field (`out` given apart: Slurm
/// refuses some values there), and the paths given, by option.
fn options(value: &str, base: &Path, out: &Path) -> (Vec<OsString>, Vec<(&'static str, PathBuf)>) {
    let mut paths = vec![("--out", out.to_path_buf())];
    for option in &PATHS[1..] {
        paths.push((option, base.join(format!("{}{value}", &option[2..]))));
    }
    let mut args: Vec<OsString> =
        ["plan", "--profile", "paper-smoke", "--threads", "1", "--mem", "4G"]
            .map(OsString::from)
            .into();
    for (option, path) in &paths {
        args.extend([OsString::from(option), path.clone().into_os_string()]);
    }
    // `--option=VALUE`: clap would read a value starting with `-` as an option.
    args.extend(["partition", "time"].map(|option| format!("--{option}={value}").into()));
    (args, paths)
}

/// The stage command a stand-in binary recorded carries every path byte for byte.
fn assert_paths_arrived(words: &[Vec<u8>], paths: &[(&str, PathBuf)], value: &str) {
    for (option, path) in paths {
        assert_eq!(after(words, option), path.as_os_str().as_bytes(), "{option} with {value:?}");
    }
}

#[test]
fn hostile_text_in_a_makefile_is_carried_byte_for_byte_and_never_run() {
    let dir = cli_common::scratch_dir("plan-text", "make");
    for (case, value) in HOSTILE.iter().enumerate() {
        let base = dir.join(format!("make{case}"));
        let binary = binary_in(&base.join(format!("bin{value}")));
        let (mut args, paths) = options(value, &base, &base.join(format!("out{value}")));
        args.extend(["--emit", "make"].map(OsString::from));
        let plan = run_plan(&binary, &args, &base);
        assert!(plan.status.success(), "{value:?}: {}", text(&plan.stderr));
        std::fs::write(base.join("plan.mk"), &plan.stdout).unwrap();
        // The binary's path holds the value too: it now records what it is given.
        executable(&binary, RECORDER);
        let make = |extra: &[&str]| {
            let mut command = Command::new("make");
            command.env_remove("MAKEFLAGS").env_remove("MFLAGS").env_remove("MAKELEVEL");
            command.args(["-f", "plan.mk"]).args(extra).current_dir(&base);
            let run = command.env("RECORD", base.join("record")).output().unwrap();
            assert!(run.status.success(), "{value:?}: {}", text(&run.stderr));
        };
        make(&["-n", "all"]);
        assert!(!base.join("MARK").exists(), "make -n ran {value:?}");
        make(&["pretrain"]);
        assert!(!base.join("MARK").exists(), "make ran {value:?}");
        let words = recorded(&base.join("record"));
        assert_eq!(words[0], b"pretrain", "{value:?}: {words:?}");
        assert_paths_arrived(&words, &paths, value);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_text_in_a_slurm_script_is_carried_byte_for_byte_and_never_run() {
    let dir = cli_common::scratch_dir("plan-text", "slurm");
    let fake = dir.join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    executable(&fake.join("sbatch"), SBATCH);
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    for (case, value) in HOSTILE.iter().enumerate() {
        let base = dir.join(format!("slurm{case}"));
        let binary = binary_in(&base.join(format!("bin{value}")));
        // sbatch's --output drops backslashes (and with them its %j): refused in --out, below.
        let out =
            base.join(if value.contains('\\') { "out".into() } else { format!("out{value}") });
        let (mut args, paths) = options(value, &base, &out);
        args.extend(["--emit", "slurm"].map(OsString::from));
        let plan = run_plan(&binary, &args, &base);
        assert!(plan.status.success(), "{value:?}: {}", text(&plan.stderr));
        std::fs::write(base.join("plan.sh"), &plan.stdout).unwrap();
        executable(&binary, RECORDER);
        let mut submit = Command::new("bash");
        submit.arg("plan.sh").current_dir(&base).env("PATH", &path).env("JOBS", &base);
        let submit = submit.output().unwrap();
        assert!(submit.status.success(), "{value:?}: {}", text(&submit.stderr));
        assert!(!base.join("MARK").exists(), "the script ran {value:?}");
        assert!(out.join("logs").is_dir(), "{value:?}: the log folder, made where --out says");
        let job = recorded(&base.join("job1"));
        let option = |name: &str| {
            let prefix = format!("--{name}=");
            let found = job.iter().find_map(|w| w.strip_prefix(prefix.as_bytes()));
            found.unwrap_or_else(|| panic!("{value:?}: no {prefix} in {job:?}")).to_vec()
        };
        assert_eq!(option("partition"), value.as_bytes());
        assert_eq!(option("time"), value.as_bytes());
        // In sbatch's filename pattern `%%` is one `%`.
        let logs = out.join("logs").display().to_string().replace('%', "%%");
        assert_eq!(option("output"), format!("{logs}/pretrain-%j.log").as_bytes());
        // The job's command, run as sbatch runs it, with sh.
        let wrap = OsString::from_vec(option("wrap"));
        let mut job = Command::new("sh");
        job.arg("-c").arg(&wrap).current_dir(&base).env("RECORD", base.join("record"));
        let job = job.output().unwrap();
        assert!(job.status.success(), "{value:?}: {}", text(&job.stderr));
        assert!(!base.join("MARK").exists(), "the job ran {value:?}");
        let words = recorded(&base.join("record"));
        assert_eq!(words[0], b"pretrain", "{value:?}: {words:?}");
        assert_paths_arrived(&words, &paths, value);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What no script can carry is refused before anything is written, naming the option (or the
/// binary) and the character, in both emitters.
#[test]
fn newlines_carriage_returns_and_non_utf8_names_are_refused_naming_the_field() {
    let dir = cli_common::scratch_dir("plan-text", "refused");
    let dnlts = PathBuf::from(env!("CARGO_BIN_EXE_dnlts"));
    let refused = |binary: &Path, args: Vec<OsString>, field: &str, what: &str| {
        for emit in ["make", "slurm"] {
            let mut args = args.clone();
            args.extend(["--emit", emit].map(OsString::from));
            let plan = run_plan(binary, &args, &dir);
            let error = text(&plan.stderr);
            assert!(!plan.status.success() && plan.stdout.is_empty(), "{emit} {field}: {error}");
            assert!(error.contains(field) && error.contains(what), "{emit} {field}: {error}");
        }
    };
    for (bad, what) in [("\n", "a newline"), ("\r", "a carriage return")] {
        let value = format!("x{bad}y");
        for option in PATHS {
            let (mut args, _) = options("ok", &dir, &dir.join("out"));
            let at = args.iter().position(|a| a == *option).unwrap();
            args[at + 1] = dir.join(&value).into_os_string();
            refused(&dnlts, args, option, what);
        }
        for option in ["--partition", "--time"] {
            let (mut args, _) = options("ok", &dir, &dir.join("out"));
            let at = args.iter().position(|a| a == &*format!("{option}=ok")).unwrap();
            args[at] = format!("{option}={value}").into();
            refused(&dnlts, args, option, what);
        }
        let binary = binary_in(&dir.join(format!("bin{bad}")));
        refused(&binary, options("ok", &dir, &dir.join("out")).0, "this dnlts binary", what);
    }
    // A name that is not UTF-8 would be written with U+FFFD in place of its bytes.
    let latin1 = dir.join(OsStr::from_bytes(b"caf\xe9"));
    refused(&dnlts, options("ok", &dir, &latin1).0, "--out", "not UTF-8");
    // sbatch removes a backslash from --output: Slurm alone refuses it, in --out.
    let (mut args, _) = options("ok", &dir, &dir.join("a\\b"));
    args.extend(["--emit", "slurm"].map(OsString::from));
    let plan = run_plan(&dnlts, &args, &dir);
    let error = text(&plan.stderr);
    assert!(!plan.status.success() && error.contains("--out") && error.contains("backslash"));
    std::fs::remove_dir_all(&dir).unwrap();
}
