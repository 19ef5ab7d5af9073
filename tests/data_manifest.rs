//! sha256 manifests: write, verify, and report missing/changed/extra files.

mod common;

use common::{temp_dir, write};
use dnlts::data::manifest::{self, MANIFEST_NAME};

#[test]
fn verify_reports_missing_changed_and_extra_files() {
    let dir = temp_dir("manifest");
    write(&dir.join("a.jpg"), b"aaa");
    write(&dir.join("sub/b.jpg"), b"bbb");
    write(&dir.join("sub/c.jpg"), b"ccc");
    assert_eq!(manifest::write(&dir).unwrap(), 3);
    let text = std::fs::read_to_string(dir.join(MANIFEST_NAME)).unwrap();
    // sha256("aaa"), in sha256sum's format.
    assert!(text
        .starts_with("9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0  a.jpg\n"));
    assert!(text.contains("  sub/b.jpg\n"));
    assert!(manifest::verify(&dir).unwrap().is_ok());
    // No temp file is left behind.
    let leftovers = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"));
    assert_eq!(leftovers.count(), 0);

    std::fs::remove_file(dir.join("sub/b.jpg")).unwrap();
    write(&dir.join("sub/c.jpg"), b"CCC");
    write(&dir.join("d.jpg"), b"ddd");
    let report = manifest::verify(&dir).unwrap();
    assert_eq!(report.missing, ["sub/b.jpg"]);
    assert_eq!(report.changed, ["sub/c.jpg"]);
    assert_eq!(report.extra, ["d.jpg"]);
    assert_eq!(report.checked, 1);
    assert!(!report.is_ok());
}

#[test]
fn bad_or_absent_manifests_are_errors() {
    let dir = temp_dir("manifest-bad");
    assert!(manifest::verify(&dir).unwrap_err().to_string().contains(MANIFEST_NAME));
    write(&dir.join(MANIFEST_NAME), b"not a manifest line\n");
    let err = manifest::verify(&dir).unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
    assert!(manifest::write(&dir.join("missing")).is_err());
}

/// Names the manifest's text cannot hold as they are: a non-UTF-8 name is refused by name
/// (two such files once collapsed into one entry, and editing one still verified); a name
/// with a newline, a CR or a backslash is escaped as sha256sum does, and read back the same.
#[test]
fn awkward_names_are_refused_by_name_or_escaped_both_ways() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp_dir("manifest-names");
    let odd = |bytes: &[u8]| dir.join(std::ffi::OsStr::from_bytes(bytes));
    write(&odd(b"a\xff.jpg"), b"one");
    write(&odd(b"a\xfe.jpg"), b"two");
    let error = manifest::write(&dir).unwrap_err().to_string();
    assert!(error.contains("is not UTF-8") && error.contains(r"a\xFE.jpg"), "{error}");
    std::fs::remove_file(odd(b"a\xff.jpg")).unwrap();
    std::fs::remove_file(odd(b"a\xfe.jpg")).unwrap();

    let names = ["two\nlines.jpg", "back\\slash.jpg", "cr\r.jpg", "plain.jpg"];
    for (k, name) in names.iter().enumerate() {
        write(&dir.join(name), format!("content {k}").as_bytes());
    }
    assert_eq!(manifest::write(&dir).unwrap(), 4);
    let text = std::fs::read_to_string(dir.join(MANIFEST_NAME)).unwrap();
    assert_eq!(text.lines().count(), 4, "one line per file: {text:?}");
    assert!(text.contains("  two\\nlines.jpg\n") && text.contains("  back\\\\slash.jpg\n"));
    assert!(text.lines().filter(|l| l.starts_with('\\')).count() == 3, "{text:?}");
    let report = manifest::verify(&dir).unwrap();
    assert!(report.is_ok() && report.checked == 4, "{report:?}");
    write(&dir.join("two\nlines.jpg"), b"edited");
    assert_eq!(manifest::verify(&dir).unwrap().changed, ["two\nlines.jpg"]);
}

/// A file listed twice is an error naming both lines, whichever hash is right (the last line
/// once won); a hidden `.MANIFEST.*` file beside the manifest is hashed and reported like any
/// other (it was left out of both).
#[test]
fn a_file_listed_twice_is_an_error_and_hidden_manifest_lookalikes_are_checked() {
    let dir = temp_dir("manifest-twice");
    write(&dir.join("a.jpg"), b"aaa");
    manifest::write(&dir).unwrap();
    let good = std::fs::read_to_string(dir.join(MANIFEST_NAME)).unwrap();
    let wrong = format!("{}  a.jpg\n", "0".repeat(64));
    for text in [format!("{wrong}{good}"), format!("{good}{wrong}")] {
        write(&dir.join(MANIFEST_NAME), text.as_bytes());
        let error = manifest::verify(&dir).unwrap_err().to_string();
        assert!(error.contains("line 2 lists \"a.jpg\" again (first on line 1)"), "{error}");
    }
    write(&dir.join(MANIFEST_NAME), good.as_bytes());
    write(&dir.join(".MANIFEST.sha256.old"), b"planted");
    assert_eq!(manifest::verify(&dir).unwrap().extra, [".MANIFEST.sha256.old"]);
    assert_eq!(manifest::write(&dir).unwrap(), 2);
    write(&dir.join(".MANIFEST.sha256.old"), b"changed");
    assert_eq!(manifest::verify(&dir).unwrap().changed, [".MANIFEST.sha256.old"]);
}
