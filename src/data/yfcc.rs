//! YFCC100m-style unlabeled images: a folder tree of JPEG/PNG files and zip shards of them,
//! streamed once in a fixed (sorted) order, with the authors' filter (Section 3.2): placeholder
//! images and non-photos are removed. Each rejection is counted by reason and listed.
//!
//! Filter, in this order (cheap checks first):
//! 1. size < [`MIN_FILE_BYTES`] (2,600 bytes; also catches zero-byte files) → `SmallFile`;
//! 2. size == [`PLACEHOLDER_BYTES`] (9,218 bytes, Flickr's "photo unavailable" PNG) → `Placeholder`;
//! 3. not decodable (corrupt, truncated, not an image) → `Undecodable`; over the decode limits
//!    (decompression bomb) → `TooLarge`; a truncated JPEG (no EOI marker after its last scan)
//!    or PNG (no whole IEND chunk) is `Undecodable`;
//! 4. the largest per-channel standard deviation below [`UNIFORM_STD_THRESHOLD`] (4 levels of
//!    255) → `NearUniform` ("single colour" images; JPEG noise alone stays under ~2 levels).
//!
//! A FIFO, socket or device named like an image or a shard is never opened (reading it could
//! block forever): it is one stream entry, rejected as `NotRegularFile`, which counts against
//! the failure budget like an undecodable file.

use super::augment::{augment, AugmentConfig};
use super::resize::EvalTransform;
use super::source::{ImageSource, Sample, Split, NO_LABEL};
use super::{
    decode_rgb, has_image_extension, open_regular, read_capped, read_stream_capped, walk_files,
    DataError, FailureBudget, Result, SkipLog, SkipReason, Skipped,
};
use image::RgbImage;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const MIN_FILE_BYTES: usize = 2_600;
pub const PLACEHOLDER_BYTES: usize = 9_218;
pub const UNIFORM_STD_THRESHOLD: f64 = 4.0;

/// Applies the filter to one file's bytes.
pub fn filter(bytes: &[u8]) -> std::result::Result<RgbImage, SkipReason> {
    if bytes.len() < MIN_FILE_BYTES {
        return Err(SkipReason::SmallFile);
    }
    if bytes.len() == PLACEHOLDER_BYTES {
        return Err(SkipReason::Placeholder);
    }
    let img = decode_rgb(bytes)?;
    if max_channel_std(&img) < UNIFORM_STD_THRESHOLD {
        return Err(SkipReason::NearUniform);
    }
    Ok(img)
}

/// What the pre-training stream does to one file's bytes: the filter (decode, reject), short
/// side resized to `size`, centre crop `size`², augmentation (the paper's moderate set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PretrainTransform {
    pub size: u32,
    pub augment: AugmentConfig,
}

impl PretrainTransform {
    /// The paper's: 256² images, [`AugmentConfig::standard`].
    pub fn paper() -> Self {
        Self { size: 256, augment: AugmentConfig::standard() }
    }

    /// Stream entry `index`'s image; `name` is the file named in errors.
    pub fn apply(
        &self,
        bytes: &[u8],
        name: &str,
        seed: u64,
        index: u64,
    ) -> std::result::Result<RgbImage, SkipReason> {
        let image = filter(bytes)?;
        let transform = EvalTransform { resize: self.size, crop: self.size };
        let image = transform.apply(&image, name).map_err(|_| SkipReason::Undecodable)?;
        Ok(augment(&image, &self.augment, seed, index))
    }
}

/// Largest standard deviation of the three channels, in levels of 255.
pub fn max_channel_std(img: &RgbImage) -> f64 {
    let n = (img.width() as u64 * img.height() as u64).max(1) as f64;
    let mut sum = [0u64; 3];
    let mut sq = [0u64; 3];
    for p in img.pixels() {
        for c in 0..3 {
            let v = p.0[c] as u64;
            sum[c] += v;
            sq[c] += v * v;
        }
    }
    (0..3)
        .map(|c| {
            let mean = sum[c] as f64 / n;
            (sq[c] as f64 / n - mean * mean).max(0.0).sqrt()
        })
        .fold(0.0, f64::max)
}

