//! Shipped classifier sets: a scaled profile's built-in classifiers trained once with the long
//! recipes (`dnlts ship-classifiers`) and kept as files, as the paper is given torchvision's.
//! A set is a folder of `<family name>.safetensors` beside `manifest.json`, which names each
//! file's sha256, its test top-1 and how it was made. A run loads a set's files strictly and
//! only as its manifest lists them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use dnlts::models::Family;

pub const MANIFEST: &str = "manifest.json";

/// The set called `name` in this repository, `fixtures/classifiers/<name>`.
pub fn repository_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the suite crate sits in the repository")
        .join("fixtures/classifiers")
        .join(name)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The profile whose models and images the set is for.
    pub profile: String,
    /// By family name (`Family::name`).
    pub classifiers: BTreeMap<String, Entry>,
}

/// One shipped classifier: its file and how it was made and measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub file: String,
    pub sha256: String,
    /// The master seed of the run that trained it (its images and its initialisation).
    pub seed: u64,
    /// Correct top-1 answers on the first `test_images` test images of that seed's world.
    pub test_correct: u64,
    pub test_images: u64,
    pub test_top1: f64,
    /// Top-1 on the same images with one cue switched off, by cue: what the family reads.
    pub test_top1_without: BTreeMap<String, f64>,
    /// libtorch threads of that measurement (a check repeats it on as many).
    pub measured_threads: usize,
    /// The `ClassifyConfig` it trained with, and on how many labelled images.
    pub recipe: serde_json::Value,
    pub train_images: u64,
    /// Its training record: seconds and the per-epoch checks (validation top-1).
    pub seconds: f64,
    pub log: serde_json::Value,
    pub threads: usize,
    pub kernels: String,
    /// The command that made it, and the code it ran.
    pub command: String,
    pub dnlts_commit: String,
}

/// The manifest of the set in `dir`.
pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the classifier set's manifest {}: restore the shipped set (git \
             checkout fixtures/classifiers), point --weights at a set `dnlts ship-classifiers` \
             made, or train the classifiers in the run with --train-classifiers",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a classifier-set manifest (damaged, or not written by `dnlts \
             ship-classifiers`): restore it with git checkout, or make the set again",
            path.display()
        )
    })
}

/// The file of `family` in the set in `dir` for `profile`, once its sha256 (`sha256_of`) is
/// the one the manifest lists.
pub fn checked_file(
    dir: &Path,
    profile: &str,
    family: Family,
    sha256_of: impl FnOnce(&Path) -> anyhow::Result<String>,
) -> anyhow::Result<PathBuf> {
    let manifest = read(dir)?;
    let remake = format!(
        "dnlts ship-classifiers --profile {profile} --families {} --out {}",
        family.letter(),
        dir.display()
    );
    anyhow::ensure!(
        manifest.profile == profile,
        "the classifier set in {} is for profile '{}', not '{profile}': its networks and images \
         differ; use the set made for '{profile}' ({remake})",
        dir.display(),
        manifest.profile
    );
    let entry = manifest.classifiers.get(family.name()).with_context(|| {
        format!(
            "the classifier set in {} has no {} (its manifest lists {}): add it with `{remake}`",
            dir.display(),
            family.name(),
            manifest.classifiers.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let file = dir.join(&entry.file);
    let found = sha256_of(&file).with_context(|| format!("the shipped {}", family.name()))?;
    anyhow::ensure!(
        found == entry.sha256,
        "{} is not the file its manifest lists (sha256 {found}, the manifest's {}): it was \
         replaced or damaged (a Git LFS pointer, an interrupted copy); restore it with git \
         checkout, or make it again with `{remake}`",
        file.display(),
        entry.sha256
    );
    Ok(file)
}

/// Adds (or replaces) `family`'s entry in the manifest of the set in `dir`, written atomically
/// so that a set is never left with a half-written manifest.
pub fn record(dir: &Path, profile: &str, family: Family, entry: Entry) -> anyhow::Result<()> {
    // Two `ship-classifiers` writing one set (one family each, say) take turns.
    let lock_path = dir.join(".manifest.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    // SAFETY: flock on a file descriptor this function owns; released when `lock` closes.
    let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    anyhow::ensure!(locked == 0, "cannot lock {}", lock_path.display());
    let mut manifest = if dir.join(MANIFEST).is_file() {
        read(dir)?
    } else {
        Manifest { profile: profile.to_string(), classifiers: BTreeMap::new() }
    };
    anyhow::ensure!(
        manifest.profile == profile,
        "{} holds a classifier set for profile '{}': write the set for '{profile}' to another \
         folder",
        dir.display(),
        manifest.profile
    );
    manifest.classifiers.insert(family.name().to_string(), entry);
    crate::output::write_json(&dir.join(MANIFEST), &manifest)
}
