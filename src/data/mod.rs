//! Data layer: embedded synthetic datasets, real-dataset readers (ImageNet, YFCC100m-style
//! streams, Fashion-MNIST), augmentation, evaluation noise, batching and manifests.
//!
//! Images are `image::RgbImage` (HWC, RGB, `u8`); batches are plain byte buffers so that the
//! tensor conversion lives with the model code. Every random choice is derived from
//! `(seed, index)` through [`SampleRng`], a counter-based generator, so any sample can be made
//! alone, in any order, on any thread, with the same bytes.

pub mod augment;
pub mod batch;
pub mod export;
pub mod fashion;
pub mod imagenet;
pub mod manifest;
pub mod noise;
pub mod preview;
pub mod resize;
pub mod source;
pub mod synthetic;
pub mod yfcc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Errors of the data layer. Each message names the file or value at fault and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read or write {path}: {}", crate::files::describe_io(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("folder {0} does not exist; pass the dataset root that contains it (see fixtures/README.md for layouts)")]
    MissingFolder(PathBuf),
    #[error(
        "class folder {0} holds no images (*.jpg, *.jpeg, *.png); remove it or add its images"
    )]
    EmptyClass(PathBuf),
    #[error("{file}: line/record {line} names label {label:?}, which is not one of the {known} known classes; fix the labels or add the class")]
    UnknownLabel { file: PathBuf, line: usize, label: String, known: usize },
    #[error("{file}: {message}")]
    BadFormat { file: PathBuf, message: String },
    #[error("invalid value '{value}' for {name}: {fix}")]
    InvalidValue { name: &'static str, value: String, fix: &'static str },
    #[error(
        "index {index} is past the end of split {split} (length {len}); use an index below {len}"
    )]
    IndexOutOfRange { split: String, index: u64, len: u64 },
    #[error("{failed} of {seen} files failed to load ({percent:.2}% > allowed {allowed:.2}%); examples: {examples}; repair or remove them")]
    TooManyFailures { failed: u64, seen: u64, percent: f64, allowed: f64, examples: String },
    #[error("{failed} of {seen} files sampled evenly from {total} failed to load ({percent:.2}%, far above the allowed {allowed:.2}%); examples: {examples}; repair or remove the damaged files")]
    TooManyFailedInSample {
        failed: u64,
        seen: u64,
        total: u64,
        percent: f64,
        allowed: f64,
        examples: String,
    },
    #[error(
        "image {what} is {width}x{height}, smaller than the {crop}x{crop} crop; resize it first"
    )]
    TooSmallForCrop { what: String, width: u32, height: u32, crop: u32 },
    #[error("cannot encode or decode {what}: {message}; check the output path, disk space and permissions")]
    Image { what: String, message: String },
    #[error("cannot read zip shard {path}: {message}; re-download the shard")]
    Zip { path: PathBuf, message: String },
    #[error("{path} is a {kind}, not a regular file; it was not opened because reading it could block forever; replace it with the file itself or remove it")]
    NotRegularFile { path: PathBuf, kind: &'static str },
    #[error("{link} is a symbolic link to {target}, a folder that contains it; walking it would never end; remove the link or point it outside the dataset")]
    SymlinkLoop { link: PathBuf, target: PathBuf },
    #[error(transparent)]
    File(crate::files::FileError),
    #[error("invalid value {name} = {value}: {message}")]
    OverLimit { name: &'static str, value: String, message: String },
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

/// SplitMix64 finaliser: a bijective 64-bit mixer (Steele, Lea, Flood 2014).
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Counter-based generator: the stream for `(seed, index, purpose)` is fixed, so a sample's
/// randomness never depends on which other samples were made before it or on which thread.
#[derive(Clone, Debug)]
pub struct SampleRng {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SampleRng {
    /// `purpose` separates independent uses of the same sample (generator, augmentation, noise).
    pub fn new(seed: u64, index: u64, purpose: u64) -> Self {
        let key = mix64(seed ^ mix64(index.wrapping_add(GOLDEN_GAMMA)) ^ mix64(purpose ^ 0xA5A5));
        Self { state: key }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// Uniform in `[0, 1)` with 24 random bits: exactly representable, identical everywhere.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[-1, 1)`.
    pub fn signed(&mut self) -> f32 {
        self.unit() * 2.0 - 1.0
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in `0..n` (multiply-shift, no modulo bias worth noting for small n).
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }

    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// Stateless per-element randomness (one hash per pixel), used where a sequential stream would
/// make the value depend on iteration order.
pub fn hash_unit(key: u64, element: u64) -> f32 {
    (mix64(key ^ mix64(element.wrapping_mul(GOLDEN_GAMMA))) >> 40) as f32 * (1.0 / 16_777_216.0)
}

/// Why one file was not used. Filter rejections (YFCC) and load failures share this type so
/// that every reader reports counts the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum SkipReason {
    /// Could not be decoded: corrupt, truncated, zero bytes, not an image.
    Undecodable,
    /// Header announces more pixels or memory than the decode limits allow (decompression bomb).
    TooLarge,
    /// A FIFO, socket or device where an image should be: never opened, because reading one
    /// can block forever.
    NotRegularFile,
    /// YFCC filter: file under [`yfcc::MIN_FILE_BYTES`].
    SmallFile,
    /// YFCC filter: exactly [`yfcc::PLACEHOLDER_BYTES`], Flickr's "photo unavailable" image.
    Placeholder,
    /// YFCC filter: near-uniform image (see [`yfcc::UNIFORM_STD_THRESHOLD`]).
    NearUniform,
}

impl SkipReason {
    /// Load failures count against the failure budget; filter rejections are expected.
    pub fn is_failure(self) -> bool {
        matches!(self, SkipReason::Undecodable | SkipReason::TooLarge | SkipReason::NotRegularFile)
    }
}

/// One skipped file with its reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: SkipReason,
}

/// How many failed files a dataset may contain before loading stops.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailureBudget {
    /// Largest allowed fraction of failed files (default 0.01 = 1%).
    pub max_fraction: f64,
}

impl Default for FailureBudget {
    fn default() -> Self {
        Self { max_fraction: 0.01 }
    }
}

impl FailureBudget {
    pub fn check(&self, seen: u64, skipped: &[Skipped]) -> Result<()> {
        let failures: Vec<&Skipped> = skipped.iter().filter(|s| s.reason.is_failure()).collect();
        let failed = failures.len() as u64;
        if seen == 0 || failed as f64 <= self.max_fraction * seen as f64 {
            return Ok(());
        }
        let examples: Vec<String> =
            failures.iter().take(5).map(|s| format!("{} ({:?})", s.name, s.reason)).collect();
        Err(DataError::TooManyFailures {
            failed,
            seen,
            percent: 100.0 * failed as f64 / seen as f64,
            allowed: 100.0 * self.max_fraction,
            examples: examples.join(", "),
        })
    }

    /// The budget on a sample of `tried` of a split's `total` files, before a run reads them.
    /// A sample that is the whole split is held to the budget itself. A smaller one (evenly
    /// spaced) is refused only past five times the budget: at a true rate of 1 %, a sample of
    /// 1,000 files has about 10 failures (standard deviation about 3), so 50 means far more
    /// than 1 % of the split is damaged, while a split within the budget is practically never
    /// stopped by chance; the exact count is checked as the run reads the files.
    pub fn check_sample(&self, tried: u64, total: u64, failed: &[Skipped]) -> Result<()> {
        if tried >= total {
            return self.check(total, failed);
        }
        let loose = FailureBudget { max_fraction: 5.0 * self.max_fraction };
        loose.check(tried, failed).map_err(|error| match error {
            DataError::TooManyFailures { failed, seen, percent, examples, .. } => {
                DataError::TooManyFailedInSample {
                    failed,
                    seen,
                    total,
                    percent,
                    allowed: 100.0 * self.max_fraction,
                    examples,
                }
            }
            other => other,
        })
    }
}

/// Thread-safe list of skipped files, shared by parallel loaders. A file is listed once,
/// with the first reason it failed for, however often it is read: the failure budget counts
/// files, and a file read every epoch (or as the replacement of its neighbours) is one.
#[derive(Debug, Default)]
pub struct SkipLog {
    inner: Mutex<BTreeMap<String, SkipReason>>,
}

impl SkipLog {
    pub fn record(&self, name: String, reason: SkipReason) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entry(name).or_insert(reason);
    }

    /// Sorted by name so reports do not depend on thread scheduling.
    pub fn snapshot(&self) -> Vec<Skipped> {
        let files = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        files.iter().map(|(name, reason)| Skipped { name: name.clone(), reason: *reason }).collect()
    }
}

/// Decode limits used for every file read from disk: 64 Mpixel and 512 MiB, which no real
/// photo of the paper's datasets reaches but a decompression bomb does.
pub fn decode_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);
    limits
}

