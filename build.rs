//! Build-time facts for both workspace crates (this one file is their shared build script):
//! - embeds libtorch's library folder as an rpath, so `dnlts` and the test binaries run without
//!   LD_LIBRARY_PATH (torch-sys declares `links = "tch"` and exports the folder as
//!   DEP_TCH_LIBTORCH_LIB to crates that depend on it directly);
//! - records the libtorch version and, for the suite, the git commit, for provenance.
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_default();
    if !lib.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rustc-env=DNLTS_LIBTORCH_VERSION={}", libtorch_version(Path::new(&lib)));
    // Only the binary reports the commit; keeping it out of the library avoids rebuilding the
    // library (and every test) on each commit.
    if std::env::var("CARGO_PKG_NAME").as_deref() == Ok("dnlts-suite") {
        println!("cargo:rustc-env=DNLTS_GIT_COMMIT={}", git_commit());
        println!("cargo:rustc-env=DNLTS_TCH_VERSION={}", locked_version("tch"));
    }
}

/// libtorch's version from its own files: `build-version` in a plain libtorch folder, or
/// `version.py` when libtorch is the one inside a PyTorch installation.
fn libtorch_version(lib: &Path) -> String {
    let root = lib.parent().unwrap_or(lib);
    if let Ok(text) = std::fs::read_to_string(root.join("build-version")) {
        return text.trim().to_string();
    }
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("__version__ = ") {
                return value.trim_matches(|c| c == '\'' || c == '"').to_string();
            }
        }
    }
    "unknown".to_string()
}

/// The version of `package` that Cargo.lock pins (there is no cargo variable for a
/// dependency's version).
fn locked_version(package: &str) -> String {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock = Path::new(&manifest).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let name_line = format!("name = \"{package}\"");
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == name_line {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                return version.trim_matches('"').to_string();
            }
        }
    }
    "unknown".to_string()
}

fn git_commit() -> String {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let top = Path::new(&manifest).join("..");
    for tracked in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        let path = top.join(tracked);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let output =
        Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(&top).output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => "unknown".to_string(),
    }
}
