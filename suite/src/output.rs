//! Writing results: JSON and text files, each written whole or not at all (a temporary file,
//! then a rename), so an interrupted run never leaves a half-written result behind. Depends on
//! nothing else in the suite.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

/// Pretty JSON with a trailing newline, written atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_text(path, &text).map(|_| ())
}

/// A text file (markdown, a table), written atomically; returns its path.
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<PathBuf> {
    dnlts::atomic::write_atomic(path, text.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A count with its thousands grouped: 1281167 → "1,281,167".
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_281_167), "1,281,167");
    }
}