/// Largest file the readers load (64 MiB): far above any photo of the paper's datasets, and
/// it keeps a huge file or a zip bomb member from exhausting memory before decoding starts.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

pub use crate::files::special_kind;

impl From<crate::files::FileError> for DataError {
    fn from(error: crate::files::FileError) -> Self {
        use crate::files::FileError;
        match error {
            FileError::Io { path, source } => DataError::Io { path, source },
            FileError::Folder { path } => DataError::NotRegularFile { path, kind: "folder" },
            FileError::NotRegular { path, kind } => DataError::NotRegularFile { path, kind },
            other => DataError::File(other),
        }
    }
}

/// [`crate::files::open_regular`] with the data layer's errors.
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    Ok(crate::files::open_regular(path)?)
}

/// [`crate::files::read_regular`] with the data layer's errors (for small metadata files).
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>> {
    Ok(crate::files::read_regular(path)?)
}

/// [`read_regular`] as UTF-8 text.
pub(crate) fn read_regular_text(path: &Path) -> Result<String> {
    String::from_utf8(read_regular(path)?).map_err(|_| DataError::BadFormat {
        file: path.to_path_buf(),
        message: "is not UTF-8 text; write it as plain text".into(),
    })
}

/// Reads a whole file unless it exceeds [`MAX_FILE_BYTES`]; unreadable files are `Undecodable`,
/// FIFOs, sockets and devices `NotRegularFile` (never opened: reading one can block forever).
pub fn read_capped(path: &Path) -> std::result::Result<Vec<u8>, SkipReason> {
    match open_regular(path) {
        Ok(file) => read_stream_capped(file),
        Err(DataError::NotRegularFile { .. }) => Err(SkipReason::NotRegularFile),
        Err(_) => Err(SkipReason::Undecodable),
    }
}

