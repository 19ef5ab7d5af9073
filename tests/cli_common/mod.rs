//! Running the `dnlts` binary from the suite's tests, shared by the CLI test files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `dnlts args` in `dir`. The binary must find libtorch through its rpath, not through
/// the environment, so LD_LIBRARY_PATH is removed.
pub fn dnlts(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dnlts"))
        .args(args)
        .current_dir(dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("the dnlts binary starts")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh, empty folder `dnlts-{suite}-{name}-{pid}` under the system's temporary folder.
pub fn scratch_dir(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