/// Counts of a pass over the stream.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct FilterStats {
    pub seen: u64,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Every rejected file with its reason, in stream order.
    pub skipped: Vec<Skipped>,
}

impl FilterStats {
    fn record(&mut self, name: String, outcome: &std::result::Result<RgbImage, SkipReason>) {
        self.seen += 1;
        match outcome {
            Ok(_) => self.accepted += 1,
            Err(reason) => {
                *self.rejected.entry(format!("{reason:?}")).or_default() += 1;
                self.skipped.push(Skipped { name, reason: *reason });
            }
        }
    }
}

/// One accepted image: its place in the stream (entry number, counting rejected ones), its
/// name (`path` or `shard.zip:member`) and pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamItem {
    pub position: u64,
    pub name: String,
    pub image: RgbImage,
}

/// A file of the tree: a loose image, or a zip shard with its number of image members.
#[derive(Clone, Debug)]
enum Source {
    File(PathBuf),
    Shard { path: PathBuf, members: usize },
}

impl Source {
    fn path(&self) -> &Path {
        match self {
            Source::File(path) | Source::Shard { path, .. } => path,
        }
    }
}

/// The shard being read: its archive and image members in name order.
struct OpenShard {
    path: PathBuf,
    archive: zip::ZipArchive<File>,
    members: Vec<(usize, String)>,
    next: usize,
}

/// One pass over a folder of images and zip shards, each image used once. Memory grows with
/// the number of loose files and shards, not with the images inside shards (member lists are
/// read when a shard is reached), so a YFCC100m-sized set should be stored as shards.
pub struct YfccStream {
    sources: Vec<Source>,
    next_source: usize,
    shard: Option<OpenShard>,
    total: usize,
    position: usize,
    stats: FilterStats,
    budget: FailureBudget,
}

/// Lists the images (`*.jpg|jpeg|png`) and zip shards (`*.zip`) under `root`, sorted, and
/// checks that every shard's directory is readable, so a broken shard is reported up front.
pub fn open(root: &Path, budget: FailureBudget) -> Result<YfccStream> {
    if !root.is_dir() {
        return Err(DataError::MissingFolder(root.to_path_buf()));
    }
    let is_zip = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let walk = walk_files(root)?;
    let mut sources = Vec::new();
    // Read as a loose file, a special entry is a `NotRegularFile` rejection without an open.
    let special = walk.special.into_iter().map(|(p, _)| p);
    let special = special.filter(|p| has_image_extension(p) || is_zip(p)).map(Source::File);
    sources.extend(special);
    for path in walk.files {
        if is_zip(&path) {
            let members = open_shard(&path)?.members.len();
            sources.push(Source::Shard { path, members });
        } else if has_image_extension(&path) {
            sources.push(Source::File(path));
        }
    }
    sources.sort_by(|a, b| a.path().cmp(b.path()));
    let total = sources
        .iter()
        .map(|s| match s {
            Source::File(_) => 1,
            Source::Shard { members, .. } => *members,
        })
        .sum();
    Ok(YfccStream {
        sources,
        next_source: 0,
        shard: None,
        total,
        position: 0,
        stats: FilterStats::default(),
        budget,
    })
}

/// A zip library error in words: its own texts ("Invalid EOCD64", "No CDFH found") name
/// structures of the format, which mean nothing to whoever downloaded the shard.
fn zip_error(path: &Path, error: zip::result::ZipError) -> DataError {
    use zip::result::ZipError;
    let message = match &error {
        ZipError::Io(io) => crate::files::describe_io(io),
        ZipError::InvalidArchive(_) => "it is not a complete zip archive: its index of \
                                         members (the central directory at the end of the \
                                         file) is missing or damaged, as in a truncated \
                                         download or a file that is not a zip"
            .into(),
        ZipError::UnsupportedArchive(detail) => format!(
            "it uses a zip feature this reader does not support ({detail}); repack it as a \
             plain zip (`zip -r`)"
        ),
        other => other.to_string(),
    };
    DataError::Zip { path: path.to_path_buf(), message }
}