/// Reads at most [`MAX_FILE_BYTES`] from a stream; more is `TooLarge`.
pub fn read_stream_capped(reader: impl std::io::Read) -> std::result::Result<Vec<u8>, SkipReason> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|_| SkipReason::Undecodable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(SkipReason::TooLarge);
    }
    Ok(bytes)
}

/// Decodes any PNG/JPEG from memory into RGB with [`decode_limits`]; never panics.
pub fn decode_rgb(bytes: &[u8]) -> std::result::Result<image::RgbImage, SkipReason> {
    decode_rgb_with(bytes, decode_limits())
}

/// The JPEG decoder fills a truncated scan with grey instead of failing, so a JPEG counts as
/// complete only if an end-of-image marker (FF D9) follows its last start-of-scan (FF DA).
/// Markers cannot occur inside entropy-coded data (FF is stuffed as FF 00), so this holds for
/// baseline and progressive files, with or without trailing bytes after EOI. This is what
/// Pillow does by default (`LOAD_TRUNCATED_IMAGES = False`).
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(pos) => bytes[pos..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// The 8-byte signature every PNG starts with.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The PNG decoder accepts a file whose last chunk (IEND) is cut off, since the pixels are all
/// there by then; a file is complete only if its chunks, walked by their lengths from the
/// signature, reach a whole IEND chunk (bytes after it are allowed, as for JPEG's EOI). A cut
/// anywhere earlier is also caught here, before the decoder runs.
pub fn png_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return false;
    }
    let mut pos = PNG_SIGNATURE.len();
    while let Some(header) = bytes.get(pos..pos + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        // length, type, data, CRC
        let Some(end) = pos.checked_add(12).and_then(|p| p.checked_add(length)) else {
            return false;
        };
        if end > bytes.len() {
            return false;
        }
        if &header[4..8] == b"IEND" {
            return true;
        }
        pos = end;
    }
    false
}

