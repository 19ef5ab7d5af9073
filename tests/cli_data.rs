//! `dnlts data` and `--prefetch` against runaway input (issue #15): bounded preview grids,
//! a bounded prefetch depth, and `data verify` that skips FIFOs instead of blocking on them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the binary and kills it (failing the test) if it has not finished within `secs`.
fn dnlts(args: &[&str], dir: &Path, secs: u64) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnlts"))
        .args(args)
        .current_dir(dir)
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dnlts binary starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("dnlts {args:?} did not finish within {secs} s: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran { ok: status.success(), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-cli-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

#[test]
fn preview_of_no_image_is_an_error() {
    let dir = scratch("preview-zero");
    let out = dnlts(&["data", "preview", "--n", "0", "--out", "g.png"], &dir, 60);
    assert!(!out.ok, "--n 0 drew a grid: {}", out.stdout);
    assert!(
        out.stderr.contains("invalid value '0' for '--n <N>': a grid needs at least 1 image"),
        "{}",
        out.stderr
    );
    assert!(!dir.join("g.png").exists());
}

#[test]
fn preview_over_the_memory_limit_or_the_split_is_refused_before_drawing() {
    let dir = scratch("preview-huge");
    let started = Instant::now();
    let out = dnlts(&["data", "preview", "--n", "1000000", "--out", "g.png"], &dir, 60);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains("invalid value --n = 1000000")
            && out.stderr.contains("over the preview limit of 1 GiB")
            && out.stderr.contains("set --n to at most"),
        "{}",
        out.stderr
    );
    // Refused before anything is drawn: a million tiles take minutes to draw.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(!dir.join("g.png").exists());

    let out = dnlts(&["data", "preview", "--n", "5000000", "--out", "g.png"], &dir, 60);
    assert!(!out.ok);
    assert!(out.stderr.contains("only 1048576 images"), "{}", out.stderr);

    let out = dnlts(&["data", "preview", "--n", "4", "--out", "g.png"], &dir, 120);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("(4 images"), "{}", out.stdout);
    assert!(dir.join("g.png").is_file());
}

#[test]
fn prefetch_has_a_documented_maximum() {
    let dir = scratch("prefetch");
    let out = dnlts(&["evaluate", "--profile", "tiny", "--prefetch", "17"], &dir, 60);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("'17'")
            && out.stderr.contains("--prefetch")
            && out.stderr.contains("0..=16"),
        "{}",
        out.stderr
    );
    let out = dnlts(&["evaluate", "--help"], &dir, 60);
    // Help is wrapped to 100 columns: read it as one line of words.
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("at most 16"), "{}", out.stdout);
}

#[test]
fn verify_skips_a_fifo_with_a_note_instead_of_blocking() {
    let dir = scratch("verify-fifo");
    std::fs::create_dir_all(dir.join("data/sub")).unwrap();
    std::fs::write(dir.join("data/a.jpg"), b"aaa").unwrap();
    mkfifo(&dir.join("data/sub/pipe"));
    let out = dnlts(&["data", "verify", "data", "--write"], &dir, 30);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("(1 files, 1 non-regular entries left out)"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("note: skipped data/sub/pipe is a FIFO (named pipe), not a regular file"),
        "{}",
        out.stderr
    );
    let out = dnlts(&["data", "verify", "data"], &dir, 30);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("note: skipped data/sub/pipe"), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["checked"], 1);
    assert_eq!(report["skipped"][0]["path"], "sub/pipe");
}
