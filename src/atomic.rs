//! Writing files so that a crash or Ctrl-C never leaves a half-written one behind.

use std::fs;
use std::io;
use std::path::Path;

/// Marks our temporaries (`.NAME.dnlts-PID.tmp`), so only those are ever cleaned up.
const TEMP_MARK: &str = "dnlts-";

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
    let temp =
        parent.join(format!(".{}.{TEMP_MARK}{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        write(&temp)?;
        fs::File::open(&temp)?.sync_all()?;
        crate::failpoint::hit("before-rename", || path.display().to_string());
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Removes the temporary files that writers killed mid-write (kill -9, a power cut) left in
/// `dir` and its subfolders — `.NAME.dnlts-PID.tmp` whose process no longer runs — and returns
/// their paths. Temporaries of a writer still running are kept. Where running processes
/// cannot be listed (no /proc), nothing is removed.
pub fn remove_stale_temporaries(dir: &Path) -> Vec<std::path::PathBuf> {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return Vec::new();
    }
    let mut removed = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_file()
                && writer_pid(&path).is_some_and(|pid| !proc.join(pid).exists())
                && fs::remove_file(&path).is_ok()
            {
                removed.push(path);
            }
        }
    }
    removed
}

/// The process id in one of our temporaries' names, `.NAME.dnlts-PID.tmp`.
fn writer_pid(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let pid = stem.rsplit_once('.')?.1.strip_prefix(TEMP_MARK)?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| pid.to_string())
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

    #[test]
    fn stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("dnlts-stale-{}", std::process::id()));
        let nested = dir.join("stages/finetune-resnet50.checkpoints");
        fs::create_dir_all(&nested).unwrap();
        // A writer that has exited: its pid no longer runs.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = nested.join(format!(".step-0000000004.safetensors.dnlts-{dead}.tmp"));
        let live = dir.join(format!(".table1.json.dnlts-{}.tmp", std::process::id()));
        let other = dir.join("notes.tmp");
        let not_ours = dir.join(format!(".editor.{dead}.tmp"));
        for path in [&stale, &live, &other, &not_ours] {
            fs::write(path, b"partial").unwrap();
        }
        assert_eq!(remove_stale_temporaries(&dir), vec![stale.clone()]);
        assert!(!stale.exists() && live.exists() && other.exists() && not_ours.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