pub fn decode_rgb_with(
    bytes: &[u8],
    limits: image::Limits,
) -> std::result::Result<image::RgbImage, SkipReason> {
    if bytes.starts_with(&[0xFF, 0xD8]) && !jpeg_is_complete(bytes) {
        return Err(SkipReason::Undecodable);
    }
    if bytes.starts_with(&PNG_SIGNATURE) && !png_is_complete(bytes) {
        return Err(SkipReason::Undecodable);
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| SkipReason::Undecodable)?;
    reader.limits(limits);
    match reader.decode() {
        Ok(img) => Ok(img.into_rgb8()),
        Err(image::ImageError::Limits(_)) => Err(SkipReason::TooLarge),
        Err(_) => Err(SkipReason::Undecodable),
    }
}

/// What [`walk_files`] found under a folder, each list sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    /// Regular files, and entries whose type cannot be read (a dangling symbolic link), so
    /// that reading them reports the error.
    pub files: Vec<PathBuf>,
    /// FIFOs, sockets and devices with their kind: never to be opened, since reading one can
    /// block forever. Each reader says what it does with them.
    pub special: Vec<(PathBuf, &'static str)>,
}

/// Lists the entries under `dir` recursively (following symbolic links), sorted, so every
/// reader sees the same order. A link to a folder that contains it is an error, since the
/// walk would never end. Each real folder is walked once, under the first path (in sorted
/// order) that reaches it: links reaching one folder along many paths (two links to the next
/// level, 40 levels deep, make 2^40 paths) would otherwise be walked once per path.
pub(crate) fn walk_files(dir: &Path) -> Result<Walk> {
    let mut walk = Walk::default();
    let root = std::fs::canonicalize(dir).map_err(io_err(dir))?;
    let mut visited = std::collections::HashSet::new();
    // Each folder to visit with the real (canonical) folders above it and itself.
    let mut stack = vec![(dir.to_path_buf(), vec![root])];
    while let Some((d, ancestors)) = stack.pop() {
        // Marked when popped, not when pushed, so that the first path in depth-first sorted
        // order wins over a sibling pushed earlier.
        if !visited.insert(ancestors.last().cloned().unwrap_or_default()) {
            continue;
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&d).map_err(io_err(&d))? {
            entries.push(entry.map_err(io_err(&d))?.path());
        }
        entries.sort();
        let mut folders = Vec::new();
        for path in entries {
            let Ok(meta) = std::fs::metadata(&path) else {
                walk.files.push(path);
                continue;
            };
            if meta.is_dir() {
                let real = std::fs::canonicalize(&path).map_err(io_err(&path))?;
                if ancestors.contains(&real) {
                    return Err(DataError::SymlinkLoop { link: path, target: real });
                }
                folders.push((path, real));
            } else if let Some(kind) = special_kind(&meta.file_type()) {
                walk.special.push((path, kind));
            } else {
                walk.files.push(path);
            }
        }
        // Depth first, the first name first, so which path reaches a folder first is fixed.
        for (path, real) in folders.into_iter().rev() {
            let mut below = ancestors.clone();
            below.push(real);
            stack.push((path, below));
        }
    }
    walk.files.sort();
    walk.special.sort();
    Ok(walk)
}

pub(crate) fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        .unwrap_or(false)
}
