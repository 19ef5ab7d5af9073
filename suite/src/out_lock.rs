//! An advisory lock on a results folder (`--out`), so that two runs of different settings
//! cannot replace each other's stages: with two seeds in one folder, one run failed with
//! "pre-training record missing" after the other rewrote `stages/pretrain.json`. Runs of the
//! same settings share the folder, as they always could: they compute the same stages under
//! the same keys, written atomically. So do the child stage commands of `reproduce --devices`,
//! which get their parent's settings.
//!
//! The lock is `flock` on `OUT/.dnlts.lock`, shared by the runs of one settings digest, which
//! the file records with the first holder's pid; the kernel drops a process's lock when it
//! ends, however it ends, so a killed run leaves no lock behind (at most the file, which the
//! next run takes over). The read-modify-write of that file happens under an exclusive `flock`
//! on the folder itself, held for microseconds. The last holder to finish removes the file.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

const LOCK_NAME: &str = ".dnlts.lock";

/// A held share of the lock of one results folder; released when dropped (or at exit).
pub struct OutLock {
    out: PathBuf,
    file: File,
}

/// `flock(file, operation)`: whether it was granted (false: held by another process with
/// `LOCK_NB`).
fn flock(file: &File, operation: libc::c_int) -> std::io::Result<bool> {
    // SAFETY: a valid open descriptor; flock has no other precondition.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(error),
    }
}

/// The folder itself, locked exclusively while the lock file is read or changed.
fn gate(out: &Path) -> std::io::Result<File> {
    let folder = File::open(out)?;
    flock(&folder, libc::LOCK_EX)?;
    Ok(folder)
}

impl OutLock {
    /// Takes a share of `out`'s lock for a run whose settings have the digest `settings`
    /// (`who` describes them: "profile tiny, seed 7"), or says which process holds the folder
    /// with other settings and what to do.
    pub fn acquire(out: &Path, settings: &str, who: &str) -> anyhow::Result<OutLock> {
        let cannot = |error: std::io::Error| {
            let reason = dnlts::files::describe_io(&error);
            anyhow::anyhow!("cannot lock the output folder {}: {reason}", out.display())
        };
        let _gate = gate(out).map_err(cannot)?;
        let path = out.join(LOCK_NAME);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB).map_err(cannot)? {
            // No run holds the folder: this one's settings become the folder's.
            let record = format!("{settings}\n{}\n{who}\n", std::process::id());
            file.set_len(0).map_err(cannot)?;
            file.rewind().map_err(cannot)?;
            file.write_all(record.as_bytes()).map_err(cannot)?;
            // Under the gate no other process asks for this lock, so the downgrade is not raced.
            flock(&file, libc::LOCK_SH).map_err(cannot)?;
            return Ok(OutLock { out: out.to_path_buf(), file });
        }
        let mut record = String::new();
        file.read_to_string(&mut record).map_err(cannot)?;
        let mut lines = record.lines();
        let (held, pid, holder) = (lines.next(), lines.next(), lines.next());
        if held == Some(settings) && flock(&file, libc::LOCK_SH | libc::LOCK_NB).map_err(cannot)? {
            return Ok(OutLock { out: out.to_path_buf(), file });
        }
        anyhow::bail!(
            "{} is in use by dnlts process {} ({}), a run with other settings than this one \
             ({who}); its stages would replace this run's: wait for it to finish, or give this \
             run another --out",
            out.display(),
            pid.unwrap_or("?"),
            holder.unwrap_or("settings unknown")
        )
    }
}

impl Drop for OutLock {
    /// The last holder removes the lock file, so that a finished run leaves the folder as it
    /// found it; a share still held elsewhere keeps it.
    fn drop(&mut self) {
        if let Ok(_gate) = gate(&self.out) {
            if flock(&self.file, libc::LOCK_EX | libc::LOCK_NB).unwrap_or(false) {
                let _ = std::fs::remove_file(self.out.join(LOCK_NAME));
            }
        }
    }
}

/// The digest of what a run's stages depend on, the same for a run and the child stage
/// commands of its `--devices` (which get absolute paths, and Figure 2's epochs only where
/// they make that stage): `fields` serialised with every path made canonical.
pub fn settings_digest(fields: &impl serde::Serialize) -> anyhow::Result<String> {
    let text = serde_json::to_string(fields)?;
    Ok(dnlts::digest::sha256_hex(text.as_bytes()))
}

/// `path` as the digest sees it: canonical where it exists, else absolute.
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}