/// Opens a shard and lists its image members in name order.
fn open_shard(path: &Path) -> Result<OpenShard> {
    let file = open_regular(path)?;
    let archive = zip::ZipArchive::new(file).map_err(|e| zip_error(path, e))?;
    let mut members: Vec<(usize, String)> = (0..archive.len())
        .filter_map(|i| archive.name_for_index(i).and_then(|n| n.ok()).map(|n| (i, n.to_string())))
        .filter(|(_, n)| has_image_extension(Path::new(n)))
        .collect();
    members.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(OpenShard { path: path.to_path_buf(), archive, members, next: 0 })
}

/// One raw entry: name and bytes, or why the bytes cannot be used.
type RawEntry = (String, std::result::Result<Vec<u8>, SkipReason>);

impl YfccStream {
    /// Total number of images in the stream (accepted or not).
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn stats(&self) -> &FilterStats {
        &self.stats
    }

    /// The next entry in stream order, or `None` at the end. Only a shard that can no longer
    /// be opened is an error; a bad member is a skipped file.
    fn next_entry(&mut self) -> Result<Option<RawEntry>> {
        loop {
            if let Some(shard) = self.shard.as_mut() {
                if let Some((index, member)) = shard.members.get(shard.next).cloned() {
                    shard.next += 1;
                    let name = format!("{}:{member}", shard.path.display());
                    let bytes = match shard.archive.by_index(index) {
                        Ok(reader) => read_stream_capped(reader),
                        Err(_) => Err(SkipReason::Undecodable),
                    };
                    return Ok(Some((name, bytes)));
                }
                self.shard = None;
            }
            let Some(source) = self.sources.get(self.next_source).cloned() else {
                return Ok(None);
            };
            self.next_source += 1;
            match source {
                Source::File(path) => {
                    return Ok(Some((path.display().to_string(), read_capped(&path))));
                }
                Source::Shard { path, .. } => self.shard = Some(open_shard(&path)?),
            }
        }
    }

    /// Reads up to `count` entries in order, filters them in parallel (current rayon pool) and
    /// returns the accepted images in stream order. Empty at the end.
    pub fn next_chunk(&mut self, count: usize) -> Result<Vec<StreamItem>> {
        let mut raw = Vec::with_capacity(count);
        while raw.len() < count {
            let Some((name, bytes)) = self.next_entry()? else {
                // A shard that shrank since `open` must not leave the stream waiting forever.
                self.total = self.position;
                break;
            };
            raw.push((self.position as u64, name, bytes));
            self.position += 1;
        }
        let outcomes: Vec<_> = raw
            .into_par_iter()
            .map(|(position, name, bytes)| (position, name, bytes.and_then(|b| filter(&b))))
            .collect();
        let mut accepted = Vec::new();
        for (position, name, outcome) in outcomes {
            self.stats.record(name.clone(), &outcome);
            if let Ok(image) = outcome {
                accepted.push(StreamItem { position, name, image });
            }
        }
        if self.stats.seen >= 100 || self.position >= self.total {
            self.budget.check(self.stats.seen, &self.stats.skipped)?;
        }
        Ok(accepted)
    }
}

impl Iterator for YfccStream {
    type Item = Result<StreamItem>;

