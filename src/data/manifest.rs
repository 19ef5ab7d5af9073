//! sha256 manifest of a dataset folder (`dnlts data verify DIR`).
//!
//! Format of `DIR/MANIFEST.sha256`: one line per file, `<hex sha256>  <relative/path>`, sorted by
//! path, `/` separators (the `sha256sum` format, so `sha256sum -c` can check it too).

use super::{io_err, sha256_hex, walk_files, DataError, Result};
use std::collections::BTreeMap;
use std::path::Path;

pub const MANIFEST_NAME: &str = "MANIFEST.sha256";

/// Result of [`verify`]: relative paths, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    pub checked: usize,
    pub missing: Vec<String>,
    pub changed: Vec<String>,
    pub extra: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Hashes every file under `dir` (except the manifest itself).
pub fn hash_tree(dir: &Path) -> Result<BTreeMap<String, String>> {
    if !dir.is_dir() {
        return Err(DataError::MissingFolder(dir.to_path_buf()));
    }
    let mut out = BTreeMap::new();
    for path in walk_files(dir)? {
        let rel = relative(dir, &path);
        if rel == MANIFEST_NAME || rel.starts_with(".MANIFEST.") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        out.insert(rel, sha256_hex(&bytes));
    }
    Ok(out)
}

fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Writes `dir/MANIFEST.sha256` atomically (temp file in the same folder, then rename).
pub fn write(dir: &Path) -> Result<usize> {
    let entries = hash_tree(dir)?;
    let text: String = entries.iter().map(|(path, hash)| format!("{hash}  {path}\n")).collect();
    let tmp = dir.join(format!(".MANIFEST.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
    let target = dir.join(MANIFEST_NAME);
    std::fs::rename(&tmp, &target).map_err(io_err(&target))?;
    Ok(entries.len())
}

/// Compares `dir` with its manifest.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let path = dir.join(MANIFEST_NAME);
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let mut expected = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let (hash, file) = line
            .split_once("  ")
            .filter(|(h, f)| h.len() == 64 && !f.is_empty())
            .ok_or_else(|| DataError::BadFormat {
                file: path.clone(),
                message: format!(
                    "line {} is not `<sha256>  <path>`; regenerate it with `dnlts data verify --write`",
                    n + 1
                ),
            })?;
        expected.insert(file.to_string(), hash.to_string());
    }
    let actual = hash_tree(dir)?;
    let mut report = VerifyReport::default();
    for (file, hash) in &expected {
        match actual.get(file) {
            None => report.missing.push(file.clone()),
            Some(h) if h != hash => report.changed.push(file.clone()),
            Some(_) => report.checked += 1,
        }
    }
    report.extra = actual.keys().filter(|f| !expected.contains_key(*f)).cloned().collect();
    Ok(report)
}
