//! Measurements of Section 3.3–3.5 of Palacio et al. (CVPR 2018): normalized mutual information
//! between images, the relative rate of change (RRC) of a cross-accuracy table, formal concept
//! analysis of the thresholded RRC context, and CIE L*a*b* colour histograms.
//!
//! Everything here works on plain slices and serde types so it never needs tch, and reads no
//! files: `dnlts::metric_files` reads them and passes their bytes in.

pub mod analysis;
pub mod bootstrap;
pub mod claims;
pub mod degenerate;
pub mod fca;
pub mod lab;
pub mod nmi;
pub mod rrc;

use std::path::PathBuf;

/// Every failure of the metrics and report code. Each message names the offending file or value
/// and says what to change.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// `reason` is `source` in words (`dnlts::files::describe_io`, which this crate cannot see).
    #[error("cannot read or write `{path}`: {reason}")]
    Io {
        path: PathBuf,
        reason: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a valid cross table JSON: {source}; expected {{\"classifiers\": [..], \"autoencoders\": [..], \"accuracy\": [[..]]}}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{path}` line {line}: {message}")]
    Csv { path: PathBuf, line: usize, message: String },
    #[error("`{path}` has an unknown extension; name cross tables `*.json` or `*.csv`")]
    UnknownTableFormat { path: PathBuf },
    #[error("cross table `{path}` has {rows} rows (autoencoders) but {columns} columns (classifiers); it must be square, one AE per classifier in the same order")]
    NotSquare { path: PathBuf, rows: usize, columns: usize },
    #[error("cross table `{path}` row {row} has {found} values but the table has {expected} classifiers; give one accuracy per classifier")]
    RaggedRow { path: PathBuf, row: usize, expected: usize, found: usize },
    #[error("cross table `{path}` is empty; give at least one classifier")]
    EmptyTable { path: PathBuf },
    #[error("cross table `{path}` has no label for {what} {index}; name every row and column")]
    MissingLabel { path: PathBuf, what: &'static str, index: usize },
    #[error("cross table `{path}` names `{name}` twice; classifier names must be unique")]
    DuplicateName { path: PathBuf, name: String },
    #[error("cross table `{path}` row {row} is labelled `{row_label}` but column {row} is classifier `{classifier}`; row i must be the AE fine-tuned on classifier i (label it `{classifier}` or `A_{classifier}`)")]
    RowLabelMismatch { path: PathBuf, row: usize, row_label: String, classifier: String },
    #[error("cross table `{path}` accuracy of {classifier}∘A_{autoencoder} is NaN; give a number in [0, 1]")]
    NotANumber { path: PathBuf, autoencoder: String, classifier: String },
    #[error("cross table `{path}` accuracy of {classifier}∘A_{autoencoder} is {value}, outside [0, 1]; give accuracies as fractions (0.7163, not 71.63)")]
    AccuracyOutOfRange { path: PathBuf, autoencoder: String, classifier: String, value: f64 },
    #[error("cross table `{path}` accuracy of {name}∘A_{name} is 0, so every RRC involving `{name}` divides by zero; check that row")]
    ZeroDiagonal { path: PathBuf, name: String },
    #[error("cross table `{path}` accuracy of {name}∘A_{name} is {value:e}, below {min} (1/100000): RRC divides by it, so every RRC involving `{name}` is inflated up to {inflation:.0e}× and means nothing; check that cell (diagonal accuracies must be at least {min}, every accuracy a fraction in [0, 1])")]
    DiagonalTooSmall { path: PathBuf, name: String, value: f64, min: f64, inflation: f64 },
    #[error("images have {a} and {b} values; nMI needs two equally shaped images")]
    LengthMismatch { a: usize, b: usize },
    #[error("image buffer has {found} values but shape {height}x{width}x{channels} needs {expected}; pass the matching shape")]
    ShapeMismatch { found: usize, expected: usize, height: usize, width: usize, channels: usize },
    #[error("`{a}` is {a_width}x{a_height} but `{b}` is {b_width}x{b_height}; nMI compares images of the same size, resize one of them first")]
    ImageSizeMismatch {
        a: PathBuf,
        b: PathBuf,
        a_width: u32,
        a_height: u32,
        b_width: u32,
        b_height: u32,
    },
    #[error("cannot decode image `{path}`: {message}; give an 8-bit PNG")]
    ImageDecode { path: PathBuf, message: String },
    #[error("bin count {bins} is not allowed; use 1 to {max} bins")]
    InvalidBins { bins: usize, max: usize },
    #[error("{count} {what}: the protocol needs {needed}")]
    NotEnoughSamples { what: &'static str, count: usize, needed: &'static str },
    #[error("RGB buffer has {len} values, not a multiple of 3; pass interleaved 8-bit RGB")]
    NotRgb { len: usize },
    #[error("threshold {value} is outside the valid range: thresholds must be finite numbers above 0 (RRC values are never negative, so t ≤ 0 relates every pair); give comma-separated thresholds such as 0.1,0.2,0.8,0.9")]
    InvalidThreshold { value: f64 },
    #[error("formal concept analysis stopped: the lattice for t in {interval} ({objects} classifiers × {attributes} AEs, {relation_size} pairs with RRC ≥ t) has more than {limit} concepts, the limit of --max-concepts; lattices can grow as 2^(classifiers), so analyse fewer classifiers, or raise the limit with --max-concepts N (time and memory grow in proportion)")]
    TooManyConcepts {
        limit: usize,
        interval: String,
        objects: usize,
        attributes: usize,
        relation_size: usize,
    },
    /// A file that could not be read (a `dnlts::files::FileError`: this crate reads no files).
    #[error(transparent)]
    File(Box<dyn std::error::Error + Send + Sync>),
    #[error("could not draw `{path}`: {message}")]
    Plot { path: PathBuf, message: String },
}

pub type Result<T> = std::result::Result<T, MetricsError>;

/// Test helper: fails naming what was compared, both values and their difference.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let difference = (actual - expected).abs();
    assert!(
        difference <= tolerance,
        "{what}: got {actual}, expected {expected} (off by {difference:e}, tolerance {tolerance:e})"
    );
}
