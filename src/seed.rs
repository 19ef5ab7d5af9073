//! Seeds and the determinism settings every run applies.
//!
//! One master seed (default 2018, the paper's year) feeds every random choice. Each target and
//! stage derives its own seed as sha256(master, target, stage), so a single target can be rerun
//! alone and get the same numbers as inside a full run.

use sha2::{Digest, Sha256};

/// The master seed used when the user gives none.
pub const DEFAULT_MASTER_SEED: u64 = 2018;

/// Derives the seed of one `stage` of one `target` from the master seed.
///
/// The inputs are length-prefixed before hashing so that ("ab", "c") and ("a", "bc") differ.
pub fn derive(master: u64, target: &str, stage: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(master.to_le_bytes());
    for part in [target, stage] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The settings that make a run reproducible, recorded next to every output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Determinism {
    /// Seed handed to libtorch's generators for this stage.
    pub seed: u64,
    /// Intra-op threads libtorch uses; fixed because reduction order depends on it.
    pub threads: usize,
    /// cuDNN autotuning picks kernels by timing, which breaks run-to-run equality, so it is off.
    pub cudnn_benchmark: bool,
}

impl Determinism {
    /// Settings for `threads` threads (0 = keep libtorch's current count) and the given seed.
    pub fn new(seed: u64, threads: usize) -> Self {
        let threads = if threads == 0 { current_threads() } else { threads };
        Determinism { seed, threads, cudnn_benchmark: false }
    }

    /// Applies the settings to libtorch (CPU and, where present, CUDA generators).
    pub fn apply(&self) {
        tch::set_num_threads(self.threads as i32);
        // libtorch takes an i64; reinterpreting the bits keeps every u64 seed distinct.
        tch::manual_seed(self.seed as i64);
        tch::Cuda::manual_seed_all(self.seed);
        tch::Cuda::cudnn_set_benchmark(self.cudnn_benchmark);
    }
}

/// libtorch's current intra-op thread count.
pub fn current_threads() -> usize {
    tch::get_num_threads().max(1) as usize
}
