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
