//! dnlts: what do deep networks like to see?
//!
//! The library behind the `dnlts` command, reproducing Palacio et al. (CVPR 2018): an
//! autoencoder fine-tuned through frozen classifiers shows which part of the input signal each
//! classifier uses. One module per concern; the command-line suite lives in `suite/`.

pub mod atomic;
pub mod compute;
pub mod data;
pub mod device;
pub mod digest;
pub mod eval;
pub mod failpoint;
pub mod files;
pub mod kernels;
/// The measurements live in their own crate (`src/metrics/Cargo.toml`) so a change
/// to one rebuilds only them; the files they read are read here (`metric_files`).
pub use dnlts_metrics as metrics;
pub mod metric_files;
pub mod models;
pub mod perturb;
pub mod progress;
pub mod report;
pub mod seed;
pub mod smoke;
pub mod train;
pub mod wait_policy;

/// The libtorch version this build links against, read from libtorch's own files at build time.
pub const LIBTORCH_VERSION: &str = env!("DNLTS_LIBTORCH_VERSION");