    /// One accepted image at a time, skipping (and counting) rejected ones.
    fn next(&mut self) -> Option<Self::Item> {
        while self.position < self.total {
            match self.next_chunk(1) {
                Ok(mut chunk) => {
                    if let Some(item) = chunk.pop() {
                        return Some(Ok(item));
                    }
                }
                Err(e) => {
                    self.position = self.total;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// YFCC100m as an [`ImageSource`]: its only split is the unlabelled [`Split::Stream`] AE
/// pre-training reads, entry `i` of the sorted tree (loose files and shard members) through the
/// authors' filter, resized (short side) and centre-cropped to `size`, then augmented with the
/// key `(augment_seed, i)`. Indices past the end wrap around with new augmentations, so a tree
/// smaller than the run asks for is read again (`dnlts doctor` warns of it). A filtered entry
/// is replaced by the next accepted one ([`ImageSource::labelled`]), so that image appears
/// twice; filtered entries are a few percent of YFCC100m.
///
/// Member lists are read when a shard is reached (one shard is kept open), so memory grows
/// with the number of loose files and shards, not with the images inside shards.
pub struct Yfcc {
    sources: Vec<Source>,
    /// Stream position of each source's first entry.
    starts: Vec<u64>,
    total: u64,
    size: u32,
    augment: AugmentConfig,
    augment_seed: u64,
    shard: Mutex<Option<(usize, OpenShard)>>,
    skipped: SkipLog,
}

impl Yfcc {
    /// Indexes `root` (as [`open`] does) for images of `size`² with the standard augmentation.
    pub fn open(root: &Path, size: u32, augment_seed: u64) -> Result<Self> {
        if size == 0 {
            return Err(DataError::InvalidValue {
                name: "size",
                value: "0".into(),
                fix: "give the pre-training images a side of at least 1",
            });
        }
        let sources = open(root, FailureBudget::default())?.sources;
        let mut starts = Vec::with_capacity(sources.len());
        let mut total = 0u64;
        for source in &sources {
            starts.push(total);
            total += match source {
                Source::File(_) => 1,
                Source::Shard { members, .. } => *members as u64,
            };
        }
        Ok(Yfcc {
            sources,
            starts,
            total,
            size,
            augment: AugmentConfig::standard(),
            augment_seed,
            shard: Mutex::new(None),
            skipped: SkipLog::default(),
        })
    }

    /// The same index without augmentation (its own shard handle and skip log): held-out
    /// images, as Figure 2's second regime checks an AE trained on ImageNet on YFCC100m.
    pub fn unaugmented(&self) -> Yfcc {
        Yfcc {
            sources: self.sources.clone(),
            starts: self.starts.clone(),
            total: self.total,
            size: self.size,
            augment: AugmentConfig::default(),
            augment_seed: self.augment_seed,
            shard: Mutex::new(None),
            skipped: SkipLog::default(),
        }
    }

    /// Which source holds stream entry `position` (`< total`), and the entry's place in it.
    fn locate(&self, position: u64) -> (usize, usize) {
        let source = self.starts.partition_point(|&start| start <= position) - 1;
        (source, (position - self.starts[source]) as usize)
    }

    /// Name and bytes of entry `position`: only the read happens under the shard's lock.
    fn raw(&self, position: u64) -> RawEntry {
        if self.total == 0 {
            return ("(a YFCC tree without images)".into(), Err(SkipReason::Undecodable));
        }
        let (k, member) = self.locate(position % self.total);
        match &self.sources[k] {
            Source::File(path) => (path.display().to_string(), read_capped(path)),
            Source::Shard { path, .. } => {
                let mut open = self.shard.lock().unwrap_or_else(|e| e.into_inner());
                if open.as_ref().map(|(at, _)| *at) != Some(k) {
                    match open_shard(path) {
                        Ok(shard) => *open = Some((k, shard)),
                        Err(_) => {
                            return (path.display().to_string(), Err(SkipReason::Undecodable))
                        }
                    }
                }
                let (_, shard) = open.as_mut().expect("opened above");
                let Some((index, name)) = shard.members.get(member).cloned() else {
                    // The shard shrank since it was indexed.
                    return (path.display().to_string(), Err(SkipReason::Undecodable));
                };
                let bytes = match shard.archive.by_index(index) {
                    Ok(reader) => read_stream_capped(reader),
                    Err(_) => Err(SkipReason::Undecodable),
                };
                (format!("{}:{name}", path.display()), bytes)
            }
        }
    }
}

impl ImageSource for Yfcc {
    fn image_size(&self) -> i64 {
        self.size as i64
    }

    fn classes(&self) -> i64 {
        0
    }

    fn len(&self, split: Split) -> u64 {
        match split {
            Split::Stream => self.total,
            _ => 0,
        }
    }

    fn load(&self, _: Split, index: u64) -> std::result::Result<Sample, SkipReason> {
        let (name, bytes) = self.raw(index);
        let transform = PretrainTransform { size: self.size, augment: self.augment };
        let image = transform.apply(&bytes?, &name, self.augment_seed, index)?;
        Ok(Sample { image, label: NO_LABEL })
    }

    fn name(&self, _: Split, index: u64) -> String {
        self.raw(index).0
    }

    fn skip_log(&self) -> Option<&SkipLog> {
        Some(&self.skipped)
    }
}
