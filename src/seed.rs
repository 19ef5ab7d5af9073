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
    /// cuDNN autotuning picks kernels by timing, which breaks run-to-run equality, so it is off
    /// unless a run asks for speed over reproducibility (`--fast`); then cuDNN may also pick
    /// non-deterministic kernels.
    pub cudnn_benchmark: bool,
}

impl Determinism {
    /// Settings for `threads` threads (0 = keep libtorch's current count) and the given seed.
    pub fn new(seed: u64, threads: usize) -> Self {
        let threads = if threads == 0 { current_threads() } else { threads };
        Determinism { seed, threads, cudnn_benchmark: false }
    }

    /// These settings with cuDNN autotuning on when `fast` (`--fast`): faster convolutions on
    /// a GPU, no longer bit-reproducible there. The CPU's kernels do not read it.
    pub fn fast(self, fast: bool) -> Self {
        Determinism { cudnn_benchmark: fast, ..self }
    }

    /// Applies the settings to libtorch (CPU and, where present, CUDA generators).
    pub fn apply(&self) {
        tch::set_num_threads(self.threads as i32);
        // libtorch takes an i64; reinterpreting the bits keeps every u64 seed distinct.
        tch::manual_seed(self.seed as i64);
        tch::Cuda::manual_seed_all(self.seed);
        tch::Cuda::cudnn_set_benchmark(self.cudnn_benchmark);
        // Autotuning times every kernel cuDNN has, deterministic or not: restricting it to the
        // deterministic ones would keep part of the cost of reproducibility in the fast mode.
        deterministic_cuda_kernels(!self.cudnn_benchmark);
    }
}

/// On a GPU, cuDNN may pick convolution kernels whose reductions run in a different order on
/// every call, and cuBLAS does so unless its workspace is fixed: ask libtorch for deterministic
/// cuDNN kernels (or, `deterministic` false, allow the others again) and give cuBLAS the fixed
/// workspace PyTorch's reproducibility notes name. The CPU kernels are unaffected. A libtorch
/// without the setter (older than 2.4) keeps its default.
fn deterministic_cuda_kernels(deterministic: bool) {
    const GLOBAL_CONTEXT: &std::ffi::CStr = c"_ZN2at13globalContextEv";
    const SET_DETERMINISTIC_CUDNN: &std::ffi::CStr = c"_ZN2at7Context21setDeterministicCuDNNEb";
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    }
    let lookup = crate::compute::lookup;
    if let (Ok(context), Ok(set)) = (lookup(GLOBAL_CONTEXT), lookup(SET_DETERMINISTIC_CUDNN)) {
        type Ptr = *mut libc::c_void;
        // SAFETY: `at::globalContext()` returns the process-wide `at::Context&`; the setter is a
        // non-virtual member function, which the Itanium C++ ABI calls with `this` first.
        unsafe {
            let context = std::mem::transmute::<Ptr, extern "C" fn() -> Ptr>(context)();
            std::mem::transmute::<Ptr, extern "C" fn(Ptr, bool)>(set)(context, deterministic);
        }
    }
}

/// libtorch's current intra-op thread count.
pub fn current_threads() -> usize {
    tch::get_num_threads().max(1) as usize
}
