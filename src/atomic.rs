//! Writing files so that a crash or Ctrl-C never leaves a half-written one behind.

use std::fs;
use std::io;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same folder, synced, then renamed:
/// readers see either the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |temp| fs::write(temp, bytes))
}

/// Like [`write_atomic`], for writers that produce a file themselves (safetensors, PNG):
/// `write` fills the temporary path, which is then synced and renamed over `path`. Missing
/// folders are created; on any error the temporary file is removed.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent)?;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let temp = parent.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        write(&temp)?;
        fs::File::open(&temp)?.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("dnlts-atomic-{}", std::process::id()));
        let path = dir.join("out.json");
        write_atomic(&path, b"first, longer content").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 1, "only out.json should remain");
        fs::remove_dir_all(&dir).unwrap();
    }
}
