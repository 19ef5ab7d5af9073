//! sha256 manifest of a dataset folder (`dnlts data verify DIR`).
//!
//! Format of `DIR/MANIFEST.sha256`: one line per file, `<hex sha256>  <relative/path>`, sorted by
//! path, `/` separators (the `sha256sum` format, so `sha256sum -c` can check it too).
//!
//! FIFOs, sockets and devices in the folder are never opened (reading one can block forever):
//! they are left out of the manifest and listed as `skipped` with their kind, so the caller can
//! say so. A listed file that has become one is `missing`.

use super::{io_err, open_regular, read_regular_text, walk_files, DataError, Result};
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
    /// Entries that are not regular files (never opened, not hashed).
    pub skipped: Vec<SkippedEntry>,
}

/// A FIFO, socket or device under the folder, by relative path.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SkippedEntry {
    pub path: String,
    /// "FIFO (named pipe)", "socket", "character device", …
    pub kind: &'static str,
}

impl std::fmt::Display for SkippedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is a {}, not a regular file: not opened, not hashed", self.path, self.kind)
    }
}

/// The files of a folder with their sha256, and the entries left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashedTree {
    /// Relative path → hex sha256.
    pub files: BTreeMap<String, String>,
    pub skipped: Vec<SkippedEntry>,
}

/// What [`write_report`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub files: usize,
    pub skipped: Vec<SkippedEntry>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Hashes every regular file under `dir` (except the manifest itself), streaming each file;
/// FIFOs, sockets and devices are listed in `skipped` without being opened.
pub fn hash_tree(dir: &Path) -> Result<HashedTree> {
    use sha2::Digest;
    if !dir.is_dir() {
        return Err(DataError::MissingFolder(dir.to_path_buf()));
    }
    let walk = walk_files(dir)?;
    let mut tree = HashedTree::default();
    for path in walk.files {
        let rel = relative(dir, &path);
        if rel == MANIFEST_NAME || rel.starts_with(".MANIFEST.") {
            continue;
        }
        let mut hasher = sha2::Sha256::new();
        std::io::copy(&mut open_regular(&path)?, &mut hasher).map_err(io_err(&path))?;
        let hex = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        tree.files.insert(rel, hex);
    }
    tree.skipped = walk
        .special
        .iter()
        .map(|(path, kind)| SkippedEntry { path: relative(dir, path), kind })
        .collect();
    Ok(tree)
}

fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Writes `dir/MANIFEST.sha256` atomically ([`crate::atomic::write_atomic`]) and
/// returns the number of files in it; see [`write_report`] for the entries left out.
pub fn write(dir: &Path) -> Result<usize> {
    write_report(dir).map(|w| w.files)
}

/// [`write`], also listing the FIFOs, sockets and devices left out of the manifest.
pub fn write_report(dir: &Path) -> Result<Written> {
    let tree = hash_tree(dir)?;
    let entries = &tree.files;
    let text: String = entries.iter().map(|(path, hash)| format!("{hash}  {path}\n")).collect();
    let target = dir.join(MANIFEST_NAME);
    crate::atomic::write_atomic(&target, text.as_bytes()).map_err(io_err(&target))?;
    Ok(Written { files: entries.len(), skipped: tree.skipped })
}

/// Compares `dir` with its manifest.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let path = dir.join(MANIFEST_NAME);
    let text = read_regular_text(&path)?;
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
    let HashedTree { files: actual, skipped } = hash_tree(dir)?;
    let mut report = VerifyReport { skipped, ..VerifyReport::default() };
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
