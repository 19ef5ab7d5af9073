//! sha256 manifest of a dataset folder (`dnlts data verify DIR`).
//!
//! Format of `DIR/MANIFEST.sha256`: one line per file, `<hex sha256>  <relative/path>`, sorted by
//! path, `/` separators (the `sha256sum` format, so `sha256sum -c` can check it too). As
//! `sha256sum` does, a name holding a backslash, a newline or a carriage return is written with
//! `\\`, `\n` and `\r` on a line that starts with `\`; the reader undoes exactly that.
//! File names must be UTF-8 (the manifest is UTF-8 text): another name is refused, naming it,
//! rather than listed under a lossy spelling that two files could share. Every file but the
//! manifest itself is listed, hidden ones included.
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
    if !dir.is_dir() {
        return Err(DataError::MissingFolder(dir.to_path_buf()));
    }
    let walk = walk_files(dir)?;
    let mut tree = HashedTree::default();
    for path in walk.files {
        let rel = relative(dir, &path)?;
        if rel == MANIFEST_NAME {
            continue;
        }
        let hex = crate::digest::sha256_of(&mut open_regular(&path)?).map_err(io_err(&path))?;
        tree.files.insert(rel, hex);
    }
    tree.skipped = walk
        .special
        .iter()
        .map(|(path, kind)| Ok(SkippedEntry { path: relative(dir, path)?, kind }))
        .collect::<Result<_>>()?;
    Ok(tree)
}

/// `path` below `dir` with `/` separators, or an error naming a part that is not UTF-8.
fn relative(dir: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let parts = rel.components().map(|part| part.as_os_str().to_str()).collect::<Option<Vec<_>>>();
    parts.map(|parts| parts.join("/")).ok_or_else(|| DataError::BadFormat {
        file: path.to_path_buf(),
        message: format!(
            "its name is not UTF-8: {rel:?} (\\xNN marks each byte that is not); \
             {MANIFEST_NAME} lists names as UTF-8 text, so rename it (e.g. with `convmv` or \
             `mv`) and run again"
        ),
    })
}

/// One manifest line for `path` (sha256sum's escaping; see the module's documentation).
fn line(hash: &str, path: &str) -> String {
    if !path.contains(['\\', '\n', '\r']) {
        return format!("{hash}  {path}\n");
    }
    let escaped = path.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
    format!("\\{hash}  {escaped}\n")
}

/// The name of an escaped line (after its leading `\`), or None for an escape sha256sum does
/// not write.
fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(out)
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
    let text: String = entries.iter().map(|(path, hash)| line(hash, path)).collect();
    let target = dir.join(MANIFEST_NAME);
    crate::atomic::write_atomic(&target, text.as_bytes()).map_err(io_err(&target))?;
    Ok(Written { files: entries.len(), skipped: tree.skipped })
}

/// Compares `dir` with its manifest.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let path = dir.join(MANIFEST_NAME);
    let text = read_regular_text(&path)?;
    // Name → (hash, line number).
    let mut expected: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let bad = |n: usize, what: String| DataError::BadFormat {
        file: path.clone(),
        message: format!("line {n} {what}"),
    };
    // `lines` also drops a CR before each newline (a manifest saved on Windows); a CR in a
    // name is escaped.
    for (n, text_line) in text.lines().enumerate().map(|(n, l)| (n + 1, l)) {
        let (escaped, entry) = match text_line.strip_prefix('\\') {
            Some(rest) => (true, rest),
            None => (false, text_line),
        };
        let not_a_line = || {
            bad(
                n,
                "is not `<sha256>  <path>`; regenerate it with `dnlts data verify --write`".into(),
            )
        };
        let (hash, file) = entry
            .split_once("  ")
            .filter(|(h, f)| h.len() == 64 && !f.is_empty())
            .ok_or_else(not_a_line)?;
        let file = if escaped { unescape(file).ok_or_else(not_a_line)? } else { file.to_string() };
        if let Some((_, first)) = expected.get(&file) {
            return Err(bad(
                n,
                format!(
                    "lists {file:?} again (first on line {first}); a file has one sha256: delete \
                     the wrong line, or regenerate the manifest with `dnlts data verify --write`"
                ),
            ));
        }
        expected.insert(file, (hash.to_string(), n));
    }
    let HashedTree { files: actual, skipped } = hash_tree(dir)?;
    let mut report = VerifyReport { skipped, ..VerifyReport::default() };
    for (file, (hash, _)) in &expected {
        match actual.get(file) {
            None => report.missing.push(file.clone()),
            Some(h) if h != hash => report.changed.push(file.clone()),
            Some(_) => report.checked += 1,
        }
    }
    report.extra = actual.keys().filter(|f| !expected.contains_key(*f)).cloned().collect();
    Ok(report)
}
