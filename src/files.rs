//! Opening a user's file safely, and I/O failures in words a person can act on.
//!
//! A FIFO, socket or device given where a file belongs is never opened (reading one can block
//! forever), and errors say what is wrong with the path ("does not exist", "is a folder") and
//! what to do, not the operating system's error number.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {}", path.display(), describe_io(source))]
    Io { path: PathBuf, source: io::Error },
    #[error("{} is a folder, not a file; give the path of the file", path.display())]
    Folder { path: PathBuf },
    #[error("{} is a {kind}, not a regular file; it was not opened because reading it could block forever; replace it with the file itself or remove it", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} exists and is not a folder, but results are written into a folder there; choose another path", path.display())]
    NotAFolder { path: PathBuf },
}

/// What an output path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A file, replaced if it exists.
    File,
    /// A folder, created if it does not exist.
    Folder,
}

/// Refuses an output path that something else occupies, before any work starts: a folder
/// output where a file (or FIFO) is, a file output where a folder, FIFO or device is.
pub fn check_output(path: &Path, output: Output) -> Result<(), FileError> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    match (output, special_kind(&meta.file_type())) {
        (Output::Folder, _) if !meta.is_dir() => Err(FileError::NotAFolder { path: path.into() }),
        (Output::File, _) if meta.is_dir() => Err(FileError::Folder { path: path.into() }),
        (Output::File, Some(kind)) => Err(FileError::NotRegular { path: path.into(), kind }),
        _ => Ok(()),
    }
}

/// What an I/O error means for the path it happened on, and what to do: "does not exist;
/// check the path", never "No such file or directory (os error 2)".
pub fn describe_io(error: &io::Error) -> String {
    if error.raw_os_error() == Some(libc::ELOOP) {
        return "it is a symbolic link that leads back to itself (a loop); point the link at a \
                real file"
            .into();
    }
    match error.kind() {
        io::ErrorKind::NotFound => "it does not exist; check the path (relative paths start \
                                    from the current folder)"
            .into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied; make it readable (writable, for outputs) or run as a user who \
             may access it"
                .into()
        }
        io::ErrorKind::IsADirectory => "it is a folder, not a file; give the path of a file".into(),
        io::ErrorKind::NotADirectory => {
            "a part of the path that should be a folder is a file; check the path".into()
        }
        io::ErrorKind::AlreadyExists => "a file of that name is in the way of a folder to be \
                                         created; choose another path"
            .into(),
        io::ErrorKind::StorageFull => "the disk is full; free space and run again".into(),
        io::ErrorKind::QuotaExceeded => {
            "the disk quota is used up; free space (or get a larger quota) and run again".into()
        }
        io::ErrorKind::FileTooLarge => {
            "the file is larger than this file system allows; write to another disk".into()
        }
        // What a writer says when the disk stops taking bytes without an error of its own.
        io::ErrorKind::WriteZero => {
            "the write stopped short (a full disk does this); free space and run again".into()
        }
        io::ErrorKind::ReadOnlyFilesystem => {
            "the file system is read-only; choose a writable place".into()
        }
        io::ErrorKind::UnexpectedEof => "it ends early (truncated); replace it with a complete \
                                         copy"
            .into(),
        _ => format!("{}; check that the path is right and accessible", without_os_code(error)),
    }
}

/// Text from inside a user's file (a tensor name), made safe to print on a terminal: control
/// characters (a newline that would forge a line, an escape sequence) and the bidirectional
/// controls that reorder what follows them (U+202A–U+202E, U+2066–U+2069, the marks U+200E,
/// U+200F, U+061C) are written as Rust escapes (`\n`, `\u{202e}`); a backslash as `\\`, so
/// that an escape is never ambiguous.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c == '\\'
            || c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
    };
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => shown.push_str("\\\\"),
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if unsafe_char(c) => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// The operating system's message without its " (os error N)" suffix.
fn without_os_code(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// What a path is when it is neither a regular file nor a folder ("FIFO (named pipe)",
/// "socket", …), following symbolic links; `None` for files and folders.
pub fn special_kind(file_type: &std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() || file_type.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("FIFO (named pipe)");
        }
        if file_type.is_socket() {
            return Some("socket");
        }
        if file_type.is_char_device() {
            return Some("character device");
        }
        if file_type.is_block_device() {
            return Some("block device");
        }
    }
    Some("special file")
}

/// Checks, without opening it, that `path` is a regular file: for paths handed to readers
/// that open files themselves (libtorch, the image decoder).
pub fn check_regular(path: &Path) -> Result<(), FileError> {
    let meta =
        std::fs::metadata(path).map_err(|source| FileError::Io { path: path.into(), source })?;
    kind_error(path, &meta)
}

fn kind_error(path: &Path, meta: &std::fs::Metadata) -> Result<(), FileError> {
    if meta.is_dir() {
        return Err(FileError::Folder { path: path.into() });
    }
    match special_kind(&meta.file_type()) {
        Some(kind) => Err(FileError::NotRegular { path: path.into(), kind }),
        None => Ok(()),
    }
}

/// Opens `path` for reading only if it is a regular file. The type is checked before opening
/// (a FIFO is never opened), and again on the open handle, which is opened non-blocking so
/// that a file swapped for a FIFO in between cannot block either.
pub fn open_regular(path: &Path) -> Result<std::fs::File, FileError> {
    let io_error = |source| FileError::Io { path: path.into(), source };
    check_regular(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io_error)?;
    kind_error(path, &file.metadata().map_err(io_error)?)?;
    Ok(file)
}

/// Reads a whole regular file with [`open_regular`] (no size cap: for small files).
pub fn read_regular(path: &Path) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular(path)?
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io { path: path.into(), source })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_could_forge_or_reorder_a_line() {
        assert_eq!(printable("conv1.weight"), "conv1.weight");
        assert_eq!(printable("a\nb\u{202e}c\\d\u{1b}[2J"), "a\\nb\\u{202e}c\\\\d\\u{1b}[2J");
        assert_eq!(printable("ünïcödé"), "ünïcödé");
    }

    #[test]
    fn errors_say_what_is_wrong_in_words() {
        let dir = std::env::temp_dir().join(format!("dnlts-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = read_regular(&dir.join("missing")).unwrap_err().to_string();
        assert!(missing.contains("missing: it does not exist; check the path"), "{missing}");
        assert!(!missing.contains("os error"), "{missing}");
        let folder = read_regular(&dir).unwrap_err().to_string();
        assert!(folder.contains("is a folder, not a file"), "{folder}");
        let link = dir.join("loop");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&link, &link).unwrap();
        let looped = read_regular(&link).unwrap_err().to_string();
        assert!(looped.contains("leads back to itself"), "{looped}");
        let fifo = dir.join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        let _ = std::fs::remove_file(&fifo);
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let pipe = read_regular(&fifo).unwrap_err().to_string();
        assert!(pipe.contains("is a FIFO (named pipe), not a regular file"), "{pipe}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
